"""Torch building blocks and networks; import only from engines and training code."""

"""The ``classic`` engine: training-free restoration plus Laplacian-pyramid fusion.

``engine`` holds the engine class and the luminance fusion rule, ``pyramid`` the
Laplacian pyramid. The restoration steps it applies live in the core
(:mod:`napari_textif.restoration`) because the ``lite`` engine uses them too.
"""

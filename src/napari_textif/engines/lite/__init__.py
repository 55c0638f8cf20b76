"""The ``lite`` engine (the default): our small Controls-conditioned network.

``engine`` holds the engine class, weight checking and loading, ``net`` the
network (LiteNet and its config), ``weights/`` the shipped safetensors files with
their JSON records.
"""

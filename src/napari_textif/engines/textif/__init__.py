"""The ``textif`` engine: the Text-IF paper's network with the authors' checkpoints.

``engine`` holds the engine class (tiling, memory estimate), ``net`` the network,
``checkpoints`` reading, verifying and converting checkpoint files,
``text_encoder`` the CLIP text features (the only module that imports open_clip)
and ``clip_layout`` the key names and shapes of the CLIP text tower, which both
``checkpoints`` and ``text_encoder`` need.
"""

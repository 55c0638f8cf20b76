"""Shipped network weights (safetensors) with their JSON records (sha256, config, training)."""

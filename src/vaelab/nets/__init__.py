"""Encoder and decoder networks."""

from vaelab.nets.mlp import ACTIVATIONS, mlp

__all__ = ["ACTIVATIONS", "mlp"]

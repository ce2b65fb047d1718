"""Saving and loading: :func:`save` and :func:`load` (safetensors files, never pickle)."""

from .checkpoint import load, save

__all__ = ["save", "load"]

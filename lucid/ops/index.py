"""Indexing primitives: basic and advanced ``__getitem__``, ``__setitem__``, gather, scatter."""

__all__: list[str] = []

"""Linear algebra primitives: matmul."""

__all__: list[str] = []

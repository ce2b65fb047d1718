"""Random number generation: a global generator seeded by ``lucid.manual_seed``.

lucid draws from NumPy's PCG64. Streams are reproducible within lucid (the same seed gives the
same numbers), but they are not PyTorch's streams: the same seed gives different values than
``torch.manual_seed`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class Generator:
    """A random number generator (like ``torch.Generator``); ``manual_seed`` reseeds it."""

    def __init__(self, device: Any = "cpu") -> None:
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reseed; returns ``self`` so ``Generator().manual_seed(0)`` reads naturally."""
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy and return the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))._seed

    def initial_seed(self) -> int:
        """The seed last used."""
        return self._seed

    def get_state(self) -> dict:
        """The generator's state (restore it with :meth:`set_state`)."""
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restore a state from :meth:`get_state`."""
        self._rng.bit_generator.state = state

    @property
    def numpy(self) -> np.random.Generator:
        """The underlying NumPy generator."""
        return self._rng


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the global generator (``lucid.manual_seed(0)``)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the global generator from fresh entropy; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The global generator's last seed."""
    return default_generator.initial_seed()


def get_rng_state() -> dict:
    """The global generator's state."""
    return default_generator.get_state()


def set_rng_state(state: dict) -> None:
    """Restore the global generator's state."""
    default_generator.set_state(state)


def numpy_rng(generator: Generator | None = None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (the global one when None)."""
    return (generator or default_generator)._rng


def rand(*size: Any, **kwargs: Any) -> Any:
    """Uniform samples in [0, 1); see :func:`lucid.rand`."""
    from .creation import rand as _rand

    return _rand(*size, **kwargs)


def randn(*size: Any, **kwargs: Any) -> Any:
    """Standard normal samples; see :func:`lucid.randn`."""
    from .creation import randn as _randn

    return _randn(*size, **kwargs)


def randint(*args: Any, **kwargs: Any) -> Any:
    """Random integers; see :func:`lucid.randint`."""
    from .creation import randint as _randint

    return _randint(*args, **kwargs)


__all__ = [
    "Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
    "set_rng_state", "rand", "randn", "randint",
]

"""``lucid.save`` / ``lucid.load``: checkpoints in the safetensors format, never pickle.

A checkpoint is one safetensors file. Its tensors are the tensors found in the saved object;
the object's structure (dicts, lists, tuples, numbers, strings, None, dtypes) is stored as JSON
in the file's metadata, with each tensor replaced by a reference to its entry. Loading parses
JSON and reads raw arrays, so a checkpoint can never run code. A flat ``{name: tensor}`` dict
(a ``state_dict``) is stored with the names as the safetensors keys, so other safetensors
readers see the tensors under their own names.

Writes are atomic: the file is written next to the target under a temporary name, flushed to
disk, then renamed over the target, so a crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from typing import Any

import numpy as np

from .. import dtypes as _dt
from ..errors import CheckpointError
from ..tensor import Tensor

_FORMAT = "lucid.checkpoint/1"
_META_KEY = "lucid"

PathLike = str | os.PathLike


def _contiguous(a: np.ndarray) -> np.ndarray:
    # Not np.ascontiguousarray: it turns 0-d arrays into 1-d ones.
    return a if a.flags.c_contiguous else a.copy(order="C")


def _encode(obj: Any, tensors: dict[str, np.ndarray], flat_names: bool, path: str) -> Any:
    """JSON-able description of ``obj``; tensors are moved into ``tensors``."""
    if isinstance(obj, Tensor):
        key = path if flat_names else str(len(tensors))
        arr = obj.detach()._data
        tensors[key] = _contiguous(arr)
        return {"T": key, "rg": bool(obj.requires_grad and obj.is_leaf)}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return {"i": int(obj)}
    if isinstance(obj, (float, np.floating)):
        return {"f": repr(float(obj))}  # repr keeps inf/nan and every bit of precision
    if isinstance(obj, _dt.DType):
        return {"dtype": obj.name}
    if isinstance(obj, np.ndarray):
        key = path if flat_names else str(len(tensors))
        tensors[key] = _contiguous(obj)
        return {"A": key}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, tensors, False, f"{path}.{i}") for i, v in enumerate(obj)]
        return {"list" if isinstance(obj, list) else "tuple": items}
    if isinstance(obj, dict):
        entries = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise CheckpointError(
                    f"lucid.save: dict keys must be str or int, got {type(k).__name__} ({k!r})"
                )
            entries.append([k, _encode(v, tensors, flat_names, str(k))])
        tag = "odict" if isinstance(obj, OrderedDict) else "dict"
        return {tag: entries}
    raise CheckpointError(
        f"lucid.save: cannot save a {type(obj).__name__}; checkpoints hold tensors, NumPy "
        f"arrays, numbers, strings, None, dtypes and dicts/lists/tuples of them (save a "
        f"module's state_dict(), not the module)"
    )


def _decode(desc: Any, tensors: dict[str, np.ndarray]) -> Any:
    if desc is None or isinstance(desc, (bool, str)):
        return desc
    tag = next(iter(desc))  # every encoded node is a dict whose first key names its kind
    val = desc[tag]
    if tag == "T":
        t = Tensor._make(tensors[val])
        if desc.get("rg"):
            t.requires_grad_(True)
        return t
    if tag == "A":
        return tensors[val]
    if tag == "i":
        return int(val)
    if tag == "f":
        return float(val)
    if tag == "dtype":
        return _dt.as_dtype(val)
    if tag == "list":
        return [_decode(v, tensors) for v in val]
    if tag == "tuple":
        return tuple(_decode(v, tensors) for v in val)
    if tag in ("dict", "odict"):
        items = [(k, _decode(v, tensors)) for k, v in val]
        return OrderedDict(items) if tag == "odict" else dict(items)
    raise CheckpointError(f"unknown entry {tag!r} in checkpoint structure")


def _is_flat_tensor_dict(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and all(isinstance(k, str) for k in obj)
        and all(isinstance(v, Tensor) for v in obj.values())
    )


def save(obj: Any, f: PathLike) -> None:
    """Save tensors, state_dicts, optimizer states, or nested dicts/lists of them to ``f``."""
    from safetensors.numpy import save as st_save

    tensors: dict[str, np.ndarray] = {}
    structure = _encode(obj, tensors, _is_flat_tensor_dict(obj), "")
    meta = {_META_KEY: json.dumps({"format": _FORMAT, "structure": structure})}
    for arr in tensors.values():
        _dt.from_numpy_dtype(arr.dtype)  # only dtypes lucid can load back
    data = st_save(tensors, metadata=meta)

    target = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".lucid", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(f: PathLike, map_location: Any = None, weights_only: bool = True) -> Any:
    """Load what :func:`save` wrote. Raises :class:`CheckpointError` naming the file when it is
    missing, truncated or corrupt. ``map_location`` and ``weights_only`` are accepted for
    PyTorch compatibility (data always loads on the CPU; nothing is ever unpickled)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    path = os.fspath(f)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {e.strerror or e}") from e
    try:
        tensors = st_load(raw)
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + header_len])
        meta = json.loads(header["__metadata__"][_META_KEY])
        if meta.get("format") != _FORMAT:
            raise CheckpointError(f"checkpoint {path!r} has unknown format {meta.get('format')!r}")
        return _decode(meta["structure"], {k: np.array(v) for k, v in tensors.items()})
    except CheckpointError:
        raise
    except (SafetensorError, ValueError, KeyError, TypeError, json.JSONDecodeError,
            UnicodeDecodeError) as e:
        raise CheckpointError(
            f"checkpoint {path!r} is truncated or corrupt ({type(e).__name__}: {e}); it cannot "
            f"be loaded"
        ) from e


__all__ = ["save", "load"]

"""Devices: where a tensor's data lives (``"cpu"``, ``"cuda"``, ``"cuda:1"``)."""

from __future__ import annotations

from .errors import DeviceError


class Device:
    """A device, parsed from strings like ``"cpu"`` or ``"cuda:0"``; compares equal to them."""

    __slots__ = ("index", "type")

    def __init__(self, type: str, index: int | None = None) -> None:
        if ":" in type:
            if index is not None:
                raise DeviceError(f"device {type!r} already has an index; got index={index} too")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise DeviceError(f"cannot parse device index in {type}:{idx}")
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise DeviceError(f"unknown device type {type!r}; expected 'cpu' or 'cuda'")
        if type == "cuda" and index is None:
            index = 0
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except DeviceError:
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))


DeviceLike = str | Device
cpu = Device("cpu")


def as_device(d: DeviceLike | None) -> Device:
    """Parse a device argument; ``None`` means the CPU."""
    if d is None:
        return cpu
    if isinstance(d, Device):
        return d
    if isinstance(d, str):
        return cpu if d == "cpu" else Device(d)
    raise DeviceError(f"expected a device such as 'cpu' or 'cuda', got {d!r}")


def check_supported(d: Device, op: str) -> None:
    """Raise a clear error for devices this build cannot put data on yet."""
    if d.type != "cpu":
        raise DeviceError(
            f"{op}: device {d} is not supported by this version of lucid: tensors live on "
            f"the CPU. Use device='cpu'."
        )


__all__ = ["Device", "DeviceLike", "as_device", "cpu"]

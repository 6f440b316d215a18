"""ember.device: where a tensor lives ("cpu", "cuda:0")."""

from __future__ import annotations

_VALID = ("cpu", "cuda", "meta")


class device:
    """A device, as in torch: ``device("cuda", 0)``, ``device("cuda:1")``, ``device("cpu")``."""

    __slots__ = ("type", "index", "_key")

    def __new__(cls, type: str | device | int, index: int | None = None):
        if isinstance(type, device):
            if index is not None:
                raise ValueError("device(): index given twice")
            return type
        if isinstance(type, int):  # device(0) means cuda:0, as in torch
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string or int, got {type.__class__.__name__}")
        name = type
        if ":" in name:
            if index is not None:
                raise RuntimeError(
                    f"device(): type (string) must not include an index because index was passed "
                    f"explicitly: {name}"
                )
            name, _, idx = name.partition(":")
            if not idx.isdigit() or (len(idx) > 1 and idx[0] == "0"):
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        elif index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise TypeError(
                f"device(): argument 'index' (position 2) must be int, not {index.__class__.__name__}"
            )
        if name not in _VALID:
            raise RuntimeError(
                f"Expected one of {', '.join(_VALID)} device type at start of device string: {type}"
            )
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        key = (name, index)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        self = object.__new__(cls)
        self.type = name
        self.index = index
        self._key = key
        _CACHE[key] = self
        return self

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        """``with ember.device("cuda"):`` makes this the default device of factory functions (as
        set_default_device does) until the block ends, as torch's device context manager does."""
        _ENTERED.append(DEFAULT[0])
        DEFAULT[0] = self
        return self

    def __exit__(self, *exc) -> None:
        DEFAULT[0] = _ENTERED.pop()


_CACHE: dict = {}
CPU = device("cpu")
DEFAULT: list = [None]  # the default device of factory functions (None: the CPU)
_ENTERED: list = []  # the defaults that `with device(...)` blocks replaced, innermost last


def to_device(d) -> device:
    """Normalise a device-like (device, "cuda:0", 0, None) to where a tensor lives; None means CPU.
    CPU tensors always report plain ``cpu`` (torch drops the index: ``zeros(2, device="cpu:0").device``)."""
    if d is None:
        return CPU
    if type(d) is not device:
        d = device(d)
    if d.type == "cpu":
        return CPU
    if d.index is None and d.type == "cuda":  # a bare "cuda" is the current device, as tensors report it
        from . import cuda

        d = device("cuda", cuda.current_device() if cuda.is_available() else 0)
    return d

"""ember.Generator: one random-number generator object per device, seeded by manual_seed.

Streams need not equal torch's; the same seed gives the same numbers in ember on the same device.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ._device import to_device

_DEFAULT_SEED = 67280421310721  # torch's default initial seed


class Generator:
    """A random-number generator for one device (CPU: NumPy's PCG64)."""

    def __init__(self, device="cpu"):
        self.device = to_device(device)
        self._seed = _DEFAULT_SEED
        self._engine = self._make(self._seed)

    def _make(self, seed: int):
        if self.device.type == "cpu":
            return np.random.Generator(np.random.PCG64(seed))
        from .backend import get_backend

        return get_backend(self.device).make_rng(seed, self.device)

    def manual_seed(self, seed) -> Generator:
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise ValueError("Overflow when unpacking long long")
        self._seed = seed % 2**64
        if self.device.type == "cpu":
            self._engine = self._make(self._seed)
        else:  # in place: a CUDA graph that draws from this engine follows the new seed on its next replay
            self._engine.set_state({"seed": self._seed, "offset": 0})
        return self

    def seed(self) -> int:
        """Reseed from OS entropy; return the new seed."""
        s = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The generator state as a uint8 tensor (round-trips through set_state)."""
        from .ops.factory import from_numpy

        if self.device.type == "cpu":
            state = self._engine.bit_generator.state
        else:
            state = self._engine.get_state()
        blob = json.dumps({"seed": self._seed, "state": state}, default=int).encode()
        return from_numpy(np.frombuffer(blob, dtype=np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        from ._dtype import uint8
        from ._tensor import Tensor

        if not isinstance(new_state, Tensor) or new_state.dtype is not uint8:
            raise TypeError("RNG state must be a ember.ByteTensor")
        blob = bytes(new_state.detach().cpu().numpy().tobytes())
        try:
            obj = json.loads(blob.decode())
            obj["seed"], obj["state"]  # noqa: B018
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
            raise RuntimeError(
                f"Expected an ember generator state, but found an RNG state of {len(blob)} bytes that is not one"
            ) from None
        self._seed = int(obj["seed"])
        if self.device.type == "cpu":
            self._engine = np.random.Generator(np.random.PCG64())
            self._engine.bit_generator.state = obj["state"]
        else:
            self._engine.set_state(obj["state"])
        return self

    def __repr__(self) -> str:
        return f"<ember.Generator object on {self.device}>"


_DEFAULTS: dict = {}


def default_generator_for(device) -> Generator:
    device = to_device(device)
    key = (device.type, device.index or 0)
    g = _DEFAULTS.get(key)
    if g is None:
        g = _DEFAULTS[key] = Generator(device)
        if _LAST_SEED[0] is not None:  # a CUDA generator made after manual_seed starts from that seed
            g.manual_seed(_LAST_SEED[0])
    return g


_LAST_SEED: list = [None]


default_generator = default_generator_for("cpu")


def manual_seed(seed) -> Generator:
    """Seed every device's default generator (CPU and any CUDA generator in use, or made later)."""
    _LAST_SEED[0] = int(seed)
    for g in list(_DEFAULTS.values()):
        g.manual_seed(seed)
    return default_generator


def seed() -> int:
    s = default_generator.seed()
    for g in list(_DEFAULTS.values()):
        if g is not default_generator:
            g.manual_seed(s)
    return s


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    default_generator.set_state(new_state)

"""Philox4x32-10 counter-based random numbers (Salmon et al., SC'11; Random123) for NumPy and CuPy.

The stream of an engine is the sequence of Philox blocks ``philox4x32_10(ctr, key)`` with
``key = (seed & 0xffffffff, seed >> 32)`` and ``ctr = (b & 0xffffffff, b >> 32, 0, 0)`` for the 64-bit block
index ``b = offset, offset + 1, ...``. The state is just ``{"seed", "offset"}`` (offset counts 4-word blocks
consumed), so reading it changes nothing and restoring it replays exactly the same numbers, as torch's CUDA
generator does. Every draw starts at a fresh block and consumes ``ceil(words / 4)`` blocks.

The generic ``xp`` path (array ops of numpy or cupy) is the reference; on CuPy the blocks come from one
ElementwiseKernel that computes bit-identical words.
"""

from __future__ import annotations

import contextlib
import json
import math
import operator

import numpy as np

from . import cuda_graph  # NumPy-only at import

__all__ = ["PhiloxEngine", "philox4x32_10", "philox_blocks", "philox_blocks_cuda"]

M0, M1 = 0xD2511F53, 0xCD9E8D57  # round multipliers
W0, W1 = 0x9E3779B9, 0xBB67AE85  # Weyl key increments
ROUNDS = 10
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF
_INT64_MAX = 2**63 - 1

# typed scalars keep the arithmetic in uint64 / uint32 under every promotion rule
_U = np.uint64
_S8, _S11, _S32 = np.uint32(8), _U(11), _U(32)
_LO32 = _U(_MASK32)


def _is_cupy(xp) -> bool:
    return getattr(xp, "__name__", "") == "cupy"


# ----------------------------------------------------------------------------------------------- block function


def philox4x32_10(xp, ctr, key):
    """Philox4x32-10 of uint32 counters `ctr` (..., 4) under the key pair `key` (2,); uint32 (..., 4)."""
    ctr = xp.asarray(ctr, dtype=xp.uint32)
    if ctr.shape[-1:] != (4,):
        raise ValueError(f"philox4x32_10: counters must have a last dimension of 4, got shape {ctr.shape}")
    k = [int(v) & _MASK32 for v in (key.tolist() if hasattr(key, "tolist") else key)]
    if len(k) != 2:
        raise ValueError(f"philox4x32_10: the key must hold 2 words, got {len(k)}")
    k0, k1 = k
    c0, c1, c2, c3 = (ctr[..., j].astype(xp.uint64) for j in range(4))
    m0, m1 = _U(M0), _U(M1)
    for r in range(ROUNDS):
        if r:
            k0, k1 = (k0 + W0) & _MASK32, (k1 + W1) & _MASK32
        p0 = c0 * m0  # exact: both factors < 2**32
        p1 = c2 * m1
        c0, c1, c2, c3 = (p1 >> _S32) ^ c1 ^ _U(k0), p1 & _LO32, (p0 >> _S32) ^ c3 ^ _U(k1), p0 & _LO32
    return xp.stack([c0, c1, c2, c3], axis=-1).astype(xp.uint32)


def _counters(xp, offset: int, n: int):
    """Counters (offset + i) mod 2**64, laid out as (lo, hi, 0, 0), for i < n: uint32 (n, 4)."""
    idx = xp.arange(n, dtype=xp.uint64) + _U(offset & _MASK64)  # wraps mod 2**64
    ctr = xp.zeros((n, 4), dtype=xp.uint32)
    ctr[:, 0] = (idx & _LO32).astype(xp.uint32)
    ctr[:, 1] = (idx >> _S32).astype(xp.uint32)
    return ctr


_KERNEL = None
_KERNEL_CHUNK = 2**28  # blocks per launch
# base: uint64[3] (seed, offset, active); active inside a CUDA graph, where the generator's state at each replay
# comes from there (cuda_graph.rng_reserve) and `offset` counts from the graph's start
_KERNEL_BODY = r"""
unsigned long long ctr = offset + (unsigned long long)i;
unsigned int ka = k0, kb = k1;
if (base[2]) {
    ctr += base[1];
    ka = (unsigned int)(base[0] & 0xffffffffULL);
    kb = (unsigned int)(base[0] >> 32);
}
unsigned int x0 = (unsigned int)(ctr & 0xffffffffULL);
unsigned int x1 = (unsigned int)(ctr >> 32);
unsigned int x2 = 0u, x3 = 0u;
#pragma unroll
for (int r = 0; r < 10; ++r) {
    if (r) {
        ka += 0x9E3779B9u;
        kb += 0xBB67AE85u;
    }
    unsigned int hi0 = __umulhi(0xD2511F53u, x0);
    unsigned int lo0 = 0xD2511F53u * x0;
    unsigned int hi1 = __umulhi(0xCD9E8D57u, x2);
    unsigned int lo1 = 0xCD9E8D57u * x2;
    unsigned int y0 = hi1 ^ x1 ^ ka;
    unsigned int y2 = hi0 ^ x3 ^ kb;
    x0 = y0;
    x1 = lo1;
    x2 = y2;
    x3 = lo0;
}
out[4 * i] = x0;
out[4 * i + 1] = x1;
out[4 * i + 2] = x2;
out[4 * i + 3] = x3;
"""


def _kernel():
    """The CuPy ElementwiseKernel computing block (offset + i) for element i (built once, on first use)."""
    global _KERNEL
    if _KERNEL is None:
        import cupy

        _KERNEL = cupy.ElementwiseKernel(
            "uint64 offset, uint32 k0, uint32 k1, raw uint64 base",
            "raw uint32 out",
            _KERNEL_BODY,
            "ember_philox4x32_10",
        )
    return _KERNEL


_NO_BASE: dict = {}  # device id -> uint64[3] zeros: the base of launches outside a CUDA graph


def _no_base():
    import cupy

    dev = cupy.cuda.Device().id
    b = _NO_BASE.get(dev)
    if b is None:
        if cuda_graph.CAPTURING[0]:  # made outside any capture: a graph's pool must not hold a shared buffer
            raise RuntimeError(
                "ember: philox_blocks_cuda inside a CUDA graph capture needs the graph's base buffer"
            )
        b = _NO_BASE[dev] = cupy.zeros(3, dtype=cupy.uint64)
        cupy.cuda.get_current_stream().synchronize()  # once: zeroed before a launch on any stream reads it
    return b


def philox_blocks_cuda(seed: int, offset: int, n: int, base=None):
    """Blocks offset .. offset + n - 1 of stream `seed` as a cupy uint32 (n, 4) array, by the CUDA kernel.
    `base`: a CUDA graph's (seed, offset) buffer (cuda_graph.rng_reserve), which then supplies the seed and
    the offset that `offset` counts from at each replay."""
    import cupy

    out = cupy.empty(4 * n, dtype=cupy.uint32)
    seed &= _MASK64
    k0, k1 = np.uint32(seed & _MASK32), np.uint32(seed >> 32)
    if base is None and n:
        base = _no_base()
    for start in range(0, n, _KERNEL_CHUNK):  # CuPy takes the launch size as a C int
        stop = min(n, start + _KERNEL_CHUNK)
        _kernel()(_U((offset + start) & _MASK64), k0, k1, base, out[4 * start : 4 * stop], size=stop - start)
    return out.reshape(n, 4)


def philox_blocks(xp, seed: int, offset: int, n: int, *, kernel: bool = True, base=None):
    """Blocks offset .. offset + n - 1 of stream `seed` as uint32 (n, 4); CuPy uses the kernel unless told not
    (`base`: see philox_blocks_cuda)."""
    if kernel and _is_cupy(xp):
        return philox_blocks_cuda(seed, offset, n, base)
    seed &= _MASK64
    return philox4x32_10(xp, _counters(xp, offset, n), (seed & _MASK32, seed >> 32))


# --------------------------------------------------------------------------------------------------- helpers


def _shape(size) -> tuple | None:
    if size is None:
        return None
    try:
        return (operator.index(size),)
    except TypeError:
        return tuple(operator.index(s) for s in size)


def _numel(shape: tuple) -> int:
    n = math.prod(shape)
    if any(s < 0 for s in shape):
        raise ValueError("negative dimensions are not allowed")
    return n


def _out_shape(size, *params) -> tuple:
    """The output shape: `size` (each parameter must broadcast to it) or the parameters' broadcast shape."""
    shapes = [tuple(np.shape(p)) for p in params]
    size = _shape(size)
    if size is None:
        return np.broadcast_shapes(*shapes) if shapes else ()
    for s in shapes:
        if np.broadcast_shapes(s, size) != size:
            raise ValueError("shape mismatch: objects cannot be broadcast to a single shape")
    return size


def _to_host(x):
    """A NumPy view/copy of a scalar, a list, a NumPy array or a CuPy array."""
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        if cuda_graph.CAPTURING[0]:  # a sampler that reads the device on the host (poisson, choice, ...)
            raise RuntimeError(f"ember: {cuda_graph.RNG_MESSAGE}")
        return x.get()
    return np.asarray(x)


def _as_int(v, name: str) -> int:
    try:
        return operator.index(v)
    except TypeError:
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return int(v)
        if getattr(v, "ndim", None) == 0:
            return _as_int(v.item(), name)
        raise TypeError(f"integers: {name} must be an integer, got {type(v).__name__}") from None


def _float_dtype(dtype, fn: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"Unsupported dtype {dt!r} for {fn}")
    return dt


def _mulhi64(xp, x, r: int):
    """floor(x * r / 2**64) for uint64 `x` and an integer 0 <= r < 2**64, with 32-bit limbs (no 128-bit type)."""
    rh, rl = _U(r >> 32), _U(r & _MASK32)
    xh, xl = x >> _S32, x & _LO32
    mid1 = xh * rl + ((xl * rl) >> _S32)  # < 2**64
    mid2 = xl * rh + (mid1 & _LO32)  # < 2**64
    return xh * rh + (mid1 >> _S32) + (mid2 >> _S32)


# ---------------------------------------------------------------------------------------------------- engine


class PhiloxEngine:
    """A Philox4x32-10 stream with NumPy Generator's sampling API; state {"seed", "offset"} reads for free.

    `xp` is numpy or cupy; arrays are made on CUDA device `device_index` (None: the current one) for cupy.
    Outputs are xp arrays (0-d when size is None and the parameters are scalars).
    """

    def __init__(self, seed: int, device_index: int | None = None, xp=np):
        self.xp = xp
        self.device_index = device_index
        self._seed = int(seed) & _MASK64
        self._offset = 0

    def __repr__(self) -> str:
        return f"PhiloxEngine(seed={self._seed}, offset={self._offset}, xp={self.xp.__name__})"

    # -- state
    def _in_capture(self) -> bool:
        """Whether draws of this (CUDA) engine are being captured in a CUDA graph right now."""
        return bool(cuda_graph.CAPTURING[0]) and _is_cupy(self.xp) and cuda_graph.stream_capturing()

    def get_state(self) -> dict:
        """The state {"seed", "offset"} (JSON-able); reading it does not advance the stream. Inside a capture,
        the offset the stream will be at when a replay gets here (relative to the generator's state now), so
        that restoring it (activation checkpointing) replays the same numbers."""
        if self._in_capture():
            return {"seed": self._seed, "offset": (self._offset + cuda_graph.rng_position(self)) & _MASK64}
        return {"seed": self._seed, "offset": self._offset}

    def set_state(self, state) -> None:
        """Restore a state from get_state (the dict or its JSON string)."""
        if isinstance(state, (str, bytes, bytearray)):
            state = json.loads(state)
        try:
            seed, offset = int(state["seed"]), int(state["offset"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(
                f"expected a Philox state {{'seed': int, 'offset': int}}, got {state!r}"
            ) from None
        seed, offset = seed & _MASK64, offset & _MASK64
        if self._in_capture():
            if seed != self._seed:
                raise RuntimeError("ember: a CUDA generator cannot be reseeded inside a CUDA graph capture")
            cuda_graph.rng_seek(self, (offset - self._offset) & _MASK64)
            return
        self._seed, self._offset = seed, offset

    # -- raw bits
    def _device(self):
        if _is_cupy(self.xp):
            return self.xp.cuda.Device(self.device_index)
        return contextlib.nullcontext()

    def reserve(self, nb: int, graph_safe: bool = False) -> tuple:
        """(seed, offset) of the next nb blocks, for a kernel that computes them itself; advances the stream.
        graph_safe=True (a caller whose kernel reads a CUDA graph's base buffer) returns (seed, offset, base):
        base is None outside a capture; inside one, cuda_graph.rng_reserve's buffer, with offset counted from
        the graph's start. Without graph_safe, refused while a CUDA graph is captured (its replays would
        repeat the same numbers)."""
        if self._in_capture():
            if not graph_safe:
                raise RuntimeError(f"ember: {cuda_graph.RNG_MESSAGE}")
            return cuda_graph.rng_reserve(self, nb)
        offset = self._offset
        self._offset = (offset + nb) & _MASK64
        return (self._seed, offset, None) if graph_safe else (self._seed, offset)

    def _words(self, n: int):
        """The next n uint32 words; consumes ceil(n / 4) blocks."""
        nb = -(-n // 4)
        seed, offset, base = self.reserve(nb, graph_safe=True)
        blocks = philox_blocks(self.xp, seed, offset, nb, base=base)
        return blocks.reshape(-1)[:n]

    def _bits64(self, n: int):
        """The next n uint64 values (two words each, first word high); consumes ceil(n / 2) blocks."""
        w = self._words(2 * n).reshape(n, 2).astype(self.xp.uint64)
        return (w[:, 0] << _S32) | w[:, 1]

    def _unit53(self, n: int, shift: float = 0.0):
        """(k + shift) * 2**-53 in float64 for n random 53-bit k: shift 0 gives [0, 1), 1 gives (0, 1]."""
        k = (self._bits64(n) >> _S11).astype(self.xp.float64)
        return (k + shift) * 2.0**-53 if shift else k * 2.0**-53

    def _host_seed(self) -> int:
        """A 64-bit seed drawn from the stream (one block), for samplers that run on the host."""
        return int(_to_host(self._bits64(1))[0])

    def _param(self, v, name: str, bad):
        """A distribution parameter as a float or an xp float64 array; ValueError `name` where bad(v) holds."""
        if isinstance(v, (int, float, np.number)):
            v = float(v)
            failed = bool(bad(v))
        else:
            with self._device():
                v = self.xp.asarray(v, dtype=self.xp.float64)
            failed = bool(self.xp.any(bad(v)))
        if failed:
            raise ValueError(name)
        return v

    # -- NumPy Generator API subset
    def random(self, size=None, dtype=np.float64):
        """Uniform [0, 1): float32 on the 2**-24 lattice (one word), float64 on the 2**-53 lattice (two)."""
        dt = _float_dtype(dtype, "random")
        shape = _shape(size) or ()
        n = _numel(shape)
        xp = self.xp
        with self._device():
            if dt == np.float32:
                out = (self._words(n) >> _S8).astype(xp.float32) * np.float32(2.0**-24)
            else:
                out = self._unit53(n)
            return out.reshape(shape)

    def standard_normal(self, size=None, dtype=np.float64):
        """Standard normals by Box-Muller (u1 in (0, 1] so log never sees 0), computed in `dtype`."""
        dt = _float_dtype(dtype, "standard_normal")
        shape = _shape(size) or ()
        n = _numel(shape)
        m = -(-n // 2)
        xp = self.xp
        with self._device():
            if dt == np.float32:
                w = (self._words(2 * m) >> _S8).reshape(m, 2)
                u1 = (w[:, 0] + np.uint32(1)).astype(xp.float32) * np.float32(2.0**-24)
                u2 = w[:, 1].astype(xp.float32) * np.float32(2.0**-24)
                two_pi, m2 = np.float32(2 * np.pi), np.float32(-2.0)
            else:
                k = (self._bits64(2 * m) >> _S11).reshape(m, 2).astype(xp.float64)
                u1 = (k[:, 0] + 1.0) * 2.0**-53
                u2 = k[:, 1] * 2.0**-53
                two_pi, m2 = 2 * np.pi, -2.0
            rad = xp.sqrt(m2 * xp.log(u1))
            theta = two_pi * u2
            out = xp.stack([rad * xp.cos(theta), rad * xp.sin(theta)], axis=1).reshape(-1)[:n]
            return out.reshape(shape)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        """Uniform integers in [low, high) ([low, high] with endpoint), without modulo reduction.

        With r = number of values: r a power of two takes the top bits of 64 random bits (exact); r <= 2**32
        takes floor(x * r / 2**64) of 64 random bits x, so each value has probability 1/r within 2**-64
        (relative error <= r * 2**-64 <= 2**-32); larger r takes floor(x * r / 2**128) of 128 random bits
        (relative error <= r * 2**-128 <= 2**-64). No rejection, so the consumption is fixed per call.
        """
        dt = np.dtype(dtype)
        if dt == np.bool_:
            lo_b, hi_b = 0, 1
        elif dt.kind in "iu":
            info = np.iinfo(dt)
            lo_b, hi_b = int(info.min), int(info.max)
        else:
            raise TypeError(f"Unsupported dtype {dt!r} for integers")
        low = _as_int(low, "low")
        if high is None:
            low, high = 0, low
            if not endpoint and high <= 0:
                raise ValueError("high <= 0")
        high = _as_int(high, "high")
        hi = high if endpoint else high - 1
        if low < lo_b:
            raise ValueError(f"low is out of bounds for {dt}")
        if hi > hi_b:
            raise ValueError(f"high is out of bounds for {dt}")
        if low > hi:
            raise ValueError("low > high" if endpoint else "low >= high")
        r = hi - low + 1  # 1 <= r <= 2**64
        shape = _shape(size) or ()
        n = _numel(shape)
        xp = self.xp
        with self._device():
            if r == 1:
                v = xp.zeros(n, dtype=xp.uint64)
            elif r & (r - 1) == 0:
                v = self._bits64(n) >> _U(64 - r.bit_length() + 1)
            elif r <= 2**32:
                x = self._bits64(n)
                ru = _U(r)
                v = ((x >> _S32) * ru + (((x & _LO32) * ru) >> _S32)) >> _S32
            else:
                x = self._bits64(2 * n).reshape(n, 2)
                x1, x0 = x[:, 0], x[:, 1]
                low1 = x1 * _U(r)  # low 64 bits of x1 * r (wrapping)
                mid = low1 + _mulhi64(xp, x0, r)
                v = _mulhi64(xp, x1, r) + (mid < low1).astype(xp.uint64)
            v = v + _U(low & _MASK64)  # two's complement wrap gives low + v for negative low
            out = v.astype(dt) if dt.kind != "i" else v.view(xp.int64).astype(dt)
            return out.reshape(shape)

    def permutation(self, x):
        """A random permutation of range(x) (x an int) or of x along its first axis (argsort of 64-bit keys)."""
        xp = self.xp
        with self._device():
            if isinstance(x, (int, np.integer)):
                n = int(x)
                if n < 0:
                    raise ValueError("negative dimensions are not allowed")
                arr = None
            else:
                arr = xp.asarray(x)
                if arr.ndim < 1:
                    raise IndexError("x must be an integer or at least 1-dimensional")
                n = arr.shape[0]
            keys = self._bits64(n)
            # ties (probability <= n**2 / 2**65) are broken by position; numpy's stable sort, CuPy's radix sort
            idx = np.argsort(keys, kind="stable") if xp is np else xp.argsort(keys)
            idx = idx.astype(xp.int64)
            return idx if arr is None else arr[idx]

    def exponential(self, scale=1.0, size=None):
        """Exponential(scale) samples -log(1 - u) * scale, u on the 2**-53 lattice in [0, 1)."""
        shape = _out_shape(size, scale)
        scale = self._param(scale, "scale < 0", lambda v: v < 0)
        with self._device():
            return self.xp.asarray(-self.xp.log1p(-self._unit53(_numel(shape))).reshape(shape) * scale)

    def standard_cauchy(self, size=None):
        """Standard Cauchy samples tan(pi * (u - 1/2)), u = (k + 1/2) * 2**-52 in (0, 1) for 52-bit k."""
        shape = _shape(size) or ()
        xp = self.xp
        with self._device():
            k = (self._bits64(_numel(shape)) >> _U(12)).astype(xp.float64)
            return xp.tan(np.pi * ((k + 0.5) * 2.0**-52 - 0.5)).reshape(shape)

    def lognormal(self, mean=0.0, sigma=1.0, size=None):
        """exp(mean + sigma * z) for standard normal z (float64)."""
        shape = _out_shape(size, mean, sigma)
        mean = self._param(mean, "mean contains NaNs", lambda v: v != v)
        sigma = self._param(sigma, "sigma < 0", lambda v: v < 0)
        with self._device():
            return self.xp.asarray(self.xp.exp(mean + sigma * self.standard_normal(shape)))

    def geometric(self, p, size=None):
        """Trials to the first success (support 1, 2, ...): ceil(log(u) / log(1 - p)), u in (0, 1]; int64."""
        shape = _out_shape(size, p)
        xp = self.xp
        p = self._param(p, "p <= 0, p > 1 or p contains NaNs", lambda v: (v <= 0) | (v > 1) | (v != v))
        with self._device(), np.errstate(divide="ignore", invalid="ignore"):
            u = self._unit53(_numel(shape), 1.0).reshape(shape)
            if isinstance(p, float):
                log_q = math.log1p(-p) if p < 1 else -math.inf
            else:
                log_q = xp.log1p(-p)
            k = xp.ceil(xp.log(u) / log_q)
            k = xp.clip(k, 1.0, 9.223372036854775e18)  # numpy saturates at INT64_MAX (p ~ 1e-18 or less)
            return xp.asarray(k).astype(xp.int64)

    def poisson(self, lam=1.0, size=None):
        """Poisson samples, drawn on the host by a NumPy Generator seeded from one block of this stream."""
        return self._on_host(lambda g: g.poisson(_to_host(lam), size))

    def choice(self, a, size=None, replace=True, p=None):
        """NumPy's Generator.choice on the host, seeded from one block of this stream; an xp array."""
        a = a if isinstance(a, (int, np.integer)) else _to_host(a)
        p = None if p is None else _to_host(p)
        return self._on_host(lambda g: g.choice(a, size, replace, p))

    def _on_host(self, fn):
        offset = self._offset
        try:
            with self._device():
                out = fn(np.random.Generator(np.random.PCG64(self._host_seed())))
                return self.xp.asarray(out)
        except Exception:
            self._offset = offset  # a rejected call consumes nothing
            raise

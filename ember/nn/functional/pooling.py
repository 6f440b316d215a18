"""Pooling: max/avg pool (1-3d), adaptive avg/max pool (1-3d), lp_pool, max_unpool.

Windows are strided views of a padded copy of the input, one per kernel offset, so a pool is a handful of
whole-array ops per kernel offset (never a loop over pixels). Max pooling remembers which kernel offset won
(ties: the first, NaN: the last NaN, as torch); its backward adds the gradient there (_MaxPoolScatter), whose
own backward gathers from there (_MaxPoolGather). Average pooling is a window sum and its transpose.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ... import _dtype as D
from ... import ops as O
from ..._tensor import Tensor, _wrap
from ..._trace_hooks import traceable
from ...backend import get_backend
from ...ops._dispatch import dispatch
from ...ops.op import SAME, Op
from .conv import _padded, _spatial
from .vision import _taps

# ------------------------------------------------------------------------------------------ argument helpers


def _tuple_arg(v, d: int, name: str, fn: str, allow_none: bool = False):
    """int or sequence of 1 or d ints -> d-tuple (None / [] for stride when allow_none)."""
    if v is None or (allow_none and isinstance(v, (tuple, list)) and len(v) == 0):
        return None
    if isinstance(v, bool) or not isinstance(v, (int, tuple, list)):
        raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, not {type(v).__name__}")
    if isinstance(v, int):
        return (v,) * d
    v = tuple(v)
    for e in v:
        if isinstance(e, bool) or not isinstance(e, int):
            raise TypeError(
                f"{fn}(): argument '{name}' must be tuple of ints, but found element of type "
                f"{type(e).__name__}"
            )
    if len(v) == 1:
        return v * d
    if len(v) != d:
        word = {1: "a single int", 2: "a tuple of two ints", 3: "a tuple of three ints"}[d]
        lead = (
            "must either be omitted, a single int, or "
            if name == "stride"
            else "must either be a single int, or "
        )
        raise RuntimeError(f"{fn}: {name} {lead}{word}")
    return v


def _pool_geom(input, kernel_size, stride, padding, dilation, ceil_mode, d, fn, dims_msg):
    """Validate a pooling call; returns (batched, geom (k, s, dl, p, S, O))."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    k = _tuple_arg(kernel_size, d, "kernel_size", fn)
    s = _tuple_arg(stride, d, "stride", fn, allow_none=True) or k
    p = _tuple_arg(padding, d, "padding", fn)
    dl = _tuple_arg(dilation, d, "dilation", fn)
    if input.dim() not in (d + 1, d + 2):
        raise RuntimeError(dims_msg)
    if any(v == 0 for v in s):
        raise RuntimeError("stride should not be zero")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_size={list(k)}")
    if any(v < 0 for v in s):
        raise RuntimeError(f"stride should be greater than zero, but got stride={list(s)}")
    if any(v <= 0 for v in dl):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation={list(dl)}")
    if any(v < 0 for v in p):
        raise RuntimeError(f"pad must be non-negative, but got pad={list(p)}")
    for j in range(d):
        if p[j] > k[j] // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p[j]}, kernel_size={k[j]} and "
                f"dilation={dl[j]}"
            )
    shape = tuple(input.shape)
    if any(v == 0 for v in shape[-d - 1 :]):
        raise RuntimeError(
            f"Expected {d + 1}D or {d + 2}D (batch mode) tensor with optional 0 dim batch size for input, but got:"
            f"{list(shape)}"
        )
    S = shape[-d:]
    out = []
    for j in range(d):
        eff = dl[j] * (k[j] - 1) + 1
        n = (S[j] + 2 * p[j] - eff + ((s[j] - 1) if ceil_mode else 0)) // s[j] + 1
        if ceil_mode and (n - 1) * s[j] >= S[j] + p[j]:
            n -= 1
        out.append(n)
    if any(n < 1 for n in out):
        c = shape[-d - 1]
        raise RuntimeError(
            f"Given input size: ({'x'.join(str(v) for v in (c,) + S)}). Calculated output size: "
            f"({'x'.join(str(v) for v in [c] + out)}). Output size is too small"
        )
    return input.dim() == d + 2, (k, s, dl, p, S, tuple(out))


def _buffer_size(geom):
    k, s, dl, p, S, O = geom
    return tuple(max(S[j] + 2 * p[j], (O[j] - 1) * s[j] + dl[j] * (k[j] - 1) + 1) for j in range(len(S)))


def _views(be, buf, geom):
    """One strided (N, C, *O) view of buf per kernel offset, in row-major kernel order."""
    k, s, dl, _, _, O = geom
    st = buf.strides
    d = len(k)
    shape = buf.shape[:2] + tuple(O)
    strides = (st[0], st[1]) + tuple(s[j] * st[2 + j] for j in range(d))
    out = []
    for kk in itertools.product(*(range(kj) for kj in k)):
        off = sum(kk[j] * dl[j] * st[2 + j] for j in range(d))
        out.append(be.as_strided(buf, shape, strides, off))
    return out


def _grid(j: int, d: int, v):
    """A 1-D array placed on spatial axis j of a (1, 1, *O) grid."""
    return v.reshape((1, 1) + tuple(-1 if i == j else 1 for i in range(d)))


def _all_finite(xp, a) -> bool:
    return a.size == 0 or bool(xp.isfinite(xp.max(a)) and xp.isfinite(xp.min(a)))


def _lowest(dt):
    return np.iinfo(dt).min if dt.kind in "iu" else -np.inf


# --------------------------------------------------------------------------------------------- max pool


class _MaxPool(Op):
    """(out, indices): window maxima and (when asked) torch's flat input indices of the maxima."""

    num_outputs = 2
    nondiff_outputs = (1,)
    node_name = "MaxPoolWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, geom=None, want_indices=False):
        xp, be = ctx.xp, ctx.be
        k, s, dl, p, S, Og = geom
        d = len(k)
        P = _buffer_size(geom)
        low = _lowest(x.dtype)
        buf = _padded(xp, x, p, S, P, fill=low)
        views = _views(be, buf, geom)
        out = views[0].copy()
        track = ctx.needs_input_grad[0] or want_indices
        if not track:
            for v in views[1:]:
                xp.maximum(out, v, out=out)
            return out, xp.zeros(0, dtype=np.int64)
        K = len(views)
        idt = np.int8 if K < 128 else np.int32
        arg = xp.zeros(out.shape, dtype=idt)
        nan_path = D.is_float_array_dtype(x.dtype) and x.size and bool(xp.isnan(xp.max(x)))
        m = xp.empty(out.shape, dtype=bool)
        step = xp.empty(out.shape, dtype=idt)
        for i in range(1, K):
            v = views[i]
            xp.greater(v, out, out=m)  # strict: the first maximum wins ties
            if nan_path:
                m |= xp.isnan(v)  # torch takes every NaN it meets, so the last NaN wins
                xp.copyto(out, v, where=m)
            else:
                xp.maximum(out, v, out=out)
            # i exceeds every earlier offset, so "take i where m" is a maximum (no slow masked writes)
            xp.multiply(m, idt(i), out=step)
            xp.maximum(arg, step, out=arg)
        if P != tuple(S):
            # windows with nothing above the padding value: torch reports their first in-bounds position
            lows = out == low
            if lows.any():
                first = 0
                for j in range(d):
                    o = np.arange(Og[j])
                    kk0 = np.maximum(0, -((o * s[j] - p[j]) // dl[j]))
                    first = first + _grid(j, d, kk0 * math.prod(k[j + 1 :]))
                arg = xp.where(lows, xp.asarray(first).astype(arg.dtype), arg)
        ctx.geom = geom
        ctx.arg = arg
        idx = _flat_indices(xp, arg, geom) if want_indices else xp.zeros(0, dtype=np.int64)
        return out, idx

    @staticmethod
    def backward(ctx, g, _gi=None):
        return (dispatch(_MaxPoolScatter, (g,), {"geom": ctx.geom, "arg": ctx.arg}),)


def _flat_indices(xp, arg, geom):
    """torch's indices: the flat position of each maximum in its (unpadded) input plane."""
    k, s, dl, p, S, Og = geom
    d = len(k)
    idx = xp.zeros(arg.shape, dtype=np.int64)
    a = arg.astype(np.int64)
    for j in range(d):
        kk = (a // math.prod(k[j + 1 :])) % k[j]
        pos = _grid(j, d, xp.arange(Og[j]) * s[j] - p[j]) + kk * dl[j]
        idx += pos * math.prod(S[j + 1 :])
    return idx


class _MaxPoolScatter(Op):
    """dx: g added at each window's argmax (the backward of max pooling)."""

    node_name = "MaxPoolWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx, g, geom=None, arg=None):
        xp = ctx.xp
        ctx.geom, ctx.arg = geom, arg
        k, s, dl = geom[0], geom[1], geom[2]
        P = _buffer_size(geom)
        buf = xp.zeros(g.shape[:2] + P, dtype=g.dtype)
        m = xp.empty(arg.shape, dtype=bool)
        tmp = xp.empty(arg.shape, dtype=g.dtype)
        disjoint = all(s[j] >= dl[j] * (k[j] - 1) + 1 for j in range(len(k)))  # each input in one window
        # g * mask would turn an unselected inf into NaN; off the CPU, where() avoids a host sync on the check
        finite = _all_finite(xp, g) if ctx.be.name == "cpu" else None
        zero = xp.zeros((), dtype=g.dtype)
        for i, v in enumerate(_views(ctx.be, buf, geom)):
            xp.equal(arg, i, out=m)
            if finite is None:
                v += xp.where(m, g, zero)
            elif not finite:
                xp.add(v, g, out=v, where=m)
            elif disjoint:
                xp.multiply(g, m, out=v)
            else:
                xp.multiply(g, m, out=tmp)
                v += tmp
        return xp.ascontiguousarray(buf[_spatial(geom[3], geom[4])])

    @staticmethod
    def backward(ctx, gg):
        return (dispatch(_MaxPoolGather, (gg,), {"geom": ctx.geom, "arg": ctx.arg}),)


class _MaxPoolGather(Op):
    """out: x read at each window's argmax (the transpose of _MaxPoolScatter)."""

    @staticmethod
    def forward(ctx, x, geom=None, arg=None):
        xp = ctx.xp
        ctx.geom, ctx.arg = geom, arg
        buf = _padded(xp, x, geom[3], geom[4], _buffer_size(geom))
        out = xp.zeros(arg.shape, dtype=x.dtype)
        m = xp.empty(arg.shape, dtype=bool)
        tmp = xp.empty(arg.shape, dtype=x.dtype)
        finite = _all_finite(xp, x) if ctx.be.name == "cpu" else False  # no host sync off the CPU
        for i, v in enumerate(_views(ctx.be, buf, geom)):
            xp.equal(arg, i, out=m)
            if not finite:
                xp.copyto(out, v, where=m)
                continue
            xp.multiply(v, m, out=tmp)
            out += tmp
        return out

    @staticmethod
    def backward(ctx, g):
        return (dispatch(_MaxPoolScatter, (g,), {"geom": ctx.geom, "arg": ctx.arg}),)


def _check_pool_dtype(input: Tensor, fn: str) -> None:
    dt = input._dtype
    if dt is D.bool_ or dt.is_complex:
        raise RuntimeError(f"\"{fn}\" not implemented for '{D.SCALAR_NAME[dt]}'")


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, d, fn, dims_msg):
    batched, geom = _pool_geom(input, kernel_size, stride, padding, dilation, ceil_mode, d, fn, dims_msg)
    _check_pool_dtype(input, fn)
    x = input if batched else input.unsqueeze(0)
    out, idx = dispatch(_MaxPool, (x,), {"geom": geom, "want_indices": bool(return_indices)})
    if not batched:
        out = out.squeeze(0)
        idx = idx.squeeze(0) if return_indices else idx
    return (out, idx) if return_indices else out


def _dims_msg(d: int, fn: str, shape) -> str:
    if d == 1:
        return (
            f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for input, but "
            f"got:{list(shape)}"
        )
    return f"non-empty {d + 1}D or {d + 2}D (batch mode) tensor expected for input"


@traceable("F.max_pool1d")
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, L) or (C, L); -inf padding; optionally the argmax indices."""
    return _max_pool(
        input,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        return_indices,
        1,
        "max_pool1d",
        _dims_msg(1, "max_pool1d", _shape(input)),
    )


@traceable("F.max_pool2d")
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, H, W) or (C, H, W); -inf padding; optionally the argmax indices."""
    return _max_pool(
        input,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        return_indices,
        2,
        "max_pool2d",
        _dims_msg(2, "max_pool2d", _shape(input)),
    )


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, D, H, W) or unbatched; -inf padding; optionally the indices."""
    return _max_pool(
        input,
        kernel_size,
        stride,
        padding,
        dilation,
        ceil_mode,
        return_indices,
        3,
        "max_pool3d",
        _dims_msg(3, "max_pool3d", _shape(input)),
    )


def max_pool1d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _shape(t):
    return tuple(t.shape) if isinstance(t, Tensor) else ()


# --------------------------------------------------------------------------------------------- avg pool


class _AvgPool(Op):
    """Window sums divided by `div` (a number or an array over the output grid)."""

    promote = SAME
    upcast_half = True
    node_name = "AvgPoolBackward0"

    @staticmethod
    def forward(ctx, x, geom=None, div=1.0):
        xp = ctx.xp
        ctx.geom, ctx.div = geom, div
        buf = _padded(xp, x, geom[3], geom[4], _buffer_size(geom))
        views = _views(ctx.be, buf, geom)
        if D.is_float_array_dtype(x.dtype):
            acc = views[0].copy()
            for v in views[1:]:
                acc += v
            acc /= div
            return acc
        acc = views[0].astype(np.int64)
        for v in views[1:]:
            acc += v
        q = xp.abs(acc) // xp.asarray(div).astype(np.int64)  # integer division truncates toward zero
        return (xp.sign(acc) * q).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        return (dispatch(_AvgPoolT, (g,), {"geom": ctx.geom, "div": ctx.div}),)


class _AvgPoolT(Op):
    """The transpose of _AvgPool: each output's g / div spread over its window."""

    promote = SAME
    upcast_half = True
    node_name = "AvgPoolBackwardBackward0"

    @staticmethod
    def forward(ctx, g, geom=None, div=1.0):
        xp = ctx.xp
        ctx.geom, ctx.div = geom, div
        gd = g / xp.asarray(div, dtype=g.dtype)
        buf = xp.zeros(g.shape[:2] + _buffer_size(geom), dtype=g.dtype)
        for v in _views(ctx.be, buf, geom):
            v += gd
        return xp.ascontiguousarray(buf[_spatial(geom[3], geom[4])])

    @staticmethod
    def backward(ctx, gg):
        return (dispatch(_AvgPool, (gg,), {"geom": ctx.geom, "div": ctx.div}),)


def _avg_divisor(geom, count_include_pad: bool, divisor_override):
    """torch's divisor per output position (a number when it is the same everywhere)."""
    if divisor_override is not None:
        return float(divisor_override)
    k, s, _, p, S, Og = geom
    d = len(k)
    div = np.ones((1, 1) + tuple(Og))
    for j in range(d):
        start = np.arange(Og[j]) * s[j] - p[j]
        end = np.minimum(start + k[j], S[j] + p[j])
        if count_include_pad:
            n = end - start
        else:
            n = np.minimum(end, S[j]) - np.maximum(start, 0)
        div = div * _grid(j, d, n.astype(np.float64))
    flat = div.reshape(-1)
    if flat.size and (flat == flat[0]).all():
        return float(flat[0])
    return div


def _avg_pool(
    input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, d, fn, msg
):
    batched, geom = _pool_geom(input, kernel_size, stride, padding, 1, ceil_mode, d, fn, msg)
    _check_pool_dtype(input, fn)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    x = input if batched else input.unsqueeze(0)
    div = _avg_divisor(geom, count_include_pad, divisor_override)
    out = dispatch(_AvgPool, (x,), {"geom": geom, "div": div})
    return out if batched else out.squeeze(0)


def _avg_dims_msg(input, d: int, fn: str) -> str:
    if d == 1:
        return (
            f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument #1 'self' "
            f"(while checking arguments for {fn})"
        )
    return f"non-empty {d + 1}D or {d + 2}D (batch mode) tensor expected for input"


@traceable("F.avg_pool1d")
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of (N, C, L) or (C, L) (zero padding, counted unless told otherwise)."""
    msg = _avg_dims_msg(input, 1, "avg_pool1d") if isinstance(input, Tensor) else ""
    return _avg_pool(
        input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d", msg
    )


@traceable("F.avg_pool2d")
def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """Mean over sliding windows of (N, C, H, W) or (C, H, W); divisor_override replaces the window size."""
    msg = _avg_dims_msg(input, 2, "avg_pool2d") if isinstance(input, Tensor) else ""
    return _avg_pool(
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        2,
        "avg_pool2d",
        msg,
    )


def avg_pool3d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """Mean over sliding windows of (N, C, D, H, W) or unbatched."""
    msg = _avg_dims_msg(input, 3, "avg_pool3d") if isinstance(input, Tensor) else ""
    return _avg_pool(
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        3,
        "avg_pool3d",
        msg,
    )


# ------------------------------------------------------------------------------------------ adaptive pools


def _adaptive_args(input, output_size, d: int, fn: str, sep: str = ""):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.dim() not in (d + 1, d + 2):
        if d == 1:
            raise RuntimeError(
                f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional tensor for argument "
                f"#1 'self' (while checking arguments for {fn})"
            )
        raise RuntimeError(f"{fn}(): Expected {d + 1}D or {d + 2}D tensor, but got{sep} {list(input.shape)}")
    S = tuple(input.shape[-d:])
    if isinstance(output_size, (tuple, list)):
        osz = tuple(output_size)
        if len(osz) != d:
            raise RuntimeError(f"{fn}: output_size must be {d}")
    else:
        osz = (output_size,) * d
    osz = tuple(S[j] if v is None else int(v) for j, v in enumerate(osz))
    if any(v < 0 for v in osz):
        raise RuntimeError(
            f"{fn}: elements of output_size must be greater than or equal to 0 but received {osz}"
        )
    for i in range(1, input.dim()):
        if input.shape[i] == 0:
            raise RuntimeError(
                f"{fn}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes "
                f"{list(input.shape)} with dimension {i} being empty"
            )
    dt = input._dtype
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"{fn}\" not implemented for '{D.SCALAR_NAME[dt]}'")
    return input.dim() == d + 2, S, osz


def _windows_1d(n: int, m: int):
    """Adaptive window bounds: start = floor(i*n/m), end = ceil((i+1)*n/m)."""
    i = np.arange(m)
    return (i * n) // m, ((i + 1) * n + m - 1) // m


def _adaptive_avg(input, output_size, d: int, fn: str) -> Tensor:
    batched, S, osz = _adaptive_args(input, output_size, d, fn)
    x = input if batched else input.unsqueeze(0)
    if all(o > 0 and n % o == 0 for n, o in zip(S, osz)):
        k = tuple(n // o for n, o in zip(S, osz))
        geom = (k, k, (1,) * d, (0,) * d, S, osz)
        out = dispatch(_AvgPool, (x,), {"geom": geom, "div": float(math.prod(k))})
    else:
        out = x
        for j in range(d):
            start, end = _windows_1d(S[j], osz[j])
            kmax = int((end - start).max()) if osz[j] else 1
            t = np.arange(kmax)[:, None]
            idx = np.minimum(start[None, :] + t, np.maximum(end - 1, 0)[None, :]).astype(np.int64)
            w = (t < (end - start)[None, :]) / np.maximum(end - start, 1)[None, :]
            out = _taps(out, 2 + j, idx, w)
    return out if batched else out.squeeze(0)


@traceable("F.adaptive_avg_pool1d")
def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """Average pooling of (N, C, L) to a fixed output length."""
    return _adaptive_avg(input, output_size, 1, "adaptive_avg_pool1d")


@traceable("F.adaptive_avg_pool2d")
def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling of (N, C, H, W) to a fixed output size (None keeps that input size)."""
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool3d(input, output_size) -> Tensor:
    """Average pooling of (N, C, D, H, W) to a fixed output size."""
    return _adaptive_avg(input, output_size, 3, "adaptive_avg_pool3d")


def _argmax_last_nan(xp, v):
    """argmax over the last axis: first maximum, or the last NaN when there is one (torch's rule)."""
    a = v.argmax(-1)
    if D.is_float_array_dtype(v.dtype):
        nan = xp.isnan(v)
        anynan = nan.any(-1)
        if anynan.any():
            last = v.shape[-1] - 1 - nan[..., ::-1].argmax(-1)
            a = xp.where(anynan, last, a)
    return a


def _adaptive_max_indices(xp, a, osz):
    """Flat (per-plane) indices of the adaptive-window maxima of a (N, C, *S), one spatial axis at a time."""
    d = len(osz)
    S = a.shape[2:]
    vals, flat = a, None
    for j in reversed(range(d)):
        ax = 2 + j
        start, end = _windows_1d(S[j], osz[j])
        kmax = int((end - start).max())
        taps = start[:, None] + np.arange(kmax)[None, :]
        valid = taps < end[:, None]
        taps = xp.asarray(np.minimum(taps, S[j] - 1))
        valid = xp.asarray(valid)
        v = xp.moveaxis(xp.take(vals, taps, axis=ax), ax + 1, -1)  # (..., out_j, ..., kmax)
        mask = valid.reshape((osz[j],) + (1,) * (vals.ndim - ax - 1) + (kmax,))
        v = xp.where(mask, v, -xp.inf)
        choose = _argmax_last_nan(xp, v)
        vals = xp.take_along_axis(v, choose[..., None], -1)[..., 0]
        og = xp.arange(osz[j]).reshape((-1,) + (1,) * (vals.ndim - ax - 1))
        pos = taps[og, choose]
        contrib = pos * math.prod(S[j + 1 :])
        if flat is not None:
            ft = xp.moveaxis(xp.take(flat, taps, axis=ax), ax + 1, -1)
            contrib = contrib + xp.take_along_axis(ft, choose[..., None], -1)[..., 0]
        flat = contrib
    return flat.astype(np.int64)


def _adaptive_max(input, output_size, return_indices, d: int, fn: str):
    batched, S, osz = _adaptive_args(input, output_size, d, fn, sep=":")
    x = input if batched else input.unsqueeze(0)
    if all(o > 0 and n % o == 0 for n, o in zip(S, osz)):
        k = tuple(n // o for n, o in zip(S, osz))
        geom = (k, k, (1,) * d, (0,) * d, S, osz)
        out, idx = dispatch(_MaxPool, (x,), {"geom": geom, "want_indices": True})
    else:
        xp = get_backend(x._device).xp
        if any(o == 0 for o in osz):
            flat = xp.zeros(tuple(x.shape[:2]) + osz, dtype=np.int64)
        else:
            flat = _adaptive_max_indices(xp, x.detach()._data, osz)
        idx = _wrap(flat, D.int64, x.device)
        n, c = x.shape[:2]
        out = x.reshape(n, c, math.prod(S)).gather(2, idx.reshape(n, c, math.prod(osz))).reshape((n, c) + osz)
    if not batched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of (N, C, L) to a fixed output length (optionally with the argmax indices)."""
    return _adaptive_max(input, output_size, return_indices, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling of (N, C, H, W) to a fixed output size (optionally with the argmax indices)."""
    return _adaptive_max(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling of (N, C, D, H, W) to a fixed output size (optionally with the argmax indices)."""
    return _adaptive_max(input, output_size, return_indices, 3, "adaptive_max_pool3d")


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


# ------------------------------------------------------------------------------------------ lp pool, unpool


def _lp_finish(out: Tensor, norm_type: float, ksize: int) -> Tensor:
    from ...ops.activation import relu

    return (O.sign(out) * relu(O.abs(out))).mul(ksize).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """(sum over windows of x^p)^(1/p) for (N, C, L)."""
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, kernel_size if isinstance(kernel_size, int) else math.prod(kernel_size))


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """(sum over windows of x^p)^(1/p) for (N, C, H, W)."""
    k = _tuple_arg(kernel_size, 2, "kernel_size", "lp_pool2d")
    out = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, math.prod(k))


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """(sum over windows of x^p)^(1/p) for (N, C, D, H, W)."""
    k = _tuple_arg(kernel_size, 3, "kernel_size", "lp_pool3d")
    out = avg_pool3d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(out, norm_type, math.prod(k))


def _unpool_size(input, kernel_size, stride, padding, output_size, d):
    k = _tuple_arg(kernel_size, d, "kernel_size", f"max_unpool{d}d")
    s = _tuple_arg(stride, d, "stride", f"max_unpool{d}d", allow_none=True) or k
    p = _tuple_arg(padding, d, "padding", f"max_unpool{d}d")
    default = [(input.shape[-d + j] - 1) * s[j] + k[j] - 2 * p[j] for j in range(d)]
    if output_size is None:
        return tuple(default)
    osz = list(output_size)
    if len(osz) == d + 2 or (len(osz) == d + 1 and input.dim() == d + 1):
        osz = osz[-d:]
    if len(osz) != d:
        raise ValueError(
            f"output_size should be a sequence containing {d} or {d + 2} elements, but it has a length "
            f"of '{len(osz)}'"
        )
    for j in range(d):
        lo, hi = default[j] - s[j], default[j] + s[j]
        if not lo < osz[j] < hi:
            raise ValueError(f'invalid output_size "{osz}" (dim {j} must be between {lo} and {hi})')
    return tuple(int(v) for v in osz)


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, d):
    osz = _unpool_size(input, kernel_size, stride, padding, output_size, d)
    if input.shape != indices.shape:
        raise RuntimeError(
            f"Expected shape of indices to be same as that of the input tensor ({list(input.shape)}) but got "
            f"indices tensor with shape: {list(indices.shape)}"
        )
    batched = input.dim() == d + 2
    x = input if batched else input.unsqueeze(0)
    ix = indices if batched else indices.unsqueeze(0)
    n, c = x.shape[:2]
    z = O.zeros((n, c, math.prod(osz)), dtype=x.dtype, device=x.device)
    m = math.prod(x.shape[2:])
    out = z.scatter(2, ix.reshape(n, c, m), x.reshape(n, c, m)).reshape((n, c) + osz)
    return out if batched else out.squeeze(0)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Partial inverse of max_pool1d: values placed at their indices, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Partial inverse of max_pool2d: values placed at their indices, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Partial inverse of max_pool3d: values placed at their indices, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3)


__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d",
    "adaptive_max_pool3d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "max_pool2d_with_indices",
    "max_pool3d",
    "max_pool3d_with_indices",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
]

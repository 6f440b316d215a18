"""pad, interpolate/upsample, pixel_shuffle/pixel_unshuffle.

Non-constant padding and every interpolation mode are separable: along one axis at a time, the output is a
small weighted sum of input positions ("taps"): out[o] = sum_t w[t, o] * x[idx[t, o]]. One op pair does all
of them: _Taps (a gather per tap) and _TapsT, its transpose (a scatter-add done as one sort + reduceat, no
np.add.at); each is the other's backward, so every derivative order exists.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ... import _dtype as D
from ..._tensor import Tensor
from ..._trace_hooks import traceable
from ...ops._dispatch import dispatch
from ...ops.op import SAME, Op

# ------------------------------------------------------------------------------------------ taps along an axis


def _wshape(w_row, ndim: int, axis: int):
    return w_row.reshape((w_row.shape[0],) + (1,) * (ndim - axis - 1))


class _Taps(Op):
    """out = sum_t take(x, idx[t], axis) * w[t] (w None: a single unweighted tap)."""

    promote = SAME
    upcast_half = True
    node_name = "UpsampleBackward0"
    host_kwargs = True  # idx/w are host plan tables (the transpose plans its scatter from them on the host)

    @staticmethod
    def forward(ctx, x, axis=0, idx=None, w=None):
        xp = ctx.xp
        ctx.attrs = (axis, idx, w, x.shape[axis])
        idx = xp.asarray(idx)
        w = None if w is None else xp.asarray(w)
        if w is None:
            return xp.take(x, idx[0], axis=axis)
        w = w.astype(x.dtype, copy=False)
        out = xp.take(x, idx[0], axis=axis)
        out *= _wshape(w[0], x.ndim, axis)
        for t in range(1, idx.shape[0]):
            out += xp.take(x, idx[t], axis=axis) * _wshape(w[t], x.ndim, axis)
        return out

    @staticmethod
    def backward(ctx, g):
        axis, idx, w, size = ctx.attrs
        return (dispatch(_TapsT, (g,), {"axis": axis, "idx": idx, "w": w, "size": size}),)


class _TapsT(Op):
    """The transpose of _Taps: out[i] = sum over (t, o) with idx[t, o] == i of w[t, o] * g[o]."""

    promote = SAME
    upcast_half = True
    node_name = "UpsampleBackwardBackward0"
    host_kwargs = True

    @staticmethod
    def forward(ctx, g, axis=0, idx=None, w=None, size=0):
        xp = ctx.xp
        ctx.attrs = (axis, idx, w)
        shape = g.shape[:axis] + (size,) + g.shape[axis + 1 :]
        out = xp.zeros(shape, dtype=g.dtype)
        if idx.size == 0 or g.size == 0:
            return out
        out_m = xp.moveaxis(out, axis, 0)  # views: the scattered axis first, rows are whole sub-arrays
        g_m = xp.moveaxis(g, axis, 0)
        for tgt, src, wr in _scatter_plan(idx, w):
            for ss, ts, ps in _ap_pieces(src, tgt):
                if not isinstance(ss, slice):  # an irregular piece: fancy indices travel to the device
                    ss, ts = xp.asarray(ss), xp.asarray(ts)
                v = g_m[ss]
                if wr is not None:
                    wp = xp.asarray(wr[ps]).astype(g.dtype, copy=False)
                    v = v * wp.reshape((-1,) + (1,) * (g.ndim - 1))
                out_m[ts] += v
        return out

    @staticmethod
    def backward(ctx, gg):
        axis, idx, w = ctx.attrs
        return (dispatch(_Taps, (gg,), {"axis": axis, "idx": idx, "w": w}),)


def _scatter_plan(idx, w):
    """Split the (target, source, weight) pairs of all taps into rounds whose targets are distinct.

    Round r holds, for every target, its r-th contributing pair, so `out[tgt] += w * g[src]` is exact."""
    n_taps, n_out = idx.shape
    tgt = idx.reshape(-1)
    src = np.tile(np.arange(n_out), n_taps)
    wt = None if w is None else np.asarray(w).reshape(-1)
    if wt is not None:
        keep = wt != 0
        tgt, src, wt = tgt[keep], src[keep], wt[keep]
        if wt.size and (wt == 1).all():
            wt = None
    order = np.argsort(tgt, kind="stable")
    tgt, src = tgt[order], src[order]
    if wt is not None:
        wt = wt[order]
    if tgt.size == 0:
        return []
    first = np.flatnonzero(np.concatenate([[True], tgt[1:] != tgt[:-1]]))
    rank = np.arange(tgt.size) - np.repeat(first, np.diff(np.append(first, tgt.size)))
    rounds = []
    for r in range(int(rank.max()) + 1):
        sel = rank == r
        rounds.append((tgt[sel], src[sel], None if wt is None else wt[sel]))
    return rounds


def _span(start: int, step: int, n: int) -> slice:
    stop = start + step * n
    return slice(start, stop if stop >= 0 else None, step)


def _ap_pieces(src, tgt, max_pieces: int = 8):
    """Cover the pairs by runs in which src and tgt both advance by constant steps, so that each run is a
    pair of strided slices; irregular patterns (more than max_pieces runs) give one fancy-indexed piece."""
    n = src.size
    ds, dt = np.diff(src), np.diff(tgt)
    changes = np.flatnonzero((ds[1:] != ds[:-1]) | (dt[1:] != dt[:-1])) + 1  # k with step_k != step_{k-1}
    pieces = []
    b = 0
    while b < n:
        if len(pieces) >= max_pieces:
            return [(src, tgt, slice(0, n))]
        if b == n - 1:
            pieces.append((_span(int(src[b]), 1, 1), _span(int(tgt[b]), 1, 1), slice(b, n)))
            break
        j = np.searchsorted(changes, b, side="right")
        e = int(changes[j]) if j < changes.size else n - 1  # elements b..e share the steps of diff b
        if ds[b] == 0:
            return [(src, tgt, slice(0, n))]
        m = e - b + 1
        pieces.append((_span(int(src[b]), int(ds[b]), m), _span(int(tgt[b]), int(dt[b]), m), slice(b, e + 1)))
        b = e + 1
    return pieces


def _taps(x: Tensor, axis: int, idx, w=None) -> Tensor:
    """Apply taps (idx (T, out) int64, w (T, out) or None) along `axis` of x."""
    return dispatch(_Taps, (x,), {"axis": axis, "idx": idx, "w": w})


# ------------------------------------------------------------------------------------------------ pad


class _ConstantPad(Op):
    """Constant padding of the trailing dims; negative pads crop. The backward is the opposite pad."""

    node_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, x, pads=(), value=0):
        xp = ctx.xp
        ctx.pads = pads
        nd = len(pads) // 2
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        shape = list(x.shape)
        for j in range(nd):
            ax = x.ndim - 1 - j
            lo, hi = pads[2 * j], pads[2 * j + 1]
            n = x.shape[ax]
            shape[ax] = n + lo + hi
            src[ax] = slice(max(-lo, 0), n - max(-hi, 0))
            dst[ax] = slice(max(lo, 0), max(lo, 0) + max(n - max(-lo, 0) - max(-hi, 0), 0))
        if value == 0 or value is None:
            out = xp.zeros(tuple(shape), dtype=x.dtype)
        else:
            out = xp.full(tuple(shape), value, dtype=x.dtype)
        out[tuple(dst)] = x[tuple(src)]
        return out

    @staticmethod
    def backward(ctx, g):
        return (dispatch(_ConstantPad, (g,), {"pads": tuple(-p for p in ctx.pads), "value": 0}),)


def _pad_index(mode: str, n: int, lo: int, hi: int):
    """Source index for each output position of a reflect/replicate/circular pad of a length-n axis."""
    if mode == "circular":
        start = max(-lo, 0)
        m = n - start - max(-hi, 0)  # torch crops negative pads first, then wraps the cropped range
        j = np.arange(-max(lo, 0), m + max(hi, 0))
        return start + np.mod(j, m) if m > 0 else np.zeros(0, dtype=np.int64)
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    j = np.abs(j)  # reflect
    return np.where(j >= n, 2 * (n - 1) - j, j)


_PAD_HELP = (
    "Supported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)


@traceable("F.pad")
def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad the last len(pad)//2 dims: pad = (left_last, right_last, left_prev, right_prev, ...).

    mode: 'constant' (with `value`; negative pads crop), 'reflect', 'replicate' or 'circular'."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pad(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    pads = tuple(pad)
    for i, p in enumerate(pads):
        if isinstance(p, bool) or not isinstance(p, int):
            raise TypeError(
                f"pad(): argument 'pad' (position 2) must be tuple of ints, but found element of type "
                f"{type(p).__name__} at pos {i}"
            )
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    nd = len(pads) // 2
    dim = input.dim()
    if nd > dim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but got padding "
            f"length {len(pads)} and input of dimension {dim}"
        )
    if mode == "constant":
        for j in range(nd):
            ax = dim - 1 - j
            n = input.shape[ax] + pads[2 * j] + pads[2 * j + 1]
            if n < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        v = 0 if value is None else value
        if not input._dtype.is_floating_point and not input._dtype.is_complex:
            v = bool(v) if input._dtype is D.bool_ else int(v)
        return dispatch(_ConstantPad, (input,), {"pads": pads, "value": v})
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if nd not in (1, 2, 3) or dim not in (nd + 1, nd + 2):
        raise NotImplementedError(
            f"Padding size {len(pads)} is not supported for {dim}D input tensor.\n\n" + _PAD_HELP
        )
    if input._dtype is D.bool_ and mode != "circular":
        kernel = {"reflect": "reflection_pad", "replicate": "replication_pad"}[mode] + f"{nd}d"
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")
    if any(s == 0 for s in input.shape[1:]):
        raise RuntimeError(
            f"Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with possibly 0 batch size and other non-zero "
            f"dimensions for input, but got: {list(input.shape)}"
        )
    out = input
    for j in range(nd):
        ax = dim - 1 - j
        n = input.shape[ax]
        lo, hi = pads[2 * j], pads[2 * j + 1]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, but got: "
                f"padding ({lo}, {hi}) at dimension {ax} of input {list(input.shape)}"
            )
        if mode == "circular":
            if lo > n or hi > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if n + lo + hi < 0:
                raise RuntimeError("Negative padding value is resulting in an empty dimension")
        elif n + lo + hi < 1:
            name = "DHW"[3 - nd + j] if nd > 1 else "W"
            raise RuntimeError(f"input ({name}: {n}) is too small. Calculated output {name}: {n + lo + hi}")
        if lo == 0 and hi == 0:
            continue
        idx = _pad_index(mode, n, lo, hi).astype(np.int64)
        out = _taps(out, ax, idx[None, :])
    return out


# ------------------------------------------------------------------------------------------ interpolate


def _scale(in_size: int, out_size: int, align_corners: bool, scale, dt):
    """torch's area_pixel_compute_scale in the op-math dtype."""
    if align_corners:
        return dt.type((in_size - 1) / (out_size - 1)) if out_size > 1 else dt.type(0)
    if scale is not None and scale > 0:
        return dt.type(1.0 / scale)
    return dt.type(in_size) / dt.type(out_size)


def _nearest_taps(in_size: int, out_size: int, scale, exact: bool):
    """torch's nearest / nearest-exact source indices (computed in float32, as torch does)."""
    o = np.arange(out_size)
    if not exact and out_size == in_size:
        idx = o
    elif not exact and out_size == 2 * in_size:
        idx = o >> 1
    else:
        f32 = np.float32
        s = f32(1.0 / scale) if scale is not None and scale > 0 else f32(in_size) / f32(out_size)
        if exact:
            src = ((o + 0.5) * np.float64(s)).astype(f32)
        else:
            src = o.astype(f32) * s
        idx = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    return idx[None, :].astype(np.int64), None


def _linear_taps(in_size: int, out_size: int, scale, align_corners: bool, dt):
    sc = _scale(in_size, out_size, align_corners, scale, dt)
    o = np.arange(out_size).astype(dt)
    src = sc * o if align_corners else sc * (o + dt.type(0.5)) - dt.type(0.5)
    src = np.maximum(src, dt.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam = np.clip(src - i0.astype(dt), 0, 1).astype(dt)
    i1 = i0 + (i0 < in_size - 1)
    return np.stack([i0, i1]), np.stack([dt.type(1) - lam, lam])


def _cubic_coeffs(t, dt):
    a = dt.type(-0.75)

    def c1(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def c2(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    one = dt.type(1)
    return np.stack([c2(t + one), c1(t), c1(one - t), c2(one - t + one)]).astype(dt)


def _cubic_taps(in_size: int, out_size: int, scale, align_corners: bool, dt):
    sc = _scale(in_size, out_size, align_corners, scale, dt)
    o = np.arange(out_size).astype(dt)
    src = sc * o if align_corners else sc * (o + dt.type(0.5)) - dt.type(0.5)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.clip(src - i0.astype(dt), 0, 1).astype(dt)
    idx = np.stack([np.clip(i0 - 1 + j, 0, in_size - 1) for j in range(4)])
    return idx, _cubic_coeffs(t, dt)


_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def _is_int(v) -> bool:
    return not isinstance(v, bool) and (isinstance(v, (int, np.integer)))


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of (N, C, *spatial) input: modes nearest, nearest-exact, (bi/tri)linear,
    bicubic, area; by `size` or `scale_factor`, with torch's index arithmetic."""
    if not isinstance(input, Tensor):
        raise TypeError(f"interpolate(): expected a Tensor input, got {type(input).__name__}")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        scale_factors = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got input with spatial "
                    f"dimensions of {list(input.shape[2:])} and output size of {size}. Please provide input tensor "
                    "in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) format."
                )
            if not all(_is_int(v) for v in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or Tuple[int, int, int], but "
                    f"got size with types {[type(v) for v in size]}"
                )
            output_size = [int(v) for v in size]
        else:
            output_size = [int(size)] * dim
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but got input with "
                    f"spatial dimensions of {list(input.shape[2:])} and scale_factor of shape {scale_factor}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in "
                    "(s1, s2, ...,sK) format."
                )
            scale_factors = [float(v) for v in scale_factor]
        else:
            scale_factors = [float(scale_factor)] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        output_size = [int(math.floor(float(input.shape[i + 2]) * scale_factors[i])) for i in range(dim)]
        scale_factors = None
    if antialias:
        raise NotImplementedError("interpolate(): antialias=True is not supported by ember")
    if dim not in (1, 2, 3) or mode not in _MODES:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.dim()}D) for the modes: nearest | "
            f"linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact (got {mode})"
        )
    need = _MODE_DIMS.get(mode)
    if need is not None and need != dim:
        raise NotImplementedError(f"Got {input.dim()}D input, but {mode} mode needs {need + 2}D input")
    if mode == "bicubic" and dim != 2:
        raise NotImplementedError(f"Got {input.dim()}D input, but bicubic mode needs 4D input")
    in_sizes = list(input.shape[2:])
    if output_size is None:
        output_size = [int(in_sizes[i] * scale_factors[i]) for i in range(dim)]
    if any(s <= 0 for s in in_sizes) or any(s <= 0 for s in output_size):
        names = "DHW"[3 - dim :]
        ins = ", ".join(f"{n}: {s}" for n, s in zip(names, in_sizes))
        outs = ", ".join(f"{n}: {s}" for n, s in zip(names, output_size))
        raise RuntimeError(
            f"Input and output sizes should be greater than 0, but got input ({ins}) output ({outs})"
        )
    if mode == "area":
        from .pooling import _adaptive_avg

        return _adaptive_avg(input, tuple(output_size), dim, f"adaptive_avg_pool{dim}d")
    dt = input._dtype
    if not dt.is_floating_point:
        kernel = {"nearest": "upsample_nearest", "nearest-exact": "_upsample_nearest_exact"}.get(
            mode, "upsample_" + mode
        )
        if not (dt is D.uint8 and mode in ("nearest", "nearest-exact")):
            raise NotImplementedError(f"\"{kernel}{dim}d\" not implemented for '{D.SCALAR_NAME[dt]}'")
    opmath = np.dtype(np.float64) if dt is D.float64 else np.dtype(np.float32)
    out = input
    for i in range(dim):
        n_in, n_out = in_sizes[i], output_size[i]
        sf = scale_factors[i] if scale_factors is not None else None
        if mode in ("nearest", "nearest-exact"):
            idx, w = _nearest_taps(n_in, n_out, sf, mode == "nearest-exact")
        elif mode == "bicubic":
            idx, w = _cubic_taps(n_in, n_out, sf, align_corners, opmath)
        else:
            idx, w = _linear_taps(n_in, n_out, sf, align_corners, opmath)
        out = _taps(out, 2 + i, idx, w)
    return out


def _deprecated(name: str) -> None:
    warnings.warn(
        f"`nn.functional.{name}` is deprecated. Use `nn.functional.interpolate` instead.", stacklevel=3
    )


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (torch.nn.functional.upsample)."""
    _deprecated("upsample")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest')."""
    _deprecated("upsample_nearest")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    _deprecated("upsample_bilinear")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# --------------------------------------------------------------------------------------- pixel shuffle


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r)."""
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_shuffle expects input to have at least 3 dimensions, but got input with {input.dim()} dimension(s)"
        )
    r = upscale_factor
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *b, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            f"but input.size(-3)={c} is not divisible by {r * r}"
        )
    nb = len(b)
    oc = c // (r * r)
    x = input.reshape(*b, oc, r, r, h, w)
    perm = list(range(nb)) + [nb, nb + 3, nb + 1, nb + 4, nb + 2]
    return x.permute(*perm).reshape(*b, oc, h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W)."""
    if input.dim() < 3:
        raise RuntimeError(
            f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with {input.dim()} "
            "dimension(s)"
        )
    r = downscale_factor
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *b, c, h, w = input.shape
    if h % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)={h} is not "
            f"divisible by {r}"
        )
    if w % r:
        raise RuntimeError(
            f"pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)={w} is not "
            f"divisible by {r}"
        )
    nb = len(b)
    x = input.reshape(*b, c, h // r, r, w // r, r)
    perm = list(range(nb)) + [nb, nb + 2, nb + 4, nb + 1, nb + 3]
    return x.permute(*perm).reshape(*b, c * r * r, h // r, w // r)


__all__ = [
    "interpolate",
    "pad",
    "pixel_shuffle",
    "pixel_unshuffle",
    "upsample",
    "upsample_bilinear",
    "upsample_nearest",
]

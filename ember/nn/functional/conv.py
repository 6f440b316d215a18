"""Convolutions (conv1d/2d/3d, conv_transpose1d/2d/3d) and unfold/fold, as im2col + one batched matmul.

Layout: the input is copied once into a zero-padded buffer; a strided view of it holds every kernel offset's
window ("cols", shape (C*K, N*L) with K = prod(kernel), L = number of output positions); the output is then
one matmul per group, weight (Og, Cg*K) @ cols. With all strides 1, the output grid is extended to the full
padded width (a few wasted columns), so that each window row is one contiguous run of the buffer and the
copy and the col2im accumulation run over long contiguous rows. Convolutions with few columns (C*K <= 64,
e.g. a first layer) use a batch-major layout instead (cols (N, C*K, L), see _direct), where the matmul
writes the output in place.

Three ops close the derivative chain (each one's backward is written with the other two, so derivatives of
any order exist): _Conv (the convolution), _ConvGradInput (its transpose in the input: col2im, also
conv_transpose) and _ConvGradWeight (its transpose in the weight).
"""

from __future__ import annotations

import itertools
import math

from ... import _dtype as D
from ..._tensor import Tensor
from ..._trace_hooks import traceable
from ...ops._autocast import autocast_policy
from ...ops._dispatch import dispatch
from ...ops.op import SAME, Op

# ------------------------------------------------------------------------------------------ argument helpers


def _ntuple(v, n: int, name: str, fn: str = "convolution") -> tuple:
    """An int or a sequence of 1 or n ints -> n-tuple (torch's broadcasting of conv arguments)."""
    if isinstance(v, bool) or not isinstance(v, (int, tuple, list)):
        if hasattr(v, "__index__") and not isinstance(v, bool):
            return (int(v),) * n
        raise TypeError(f"{fn}(): argument '{name}' must be tuple of ints, not {type(v).__name__}")
    if isinstance(v, int):
        return (v,) * n
    v = tuple(v)
    for e in v:
        if isinstance(e, bool) or not isinstance(e, int):
            raise TypeError(
                f"{fn}(): argument '{name}' must be tuple of ints, but found element of type "
                f"{type(e).__name__}"
            )
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise RuntimeError(
            f"expected {name} to be a single integer value or a list of {n} values to match the convolution "
            f"dimensions, but got {name}={list(v)}"
        )
    return v


def _check_tensor(t, name: str, fn: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' must be Tensor, not {type(t).__name__}")


def _dims_str(v) -> str:
    return "(" + " x ".join(str(int(e)) for e in v) + ")"


# ------------------------------------------------------------------------------------------ array kernels
# geom = (k, s, dl, lo, hi, S, O, G): kernel, stride, dilation, low/high padding, input spatial size,
# output spatial size (tuples of d ints) and groups.


def _layout(geom, flat_ok: bool = True):
    """Padded buffer sizes P and the extended output grid E (see the module docstring)."""
    k, s, dl, lo, hi, S, O, _ = geom
    P = [max(S[j] + lo[j] + hi[j], (O[j] - 1) * s[j] + dl[j] * (k[j] - 1) + 1) for j in range(len(S))]
    if flat_ok and len(S) > 1 and all(sj == 1 for sj in s):
        E = (O[0],) + tuple(P[1:])
        P[0] += 1  # the windows of the last rows read up to one row past the padded input
    else:
        E = tuple(O)
    return tuple(P), E


def _spatial(lo, S) -> tuple:
    return (slice(None), slice(None)) + tuple(slice(a, a + n) for a, n in zip(lo, S))


def _padded(xp, x, lo, S, P, fill=0):
    """x (N, C, *S) copied into a C-contiguous (N, C, *P) buffer at offset lo, the rest `fill`."""
    if tuple(P) == tuple(S) and not any(lo):
        return xp.ascontiguousarray(x)
    if fill == 0:
        buf = xp.zeros(x.shape[:2] + tuple(P), dtype=x.dtype)
    else:
        buf = xp.full(x.shape[:2] + tuple(P), fill, dtype=x.dtype)
    buf[_spatial(lo, S)] = x
    return buf


def _windows(be, buf, k, s, dl, E, order: str):
    """Strided view of a C-contiguous buffer: (C, *k, N, *E) for order 'ckn', (N, C, *k, *E) for 'nck'."""
    st = buf.strides
    kst = tuple(dl[j] * st[2 + j] for j in range(len(k)))
    est = tuple(s[j] * st[2 + j] for j in range(len(k)))
    n, c = buf.shape[:2]
    if order == "ckn":
        return be.strided_view(buf, (c,) + tuple(k) + (n,) + tuple(E), (st[1],) + kst + (st[0],) + est)
    return be.strided_view(buf, (n, c) + tuple(k) + tuple(E), (st[0], st[1]) + kst + est)


def _direct(geom, c: int) -> bool:
    """Batch-major layout for convolutions with few input columns per output (C_in/groups * K <= 64, e.g. a
    first layer): cols (N, C*K, L) on the exact output grid, so the matmul writes the output in place and the
    output gradient is used as it is (no transposing copies, which would dominate there)."""
    return geom[7] == 1 and c * math.prod(geom[0]) <= _DIRECT_MAX_COLS


_DIRECT_MAX_COLS = 64


def _im2col(xp, be, x, geom, ones_row: bool = False):
    """Columns of x (N, C, *S): (G, Cg*K, N*L) channel-major (see the module docstring), or (N, C*K, L) when
    _direct, then with an extra row of ones if ones_row (the bias rides along in the matmul)."""
    k, s, dl, lo, _, S, O, G = geom
    n, c = x.shape[:2]
    K = math.prod(k)
    if _direct(geom, c):
        P, _ = _layout(geom, flat_ok=False)
        buf = _padded(xp, x, lo, S, P)
        win = _windows(be, buf, k, s, dl, O, "nck")
        L = math.prod(O)
        if not ones_row:
            return win.reshape(n, c * K, L)
        cols = xp.empty((n, c * K + 1, L), dtype=x.dtype)
        it = cols.itemsize
        shape = (n, c) + tuple(k) + tuple(O)
        strides = ((c * K + 1) * L * it, K * L * it)
        strides += tuple(math.prod(k[j + 1 :]) * L * it for j in range(len(k)))
        strides += tuple(math.prod(O[j + 1 :]) * it for j in range(len(O)))
        be.strided_view(cols, shape, strides)[...] = win  # rows 0..C*K-1 of every sample
        cols[:, c * K] = 1
        return cols
    P, E = _layout(geom)
    buf = _padded(xp, x, lo, S, P)
    return _windows(be, buf, k, s, dl, E, "ckn").reshape(G, (c // G) * K, n * math.prod(E))


def _col2im(xp, be, cols, geom, P, E, n, c, dtype, order: str):
    """Sum each kernel offset's columns back into a zero buffer (one strided add per kernel offset).

    order 'ckn': cols (C, *k, N, *E), returns the (C, N, *P) buffer; 'nck': cols (N, C, *k, *E), returns
    (N, C, *P). The buffer's first two axes follow the columns' order, so the adds stream through memory."""
    k, s, dl = geom[0], geom[1], geom[2]
    a, b = (c, n) if order == "ckn" else (n, c)
    buf = xp.zeros((a, b) + tuple(P), dtype=dtype)
    st = buf.strides
    est = tuple(s[j] * st[2 + j] for j in range(len(k)))
    for kk in itertools.product(*(range(kj) for kj in k)):
        off = sum(kk[j] * dl[j] * st[2 + j] for j in range(len(k)))
        win = be.as_strided(buf, (a, b) + tuple(E), (st[0], st[1]) + est, off)
        win += cols[(slice(None),) + kk] if order == "ckn" else cols[(slice(None), slice(None)) + kk]
    return buf


def _grad_ext(xp, g, O, E, G):
    """g (N, Oc, *O) -> (G, Og, N*L) over the extended grid E (zeros in the extra columns)."""
    n, oc = g.shape[:2]
    gt = g.swapaxes(0, 1)
    if tuple(E) == tuple(O):
        ge = xp.ascontiguousarray(gt)
    else:
        ge = xp.zeros((oc, n) + tuple(E), dtype=g.dtype)
        ge[_spatial((0,) * len(O), O)] = gt
    return ge.reshape(G, oc // G, n * math.prod(E))


def _conv_forward(xp, be, x, w, b, geom, cols=None):
    """(out (N, Oc, *O), cols)."""
    O, G = geom[6], geom[7]
    n, c = x.shape[:2]
    oc = w.shape[0]
    if _direct(geom, c):
        if cols is None:
            cols = _im2col(xp, be, x, geom, ones_row=b is not None)
        w2 = w.reshape(oc, -1)
        if b is not None:  # [w | b] @ [cols; 1]: the bias costs one more column, not one more pass
            w2 = xp.concatenate([w2, b.reshape(oc, 1).astype(w2.dtype, copy=False)], axis=1)
        out = be.matmul(w2, cols)  # (N, Oc, L): already the output layout
        return out.reshape((n, oc) + tuple(O)), cols
    if cols is None:
        cols = _im2col(xp, be, x, geom)
    _, E = _layout(geom)
    full = be.matmul(w.reshape(G, oc // G, -1), cols)
    if b is not None:
        full.reshape(oc, -1)[...] += b.reshape(oc, 1)  # one contiguous pass, before the transposing copy
    full = full.reshape((oc, n) + tuple(E))
    out = xp.empty((n, oc) + tuple(O), dtype=full.dtype)
    out[...] = full[_spatial((0,) * len(O), O)].swapaxes(0, 1)
    return out, cols


def _conv_grad_input(xp, be, g, w, b, geom, c, ge=None):
    """The transpose of the convolution in its input: g (N, Oc, *O), w (Oc, Cg, *k) -> (N, C, *S)."""
    k, lo, S, O, G = geom[0], geom[3], geom[5], geom[6], geom[7]
    n, oc = g.shape[:2]
    if _direct(geom, c):
        P, _ = _layout(geom, flat_ok=False)
        dcols = be.matmul(w.reshape(oc, -1).T, g.reshape(n, oc, math.prod(O)))  # (N, C*K, L)
        buf = _col2im(
            xp, be, dcols.reshape((n, c) + tuple(k) + tuple(O)), geom, P, O, n, c, dcols.dtype, "nck"
        )
        if b is not None:
            buf.reshape(n, c, math.prod(P))[...] += b.reshape(c, 1)
        return xp.ascontiguousarray(buf[_spatial(lo, S)])
    P, E = _layout(geom)
    if ge is None:
        ge = _grad_ext(xp, g, O, E, G)
    wt = w.reshape(G, oc // G, -1).swapaxes(1, 2)
    dcols = be.matmul(wt, ge).reshape((c,) + tuple(k) + (n,) + tuple(E))
    buf = _col2im(xp, be, dcols, geom, P, E, n, c, dcols.dtype, "ckn")
    if b is not None:
        buf.reshape(c, -1)[...] += b.reshape(c, 1)
    out = xp.empty((n, c) + tuple(S), dtype=buf.dtype)
    out[...] = buf[_spatial(lo, S)].swapaxes(0, 1)
    return out


def _conv_grad_weight(xp, be, x, g, geom, cols=None, ge=None):
    """The transpose of the convolution in its weight: x (N, C, *S), g (N, Oc, *O) -> (Oc, Cg, *k)."""
    k, O, G = geom[0], geom[6], geom[7]
    n, oc = g.shape[:2]
    c = x.shape[1]
    if cols is None:
        cols = _im2col(xp, be, x, geom)
    if _direct(geom, c):
        cols = cols[:, : c * math.prod(k)]  # without the ones row of a biased forward
        dw = be.matmul(g.reshape(n, oc, math.prod(O)), cols.swapaxes(1, 2)).sum(0)
        return dw.reshape((oc, c) + tuple(k))
    if ge is None:
        _, E = _layout(geom)
        ge = _grad_ext(xp, g, O, E, G)
    dw = be.matmul(ge, cols.swapaxes(1, 2))
    return dw.reshape((oc, c // G) + tuple(k))


# ------------------------------------------------------------------------------------------------- ops


def _bias_grad(g: Tensor) -> Tensor:
    """g summed over every dim but 1; as a matrix-vector product with ones (several times faster than a
    multi-axis sum in NumPy, and still differentiable)."""
    n, c = g.shape[:2]
    L = math.prod(g.shape[2:])
    if g._dtype in (D.float32, D.float64) and L > 1 and n * c > 0:
        from ...ops.factory import ones
        from ...ops.matmul import matmul

        return matmul(g.reshape(n, c, L), ones(L, dtype=g._dtype, device=g.device)).sum(0)
    return g.sum([0] + list(range(2, g.dim())))


class _Conv(Op):
    """y = conv(x, w) + b (cross-correlation, torch's convention)."""

    promote = SAME
    upcast_half = True
    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, w, b, geom=None):
        need = ctx.needs_input_grad
        out, cols = _conv_forward(ctx.xp, ctx.be, x, w, b, geom)
        ctx.geom = geom
        ctx.save_for_backward(x, w, cols if need[1] else None)
        return out

    @staticmethod
    def backward(ctx, g):
        x, w, cols = ctx.saved_tensors
        need = ctx.needs_input_grad
        geom = ctx.geom
        gx = gw = gb = None
        ge = None
        direct = _direct(geom, x.shape[1])
        if need[0] and need[1] and not direct and g._dtype is w._dtype and g._dtype in (D.float32, D.float64):
            # both gradients start from the same regrouped output gradient: build it once
            _, E = _layout(geom)
            ge = _grad_ext(ctx.xp, g._data, geom[6], E, geom[7])
        if need[0]:
            gx = dispatch(_ConvGradInput, (g, w, None), {"geom": geom, "ge": ge})
        if need[1]:
            kw = {"geom": geom, "cols": cols._data if cols is not None else None, "ge": ge}
            gw = dispatch(_ConvGradWeight, (x, g), kw)
        if need[2]:
            gb = _bias_grad(g)
        return gx, gw, gb


class _ConvGradInput(Op):
    """dx = conv^T(g, w) (+ b): the input gradient of a convolution, and conv_transpose's forward."""

    promote = SAME
    upcast_half = True
    node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, g, w, b, geom=None, ge=None):
        ctx.geom = geom
        ctx.save_for_backward(g, w)
        c = w.shape[1] * geom[7]
        return _conv_grad_input(ctx.xp, ctx.be, g, w, b, geom, c, ge)

    @staticmethod
    def backward(ctx, gg):
        g, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        geom = ctx.geom
        r0 = r1 = r2 = None
        if need[0]:
            r0 = dispatch(_Conv, (gg, w, None), {"geom": geom})
        if need[1]:
            r1 = dispatch(_ConvGradWeight, (gg, g), {"geom": geom, "cols": None})
        if need[2]:
            r2 = _bias_grad(gg)
        return r0, r1, r2


class _ConvTranspose(_ConvGradInput):
    node_name = "ConvolutionBackward0"


class _ConvGradWeight(Op):
    """dw = the weight gradient of a convolution of x with output gradient g."""

    promote = SAME
    upcast_half = True
    node_name = "ConvolutionBackwardBackward1"

    @staticmethod
    def forward(ctx, x, g, geom=None, cols=None, ge=None):
        ctx.geom = geom
        ctx.save_for_backward(x, g)
        if cols is not None and cols.dtype != x.dtype:
            cols = None
        return _conv_grad_weight(ctx.xp, ctx.be, x, g, geom, cols, ge)

    @staticmethod
    def backward(ctx, gw):
        x, g = ctx.saved_tensors
        need = ctx.needs_input_grad
        geom = ctx.geom
        r0 = r1 = None
        if need[0]:
            r0 = dispatch(_ConvGradInput, (g, gw, None), {"geom": geom})
        if need[1]:
            r1 = dispatch(_Conv, (x, gw, None), {"geom": geom})
        return r0, r1


# ------------------------------------------------------------------------------------------ public functions


def _check_dtypes(x: Tensor, w: Tensor, b, fn: str) -> None:
    if x._dtype is not w._dtype:
        raise RuntimeError(f"Input type ({x._dtype}) and weight type ({w._dtype}) should be the same")
    if b is not None and b._dtype is not x._dtype:
        raise RuntimeError(
            f"Input type ({D.SCALAR_NAME[x._dtype].lower()}) and bias type ({D.SCALAR_NAME[b._dtype].lower()}) "
            "should be the same"
        )
    if x._dtype is D.bool_ or x._dtype.is_complex:
        raise RuntimeError(f"\"{fn}\" not implemented for '{D.SCALAR_NAME[x._dtype]}'")


def _check_common(input, weight, bias, stride, dilation, groups, d, fn):
    _check_tensor(input, "input", fn)
    _check_tensor(weight, "weight", fn)
    if bias is not None:
        _check_tensor(bias, "bias", fn)
    if input.dim() not in (d + 1, d + 2):
        raise RuntimeError(
            f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to {fn}, but got input of size: "
            f"{list(input.shape)}"
        )
    if weight.dim() != d + 2:
        raise RuntimeError(
            f"{fn}: expected a {d + 2}-D weight (out_channels, in_channels/groups, *kernel_size), but got weight "
            f"of size {list(weight.shape)}"
        )
    stride = _ntuple(stride, d, "stride", fn)
    dilation = _ntuple(dilation, d, "dilation", fn)
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(v <= 0 for v in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"{fn}(): argument 'groups' must be int, not {type(groups).__name__}")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    return stride, dilation


def _conv(input, weight, bias, stride, padding, dilation, groups, d: int, fn: str) -> Tensor:
    stride, dilation = _check_common(input, weight, bias, stride, dilation, groups, d, fn)
    batched = input.dim() == d + 2
    x = input if batched else input.unsqueeze(0)
    k = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = tuple(dl * (kk - 1) for dl, kk in zip(dilation, k))
            lo = tuple(t // 2 for t in total)
            hi = tuple(t - a for t, a in zip(total, lo))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        lo = hi = _ntuple(padding, d, "padding", fn)
        if any(p < 0 for p in lo):
            raise RuntimeError("negative padding is not supported")
    oc = weight.shape[0]
    if oc == 0 or oc % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be "
            + (f"at least {groups}" if oc == 0 else f"divisible by {groups}")
            + f" at dimension 0, but got weight of size [{list(weight.shape)}] instead"
        )
    c = x.shape[1]
    if weight.shape[1] * groups != c:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
            f"{weight.shape[1] * groups} channels, but got {c} channels instead"
        )
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != oc):
        raise RuntimeError(
            f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with {oc} elements, "
            f"but got bias of size {list(bias.shape)} instead"
        )
    _check_dtypes(x, weight, bias, fn)
    S = tuple(x.shape[2:])
    padded = tuple(s + a + b for s, a, b in zip(S, lo, hi))
    eff = tuple(dl * (kk - 1) + 1 for dl, kk in zip(dilation, k))
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(
            f"Calculated padded input size per channel: {_dims_str(padded)}. Kernel size: {_dims_str(eff)}. "
            "Kernel size can't be greater than actual input size"
        )
    O = tuple((p - e) // s + 1 for p, e, s in zip(padded, eff, stride))
    geom = (k, stride, dilation, lo, hi, S, O, groups)
    out = dispatch(_Conv, (x, weight, bias), {"geom": geom})
    return out if batched else out.squeeze(0)


@traceable("F.conv1d")
@autocast_policy("conv1d")
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D cross-correlation. input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


@traceable("F.conv2d")
@autocast_policy("conv2d")
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D cross-correlation. input (N, C_in, H, W) or (C_in, H, W), weight (C_out, C_in/groups, kH, kW)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


@traceable("F.conv3d")
@autocast_policy("conv3d")
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D cross-correlation. input (N, C_in, D, H, W) or unbatched, weight (C_out, C_in/groups, kD, kH, kW)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, d, fn) -> Tensor:
    stride, dilation = _check_common(input, weight, bias, stride, dilation, groups, d, fn)
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str")
    padding = _ntuple(padding, d, "padding", fn)
    output_padding = _ntuple(output_padding, d, "output_padding", fn)
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(op >= s and op >= dl for op, s, dl in zip(output_padding, stride, dilation)):
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            f"output_padding={list(output_padding)}, stride={list(stride)}, dilation={list(dilation)}"
        )
    batched = input.dim() == d + 2
    x = input if batched else input.unsqueeze(0)
    cin = weight.shape[0]
    if cin == 0 or cin % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be "
            + (f"at least {groups}" if cin == 0 else f"divisible by {groups}")
            + f" at dimension 0, but got weight of size [{list(weight.shape)}] instead"
        )
    if x.shape[1] != cin:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input{list(x.shape)} to have "
            f"{cin} channels, but got {x.shape[1]} channels instead"
        )
    cout = weight.shape[1] * groups
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != cout):
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
            f"{cout} elements, but got bias of size {list(bias.shape)} instead"
        )
    _check_dtypes(x, weight, bias, fn)
    k = tuple(weight.shape[2:])
    I = tuple(x.shape[2:])  # noqa: E741
    S = tuple(
        (i - 1) * s - 2 * p + dl * (kk - 1) + op + 1
        for i, s, p, dl, kk, op in zip(I, stride, padding, dilation, k, output_padding)
    )
    if any(v < 0 for v in S):
        raise RuntimeError(
            f"Given input size per channel: {_dims_str(I)}. Calculated output size per channel: {_dims_str(S)}. "
            "Output size is too small"
        )
    geom = (k, stride, dilation, padding, padding, S, I, groups)
    out = dispatch(_ConvTranspose, (x, weight, bias), {"geom": geom})
    return out if batched else out.squeeze(0)


@traceable("F.conv_transpose1d")
@autocast_policy("conv_transpose1d")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution (the input-gradient of conv1d). weight (C_in, C_out/groups, k)."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 1, "conv_transpose1d"
    )


@traceable("F.conv_transpose2d")
@autocast_policy("conv_transpose2d")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the input-gradient of conv2d). weight (C_in, C_out/groups, kH, kW)."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 2, "conv_transpose2d"
    )


@autocast_policy("conv_transpose3d")
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution (the input-gradient of conv3d). weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transpose(
        input, weight, bias, stride, padding, output_padding, groups, dilation, 3, "conv_transpose3d"
    )


# ---------------------------------------------------------------------------------------------- unfold/fold


class _Unfold(Op):
    """im2col: (N, C, H, W) -> (N, C*kH*kW, L)."""

    node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, x, geom=None):
        ctx.geom = geom
        k, s, dl, lo, _, S, O, _ = geom
        P, E = _layout(geom, flat_ok=False)
        buf = _padded(ctx.xp, x, lo, S, P)
        n, c = x.shape[:2]
        return _windows(ctx.be, buf, k, s, dl, E, "nck").reshape(n, c * math.prod(k), math.prod(O))

    @staticmethod
    def backward(ctx, g):
        return (dispatch(_Fold, (g,), {"geom": ctx.geom}),)


class _Fold(Op):
    """col2im: (N, C*kH*kW, L) -> (N, C, H, W), summing overlapping values."""

    node_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, cols, geom=None):
        ctx.geom = geom
        k, _, _, _, _, _, O, _ = geom
        P, E = _layout(geom, flat_ok=False)
        n = cols.shape[0]
        c = cols.shape[1] // math.prod(k)
        cols6 = cols.reshape((n, c) + tuple(k) + tuple(O))
        buf = _col2im(ctx.xp, ctx.be, cols6, geom, P, E, n, c, cols.dtype, "nck")
        return ctx.xp.ascontiguousarray(buf[_spatial(geom[3], geom[5])])

    @staticmethod
    def backward(ctx, g):
        return (dispatch(_Unfold, (g,), {"geom": ctx.geom}),)


def _fold_args(kernel_size, dilation, padding, stride, fn):
    k = _ntuple(kernel_size, 2, "kernel_size", fn)
    dl = _ntuple(dilation, 2, "dilation", fn)
    p = _ntuple(padding, 2, "padding", fn)
    s = _ntuple(stride, 2, "stride", fn)
    if any(v <= 0 for v in k):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_size={k}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"stride should be greater than zero, but got stride={s}")
    if any(v <= 0 for v in dl):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation={dl}")
    if any(v < 0 for v in p):
        raise RuntimeError(f"padding should be non-negative, but got padding={p}")
    return k, dl, p, s


def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding local blocks: (N, C, H, W) -> (N, C*prod(kernel_size), L), channel-major like torch."""
    _check_tensor(input, "input", "unfold")
    k, dl, p, s = _fold_args(kernel_size, dilation, padding, stride, "unfold")
    if input.dim() not in (3, 4):
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-input.dim()}, {input.dim() - 1}], but got 2)"
            if input.dim() < 3
            else f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)"
        )
    batched = input.dim() == 4
    x = input if batched else input.unsqueeze(0)
    S = tuple(x.shape[2:])
    O = tuple((S[j] + 2 * p[j] - dl[j] * (k[j] - 1) - 1) // s[j] + 1 for j in range(2))
    if any(o < 1 for o in O):
        raise RuntimeError(
            f"Given input with spatial size {S}, kernel_size={k}, dilation={dl}, padding={p}, calculated shape of "
            f"the array of sliding blocks as {O}, but its components must be at least one."
        )
    geom = (k, s, dl, p, p, S, O, 1)
    out = dispatch(_Unfold, (x,), {"geom": geom})
    return out if batched else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding blocks (N, C*prod(kernel_size), L) into (N, C, *output_size), summing overlaps."""
    _check_tensor(input, "input", "fold")
    k, dl, p, s = _fold_args(kernel_size, dilation, padding, stride, "fold")
    S = _ntuple(output_size, 2, "output_size", "fold")
    if input.dim() not in (2, 3):
        raise RuntimeError(
            f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
            f"dimensions for input, but got: {list(input.shape)}"
        )
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    K = math.prod(k)
    if x.shape[1] % K:
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got "
            f"input.size(1)={x.shape[1]} and kernel_size={k}."
        )
    O = tuple((S[j] + 2 * p[j] - dl[j] * (k[j] - 1) - 1) // s[j] + 1 for j in range(2))
    if any(o < 1 for o in O) or O[0] * O[1] != x.shape[2]:
        raise RuntimeError(
            f"Given output_size={S}, kernel_size={k}, dilation={dl}, padding={p}, stride={s}, expected size of "
            f"input's dimension 2 to match the calculated number of sliding blocks {O[0]} * {O[1]} = "
            f"{O[0] * O[1]}, but got input.size(2)={x.shape[2]}."
        )
    geom = (k, s, dl, p, p, S, O, 1)
    out = dispatch(_Fold, (x,), {"geom": geom})
    return out if batched else out.squeeze(0)


__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "fold",
    "unfold",
]

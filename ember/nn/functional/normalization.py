"""Normalization functionals: batch_norm, instance_norm, layer_norm, group_norm, rms_norm, normalize,
local_response_norm.

batch/instance/layer/group/rms norm share one fused Op (``_Norm``): x is viewed as ``view``, reduced over
``axes`` to mean and variance, normalised, then scaled by weight and shifted by bias (both viewed as
``pshape``). Forward is a few whole-array NumPy passes (row reductions go through BLAS when they cover the
trailing axes) and backward is the closed form

    gx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)),   gxhat = g * weight

on the saved xhat. Under create_graph the gradient is instead taken through the plain composition of ember
ops (``_norm_reference``), so higher-order gradients are exact.

On CUDA the row case (layer_norm, rms_norm: the trailing axes, parameters covering exactly them) runs the
fused kernels of ``backend/cuda_norm.py`` instead: one launch forward, one for grad_input and one or two for
grad_weight / grad_bias. ``EMBER_CUDA_FUSED_NORM=0`` (or ``_Norm.fused_cuda = False``) turns them off.
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

from ... import _dtype as D
from ... import ops as O
from ..._tensor import Tensor, _wrap
from ..._trace_hooks import traceable
from ...autograd.grad_mode import STATE, no_grad
from ...backend import cuda_norm as _cuda_norm
from ...backend.cuda_graph import CAPTURING
from ...ops._autocast import autocast_policy
from ...ops._dispatch import dispatch
from ...ops.op import Op

_HALF_NP = (np.dtype(np.float16), D.bfloat16.np)
_HALF = (D.float16, D.bfloat16)


# ------------------------------------------------------------------------------------------- array helpers


def _trailing(axes: tuple, ndim: int) -> bool:
    return len(axes) > 0 and axes == tuple(range(ndim - len(axes), ndim))


def _split(axes: tuple, ndim: int) -> tuple:
    """(the run of `axes` that ends at the last dim, the other axes)."""
    tail = []
    d = ndim - 1
    while d in axes:
        tail.insert(0, d)
        d -= 1
    return tuple(tail), tuple(a for a in axes if a not in tail)


def _rsum(xp, a, axes):
    """Sum of `a` over `axes`, kept as size-1 dims. The trailing run of axes is reduced first with one BLAS
    mat-vec on a (rows, k) view, the rest then on the much smaller result."""
    tail, rest = _split(axes, a.ndim)
    if tail and a.size and a.flags.c_contiguous and len(tail) < a.ndim:
        k = math.prod(a.shape[tail[0] :])
        r = (a.reshape(-1, k) @ xp.ones(k, dtype=a.dtype)).reshape(a.shape[: tail[0]] + (1,) * len(tail))
        return xp.add.reduce(r, axis=rest, keepdims=True) if rest else r
    return xp.add.reduce(a, axis=axes, keepdims=True)


def _rdot(xp, a, b, axes):
    """Sum of a * b over `axes` (kept): a row-wise einsum over the trailing run (no a * b temporary), then
    a plain reduction of the small result over the other axes."""
    tail, rest = _split(axes, a.ndim)
    if (
        tail
        and a.size
        and not CAPTURING[0]  # CuPy's einsum may call cuBLAS, which a CUDA-graph capture refuses
        and len(tail) < a.ndim
        and a.flags.c_contiguous
        and b.flags.c_contiguous
        and a.shape == b.shape
    ):
        k = math.prod(a.shape[tail[0] :])
        r = xp.einsum("ij,ij->i", a.reshape(-1, k), b.reshape(-1, k))
        r = r.reshape(a.shape[: tail[0]] + (1,) * len(tail))
        return xp.add.reduce(r, axis=rest, keepdims=True) if rest else r
    return xp.add.reduce(a * b, axis=axes, keepdims=True)


# --------------------------------------------------------------------------------------------- the fused op


class _Norm(Op):
    """y = (x - mean) * rstd * weight + bias over `axes` of x viewed as `view` (weight/bias viewed as
    `pshape`). Outputs (y, mean, biased var); mean/var (in the compute dtype, shape of the kept axes) carry
    no gradient. center=False gives RMS normalisation (no mean subtraction; output 1 is then the mean
    square). float16/bfloat16 compute in float32 and round once.

    NOTE: every fresh full-size array costs page faults on top of its passes, so forward allocates only
    the output (normalised in place) and backward recomputes xhat from the saved input into the buffer
    that becomes grad_input; saved state is x, mean and rstd, as in torch."""

    num_outputs = 3
    nondiff_outputs = (1, 2)
    fused_cuda = os.environ.get("EMBER_CUDA_FUSED_NORM", "1") == "1"

    @staticmethod
    def forward(ctx, x, w, b, view=(), axes=(), pshape=(), eps=1e-5, center=True):
        if _Norm.fused_cuda and ctx.be.name == "cuda":
            res = _fused_forward(ctx, x, w, b, view, axes, pshape, eps, center)
            if res is not None:
                return res
        xp = ctx.xp
        odt = x.dtype
        cdt = np.dtype(np.float32) if odt in _HALF_NP else odt
        xv = x.reshape(view)
        a = xv.astype(cdt) if xv.dtype != cdt else None  # a: the one fresh full-size buffer
        n = math.prod(view[i] for i in axes)
        mean = None
        if center:
            mean = _rsum(xp, xv if a is None else a, axes) / n
            if a is None:
                a = xv - mean
            else:
                a -= mean
            var = _rdot(xp, a, a, axes) / n
        else:
            src = xv if a is None else a
            var = _rdot(xp, src, src, axes) / n
        rstd = 1.0 / xp.sqrt(var + eps)
        if a is None:
            a = xv * rstd
        else:
            a *= rstd
        if w is not None:
            a *= w.reshape(pshape).astype(cdt, copy=False)
        if b is not None:
            a += b.reshape(pshape).astype(cdt, copy=False)
        out = a.reshape(x.shape)
        if out.dtype != odt:
            out = out.astype(odt)
        ctx.args = (view, axes, pshape, eps, center, n, x.shape)
        ctx.save_for_backward(x, w, b, mean, rstd)
        kept = tuple(s for i, s in enumerate(view) if i not in axes)
        return out, (mean if center else var).reshape(kept), var.reshape(kept)

    @staticmethod
    def backward(ctx, gy, _gm=None, _gv=None):
        x, w, b, mean, rstd = ctx.saved_tensors
        view, axes, pshape, eps, center, n, xshape = ctx.args
        needs = ctx.needs_input_grad
        if STATE.enabled:  # create_graph: differentiate the composition instead (exact higher orders)
            return _grads_by_composition(
                lambda x_, w_, b_: _norm_reference(x_, w_, b_, view, axes, pshape, eps, center),
                (x, w, b),
                needs,
                gy,
            )
        if _Norm.fused_cuda and ctx.be.name == "cuda":
            res = _fused_backward(gy, x, w, b, mean, rstd, view, axes, pshape, center, n, xshape, needs)
            if res is not None:
                return res
        xp = ctx.xp
        rs = rstd._data
        cdt = rs.dtype
        xv = x._data.reshape(view)
        g = gy._data.reshape(view)
        if g.dtype != cdt:
            g = g.astype(cdt)
        wa = w._data.astype(cdt, copy=False) if w is not None else None
        # d = x - mean (x for RMS), in a fresh buffer that ends up holding grad_input
        if center:
            if xv.dtype != cdt:
                d = xv.astype(cdt)
                d -= mean._data
            else:
                d = xv - mean._data
        else:
            d = xv.astype(cdt) if xv.dtype != cdt else xv.copy()
        nd = len(view)
        k = len(axes)
        rows = (
            _rows_layout(view, axes, pshape)
            and k < nd
            and g.flags.c_contiguous
            and d.flags.c_contiguous
            and g.size > 0
        )
        if rows:
            gx, gw, gb = _rows_backward(xp, g, d, rs, wa, needs, n, center, b is not None)
        else:
            d *= rs  # xhat
            gx, gw, gb = _generic_backward(
                xp, g, d, rs, wa, needs, view, axes, pshape, n, center, b is not None
            )
        dev = gy._device
        rdt = D.from_numpy_dtype(cdt)
        gx = _wrap(gx.reshape(xshape), rdt, dev) if gx is not None else None
        gw = _wrap(gw.reshape(w.shape), rdt, dev) if gw is not None else None
        gb = _wrap(gb.reshape(b.shape), rdt, dev) if gb is not None else None
        return gx, gw, gb


# ------------------------------------------------------------------------------ CUDA: the fused row kernels


def _rows_layout(view, axes, pshape) -> bool:
    """Whether `axes` are the trailing dims of `view` and the parameters cover exactly them."""
    nd, k = len(view), len(axes)
    return (
        _trailing(axes, nd)
        and tuple(pshape[: nd - k]) == (1,) * (nd - k)
        and tuple(pshape[nd - k :]) == tuple(view[nd - k :])
    )


def _fused_forward(ctx, x, w, b, view, axes, pshape, eps, center):
    """_Norm.forward through cuda_norm's row kernel, or None where it does not apply. Saves what the
    composition saves (x, w, b, mean, rstd with the kept dims), so either backward can follow."""
    if not _rows_layout(view, axes, pshape):
        return None
    n = math.prod(view[i] for i in axes)
    if n == 0 or not _cuda_norm.supports(
        x.dtype, None if w is None else w.dtype, None if b is None else b.dtype
    ):
        return None
    rows = x.size // n
    y, mean, var, rstd = _cuda_norm.norm_rows_forward(
        x.reshape(rows, n),
        None if w is None else w.reshape(n),
        None if b is None else b.reshape(n),
        eps,
        center,
    )
    lead = tuple(view[: len(view) - len(axes)])
    kshape = lead + (1,) * len(axes)
    ctx.args = (view, axes, pshape, eps, center, n, x.shape)
    ctx.save_for_backward(x, w, b, mean.reshape(kshape) if center else None, rstd.reshape(kshape))
    return y.reshape(x.shape), (mean if center else var).reshape(lead), var.reshape(lead)


def _fused_backward(gy, x, w, b, mean, rstd, view, axes, pshape, center, n, xshape, needs):
    """_Norm.backward (no create_graph) through cuda_norm's row kernels, or None where they do not apply.
    grad_input comes back in x's dtype, grad_weight / grad_bias in float32 (the engine casts them)."""
    rs = rstd._data
    xa = x._data
    if (
        n == 0
        or rs.dtype != np.float32
        or not _rows_layout(view, axes, pshape)
        or not _cuda_norm.supports(xa.dtype, None if w is None else w._data.dtype)
    ):
        return None
    rows = xa.size // n
    gx, gw, gb = _cuda_norm.norm_rows_backward(
        gy._data.reshape(rows, n),
        xa.reshape(rows, n),
        None if w is None else w._data.reshape(n),
        mean._data if center else None,
        rs,
        center,
        bool(needs[0]),
        w is not None and bool(needs[1]),
        b is not None and bool(needs[2]),
    )
    dev = gy._device
    gx = _wrap(gx.reshape(xshape), x._dtype, dev) if gx is not None else None
    gw = _wrap(gw.reshape(w.shape), D.float32, dev) if gw is not None else None
    gb = _wrap(gb.reshape(b.shape), D.float32, dev) if gb is not None else None
    return gx, gw, gb


def _rows_backward(xp, g, d, rs, w, needs, n, center, has_b):
    """Backward when the normalised axes are the trailing ones and the parameters cover exactly them
    (layer_norm, rms_norm): every reduction is a BLAS mat-vec on (rows, n) views. `d` is a scratch buffer
    holding x - mean (x for RMS); with xhat = d * rstd,

        gx = rstd * (g w - c1 / n) - d * rstd^3 * sum(g w d) / n,   c1 = sum(g w) (0 for RMS)."""
    g2 = g.reshape(-1, n)
    d2 = d.reshape(-1, n)
    m = g2.shape[0]
    rs1 = rs.reshape(m)
    gw = gb = None
    if has_b and needs[2]:
        gb = xp.ones(m, dtype=g2.dtype) @ g2
    need_w = w is not None and needs[1]
    if not (need_w or needs[0]):
        return None, gw, gb
    q = g2 * d2
    if need_w:
        gw = rs1 @ q
    if not needs[0]:
        return None, gw, gb
    wv = w.reshape(n) if w is not None else None
    ds = q @ wv if wv is not None else q @ xp.ones(n, dtype=q.dtype)
    d2 *= (rs1 * rs1 * rs1 * ds / n).reshape(m, 1)
    if wv is not None:
        xp.multiply(g2, wv, out=q)
    else:
        q[...] = g2
    if center:
        c1 = q @ xp.ones(n, dtype=q.dtype)
        q -= (c1 / n).reshape(m, 1)
    q *= rs1.reshape(m, 1)
    q -= d2
    return q, gw, gb


def _generic_backward(xp, g, xh, rs, w, needs, view, axes, pshape, n, center, has_b):
    """Backward for any view/axes/pshape (batch, group and instance norm); `xh` (xhat) is overwritten with
    grad_input."""
    paxes = tuple(i for i in range(len(view)) if pshape[i] == 1)
    gw = gb = None
    if has_b and needs[2]:
        gb = _rsum(xp, g, paxes).reshape(-1)
    p = None
    if w is not None and needs[1]:
        p = g * xh
        gw = _rsum(xp, p, paxes).reshape(-1)
    if not needs[0]:
        return None, gw, gb
    if w is not None:
        wb = w.reshape(pshape)
        if p is None:
            p = g * wb
        else:
            xp.multiply(g, wb, out=p)
        gxh = p
    else:
        gxh = g
    m2 = _rdot(xp, gxh, xh, axes) / n
    xh *= m2
    if center:
        xh += _rsum(xp, gxh, axes) / n
    xp.subtract(gxh, xh, out=xh)
    xh *= rs
    return xh, gw, gb


class _LayerNorm(_Norm):
    node_name = "NativeLayerNormBackward0"


class _BatchNorm(_Norm):
    node_name = "NativeBatchNormBackward0"


class _GroupNorm(_Norm):
    node_name = "NativeGroupNormBackward0"


class _RMSNorm(_Norm):
    node_name = "RmsNormBackward0"


def _norm_reference(x, w, b, view, axes, pshape, eps, center):
    """The plain composition of ember ops that _Norm fuses (used for create_graph and in tests)."""
    half = x.dtype in _HALF
    xv = x.reshape(view)
    if half:
        xv = xv.float()
    xc = xv - xv.mean(axes, keepdim=True) if center else xv
    var = (xc * xc).mean(axes, keepdim=True)
    y = xc * (var + eps).rsqrt()
    if w is not None:
        y = y * w.reshape(pshape)
    if b is not None:
        y = y + b.reshape(pshape)
    y = y.reshape(tuple(x.shape))
    return y.to(x.dtype) if half else y


def _grads_by_composition(fn, inputs, needs, grads):
    """Gradients of fn(*inputs) for the inputs flagged in `needs`, with create_graph=True."""
    from ...autograd.engine import grad
    from ...autograd.grad_mode import enable_grad

    targets = [t for t, nd in zip(inputs, needs) if nd and isinstance(t, Tensor)]
    if not targets:
        return (None,) * len(inputs)
    with enable_grad():
        out = fn(*inputs)
        if not isinstance(grads, (tuple, list)):
            out, grads = (out,), (grads,)
        gs = grad(out, targets, grads, create_graph=True, allow_unused=True)
    it = iter(gs)
    return tuple(next(it) if nd and isinstance(t, Tensor) else None for t, nd in zip(inputs, needs))


# ------------------------------------------------------------------------------------------ argument checks


def _float_input(x: Tensor, kernel: str) -> None:
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.SCALAR_NAME[x._dtype]}'")


def _param_dtype(x: Tensor, p: Tensor | None) -> None:
    """torch's CPU rule: parameters match the input dtype, or are float32 for a float16/bfloat16 input."""
    if p is None or p._dtype is x._dtype:
        return
    if x._dtype in _HALF and p._dtype is D.float32:
        return
    raise RuntimeError(
        f"mixed dtype (CPU): expect parameter to have scalar type of {D.SCALAR_NAME[x._dtype]}"
    )


def _verify_batch_size(size) -> None:
    prods = size[0]
    for s in size[2:]:
        prods *= s
    if prods == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")


def _verify_spatial_size(size) -> None:
    prods = 1
    for s in size[2:]:
        prods *= s
    if prods == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {size}")


def _normalized_shape(normalized_shape) -> tuple:
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _check_normalized(input: Tensor, ns: tuple, weight, bias, sep: str) -> None:
    if len(ns) == 0:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but "
            "got normalized_shape = []"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != ns:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                f"{list(p.shape)} and normalized_shape = {list(ns)}"
            )
    k = len(ns)
    if input.dim() < k or tuple(input.shape[input.dim() - k :]) != ns:
        inner = ", ".join(str(s) for s in ns)
        raise RuntimeError(
            f"Given normalized_shape={list(ns)}, expected input with shape [*{sep}{inner}], but got input of "
            f"size{list(input.shape)}"
        )


# ------------------------------------------------------------------------------------------------ functions


@traceable("F.layer_norm")
@autocast_policy("layer_norm")
def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing dims given by normalized_shape."""
    ns = _normalized_shape(normalized_shape)
    _check_normalized(input, ns, weight, bias, ", ")
    _float_input(input, "LayerNormKernelImpl")
    _param_dtype(input, weight)
    _param_dtype(input, bias)
    nd = input.dim()
    k = len(ns)
    kw = {
        "view": tuple(input.shape),
        "axes": tuple(range(nd - k, nd)),
        "pshape": (1,) * (nd - k) + ns,
        "eps": float(eps),
    }
    return dispatch(_LayerNorm, (input, weight, bias), kw)[0]


def _layer_norm_reference(input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Tensor:
    """layer_norm as a plain composition of ember ops (the reference the fused op is tested against)."""
    ns = _normalized_shape(normalized_shape)
    nd = input.dim()
    k = len(ns)
    return _norm_reference(
        input, weight, bias, tuple(input.shape), tuple(range(nd - k, nd)), (1,) * (nd - k) + ns, eps, True
    )


@traceable("F.rms_norm")
def rms_norm(
    input: Tensor, normalized_shape, weight: Tensor | None = None, eps: float | None = None
) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the trailing dims; eps=None uses finfo(dtype).eps (of
    float32 for float16/bfloat16 inputs, which compute in float32)."""
    ns = _normalized_shape(normalized_shape)
    _check_normalized(input, ns, weight, None, "")
    _float_input(input, "rms_norm")
    if weight is not None and weight._dtype is not input._dtype:
        if not (input._dtype in _HALF and weight._dtype is D.float32):
            common = D.promote_types(input._dtype, weight._dtype)
            input, weight = input.to(common), weight.to(common)
    if eps is None:
        eps = D.finfo(D.float32 if input._dtype in _HALF else input._dtype).eps
    nd = input.dim()
    k = len(ns)
    kw = {
        "view": tuple(input.shape),
        "axes": tuple(range(nd - k, nd)),
        "pshape": (1,) * (nd - k) + ns,
        "eps": float(eps),
        "center": False,
    }
    return dispatch(_RMSNorm, (input, weight, None), kw)[0]


@traceable("F.group_norm")
@autocast_policy("group_norm")
def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each group of num_groups channel groups over (channels in group, *spatial) per sample."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{list(input.shape)} and num_groups={num_groups}"
        )
    _verify_batch_size([n * c // num_groups, num_groups] + list(input.shape[2:]))
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.dim() != 1 or p.numel() != c):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in input, but got "
                f"{name} of shape {list(p.shape)} and input of shape {list(input.shape)}"
            )
    _float_input(input, "GroupNormKernelImpl")
    _param_dtype(input, weight)
    _param_dtype(input, bias)
    s = math.prod(input.shape[2:])
    g = num_groups
    kw = {"view": (n, g, c // g, s), "axes": (2, 3), "pshape": (1, g, c // g, 1), "eps": float(eps)}
    return dispatch(_GroupNorm, (input, weight, bias), kw)[0]


def _check_features(name: str, expected: int, actual: int) -> None:
    if actual != expected:
        raise RuntimeError(f"{name} should contain {expected} elements not {actual}")


def _update_running(running: Tensor | None, stat: Tensor, momentum: float) -> None:
    if running is not None:
        with no_grad():
            running.mul_(1 - momentum).add_(stat.to(running.dtype) * momentum)


@traceable("F.batch_norm")
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (dim 1) over (N, *spatial): batch statistics when training (updating the
    running stats with momentum, the variance unbiased), the running statistics otherwise."""
    if training:
        _verify_batch_size(input.size())
    if training and eps <= 0.0:
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    c = input.size(1)
    if running_mean is not None:
        _check_features("running_mean", c, running_mean.numel())
    elif not training:
        raise RuntimeError("running_mean must be defined in evaluation mode")
    if running_var is not None:
        _check_features("running_var", c, running_var.numel())
    elif not training:
        raise RuntimeError("running_var must be defined in evaluation mode")
    if weight is not None:
        _check_features("weight", c, weight.numel())
    if bias is not None:
        _check_features("bias", c, bias.numel())
    _float_input(input, "batch_norm")
    pshape = (1, c) + (1,) * (input.dim() - 2)
    if input.numel() == 0:
        out = input.clone()
        if weight is not None:
            out = out * weight.reshape(pshape)
        if bias is not None:
            out = out + bias.reshape(pshape)
        return out
    if training:
        n = input.shape[0]
        s = math.prod(input.shape[2:])
        kw = {"view": (n, c, s), "axes": (0, 2), "pshape": (1, c, 1), "eps": float(eps)}
        y, mean, var = dispatch(_BatchNorm, (input, weight, bias), kw)
        if running_mean is not None or running_var is not None:
            cnt = n * s
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var * (cnt / (cnt - 1)), momentum)
        return y
    return _affine_stats(input, running_mean, running_var, weight, bias, eps, pshape)


def _affine_stats(input, mean, var, weight, bias, eps, pshape) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias with given per-channel statistics, as x * scale + shift."""
    half = input.dtype in _HALF
    cdt = D.float32 if half else input.dtype
    scale = (var.to(cdt) + eps).rsqrt()
    if weight is not None:
        scale = scale * weight.to(cdt)
    shift = -mean.to(cdt) * scale
    if bias is not None:
        shift = shift + bias.to(cdt)
    x = input.float() if half else input
    y = x * scale.reshape(pshape) + shift.reshape(pshape)
    return y.to(input.dtype) if half else y


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) over its spatial dims; running stats (if given) are updated with
    the batch mean of the per-instance statistics, as torch does."""
    if use_input_stats:
        _verify_spatial_size(input.size())
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError(
            "Expected running_mean and running_var to be defined when use_input_stats is false"
        )
    n, c = input.size(0), input.size(1)
    for name, p in (
        ("weight", weight),
        ("bias", bias),
        ("running_mean", running_mean),
        ("running_var", running_var),
    ):
        if p is not None:
            _check_features(name, n * c, p.numel() * n)
    _float_input(input, "batch_norm")
    pshape = (1, c) + (1,) * (input.dim() - 2)
    if not use_input_stats:
        return _affine_stats(input, running_mean, running_var, weight, bias, eps, pshape)
    s = math.prod(input.shape[2:])
    kw = {"view": (n, c, s), "axes": (2,), "pshape": (1, c, 1), "eps": float(eps)}
    y, mean, var = dispatch(_BatchNorm, (input, weight, bias), kw)
    if running_mean is not None:
        _update_running(running_mean, mean.mean(0), momentum)
    if running_var is not None:
        _update_running(running_var, (var * (s / (s - 1))).mean(0), momentum)
    return y


@traceable("F.normalize")
@autocast_policy("normalize")
def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None
) -> Tensor:
    """input / max(||input||_p over dim, eps)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denom
    return O.div(input, denom, out=out)


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """x / (k + alpha * mean of x^2 over a window of `size` neighbouring channels (zero-padded))^beta."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality                          input (got {dim} dimensions)"
        )
    if input.numel() == 0:
        return input
    sq = input * input
    c = input.shape[1]
    front, back = size // 2, (size - 1) // 2
    rest = tuple(input.shape[2:])
    parts = []
    if front:
        parts.append(O.zeros((input.shape[0], front) + rest, dtype=sq.dtype, device=sq.device))
    parts.append(sq)
    if back:
        parts.append(O.zeros((input.shape[0], back) + rest, dtype=sq.dtype, device=sq.device))
    padded = O.cat(parts, 1) if len(parts) > 1 else sq
    win = padded.narrow(1, 0, c)
    for j in range(1, size):
        win = win + padded.narrow(1, j, c)
    div = (win * (alpha / size) + k).pow(beta)
    return input / div


__all__ = [
    "batch_norm",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "local_response_norm",
    "normalize",
    "rms_norm",
]

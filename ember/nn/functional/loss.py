"""Loss functionals (torch.nn.functional names).

cross_entropy is a fused Op: one forward computes the shifted exponentials, their sum and the picked
logits (log_softmax + gather without materialising log-probabilities), and backward is
``softmax * coef - onehot`` built from the saved exponentials. binary_cross_entropy is an Op with torch's
backward formula. The other losses are compositions of ember ops, following torch's formulas (and
therefore its gradients at kinks) term by term.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ... import _dtype as D
from ... import ops as O
from ..._tensor import Tensor, _wrap
from ...autograd.grad_mode import STATE, no_grad
from ...backend import cuda_loss
from ...ops._autocast import autocast_policy
from ...ops._dispatch import dispatch
from ...ops.activation import log_softmax
from ...ops.op import SAME, Op
from .normalization import _grads_by_composition

_HALF_NP = (np.dtype(np.float16), D.bfloat16.np)
_HALF = (D.float16, D.bfloat16)

# ------------------------------------------------------------------------------------------------ reduction


def _legacy_get_string(size_average, reduce, emit_warning: bool = True) -> str:
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    if emit_warning:
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
            stacklevel=3,
        )
    return ret


def _get_reduction(reduction: str) -> str:
    """Validate a reduction name like torch's _Reduction.get_enum (ValueError for unknown names)."""
    if reduction in ("none", "mean", "sum"):
        return reduction
    if reduction == "elementwise_mean":
        warnings.warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.", stacklevel=3
        )
        return "mean"
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        reduction = _legacy_get_string(size_average, reduce)
    return _get_reduction(reduction)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _name(dt) -> str:
    return D.SCALAR_NAME[dt]


def _size_warning(input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size ({input.size()}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )


# ------------------------------------------------------------------------------------------ cross entropy


def _sum1(xp, a):
    """Sum over axis 1 (no keepdims); a BLAS mat-vec for C-contiguous 2-D arrays."""
    if a.ndim == 2 and a.flags.c_contiguous and a.size:
        return a @ xp.ones(a.shape[1], dtype=a.dtype)
    return xp.add.reduce(a, axis=1)


def _wsum1(xp, a, w):
    """sum_c a[:, c, ...] * w[c] (no keepdims)."""
    if a.ndim == 2 and a.flags.c_contiguous and a.size:
        return a @ w
    return xp.add.reduce(a * w.reshape((1, -1) + (1,) * (a.ndim - 2)), axis=1)


def _pick(xp, a, idx):
    """a[n, idx[n, ...], ...] along axis 1 (idx has a's shape without axis 1)."""
    if a.ndim == 2:
        return a[xp.arange(a.shape[0]), idx]
    return xp.take_along_axis(a, xp.expand_dims(idx, 1), axis=1)[:, 0]


def _row_max(xp, a):
    """max over axis 1 (kept), via argmax + gather (faster than maximum.reduce over short rows); rows
    with no finite maximum shift by 0."""
    if a.shape[1] == 0:
        return xp.zeros(a.shape[:1] + (1,) + a.shape[2:], dtype=a.dtype)
    m = _pick(xp, a, xp.argmax(a, axis=1))
    m = xp.where(xp.isfinite(m), m, 0).astype(a.dtype, copy=False)
    return xp.expand_dims(m, 1)


def _check_targets(t, mask, c: int) -> None:
    bad = (t < 0) | (t >= c)
    if mask is not None:
        bad &= mask
    if bad.any():
        v = int(t[bad].reshape(-1)[0])
        raise IndexError(f"Target {v} is out of bounds.")


class _CrossEntropyIdx(Op):
    """Cross entropy of logits (N, C, *) against class indices (N, *): weight, ignore_index and label
    smoothing with torch's normalisation (mean divides by the summed weights of non-ignored targets)."""

    node_name = "NllLossBackward0"
    tensor_attrs = True

    @staticmethod
    def forward(ctx, x, t, weight=None, reduction="mean", ignore_index=-100, smoothing=0.0):
        if ctx.be.name == "cuda" and cuda_loss.ENABLED and cuda_loss.supported(x, t, weight):
            return _cross_entropy_idx_cuda(ctx, x, t, weight, reduction, ignore_index, smoothing)
        xp = ctx.xp
        odt = x.dtype
        cdt = np.dtype(np.float32) if odt in _HALF_NP else odt
        xf = x.astype(cdt) if x.dtype != cdt else x
        c = x.shape[1]
        t = t.astype(np.int64, copy=False)
        mask = t != ignore_index
        bad = None
        if ctx.be.name == "cpu":
            all_valid = bool(mask.all())
            _check_targets(t, None if all_valid else mask, c)
        else:  # no host read on a GPU (torch asserts on the device): an out-of-range target's loss is NaN
            all_valid = False
            bad = ((t < 0) | (t >= c)) & mask
            mask = mask & ~bad
        ts = t if all_valid else xp.where(mask, t, 0)
        w = weight.astype(cdt, copy=False) if weight is not None else None
        s = xf - _row_max(xp, xf)
        s_t = _pick(xp, s, ts)
        if smoothing > 0:
            sw = _wsum1(xp, s, w) if w is not None else _sum1(xp, s)
        e = xp.exp(s, out=s)
        se = _sum1(xp, e)
        lse = xp.log(se)
        if w is not None:
            wt = w[ts]
            if not all_valid:
                wt = wt * mask
        else:
            wt = mask.astype(cdt)
        loss = (lse - s_t) * wt
        if bad is not None:
            loss = xp.where(bad, cdt.type(np.nan), loss)
        if smoothing > 0:
            wsum = w.sum() if w is not None else c
            smooth = wsum * lse - sw
            if not all_valid:
                smooth = smooth * mask
            loss = loss * (1 - smoothing) + smooth * (smoothing / c)
        denom = None
        if reduction == "none":
            out = loss
        elif reduction == "sum":
            out = loss.sum()
        else:
            denom = wt.sum()
            out = loss.sum() / denom
        ctx.args = (reduction, smoothing, ignore_index, denom)
        ctx.save_for_backward(x, e, se, ts, wt, None if all_valid else mask, weight)
        return xp.asarray(out).astype(odt, copy=False)

    @staticmethod
    def backward(ctx, g):
        if len(ctx.args) == 5:
            return _cross_entropy_idx_cuda_backward(ctx, g)
        x, e, se, ts, wt, mask, weight = ctx.saved_tensors
        reduction, smoothing, ignore_index, denom = ctx.args
        if STATE.enabled:
            return _grads_by_composition(
                lambda x_, t_: _cross_entropy_idx_reference(
                    x_, t_, weight, reduction, ignore_index, smoothing
                ),
                (x, ts if mask is None else _restore_ignored(ts, mask, ignore_index)),
                ctx.needs_input_grad,
                g,
            )
        xp = ctx.xp
        ea, sa, ta = e._data, se._data, ts._data
        cdt = ea.dtype
        a = g._data.astype(cdt, copy=False)
        if reduction == "mean":
            a = a / denom
        if mask is not None:  # ignored targets get exactly zero gradient (even when denom is 0)
            a = xp.where(mask._data, a, 0).astype(cdt, copy=False)
        c = ea.shape[1]
        pick = a * wt._data
        if smoothing > 0:
            pick = pick * (1 - smoothing)
            wsum = weight._data.astype(cdt).sum() if weight is not None else c
            m = mask._data.astype(cdt) if mask is not None else 1.0
            spread = a * m * (smoothing / c)
            coef = (pick + spread * wsum) / sa
        else:
            coef = pick / sa
        gx = ea * xp.expand_dims(coef, 1)
        pick = xp.broadcast_to(pick, ta.shape)
        if gx.ndim == 2:
            gx[xp.arange(gx.shape[0]), ta] -= pick
        else:
            ti = xp.expand_dims(ta, 1)
            cur = xp.take_along_axis(gx, ti, axis=1)
            xp.put_along_axis(gx, ti, cur - xp.expand_dims(pick, 1), axis=1)
        if smoothing > 0:
            wb = weight._data.astype(cdt) if weight is not None else xp.ones(c, dtype=cdt)
            gx -= xp.expand_dims(xp.broadcast_to(spread, ta.shape), 1) * wb.reshape(
                (1, c) + (1,) * (gx.ndim - 2)
            )
        return _wrap(gx, D.from_numpy_dtype(cdt), g._device), None


def _restore_ignored(ts: Tensor, mask: Tensor, ignore_index: int) -> Tensor:
    return O.where(mask, ts, ignore_index)


def _cross_entropy_idx_cuda(ctx, x, t, weight, reduction, ignore_index, smoothing):
    """_CrossEntropyIdx.forward by the fused CUDA row kernels (ember/backend/cuda_loss.py): one launch, no
    host read; saves only the logits, the targets and the per-row log-sum-exp."""
    t = ctx.xp.ascontiguousarray(t, dtype=np.int64)
    out, lse, den, w, wsum = cuda_loss.cross_entropy_forward(x, t, weight, reduction, ignore_index, smoothing)
    ctx.args = (reduction, smoothing, ignore_index, weight is not None, "fused")
    ctx.save_for_backward(x, t, lse, den, w, wsum, weight)
    return out


def _cross_entropy_idx_cuda_backward(ctx, g):
    x, t, lse, den, w, wsum, weight = ctx.saved_tensors
    reduction, smoothing, ignore_index, _, _ = ctx.args
    if STATE.enabled:  # create_graph: differentiate the composition instead
        return _grads_by_composition(
            lambda x_, t_: _cross_entropy_idx_reference(x_, t_, weight, reduction, ignore_index, smoothing),
            (x, t),
            ctx.needs_input_grad,
            g,
        )
    gx = cuda_loss.cross_entropy_backward(
        g._data,
        x._data,
        t._data,
        lse._data,
        den._data,
        None if w is None else w._data,
        None if wsum is None else wsum._data,
        reduction,
        ignore_index,
        smoothing,
    )
    return _wrap(gx, x.dtype, g._device), None


class _CrossEntropyProb(Op):
    """Cross entropy of logits against class probabilities of the same shape (class dim `axis`)."""

    node_name = "CrossEntropyLossBackward0"

    @staticmethod
    def forward(ctx, x, q, w, axis=1, reduction="mean", smoothing=0.0):
        xp = ctx.xp
        odt = x.dtype
        cdt = np.dtype(np.float32) if odt in _HALF_NP else odt
        xf = x.astype(cdt) if x.dtype != cdt else x
        qf = q.astype(cdt) if q.dtype != cdt else q
        c = x.shape[axis]
        wshape = tuple(c if i == axis else 1 for i in range(x.ndim))
        if x.size:
            m = xp.max(xf, axis=axis, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
            logp = xf - m
            logp -= xp.log(xp.add.reduce(xp.exp(logp), axis=axis, keepdims=True))
        else:
            logp = xf.copy()
        if smoothing > 0:
            qf = qf * (1 - smoothing) + smoothing / c
        wq = qf * w.astype(cdt, copy=False).reshape(wshape) if w is not None else qf
        loss = -xp.add.reduce(wq * logp, axis=axis)
        if reduction == "none":
            out = loss
        elif reduction == "sum":
            out = loss.sum()
        else:
            out = loss.sum() / (x.size // c if c else 0) if x.size else xp.asarray(np.nan, dtype=cdt)
        ctx.args = (axis, reduction, smoothing, wshape, x.size // c if c else 0)
        ctx.save_for_backward(x, q, w, logp, wq)
        return xp.asarray(out).astype(odt, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, q, w, logp, wq = ctx.saved_tensors
        axis, reduction, smoothing, wshape, rows = ctx.args
        if STATE.enabled:
            return _grads_by_composition(
                lambda x_, q_, w_: _cross_entropy_prob_reference(x_, q_, w_, axis, reduction, smoothing),
                (x, q, w),
                ctx.needs_input_grad,
                g,
            )
        xp = ctx.xp
        lp, wqa = logp._data, wq._data
        cdt = lp.dtype
        a = g._data.astype(cdt, copy=False)
        if reduction == "mean":
            a = a / rows
        if reduction == "none":
            a = xp.expand_dims(a, axis)
        needs = ctx.needs_input_grad
        dev = g._device
        rdt = D.from_numpy_dtype(cdt)
        gx = gq = gw = None
        if needs[0]:
            p = xp.exp(lp)
            gx = _wrap(a * (p * xp.add.reduce(wqa, axis=axis, keepdims=True) - wqa), rdt, dev)
        if needs[1]:
            base = -a * lp * (1 - smoothing) if smoothing > 0 else -a * lp
            if w is not None:
                base = base * w._data.astype(cdt, copy=False).reshape(wshape)
            gq = _wrap(base, rdt, dev)
        if w is not None and needs[2]:
            qf = q._data.astype(cdt, copy=False)
            if smoothing > 0:
                qf = qf * (1 - smoothing) + smoothing / lp.shape[axis]
            full = -a * qf * lp
            red = tuple(i for i in range(lp.ndim) if i != axis)
            gw = _wrap(xp.add.reduce(full, axis=red), rdt, dev)
        return gx, gq, gw


def _cross_entropy_prob_reference(x, q, w, axis, reduction, smoothing):
    """Probability-target cross entropy as a composition of ember ops (torch's formula)."""
    half = x.dtype in _HALF
    xf = x.float() if half else x
    logp = log_softmax(xf, axis)
    c = x.shape[axis]
    if smoothing > 0:
        q = q * (1 - smoothing) + smoothing / c
    prod = logp * q
    if w is not None:
        prod = prod * w.reshape(tuple(c if i == axis else 1 for i in range(x.dim())))
    if reduction == "none":
        out = -prod.sum(axis)
    elif reduction == "sum":
        out = -prod.sum()
    else:
        out = -prod.sum() / (x.numel() // c) if x.numel() else -prod.sum() * math.nan
    return out.to(x.dtype) if half else out


def _check_weight_grad(weight: Tensor | None) -> None:
    if weight is not None and weight.requires_grad and STATE.enabled:
        raise RuntimeError(
            "The function 'nll_loss_forward' is not differentiable with respect to argument 'weight'. This input "
            "cannot have requires_grad True."
        )


def _nll_prepare(input: Tensor, target: Tensor, weight: Tensor | None):
    """torch's nll_loss_nd checks; returns (input (N, C, *), target (N, *), unbatched)."""
    nd = input.dim()
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd != 1 and (target.dim() == 0 or input.shape[0] != target.shape[0]):
        tb = target.shape[0] if target.dim() else 0
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({tb}).")
    c = input.shape[0] if nd == 1 else input.shape[1]
    if nd <= 2:
        if target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if nd == 1 and target.dim() == 1 and target.shape[0] != 1:
            raise ValueError(
                f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}"
            )
    elif nd == 4:
        if target.dim() != 3:
            raise RuntimeError(
                f"only batches of spatial targets supported (3D tensors) but got targets of dimension: {target.dim()}"
            )
        if weight is not None and weight.numel() != c:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
        if tuple(target.shape) != (input.shape[0],) + tuple(input.shape[2:]):
            raise RuntimeError(
                f"size mismatch (got input: {list(input.shape)} , target: {list(target.shape)}"
            )
    else:
        expected = [input.shape[0]] + list(input.shape[2:])
        if list(target.shape) != expected:
            raise RuntimeError(f"Expected target size {expected}, got {list(target.shape)}")
        if weight is not None and weight.numel() != c:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
    if target.dtype not in (D.int64, D.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_name(target.dtype)}")
    if weight is not None:
        if weight.dim() != 1 or weight.numel() != c:
            raise RuntimeError(
                f"weight tensor should be defined either for all {c} classes or no classes but got weight tensor "
                f"of shape: {list(weight.shape)}"
            )
        if weight.dtype is not input.dtype:
            raise RuntimeError(f"expected scalar type {_name(input.dtype)} but found {_name(weight.dtype)}")
    if nd == 1:
        return input.unsqueeze(0), target.reshape((1,)), True
    return input, target, False


def _float_logits(input: Tensor, kernel: str = "log_softmax_lastdim_kernel_impl") -> None:
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_name(input.dtype)}'")


@autocast_policy("cross_entropy")
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """-log softmax(input)[target] along the class dim (1, or 0 for unbatched input), or the cross entropy
    with class probabilities when target has input's shape. Fused log_softmax + gather on CPU."""
    red = _reduction(size_average, reduce, reduction)
    if tuple(input.shape) == tuple(target.shape):
        if not target.dtype.is_floating_point:
            raise RuntimeError(
                f"Expected floating point type for target with class probabilities, got {_name(target.dtype)}"
            )
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        return _cross_entropy_prob(input, target, weight, red, label_smoothing)
    if label_smoothing > 0.0 and label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    _float_logits(input)
    x, t, unbatched = _nll_prepare(input, target, weight)
    _check_weight_grad(weight)
    kw = {
        "weight": weight,
        "reduction": red,
        "ignore_index": int(ignore_index),
        "smoothing": float(label_smoothing) if label_smoothing > 0 else 0.0,
    }
    out = dispatch(_CrossEntropyIdx, (x, t), kw)
    if unbatched and red == "none":
        out = out.reshape(())
    return out


def _cross_entropy_prob(input, target, weight, red, label_smoothing):
    if input.dim() == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    axis = 0 if input.dim() == 1 else 1
    c = input.shape[axis]
    if weight is not None and (weight.dim() != 1 or weight.numel() != c):
        raise RuntimeError(
            f"cross_entropy: weight tensor should be defined either for all {c} classes or no classes but got "
            f"weight tensor of shape: {list(weight.shape)}"
        )
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    _float_logits(input)
    common = D.promote_types(input.dtype, target.dtype)
    if weight is not None:
        common = D.promote_types(common, weight.dtype)
    x = input if input.dtype is common else input.to(common)
    q = target if target.dtype is common else target.to(common)
    w = weight if weight is None or weight.dtype is common else weight.to(common)
    kw = {"axis": axis, "reduction": red, "smoothing": float(label_smoothing) if label_smoothing > 0 else 0.0}
    return dispatch(_CrossEntropyProb, (x, q, w), kw)


def _nll_composed(x, t, weight, reduction, ignore_index):
    """nll_loss on prepared (N, C, *) / (N, *) tensors as a composition (gather + masked weights)."""
    c = x.shape[1]
    t = t.long() if t.dtype is not D.int64 else t
    mask = t != ignore_index
    bad = mask & ((t < 0) | (t >= c))
    on_host = t.device.type == "cpu"
    if on_host and bool(bad.any()):
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")
    if not on_host:  # no host read on a GPU: an out-of-range target's loss is NaN
        mask = mask & ~bad
    ts = O.where(mask, t, 0)
    picked = x.gather(1, ts.unsqueeze(1)).squeeze(1)
    if not on_host:
        picked = O.where(bad, float("nan"), picked)
    wt = weight[ts] * mask.to(x.dtype) if weight is not None else mask.to(x.dtype)
    loss = -picked * wt
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wt.sum()


@autocast_policy("nll_loss")
def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-input[n, target[n], ...] * weight[target[n]] (input holds log-probabilities, class dim 1)."""
    red = _reduction(size_average, reduce, reduction)
    x, t, unbatched = _nll_prepare(input, target, weight)
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"nll_loss_out_frame\" not implemented for '{_name(input.dtype)}'")
    _check_weight_grad(weight)
    out = _nll_composed(x, t, weight.detach() if weight is not None else None, red, ignore_index)
    if unbatched and red == "none":
        out = out.reshape(())
    return out


def _cross_entropy_idx_reference(x, t, weight, reduction, ignore_index, smoothing):
    """Class-index cross entropy as log_softmax + nll_loss (+ torch's label-smoothing term), composed."""
    half = x.dtype in _HALF
    xf = x.float() if half else x
    w = weight.to(xf.dtype) if weight is not None else None
    logp = log_softmax(xf, 1)
    nll = _nll_composed(logp, t, w, reduction, ignore_index)
    if smoothing > 0:
        c = x.shape[1]
        mask = t != ignore_index
        prod = logp * w.reshape((1, c) + (1,) * (x.dim() - 2)) if w is not None else logp
        smooth = -prod.sum(1) * mask.to(xf.dtype)
        if reduction == "mean":
            ts = O.where(mask, t.long(), 0)
            den = (w[ts] * mask.to(xf.dtype)).sum() if w is not None else mask.sum().to(xf.dtype)
            smooth = smooth.sum() / den
        elif reduction == "sum":
            smooth = smooth.sum()
        nll = nll * (1 - smoothing) + smooth * (smoothing / c)
    return nll.to(x.dtype) if half else nll


def _cross_entropy_reference(
    input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0
) -> Tensor:
    """cross_entropy as a plain composition of ember ops (the reference the fused op is tested against)."""
    if tuple(input.shape) == tuple(target.shape):
        axis = 0 if input.dim() == 1 else 1
        return _cross_entropy_prob_reference(input, target, weight, axis, reduction, label_smoothing)
    x, t, unbatched = _nll_prepare(input, target, weight)
    out = _cross_entropy_idx_reference(x, t, weight, reduction, ignore_index, max(label_smoothing, 0.0))
    return out.reshape(()) if unbatched and reduction == "none" else out


# ----------------------------------------------------------------------------------- binary cross entropy

_BCE_EPS = 1e-12


class _BinaryCrossEntropy(Op):
    """-w (t log x + (1 - t) log(1 - x)) with both logs clamped at -100; torch's backward
    w (x - t) / max(x (1 - x), 1e-12)."""

    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, x, t, w=None):
        xp = ctx.xp
        if x.size and bool(((x < 0) | (x > 1)).any()):
            raise RuntimeError("all elements of input should be between 0 and 1")
        lx = xp.maximum(xp.log(x), -100)
        l1x = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * lx + (1 - t) * l1x)
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, t, w)
        return loss.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, t, w = ctx.saved_tensors
        gx = gt = None
        needs = ctx.needs_input_grad
        if needs[0]:
            gx = g * (x - t) / (x * (1 - x)).clamp_min(_BCE_EPS)
            if w is not None:
                gx = gx * w
        if needs[1]:
            gt = g * (O.log1p(-x).clamp_min(-100) - x.log().clamp_min(-100))
            if w is not None:
                gt = gt * w
        gw = None
        if w is not None and len(needs) > 2 and needs[2]:
            gw = -g * (t * x.log().clamp_min(-100) + (1 - t) * O.log1p(-x).clamp_min(-100))
        return gx, gt, gw


@autocast_policy("binary_cross_entropy")
def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-weight * (target * log(input) + (1 - target) * log(1 - input)), logs clamped at -100 like torch."""
    red = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.size()}) that is different to the input size ({input.size()}) is "
            "deprecated. Please ensure they have the same size."
        )
    if target.dtype is not input.dtype:
        raise RuntimeError(f"Found dtype {_name(target.dtype)} but expected {_name(input.dtype)}")
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"binary_cross_entropy\" not implemented for '{_name(input.dtype)}'")
    if weight is not None:
        shape = O.broadcast_shapes(tuple(target.shape), tuple(weight.shape))
        weight = weight.expand(shape)
        if weight.dtype is not input.dtype:
            weight = weight.to(input.dtype)
    return _reduce(dispatch(_BinaryCrossEntropy, (input, target, weight)), red)


@autocast_policy("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """(1 - t) x - (1 + (pos_weight - 1) t) logsigmoid(x), times weight: stable for any logit."""
    red = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    if not target.dtype.is_floating_point:
        raise RuntimeError(
            f"result type {_name(D.promote_types(input.dtype, target.dtype))} can't be cast to the desired "
            f"output type {_name(target.dtype)}"
        )
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None and w.requires_grad and STATE.enabled:
            raise RuntimeError(
                "The function 'binary_cross_entropy_with_logits' is not differentiable with respect to argument "
                f"'{name}'. This input cannot have requires_grad True."
            )
    from .activation import logsigmoid

    ls = logsigmoid(input)
    if pos_weight is not None:
        ls = ls * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input - ls
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, red)


# -------------------------------------------------------------------------------------- regression losses


def _float_pair(input: Tensor, target: Tensor, kernel: str) -> None:
    dt = D.promote_types(input.dtype, target.dtype)
    if not (dt.is_floating_point or dt.is_complex):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_name(dt)}'")


def _weighted(loss: Tensor, weight: Tensor | None, input: Tensor, reduction: str, mean_by_weight: bool):
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / weight.sum() if mean_by_weight else loss.mean()


@autocast_policy("mse_loss")
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """(input - target)^2, optionally weighted (weighted mean divides by the summed weights)."""
    _size_warning(input, target)
    red = _reduction(size_average, reduce, reduction)
    _float_pair(input, target, "mse_cpu")
    d = input - target
    return _weighted(d * d, weight, input, red, True)


@autocast_policy("l1_loss")
def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """|input - target|, optionally weighted (weighted mean divides by the summed weights)."""
    _size_warning(input, target)
    red = _reduction(size_average, reduce, reduction)
    return _weighted((input - target).abs(), weight, input, red, True)


@autocast_policy("smooth_l1_loss")
def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta=0 is l1_loss."""
    _size_warning(input, target)
    red = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _float_pair(input, target, "smooth_l1_cpu")
    z = (input - target).abs()
    if beta == 0.0:
        return _reduce(z, red)
    return _reduce(O.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta), red)


@autocast_policy("huber_loss")
def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); optionally weighted."""
    _size_warning(input, target)
    red = _get_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _float_pair(input, target, "huber_cpu")
    z = (input - target).abs()
    loss = O.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))
    return _weighted(loss, weight, input, red, False)


@autocast_policy("kl_div")
def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """target * (log target - input) (input holds log-probabilities); 'batchmean' divides the sum by the
    batch size."""
    if size_average is not None or reduce is not None:
        red = _legacy_get_string(size_average, reduce)
    else:
        if reduction == "mean":
            warnings.warn(
                "reduction: 'mean' divides the total loss by both the batch size and the support size."
                "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                stacklevel=2,
            )
        red = "batchmean" if reduction == "batchmean" else _get_reduction(reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = O.xlogy(target, target) - target * input
    if red == "batchmean":
        out = loss.sum()
        return out / input.shape[0] if input.dim() != 0 else out
    return _reduce(loss, red)


@autocast_policy("poisson_nll_loss")
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """exp(input) - target * input (log_input) or input - target * log(input + eps); full adds Stirling's
    term for target > 1."""
    red = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, red)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) when full)."""
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * O.ones_like(input)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    d = input - target
    loss = 0.5 * (var.log() + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------------- margin/hinge losses


@autocast_policy("margin_ranking_loss")
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -target * (input1 - input2) + margin)."""
    red = _reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} "
        )
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), red)


@autocast_policy("hinge_embedding_loss")
def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """input where target == 1, max(0, margin - input) where target == -1 (summed where neither)."""
    red = _reduction(size_average, reduce, reduction)
    zeros = O.zeros_like(input)
    margin_clamp = (margin - input).clamp_min(0)
    out = O.where(target != 1, margin_clamp, zeros) + O.where(target != -1, input, zeros)
    return _reduce(out, red)


@autocast_policy("soft_margin_loss")
def soft_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """log(1 + exp(-target * input))."""
    red = _reduction(size_average, reduce, reduction)
    return _reduce(O.log1p((-input * target).exp()), red)


def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-mean over classes of target log sigmoid(x) + (1 - target) log sigmoid(-x) (weighted)."""
    from .activation import logsigmoid

    if size_average is not None or reduce is not None:
        reduction = _legacy_get_string(size_average, reduce)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(dim=class_dim) / input.size(class_dim)
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(reduction + " is not valid")


@autocast_policy("multi_margin_loss")
def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """sum over j != y of max(0, weight[y] * (margin - x[y] + x[j]))^p / C, per sample."""
    red = _reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    nd = input.dim()
    if not ((nd == 2 and input.shape[1] != 0) or (nd == 1 and input.shape[0] != 0) or nd == 0):
        raise RuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {list(input.shape)}"
        )
    nframe = input.shape[0] if nd == 2 else 1
    dim = 1 if nd == 0 else input.shape[-1]
    if nd == 2:
        if target.dim() != 1 or target.shape[0] != nframe:
            raise RuntimeError(
                f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input samples "
                f"(batch size). Expected target size [{nframe}], but got {list(target.shape)}. Input has shape "
                f"{list(input.shape)}."
            )
    elif target.dim() > 1 or target.numel() != nframe:
        raise RuntimeError(f"inconsistent target size, expected {nframe} but got {list(target.shape)}")
    if weight is not None and weight.numel() != dim:
        raise RuntimeError(f"inconsistent weight size, expected {dim} but got {list(weight.shape)}")
    x = input.reshape(nframe, dim)
    t = target.reshape(nframe).long()
    if target.numel() and bool(((t < 0) | (t >= dim)).any()):
        raise RuntimeError("target out of range")
    xy = x.gather(1, t.unsqueeze(1))
    z = margin - xy + x
    h = O.where(z > 0, z, 0.0)
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * weight[t].unsqueeze(1)
    not_target = O.arange(dim, device=input.device).unsqueeze(0) != t.unsqueeze(1)
    loss = (h * not_target.to(h.dtype)).sum(1) / dim
    if red == "none":
        return loss.reshape(()) if nd < 2 else loss
    return _reduce(loss, red)


@autocast_policy("multilabel_margin_loss")
def multilabel_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """sum over target classes j (up to the first -1) and non-target classes k of
    max(0, 1 - (x[j] - x[k])) / C, per sample."""
    red = _reduction(size_average, reduce, reduction)
    nd = input.dim()
    if not ((nd == 2 and input.shape[1] != 0) or (nd == 1 and input.shape[0] != 0) or nd == 0):
        raise RuntimeError(
            f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {list(input.shape)}"
        )
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    dim = 1 if nd == 0 else input.shape[-1]
    x = input.reshape(-1, dim)
    t = target.reshape(-1, dim).long()
    if bool(((t < -1) | (t >= dim)).any()):
        raise RuntimeError("argument #2 'target' is out of range")
    valid = (t >= 0).long().cumprod(1).bool()  # targets up to the first -1
    ts = O.where(valid, t, 0)
    classes = O.arange(dim, device=x.device)
    is_target = ((ts.unsqueeze(2) == classes) & valid.unsqueeze(2)).any(1)
    xy = x.gather(1, ts)
    z = 1 - xy.unsqueeze(2) + x.unsqueeze(1)
    h = O.where(z > 0, z, 0.0)
    pair = valid.unsqueeze(2) & ~is_target.unsqueeze(1)
    loss = (h * pair.to(h.dtype)).sum((1, 2)) / dim
    if red == "none":
        return loss.reshape(()) if nd < 2 else loss
    return _reduce(loss, red)


# ------------------------------------------------------------------------------------- distances & embeddings


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim (of the broadcast inputs)."""
    out_dim = max(x1.dim(), x2.dim())
    return (x1 - x2 + eps).norm(p, out_dim - 1, keepdim=keepdim)


@autocast_policy("cosine_similarity")
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """<x1 / max(||x1||, eps), x2 / max(||x2||, eps)> along dim (torch 2.x: each norm clamped separately)."""
    common = D.promote_types(x1.dtype, x2.dtype)
    if not common.is_floating_point:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is {_name(common)}")
    if not (x1.dtype.is_floating_point or x1.dtype.is_complex):
        x1 = x1.to(common)
    if not (x2.dtype.is_floating_point or x2.dtype.is_complex):
        x2 = x2.to(common)
    x1, x2 = O.broadcast_tensors(x1, x2)
    n1 = x1.norm(2, dim, keepdim=True).clone()
    n2 = x2.norm(2, dim, keepdim=True).clone()
    with no_grad():
        n1.clamp_min_(eps)
        n2.clamp_min_(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


@autocast_policy("cosine_embedding_loss")
def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1."""
    red = _reduction(size_average, reduce, reduction)
    td = target.dim()
    if td not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if td == 1:
        if input1.dim() != 2 or input2.dim() != 2:
            raise RuntimeError(
                f"1D target tensor expects 2D input tensors, but found inputs with sizes {list(input1.shape)} and "
                f"{list(input2.shape)}."
            )
    elif input1.dim() != 1 or input2.dim() != 1:
        raise RuntimeError(
            f"0D target tensor expects 1D input tensors, but found inputs with sizes {list(input1.shape)} and "
            f"{list(input2.shape)}."
        )
    eps = 1e-12
    prod_sum = (input1 * input2).sum(td)
    mag1 = (input1 * input1).sum(td) + eps
    mag2 = (input2 * input2).sum(td) + eps
    cos = prod_sum / (mag1 * mag2).sqrt()
    zeros = O.zeros_like(cos)
    pos = 1 - cos
    neg = (cos - margin).clamp_min(0)
    out = O.where(target == 1, pos, zeros) + O.where(target == -1, neg, zeros)
    return _reduce(out, red)


@autocast_policy("triplet_margin_loss")
def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with pairwise p-norm distances; swap uses min(d(a, n), d(p, n))."""
    red = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pd, nd = anchor.dim(), positive.dim(), negative.dim()
    if not (a == pd and pd == nd):
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number of dimensions, but "
            f"got: anchor {a}D, positive {pd}D, and negative {nd}D inputs"
        )
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = O.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), red)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function=None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """triplet_margin_loss with any distance function (default pairwise_distance)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pd, nd = anchor.ndim, positive.ndim, negative.ndim
    if not (a == pd and pd == nd):
        raise RuntimeError(
            f"The anchor, positive, and negative tensors are expected to have the same number of dimensions, but "
            f"got: anchor {a}D, positive {pd}D, and negative {nd}D inputs"
        )
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = O.minimum(d_neg, dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "pairwise_distance",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]

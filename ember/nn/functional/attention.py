"""Attention functionals: scaled_dot_product_attention (a fused CPU op) and multi_head_attention_forward.

softmax(Q K^T * scale + mask) V runs as one Op on whole arrays; its backward uses the saved probabilities
P with the standard formulas (dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum(dP P)), dQ = dS K scale,
dK = dS^T Q scale). Under create_graph the probabilities are recomputed with ember ops so that higher
derivatives are exact. `_scaled_dot_product_attention_math` is the plain composition the tests compare with.
On CUDA, half-precision attention goes to the flash kernels (backend/cuda_flash.py); with dropout they draw
the keep mask from the generator's Philox stream inside the kernel (`rng`), so no (L, S) mask is stored.
"""

from __future__ import annotations

import math
import warnings

from ... import _dtype as D
from ... import ops as O
from ..._tensor import Tensor
from ..._trace_hooks import traceable
from ...autograd.grad_mode import STATE
from ...ops._autocast import autocast_policy
from ...ops._dispatch import dispatch
from ...ops.op import Op
from .linear import linear

_NEG_INF = float("-inf")


# ------------------------------------------------------------------------------------------ fused op


def _flash_takes(be, q, k, v, groups) -> bool:
    """Whether the backend's flash kernel takes these arrays (CUDA, float16/bfloat16, head dim <= 128)."""
    return (
        getattr(be, "flash_attention", False)
        and q.dtype.itemsize == 2
        and q.dtype == k.dtype == v.dtype
        and q.shape[-2] > 0
        and k.shape[-2] > 0
        and be.flash_supports(q, k, v, groups)
    )


def _flash_dropout_rng(query, key, value, attn_mask, groups):
    """For dropout that the flash kernel will apply: the kernel's (seed, offset) device array, reserved from
    the generator (graph-safe); None where the flash kernel does not take this call."""
    if query._device.type != "cuda":
        return None
    from ...backend import cuda_flash, get_backend
    from ...ops.random import _gen

    be = get_backend(query._device)
    q, k, v = query._data, key._data, value._data
    if (attn_mask is not None and attn_mask._requires_grad and STATE.enabled) or not _flash_takes(
        be, q, k, v, groups
    ):
        return None
    seed, offset, base = _gen(None, query._device)._engine.reserve(cuda_flash.dropout_blocks(q, k), True)
    return cuda_flash.dropout_rng(seed, offset, base)


def _attention_arrays(be, q, k, v, mask, keep, scale, causal, p, groups, safe, allow_flash=False, rng=None):
    """Forward on arrays: returns (output, probabilities P, dropped probabilities P * keep / (1 - p), flash).
    The products go through the backend's matmul (on CUDA: cuBLAS, TF32 when allowed). With allow_flash, a
    backend with a flash kernel (CUDA, half precision) returns instead (output, log-sum-exp, None, True):
    the probabilities are never stored. rng (from _flash_dropout_rng): dropout inside the flash kernel."""
    xp = be.xp
    out_dt = q.dtype
    fused = getattr(be, "fused_attention", False)
    if allow_flash and keep is None and _flash_takes(be, q, k, v, groups):
        # CUDA: no (L, S) matrix at all; masks are read in place, grouped heads shared
        drop = None if rng is None else (rng, p)
        out, lse = be.flash_forward(q, k, v, scale, causal, mask, groups, drop)
        return out, lse, None, True
    if rng is not None:
        raise RuntimeError(
            "scaled_dot_product_attention: dropout was reserved for the flash kernel, which did not run"
        )
    half = q.dtype.itemsize == 2 and q.dtype == k.dtype == v.dtype and keep is None
    if (
        fused
        and half
        and mask is None
        and groups == 1
        and q.shape[-2] > 0
        and k.shape[-2] > 0
        and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
    ):  # CUDA: half-precision products on tensor cores, float32 softmax statistics, P in half
        out, probs = be.attention_half(q, k, v, scale, causal)
        return out, probs, probs, False
    if q.dtype.itemsize == 2:  # float16 / bfloat16: compute in float32
        f32 = xp.float32
        q, k, v = q.astype(f32), k.astype(f32), v.astype(f32)
        if mask is not None and mask.dtype != xp.bool_:
            mask = mask.astype(f32)
    if groups > 1:
        k = xp.repeat(k, groups, axis=-3)
        v = xp.repeat(v, groups, axis=-3)
    s = be.matmul(q, xp.swapaxes(k, -1, -2))
    L, S = s.shape[-2], s.shape[-1]
    if fused and mask is None and S > 0 and s.dtype == xp.float32 and s.flags.c_contiguous:
        be.scaled_softmax_(s, scale, causal)  # CUDA: scale, causal mask and softmax in one kernel
        probs = pd = s
        if keep is not None:
            pd = probs * keep
            pd *= 1.0 / (1.0 - p) if p < 1 else 0.0
        out = be.matmul(pd, v)
        return out.astype(out_dt, copy=False), probs, pd, False
    s *= scale
    if causal:
        s += xp.where(xp.tri(L, S, dtype=bool), 0.0, _NEG_INF).astype(s.dtype)
    if mask is not None:
        if mask.dtype == xp.bool_:
            xp.copyto(s, _NEG_INF, where=xp.logical_not(mask))
        elif mask.ndim <= s.ndim and all(a in (1, b) for a, b in zip(mask.shape[::-1], s.shape[::-1])):
            s += mask
        else:
            s = s + mask
    if S == 0:
        probs = xp.zeros_like(s)
    else:
        m = xp.max(s, axis=-1, keepdims=True)
        if safe:
            m[m == _NEG_INF] = 0.0
        s -= m
        xp.exp(s, out=s)
        den = xp.sum(s, axis=-1, keepdims=True)
        if safe:
            den[den == 0] = 1.0
        s /= den
        probs = s
    pd = probs
    if keep is not None:
        pd = probs * keep
        pd *= 1.0 / (1.0 - p) if p < 1 else 0.0
    out = be.matmul(pd, v)
    return out.astype(out_dt, copy=False), probs, pd, False


class _Attention(Op):
    """softmax(q k^T * scale + mask) [dropout] v in whole arrays; inputs (q, k, v, mask, keep)."""

    node_name = "ScaledDotProductAttentionBackward0"

    @staticmethod
    def forward(
        ctx, q, k, v, mask=None, keep=None, scale=1.0, causal=False, p=0.0, groups=1, safe=True, rng=None
    ):
        # the flash kernels give no gradient for the mask: a mask that needs one takes the composed path
        need = getattr(ctx, "needs_input_grad", None)
        mask_grad = mask is not None and need is not None and need[3]
        out, probs, _, flash = _attention_arrays(
            ctx.be, q, k, v, mask, keep, scale, causal, p, groups, safe, allow_flash=not mask_grad, rng=rng
        )
        ctx.flash = flash  # probs then holds the log-sum-exp per row
        ctx.rng = rng  # the flash kernel's dropout state, for its backward
        _save(ctx, q, k, v, mask, keep, probs, out, scale, causal, p, groups, safe)
        return out

    @staticmethod
    def backward(ctx, g):
        return _attention_backward(ctx, g, None)


class _AttentionWeights(Op):
    """Like _Attention, but also returns the (dropped) attention weights as a second output."""

    node_name = "ScaledDotProductAttentionBackward0"
    num_outputs = 2

    @staticmethod
    def forward(ctx, q, k, v, mask=None, keep=None, scale=1.0, causal=False, p=0.0, groups=1, safe=True):
        out, probs, pd, _ = _attention_arrays(ctx.be, q, k, v, mask, keep, scale, causal, p, groups, safe)
        _save(ctx, q, k, v, mask, keep, probs, out, scale, causal, p, groups, safe)
        return out, pd.astype(out.dtype, copy=False)

    @staticmethod
    def backward(ctx, g, gw):
        return _attention_backward(ctx, g, gw)


def _save(ctx, q, k, v, mask, keep, probs, out, scale, causal, p, groups, safe) -> None:
    ctx.scale, ctx.causal, ctx.p, ctx.groups, ctx.safe = scale, causal, p, groups, safe
    if any(ctx.needs_input_grad):
        ctx.save_for_backward(q, k, v, mask, keep, probs, out)


class _AttentionGrad(Op):
    """Attention backward on arrays (first order): (g, gw, q, k, v, keep, P, out, mask) -> dq, dk, dv, dS
    (the mask is read only by the flash path, which recomputes P from it)."""

    differentiable = False
    num_outputs = 4

    @staticmethod
    def forward(
        ctx,
        g,
        gw,
        q,
        k,
        v,
        keep,
        probs,
        out,
        mask=None,
        scale=1.0,
        p=0.0,
        groups=1,
        need=(True,) * 4,
        causal=False,
        flash=False,
        rng=None,
    ):
        xp = ctx.xp
        if flash:  # the forward ran the backend's flash kernel: probs is its log-sum-exp
            drop = None if rng is None else (rng, p)
            grads = ctx.be.flash_backward(g, q, k, v, out, probs, scale, causal, need[:3], mask, groups, drop)
            empty = xp.zeros((0,), dtype=q.dtype)
            return tuple(empty if a is None else a for a in grads) + (empty,)
        cdt = probs.dtype
        if cdt.itemsize == 2:  # the forward took the backend's half-precision path (attention_half)
            grads = ctx.be.attention_half_backward(g, gw, q, k, v, probs, scale, need[:3])
            empty = xp.zeros((0,), dtype=cdt)
            return tuple(empty if a is None else a for a in grads) + (empty,)
        g32, q, k, v = (a.astype(cdt, copy=False) for a in (g, q, k, v))
        if groups > 1:
            k = xp.repeat(k, groups, axis=-3)
            v = xp.repeat(v, groups, axis=-3)
        drop = None
        if keep is not None:
            drop = keep.astype(cdt)
            drop *= (1.0 / (1.0 - p)) if p < 1 else 0.0
        empty = xp.zeros((0,), dtype=cdt)
        dq = dk = dv = ds = empty
        if need[2]:
            pd = probs * drop if drop is not None else probs
            dv = ctx.be.matmul(xp.swapaxes(pd, -1, -2), g32)
            if groups > 1:
                dv = dv.reshape(dv.shape[:-3] + (-1, groups) + dv.shape[-2:]).sum(-3)
        if need[0] or need[1] or need[3]:
            ds = ctx.be.matmul(g32, xp.swapaxes(v, -1, -2))  # dP (of the dropped weights)
            if gw is not None:
                ds += gw
            if drop is not None:
                ds *= drop
            if gw is None and out.dtype == cdt:
                # rowsum(dP * P) = rowsum(dO * O) when the weights are not an output (FlashAttention's D)
                rows = xp.sum(g32 * out, axis=-1, keepdims=True)
            else:
                rows = xp.sum(ds * probs, axis=-1, keepdims=True)
            ds -= rows
            ds *= probs
            if need[0]:
                dq = ctx.be.matmul(ds, k)
                dq *= scale
            if need[1]:
                dk = ctx.be.matmul(xp.swapaxes(ds, -1, -2), q)
                dk *= scale
                if groups > 1:
                    dk = dk.reshape(dk.shape[:-3] + (-1, groups) + dk.shape[-2:]).sum(-3)
            if not need[3]:
                ds = empty
        return dq, dk, dv, ds


def _attention_backward(ctx, g, gw):
    q, k, v, mask, keep, probs, out = ctx.saved_tensors
    rng = getattr(ctx, "rng", None)
    need = tuple(ctx.needs_input_grad[:4])
    if g is None:
        g = O.zeros(tuple(out.shape), dtype=out.dtype, device=out.device)
    if not STATE.enabled:
        attrs = {
            "scale": ctx.scale,
            "p": ctx.p,
            "groups": ctx.groups,
            "need": need,
            "causal": ctx.causal,
            "flash": getattr(ctx, "flash", False),
            "rng": rng,
        }
        grads = dispatch(_AttentionGrad, (g, gw, q, k, v, keep, probs, out, mask), attrs)
        return tuple(gr if n else None for gr, n in zip(grads, need)) + (None,)
    if rng is not None:  # create_graph after the flash kernel's dropout: its keep mask, as a constant
        from ..._tensor import _wrap
        from ...backend import cuda_flash

        keep = _wrap(cuda_flash.dropout_keep(rng, q._data, k._data, ctx.p), D.bool_, q.device)
    return _attention_backward_math(
        q, k, v, mask, keep, g, gw, need, ctx.scale, ctx.causal, ctx.p, ctx.groups, ctx.safe
    )


def _attention_backward_math(q, k, v, mask, keep, g, gw, need, scale, causal, p, groups, safe):
    """The attention backward with ember ops on probabilities rebuilt from the inputs (create_graph)."""
    probs = _probs_math(q, k, mask, scale, causal, groups, safe)
    if groups > 1:
        k = k.repeat_interleave(groups, dim=-3)
        v = v.repeat_interleave(groups, dim=-3)
    drop = None
    if keep is not None:  # in the probabilities' dtype (a bool mask times a float would be float32)
        drop = keep.to(probs.dtype) * ((1.0 / (1.0 - p)) if p < 1 else 0.0)
    dq = dk = dv = dmask = None
    if need[2]:
        pd = probs * drop if drop is not None else probs
        dv = pd.mT.matmul(g)
        if groups > 1:
            dv = dv.unflatten(-3, (dv.shape[-3] // groups, groups)).sum(-3)
    if need[0] or need[1] or need[3]:
        dpd = g.matmul(v.mT)
        if gw is not None:
            dpd = dpd + gw
        dp = dpd * drop if drop is not None else dpd
        ds = probs * (dp - (dp * probs).sum(-1, keepdim=True))
        if need[0]:
            dq = ds.matmul(k) * scale
        if need[1]:
            dk = ds.mT.matmul(q) * scale
            if groups > 1:
                dk = dk.unflatten(-3, (dk.shape[-3] // groups, groups)).sum(-3)
        if need[3]:
            dmask = ds
    return dq, dk, dv, dmask, None


def _probs_math(q, k, mask, scale, causal, groups, safe):
    """Attention probabilities with ember ops (safe: fully masked rows give zeros, as torch's SDPA)."""
    if groups > 1:
        k = k.repeat_interleave(groups, dim=-3)
    s = q.matmul(k.mT) * scale
    L, S = s.shape[-2], s.shape[-1]
    if causal:
        s = s.masked_fill(~O.ones((L, S), dtype=D.bool_).tril(), _NEG_INF)
    if mask is not None:
        s = s.masked_fill(~mask, _NEG_INF) if mask.dtype == D.bool_ else s + mask
    if S == 0:
        return O.zeros_like(s)
    probs = O.softmax(s, -1)
    if safe:
        dead = (s == _NEG_INF).all(-1, keepdim=True)
        probs = probs.masked_fill(dead, 0.0)
    return probs


def _scaled_dot_product_attention_math(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False, keep=None
):
    """Reference composition of ember ops (the tests compare the fused op against it)."""
    sc = 1.0 / math.sqrt(query.size(-1)) if scale is None else float(scale)
    groups = query.size(-3) // key.size(-3) if enable_gqa and query.dim() >= 3 else 1
    probs = _probs_math(query, key, attn_mask, sc, is_causal, groups, True)
    if keep is not None:
        probs = probs * keep * (1.0 / (1.0 - dropout_p) if dropout_p < 1 else 0.0)
    if groups > 1:
        value = value.repeat_interleave(groups, dim=-3)
    return probs.matmul(value)


# ------------------------------------------------------------------------------------------ public API


def _sdpa_checks(query, key, value, attn_mask, is_causal, enable_gqa):
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
            f"{query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead."
        )
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead."
        )
    if not query.dtype.is_floating_point:
        raise RuntimeError(
            f"scaled_dot_product_attention: expected floating point query/key/value, got {query.dtype}"
        )
    if query.size(-1) != key.size(-1):
        raise RuntimeError(
            f"scaled_dot_product_attention: query[..., {query.size(-1)}] and key[..., {key.size(-1)}] must "
            f"share the last dim (query {list(query.shape)}, key {list(key.shape)})"
        )
    if key.size(-2) != value.size(-2):
        raise RuntimeError(
            f"scaled_dot_product_attention: key {list(key.shape)} and value {list(value.shape)} must "
            "have the same sequence length (dim -2)"
        )
    if attn_mask is not None:
        if is_causal:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
            )
        md = attn_mask.dtype
        if md not in (D.bool_, D.float32, query.dtype):
            raise RuntimeError(
                "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                f"attn_mask.dtype: {md} and  query.dtype: {query.dtype} instead."
            )
    groups = 1
    if enable_gqa and query.dim() >= 3 and key.dim() >= 3 and query.size(-3) != key.size(-3):
        hq, hk, hv = query.size(-3), key.size(-3), value.size(-3)
        if hk != hv or hq % hk:
            raise RuntimeError(
                "Number of heads in key and value must divide the number of heads in query "
                f"(query heads {hq}, key heads {hk}, value heads {hv})"
            )
        groups = hq // hk
    kb = tuple(key.shape[:-2])
    if groups > 1:
        kb = kb[:-1] + (query.size(-3),)
    batch = O.broadcast_shapes(tuple(query.shape[:-2]), kb)
    scores = tuple(batch) + (query.size(-2), key.size(-2))
    if attn_mask is not None:
        try:
            full = tuple(O.broadcast_shapes(tuple(attn_mask.shape), scores))
        except RuntimeError:
            full = None
        if full != scores:
            raise RuntimeError(
                f"scaled_dot_product_attention: attn_mask of shape {list(attn_mask.shape)} doesn't match the "
                f"broadcast shape of the scores {list(scores)}"
            )
    return groups, scores


@traceable("F.scaled_dot_product_attention")
@autocast_policy("scaled_dot_product_attention")
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(Q K^T * scale + mask) V. q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev).

    scale defaults to 1/sqrt(E). A bool attn_mask marks the positions that take part (True); a float mask
    is added to the scores. is_causal applies tril(ones(L, S)). Fully masked rows give zeros. enable_gqa
    repeats key/value heads (dim -3) to match the query's."""
    groups, scores = _sdpa_checks(query, key, value, attn_mask, is_causal, enable_gqa)
    sc = 1.0 / math.sqrt(query.size(-1)) if scale is None else float(scale)
    keep = rng = None
    if dropout_p > 0.0:
        rng = _flash_dropout_rng(query, key, value, attn_mask, groups)
        if rng is None:
            keep = O.rand(scores, device=query.device) >= dropout_p
    attrs = {"scale": sc, "causal": bool(is_causal), "p": float(dropout_p), "groups": groups, "safe": True}
    if rng is not None:
        attrs["rng"] = rng
    return dispatch(_Attention, (query, key, value, attn_mask, keep), attrs)


# ------------------------------------------------------------------------------------------ multi-head


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """Bool masks (True = masked out) become float masks of target_type with -inf; float masks pass."""
    if mask is None:
        return None
    if mask.dtype != D.bool_ and not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(
            f"Support for mismatched {mask_name} and {other_name} is deprecated. "
            "Use same type for both instead.",
            stacklevel=3,
        )
    if not mask.dtype.is_floating_point:
        mask = O.zeros(tuple(mask.shape), dtype=target_type, device=mask.device).masked_fill(mask, _NEG_INF)
    return mask


def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _pad_last(t: Tensor) -> Tensor:
    """Append one zero column along the last dim."""
    return O.cat([t, O.zeros(tuple(t.shape[:-1]) + (1,), dtype=t.dtype, device=t.device)], -1)


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                f"{key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but found "
                f"{key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                f"{attn_mask.dim()}-D tensor instead"
            )
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                f"{key.dim()}-D and {value.dim()}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but found "
                f"{key_padding_mask.dim()}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                    f"{attn_mask.dim()}-D tensor instead"
                )
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(
                        f"Expected `attn_mask` shape to be {expected} but got {tuple(attn_mask.shape)}"
                    )
        return False
    raise AssertionError(
        f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query tensor"
    )


def _in_projection_packed(q, k, v, w, b=None):
    E = q.size(-1)
    if k is v:
        if q is k:
            proj = linear(q, w, b)
            return tuple(proj.unflatten(-1, (3, E)).movedim(-2, 0))
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        kv = linear(k, w_kv, b_kv).unflatten(-1, (2, E)).movedim(-2, 0)
        return linear(q, w_q, b_q), kv[0], kv[1]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None):
    Eq, Ek, Ev = q.size(-1), k.size(-1), v.size(-1)
    for name, w, shape in (("query", w_q, (Eq, Eq)), ("key", w_k, (Eq, Ek)), ("value", w_v, (Eq, Ev))):
        if tuple(w.shape) != shape:
            raise AssertionError(f"expecting {name} weights shape of {shape}, but got {tuple(w.shape)}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention as torch's functional: in-projection, heads, attention, out-projection.

    query (L, N, E) or (L, E); key/value (S, N, Ek/Ev). Bool masks: True = not allowed. Returns
    (attn_output (L, N, E), weights (N, L, S) averaged over heads / (N, H, L, S), or None)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(
        key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask", query.dtype
    )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
            "`generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # SDPA applies the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(
                f"key's sequence and batch dims {tuple(key.shape[:2])} do not match value's "
                f"{tuple(value.shape[:2])}"
            )
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}")

    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    else:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but a q/k/v projection weight is None")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(
            query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v
        )

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should be "
                    f"{(tgt_len, src_len)}."
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should be "
                    f"{(bsz * num_heads, tgt_len, src_len)}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key.")
        k = O.cat([k, bias_k.repeat(1, bsz, 1)])
        v = O.cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError(
            "bias_k is set but bias_v is None" if bias_k is not None else "bias_v is set but bias_k is None"
        )

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        if static_k.size(0) != bsz * num_heads or static_k.size(2) != head_dim:
            raise AssertionError(
                f"expecting static_k of shape ({bsz * num_heads}, S, {head_dim}), got {tuple(static_k.shape)}"
            )
        k = static_k
    if static_v is None:
        v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        if static_v.size(0) != bsz * num_heads or static_v.size(2) != head_dim:
            raise AssertionError(
                f"expecting static_v of shape ({bsz * num_heads}, S, {head_dim}), got {tuple(static_v.shape)}"
            )
        v = static_v
    if add_zero_attn:
        zeros = O.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k = O.cat([k, zeros], 1)
        v = O.cat([v, zeros], 1)
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.size(1)
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(
                f"Expected key_padded_mask.shape[0] to be {bsz}, but got {key_padding_mask.shape[0]}"
            )
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(
                f"Expected key_padded_mask.shape[1] to be {src_len}, but got {key_padding_mask.shape[1]}"
            )
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        B, L, S = q.shape[0], q.shape[1], k.shape[1]
        keep = O.rand((B, L, S), device=q.device) >= dropout_p if dropout_p > 0.0 else None
        attrs = {
            "scale": 1.0 / math.sqrt(head_dim),
            "causal": False,
            "p": float(dropout_p),
            "groups": 1,
            "safe": False,
        }
        out, weights = dispatch(_AttentionWeights, (q, k, v, attn_mask, keep), attrs)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    if not is_batched:
        out = out.squeeze(1)
    return out, None


__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]

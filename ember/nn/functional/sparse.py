"""embedding, embedding_bag and one_hot.

embedding's backward is a vectorised scatter-add of the output gradient rows into a zero table: on CPU a
sparse (num_embeddings x lookups) 0/1 matrix times the gradient rows (SciPy CSR, far faster than
``np.add.at``), elsewhere the backend's ``add_at``. padding_idx rows get no gradient and
scale_grad_by_freq divides each row's gradient by its index's count in the batch.
"""

from __future__ import annotations

import numpy as np

from ... import _dtype as D
from ... import ops as O
from ..._tensor import Tensor, _wrap
from ..._trace_hooks import traceable
from ...autograd.grad_mode import STATE, no_grad
from ...ops._dispatch import dispatch
from ...ops.op import Op

_TYPE_NAMES = {
    D.float16: "HalfTensor",
    D.bfloat16: "BFloat16Tensor",
    D.float32: "FloatTensor",
    D.float64: "DoubleTensor",
    D.int8: "CharTensor",
    D.uint8: "ByteTensor",
    D.int16: "ShortTensor",
    D.bool_: "BoolTensor",
}


def _scatter_rows(be, xp, num: int, idx, rows, coef):
    """out[idx[i]] += coef[i] * rows[i] for a (num, D) zero table: the embedding backward."""
    dt = rows.dtype
    if xp is np:
        from scipy import sparse

        m = sparse.csr_matrix(
            (coef.astype(dt, copy=False), (idx, np.arange(idx.shape[0]))), shape=(num, idx.shape[0])
        )
        return np.ascontiguousarray(m @ rows, dtype=dt)
    out = xp.zeros((num, rows.shape[1]), dtype=dt)
    be.add_at(out, idx, rows * coef[:, None].astype(dt))
    return out


class Embedding(Op):
    """weight[indices]: rows of a (num_embeddings, embedding_dim) table gathered by integer indices."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=-1, scale_grad_by_freq=False):
        num = weight.shape[0]
        ctx.args = (num, padding_idx, scale_grad_by_freq)
        ctx.save_for_backward(indices)
        gather = getattr(ctx.be, "gather_rows", None)
        if gather is not None:
            # CUDA: an out-of-range index gives a NaN row (torch raises a device-side assert); checking it
            # here would read the indices back and make every training step wait for the GPU
            out = gather(weight, indices)
            if out is not None:  # None: an integer table (no NaN), checked below
                return out
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= num):
            raise IndexError("index out of range in self")
        return ctx.xp.take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, g):
        (indices,) = ctx.saved_tensors
        num, padding_idx, scale_grad_by_freq = ctx.args
        dim = g.shape[-1]
        if STATE.enabled:  # create_graph: index_add is differentiable in the gradient
            idx = indices.reshape(-1)
            rows = g.reshape(-1, dim)
            coef = _coef(idx, num, padding_idx, scale_grad_by_freq)
            if coef is not None:
                rows = rows * coef.unsqueeze(1).to(rows.dtype)
            return O.zeros((num, dim), dtype=g.dtype, device=g.device).index_add(0, idx, rows), None
        xp = ctx.xp
        idx = indices._data.reshape(-1).astype(np.int64, copy=False)
        rows = g._data.reshape(-1, dim)
        cdt = rows.dtype
        if cdt in (np.dtype(np.float16), D.bfloat16.np):
            rows = rows.astype(np.float32)
        coef = xp.ones(idx.shape[0], dtype=rows.dtype)
        if scale_grad_by_freq:
            counts = xp.bincount(idx, minlength=num)
            coef = coef / counts[idx]
        if padding_idx >= 0:
            coef = xp.where(idx == padding_idx, 0, coef).astype(rows.dtype, copy=False)
        gw = _scatter_rows(ctx.be, xp, num, idx, rows, coef)
        return _wrap(gw, D.from_numpy_dtype(gw.dtype), g._device), None


def _coef(idx: Tensor, num: int, padding_idx: int, scale_grad_by_freq: bool):
    coef = None
    if scale_grad_by_freq:
        counts = O.bincount(idx, minlength=num)
        coef = 1.0 / counts[idx].double()
    if padding_idx >= 0:
        keep = (idx != padding_idx).double()
        coef = keep if coef is None else coef * keep
    return coef


def _padding_idx(padding_idx, num: int, what: str = "Padding_idx") -> int:
    if padding_idx is None:
        return -1
    if padding_idx > 0:
        if padding_idx >= num:
            raise AssertionError(f"{what} must be within num_embeddings")
    elif padding_idx < 0:
        if padding_idx < -num:
            raise AssertionError(f"{what} must be within num_embeddings")
        padding_idx = num + padding_idx
    return padding_idx


def _check_indices(input: Tensor, fn: str) -> None:
    if input.dtype not in (D.int64, D.int32):
        name = _TYPE_NAMES.get(input.dtype, f"{D.SCALAR_NAME[input.dtype]}Tensor")
        raise RuntimeError(
            f"Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but "
            f"got ember.{name} instead (while checking arguments for {fn})"
        )


def _renorm_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """torch.embedding_renorm_: rows used by input whose norm exceeds max_norm are scaled to it, in place."""
    with no_grad():
        uniq = O.unique(input.reshape(-1).long())
        if uniq.numel() == 0:
            return
        w = weight.detach()
        rows = w.index_select(0, uniq)
        norms = rows.norm(norm_type, 1, keepdim=True)
        scale = O.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).to(rows.dtype)
        w.index_copy_(0, uniq, rows * scale)


@traceable("F.embedding")
def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """weight[input]: output shape input.shape + (embedding_dim,). padding_idx rows get no gradient;
    max_norm renormalises the looked-up rows of weight in place."""
    pad = _padding_idx(padding_idx, weight.shape[0] if weight.dim() else 0)
    if sparse:
        raise NotImplementedError("ember: sparse gradients are not supported; use sparse=False")
    _check_indices(input, "embedding")
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    if max_norm is not None:
        input = input.contiguous()
        _renorm_(weight, input, max_norm, norm_type)
    kw = {"padding_idx": pad, "scale_grad_by_freq": bool(scale_grad_by_freq)}
    return dispatch(Embedding, (weight, input), kw)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each index (num_classes=-1: max+1)."""
    if tensor.dtype is not D.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if tensor.numel() == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        return O.zeros(tuple(tensor.shape) + (num_classes,), dtype=D.int64, device=tensor.device)
    if int(tensor.min()) < 0:
        raise RuntimeError("Class values must be non-negative.")
    mx = int(tensor.max())
    if num_classes == -1:
        num_classes = mx + 1
    elif mx >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return (tensor.unsqueeze(-1) == O.arange(num_classes, device=tensor.device)).long()


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sums, means or maxes of bags of embeddings: 2-D input holds one bag per row; 1-D input is split into
    bags at `offsets`. padding_idx entries are left out of every bag (and of the mean's count); empty bags
    give zeros."""
    if weight.dtype is D.int64 and input.is_floating_point():
        input, weight = weight, input  # torch's legacy argument order (weight, input)
    _check_indices(input, "embedding_bag")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.dim()}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if sparse:
        raise NotImplementedError("ember: sparse gradients are not supported; use sparse=False")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for "
                f"mode='sum' (got mode='{mode}'). Please open a feature request on GitHub."
            )
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(
                f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)}) is not None, then it "
                f"must have the same shape as the input ({list(input.shape)})"
            )
    num = weight.shape[0]
    pad = _padding_idx(padding_idx, num, "padding_idx")
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a mini-batch of fixed length "
                "sequences. However, found offsets of type Tensor"
            )
        nb, length = input.shape
        offsets = (
            O.arange(0, nb * length, length, device=input.device)
            if length
            else O.zeros(nb, dtype=D.int64, device=input.device)
        )
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if max_norm is not None:
        _renorm_(weight, input, max_norm, norm_type)
    offs = offsets.long()
    n = input.shape[0]
    if include_last_offset:
        starts = offs[:-1]
        ends = offs[1:]
    else:
        starts = offs
        ends = O.cat([offs[1:], O.tensor([n], device=offs.device)])
    nbags = starts.shape[0]
    # bag id of every lookup: the number of starts at or before its position, minus one
    pos = O.arange(n, device=input.device)
    bag = O.searchsorted(starts, pos, right=True) - 1
    keep = pos < ends[bag.clamp_min(0)] if nbags else pos < 0
    keep = keep & (bag >= 0)
    if pad >= 0:
        keep = keep & (input != pad)
    emb = embedding(input, weight, scale_grad_by_freq=scale_grad_by_freq)
    bag = O.where(keep, bag, 0)
    dim = weight.shape[1]
    kf = keep.to(weight.dtype).unsqueeze(1)
    if mode == "max":
        big = O.full((n, dim), float("-inf"), dtype=weight.dtype, device=weight.device)
        vals = O.where(keep.unsqueeze(1), emb, big)
        out = O.full((nbags, dim), float("-inf"), dtype=weight.dtype, device=weight.device)
        idx = bag.unsqueeze(1).expand(n, dim)
        out = out.scatter_reduce(0, idx, vals, "amax")
        counts = O.zeros(nbags, dtype=weight.dtype, device=weight.device).index_add(0, bag, kf.squeeze(1))
        return O.where(counts.unsqueeze(1) > 0, out, 0.0)
    rows = emb * kf
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(1).to(rows.dtype)
    out = O.zeros((nbags, dim), dtype=weight.dtype, device=weight.device).index_add(0, bag, rows)
    if mode == "mean":
        counts = O.zeros(nbags, dtype=weight.dtype, device=weight.device).index_add(0, bag, kf.squeeze(1))
        out = out / counts.clamp_min(1).unsqueeze(1)
    return out


__all__ = ["embedding", "embedding_bag", "one_hot"]

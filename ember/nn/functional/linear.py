"""linear and bilinear."""

from __future__ import annotations

from ... import ops as O
from ..._tensor import Tensor, _wrap
from ..._trace_hooks import traceable
from ...autograd.grad_mode import STATE
from ...backend import cuda_blas, cuda_elementwise  # NumPy-only at import (CuPy loads inside)
from ...ops._autocast import autocast_policy
from ...ops._dispatch import dispatch
from ...ops.op import SAME, Op


@traceable("F.linear")
@autocast_policy("linear")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias. input (*, in), weight (out, in), bias (out,)."""
    if input.dim() == 0 or weight.dim() not in (1, 2):
        raise RuntimeError(
            f"linear: expected input of at least 1 dim and a 1-D or 2-D weight, got "
            f"{list(input.shape)} and {list(weight.shape)}"
        )
    if input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear: mat1 and mat2 shapes cannot be multiplied (input {list(input.shape)} @ weight.T of "
            f"{list(weight.shape)}): expected input[..., {weight.shape[-1]}]"
        )
    if weight.dim() == 1:
        out = O.matmul(input, weight)
        return out + bias if bias is not None else out
    if input._dtype is not weight._dtype or (bias is not None and bias._dtype is not weight._dtype):
        raise RuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {input.dtype} and {weight.dtype}"
            + (f" (bias {bias.dtype})" if bias is not None else "")
        )
    if bias is not None and tuple(bias.shape) not in ((weight.shape[0],), (), (1,)):
        out = dispatch(_Linear, (input, weight, None))
        return out + bias
    return dispatch(_Linear, (input, weight, bias))


_GEMM_SUM = frozenset(cuda_elementwise.DTYPE_CODE)  # float32, float16, bfloat16 (NumPy dtypes)


class _Linear(Op):
    """y = x W^T + b as one op. Backward gives dW = g^T x directly in W's (out, in) row-major layout, so the
    parameter's .grad needs no transposing copy, and db = sum(g) without an extra graph node."""

    node_name = "AddmmBackward0"
    promote = SAME
    upcast_half = "cpu"

    @staticmethod
    def forward(ctx, x, w, b):
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, w if need[0] else None)
        out = ctx.be.matmul(x, w.T)
        if b is not None:
            b = b.astype(out.dtype, copy=False)
            if not (ctx.be.name == "cuda" and _bias_add_cuda(out, b)):
                out += b
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        ref = x if x is not None else w
        if ref is not None and g._dtype is not ref._dtype:  # half inputs were saved as float32
            g = O.to_dtype(g, ref._dtype)
        if not STATE.enabled and g._device.type == "cuda" and g._data.dtype in _GEMM_SUM:
            return _linear_backward_arrays(ctx.be, g, x, w, need)
        n_out = g.shape[-1]
        gx = gw = gb = None
        if need[0]:
            gx = O.matmul(g, w)
        g2 = g.reshape(-1, n_out) if (need[1] or need[2]) else None
        if need[1]:
            gw = O.matmul(g2.mT, x.reshape(-1, x.shape[-1]))
        if need[2]:
            gb = g2.sum(0)
        return gx, gw, gb


def _bias_add_cuda(out, b) -> bool:
    return cuda_elementwise.bias_add_(out, b)


def _linear_backward_arrays(be, g, x, w, need):
    """The three gradients straight on CUDA arrays (no dispatch per product: ~20 us of host time each), as
    cuBLAS GEMMs; transposed operands are passed as transposes, the bias gradient is a GEMM with ones."""
    column_sum = cuda_blas.column_sum
    gd = g._data
    dt, dev = g._dtype, g._device
    n_out = gd.shape[-1]
    gx = gw = gb = None
    if need[0]:
        gx = _wrap(be.matmul(gd, w._data), dt, dev)
    if need[1] or need[2]:
        g2 = gd.reshape(-1, n_out)
        if not g2._c_contiguous:  # CuPy's attribute (.flags builds an object per call)
            g2 = be.xp.ascontiguousarray(g2)
        if need[1]:
            xd = x._data
            gw = _wrap(be.matmul(g2.T, xd.reshape(-1, xd.shape[-1])), dt, dev)
        if need[2]:
            gb = _wrap(column_sum(g2, g2.dtype), dt, dev)
    return gx, gw, gb


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y_k = x1^T W_k x2 + b_k. input1 (*, in1), input2 (*, in2), weight (out, in1, in2)."""
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
            f"{list(input2.shape[:-1])}"
        )
    if weight.dim() != 3 or weight.shape[1] != input1.shape[-1] or weight.shape[2] != input2.shape[-1]:
        raise RuntimeError(
            f"bilinear(): weight of shape {list(weight.shape)} does not match inputs {list(input1.shape)} and "
            f"{list(input2.shape)}"
        )
    out = O.einsum("...i,oij,...j->...o", input1, weight, input2)
    return out + bias if bias is not None else out


__all__ = ["bilinear", "linear"]

"""softmax and log_softmax (also the activations nn.functional builds on: relu, gelu, silu, ...).

On CUDA, gelu and silu run the fused kernels of ``backend/cuda_activation.py`` (one launch forward, one
backward, float16/bfloat16 read directly); ``EMBER_CUDA_FUSED_ACT=0`` (or ``Gelu.fused_cuda = False`` /
``Silu.fused_cuda = False``) turns them off.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _wrap, _wrap_dim
from .._trace_hooks import traceable
from ..autograd.grad_mode import STATE
from ._dispatch import dispatch
from .op import SAME, Op


class Softmax(Op):
    """On CUDA, last-axis softmax of float32/float16/bfloat16 runs the fused kernel of backend/cuda_softmax.py
    (on unless EMBER_CUDA_FUSED_SOFTMAX=0) and saves its half-precision output itself; otherwise half precision is
    computed in float32 (upcast_half is "cpu": forward upcasts on CUDA itself)."""

    promote = SAME
    upcast_half = "cpu"

    @staticmethod
    def forward(ctx, a, dim=-1):
        xp = ctx.xp
        ctx.dim = dim
        if ctx.be.name == "cuda":
            y = _fused_softmax(ctx, a, dim, False)
            if y is not None:
                return y
            a = _upcast(a)
        if a.ndim == 0:
            out = xp.ones_like(a)
        else:
            e = xp.exp(a - xp.max(a, axis=dim, keepdims=True)) if a.size else a.copy()
            out = e / xp.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if getattr(ctx, "fused", False) and not STATE.enabled:
            return (_fused_softmax_backward(g, out, False),)
        if out.dim() == 0:
            return (g * 0,)
        return (out * (g - (g * out).sum(ctx.dim, keepdim=True)),)


class LogSoftmax(Op):
    promote = SAME
    upcast_half = "cpu"  # as Softmax

    @staticmethod
    def forward(ctx, a, dim=-1):
        xp = ctx.xp
        ctx.dim = dim
        if ctx.be.name == "cuda":
            y = _fused_softmax(ctx, a, dim, True)
            if y is not None:
                return y
            a = _upcast(a)
        if a.ndim == 0:
            out = xp.zeros_like(a)
        elif a.size == 0:
            out = a.copy()
        else:
            m = xp.max(a, axis=dim, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
            s = a - m
            out = s - xp.log(xp.sum(xp.exp(s), axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if getattr(ctx, "fused", False) and not STATE.enabled:
            return (_fused_softmax_backward(g, out, True),)
        if out.dim() == 0:
            return (g * 0,)
        return (g - out.exp() * g.sum(ctx.dim, keepdim=True),)


def _upcast(a):
    return a.astype(np.float32) if a.dtype in _HALF_NP else a


def _fused_softmax(ctx, a, dim, log):
    """The fused CUDA kernel's output (saved for backward, ctx.fused set), or None where it does not apply."""
    from ..backend import cuda_softmax

    if not cuda_softmax.supports(a, dim):
        return None
    y = cuda_softmax.forward(a, log)
    ctx.fused = True
    ctx.save_for_backward(y)
    return y


def _fused_softmax_backward(g, out, log):
    from ..backend import cuda_softmax

    return _wrap(cuda_softmax.backward(g._data, out._data, log), out._dtype, out._device)


def _softmax_args(input, dim, dtype, fn):
    if dim is None:
        # torch's legacy implicit dim: 0 for 0-, 1- and 3-D input, else 1
        dim = 0 if input.dim() in (0, 1, 3) else 1
    x = input.to(D.to_dtype(dtype)) if dtype is not None else input
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        raise RuntimeError(f"\"{fn}_lastdim_kernel_impl\" not implemented for '{D.SCALAR_NAME[x._dtype]}'")
    return x, _wrap_dim(dim, x._data.ndim)


def softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel=3) -> Tensor:
    """exp(x) / sum(exp(x)) along dim, computed stably."""
    x, d = _softmax_args(input, dim, dtype, "softmax")
    return dispatch(Softmax, (x,), {"dim": d})


def log_softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel=3) -> Tensor:
    """x - logsumexp(x) along dim, computed stably."""
    x, d = _softmax_args(input, dim, dtype, "log_softmax")
    return dispatch(LogSoftmax, (x,), {"dim": d})


# ------------------------------------------------------------------------------------- pointwise activations
# Primitives with their own backward (used by nn.functional); compositions would work too but save more.


class _Act(Op):
    promote = SAME
    upcast_half = True
    saves_upcast_input = True  # every activation below saves its input a, untouched


_FUSED_ACT = os.environ.get("EMBER_CUDA_FUSED_ACT", "1") == "1"
_HALF_NP = (np.dtype(np.float16), D.bfloat16.np)


def _cuda_act():
    from ..backend import cuda_activation

    return cuda_activation


class _FusedAct(_Act):
    """An activation with fused CUDA kernels: on CUDA forward sees float16/bfloat16 itself (upcast_half is
    "cpu") and either runs the kernel (saving only x, ctx.fused set) or upcasts as dispatch would have."""

    upcast_half = "cpu"
    fused_cuda = _FUSED_ACT

    @staticmethod
    def _cuda_input(ctx, cls, a):
        """(True, a) when the fused kernel takes `a`; else (False, a in the compute dtype)."""
        if cls.fused_cuda and _cuda_act().supports(a.dtype):
            ctx.fused = True
            return True, a
        return False, (a.astype(np.float32) if a.dtype in _HALF_NP else a)


class Relu(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.maximum(a, 0).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * (out > 0).to(g.dtype),)


class LeakyRelu(_Act):
    @staticmethod
    def forward(ctx, a, slope=0.01):
        ctx.slope = slope
        ctx.save_for_backward(a)
        return ctx.xp.where(a > 0, a, a * slope)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        from .elementwise import where

        return (where(a > 0, g, g * ctx.slope),)


class Elu(_Act):
    """elu/selu/celu: scale * (x if x > 0 else alpha * (exp(x / beta) - 1) * beta)."""

    @staticmethod
    def forward(ctx, a, alpha=1.0, scale=1.0, beta=1.0):
        xp = ctx.xp
        ctx.args = (alpha, scale, beta)
        ctx.save_for_backward(a)
        return scale * xp.where(a > 0, a, alpha * beta * xp.expm1(xp.minimum(a, 0) / beta))

    @staticmethod
    def backward(ctx, g):
        from .elementwise import clamp, exp, where

        (a,) = ctx.saved_tensors
        alpha, scale, _beta = ctx.args
        return (where(a > 0, g * scale, g * scale * alpha * exp(clamp(a, max=0.0) / _beta)),)


class Gelu(_FusedAct):
    """x * Phi(x). 'tanh': x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) (= 0.5 x (1 + tanh u)).

    Forward saves Phi (or the sigmoid) so backward needs one exp, not a second erf; with create_graph the
    backward is rebuilt from ember ops so higher derivatives stay exact. The CUDA kernels save only x."""

    _K = math.sqrt(2.0 / math.pi)

    @staticmethod
    def forward(ctx, a, approximate="none"):
        xp = ctx.xp
        ctx.approximate = approximate
        if ctx.be.name == "cuda":
            fused, a = _FusedAct._cuda_input(ctx, Gelu, a)
            if fused:
                ctx.save_for_backward(a)
                return _cuda_act().gelu_forward(a, approximate)
        if approximate == "tanh":
            u = xp.multiply(a, a, out=xp.empty_like(a))  # an array even for 0-d input (a * a is a scalar)
            u *= 0.044715
            u += 1.0
            u *= a
            u *= -2.0 * Gelu._K
            xp.exp(u, out=u)
            u += 1.0
            cdf = xp.reciprocal(u, out=u)  # sigmoid(2u)
        else:
            cdf = ctx.be.erf_fast(a * (1.0 / math.sqrt(2.0)))
            cdf += 1.0
            cdf *= 0.5
        ctx.save_for_backward(a, cdf)
        return a * cdf

    @staticmethod
    def backward(ctx, g):
        from ..autograd.grad_mode import is_grad_enabled
        from .elementwise import erf, exp, sigmoid

        if getattr(ctx, "fused", False):
            (a,) = ctx.saved_tensors
            if not is_grad_enabled():
                gx = _cuda_act().gelu_backward(g._data, a._data, ctx.approximate)
                return (_wrap(gx, a._dtype, g._device),)
            a = a.float() if a._dtype in (D.float16, D.bfloat16) else a  # compose in float32, as forward
            cdf = None  # recomputed below (grad enabled)
        else:
            a, cdf = ctx.saved_tensors
        k = Gelu._K
        if ctx.approximate == "tanh":
            if not is_grad_enabled():  # first-order backward: one fused pass set over the arrays
                return (dispatch(_GeluTanhGrad, (g, a, cdf)),)
            cdf = sigmoid(a * (1 + 0.044715 * a * a) * (2 * k))
            du = (1 + 3 * 0.044715 * a * a) * (2 * k)
            return (g * (cdf + a * cdf * (1 - cdf) * du),)
        if is_grad_enabled():
            cdf = 0.5 * (1 + erf(a * (1 / math.sqrt(2.0))))
        pdf = exp(a * a * -0.5) * (1 / math.sqrt(2 * math.pi))
        return (g * (cdf + a * pdf),)


class _GeluTanhGrad(Op):
    """g * d/dx[x * s], s = sigmoid(2u): in place over one scratch buffer (no graph; see Gelu.backward)."""

    differentiable = False

    @staticmethod
    def forward(ctx, g, a, s):
        c2 = 2 * Gelu._K
        d = a * a  # d = (1 + 3*0.044715*a^2) * 2k
        d *= 3 * 0.044715 * c2
        d += c2
        d *= a  # a * du
        t = 1 - s
        t *= s  # s(1-s)
        d *= t
        d += s
        d *= g
        return d.astype(g.dtype, copy=False) if d.dtype != g.dtype else d


class Silu(_FusedAct):
    @staticmethod
    def forward(ctx, a):
        if ctx.be.name == "cuda":
            fused, a = _FusedAct._cuda_input(ctx, Silu, a)
            if fused:
                ctx.save_for_backward(a)
                return _cuda_act().silu_forward(a)
        s = ctx.be.special.expit(a)
        ctx.save_for_backward(a)
        return a * s

    @staticmethod
    def backward(ctx, g):
        from ..autograd.grad_mode import is_grad_enabled
        from .elementwise import sigmoid

        (a,) = ctx.saved_tensors
        if getattr(ctx, "fused", False):
            if not is_grad_enabled():
                return (_wrap(_cuda_act().silu_backward(g._data, a._data), a._dtype, g._device),)
            a = a.float() if a._dtype in (D.float16, D.bfloat16) else a
        s = sigmoid(a)
        return (g * s * (1 + a * (1 - s)),)


class Softplus(_Act):
    @staticmethod
    def forward(ctx, a, beta=1.0, threshold=20.0):
        xp = ctx.xp
        ctx.args = (beta, threshold)
        ctx.save_for_backward(a)
        z = a * beta
        return xp.where(z > threshold, a, xp.logaddexp(0, z) / beta)

    @staticmethod
    def backward(ctx, g):
        from .elementwise import sigmoid, where

        (a,) = ctx.saved_tensors
        beta, threshold = ctx.args
        z = a * beta
        return (where(z > threshold, g, g * sigmoid(z)),)


class Hardtanh(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, lo=-1.0, hi=1.0):
        ctx.args = (lo, hi)
        ctx.save_for_backward(a)
        return ctx.xp.clip(a, lo, hi).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        from .elementwise import where

        (a,) = ctx.saved_tensors
        lo, hi = ctx.args
        return (where((a > lo) & (a < hi), g, 0.0),)


class Hardswish(_Act):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * ctx.xp.clip(a + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        from .elementwise import where

        (a,) = ctx.saved_tensors
        return (where(a <= -3, 0.0, where(a < 3, g * (a / 3 + 0.5), g)),)


class Hardsigmoid(_Act):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.clip(a / 6 + 0.5, 0, 1)

    @staticmethod
    def backward(ctx, g):
        from .elementwise import where

        (a,) = ctx.saved_tensors
        return (where((a > -3) & (a < 3), g / 6, 0.0),)


class Logsigmoid(_Act):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return -ctx.xp.logaddexp(0, -a)

    @staticmethod
    def backward(ctx, g):
        from .elementwise import sigmoid

        (a,) = ctx.saved_tensors
        return (g * sigmoid(-a),)


class Mish(_Act):
    @staticmethod
    def forward(ctx, a):
        xp = ctx.xp
        ctx.save_for_backward(a)
        return a * xp.tanh(xp.logaddexp(0, a))

    @staticmethod
    def backward(ctx, g):
        from .elementwise import sigmoid, tanh

        (a,) = ctx.saved_tensors
        t = tanh(dispatch(Softplus, (a,)))
        return (g * (t + a * sigmoid(a) * (1 - t * t)),)


def _float_in(x, fn):
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        raise RuntimeError(f"\"{fn}\" not implemented for '{D.SCALAR_NAME[x._dtype]}'")
    return x


def relu(input: Tensor) -> Tensor:
    """max(x, 0)."""
    return dispatch(Relu, (input,))


def relu_(input: Tensor) -> Tensor:
    return dispatch(Relu, (input,), inplace=True)


@traceable("F.leaky_relu")
def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return dispatch(LeakyRelu, (_float_in(input, "leaky_relu"),), {"slope": negative_slope})


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    return dispatch(Elu, (_float_in(input, "elu"),), {"alpha": alpha})


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    return dispatch(Elu, (_float_in(input, "celu"),), {"alpha": 1.0, "beta": alpha})


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor) -> Tensor:
    return dispatch(Elu, (_float_in(input, "selu"),), {"alpha": _SELU_ALPHA, "scale": _SELU_SCALE})


@traceable("F.gelu")
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) ('none': exact erf form; 'tanh': the tanh approximation)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate}")
    return dispatch(Gelu, (_float_in(input, "GeluKernelImpl"),), {"approximate": approximate})


@traceable("F.silu")
def silu(input: Tensor) -> Tensor:
    """x * sigmoid(x)."""
    return dispatch(Silu, (_float_in(input, "silu"),))


@traceable("F.softplus")
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return dispatch(Softplus, (_float_in(input, "softplus"),), {"beta": beta, "threshold": threshold})


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return dispatch(Hardtanh, (input,), {"lo": min_val, "hi": max_val})


def relu6(input: Tensor) -> Tensor:
    return hardtanh(input, 0.0, 6.0)


def hardswish(input: Tensor) -> Tensor:
    return dispatch(Hardswish, (_float_in(input, "hardswish"),))


def hardsigmoid(input: Tensor) -> Tensor:
    return dispatch(Hardsigmoid, (_float_in(input, "hardsigmoid"),))


def logsigmoid(input: Tensor) -> Tensor:
    return dispatch(Logsigmoid, (_float_in(input, "log_sigmoid"),))


@traceable("F.mish")
def mish(input: Tensor) -> Tensor:
    return dispatch(Mish, (_float_in(input, "mish"),))


def softsign(input: Tensor) -> Tensor:
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


__all__ = ["celu", "log_softmax", "relu", "relu_", "selu", "softmax"]  # the rest live in nn.functional

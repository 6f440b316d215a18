"""Elementwise unary math, predicates, where, clamp, lerp and friends (forward next to backward)."""

from __future__ import annotations

import math

from .. import _dtype as D
from .._tensor import Tensor
from .._trace_hooks import traceable
from ._dispatch import dispatch
from .op import BOOL, FLOAT, NONE, SAME, Op

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class _Unary(Op):
    """Float-valued unary op: integers promote to the default float, halves compute in float32."""

    promote = FLOAT
    upcast_half = True


class _UnarySame(Op):
    promote = SAME


class _Predicate(Op):
    promote = BOOL
    differentiable = False


def _not_implemented(kernel: str, a) -> NotImplementedError:
    """torch's error for a kernel that has no implementation for this dtype."""
    return NotImplementedError(
        f"\"{kernel}\" not implemented for '{D.SCALAR_NAME[D.from_numpy_dtype(a.dtype)]}'"
    )


def _integral(a) -> bool:
    """Integer or bool array (bfloat16 arrays have kind 'V', so test for the integral kinds)."""
    return a.dtype.kind in "iub"


# ----------------------------------------------------------------------------- sign-like (keep dtype)


class Neg(_UnarySame):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a "
                "mask, use the `~` or `logical_not()` operator instead."
            )
        return -a

    @staticmethod
    def backward(ctx, g):
        return (-g,)


class Abs(_UnarySame):
    @staticmethod
    def forward(ctx, a):
        if a.dtype.kind == "b":
            raise _not_implemented("abs_cpu", a)
        ctx.save_for_backward(a)
        return ctx.xp.abs(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * sign(a),)


class Sign(_UnarySame):
    @staticmethod
    def forward(ctx, a):
        if _integral(a):
            return ctx.xp.sign(a) if a.dtype.kind != "b" else a.copy()
        # torch: sign(nan) = 0 and sign(-0.0) = 0, i.e. (0 < a) - (a < 0)
        return (a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        return (g * 0,)


class _Rounding(_UnarySame):
    """floor/ceil/trunc/round: integers pass through unchanged, bools have no kernel (as in torch)."""

    kernel = ""

    @classmethod
    def _int_passthrough(cls, a):
        if a.dtype.kind == "b":
            raise _not_implemented(cls.kernel, a)
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return (g * 0,)


class Floor(_Rounding):
    kernel = "floor_vml_cpu"

    @staticmethod
    def forward(ctx, a):
        return Floor._int_passthrough(a) if _integral(a) else ctx.xp.floor(a)


class Ceil(_Rounding):
    kernel = "ceil_vml_cpu"

    @staticmethod
    def forward(ctx, a):
        return Ceil._int_passthrough(a) if _integral(a) else ctx.xp.ceil(a)


class Trunc(_Rounding):
    kernel = "trunc_vml_cpu"

    @staticmethod
    def forward(ctx, a):
        return Trunc._int_passthrough(a) if _integral(a) else ctx.xp.trunc(a)


class Round(_Rounding):
    upcast_half = True
    kernel = "round_vml_cpu"

    @staticmethod
    def forward(ctx, a, decimals=None):
        if _integral(a):
            if decimals is not None:  # torch has no integer kernel for round(decimals=...)
                raise _not_implemented("round_cpu" if decimals else "round_vml_cpu", a)
            return Round._int_passthrough(a)
        xp = ctx.xp
        if not decimals or xp.__name__ == "numpy":
            return xp.round(a, decimals or 0)
        # torch (and NumPy): nearbyint(x * 10^d) / 10^d in the input's precision (CuPy differs for float32)
        scale = a.dtype.type(10.0**decimals)
        return xp.rint(a * scale) / scale


class Frac(_UnarySame):
    upcast_half = True

    @staticmethod
    def forward(ctx, a):
        if _integral(a):
            raise _not_implemented("frac_cpu", a)
        return a - ctx.xp.trunc(a)

    @staticmethod
    def backward(ctx, g):
        return (g,)


class Positive(_UnarySame):
    @staticmethod
    def forward(ctx, a):
        return a

    @staticmethod
    def backward(ctx, g):
        return (g,)


# ----------------------------------------------------------------------------- exp / log family


class Exp(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * out,)


class Exp2(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.exp2(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * out * _LN2,)


class Expm1(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.expm1(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * (out + 1),)


class Log(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / a,)


class Log2(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log2(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / (a * _LN2),)


class Log10(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log10(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / (a * _LN10),)


class Log1p(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.log1p(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / (a + 1),)


class Sqrt(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g / (out * 2),)


class Rsqrt(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = 1 / ctx.xp.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * out * out * out * -0.5,)


class Reciprocal(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = 1 / a
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (-g * out * out,)


class Square(_UnarySame):
    node_name = "PowBackward0"
    upcast_half = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * a * 2,)


# ----------------------------------------------------------------------------- trigonometric / hyperbolic


class Sin(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.sin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * cos(a),)


class Cos(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.cos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (-g * sin(a),)


class Tan(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.tan(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * (out * out + 1),)


class Asin(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.arcsin(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * rsqrt(1 - a * a),)


class Acos(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.arccos(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (-g * rsqrt(1 - a * a),)


class Atan(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.arctan(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / (a * a + 1),)


class Sinh(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.sinh(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * cosh(a),)


class Cosh(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.cosh(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * sinh(a),)


class Tanh(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = ctx.xp.tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * (1 - out * out),)


class Asinh(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.arcsinh(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * rsqrt(a * a + 1),)


class Acosh(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.arccosh(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * rsqrt(a * a - 1),)


class Atanh(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.xp.arctanh(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / (1 - a * a),)


class Deg2rad(_Unary):
    @staticmethod
    def forward(ctx, a):
        return a * (math.pi / 180.0)

    @staticmethod
    def backward(ctx, g):
        return (g * (math.pi / 180.0),)


class Rad2deg(_Unary):
    @staticmethod
    def forward(ctx, a):
        return a * (180.0 / math.pi)

    @staticmethod
    def backward(ctx, g):
        return (g * (180.0 / math.pi),)


# ----------------------------------------------------------------------------- special functions


class Sigmoid(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = ctx.be.special.expit(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * out * (1 - out),)


class Logit(_Unary):
    @staticmethod
    def forward(ctx, a, eps=None):
        xp = ctx.xp
        ctx.eps = eps
        ctx.save_for_backward(a)
        if eps is not None:  # torch's clamp order: x < lo ? lo : (x > hi ? hi : x), even when lo > hi
            lo, hi = eps, 1 - eps
            a = xp.where(a < lo, lo, xp.where(a > hi, hi, a)).astype(a.dtype, copy=False)
        return xp.log(a / (1 - a))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        eps = ctx.eps
        # torch: at exactly 0 or 1 the gradient is grad * inf (its sign follows grad, not the side of 0)
        d = where((a == 0) | (a == 1), g * math.inf, g / (a * (1 - a)))
        if eps is None:
            return (where((a < 0) | (a > 1), float("nan"), d),)
        return (where((a < eps) | (a > 1 - eps), 0.0, d),)


class Erf(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.be.special.erf(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * exp(-a * a) * _TWO_OVER_SQRT_PI,)


class Erfc(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return ctx.be.special.erfc(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (-g * exp(-a * a) * _TWO_OVER_SQRT_PI,)


class Erfinv(_Unary):
    @staticmethod
    def forward(ctx, a):
        out = ctx.be.special.erfinv(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * exp(out * out) * (math.sqrt(math.pi) / 2),)


class Lgamma(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        xp = ctx.xp
        # torch: lgamma(-inf) = +inf (SciPy gives -inf)
        return xp.where(xp.isneginf(a), xp.inf, ctx.be.special.gammaln(a)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * digamma(a),)


class Digamma(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        xp = ctx.xp
        out = ctx.be.special.psi(a)
        # torch: digamma(+0) = -inf, digamma(-0) = +inf (some SciPy versions give nan at the pole)
        return xp.where(a == 0, xp.copysign(xp.inf, -a), out).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * dispatch(Polygamma1, (a,)),)


class Polygamma1(_Unary):
    node_name = "PolygammaBackward0"

    @staticmethod
    def forward(ctx, a):
        return ctx.be.special.polygamma(ctx.xp.asarray(1), a)


class Sinc(_Unary):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        xp = ctx.xp
        if xp.__name__ == "numpy":
            return xp.sinc(a)
        pa = a * a.dtype.type(math.pi)  # torch's formula in the input's precision (CuPy's sinc differs at inf)
        with_pi = xp.sin(pa) / pa
        return xp.where(a == 0, a.dtype.type(1), with_pi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        pa = a * math.pi
        d = (cos(pa) * pa - sin(pa)) / (pa * a)
        return (g * where(a == 0, 0.0, d),)


class Xlogy(Op):
    promote = FLOAT
    upcast_half = True

    @staticmethod
    def forward(ctx, x, y):
        xp = ctx.xp
        ctx.save_for_backward(x, y)
        out = x * xp.log(y)
        return xp.where((xp.asarray(x) == 0) & ~xp.isnan(y), 0.0, out).astype(out.dtype)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = gy = None
        if ctx.needs_input_grad[0]:  # torch: xlogy(grad, y).masked_fill((x == 0) & (y <= 0), 0)
            gx = where((x == 0) & (y <= 0), 0.0, dispatch(Xlogy, (g, y)))
        if ctx.needs_input_grad[1]:
            gy = g * x / y
        return gx, gy


class NanToNum(_UnarySame):
    upcast_half = True  # NumPy's nan_to_num leaves bfloat16 untouched

    @staticmethod
    def forward(ctx, a, nan=0.0, posinf=None, neginf=None):
        if _integral(a):
            return a.copy()
        xp = ctx.xp
        # save the mask, not the input, so that nan_to_num_ (which overwrites the input) keeps its gradient
        ctx.save_for_backward(xp.isfinite(a) if ctx.needs_input_grad[0] else None)
        return xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        (finite,) = ctx.saved_tensors
        return (g * finite,)


# ----------------------------------------------------------------------------- predicates


class Isnan(_Predicate):
    @staticmethod
    def forward(ctx, a):
        return ctx.xp.isnan(a)


class Isinf(_Predicate):
    @staticmethod
    def forward(ctx, a):
        return ctx.xp.isinf(a)


class Isfinite(_Predicate):
    @staticmethod
    def forward(ctx, a):
        return ctx.xp.isfinite(a)


class Isposinf(_Predicate):
    @staticmethod
    def forward(ctx, a):
        return ctx.xp.isposinf(a)


class Isneginf(_Predicate):
    @staticmethod
    def forward(ctx, a):
        return ctx.xp.isneginf(a)


class Signbit(_Predicate):
    @staticmethod
    def forward(ctx, a):
        return ctx.xp.signbit(a)


# ----------------------------------------------------------------------------- selection


class Where(Op):
    promote = NONE

    @staticmethod
    def forward(ctx, cond, a, b, dtype=None):
        xp = ctx.xp
        ctx.save_for_backward(cond)
        out = xp.where(cond, a, b)
        if dtype is not None and out.dtype != dtype.np:
            out = out.astype(dtype.np)
        return out

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        ga = where(cond, g, 0.0) if ctx.needs_input_grad[1] else None
        gb = where(cond, 0.0, g) if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Clamp(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, lo, hi):
        xp = ctx.xp
        if a.dtype.kind == "b" and (isinstance(lo, (bool, int, float)) or isinstance(hi, (bool, int, float))):
            raise _not_implemented("clamp_min_scalar_cpu" if hi is None else "clamp_scalar_cpu", a)
        ctx.save_for_backward(a, lo, hi)
        out = a
        if lo is not None:  # maximum/minimum propagate NaN from the input and from the bounds, as torch does
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        return out if out is not a else a.copy()

    @staticmethod
    def backward(ctx, g):
        # torch's clamp_backward / clamp_backward_min_max (the input gets the subgradient 1 at the bounds)
        a, lo, hi = ctx.saved_tensors
        need = ctx.needs_input_grad
        glo = ghi = None
        if lo is None:
            ga = where(a <= hi, g, 0.0)
            ghi = where(a > hi, g, 0.0) if need[2] else None
        elif hi is None:
            ga = where(a >= lo, g, 0.0)
            glo = where(a < lo, g, 0.0) if need[1] else None
        else:
            ga = where((a >= lo) & (a <= hi), g, 0.0)
            if need[1]:  # if min > max, min gets no gradient
                glo = where((a < lo) & (lo < hi), g, 0.0)
            if need[2]:
                ghi = where((a > hi) | (hi < lo), g, 0.0)
        return ga, glo, ghi


class Lerp(Op):
    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, start, end, weight):
        xp = ctx.xp
        need = ctx.needs_input_grad
        ctx.save_for_backward(start if need[2] else None, end if need[2] else None, weight)
        # torch's two-sided formula (exact at weight 0 and 1)
        diff = end - start
        lo = start + weight * diff
        hi = end - diff * (1 - weight)
        return xp.where(xp.abs(weight) < 0.5, lo, hi).astype(lo.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        start, end, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        gs = g * (1 - weight) if need[0] else None
        ge = g * weight if need[1] else None
        gw = g * (end - start) if need[2] else None
        return gs, ge, gw


# ----------------------------------------------------------------------------- public functions


def _unary(op):
    def fn(input, *, out=None):
        r = dispatch(op, (input,))
        if out is not None:
            from .inplace import write_out

            return write_out(out, r)
        return r

    fn.__name__ = op.__name__.lower()
    fn.__qualname__ = fn.__name__
    fn.__doc__ = f"Elementwise {fn.__name__}."
    return fn


neg = _unary(Neg)
negative = neg
abs = _unary(Abs)
absolute = abs
sign = _unary(Sign)
sgn = sign
floor = _unary(Floor)
ceil = _unary(Ceil)
trunc = _unary(Trunc)
fix = trunc
frac = _unary(Frac)
exp = _unary(Exp)
exp2 = _unary(Exp2)
expm1 = _unary(Expm1)
log = _unary(Log)
log2 = _unary(Log2)
log10 = _unary(Log10)
log1p = _unary(Log1p)
sqrt = _unary(Sqrt)
rsqrt = _unary(Rsqrt)
reciprocal = _unary(Reciprocal)


def square(input, *, out=None):
    """input * input; bool inputs give int64, as torch's pow(input, 2) does."""
    if isinstance(input, Tensor) and input._dtype is D.bool_:
        input = input.to(D.int64)
    r = dispatch(Square, (input,))
    if out is not None:
        from .inplace import write_out

        return write_out(out, r)
    return r


sin = _unary(Sin)
cos = _unary(Cos)
tan = _unary(Tan)
asin = arcsin = _unary(Asin)
acos = arccos = _unary(Acos)
atan = arctan = _unary(Atan)
sinh = _unary(Sinh)
cosh = _unary(Cosh)
tanh = _unary(Tanh)
asinh = arcsinh = _unary(Asinh)
acosh = arccosh = _unary(Acosh)
atanh = arctanh = _unary(Atanh)
deg2rad = _unary(Deg2rad)
rad2deg = _unary(Rad2deg)
sigmoid = _unary(Sigmoid)
erf = _unary(Erf)
erfc = _unary(Erfc)
erfinv = _unary(Erfinv)
lgamma = _unary(Lgamma)
digamma = _unary(Digamma)
sinc = _unary(Sinc)
isnan = _unary(Isnan)
isinf = _unary(Isinf)
isfinite = _unary(Isfinite)
isposinf = _unary(Isposinf)
isneginf = _unary(Isneginf)
signbit = _unary(Signbit)


def positive(input):
    """input itself (not a copy); bool tensors are refused, as in torch."""
    if input._dtype is D.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def round(input, *, decimals: int | None = None):
    """Round half to even; with decimals, to that many decimal places (negative: to tens, hundreds, ...)."""
    return dispatch(Round, (input,), {"decimals": decimals} if decimals is not None else {})


def logit(input, eps=None):
    return dispatch(Logit, (input,), {"eps": eps} if eps is not None else {})


def xlogy(input, other):
    return dispatch(Xlogy, (input, other))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with `nan`, +inf with `posinf` (default: dtype max), -inf with `neginf` (dtype min)."""
    if input._dtype.is_floating_point:
        fi = D.finfo(input._dtype)
        posinf = fi.max if posinf is None else posinf
        neginf = fi.min if neginf is None else neginf
    return dispatch(NanToNum, (input,), {"nan": nan, "posinf": posinf, "neginf": neginf})


@traceable("E.where")
def where(condition, input=None, other=None):
    """Elements of `input` where `condition`, else of `other` (either may be a scalar)."""
    if input is None and other is None:
        from .index import nonzero

        return nonzero(condition, as_tuple=True)
    from .promote import result_type

    dt = result_type(input, other)
    if isinstance(input, Tensor) and input._dtype is not dt:
        input = input.to(dt)
    if isinstance(other, Tensor) and other._dtype is not dt:
        other = other.to(dt)
    if not isinstance(condition, Tensor):
        from .factory import full, tensor

        like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
        dev = None if like is None else like._device
        if isinstance(condition, (bool, int)):  # a fill on the device: no host copy (graph-safe)
            condition = full((), bool(condition), dtype=D.bool_, device=dev)
        else:
            condition = tensor(condition, dtype=D.bool_, device=dev)
    elif condition._dtype is not D.bool_:
        if condition._dtype is D.uint8:
            condition = condition.to(D.bool_)
        else:
            raise RuntimeError(
                f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                f"{D.SCALAR_NAME[condition._dtype]}"
            )
    return dispatch(Where, (condition, input, other), {"dtype": dt})


def clamp(input, min=None, max=None, *, out=None):
    """Clamp into [min, max]; min/max may be scalars or tensors (if min > max, the result is max)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    r = dispatch(Clamp, (input, min, max))
    if out is not None:
        from .inplace import write_out

        return write_out(out, r)
    return r


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


_LERP_NAMES = {
    D.float16: "c10::Half",
    D.bfloat16: "c10::BFloat16",
    D.float32: "float",
    D.float64: "double",
    D.int64: "long int",
    D.int32: "int",
    D.int16: "short int",
    D.int8: "signed char",
    D.uint8: "unsigned char",
    D.bool_: "bool",
}


def lerp(input, end, weight):
    """input + weight * (end - input); end (and a non-0-d weight tensor) must have input's dtype."""
    dt = input._dtype
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t._dtype is not dt and not (name == "weight" and t.dim() == 0):
            raise RuntimeError(
                f"expected dtype {_LERP_NAMES.get(dt, dt)} for `{name}` but got dtype "
                f"{_LERP_NAMES.get(t._dtype, t._dtype)}"
            )
    if not (dt.is_floating_point or dt.is_complex):
        kernel = "lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{D.SCALAR_NAME[dt]}'")
    if isinstance(weight, Tensor) and weight._dtype is not dt:
        weight = weight.to(dt)
    return dispatch(Lerp, (input, end, weight))


def _value_for(input, tensor1, tensor2, value):
    """addcmul/addcdiv's `value`, converted as torch does: truncated to int for integral results."""
    dims, zeros = [], []
    for t in (input, tensor1, tensor2):
        (dims if t.dim() else zeros).append(t._dtype)
    dt = D.result_type_from(tuple(dims), tuple(zeros), ())
    if dt is D.bool_:
        raise NotImplementedError("\"addcmul_cpu_out\" not implemented for 'Bool'")
    if not (dt.is_floating_point or dt.is_complex) and not isinstance(value, bool):
        return int(value)
    return value


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2 (a composition of primitives)."""
    value = _value_for(input, tensor1, tensor2, value)
    prod = tensor1 * tensor2
    return input + (prod * value if value != 1 else prod)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    if not tensor1._dtype.is_floating_point and not tensor2._dtype.is_floating_point:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release addcdiv will perform "
            "a true division of tensor1 and tensor2."
        )
    q = tensor1 / tensor2
    return input + (q * value if value != 1 else q)


def ones_like(t):
    from .factory import ones_like as _ol

    return _ol(t)


__all__ = [
    "abs",
    "absolute",
    "acos",
    "acosh",
    "addcdiv",
    "addcmul",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctanh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "ceil",
    "clamp",
    "clamp_max",
    "clamp_min",
    "clip",
    "cos",
    "cosh",
    "deg2rad",
    "digamma",
    "erf",
    "erfc",
    "erfinv",
    "exp",
    "exp2",
    "expm1",
    "fix",
    "floor",
    "frac",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "lerp",
    "lgamma",
    "log",
    "log10",
    "log1p",
    "log2",
    "logit",
    "nan_to_num",
    "neg",
    "negative",
    "positive",
    "rad2deg",
    "reciprocal",
    "round",
    "rsqrt",
    "sgn",
    "sigmoid",
    "sign",
    "signbit",
    "sin",
    "sinc",
    "sinh",
    "sqrt",
    "square",
    "tan",
    "tanh",
    "trunc",
    "where",
    "xlogy",
]

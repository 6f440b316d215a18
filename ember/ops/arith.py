"""Binary arithmetic: add, sub, mul, div, pow, floor_divide, remainder, fmod, maximum, minimum, atan2, ..."""

from __future__ import annotations

from .. import _dtype as D
from .._tensor import Tensor
from ._dispatch import dispatch
from .op import FLOAT, SAME, Op


def _not_implemented(kernel: str, dt) -> NotImplementedError:
    """torch's error for a kernel that has no implementation for this dtype."""
    return NotImplementedError(f"\"{kernel}\" not implemented for '{D.SCALAR_NAME[dt]}'")


def _result_dtype(input, other):
    from .promote import result_type

    return result_type(input, other)


def _refuse_bool(kernel: str, input, other) -> None:
    if _result_dtype(input, other) is D.bool_:
        raise _not_implemented(kernel, D.bool_)


def _refuse_integral(kernel: str, input, other) -> None:
    dt = _result_dtype(input, other)
    if not (dt.is_floating_point or dt.is_complex):
        raise _not_implemented(kernel, dt)


def _require_tensors(name: str, input, other, first_only: bool = False) -> None:
    """torch's TypeError for functions that take no Python numbers (at all, or as the first argument)."""
    for pos, argname, x in ((1, "input", input), (2, "other", other)):
        if pos == 2 and first_only:
            break
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{name}(): argument '{argname}' (position {pos}) must be Tensor, not {type(x).__name__}"
            )


class Add(Op):
    promote = SAME
    mixed_floats = True

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        be = ctx.be
        if alpha == 1:
            return be.add(a, b)
        return be.add(a, be.mul(_alpha_for(a, b, alpha), b))

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.alpha
        return g, (g if alpha == 1 else g * alpha)

    @staticmethod
    def forward_inplace(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        xp = ctx.xp
        xp.add(a, b if alpha == 1 else b * _alpha_for(a, b, alpha), out=a, casting="unsafe")
        return a


class Sub(Op):
    promote = SAME
    mixed_floats = True

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        be = ctx.be
        return be.sub(a, b) if alpha == 1 else be.sub(a, be.mul(_alpha_for(a, b, alpha), b))

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.alpha
        gb = None
        if ctx.needs_input_grad[1]:
            gb = -g if alpha == 1 else g * (-alpha)
        return g, gb

    @staticmethod
    def forward_inplace(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        ctx.xp.subtract(a, b if alpha == 1 else b * alpha, out=a, casting="unsafe")
        return a


def _alpha_for(a, b, alpha):
    """alpha as torch casts it to the computation dtype: a bool for bool results (so -1 means True)."""
    if hasattr(a, "dtype") and hasattr(b, "dtype") and a.dtype.kind == "b":
        return bool(alpha)
    return alpha


class Mul(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        return ctx.be.mul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (g * b if need[0] else None), (g * a if need[1] else None)


class Div(Op):
    promote = FLOAT

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return ctx.be.truediv(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = g / b if need[0] else None
        gb = -g * ((a / b) / b) if need[1] else None  # torch's div_tensor_other_backward
        return ga, gb


class DivRounded(Op):
    """div with rounding_mode 'trunc' or 'floor' (gradient is zero almost everywhere, as in torch)."""

    node_name = "DivBackward1"
    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b, rounding_mode="trunc"):
        xp = ctx.xp
        integral = _kind(xp, a) in "iub" and _kind(xp, b) in "iub"
        # floats: Python's floor division (fmod-corrected, not floor(a / b)), like torch's div_floor
        if rounding_mode == "floor":
            return _int_floor_divide(xp, a, b) if integral else _float_floor_divide(xp, a, b)
        return _int_trunc_divide(xp, a, b) if integral else xp.trunc(a / b)

    @staticmethod
    def backward(ctx, g):
        return g * 0, g * 0


def _kind(xp, x) -> str:
    return xp.asarray(x).dtype.kind


def _float_floor_divide(xp, a, b):
    """Python's float floor division (fmod-corrected), which NumPy implements and CuPy does not (CuPy gives
    floor(a / b): 7 // 0.1 -> 70 instead of 69). Same algorithm as torch's div_floor."""
    if xp.__name__ == "numpy":
        return xp.floor_divide(a, b)
    a = xp.asarray(a)
    b = xp.asarray(b, dtype=a.dtype) if not hasattr(b, "dtype") else b
    mod = xp.fmod(a, b)
    div = (a - mod) / b
    div = div - ((mod != 0) & ((b < 0) != (mod < 0)))
    fl = xp.floor(div)
    fl = xp.where(div - fl > 0.5, fl + 1, fl)
    fl = xp.where(div == 0, xp.copysign(xp.zeros_like(div), a / b), fl)
    return xp.where(b == 0, a / b, fl).astype(xp.result_type(a, b), copy=False)


def _int_floor_divide(xp, a, b):
    _check_int_zero(xp, b, "floor_divide")
    return xp.floor_divide(a, b)


def _int_trunc_divide(xp, a, b):
    _check_int_zero(xp, b, "div")
    q = xp.floor_divide(a, b)
    r = a - q * b
    return q + ((r != 0) & ((xp.asarray(a) < 0) != (xp.asarray(b) < 0)))


def _check_int_zero(xp, b, name):
    # torch raises RuntimeError("ZeroDivisionError") for integer division by zero on CPU
    if xp.__name__ == "numpy" and bool(xp.any(xp.asarray(b) == 0)):
        raise RuntimeError("ZeroDivisionError")


class Pow(Op):
    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        if isinstance(a, xp.ndarray) and a.dtype.kind == "b":  # bool_tensor ** True/False: a copy, or ones
            return a.copy() if b else xp.ones_like(a)
        if _kind(xp, a) in "iu" and _kind(xp, b) in "iu":
            if not isinstance(b, xp.ndarray) and b < 0:  # only a Python-number exponent is refused
                raise RuntimeError("Integers to negative integer powers are not allowed.")
            out = _int_pow(xp, a, b)
        else:
            out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E
        from .factory import zeros_like

        a, b, out = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = gb = None
        if need[0] and not isinstance(b, Tensor):  # a number exponent, as torch's pow_backward(Scalar)
            ga = zeros_like(g) if b == 0 else g * b * (a ** (b - 1))
        elif need[0]:
            ga = E.where(b == 0, 0.0, g * b * (a ** (b - 1)))
        if need[1]:
            gb = E.where((a == 0) & (b >= 0), 0.0, g * out * E.log(a))
        return ga, gb


def _int_pow(xp, a, b):
    """Integer power with torch's rule for negative exponents: 1 for base 1, +-1 for base -1, else 0."""
    neg = xp.asarray(b) < 0
    if not xp.any(neg):
        return xp.power(a, b)
    dt = xp.result_type(a, b)
    a_, b_ = xp.asarray(a).astype(dt, copy=False), xp.asarray(b).astype(dt, copy=False)
    out = xp.power(a_, xp.where(neg, 0, b_).astype(dt, copy=False))
    odd = (b_ % 2) != 0
    small = xp.where(a_ == 1, 1, xp.where(a_ == -1, xp.where(odd, -1, 1), 0)).astype(dt, copy=False)
    return xp.where(neg, small, out)


class FloorDivide(Op):
    """torch.floor_divide: like div(rounding_mode='floor'), but without a derivative (as in torch)."""

    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        if _kind(xp, a) in "iub" and _kind(xp, b) in "iub":
            return _int_floor_divide(xp, a, b)
        return _float_floor_divide(xp, a, b)

    @staticmethod
    def backward(ctx, g):
        raise NotImplementedError("derivative for aten::floor_divide is not implemented")


class Remainder(Op):
    """Python-style modulus (sign of the divisor)."""

    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        ctx.save_for_backward(a, b)
        if _kind(xp, a) in "iu" and _kind(xp, b) in "iu":
            _check_int_zero(xp, b, "remainder")
            return xp.remainder(a, b)
        # torch: m = fmod(a, b); m + b where m != 0 and sign(m) != sign(b) (a zero result keeps a's sign)
        m = xp.fmod(a, b)
        return xp.where((m != 0) & ((xp.asarray(b) < 0) != (m < 0)), m + b, m).astype(m.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        if not isinstance(a, Tensor):
            raise NotImplementedError("derivative for aten::remainder is not implemented")
        gb = -g * div(a, b, rounding_mode="floor") if ctx.needs_input_grad[1] else None
        return g, gb


class Fmod(Op):
    """C-style modulus (sign of the dividend)."""

    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        if _kind(xp, a) in "iu" and _kind(xp, b) in "iu":
            _check_int_zero(xp, b, "fmod")
        ctx.save_for_backward(a, b)
        return xp.fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gb = -g * div(a, b, rounding_mode="trunc") if ctx.needs_input_grad[1] else None
        return g, gb


class Maximum(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        # torch: ties split the gradient evenly; where a NaN is involved, both inputs get the full gradient
        from . import elementwise as E

        a, b = ctx.saved_tensors
        ga = gb = None
        half = E.where(a == b, g / 2, g)
        if ctx.needs_input_grad[0]:
            ga = E.where(a < b, 0.0, half)
        if ctx.needs_input_grad[1]:
            gb = E.where(a > b, 0.0, half)
        return ga, gb


class Minimum(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b = ctx.saved_tensors
        ga = gb = None
        half = E.where(a == b, g / 2, g)
        if ctx.needs_input_grad[0]:
            ga = E.where(a > b, 0.0, half)
        if ctx.needs_input_grad[1]:
            gb = E.where(a < b, 0.0, half)
        return ga, gb


class Fmax(Op):
    """Maximum ignoring NaN; the gradient goes to the chosen input (input on ties), as in torch."""

    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.fmax(a, b)

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b = ctx.saved_tensors
        pick_a = (a >= b) | E.isnan(b)
        return E.where(pick_a, g, 0.0), E.where(pick_a, 0.0, g)


class Fmin(Op):
    """Minimum ignoring NaN; the gradient goes to the chosen input (input on ties), as in torch."""

    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.fmin(a, b)

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b = ctx.saved_tensors
        pick_a = (a <= b) | E.isnan(b)
        return E.where(pick_a, g, 0.0), E.where(pick_a, 0.0, g)


class Atan2(Op):
    promote = FLOAT
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b = ctx.saved_tensors
        recip = E.reciprocal(a * a + b * b)
        recip = E.where(E.isinf(recip), 0.0, recip)  # torch: zero gradient at the origin
        return g * b * recip, g * -a * recip


class Hypot(Op):
    promote = FLOAT
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        return g * a / out, g * b / out


class Copysign(Op):
    promote = FLOAT

    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.copysign(a, b)
        ctx.save_for_backward(a, b if ctx.needs_input_grad[1] else None, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # torch: grad * (result / input), zero where input == 0; the sign source gets zeros
        from . import elementwise as E
        from .factory import zeros_like

        a, b, out = ctx.saved_tensors
        ga = g * E.where(a == 0, 0.0, out / a) if ctx.needs_input_grad[0] else None
        gb = zeros_like(b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Logaddexp(Op):
    promote = FLOAT
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.logaddexp(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b, out = ctx.saved_tensors
        return g / (E.exp(b - a) + 1), g / (E.exp(a - b) + 1)


# ------------------------------------------------------------------------------ public functions


def _check_alpha(op, a, b, alpha):
    dt = _result_dtype(a, b)
    if isinstance(alpha, float) and not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    if isinstance(alpha, bool) and dt is not D.bool_:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")


def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, with broadcasting and torch type promotion."""
    if alpha != 1 or isinstance(alpha, bool):
        _check_alpha("add", input, other, alpha)
        r = dispatch(Add, (input, other), {"alpha": alpha})
    else:
        r = dispatch(Add, (input, other))
    return _out(r, out)


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    _check_bool_sub(input, other)
    if alpha != 1 or isinstance(alpha, bool):
        _check_alpha("sub", input, other, alpha)
        return _out(dispatch(Sub, (input, other), {"alpha": alpha}), out)
    r = dispatch(Sub, (input, other))
    return _out(r, out)


subtract = sub


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    _require_tensors("rsub", input, other, first_only=True)
    return sub(other, input, alpha=alpha)


def _check_bool_sub(a, b):
    from .. import _dtype as D

    def isbool(x):
        return isinstance(x, bool) or (isinstance(x, Tensor) and x._dtype is D.bool_)

    if isbool(a) and isbool(b):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
            "`logical_xor()` operator instead."
        )
    if isbool(a) or isbool(b):
        if isinstance(a, Tensor) and a._dtype is D.bool_ or isinstance(b, Tensor) and b._dtype is D.bool_:
            raise RuntimeError(
                "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                "invert a mask, use the `~` or `logical_not()` operator instead."
            )


def mul(input, other, *, out=None):
    return _out(dispatch(Mul, (input, other)), out)


multiply = mul


def div(input, other, *, rounding_mode=None, out=None):
    """True division (integers give floats); rounding_mode 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        return _out(dispatch(Div, (input, other)), out)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
        )
    _refuse_bool(f"div_{rounding_mode}_cpu", input, other)
    return _out(dispatch(DivRounded, (input, other), {"rounding_mode": rounding_mode}), out)


divide = div
true_divide = div


def floor_divide(input, other, *, out=None):
    """Floor of input / other (Python semantics for floats); has no derivative, as in torch."""
    _refuse_bool("div_floor_cpu", input, other)
    return _out(dispatch(FloorDivide, (input, other)), out)


def pow(input, exponent, *, out=None):
    """input ** exponent (either may be a scalar)."""
    if not (isinstance(exponent, bool) and isinstance(input, Tensor)):  # bool ** True/False is allowed
        _refuse_bool("pow", input, exponent)
    if (
        type(exponent) is int
        and exponent < 0
        and isinstance(input, Tensor)
        and not (input._dtype.is_floating_point or input._dtype.is_complex)
    ):
        # checked before dispatch wraps the scalar into the tensor's integer dtype
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _out(dispatch(Pow, (input, exponent)), out)


def float_power(input, exponent):
    from .. import _dtype as D
    from .convert import to_dtype

    a = to_dtype(input, D.float64) if isinstance(input, Tensor) else float(input)
    b = to_dtype(exponent, D.float64) if isinstance(exponent, Tensor) else exponent
    return dispatch(Pow, (a, b))


def remainder(input, other, *, out=None):
    """Python-style modulus: the result has the sign of `other`."""
    _refuse_bool("remainder_cpu", input, other)
    return _out(dispatch(Remainder, (input, other)), out)


def fmod(input, other, *, out=None):
    """C-style modulus: the result has the sign of `input`."""
    _require_tensors("fmod", input, other, first_only=True)
    _refuse_bool("fmod_cpu", input, other)
    return _out(dispatch(Fmod, (input, other)), out)


def maximum(input, other, *, out=None):
    """Elementwise maximum (NaN propagates)."""
    _require_tensors("maximum", input, other)
    return _out(dispatch(Maximum, (input, other)), out)


def minimum(input, other, *, out=None):
    """Elementwise minimum (NaN propagates)."""
    _require_tensors("minimum", input, other)
    return _out(dispatch(Minimum, (input, other)), out)


def fmax(input, other, *, out=None):
    """Elementwise maximum that ignores NaN."""
    _require_tensors("fmax", input, other)
    return _out(dispatch(Fmax, (input, other)), out)


def fmin(input, other, *, out=None):
    """Elementwise minimum that ignores NaN."""
    _require_tensors("fmin", input, other)
    return _out(dispatch(Fmin, (input, other)), out)


def atan2(input, other, *, out=None):
    """Elementwise arctangent of input / other, in the right quadrant."""
    _require_tensors("atan2", input, other)
    return _out(dispatch(Atan2, (input, other)), out)


arctan2 = atan2


def hypot(input, other, *, out=None):
    """sqrt(input**2 + other**2); floating inputs only, as in torch."""
    _require_tensors("hypot", input, other)
    _refuse_integral("hypot_cpu", input, other)
    return _out(dispatch(Hypot, (input, other)), out)


def copysign(input, other, *, out=None):
    """|input| with the sign of other (integers give floats)."""
    _require_tensors("copysign", input, other, first_only=True)
    return _out(dispatch(Copysign, (input, other)), out)


def logaddexp(input, other, *, out=None):
    """log(exp(input) + exp(other)), computed stably; floating inputs only, as in torch."""
    _require_tensors("logaddexp", input, other)
    _refuse_integral("logaddexp_cpu", input, other)
    return _out(dispatch(Logaddexp, (input, other)), out)


def _out(result, out):
    if out is None:
        return result
    from .inplace import write_out

    return write_out(out, result)


__all__ = [
    "add",
    "arctan2",
    "atan2",
    "copysign",
    "div",
    "divide",
    "float_power",
    "floor_divide",
    "fmax",
    "fmin",
    "fmod",
    "hypot",
    "logaddexp",
    "maximum",
    "minimum",
    "mul",
    "multiply",
    "pow",
    "remainder",
    "rsub",
    "sub",
    "subtract",
    "true_divide",
]

"""Binary arithmetic: add, sub, mul, div, pow, floor_divide, remainder, fmod, maximum, minimum, atan2, ..."""

from __future__ import annotations

from .._tensor import Tensor
from ._dispatch import dispatch
from .op import FLOAT, SAME, Op


def _is_int_like(x) -> bool:
    return isinstance(x, int) or (isinstance(x, Tensor) and not x._dtype.is_floating_point)


class Add(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        return a + b if alpha == 1 else a + alpha * b

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.alpha
        return g, (g if alpha == 1 else g * alpha)

    @staticmethod
    def forward_inplace(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        xp = ctx.xp
        xp.add(a, b if alpha == 1 else b * alpha, out=a, casting="unsafe")
        return a


class Sub(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        return a - b if alpha == 1 else a - alpha * b

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


class Mul(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        return a * b

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
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = g / b if need[0] else None
        gb = -g * a / (b * b) if need[1] else None
        return ga, gb


class DivRounded(Op):
    """div with rounding_mode 'trunc' or 'floor' (gradient is zero almost everywhere, as in torch)."""

    node_name = "DivBackward1"
    promote = SAME

    @staticmethod
    def forward(ctx, a, b, rounding_mode="trunc"):
        xp = ctx.xp
        integral = _kind(xp, a) in "iub" and _kind(xp, b) in "iub"
        if rounding_mode == "floor":
            return _int_floor_divide(xp, a, b) if integral else xp.floor(a / b)
        return _int_trunc_divide(xp, a, b) if integral else xp.trunc(a / b)

    @staticmethod
    def backward(ctx, g):
        return g * 0, g * 0


def _kind(xp, x) -> str:
    return xp.asarray(x).dtype.kind


def _int_floor_divide(xp, a, b):
    _check_int_zero(xp, b, "floor_divide")
    return xp.floor_divide(a, b)


def _int_trunc_divide(xp, a, b):
    _check_int_zero(xp, b, "div")
    q = xp.floor_divide(a, b)
    r = a - q * b
    return q + ((r != 0) & ((xp.asarray(a) < 0) != (xp.asarray(b) < 0)))


def _check_int_zero(xp, b, name):
    if xp.__name__ == "numpy" and bool(xp.any(xp.asarray(b) == 0)):
        raise ZeroDivisionError(f"{name}: integer division by zero")


class Pow(Op):
    promote = SAME
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        if isinstance(a, xp.ndarray) and a.dtype.kind in "iu":
            neg = (b < 0) if not isinstance(b, xp.ndarray) else bool(xp.any(b < 0))
            if neg:
                raise RuntimeError("pow(): Integers to negative integer powers are not allowed.")
        out = a**b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b, out = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = gb = None
        if need[0]:
            ga = E.where(b == 0, 0.0, g * b * (a ** (b - 1)))
        if need[1]:
            gb = E.where((a == 0) & (b >= 0), 0.0, g * out * E.log(a))
        return ga, gb


class FloorDivide(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        if _kind(xp, a) in "iub" and _kind(xp, b) in "iub":
            return _int_floor_divide(xp, a, b)
        return xp.floor(a / b)

    @staticmethod
    def backward(ctx, g):
        return g * 0, g * 0


class Remainder(Op):
    """Python-style modulus (sign of the divisor)."""

    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        if _kind(xp, a) in "iu":
            _check_int_zero(xp, b, "remainder")
        ctx.save_for_backward(a, b)
        return xp.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b = ctx.saved_tensors
        gb = -g * E.floor(a / b) if ctx.needs_input_grad[1] else None
        return g, gb


class Fmod(Op):
    """C-style modulus (sign of the dividend)."""

    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        xp = ctx.xp
        if _kind(xp, a) in "iu":
            _check_int_zero(xp, b, "fmod")
        ctx.save_for_backward(a, b)
        return xp.fmod(a, b)

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b = ctx.saved_tensors
        gb = -g * E.trunc(a / b) if ctx.needs_input_grad[1] else None
        return g, gb


class Maximum(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        # torch splits the gradient evenly between equal inputs.
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g * ((a > b).to(g.dtype) + (a == b).to(g.dtype) * 0.5)
        if ctx.needs_input_grad[1]:
            gb = g * ((b > a).to(g.dtype) + (a == b).to(g.dtype) * 0.5)
        return ga, gb


class Minimum(Op):
    promote = SAME

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g * ((a < b).to(g.dtype) + (a == b).to(g.dtype) * 0.5)
        if ctx.needs_input_grad[1]:
            gb = g * ((b < a).to(g.dtype) + (a == b).to(g.dtype) * 0.5)
        return ga, gb


class Fmax(Maximum):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.fmax(a, b)


class Fmin(Minimum):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.fmin(a, b)


class Atan2(Op):
    promote = FLOAT
    upcast_half = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ctx.xp.arctan2(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        denom = a * a + b * b
        return g * b / denom, -g * a / denom


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
        ctx.save_for_backward(a, b)
        return ctx.xp.copysign(a, b)

    @staticmethod
    def backward(ctx, g):
        from . import elementwise as E

        a, b = ctx.saved_tensors
        ga = g * E.where(a == 0, 0.0, E.sign(a) * E.sign(E.copysign(E.ones_like(a), b)))
        return ga, None


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
        return g * E.exp(a - out), g * E.exp(b - out)


# ------------------------------------------------------------------------------ public functions


def _check_alpha(op, a, b, alpha):
    if alpha != 1 and isinstance(alpha, float) and _is_int_like(a) and _is_int_like(b):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")


def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, with broadcasting and torch type promotion."""
    if alpha != 1:
        _check_alpha("add", input, other, alpha)
        r = dispatch(Add, (input, other), {"alpha": alpha})
    else:
        r = dispatch(Add, (input, other))
    return _out(r, out)


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    _check_bool_sub(input, other)
    r = dispatch(Sub, (input, other), {"alpha": alpha}) if alpha != 1 else dispatch(Sub, (input, other))
    return _out(r, out)


subtract = sub


def rsub(input, other, *, alpha=1):
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
        raise ValueError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'"
        )
    return _out(dispatch(DivRounded, (input, other), {"rounding_mode": rounding_mode}), out)


divide = div
true_divide = div


def floor_divide(input, other, *, out=None):
    return _out(dispatch(FloorDivide, (input, other)), out)


def pow(input, exponent, *, out=None):
    """input ** exponent (either may be a scalar)."""
    return _out(dispatch(Pow, (input, exponent)), out)


def float_power(input, exponent):
    from .. import _dtype as D
    from .convert import to_dtype

    a = to_dtype(input, D.float64) if isinstance(input, Tensor) else float(input)
    b = to_dtype(exponent, D.float64) if isinstance(exponent, Tensor) else exponent
    return dispatch(Pow, (a, b))


def remainder(input, other, *, out=None):
    return _out(dispatch(Remainder, (input, other)), out)


def fmod(input, other, *, out=None):
    return _out(dispatch(Fmod, (input, other)), out)


def maximum(input, other, *, out=None):
    return _out(dispatch(Maximum, (input, other)), out)


def minimum(input, other, *, out=None):
    return _out(dispatch(Minimum, (input, other)), out)


def fmax(input, other):
    return dispatch(Fmax, (input, other))


def fmin(input, other):
    return dispatch(Fmin, (input, other))


def atan2(input, other, *, out=None):
    return _out(dispatch(Atan2, (input, other)), out)


arctan2 = atan2


def hypot(input, other):
    return dispatch(Hypot, (input, other))


def copysign(input, other):
    return dispatch(Copysign, (input, other))


def logaddexp(input, other):
    return dispatch(Logaddexp, (input, other))


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

"""Comparisons, logical and bitwise ops, isclose/allclose/equal. None of these carry gradients."""

from __future__ import annotations

from .. import _dtype as D
from .._tensor import Tensor
from ._dispatch import dispatch
from .op import BOOL, SAME, Op


class _Compare(Op):
    promote = BOOL
    differentiable = False


class Eq(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.equal(a, b)


class Ne(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.not_equal(a, b)


class Lt(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.less(a, b)


class Le(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.less_equal(a, b)


class Gt(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.greater(a, b)


class Ge(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.greater_equal(a, b)


class LogicalAnd(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.logical_and(a, b)


class LogicalOr(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.logical_or(a, b)


class LogicalXor(_Compare):
    @staticmethod
    def forward(ctx, a, b):
        return ctx.xp.logical_xor(a, b)


class LogicalNot(_Compare):
    @staticmethod
    def forward(ctx, a):
        return ctx.xp.logical_not(a)


class _Bitwise(Op):
    """Integer/bool-only ops: any floating operand (or a float Python number) has no kernel, as in torch."""

    promote = SAME
    differentiable = False
    kernel = ""
    bool_ok = True

    @classmethod
    def _check(cls, *args):
        for a in args:
            kind = a.dtype.kind if hasattr(a, "dtype") else ("f" if isinstance(a, float) else "i")
            if kind not in "iub" or (kind == "b" and not cls.bool_ok):
                dt = D.from_numpy_dtype(a.dtype) if hasattr(a, "dtype") else D.float32
                raise NotImplementedError(f"\"{cls.kernel}\" not implemented for '{D.SCALAR_NAME[dt]}'")


class BitwiseAnd(_Bitwise):
    public_name = "bitwise_and"
    kernel = "bitwise_and_cpu"

    @staticmethod
    def forward(ctx, a, b):
        BitwiseAnd._check(a, b)
        return ctx.xp.bitwise_and(a, b)


class BitwiseOr(_Bitwise):
    public_name = "bitwise_or"
    kernel = "bitwise_or_cpu"

    @staticmethod
    def forward(ctx, a, b):
        BitwiseOr._check(a, b)
        return ctx.xp.bitwise_or(a, b)


class BitwiseXor(_Bitwise):
    public_name = "bitwise_xor"
    kernel = "bitwise_xor_cpu"

    @staticmethod
    def forward(ctx, a, b):
        BitwiseXor._check(a, b)
        return ctx.xp.bitwise_xor(a, b)


class BitwiseNot(_Bitwise):
    public_name = "bitwise_not"
    kernel = "bitwise_not_cpu"

    @staticmethod
    def forward(ctx, a):
        BitwiseNot._check(a)
        return ctx.xp.logical_not(a) if a.dtype.kind == "b" else ctx.xp.invert(a)


class BitwiseLeftShift(_Bitwise):
    public_name = "bitwise_left_shift"
    kernel = "lshift_cpu"
    bool_ok = False

    @staticmethod
    def forward(ctx, a, b):
        BitwiseLeftShift._check(a, b)
        return ctx.xp.left_shift(a, b)


class BitwiseRightShift(_Bitwise):
    public_name = "bitwise_right_shift"
    kernel = "rshift_cpu"
    bool_ok = False

    @staticmethod
    def forward(ctx, a, b):
        BitwiseRightShift._check(a, b)
        return ctx.xp.right_shift(a, b)


class Isclose(_Compare):
    @staticmethod
    def forward(ctx, a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
        return ctx.xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _binary(op, name, tensor_input=True, tensor_other=False):
    def fn(input, other, *, out=None):
        if tensor_input and not isinstance(input, Tensor):  # torch takes no Python number first here
            raise TypeError(
                f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
            )
        if tensor_other and not isinstance(other, Tensor):
            raise TypeError(
                f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}"
            )
        r = dispatch(op, (input, other))
        if out is not None:
            from .inplace import write_out

            return write_out(out, r)
        return r

    fn.__name__ = fn.__qualname__ = name
    return fn


eq = _binary(Eq, "eq")
ne = not_equal = _binary(Ne, "ne")
lt = less = _binary(Lt, "lt")
le = less_equal = _binary(Le, "le")
gt = greater = _binary(Gt, "gt")
ge = greater_equal = _binary(Ge, "ge")
logical_and = _binary(LogicalAnd, "logical_and", tensor_other=True)
logical_or = _binary(LogicalOr, "logical_or", tensor_other=True)
logical_xor = _binary(LogicalXor, "logical_xor", tensor_other=True)
bitwise_and = _binary(BitwiseAnd, "bitwise_and", tensor_input=False)
bitwise_or = _binary(BitwiseOr, "bitwise_or", tensor_input=False)
bitwise_xor = _binary(BitwiseXor, "bitwise_xor", tensor_input=False)
bitwise_left_shift = _binary(BitwiseLeftShift, "bitwise_left_shift", tensor_input=False)
bitwise_right_shift = _binary(BitwiseRightShift, "bitwise_right_shift", tensor_input=False)


def logical_not(input):
    return dispatch(LogicalNot, (input,))


def bitwise_not(input):
    return dispatch(BitwiseNot, (input,))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, elementwise."""
    for pos, name, x in ((1, "input", input), (2, "other", other)):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"isclose(): argument '{name}' (position {pos}) must be Tensor, not {type(x).__name__}"
            )
    if input._dtype is not other._dtype:
        raise RuntimeError(f"{D.SCALAR_NAME[input._dtype]} did not match {D.SCALAR_NAME[other._dtype]}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    return dispatch(Isclose, (input, other), {"rtol": rtol, "atol": atol, "equal_nan": equal_nan})


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input, other) -> bool:
    """True if both tensors have the same shape and elements."""
    if input.shape != other.shape:
        return False
    return bool(eq(input, other).all().item())


__all__ = [
    "allclose",
    "bitwise_and",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "eq",
    "equal",
    "ge",
    "greater",
    "greater_equal",
    "gt",
    "isclose",
    "le",
    "less",
    "less_equal",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "lt",
    "ne",
    "not_equal",
]

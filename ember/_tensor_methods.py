"""Bind the op table onto Tensor: methods, in-place variants and Python operators.

Every method here is a thin wrapper over a public function in ``ember.ops`` (or over the Op it
dispatches in place), so there is exactly one implementation of each op.
"""

from __future__ import annotations

import builtins

import numpy as np

from . import _dtype as D
from . import ops as O
from ._device import to_device
from ._tensor import Tensor
from .ops import arith as A
from .ops import compare as C
from .ops import elementwise as E
from .ops import inplace as I
from .ops import shape as S
from .ops._dispatch import dispatch


def _as_operand(x):
    if isinstance(x, np.ndarray):
        return O.tensor(x)
    return x


def _set(name, fn):
    setattr(Tensor, name, fn)


# ------------------------------------------------------------------------------------------------ operators


def _binop(fn, reflected=False):
    if reflected:

        def op(self, other):
            return fn(_as_operand(other), self)

    else:

        def op(self, other):
            return fn(self, _as_operand(other))

    return op


for _name, _fn in {
    "add": O.add,
    "sub": O.sub,
    "mul": O.mul,
    "truediv": O.div,
    "floordiv": O.floor_divide,
    "mod": O.remainder,
    "pow": O.pow,
    "matmul": O.matmul,
    "and": O.bitwise_and,
    "or": O.bitwise_or,
    "xor": O.bitwise_xor,
    "lshift": O.bitwise_left_shift,
    "rshift": O.bitwise_right_shift,
}.items():
    _set(f"__{_name}__", _binop(_fn))
    _set(f"__r{_name}__", _binop(_fn, reflected=True))

for _name, _fn in {"lt": O.lt, "le": O.le, "gt": O.gt, "ge": O.ge}.items():
    _set(f"__{_name}__", _binop(_fn))


def _direct(op_cls, reflected=False):
    """Operators whose public function adds no checks: dispatch directly (the hot path of user code)."""
    nd = np.ndarray
    typ = builtins.type  # NOTE: this module defines Tensor.type, which shadows the builtin here
    if reflected:

        def op(self, other):
            return dispatch(op_cls, (O.tensor(other) if typ(other) is nd else other, self))

    else:

        def op(self, other):
            return dispatch(op_cls, (self, O.tensor(other) if typ(other) is nd else other))

    return op


for _name, _cls in {"add": A.Add, "mul": A.Mul, "truediv": A.Div}.items():
    _set(f"__{_name}__", _direct(_cls))
    _set(f"__r{_name}__", _direct(_cls, reflected=True))


def _eq(self, other):
    if other is None:
        return False
    return O.eq(self, _as_operand(other))


def _ne(self, other):
    if other is None:
        return True
    return O.ne(self, _as_operand(other))


Tensor.__eq__ = _eq
Tensor.__ne__ = _ne
Tensor.__hash__ = lambda self: id(self)
Tensor.__neg__ = O.neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = O.abs


def _invert(self):
    if self._dtype.is_floating_point or self._dtype.is_complex:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return O.bitwise_not(self)


Tensor.__invert__ = _invert
Tensor.__getitem__ = O.getitem
Tensor.__setitem__ = O.setitem


def _inplace_binop(op_cls, **fixed):
    def op(self, other):
        return dispatch(op_cls, (self, _as_operand(other)), fixed, inplace=True)

    return op


Tensor.__iadd__ = _inplace_binop(A.Add)
Tensor.__isub__ = _inplace_binop(A.Sub)
Tensor.__imul__ = _inplace_binop(A.Mul)
Tensor.__itruediv__ = _inplace_binop(A.Div)
Tensor.__ifloordiv__ = _inplace_binop(A.FloorDivide)
Tensor.__imod__ = _inplace_binop(A.Remainder)
Tensor.__ipow__ = _inplace_binop(A.Pow)
Tensor.__iand__ = _inplace_binop(C.BitwiseAnd)
Tensor.__ior__ = _inplace_binop(C.BitwiseOr)
Tensor.__ixor__ = _inplace_binop(C.BitwiseXor)


def __imatmul__(self, other):
    return I.copy_(self, O.matmul(self, other))


Tensor.__imatmul__ = __imatmul__

# ------------------------------------------------------------------------------------------------ methods

_SAME_NAME = """
add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow float_power maximum
minimum fmax fmin atan2 arctan2 hypot copysign logaddexp rsub
neg negative abs absolute sign sgn floor ceil trunc fix frac exp exp2 expm1 log log2 log10 log1p sqrt rsqrt
reciprocal square sin cos tan asin arcsin acos arccos atan arctan sinh cosh tanh asinh arcsinh acosh arccosh
atanh arctanh deg2rad rad2deg sigmoid erf erfc erfinv lgamma digamma sinc isnan isinf isfinite isposinf
isneginf signbit round logit xlogy nan_to_num clamp clip clamp_min clamp_max lerp addcmul addcdiv positive
eq ne not_equal lt less le less_equal gt greater ge greater_equal logical_and logical_or logical_xor
logical_not bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift isclose
allclose equal
sum nansum mean nanmean prod var std amax amin max min aminmax argmax argmin logsumexp all any count_nonzero
matmul mm bmm mv dot vdot inner outer ger addmm addmv addr baddbmm addbmm
view view_as reshape reshape_as permute transpose swapaxes swapdims t adjoint movedim moveaxis squeeze
unsqueeze expand expand_as broadcast_to flatten unflatten ravel sum_to_size unfold as_strided diagonal
narrow select split split_with_sizes chunk tensor_split unbind hsplit vsplit flip fliplr flipud roll tril triu
repeat tile repeat_interleave diag diag_embed diagflat
gather scatter scatter_add scatter_reduce index_select index_add index_copy index_fill index_put masked_fill
masked_select masked_scatter take take_along_dim nonzero argwhere put
softmax log_softmax clone contiguous to type_as copy_ fill_ zero_ index_put_ index_add_ index_copy_
index_fill_ masked_fill_ masked_scatter_ scatter_ scatter_add_ scatter_reduce_ put_
uniform_ normal_ bernoulli_ exponential_ cauchy_ log_normal_ geometric_ random_ bernoulli multinomial
"""

for _name in _SAME_NAME.split():
    _set(_name, getattr(O, _name))


def _inplace_unary(op_cls):
    def fn(self):
        return dispatch(op_cls, (self,), inplace=True)

    return fn


for _name, _cls in {
    "neg_": E.Neg,
    "negative_": E.Neg,
    "abs_": E.Abs,
    "absolute_": E.Abs,
    "sign_": E.Sign,
    "sgn_": E.Sign,
    "floor_": E.Floor,
    "ceil_": E.Ceil,
    "trunc_": E.Trunc,
    "fix_": E.Trunc,
    "frac_": E.Frac,
    "exp_": E.Exp,
    "exp2_": E.Exp2,
    "expm1_": E.Expm1,
    "log_": E.Log,
    "log2_": E.Log2,
    "log10_": E.Log10,
    "log1p_": E.Log1p,
    "sqrt_": E.Sqrt,
    "rsqrt_": E.Rsqrt,
    "reciprocal_": E.Reciprocal,
    "square_": E.Square,
    "sin_": E.Sin,
    "cos_": E.Cos,
    "tan_": E.Tan,
    "asin_": E.Asin,
    "arcsin_": E.Asin,
    "acos_": E.Acos,
    "arccos_": E.Acos,
    "atan_": E.Atan,
    "arctan_": E.Atan,
    "sinh_": E.Sinh,
    "cosh_": E.Cosh,
    "tanh_": E.Tanh,
    "asinh_": E.Asinh,
    "arcsinh_": E.Asinh,
    "arccosh_": E.Acosh,
    "arctanh_": E.Atanh,
    "sinc_": E.Sinc,
    "acosh_": E.Acosh,
    "atanh_": E.Atanh,
    "sigmoid_": E.Sigmoid,
    "erf_": E.Erf,
    "erfc_": E.Erfc,
    "erfinv_": E.Erfinv,
    "lgamma_": E.Lgamma,
    "digamma_": E.Digamma,
    "deg2rad_": E.Deg2rad,
    "rad2deg_": E.Rad2deg,
    "logical_not_": C.LogicalNot,
    "bitwise_not_": C.BitwiseNot,
}.items():
    _set(_name, _inplace_unary(_cls))


def _inplace_bin(op_cls):
    def fn(self, other):
        return dispatch(op_cls, (self, _as_operand(other)), inplace=True)

    return fn


for _name, _cls in {
    "mul_": A.Mul,
    "multiply_": A.Mul,
    "fmod_": A.Fmod,
    "remainder_": A.Remainder,
    "pow_": A.Pow,
    "atan2_": A.Atan2,
    "arctan2_": A.Atan2,
    "hypot_": A.Hypot,
    "copysign_": A.Copysign,
    "floor_divide_": A.FloorDivide,
    "maximum_": A.Maximum,
    "minimum_": A.Minimum,
    "xlogy_": E.Xlogy,
    "eq_": C.Eq,
    "ne_": C.Ne,
    "lt_": C.Lt,
    "le_": C.Le,
    "gt_": C.Gt,
    "ge_": C.Ge,
    "less_": C.Lt,
    "less_equal_": C.Le,
    "greater_": C.Gt,
    "greater_equal_": C.Ge,
    "not_equal_": C.Ne,
    "bitwise_left_shift_": C.BitwiseLeftShift,
    "bitwise_right_shift_": C.BitwiseRightShift,
    "logical_and_": C.LogicalAnd,
    "logical_or_": C.LogicalOr,
    "logical_xor_": C.LogicalXor,
    "bitwise_and_": C.BitwiseAnd,
    "bitwise_or_": C.BitwiseOr,
    "bitwise_xor_": C.BitwiseXor,
}.items():
    _set(_name, _inplace_bin(_cls))


def add_(self, other, *, alpha=1):
    return dispatch(A.Add, (self, _as_operand(other)), {"alpha": alpha} if alpha != 1 else {}, inplace=True)


def sub_(self, other, *, alpha=1):
    return dispatch(A.Sub, (self, _as_operand(other)), {"alpha": alpha} if alpha != 1 else {}, inplace=True)


def div_(self, other, *, rounding_mode=None):
    if rounding_mode is None:
        return dispatch(A.Div, (self, _as_operand(other)), inplace=True)
    return dispatch(A.DivRounded, (self, _as_operand(other)), {"rounding_mode": rounding_mode}, inplace=True)


def clamp_(self, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return dispatch(E.Clamp, (self, min, max), inplace=True)


def lerp_(self, end, weight):
    return dispatch(E.Lerp, (self, end, weight), inplace=True)


def addcmul_(self, tensor1, tensor2, *, value=1):
    p = tensor1 * tensor2
    return add_(self, p, alpha=value) if value != 1 else add_(self, p)


def addcdiv_(self, tensor1, tensor2, *, value=1):
    q = tensor1 / tensor2
    return add_(self, q, alpha=value) if value != 1 else add_(self, q)


def round_(self, *, decimals=0):
    return dispatch(E.Round, (self,), {"decimals": decimals} if decimals else {}, inplace=True)


def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
    return I.copy_(self, O.nan_to_num(self, nan, posinf, neginf))


def tril_(self, diagonal=0):
    from .ops.join import Tril

    return dispatch(Tril, (self,), {"diagonal": int(diagonal)}, inplace=True)


def triu_(self, diagonal=0):
    from .ops.join import Tril

    return dispatch(Tril, (self,), {"diagonal": int(diagonal), "upper": True}, inplace=True)


def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
    return I.copy_(self, O.addmm(self, mat1, mat2, beta=beta, alpha=alpha))


def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
    return I.copy_(self, O.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha))


def float_power_(self, exponent):
    """In-place float_power: the result is float64 (complex128), so `self` must already be."""
    want = (
        D.complex128
        if self.is_complex() or (isinstance(exponent, Tensor) and exponent.is_complex())
        else D.float64
    )
    if self._dtype is not want:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {D.SCALAR_NAME[self._dtype]} but the operation's result "
            f"requires dtype {D.SCALAR_NAME[want]}"
        )
    return I.copy_(self, O.float_power(self, exponent))


def clamp_min_(self, min):
    return clamp_(self, min=min)


def clamp_max_(self, max):
    return clamp_(self, max=max)


def logit_(self, eps=None):
    return dispatch(E.Logit, (self,), {"eps": eps} if eps is not None else {}, inplace=True)


def fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal (all dims equal, or 2-D tall with wrap) in place."""
    if self.dim() < 2:
        raise RuntimeError("dimensions must larger than 1")
    n = min(self.shape)
    if self.dim() > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    idx = O.arange(n, device=self.device)
    if self.dim() == 2 and wrap and self.shape[0] > self.shape[1] + 1:
        rows = O.arange(0, self.shape[0], device=self.device)
        keep = (rows % (self.shape[1] + 1)) < self.shape[1]
        rows = rows[keep]
        cols = rows - (rows // (self.shape[1] + 1)) * (self.shape[1] + 1)
        self[rows, cols] = fill_value
        return self
    self[(idx,) * self.dim()] = fill_value
    return self


for _fn in (
    add_,
    sub_,
    div_,
    clamp_,
    lerp_,
    addcmul_,
    addcdiv_,
    round_,
    nan_to_num_,
    tril_,
    triu_,
    addmm_,
    baddbmm_,
    clamp_min_,
    clamp_max_,
    float_power_,
    logit_,
    fill_diagonal_,
):
    _set(_fn.__name__, _fn)
Tensor.clip_ = clamp_
Tensor.true_divide_ = div_
Tensor.divide_ = div_
Tensor.subtract_ = sub_


def where(self, condition, y):
    return O.where(condition, self, y)


Tensor.where = where

# ------------------------------------------------------------------------------------------------ conversions


def _caster(dt):
    def fn(self, memory_format=None):
        return O.to(self, dt)

    return fn


for _name, _dt in {
    "float": D.float32,
    "double": D.float64,
    "half": D.float16,
    "bfloat16": D.bfloat16,
    "int": D.int32,
    "long": D.int64,
    "short": D.int16,
    "char": D.int8,
    "byte": D.uint8,
    "bool": D.bool_,
    "cfloat": D.complex64,
    "cdouble": D.complex128,
}.items():
    _set(_name, _caster(_dt))


def type(self, dtype=None, non_blocking=False, **kwargs):
    """With no argument, the type name ('ember.FloatTensor'); else a cast to `dtype`."""
    if dtype is None:
        return f"ember.{D.SCALAR_NAME[self.dtype]}Tensor"
    if isinstance(dtype, str):
        name = dtype.rsplit(".", 1)[-1].removesuffix("Tensor")
        rev = {v: k for k, v in D.SCALAR_NAME.items()}
        if name not in rev:
            raise ValueError(f"invalid type: '{dtype}'")
        dtype = rev[name]
    return O.to(self, dtype)


Tensor.type = type


def cpu(self, memory_format=None):
    return O.to(self, "cpu")


def cuda(self, device=None, non_blocking=False, memory_format=None):
    dev = to_device(device if device is not None else "cuda")
    if dev.type != "cuda":
        dev = to_device(("cuda", dev.index))
    return O.to(self, dev)


Tensor.cpu = cpu
Tensor.cuda = cuda


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return O.tensor(
        data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad
    )


def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    return O.zeros(
        *size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad
    )


def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    return O.ones(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    return O.empty(
        *size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad
    )


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return O.full(
        size, fill_value, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad
    )


for _fn in (new_tensor, new_zeros, new_ones, new_empty, new_full):
    _set(_fn.__name__, _fn)


def _mT(self):
    """Batched matrix transpose; the identity (an alias) on 0-d tensors, as in torch."""
    return S.T(self) if self._data.ndim == 0 else S.mT(self)


Tensor.T = property(S.T)
Tensor.mT = property(_mT)
Tensor.H = property(lambda self: S.T(self).conj() if self.is_complex() else S.T(self))
Tensor.mH = property(_mT)


Tensor.conj = lambda self: self
Tensor.resolve_conj = lambda self: self
Tensor.resolve_neg = lambda self: self
Tensor.is_conj = lambda self: False
Tensor.is_neg = lambda self: False


def apply_(self, callable):
    """Apply a Python function to every element in place (CPU only, slow, like torch)."""
    if self.device.type != "cpu":
        raise TypeError("apply_ is only implemented on CPU tensors")
    flat = self._data.reshape(-1)
    for i in range(flat.size):
        flat[i] = callable(flat[i].item())
    self._bump_version()
    return self


Tensor.apply_ = apply_


def _late_bind():
    """Methods whose functions live in modules written after this one (sorting, linalg, cumulative)."""
    for name in (
        "sort argsort msort topk kthvalue unique unique_consecutive bincount searchsorted histc "
        "cumsum cumprod cummax cummin median nanmedian mode logcumsumexp norm renorm cross trace det "
        "inverse kron relu relu_"
    ).split():
        fn = getattr(O, name, None)
        if fn is not None:
            _set(name, fn)
    for name in ("cumsum_", "cumprod_"):
        base = getattr(O, name[:-1], None)
        if base is not None:
            _set(name, lambda self, dim, *, dtype=None, _f=base: I.copy_(self, _f(self, dim, dtype=dtype)))


_late_bind()


def _traceable_methods():
    """Tensor methods the export tracer records as written (their shape arguments stay symbolic)."""
    from ._trace_hooks import register_methods

    register_methods(
        Tensor,
        (
            "view reshape flatten unflatten squeeze unsqueeze expand expand_as repeat split chunk __getitem__ "
            "mean sum amax amin max min var std masked_fill type_as to float half bfloat16 long int bool contiguous"
        ).split(),
    )


_traceable_methods()


"""Matrix products against torch: matmul's 1-D / batched / broadcast rules, mm, bmm, mv, dot, inner, outer,
the add* family, chain_matmul, tensordot; dtypes (half types computed in float32), ints, errors, grads."""

import warnings

import numpy as np
import pytest
import torch

import ember
from tests.helpers import gradcheck_fn, ints, parity, raises_like, rand, vals


def gradgrad_fn(fn, *specs):
    """float64 gradcheck and gradgradcheck of fn(ember, *inputs)."""
    inputs = gradcheck_fn(fn, *specs)
    assert ember.autograd.gradgradcheck(lambda *xs: fn(ember, *xs), tuple(inputs))


MATMUL_SHAPES = [
    ((3,), (3,)),  # vec @ vec
    ((3,), (3, 4)),  # vec @ mat
    ((2, 3), (3,)),  # mat @ vec
    ((4, 2, 3), (3,)),  # batched @ vec
    ((3,), (4, 3, 2)),  # vec @ batched
    ((2, 3), (3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (3, 4)),  # batched @ mat
    ((2, 3), (5, 3, 4)),  # mat @ batched
    ((2, 1, 2, 3), (5, 3, 4)),  # broadcast batch dims
    ((1, 2, 3), (4, 1, 3, 2)),
    ((2, 0), (0, 3)),  # empty contraction: zeros
    ((0, 3), (3, 2)),
    ((0, 2, 3), (3, 4)),
    ((3,), (3, 0)),
    ((0,), (0,)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_shapes(sa, sb):
    parity(lambda t, a, b: t.matmul(a, b), rand(*sa), rand(*sb))


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((3,), (3,)), ((4, 2, 3), (3,)), ((2, 3), (5, 3, 4))])
def test_matmul_operator_and_method(sa, sb):
    parity(lambda t, a, b: (a @ b, a.matmul(b)), rand(*sa), rand(*sb))


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
@pytest.mark.parametrize("sa,sb", [((4, 5), (5, 3)), ((2, 4, 5), (5,)), ((7,), (7,)), ((3, 2, 6), (3, 6, 2))])
def test_matmul_dtypes(dtype, sa, sb):
    parity(lambda t, a, b: a @ b, rand(*sa, dtype=dtype), rand(*sb, dtype=dtype))


def test_matmul_half_rounds_once_from_float32():
    # 64 products accumulated in float32 then rounded: identical to torch's CPU result bit for bit here
    a = np.linspace(-1, 1, 64).reshape(1, 64)
    b = np.linspace(0.5, 2, 64).reshape(64, 1)
    for name in ("float16", "bfloat16"):
        e = ember.tensor(a, dtype=getattr(ember, name)) @ ember.tensor(b, dtype=getattr(ember, name))
        ref = (
            torch.tensor(a, dtype=getattr(torch, name)).float()
            @ torch.tensor(b, dtype=getattr(torch, name)).float()
        )
        assert e.dtype == getattr(ember, name)
        assert float(e.float()) == float(ref.to(getattr(torch, name)).float())


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 3)), ((4, 4), (4, 4))])
def test_matmul_noncontiguous(sa, sb):
    parity(lambda t, a, b: a @ b, rand(*sa, noncontig=True), rand(*sb, noncontig=True))


def test_matmul_noncontiguous_slices():
    parity(lambda t, a, b: a[:, ::2] @ b[::2], rand(3, 8), rand(8, 5))


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8"])
@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 2)), ((4,), (4,)), ((2, 3, 4), (4,))])
def test_matmul_ints(dtype, sa, sb):
    low = 0 if dtype == "uint8" else -5
    parity(
        lambda t, a, b: a @ b,
        ints(*sa, low=low, high=5, dtype=dtype),
        ints(*sb, low=low, high=5, dtype=dtype),
    )


def test_matmul_out():
    def f(t, a, b):
        o = t.empty(2, 4)
        r = t.matmul(a, b, out=o)
        return r, o

    parity(f, rand(2, 3, requires_grad=False), rand(3, 4, requires_grad=False))
    raises_like(f, rand(2, 3), rand(3, 4), match="don't support automatic differentiation")


@pytest.mark.parametrize(
    "sa,sb,match",
    [
        ((2, 3), (2, 3), "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"),
        ((3,), (4,), "inconsistent tensor size, expected tensor [3] and src [4]"),
        ((3,), (4, 2), "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x2)"),
        ((2, 3), (4,), "size mismatch, got input (2), mat (2x3), vec (4)"),
        ((5, 2, 3), (4,), "size mismatch, got input (10), mat (10x3), vec (4)"),
        ((4, 2, 3), (2, 3), "mat1 and mat2 shapes cannot be multiplied (8x3 and 2x3)"),
        (
            (2, 3),
            (4, 2, 3),
            "Expected size for first two dimensions of batch2 tensor to be: [4, 3] but got: [4, 2].",
        ),
        (
            (4,),
            (5, 3, 2),
            "Expected size for first two dimensions of batch2 tensor to be: [5, 4] but got: [5, 3].",
        ),
        (
            (4, 2, 3),
            (4, 2, 3),
            "Expected size for first two dimensions of batch2 tensor to be: [4, 3] but got: [4, 2].",
        ),
        (
            (4, 2, 3),
            (5, 3, 3),
            "The size of tensor a (4) must match the size of tensor b (5) at non-singleton",
        ),
    ],
)
def test_matmul_shape_errors_name_the_shapes(sa, sb, match):
    raises_like(lambda t, a, b: a @ b, rand(*sa), rand(*sb), match=match)


@pytest.mark.parametrize("sa,sb", [((), (3,)), ((3,), ()), ((), ())])
def test_matmul_0d_error(sa, sb):
    raises_like(
        lambda t, a, b: t.matmul(a, b),
        rand(*sa),
        rand(*sb),
        match="both arguments to matmul need to be at least 1D",
    )


@pytest.mark.parametrize(
    "sa,sb,match",
    [
        ((2, 3), (3, 2), "expected m1 and m2 to have the same dtype, but got: float != double"),
        ((3,), (3,), "dot : expected both vectors to have same dtype, but found Float and Double"),
        ((2, 3, 4), (4,), "expected m1 and m2 to have the same dtype"),
    ],
)
def test_matmul_dtype_mismatch_raises(sa, sb, match):
    raises_like(lambda t, a, b: a @ b, rand(*sa), rand(*sb, dtype="float64"), match=match)


def test_matmul_int_float_mismatch_raises():
    raises_like(
        lambda t, a, b: a @ b, ints(2, 3), rand(3, 2), match="expected m1 and m2 to have the same dtype"
    )


def test_matmul_bool_raises():
    raises_like(lambda t, a, b: a @ b, vals([[True, False]], "bool"), vals([[True], [True]], "bool"))


def test_matmul_non_tensor_raises_type_error():
    raises_like(lambda t, a: t.matmul(a, [1.0, 2.0]), rand(2, 2))


# ------------------------------------------------------------------------------------------------ mm / bmm / mv


@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
def test_mm(noncontig, dtype):
    parity(lambda t, a, b: t.mm(a, b), rand(3, 4, dtype=dtype, noncontig=noncontig), rand(4, 2, dtype=dtype))


@pytest.mark.parametrize("sa,sb", [((2, 3, 4), (2, 4, 5)), ((0, 3, 4), (0, 4, 5)), ((2, 3, 0), (2, 0, 5))])
def test_bmm(sa, sb):
    parity(lambda t, a, b: (t.bmm(a, b), a.bmm(b)), rand(*sa), rand(*sb))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_mv(dtype):
    parity(
        lambda t, a, v: (t.mv(a, v), a.mv(v)), rand(3, 4, dtype=dtype, noncontig=True), rand(4, dtype=dtype)
    )


@pytest.mark.parametrize(
    "fn,sa,sb,match",
    [
        ("mm", (3,), (3, 2), "self must be a matrix"),
        ("mm", (2, 3), (3,), "mat2 must be a matrix"),
        ("mm", (2, 3), (2, 3), "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"),
        ("bmm", (2, 3), (3, 2), "batch1 must be a 3D tensor"),
        ("bmm", (2, 2, 3), (2, 3), "batch2 must be a 3D tensor"),
        (
            "bmm",
            (2, 2, 3),
            (3, 3, 2),
            "Expected size for first two dimensions of batch2 tensor to be: [2, 3]",
        ),
        (
            "bmm",
            (4, 2, 3),
            (4, 2, 3),
            "Expected size for first two dimensions of batch2 tensor to be: [4, 3] but got: [4, 2].",
        ),
        ("mv", (2, 3), (3, 1), "vector + matrix @ vector expected"),
        ("mv", (2, 3), (4,), "size mismatch, got input (2), mat (2x3), vec (4)"),
        ("dot", (2, 3), (3,), "1D tensors expected, but got 2D and 1D tensors"),
        ("dot", (2,), (3,), "inconsistent tensor size, expected tensor [2] and src [3]"),
    ],
)
def test_product_shape_errors(fn, sa, sb, match):
    raises_like(lambda t, a, b: getattr(t, fn)(a, b), rand(*sa), rand(*sb), match=match)


@pytest.mark.parametrize(
    "fn,sa,sb,match",
    [
        ("mm", (2, 3), (3, 2), "expected m1 and m2 to have the same dtype"),
        ("bmm", (1, 2, 3), (1, 3, 2), "expected scalar type Float but found Double"),
        ("mv", (2, 3), (3,), "addmv input tensors must have the same dtype"),
        ("dot", (3,), (3,), "dot : expected both vectors to have same dtype, but found Float and Double"),
        ("inner", (2, 3), (3,), "both inputs should have same dtype"),
    ],
)
def test_product_dtype_errors(fn, sa, sb, match):
    raises_like(lambda t, a, b: getattr(t, fn)(a, b), rand(*sa), rand(*sb, dtype="float64"), match=match)


# ------------------------------------------------------------------------------------------------ vectors


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dot_vdot(dtype):
    parity(lambda t, a, b: (t.dot(a, b), t.vdot(a, b), a.dot(b)), rand(5, dtype=dtype), rand(5, dtype=dtype))


def test_dot_empty_and_int():
    parity(lambda t, a, b: t.dot(a, b), rand(0), rand(0))
    parity(lambda t, a, b: t.dot(a, b), ints(6), ints(6))


@pytest.mark.parametrize(
    "sa,sb", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 3, 4), (5, 4)), ((), (3, 2)), ((4,), (2, 3, 4))]
)
def test_inner(sa, sb):
    parity(lambda t, a, b: (t.inner(a, b), a.inner(b)), rand(*sa), rand(*sb))


def test_inner_shape_error():
    raises_like(
        lambda t, a, b: t.inner(a, b), rand(2, 3), rand(2, 4), match="inner() the last dimension must match"
    )


@pytest.mark.parametrize("sa,sb", [((3,), (4,)), ((0,), (4,)), ((3,), (1,))])
def test_outer_ger(sa, sb):
    parity(lambda t, a, b: (t.outer(a, b), t.ger(a, b), a.outer(b)), rand(*sa), rand(*sb))


def test_outer_promotes_and_errors():
    parity(lambda t, a, b: t.outer(a, b), rand(3), rand(2, dtype="float64"))
    parity(lambda t, a, b: t.outer(a, b), ints(3), rand(2))
    raises_like(
        lambda t, a, b: t.outer(a, b),
        rand(2, 3),
        rand(3),
        match="outer: Expected 1-D argument self, but got 2-D",
    )
    raises_like(
        lambda t, a, b: t.outer(a, b),
        rand(3),
        rand(3, 2),
        match="outer: Expected 1-D argument vec2, but got 2-D",
    )


# ------------------------------------------------------------------------------------------------ add* family


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, 1), (2, 0)])
@pytest.mark.parametrize("ishape", [(2, 3), (3,), (1, 1), ()])
def test_addmm(beta, alpha, ishape):
    parity(
        lambda t, i, a, b: (t.addmm(i, a, b, beta=beta, alpha=alpha), i.addmm(a, b, beta=beta, alpha=alpha)),
        rand(*ishape),
        rand(2, 4),
        rand(4, 3, noncontig=True),
    )


def test_addmm_beta_zero_ignores_nan():
    parity(lambda t, i, a, b: t.addmm(i, a, b, beta=0), vals([float("nan")] * 3), rand(2, 4), rand(4, 3))


def test_addmm_ints():
    parity(lambda t, i, a, b: t.addmm(i, a, b, beta=3, alpha=2), ints(3), ints(2, 4), ints(4, 3))


def test_addmm_errors():
    raises_like(lambda t, i, a, b: t.addmm(i, a, b), rand(4), rand(2, 4), rand(4, 3), match="expanded size")
    raises_like(lambda t, i, a, b: t.addmm(i, a, b), rand(3, dtype="float64"), rand(2, 4), rand(4, 3))
    raises_like(lambda t, i, a, b: t.addmm(i, a, b), rand(3), rand(2, 4, dtype="float64"), rand(4, 3))
    raises_like(
        lambda t, i, a, b: t.addmm(i, a, b), rand(2, 3), rand(2, 4), rand(3, 3), match="(2x4 and 3x3)"
    )


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, -1.5)])
def test_addmv_addr(beta, alpha):
    parity(lambda t, i, a, v: t.addmv(i, a, v, beta=beta, alpha=alpha), rand(2), rand(2, 3), rand(3))
    parity(lambda t, i, a, v: t.addmv(i, a, v, beta=beta, alpha=alpha), rand(1), rand(2, 3), rand(3))
    parity(lambda t, i, a, b: t.addr(i, a, b, beta=beta, alpha=alpha), rand(2, 3), rand(2), rand(3))
    parity(lambda t, i, a, b: t.addr(i, a, b, beta=beta, alpha=alpha), rand(3), rand(2), rand(3))


@pytest.mark.parametrize("ishape", [(5, 2, 3), (2, 3), (3,)])
def test_baddbmm_addbmm(ishape):
    parity(
        lambda t, i, a, b: t.baddbmm(i, a, b, beta=0.5, alpha=2), rand(*ishape), rand(5, 2, 4), rand(5, 4, 3)
    )
    if len(ishape) < 3:
        parity(lambda t, i, a, b: t.addbmm(i, a, b, alpha=-1), rand(*ishape), rand(5, 2, 4), rand(5, 4, 3))


def test_baddbmm_addbmm_errors():
    raises_like(
        lambda t, i, a, b: t.baddbmm(i, a, b),
        rand(3),
        rand(5, 2, 4),
        rand(4, 4, 3),
        match="batch2 tensor to be: [5, 4]",
    )
    raises_like(
        lambda t, i, a, b: t.addbmm(i, a, b), rand(4), rand(5, 2, 4), rand(5, 4, 3), match="expanded size"
    )


def test_chain_matmul_and_multi_dot():
    def f(t, a, b, c):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return t.chain_matmul(a, b, c), t.chain_matmul(a), t.linalg.multi_dot([a, b, c])

    parity(f, rand(2, 3), rand(3, 4), rand(4, 2))
    parity(lambda t, a, b, c: t.linalg.multi_dot([a, b, c]), rand(3), rand(3, 4), rand(4))
    parity(lambda t, a, b: t.linalg.multi_dot((a, b)), rand(3), rand(3))


def test_chain_matmul_warns_and_errors():
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        ember.chain_matmul(ember.ones(2, 2), ember.ones(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raises_like(lambda t: t.chain_matmul(), match="chain_matmul(): Expected one or more matrices")
        raises_like(
            lambda t, a, b: t.chain_matmul(a, b),
            rand(2, 3),
            rand(3),
            match="Tensor dimension is 1, expected 2",
        )
    raises_like(lambda t, a: t.linalg.multi_dot([a]), rand(3), match="expected at least 2 tensors but got 1")


# ------------------------------------------------------------------------------------------------ tensordot


@pytest.mark.parametrize(
    "sa,sb,dims",
    [
        ((2, 3, 4), (3, 4, 5), 2),
        ((2, 3), (3, 4), 1),
        ((2,), (3,), 0),
        ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
        ((2, 3, 4), (5, 4), ([-1], [-1])),
        ((3, 4), (4, 3), ([0, 1], [1, 0])),
        ((2, 0), (0, 3), 1),
    ],
)
def test_tensordot(sa, sb, dims):
    parity(lambda t, a, b: t.tensordot(a, b, dims=dims), rand(*sa), rand(*sb))


def test_tensordot_ints_and_errors():
    parity(lambda t, a, b: t.tensordot(a, b, dims=1), ints(2, 3), ints(3, 2))
    raises_like(
        lambda t, a, b: t.tensordot(a, b, dims=-1),
        rand(2, 3),
        rand(3, 2),
        match="tensordot expects dims >= 0",
    )
    raises_like(
        lambda t, a, b: t.tensordot(a, b, dims=3), rand(2, 3), rand(3, 2), match="tensordot expects dims <"
    )
    raises_like(
        lambda t, a, b: t.tensordot(a, b, dims=1),
        rand(2, 3),
        rand(2, 2),
        match="contracted dimensions need to match",
    )
    raises_like(
        lambda t, a, b: t.tensordot(a, b, dims=([1], [0, 1])), rand(2, 3), rand(3, 2), match="same length"
    )
    raises_like(
        lambda t, a, b: t.tensordot(a, b, dims=1), rand(2, 3), rand(3, 2, dtype="float64"), match="same dtype"
    )


# ------------------------------------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize(
    "sa,sb", [((2, 3), (3, 2)), ((3,), (3,)), ((3,), (3, 2)), ((2, 2, 3), (3,)), ((2, 1, 1, 2), (3, 2, 2))]
)
def test_matmul_gradcheck_gradgradcheck(sa, sb):
    gradgrad_fn(lambda t, a, b: t.matmul(a, b), rand(*sa), rand(*sb))


def test_add_family_gradgradcheck():
    gradgrad_fn(lambda t, i, a, b: t.addmm(i, a, b, beta=0.5, alpha=2), rand(3), rand(2, 2), rand(2, 3))
    gradgrad_fn(lambda t, i, a, b: t.baddbmm(i, a, b, alpha=-1), rand(2, 2), rand(2, 2, 2), rand(2, 2, 2))
    gradgrad_fn(lambda t, a, b: t.tensordot(a, b, dims=1), rand(2, 3), rand(3, 2))


def test_gradcheck_of_noncontiguous_output():
    x = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda a: a.mT, (x,))


def test_tensordot_full_contraction_gradgradcheck():
    gradgrad_fn(lambda t, a, b: t.tensordot(a, b, dims=([0, 1], [1, 0])), rand(2, 3), rand(3, 2))


def test_matmul_grad_flows_to_broadcast_batch():
    a = ember.randn(3, 2, 4, requires_grad=True)
    b = ember.randn(4, 5, requires_grad=True)
    (a @ b).sum().backward()
    assert b.grad.shape == (4, 5)
    np.testing.assert_allclose(
        b.grad.cpu().numpy(), a.detach().cpu().numpy().sum((0, 1))[:, None].repeat(5, 1), rtol=1e-5
    )

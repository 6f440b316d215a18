"""Linear algebra against torch: einsum, norms (torch.norm, linalg.norm/vector_norm/matrix_norm), inv, solve,
det/slogdet/logdet, cross, trace, kron, cholesky, qr, svd/svdvals, eigh, pinv, matrix_rank, matrix_power,
cdist, dist, renorm, vecdot; errors (LinAlgError for singular inputs) and first/second-order gradchecks."""

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import gradcheck_fn, ints, parity, raises_like, rand, randn, vals

INF = math.inf


def gradgrad_fn(fn, *specs):
    """float64 gradcheck and gradgradcheck of fn(ember, *inputs)."""
    inputs = gradcheck_fn(fn, *specs)
    assert ember.autograd.gradgradcheck(lambda *xs: fn(ember, *xs), tuple(inputs))


def wellcond(*shape, dtype="float32", noncontig=False):
    """Random square matrices plus n*I: far from singular."""
    s = rand(*shape, dtype=dtype, low=-1.0, high=1.0, noncontig=noncontig)
    s.data = s.data + shape[-1] * np.eye(shape[-1])
    return s


def spd(t, x):
    """A symmetric positive-definite matrix built from x (gradients flow through the construction)."""
    return x @ x.mT + x.shape[-1] * t.eye(x.shape[-1], dtype=x.dtype)


def sym(t, x):
    return (x + x.mT) / 2


def col_signs(t, U):
    """+-1 per column making the largest-magnitude entry of each column positive (fixes the SVD/eigh gauge)."""
    idx = U.abs().argmax(-2, keepdim=True)
    return t.sign(U.gather(-2, idx))


def raises_linalg_error(fn, *specs, match=None):
    """torch raises torch.linalg.LinAlgError; ember raises ember.linalg.LinAlgError (both RuntimeErrors)."""
    t_in = [s.build(torch)[1] for s in specs]
    e_in = [s.build(ember)[1] for s in specs]
    with pytest.raises(torch.linalg.LinAlgError) as te:
        fn(torch, *t_in)
    with pytest.raises(ember.linalg.LinAlgError) as ee:
        fn(ember, *e_in)
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)
    assert str(ee.value) == str(te.value), f"{ee.value} != torch {te.value}"
    if match:
        assert match in str(ee.value)


# ------------------------------------------------------------------------------------------------ einsum

EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ii->i", [(3, 3)]),  # diagonal
    ("ii", [(3, 3)]),  # trace (implicit)
    ("iij->ji", [(3, 3, 2)]),
    ("iii->i", [(2, 2, 2)]),
    ("...ij->...ji", [(5, 2, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),  # broadcasting ellipsis batch dims
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),
    ("i...->...", [(2, 3, 4)]),
    ("...i->i", [(2, 3)]),  # ellipsis dims summed when absent from the output
    ("ij,ij->ij", [(3, 1), (3, 4)]),  # size-1 broadcasting of a labelled dim
    ("i,i->", [(1,), (3,)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),  # bilinear, three operands
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("i,j->", [(3,), (4,)]),  # labels private to each operand: summed
    ("ik,jk->", [(2, 3), (4, 3)]),
    ("aB,Bc->ca", [(2, 3), (3, 4)]),  # upper-case labels
    ("Ba,aC", [(2, 3), (3, 4)]),
    ("bA", [(2, 3)]),  # implicit order: upper case before lower case
    (",->", [(), ()]),
    ("i,->i", [(3,), ()]),
    ("ij,jk->ik", [(2, 0), (0, 3)]),  # empty contraction
    ("i i , i j -> j", [(3, 3), (3, 2)]),  # spaces
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum(eq, shapes):
    parity(lambda t, *xs: t.einsum(eq, *xs), *[rand(*s) for s in shapes])


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_einsum_dtypes(dtype):
    parity(
        lambda t, a, b: t.einsum("bij,bjk->bik", a, b), rand(2, 3, 4, dtype=dtype), rand(2, 4, 5, dtype=dtype)
    )


def test_einsum_ints_list_operands_and_noncontig():
    parity(lambda t, a, b: t.einsum("ij,jk->ik", a, b), ints(2, 3), ints(3, 4))
    parity(lambda t, a, b: t.einsum("ij,jk->ik", [a, b]), rand(2, 3), rand(3, 4))
    parity(
        lambda t, a, b: t.einsum("ij,jk->ki", (a, b)), rand(2, 3, noncontig=True), rand(3, 4, noncontig=True)
    )


def test_einsum_sublist_format():
    parity(lambda t, a, b: t.einsum(a, [0, 1], b, [1, 2], [0, 2]), rand(2, 3), rand(3, 4))
    parity(lambda t, a, b: t.einsum(a, [Ellipsis, 0], b, [Ellipsis, 0]), rand(2, 3), rand(2, 3))


@pytest.mark.parametrize(
    "eq,shapes,match",
    [
        ("ij->k", [(2, 3)], "output subscript k does not appear in the equation for any input operand"),
        ("ij->ii", [(2, 3)], "output subscript i appears more than once in the output"),
        ("ij,jk", [(2, 3)], "fewer operands were provided than specified in the equation"),
        ("ij", [(2, 3), (3, 4)], "more operands were provided than specified in the equation"),
        (
            "ijk",
            [(2, 3)],
            "the number of subscripts in the equation (3) does not match the number of dimensions (2)",
        ),
        ("ij,jk", [(2, 3), (4, 4)], "subscript j has size 4 for operand 1 which does not broadcast"),
        ("ii", [(2, 3)], "subscript i is repeated for operand 0 but the sizes don't match, 3 != 2"),
        ("i1", [(3, 3)], "invalid subscript given at index 1 in the equation string"),
        ("ijk...", [(2, 3)], "is more than the number of dimensions"),
    ],
)
def test_einsum_errors(eq, shapes, match):
    raises_like(lambda t, *xs: t.einsum(eq, *xs), *[rand(*s) for s in shapes], match=match)


def test_einsum_dtype_mismatch_and_no_operands():
    raises_like(
        lambda t, a, b: t.einsum("i,i->", a, b),
        rand(3),
        rand(3, dtype="float64"),
        match="expected scalar type",
    )
    raises_like(lambda t: t.einsum("i"), match="must specify the equation string and at least one operand")


@pytest.mark.parametrize(
    "eq,shapes",
    [
        ("ij,jk->ik", [(2, 3), (3, 2)]),
        ("ii->i", [(3, 3)]),
        ("ii", [(2, 2)]),
        ("i,j->ij", [(2,), (3,)]),
        ("...i,...i->...", [(2, 1, 2), (3, 2)]),
        ("ij,ij->ij", [(2, 1), (2, 3)]),
        ("bn,anm,bm->ba", [(2, 2), (2, 2, 3), (2, 3)]),
        ("i,j->", [(2,), (3,)]),
    ],
)
def test_einsum_gradcheck_gradgradcheck(eq, shapes):
    gradgrad_fn(lambda t, *xs: t.einsum(eq, *xs), *[rand(*s) for s in shapes])


def test_einsum_same_tensor_twice():
    parity(lambda t, a: t.einsum("ij,ij->", a, a), rand(3, 2))


# ------------------------------------------------------------------------------------------------ norms


@pytest.mark.parametrize("ord", [2, 1, INF, -INF, 0, 0.5, 3, 1.5, -1])
@pytest.mark.parametrize("shape,dim", [((5,), None), ((3, 4), 1), ((2, 3, 4), (0, 2)), ((3, 4), None)])
def test_vector_norm(ord, shape, dim):
    parity(lambda t, x: t.linalg.vector_norm(x, ord, dim), rand(*shape))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_vector_norm_dtypes_keepdim(keepdim, dtype):
    parity(lambda t, x: t.linalg.vector_norm(x, 2, -1, keepdim), rand(3, 4, dtype=dtype, noncontig=True))


def test_vector_norm_dtype_arg():
    parity(lambda t, x: t.linalg.vector_norm(x, dtype=t.float64), rand(3, 4))
    parity(lambda t, x: t.linalg.vector_norm(x, 3, dtype=t.float32), rand(3, 4, dtype="float16"))


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, INF])
def test_vector_norm_grad_at_zero(ord):
    # torch's subgradient choices: 0 at the zero vector for ord 2, sign(0) = 0 for ord 1
    parity(lambda t, x: t.linalg.vector_norm(x, ord, -1), vals([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0]]))


def test_vector_norm_ties_share_the_inf_gradient():
    parity(lambda t, x: t.linalg.vector_norm(x, INF), vals([1.0, -3.0, 3.0, 2.0]))


def test_vector_norm_empty():
    parity(lambda t, x: t.linalg.vector_norm(x), rand(0, 3))
    parity(lambda t, x: t.linalg.vector_norm(x, INF, 1), rand(0, 3))
    raises_like(
        lambda t, x: t.linalg.vector_norm(x, INF), rand(0, 3), match="cannot compute the inf norm on an empty"
    )
    raises_like(
        lambda t, x: t.linalg.vector_norm(x, -1), rand(0, 3), match="cannot compute the -1 norm on an empty"
    )
    raises_like(lambda t, x: t.linalg.vector_norm(x, INF, 0), rand(0, 3), match="on the dimension 0")


def test_vector_norm_errors():
    raises_like(
        lambda t, x: t.linalg.vector_norm(x), ints(3), match="Expected a floating point or complex tensor"
    )
    raises_like(
        lambda t, x: t.linalg.vector_norm(x, dtype=t.int64), rand(3), match="dtype should be floating point"
    )
    raises_like(lambda t, x: t.linalg.vector_norm(x, dtype=t.float16), rand(3), match="without narrowing")
    raises_like(lambda t, x: t.linalg.vector_norm(x, "fro"), rand(3))
    raises_like(lambda t, x: t.linalg.vector_norm(x, dim=(0, 0)), rand(2, 3), match="appears multiple times")


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, INF, -INF, 2, -2])
@pytest.mark.parametrize("shape", [(3, 4), (2, 4, 3)])
def test_matrix_norm(ord, shape):
    parity(lambda t, x: t.linalg.matrix_norm(x, ord), rand(*shape))


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, INF, -2])
def test_matrix_norm_dims_keepdim(ord):
    parity(lambda t, x: t.linalg.matrix_norm(x, ord, dim=(2, 0), keepdim=True), rand(3, 2, 4))
    parity(lambda t, x: t.linalg.matrix_norm(x, ord, dim=(0, -1)), rand(3, 2, 4, noncontig=True))


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, INF, 2])
def test_matrix_norm_empty(ord):
    parity(lambda t, x: t.linalg.matrix_norm(x, ord), rand(0, 3))
    parity(lambda t, x: t.linalg.matrix_norm(x, ord), rand(2, 3, 0))


def test_matrix_norm_errors():
    raises_like(lambda t, x: t.linalg.matrix_norm(x), rand(3), match="must have at least 2 dimensions")
    raises_like(lambda t, x: t.linalg.matrix_norm(x, 3), rand(3, 3), match="Order 3 not supported")
    raises_like(lambda t, x: t.linalg.matrix_norm(x, "abc"), rand(3, 3), match="Order abc not supported")
    raises_like(lambda t, x: t.linalg.matrix_norm(x, dim=(0, 0)), rand(3, 3), match="dims must be different")
    raises_like(lambda t, x: t.linalg.matrix_norm(x, dim=(0,)), rand(3, 3), match="dim must be a 2-tuple")
    raises_like(lambda t, x: t.linalg.matrix_norm(x), ints(3, 3), match="Expected a floating point")


@pytest.mark.parametrize(
    "shape,kw",
    [
        ((5,), {}),
        ((2, 3, 4), {}),
        ((3, 4), {"ord": 2}),
        ((3, 4), {"ord": "nuc"}),
        ((3, 4), {"ord": INF}),
        ((5,), {"ord": 1}),
        ((2, 3, 4), {"dim": 1, "ord": 3}),
        ((2, 3, 4), {"dim": (0, 2), "ord": -1}),
        ((2, 3, 4), {"dim": (0, 2)}),
        ((2, 3, 4), {"dim": (1, 2), "ord": "fro", "keepdim": True}),
    ],
)
def test_linalg_norm(shape, kw):
    parity(lambda t, x: t.linalg.norm(x, **kw), rand(*shape))


def test_linalg_norm_errors():
    raises_like(
        lambda t, x: t.linalg.norm(x, ord=2), rand(2, 3, 4), match="the input must be 1D or 2D. Got 3D."
    )
    raises_like(lambda t, x: t.linalg.norm(x, dim=(0, 1, 2)), rand(2, 3, 4), match="must be of length 1 or 2")
    raises_like(lambda t, x: t.linalg.norm(x, ord="fro"), rand(4), match="must have at least 2 dimensions")
    raises_like(lambda t, x: t.linalg.norm(x), ints(2, 3), match="Expected a floating point")


@pytest.mark.parametrize(
    "shape,args",
    [
        ((2, 3, 4), ()),
        ((2, 3, 4), ("fro", 1)),
        ((2, 3, 4), ("fro", (0, 1))),
        ((3, 4), ("nuc",)),
        ((2, 3, 4), ("nuc", (1, 2))),
        ((2, 3, 4), (1, (0, 1))),
        ((2, 3, 4), (INF,)),
        ((2, 3, 4), (3, 2, True)),
        ((2, 3, 4), (None, 0)),
    ],
)
def test_torch_norm(shape, args):
    parity(lambda t, x: (t.norm(x, *args), x.norm(*args)), rand(*shape))


def test_torch_norm_dtype_half_and_errors():
    parity(lambda t, x: t.norm(x, dtype=t.float64), rand(2, 3))
    parity(lambda t, x: t.norm(x), rand(2, 3, dtype="float16"))
    raises_like(lambda t, x: t.norm(x), ints(3), match="Expected a floating point")
    raises_like(lambda t, x: t.norm(x, "nuc"), rand(2, 3, 4), match="dim must be a 2-tuple. Got 0 1 2")
    raises_like(lambda t, x: t.norm(x, "fro", (0, 1, 2)), rand(2, 3, 4), match="dim must be a 2-tuple")
    raises_like(lambda t, x: t.norm(x, "abc"), rand(2, 3), match="Order abc not supported")


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, x: t.norm(x),
        lambda t, x: t.linalg.vector_norm(x, 3, 1),
        lambda t, x: t.linalg.vector_norm(x, INF, 1),
        lambda t, x: t.linalg.vector_norm(x, 1.5),
        lambda t, x: t.linalg.matrix_norm(x, "fro"),
        lambda t, x: t.linalg.matrix_norm(x, 1),
        lambda t, x: t.linalg.matrix_norm(x, -INF),
        lambda t, x: t.linalg.matrix_norm(x, "nuc"),
        lambda t, x: t.linalg.matrix_norm(x, 2),
    ],
)
def test_norm_gradcheck_gradgradcheck(fn):
    gradgrad_fn(fn, rand(2, 3, low=0.2, high=2.0))


# ------------------------------------------------------------------------------------------------ inv, solve, det


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 3, 3), (1, 1), (0, 0), (0, 2, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inv(shape, dtype):
    parity(lambda t, a: (t.linalg.inv(a), t.inverse(a), a.inverse()), wellcond(*shape, dtype=dtype))


def test_inv_noncontig():
    parity(lambda t, a: t.linalg.inv(a), wellcond(2, 3, 3, noncontig=True))


def test_inv_singular_raises_linalg_error():
    s = vals([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 0]])
    raises_linalg_error(lambda t, a: t.linalg.inv(a), s, match="The diagonal element 3 is zero")
    raises_linalg_error(lambda t, a: t.inverse(a), s)
    b = vals([np.eye(3), [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 0]]])
    raises_linalg_error(lambda t, a: t.linalg.inv(a), b, match="(Batch element 1)")


def test_inv_errors():
    raises_like(
        lambda t, a: t.linalg.inv(a),
        rand(2, 3),
        match="A must be batches of square matrices, but they are 2 by 3",
    )
    raises_like(
        lambda t, a: t.linalg.inv(a), rand(3), match="The input tensor A must have at least 2 dimensions."
    )
    raises_like(
        lambda t, a: t.linalg.inv(a),
        ints(2, 2),
        match="Expected a floating point or complex tensor as input. Got Long",
    )
    raises_like(
        lambda t, a: t.linalg.inv(a),
        rand(2, 2, dtype="float16"),
        match="Low precision dtypes not supported. Got Half",
    )


@pytest.mark.parametrize(
    "sa,sb,left",
    [
        ((3, 3), (3,), True),  # vector rhs
        ((3, 3), (3, 2), True),
        ((2, 3, 3), (2, 3), True),  # batched vector rhs (B.shape == A.shape[:-1])
        ((2, 3, 3), (3,), True),  # vector broadcast over the batch
        ((3, 3, 3), (3, 3), True),  # a matrix rhs, even though it could be a batch of vectors
        ((2, 1, 3, 3), (4, 3, 2), True),  # broadcast batch dims
        ((3, 3), (2, 3, 1), True),
        ((3, 3), (2, 3), False),  # XA = B
        ((2, 3, 3), (2, 4, 3), False),
        ((3, 3), (3, 0), True),
    ],
)
def test_solve(sa, sb, left):
    parity(lambda t, a, b: t.linalg.solve(a, b, left=left), wellcond(*sa), rand(*sb))


def test_solve_float64_noncontig():
    parity(
        lambda t, a, b: t.linalg.solve(a, b),
        wellcond(2, 4, 4, dtype="float64", noncontig=True),
        rand(2, 4, 3, dtype="float64", noncontig=True),
    )


def test_solve_errors():
    raises_like(
        lambda t, a, b: t.linalg.solve(a, b),
        wellcond(3, 3),
        rand(2),
        match="Incompatible shapes of A and B for the equation AX = B (3x3 and 2x1)",
    )
    raises_like(lambda t, a, b: t.linalg.solve(a, b), wellcond(3, 3), rand(2, 1), match="(3x3 and 2x1)")
    raises_like(lambda t, a, b: t.linalg.solve(a, b, left=False), wellcond(3, 3), rand(3), match="XA = B")
    raises_like(
        lambda t, a, b: t.linalg.solve(a, b),
        wellcond(3, 3),
        rand(3, dtype="float64"),
        match="Expected A and B to have the same dtype",
    )
    raises_like(lambda t, a, b: t.linalg.solve(a, b), ints(3, 3), ints(3), match="Expected a floating point")
    raises_like(
        lambda t, a, b: t.linalg.solve(a, b), wellcond(2, 3, 3), rand(3, 3, 1), match="must match the size"
    )
    raises_linalg_error(
        lambda t, a, b: t.linalg.solve(a, b),
        vals([[1.0, 2.0], [2.0, 4.0]]),
        rand(2),
        match="input matrix is singular",
    )
    raises_linalg_error(lambda t, a, b: t.linalg.solve(a, b), vals([np.eye(2), np.zeros((2, 2))]), rand(2))


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1), (0, 0), (0, 3, 3), (2, 1, 2, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_det_slogdet(shape, dtype):
    parity(lambda t, a: (t.linalg.det(a), t.det(a), a.det()), rand(*shape, dtype=dtype))
    parity(lambda t, a: tuple(t.linalg.slogdet(a)), wellcond(*shape, dtype=dtype))


def test_det_noncontig_and_negative():
    parity(lambda t, a: t.det(a), rand(3, 3, noncontig=True))
    parity(
        lambda t, a: (t.slogdet(a), t.logdet(a)), vals([[0.0, 2.0], [3.0, 1.0]])
    )  # negative det: logdet nan


def test_det_of_exactly_singular_matrix_has_torchs_zero_gradient():
    parity(lambda t, a: t.det(a), vals([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 0]]))
    parity(lambda t, a: t.det(a), vals([[[1.0, 0], [0, 0]], [[2.0, 1.0], [1.0, 3.0]]], "float64"))
    parity(lambda t, a: t.linalg.slogdet(a), vals([[1.0, 2.0], [2.0, 4.0]]), grad=False)


def test_logdet_and_slogdet_namedtuple():
    r = parity(lambda t, a: (t.logdet(a), t.slogdet(a)), wellcond(2, 3, 3))
    sd = ember.linalg.slogdet(ember.eye(2) * 2)
    assert float(sd.sign) == 1.0 and abs(float(sd.logabsdet) - math.log(4)) < 1e-6
    assert r[1].logabsdet.shape == (2,)


def test_det_errors():
    raises_like(lambda t, a: t.linalg.det(a), rand(2, 3), match="A must be batches of square matrices")
    raises_like(lambda t, a: t.det(a), rand(3), match="at least 2 dimensions")
    raises_like(lambda t, a: t.det(a), ints(2, 2), match="Expected a floating point")


def test_inv_solve_det_gradcheck_gradgradcheck():
    gradgrad_fn(lambda t, a: t.linalg.inv(a), wellcond(3, 3))
    gradgrad_fn(lambda t, a: t.linalg.inv(a), wellcond(2, 2, 2))
    gradgrad_fn(lambda t, a, b: t.linalg.solve(a, b), wellcond(3, 3), rand(3, 2))
    gradgrad_fn(lambda t, a, b: t.linalg.solve(a, b), wellcond(2, 2, 2), rand(2))
    # first order only: the gradient of A is a transposed view, which gradcheck mis-handles (see the xfail in
    # test_ops_matmul.py)
    gradcheck_fn(lambda t, a, b: t.linalg.solve(a, b, left=False).contiguous(), wellcond(2, 2), rand(3, 2))
    gradgrad_fn(lambda t, a: t.linalg.det(a), rand(3, 3))
    gradgrad_fn(lambda t, a: t.linalg.slogdet(a)[1], wellcond(2, 3, 3))


# ------------------------------------------------------------------------------------------------ small ops


@pytest.mark.parametrize(
    "sa,sb,dim", [((4, 3), (4, 3), -1), ((3, 5), (3, 5), 0), ((2, 4, 3), (1, 4, 3), -1), ((3,), (3,), 0)]
)
def test_linalg_cross(sa, sb, dim):
    parity(lambda t, a, b: t.linalg.cross(a, b, dim=dim), rand(*sa), rand(*sb))
    parity(lambda t, a, b: t.cross(a, b, dim), rand(*sa), rand(*sb))


def test_cross_default_dim_is_first_dim_of_size_3():
    def f(t, a, b):
        with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
            return t.cross(a, b), a.cross(b)

    parity(f, rand(3, 4, 3), rand(3, 4, 3))
    parity(lambda t, a, b: t.linalg.cross(a, b), ints(2, 3), ints(2, 3))


def test_cross_errors():
    raises_like(
        lambda t, a, b: t.linalg.cross(a, b),
        rand(4, 3),
        rand(3),
        match="inputs must have the same number of dimensions",
    )
    raises_like(
        lambda t, a, b: t.linalg.cross(a, b, dim=0),
        rand(4, 3),
        rand(4, 3),
        match="inputs dimension 0 must have length 3. Got 4 and 4",
    )
    raises_like(
        lambda t, a, b: t.linalg.cross(a, b),
        rand(3),
        rand(3, dtype="float64"),
        match="expected scalar type Float but found Double",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raises_like(
            lambda t, a, b: t.cross(a, b), rand(4, 2), rand(4, 2), match="no dimension of size 3 in input"
        )


@pytest.mark.parametrize(
    "spec",
    [
        lambda: rand(3, 3),
        lambda: rand(2, 4),
        lambda: rand(4, 2, noncontig=True),
        lambda: rand(0, 3),
        lambda: ints(3, 3, dtype="int32"),
        lambda: rand(3, 3, dtype="float16"),
    ],
)
def test_trace(spec):
    parity(lambda t, a: (t.trace(a), a.trace()), spec())


def test_trace_errors():
    raises_like(
        lambda t, a: t.trace(a), rand(2, 3, 3), match="trace: expected a matrix, but got tensor with dim 3"
    )
    raises_like(lambda t, a: t.trace(a), vals([[True]], "bool"))


@pytest.mark.parametrize(
    "sa,sb", [((2, 3), (4,)), ((2, 3), (2, 2)), ((), (3,)), ((2, 1, 3), (3, 2)), ((2,), (0,))]
)
def test_kron(sa, sb):
    parity(lambda t, a, b: (t.kron(a, b), a.kron(b)), rand(*sa), rand(*sb))


def test_kron_promotes():
    parity(lambda t, a, b: t.kron(a, b), ints(2, 3), rand(2))
    parity(lambda t, a, b: t.kron(a, b), ints(2, 3), ints(2))


@pytest.mark.parametrize(
    "sa,sb,p",
    [
        ((3, 4), (5, 4), 2.0),
        ((2, 3, 4), (2, 5, 4), 1.0),
        ((2, 1, 3, 2), (5, 4, 2), 2.0),
        ((3, 2), (4, 2), INF),
        ((3, 2), (4, 2), 0.5),
        ((3, 2), (4, 2), 3.0),
        ((0, 2), (4, 2), 2.0),
    ],
)
def test_cdist(sa, sb, p):
    parity(lambda t, a, b: t.cdist(a, b, p), rand(*sa), rand(*sb))


def test_cdist_zero_distance_grad():
    parity(lambda t, a, b: t.cdist(a, b), vals([[1.0, 2.0], [0.0, 0.5]]), vals([[1.0, 2.0], [3.0, -1.0]]))


def test_cdist_errors():
    raises_like(
        lambda t, a, b: t.cdist(a, b),
        ints(3, 4),
        ints(5, 4),
        match="cdist only supports floating-point dtypes, X1 got: Long",
    )
    raises_like(
        lambda t, a, b: t.cdist(a, b),
        rand(4),
        rand(5, 4),
        match="cdist only supports at least 2D tensors, X1 got: 1D",
    )
    raises_like(
        lambda t, a, b: t.cdist(a, b),
        rand(3, 4),
        rand(5, 3),
        match="X1 and X2 must have the same number of columns. X1: 4 X2: 3",
    )
    raises_like(
        lambda t, a, b: t.cdist(a, b, -1),
        rand(3, 4),
        rand(5, 4),
        match="cdist only supports non-negative p values",
    )


@pytest.mark.parametrize("p", [2, 1, 3, INF, 0])
def test_dist(p):
    parity(lambda t, a, b: t.dist(a, b, p), rand(3, 4), rand(4), grad=p != 0)  # torch's p=0 backward errors


def test_dist_promotes_and_errors():
    parity(lambda t, a, b: t.dist(a, b), rand(3, 4), rand(4, dtype="float64"))
    raises_like(
        lambda t, a, b: t.dist(a, b), ints(3), ints(3), match="input dtype should be either floating point"
    )


@pytest.mark.parametrize("p,dim,maxnorm", [(2, 0, 1.0), (1, 1, 2.0), (3, 0, 0.5), (2, -1, 100.0)])
def test_renorm(p, dim, maxnorm):
    parity(lambda t, x: (t.renorm(x, p, dim, maxnorm), x.renorm(p, dim, maxnorm)), rand(3, 4))


def test_renorm_errors():
    raises_like(lambda t, x: t.renorm(x, 0, 0, 1.0), rand(3), match="non-positive-norm not supported")
    raises_like(lambda t, x: t.renorm(x, 1, 0, -1), rand(3, 2), match="expected maxnorm to be >= 0")


def test_vecdot_and_diagonal():
    parity(lambda t, a, b: t.linalg.vecdot(a, b), rand(2, 3), rand(3))
    parity(lambda t, a, b: t.linalg.vecdot(a, b, dim=0), rand(3, 2), rand(3, 1))
    parity(lambda t, a: t.linalg.diagonal(a), rand(2, 3, 4))
    parity(lambda t, a: t.linalg.diagonal(a, offset=1, dim1=0, dim2=2), rand(3, 2, 4))
    raises_like(
        lambda t, a, b: t.linalg.vecdot(a, b),
        rand(3),
        rand(3, dtype="float64"),
        match="Expected x and y to have the same dtype",
    )


def test_small_ops_gradgradcheck():
    gradgrad_fn(lambda t, a, b: t.linalg.cross(a, b), rand(2, 3), rand(2, 3))
    gradgrad_fn(lambda t, a, b: t.kron(a, b), rand(2, 2), rand(2))
    gradgrad_fn(lambda t, a, b: t.cdist(a, b), rand(2, 2), rand(3, 2))
    gradgrad_fn(lambda t, a: t.renorm(a, 2, 0, 1.0), rand(2, 3))


# ------------------------------------------------------------------------------------------------ matrix_power


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 6, -1, -3])
def test_matrix_power(n):
    parity(lambda t, a: t.linalg.matrix_power(a, n), wellcond(2, 3, 3))


def test_matrix_power_ints_and_errors():
    parity(lambda t, a: t.linalg.matrix_power(a, 3), ints(3, 3, low=-2, high=3))
    parity(lambda t, a: t.linalg.matrix_power(a, 0), ints(2, 2))
    raises_like(
        lambda t, a: t.linalg.matrix_power(a, -1), ints(2, 2), match="linalg.inv: Expected a floating point"
    )
    raises_like(
        lambda t, a: t.linalg.matrix_power(a, 2),
        rand(3, 2),
        match="linalg.matrix_power: A must be batches of square matrices",
    )
    raises_like(lambda t, a: t.linalg.matrix_power(a, 2), rand(3), match="at least 2 dimensions")


# ------------------------------------------------------------------------------------------------ decompositions


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(shape, upper):
    parity(lambda t, x: t.linalg.cholesky(spd(t, x), upper=upper), rand(*shape, dtype="float64"))


def test_cholesky_float32_and_deprecated_alias():
    parity(lambda t, x: t.linalg.cholesky(spd(t, x)), rand(2, 3, 3))

    def f(t, x):
        with pytest.warns(UserWarning, match="torch.cholesky is deprecated"):
            return t.cholesky(spd(t, x))

    parity(f, rand(3, 3))


def test_cholesky_errors():
    raises_linalg_error(
        lambda t, a: t.linalg.cholesky(a),
        vals([[1.0, 2.0], [2.0, 1.0]]),
        match="leading minor of order 2 is not positive-definite",
    )
    raises_linalg_error(
        lambda t, a: t.linalg.cholesky(a),
        vals([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]),
        match="(Batch element 1)",
    )
    raises_like(lambda t, a: t.linalg.cholesky(a), rand(3, 2), match="A must be batches of square matrices")


def _qr_fixed(t, x, mode="reduced"):
    Q, R = t.linalg.qr(x, mode=mode)
    k = min(R.shape[-2], R.shape[-1])
    d = t.sign(R.diagonal(0, -2, -1))[..., :k]  # fix the sign gauge (LAPACK's choice may differ)
    return Q[..., :, :k] * d.unsqueeze(-2), R[..., :k, :] * d.unsqueeze(-1)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_qr(shape):
    parity(lambda t, x: _qr_fixed(t, x), rand(*shape, dtype="float64"))


def test_qr_modes():
    parity(lambda t, x: tuple(t.linalg.qr(x, mode="complete")[0].shape), rand(4, 3), grad=False)
    parity(lambda t, x: t.linalg.qr(x, mode="r")[1].abs(), rand(4, 3), grad=False)
    with pytest.warns(UserWarning, match="torch.qr is deprecated"):
        ember.qr(ember.ones(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parity(lambda t, x: t.qr(x)[1].abs(), rand(4, 3))
    parity(lambda t, x: _qr_fixed(t, x, "complete"), rand(3, 5, dtype="float64"))
    raises_like(lambda t, x: t.linalg.qr(x, mode="x"), rand(4, 3), match="qr received unrecognized mode 'x'")
    raises_like(lambda t, x: t.linalg.qr(x), rand(3), match="at least 2 dimensions")
    raises_like(lambda t, x: t.linalg.qr(x, mode="r")[1].sum().backward(), rand(3, 3), match="mode='r'")
    raises_like(
        lambda t, x: t.linalg.qr(x, mode="complete")[0].sum().backward(), rand(4, 3), match="nrows > ncols"
    )


def _svd_fixed(t, x):
    U, S, Vh = t.linalg.svd(x, full_matrices=False)
    s = col_signs(t, U)
    return U * s, S, Vh * s.mT


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 2)])
def test_svd(shape):
    parity(lambda t, x: _svd_fixed(t, x), rand(*shape, dtype="float64"))
    parity(lambda t, x: (t.linalg.svdvals(x), t.linalg.matrix_norm(x, "nuc")), rand(*shape))


def test_svd_full_matrices_and_torch_svd():
    def f(t, x):
        U, S, Vh = t.linalg.svd(x)
        return tuple(U.shape), tuple(Vh.shape), S, (U[:, :3] * S) @ Vh[:3]

    parity(f, rand(5, 3, dtype="float64"))

    def g(t, x):
        U, S, V = t.svd(x)
        return S, (U * S) @ V.mT

    parity(g, rand(4, 3, dtype="float64"))
    raises_like(lambda t, x: t.linalg.svd(x), rand(3), match="at least 2 dimensions")
    raises_like(lambda t, x: t.linalg.svd(x), ints(3, 3), match="Expected a floating point")


def _eigh_fixed(t, x, UPLO="L"):
    L, V = t.linalg.eigh(sym(t, x), UPLO=UPLO)
    return L, V * col_signs(t, V)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_eigh(shape):
    parity(lambda t, x: _eigh_fixed(t, x), rand(*shape, dtype="float64"))
    parity(lambda t, x: t.linalg.eigvalsh(sym(t, x)), rand(*shape))


def test_eigh_uplo_reads_one_triangle():
    parity(lambda t, x: t.linalg.eigh(x, UPLO="U")[0], rand(3, 3, dtype="float64"))
    parity(lambda t, x: t.linalg.eigvalsh(x), rand(3, 3, dtype="float64"))
    raises_like(
        lambda t, x: t.linalg.eigh(x, UPLO="X"),
        rand(3, 3),
        match="Expected UPLO argument to be 'L' or 'U', but got X",
    )
    raises_like(lambda t, x: t.linalg.eigh(x), rand(3, 2), match="A must be batches of square matrices")


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 3, 3)])
def test_pinv(shape):
    parity(lambda t, x: (t.linalg.pinv(x), t.pinverse(x)), rand(*shape, dtype="float64"))


def test_pinv_rank_deficient_hermitian_and_tolerances():
    low_rank = vals([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]], "float64")
    parity(lambda t, x: t.linalg.pinv(x), low_rank)
    parity(lambda t, x: t.linalg.pinv(sym(t, x), hermitian=True), rand(3, 3, dtype="float64"))
    parity(lambda t, x: t.linalg.pinv(x, atol=0.5), rand(4, 3, dtype="float64"))
    parity(lambda t, x: t.linalg.pinv(x, rtol=0.3), rand(4, 3, dtype="float64"))
    parity(lambda t, x: t.linalg.pinv(x), rand(0, 3))
    raises_like(lambda t, x: t.linalg.pinv(x), rand(3), match="expected a tensor with 2 or more dimensions")


def test_matrix_rank():
    low_rank = vals([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    parity(lambda t, x: t.linalg.matrix_rank(x), low_rank)
    parity(lambda t, x: t.linalg.matrix_rank(x), rand(2, 4, 3))
    parity(lambda t, x: t.linalg.matrix_rank(x, hermitian=True), vals([[2.0, 1.0], [1.0, 0.5]], "float64"))
    parity(lambda t, x: t.linalg.matrix_rank(x, atol=1.0, rtol=0.0), vals([[3.0, 0.0], [0.0, 0.5]]))
    raises_like(lambda t, x: t.linalg.matrix_rank(x), ints(3, 3))


def test_decompositions_gradcheck():
    gradgrad_fn(lambda t, x: t.linalg.cholesky(spd(t, x)), rand(3, 3))
    gradcheck_fn(lambda t, x: _qr_fixed(t, x), rand(4, 3))
    gradcheck_fn(lambda t, x: _qr_fixed(t, x), rand(2, 4))
    gradcheck_fn(lambda t, x: _svd_fixed(t, x), rand(3, 2))
    gradcheck_fn(lambda t, x: _svd_fixed(t, x), rand(2, 3))
    gradgrad_fn(lambda t, x: t.linalg.svdvals(x), rand(3, 2))
    gradcheck_fn(lambda t, x: _eigh_fixed(t, x), rand(3, 3))
    gradgrad_fn(lambda t, x: t.linalg.eigvalsh(sym(t, x)), rand(3, 3))
    gradgrad_fn(lambda t, x: t.linalg.pinv(x), rand(3, 2))
    gradcheck_fn(lambda t, x: t.linalg.pinv(x), rand(2, 3))


# ------------------------------------------------------------------------------------------------ namespaces


def test_namespaces_and_methods():
    assert ember.linalg.norm is not ember.norm  # torch.linalg.norm and torch.norm differ
    for name in (
        "einsum",
        "norm",
        "cross",
        "trace",
        "det",
        "inverse",
        "kron",
        "tensordot",
        "cdist",
        "dist",
        "renorm",
        "slogdet",
        "logdet",
        "matrix_power",
        "pinverse",
    ):
        assert callable(getattr(ember, name)), name
    for name in (
        "inv",
        "solve",
        "det",
        "slogdet",
        "cross",
        "cholesky",
        "qr",
        "svd",
        "svdvals",
        "eigh",
        "pinv",
        "matrix_rank",
        "matrix_power",
        "diagonal",
        "vector_norm",
        "matrix_norm",
        "norm",
        "multi_dot",
    ):
        assert callable(getattr(ember.linalg, name)), name
    x = ember.eye(3) * 2
    assert float(x.det()) == 8.0 and float(x.trace()) == 6.0
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)


def test_randn_spec_parity_smoke():
    parity(lambda t, a, b: t.einsum("ij,ij->i", a, b), randn(4, 3), randn(4, 3))


# ------------------------------------------------------------------------------------------------ einsum fuzz


@settings(deadline=None, max_examples=30)
@given(st.data())
def test_einsum_random_equations(data):
    labels = "abcdE"
    size = {c: data.draw(st.integers(1, 3)) for c in labels}
    n_ops = data.draw(st.integers(1, 3))
    terms, shapes = [], []
    for _ in range(n_ops):
        term = data.draw(st.lists(st.sampled_from(labels), min_size=0, max_size=3))
        # a label used once in an operand may be broadcast (size 1)
        shape = [
            1 if term.count(c) == 1 and data.draw(st.booleans()) and data.draw(st.booleans()) else size[c]
            for c in term
        ]
        terms.append("".join(term))
        shapes.append(tuple(shape))
    used = sorted(set("".join(terms)))
    if data.draw(st.booleans()):
        eq = ",".join(terms)
    else:
        out = data.draw(st.permutations(used).map(lambda p: p[: data.draw(st.integers(0, len(p)))]))
        eq = ",".join(terms) + "->" + "".join(out)
    parity(lambda t, *xs: t.einsum(eq, *xs), *[rand(*s, dtype="float64") for s in shapes])

"""View and shape ops against torch: view/reshape, permute/transpose, squeeze/unsqueeze, expand/broadcast,
as_strided, diagonal, unfold, flatten/unflatten, sum_to_size, atleast_*d (forward, grads, errors)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_close, gradcheck_fn, ints, parity, raises_like, rand

# ------------------------------------------------------------------------------------------------ view / reshape


@pytest.mark.parametrize(
    "shape,new",
    [
        ((3, 4), (12,)),
        ((3, 4), (2, -1)),
        ((3, 4), (-1, 3, 2)),
        ((2, 3, 4), (6, 4)),
        ((12,), (3, 1, 4)),
        ((), (1,)),
        ((1,), ()),
        ((), (-1,)),
        ((0,), (0, 3)),
        ((2, 0), (0, 5)),
        ((2, 0, 3), (0, 6)),
    ],
)
def test_view_shapes(shape, new):
    parity(lambda t, x: x.view(new), rand(*shape))
    parity(lambda t, x: x.view(*new) if new else x.view(()), rand(*shape, dtype="float64"))


@pytest.mark.parametrize("new", [(4, 3), (2, 2, 3), (-1,)])
def test_reshape_noncontig_copies(new):
    out = parity(lambda t, x: x.reshape(new), rand(3, 4, noncontig=True))
    assert out.is_contiguous()
    parity(lambda t, x: t.reshape(x, new), rand(3, 4, noncontig=True, dtype="float16"))


def test_view_noncontig_compatible_and_incompatible():
    # splitting the (strided) last dim of a transpose is expressible as a view
    parity(lambda t, x: x.view(2, 2, 3), rand(2, 6, noncontig=True))
    parity(lambda t, x: x.view(4, 1, 3), rand(4, 3, noncontig=True))
    raises_like(lambda t, x: x.view(12), rand(4, 3, noncontig=True), match="view")
    raises_like(lambda t, x: x.view(-1), rand(4, 3, noncontig=True))


def test_view_reshape_errors():
    raises_like(lambda t, x: x.view(5, -1), rand(3, 4))
    raises_like(lambda t, x: x.view(-1, -1), rand(3, 4))
    raises_like(lambda t, x: x.view(7), rand(3, 4))
    raises_like(lambda t, x: x.view(-2, 6), rand(3, 4))
    raises_like(lambda t, x: x.reshape(5), rand(3, 4))
    raises_like(lambda t, x: x.reshape(-1, 0), rand(0, 3), match="ambiguous")
    raises_like(lambda t, x: x.view(-1, 0, 2), rand(2, 0))


def test_reshape_is_view_when_possible():
    x = ember.arange(12.0)
    y = x.reshape(3, 4)
    assert y._base is x and y.data_ptr() == x.data_ptr()
    z = y.t().reshape(12)
    assert z._base is None and z.data_ptr() != x.data_ptr()
    same = x.reshape(12)
    assert same._base is x
    w = y.t().reshape(4, 1, 3)
    assert w._base is x


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_view_as_reshape_as(dtype):
    spec = ints(2, 6, dtype=dtype) if dtype in ("int64", "bool") else rand(2, 6, dtype=dtype)
    parity(lambda t, x, y: x.view_as(y), spec, rand(3, 4))
    parity(lambda t, x, y: x.reshape_as(y), rand(2, 6, noncontig=True), rand(4, 3))


# ------------------------------------------------------------------------------------------------ permutes


@pytest.mark.parametrize(
    "shape,dims",
    [((2, 3, 4), (2, 0, 1)), ((2, 3, 4), (-1, -3, -2)), ((3,), (0,)), ((), ()), ((2, 0, 3), (1, 2, 0))],
)
def test_permute(shape, dims):
    parity(lambda t, x: x.permute(dims), rand(*shape))
    parity(lambda t, x: t.permute(x, dims), rand(*shape, dtype="float64"))


def test_permute_noncontig_and_errors():
    parity(lambda t, x: x.permute(1, 0, 2), rand(2, 3, 4, noncontig=True))
    raises_like(lambda t, x: x.permute(0, 0, 1), rand(2, 3, 4))
    raises_like(lambda t, x: x.permute(0, 1), rand(2, 3, 4))
    raises_like(lambda t, x: x.permute(0, 1, 3), rand(2, 3, 4))


@pytest.mark.parametrize("fn", ["transpose", "swapaxes", "swapdims"])
@pytest.mark.parametrize("shape,d0,d1", [((2, 3, 4), 0, 2), ((2, 3, 4), -1, 0), ((3,), 0, -1), ((), 0, -1)])
def test_transpose_family(fn, shape, d0, d1):
    parity(lambda t, x: getattr(t, fn)(x, d0, d1), rand(*shape))
    parity(lambda t, x: getattr(x, fn)(d0, d1), rand(*shape, noncontig=True))


def test_transpose_errors():
    raises_like(lambda t, x: x.transpose(0, 3), rand(2, 3))
    raises_like(lambda t, x: x.transpose(-4, 0), rand(2, 3))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0, 3)])
def test_t(shape):
    parity(lambda t, x: x.t(), rand(*shape))
    parity(lambda t, x: t.t(x), rand(*shape, dtype="float64"))


def test_t_error():
    raises_like(lambda t, x: x.t(), rand(2, 3, 4))


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (2, 1, 3, 2)])
def test_T_mT_adjoint_mH(shape):
    parity(lambda t, x: x.mT, rand(*shape))
    parity(lambda t, x: x.mH, rand(*shape, noncontig=True))
    parity(lambda t, x: x.adjoint(), rand(*shape))
    parity(lambda t, x: t.adjoint(x), rand(*shape, dtype="float64"))
    if len(shape) == 2:
        parity(lambda t, x: x.T, rand(*shape, noncontig=True))
        parity(lambda t, x: x.H, rand(*shape))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_T_on_other_dims_and_mT_error():
    parity(lambda t, x: x.T, rand(3))
    parity(lambda t, x: x.T, rand())
    parity(lambda t, x: x.T, rand(2, 3, 4))
    raises_like(lambda t, x: x.mT, rand(3))


@pytest.mark.parametrize(
    "src,dst",
    [(0, 2), (-1, 0), ((0, 1), (2, 0)), ([0, -1], [-1, 0]), ((), ()), ((1,), (1,))],
)
@pytest.mark.parametrize("fn", ["movedim", "moveaxis"])
def test_movedim(fn, src, dst):
    parity(lambda t, x: getattr(t, fn)(x, src, dst), rand(2, 3, 4))
    parity(lambda t, x: getattr(x, fn)(src, dst), rand(2, 3, 4, noncontig=True))


def test_movedim_errors():
    raises_like(lambda t, x: t.movedim(x, (0, 1), (1,)), rand(2, 3, 4))
    raises_like(lambda t, x: t.movedim(x, (0, 0), (1, 2)), rand(2, 3, 4))
    raises_like(lambda t, x: t.movedim(x, (0, 1), (2, 2)), rand(2, 3, 4))
    raises_like(lambda t, x: t.movedim(x, 3, 0), rand(2, 3, 4))


# ------------------------------------------------------------------------------------------------ squeeze


@pytest.mark.parametrize(
    "shape,dim",
    [
        ((1, 3, 1, 2), None),
        ((1, 3, 1, 2), 0),
        ((1, 3, 1, 2), -2),
        ((1, 3, 1, 2), 1),
        ((1, 3, 1, 2), (0, 2)),
        ((1, 3, 1, 2), (-4, 1, 2)),
        ((1, 3, 1, 2), ()),
        ((), None),
        ((), 0),
        ((), -1),
        ((), (0,)),
        ((1,), None),
        ((1, 1), (0, 1)),
        ((0, 1), None),
    ],
)
def test_squeeze(shape, dim):
    fn = (lambda t, x: x.squeeze()) if dim is None else (lambda t, x: t.squeeze(x, dim))
    parity(fn, rand(*shape))


def test_squeeze_noncontig_and_errors():
    parity(lambda t, x: x.squeeze(-1), rand(1, 3, 1, noncontig=True))
    parity(lambda t, x: x.squeeze(), rand(2, 1, 1, 3, noncontig=True))
    raises_like(lambda t, x: x.squeeze(3), rand(1, 3, 1))
    raises_like(lambda t, x: x.squeeze((0, 5)), rand(1, 3, 1))
    raises_like(lambda t, x: x.squeeze(1), rand())


@pytest.mark.parametrize(
    "shape,dim", [((2, 3), 0), ((2, 3), 2), ((2, 3), -1), ((2, 3), -3), ((), 0), ((), -1)]
)
def test_unsqueeze(shape, dim):
    parity(lambda t, x: x.unsqueeze(dim), rand(*shape))
    parity(lambda t, x: t.unsqueeze(x, dim), rand(*shape, noncontig=True, dtype="float64"))


def test_unsqueeze_errors():
    raises_like(lambda t, x: x.unsqueeze(3), rand(2, 3))
    raises_like(lambda t, x: x.unsqueeze(-4), rand(2, 3))


# ------------------------------------------------------------------------------------------------ expand / broadcast


@pytest.mark.parametrize(
    "shape,sizes",
    [
        ((3, 1), (3, 4)),
        ((3, 1), (-1, 4)),
        ((3, 1), (2, 3, 4)),
        ((3, 1), (2, -1, 4)),
        ((1,), (0,)),
        ((), (2, 3)),
        ((2, 3), (2, 3)),
        ((1, 3), (5, 0, 3)),
        ((3, 1), (3, 1)),
    ],
)
def test_expand(shape, sizes):
    parity(lambda t, x: x.expand(*sizes), rand(*shape))
    parity(lambda t, x: x.expand(sizes), rand(*shape, dtype="float64"))


def test_expand_noncontig_and_variants():
    parity(lambda t, x: x.expand(2, 4, 3), rand(4, 3, noncontig=True))
    parity(lambda t, x, y: x.expand_as(y), rand(1, 3), rand(2, 3))
    parity(lambda t, x: t.broadcast_to(x, (2, 3, 4)), rand(3, 1))
    parity(lambda t, x: x.broadcast_to((2, -1)), rand(3))


def test_expand_errors():
    raises_like(lambda t, x: x.expand(3, 5), rand(3, 4), match="expanded size")
    raises_like(lambda t, x: x.expand(4), rand(3, 4))
    raises_like(lambda t, x: x.expand(-1, 3, 4), rand(3, 4))
    raises_like(lambda t, x: x.expand(2, 4), rand(0, 4))
    raises_like(lambda t, x: t.broadcast_to(x, (2, 3)), rand(4))


@pytest.mark.parametrize(
    "shapes", [[(3, 1), (1, 4)], [(2, 1, 3), (4, 1), ()], [(0, 1), (1, 5)], [(3,)], [(2, 3), (2, 3)]]
)
def test_broadcast_tensors(shapes):
    parity(lambda t, *xs: t.broadcast_tensors(*xs), *[rand(*s) for s in shapes])
    parity(lambda t, *xs: t.broadcast_shapes(*[x.shape for x in xs]), *[rand(*s) for s in shapes], grad=False)


def test_broadcast_shapes_and_errors():
    assert_close(ember.broadcast_shapes(3, (2, 1)), torch.broadcast_shapes(3, (2, 1)))
    assert_close(ember.broadcast_shapes(), torch.broadcast_shapes())
    assert_close(ember.broadcast_shapes((0,), (1,)), torch.broadcast_shapes((0,), (1,)))
    raises_like(lambda t: t.broadcast_shapes((2, 3), (3, 2)))
    raises_like(lambda t, x, y: t.broadcast_tensors(x, y), rand(2, 3), rand(4))


_shape_st = st.lists(st.integers(1, 4), min_size=0, max_size=4)


@st.composite
def _broadcast_pair(draw):
    out = draw(_shape_st)
    a = [draw(st.sampled_from([s, 1])) for s in out]
    b = [draw(st.sampled_from([s, 1])) for s in out]
    a = a[draw(st.integers(0, len(a))) :]
    b = b[draw(st.integers(0, len(b))) :]
    return tuple(a), tuple(b)


@settings(deadline=None, max_examples=30)
@given(_broadcast_pair(), st.sampled_from(["add", "mul", "sub"]))
def test_broadcast_property(pair, op):
    a, b = pair
    parity(lambda t, x, y: getattr(t, op)(x, y), rand(*a), rand(*b, dtype="float64"))
    assert_close(ember.broadcast_shapes(a, b), torch.broadcast_shapes(a, b))


# ------------------------------------------------------------------------------------------------ as_strided


@pytest.mark.parametrize(
    "size,stride,offset",
    [
        ((2, 2), (1, 2), None),
        ((3, 3), (3, 1), 0),
        ((2, 3), (4, 1), 1),
        ((2, 2), (1, 1), 2),  # overlapping windows: gradients accumulate
        ((3,), (0,), 5),
        ((0, 2), (1, 1), 0),
        ((), (), 3),
    ],
)
def test_as_strided(size, stride, offset):
    parity(lambda t, x: t.as_strided(x, size, stride, offset), rand(3, 4))
    parity(lambda t, x: x.as_strided(size, stride, offset), rand(12, dtype="float64"))


def test_as_strided_of_view_and_errors():
    # as_strided addresses the storage, whatever view it is called on
    parity(lambda t, x: (x * 1)[1:].as_strided((2, 2), (2, 1)), rand(3, 4))
    parity(lambda t, x: (x * 1)[1:].as_strided((2, 2), (2, 1), 0), rand(3, 4))
    parity(lambda t, x: x.t().as_strided((3, 2), (1, 3), 1), rand(3, 4))
    parity(lambda t, x: x.unsqueeze(0)[:, 1].as_strided((2, 2), (1, 4)), rand(3, 4))
    raises_like(lambda t, x: x.as_strided((4, 4), (4, 1)), rand(3, 4))
    raises_like(lambda t, x: x.as_strided((2,), (1,), 11), rand(3, 4))


def test_as_strided_double_backward():
    def f(m):
        x = m.tensor(
            [[1.0, -2.0, 0.5, 3.0], [0.2, 1.5, -1.0, 2.0], [4.0, -0.3, 0.7, 1.1]], requires_grad=True
        )
        cot = m.tensor([[1.0, 2.0], [-1.0, 0.5]], requires_grad=True)
        y = (x * x)[1:].as_strided((2, 2), (1, 1), 5)
        (g,) = m.autograd.grad(y, x, cot, create_graph=True)
        (g * m.arange(12.0).view(3, 4)).sum().backward()
        return g.detach(), x.grad, cot.grad

    assert_close(f(ember), f(torch))


# ------------------------------------------------------------------------------------------------ diagonal


@pytest.mark.parametrize(
    "shape,offset,d1,d2",
    [
        ((3, 4), 0, 0, 1),
        ((3, 4), 1, 0, 1),
        ((3, 4), -2, 0, 1),
        ((3, 4), 5, 0, 1),
        ((3, 4), -4, 0, 1),
        ((3, 4), 0, 1, 0),
        ((3, 4), 2, -1, -2),
        ((2, 3, 4), 1, 0, 2),
        ((2, 3, 4), -1, -1, 1),
        ((0, 3), 0, 0, 1),
    ],
)
def test_diagonal(shape, offset, d1, d2):
    parity(lambda t, x: t.diagonal(x, offset, d1, d2), rand(*shape))
    parity(lambda t, x: x.diagonal(offset=offset, dim1=d1, dim2=d2), rand(*shape, noncontig=True))


def test_diagonal_errors():
    raises_like(lambda t, x: x.diagonal(), rand(3))
    raises_like(lambda t, x: x.diagonal(0, 1, 1), rand(3, 3))
    raises_like(lambda t, x: x.diagonal(0, 0, 2), rand(3, 3))


# ------------------------------------------------------------------------------------------------ unfold


@pytest.mark.parametrize(
    "shape,dim,size,step",
    [
        ((7,), 0, 3, 1),
        ((7,), 0, 2, 3),
        ((7,), 0, 7, 1),
        ((7,), 0, 0, 1),
        ((3, 6), 1, 2, 2),
        ((3, 6), -1, 3, 1),
        ((4, 3), 0, 2, 1),
        ((2, 5, 3), 1, 2, 2),
        ((), 0, 1, 1),
        ((0, 3), 1, 2, 1),
    ],
)
def test_unfold(shape, dim, size, step):
    parity(lambda t, x: x.unfold(dim, size, step), rand(*shape))


def test_unfold_noncontig_and_errors():
    parity(lambda t, x: x.unfold(0, 2, 1), rand(4, 3, noncontig=True))
    raises_like(lambda t, x: x.unfold(0, 8, 1), rand(7))
    raises_like(lambda t, x: x.unfold(0, 2, 0), rand(7))
    raises_like(lambda t, x: x.unfold(2, 2, 1), rand(7, 3))


# ------------------------------------------------------------------------------------------------ flatten family


@pytest.mark.parametrize(
    "shape,s,e",
    [
        ((2, 3, 4), 0, -1),
        ((2, 3, 4), 1, 2),
        ((2, 3, 4), 0, 0),
        ((2, 3, 4), -2, -1),
        ((), 0, -1),
        ((3,), 0, 0),
        ((2, 0, 3), 0, 1),
    ],
)
def test_flatten(shape, s, e):
    parity(lambda t, x: x.flatten(s, e), rand(*shape))
    parity(lambda t, x: t.flatten(x, start_dim=s, end_dim=e), rand(*shape, noncontig=True))


def test_flatten_errors_and_ravel():
    raises_like(lambda t, x: x.flatten(2, 1), rand(2, 3, 4))
    raises_like(lambda t, x: x.flatten(0, 3), rand(2, 3, 4))
    for shape in [(2, 3), (), (0, 2)]:
        parity(lambda t, x: x.ravel(), rand(*shape))
    parity(lambda t, x: t.ravel(x), rand(3, 2, noncontig=True))


@pytest.mark.parametrize(
    "shape,dim,sizes",
    [
        ((6, 2), 0, (2, 3)),
        ((6, 2), 0, (-1, 3)),
        ((2, 12), -1, (2, 3, 2)),
        ((4,), 0, (4,)),
        ((0, 3), 0, (0, 5)),
    ],
)
def test_unflatten(shape, dim, sizes):
    parity(lambda t, x: x.unflatten(dim, sizes), rand(*shape))
    parity(lambda t, x: t.unflatten(x, dim, sizes), rand(*shape, noncontig=True))


def test_unflatten_errors():
    raises_like(lambda t, x: x.unflatten(0, (4, 2)), rand(6))
    raises_like(lambda t, x: x.unflatten(0, ()), rand(6))
    raises_like(lambda t, x: x.unflatten(1, (2, 3)), rand(6))


@pytest.mark.parametrize(
    "shape,size",
    [
        ((3, 4), (3, 1)),
        ((3, 4), (4,)),
        ((3, 4), (1, 1)),
        ((2, 3, 4), (3, 1)),
        ((3, 4), (3, 4)),
        ((3, 4), ()),
        ((0, 4), (1, 4)),
    ],
)
def test_sum_to_size(shape, size):
    parity(lambda t, x: x.sum_to_size(size), rand(*shape))
    parity(lambda t, x: x.sum_to_size(*size) if size else x.sum_to_size(()), rand(*shape, dtype="float64"))


def test_sum_to_size_half_and_errors():
    parity(lambda t, x: x.sum_to_size(1, 4), rand(30, 4, dtype="float16"))
    parity(lambda t, x: x.sum_to_size(3, 1), ints(3, 4))
    raises_like(lambda t, x: x.sum_to_size(2, 4), rand(3, 4))
    raises_like(lambda t, x: x.sum_to_size(3, 4, 1), rand(3, 4))


@pytest.mark.parametrize("fn", ["atleast_1d", "atleast_2d", "atleast_3d"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (0,)])
def test_atleast(fn, shape):
    parity(lambda t, x: getattr(t, fn)(x), rand(*shape))


@pytest.mark.parametrize("fn", ["atleast_1d", "atleast_2d", "atleast_3d"])
def test_atleast_many(fn):
    parity(lambda t, x, y, z: getattr(t, fn)(x, y, z), rand(), rand(3), rand(2, 3))
    parity(lambda t, x, y: getattr(t, fn)([x, y]), rand(2), rand(2, 3, noncontig=True))


# ------------------------------------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize(
    "fn,spec",
    [
        (lambda t, x: x.view(3, 2) * x.view(3, 2), rand(2, 3)),
        (lambda t, x: x.t().reshape(6), rand(2, 3)),
        (lambda t, x: x.permute(2, 0, 1), rand(2, 1, 3)),
        (lambda t, x: x.transpose(0, 1), rand(2, 3)),
        (lambda t, x: t.movedim(x, 0, -1), rand(2, 1, 3)),
        (lambda t, x: x.squeeze(1).unsqueeze(0), rand(2, 1, 3)),
        (lambda t, x: x.expand(2, 3, 2), rand(3, 1)),
        (lambda t, x: t.as_strided(x, (2, 2), (1, 1), 1), rand(5)),
        (lambda t, x: t.diagonal(x, -1, 1, 0), rand(3, 3)),
        (lambda t, x: x.unfold(0, 3, 1), rand(5)),
        (lambda t, x: x.flatten().unflatten(0, (3, 2)), rand(2, 3)),
        (lambda t, x: x.sum_to_size(1, 3), rand(2, 3)),
        (lambda t, x: t.broadcast_tensors(x, x.t())[0], rand(3, 1)),
        (lambda t, x: t.atleast_3d(x), rand(3)),
    ],
)
def test_gradcheck(fn, spec):
    gradcheck_fn(fn, spec)


@pytest.mark.parametrize(
    "fn,spec",
    [
        (lambda t, x: t.as_strided(x, (2, 2), (1, 1), 1), rand(5)),
        (lambda t, x: (x * 1)[1:].as_strided((2, 2), (1, 1), 3), rand(3, 2)),
        (lambda t, x: t.diagonal(x, 1, 0, 1), rand(3, 3)),
        (lambda t, x: x.unfold(0, 2, 1), rand(4)),
        (lambda t, x: x.expand(2, 3, 2).permute(2, 0, 1), rand(3, 1)),
        (lambda t, x: (x * x).sum_to_size(1, 3), rand(2, 3)),
        (lambda t, x: x.t().reshape(6) * x.view(6), rand(2, 3)),
    ],
)
def test_gradgradcheck(fn, spec):
    xs = gradcheck_fn(fn, spec)
    assert ember.autograd.gradgradcheck(lambda *a: fn(ember, *a), tuple(xs))

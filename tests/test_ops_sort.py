"""Sorting and searching against torch: sort/argsort/msort, topk, kthvalue, median/nanmedian, mode, unique,
unique_consecutive, bincount, searchsorted/bucketize, histc (values, indices, gradients, errors)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import Spec, assert_close, bools, gradcheck_fn, ints, parity, raises_like, rand, vals

NAN = math.nan
SHAPE_DIMS = [((), 0), ((), -1), ((0,), 0), ((7,), 0), ((7,), -1), ((3, 4), 0), ((3, 4), 1), ((3, 4), -2)]
SHAPE_DIMS += [((2, 3, 4), d) for d in (0, 1, 2, -1, -3)]
NONEMPTY = [(s, d) for s, d in SHAPE_DIMS if 0 not in s]


def _ties(*shape, dtype="float32", high=3):
    g = np.random.default_rng(sum(shape) * 7 + len(shape))
    return Spec(g.integers(0, high, size=shape).astype(np.float64), dtype, "float" in dtype)


def _check_gather(out, x, dim, keepdim=False):
    """indices must pick the values out of x (for ops where torch leaves the tie index unspecified)."""
    v, i = out
    if x.dim() == 0:
        assert int(i) == 0 and float(v) == float(x)
        return
    vi = i if keepdim else i.unsqueeze(dim)
    picked = ember.gather(x.detach(), dim, vi)
    picked = picked if keepdim else picked.squeeze(dim)
    np.testing.assert_array_equal(picked.cpu().numpy(), v.detach().cpu().numpy())


# ------------------------------------------------------------------------------------------ sort


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("shape,dim", SHAPE_DIMS)
def test_sort(shape, dim, descending):
    parity(lambda t, x: tuple(t.sort(x, dim, descending)), rand(*shape))


@pytest.mark.parametrize("stable", [False, True])
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("shape,dim", [((9,), 0), ((4, 6), 1), ((4, 6), 0), ((2, 3, 5), -1)])
def test_sort_ties_keep_original_order(shape, dim, descending, stable):
    parity(lambda t, x: tuple(t.sort(x, dim=dim, descending=descending, stable=stable)), _ties(*shape))


@pytest.mark.parametrize("descending", [False, True])
def test_sort_nan_is_largest(descending):
    spec = vals([2.0, NAN, 1.0, 2.0, NAN, 1.0, 0.0, -0.0, math.inf, -math.inf])
    parity(lambda t, x: tuple(t.sort(x, descending=descending)), spec)
    parity(lambda t, x: t.argsort(x, descending=descending), spec, grad=False)


@pytest.mark.parametrize(
    "dtype", ["float64", "float16", "bfloat16", "int64", "int32", "uint8", "int8", "bool"]
)
@pytest.mark.parametrize("descending", [False, True])
def test_sort_dtypes(dtype, descending):
    if dtype == "bool":
        spec = bools(4, 7)
    elif "int" in dtype:
        spec = ints(4, 7, low=0 if dtype == "uint8" else -4, high=4, dtype=dtype)
    else:
        spec = _ties(4, 7, dtype=dtype, high=5)
    parity(lambda t, x: tuple(t.sort(x, 1, descending)), spec)


def test_sort_noncontig_and_methods():
    spec = rand(4, 5, noncontig=True)
    parity(lambda t, x: (tuple(x.sort(0)), x.argsort(1, descending=True), x.msort()), spec)
    out = ember.sort(ember.tensor([3.0, 1.0]))
    assert type(out).__name__ == "sort" and out.values is out[0] and out.indices is out[1]


@pytest.mark.parametrize("shape", [(), (0,), (5,), (4, 3), (2, 3, 4)])
def test_argsort_msort(shape):
    parity(lambda t, x: t.argsort(x, dim=0, stable=True), _ties(*shape) if shape else rand(), grad=False)
    parity(lambda t, x: t.msort(x), rand(*shape))


# ------------------------------------------------------------------------------------------ topk


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape,dim", NONEMPTY)
def test_topk(shape, dim, largest):
    n = shape[dim] if shape else 1
    for k in sorted({0, 1, n // 2, n}):
        parity(lambda t, x, k: tuple(t.topk(x, k, dim, largest)), rand(*shape), k)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_ties_and_nan(largest):
    x = _ties(4, 9)
    e = parity(lambda t, x: t.topk(x, 4, 1, largest).values, x, grad=False)
    xe = x.build(ember)[1]
    _check_gather(ember.topk(xe, 4, 1, largest), xe, 1, keepdim=True)
    assert e.shape == (4, 4)
    parity(lambda t, x: tuple(t.topk(x, 2, largest=largest)), vals([1.0, NAN, 3.0, NAN, -1.0]))


def test_topk_unsorted_values_match_as_a_set():
    spec = rand(3, 8)
    t_out = torch.topk(spec.build(torch)[1], 3, sorted=False)
    x = spec.build(ember)[1]
    e_out = ember.topk(x, 3, sorted=False)
    np.testing.assert_allclose(
        np.sort(e_out.values.detach().cpu().numpy(), 1), np.sort(t_out.values.detach().cpu().numpy(), 1), rtol=1e-6
    )
    _check_gather(e_out, x, 1, keepdim=True)


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "int64", "uint8"])
def test_topk_dtypes(dtype):
    spec = ints(3, 6, low=0, high=50, dtype=dtype) if "int" in dtype else rand(3, 6, dtype=dtype)
    parity(lambda t, x: tuple(t.topk(x, 3)), spec)


# ------------------------------------------------------------------------------------------ kthvalue / median / mode


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", NONEMPTY)
def test_kthvalue(shape, dim, keepdim):
    n = shape[dim] if shape else 1
    for k in sorted({1, (n + 1) // 2, n}):
        parity(lambda t, x, k: tuple(t.kthvalue(x, k, dim, keepdim)), rand(*shape), k)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", NONEMPTY)
@pytest.mark.parametrize("op", ["median", "nanmedian"])
def test_median_dim(op, shape, dim, keepdim):
    parity(lambda t, x: tuple(getattr(t, op)(x, dim, keepdim)), rand(*shape))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["median", "kthvalue", "mode"])
def test_selecting_ops_with_ties(op, keepdim):
    """Tie indices are unspecified in torch: compare the values and gradient, then check the indices."""
    spec = _ties(4, 7)
    call = (lambda t, x: t.kthvalue(x, 3, 1, keepdim)) if op == "kthvalue" else None
    call = call or (lambda t, x: getattr(t, op)(x, 1, keepdim))
    x = spec.build(ember)[1]
    e = call(ember, x)
    t = call(torch, spec.build(torch)[1])
    assert_close(e.values, t.values)
    _check_gather(e, x, 1, keepdim)
    (g,) = ember.autograd.grad(e.values.sum(), x)
    assert float(g.sum()) == e.values.numel() and set(np.unique(g.cpu().numpy())) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "data",
    [[3.0, 1.0, 3.0, 1.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0], [5.0, 4.0, 3.0], [1.0, NAN, 2.0, NAN], [NAN, NAN]],
)
@pytest.mark.parametrize("op", ["median", "nanmedian"])
def test_median_nan_and_ties_match_torch(op, data):
    parity(lambda t, x: tuple(getattr(t, op)(x, 0)), vals(data))
    parity(lambda t, x: getattr(t, op)(x), vals(data))


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("op", ["median", "nanmedian"])
def test_median_all_is_lower_median(op, shape):
    parity(lambda t, x: getattr(t, op)(x), rand(*shape))
    parity(lambda t, x: getattr(t, op)(x), _ties(*shape) if shape else rand())


def test_median_all_nan_rows():
    spec = vals([[1.0, NAN, 3.0, 2.0], [NAN, NAN, NAN, NAN], [4.0, 1.0, 2.0, 8.0]])
    parity(lambda t, x: (tuple(t.median(x, 1)), t.nanmedian(x)), spec)
    parity(lambda t, x: t.nanmedian(x, 1).values, spec, grad=False)
    parity(lambda t, x: tuple(t.nanmedian(x, 0, keepdim=True)), spec)
    # The index torch reports for an all-NaN slice of nanmedian comes from nth_element: only check it is a NaN.
    x = spec.build(ember)[1]
    _check_gather(ember.nanmedian(x, 1), x, 1)


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16", "int64", "int32"])
@pytest.mark.parametrize("op", ["median", "nanmedian", "kthvalue"])
def test_selecting_dtypes(op, dtype):
    call = (lambda t, x: t.kthvalue(x, 2, 1)) if op == "kthvalue" else (lambda t, x: getattr(t, op)(x, 1))
    if "int" in dtype:  # ties: compare the values, check the indices pick them
        spec = ints(3, 7, dtype=dtype)
        parity(lambda t, x: call(t, x).values, spec)
        x = spec.build(ember)[1]
        _check_gather(call(ember, x), x, 1)
    else:
        parity(lambda t, x: tuple(call(t, x)), rand(3, 7, dtype=dtype))
    if op != "kthvalue":
        parity(
            lambda t, x: getattr(t, op)(x),
            rand(3, 7, dtype=dtype) if "float" in dtype else ints(3, 7, dtype=dtype),
        )


@pytest.mark.parametrize(
    "data",
    [[1, 2, 2, 3, 3, 1, 4], [5, 5, 2, 2, 7], [3, 1, 2], [4, 4, 4], [[1, 1, 2], [3, 2, 2]], [[0, 9, 9, 0, 1]]],
)
def test_mode_values_and_last_index(data):
    parity(lambda t, x: tuple(t.mode(x)), vals(data))
    parity(lambda t, x: tuple(t.mode(x)), vals(data, "int64"))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", NONEMPTY)
def test_mode_shapes(shape, dim, keepdim):
    spec = _ties(*shape) if shape else rand()
    x = spec.build(ember)[1]
    e = ember.mode(x, dim, keepdim)
    t = torch.mode(spec.build(torch)[1], dim, keepdim)
    assert_close(e.values, t.values)
    assert e.indices.shape == tuple(t.indices.shape)
    _check_gather(e, x, dim if shape else 0, keepdim)


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, x: t.sort(x, 1)[0],
        lambda t, x: t.sort(x, 0, descending=True).values,
        lambda t, x: t.topk(x, 2, 1).values,
        lambda t, x: t.topk(x, 2, 0, largest=False).values,
        lambda t, x: t.kthvalue(x, 2, 1).values,
        lambda t, x: t.kthvalue(x, 2, 0, keepdim=True).values,
        lambda t, x: t.median(x, 1).values,
        lambda t, x: t.median(x),
        lambda t, x: t.nanmedian(x, 0).values,
        lambda t, x: t.nanmedian(x),
        lambda t, x: t.msort(x),
    ],
)
def test_sort_family_gradcheck(fn):
    gradcheck_fn(fn, rand(3, 4))


def test_mode_gradcheck():
    gradcheck_fn(lambda t, x: t.mode(x, 1).values, vals([[1.5, 0.5, 2.0], [0.5, -1.0, 1.0]]))


# ------------------------------------------------------------------------------------------ unique


@pytest.mark.parametrize("return_counts", [False, True])
@pytest.mark.parametrize("return_inverse", [False, True])
@pytest.mark.parametrize("shape", [(), (0,), (9,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("op", ["unique", "unique_consecutive"])
def test_unique(op, shape, return_inverse, return_counts):
    spec = ints(*shape, low=0, high=4)
    parity(lambda t, x: getattr(t, op)(x, return_inverse=return_inverse, return_counts=return_counts), spec)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("op", ["unique", "unique_consecutive"])
def test_unique_dim(op, dim):
    data = [[1.0, 2.0, 1.0, 1.0], [0.0, 1.0, 0.0, 0.0], [1.0, 2.0, 1.0, 1.0], [1.0, 2.0, 1.0, 1.0]]
    parity(
        lambda t, x: getattr(t, op)(x, return_inverse=True, return_counts=True, dim=dim),
        vals(data),
        grad=False,
    )
    parity(lambda t, x: getattr(t, op)(x, dim=dim), _ties(3, 4, 2, high=2), grad=False)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "int32", "uint8", "bool"])
def test_unique_dtypes(dtype):
    spec = bools(12) if dtype == "bool" else ints(12, low=0, high=5, dtype=dtype)
    if "float" in dtype:
        spec = vals([3.0, NAN, 1.0, NAN, 3.0, -0.0, 0.0, math.inf], dtype)
    parity(lambda t, x: t.unique(x, return_inverse=True, return_counts=True), spec, grad=False)
    parity(lambda t, x: t.unique_consecutive(x, return_inverse=True, return_counts=True), spec, grad=False)
    parity(lambda t, x: x.unique(sorted=False), spec, grad=False)


def test_unique_empty_dims():
    parity(lambda t, x: t.unique(x, dim=0, return_inverse=True, return_counts=True), rand(0, 3), grad=False)
    raises_like(lambda t, x: t.unique(x, dim=0), rand(3, 0))
    raises_like(lambda t, x: t.unique(x, dim=0), rand())
    raises_like(lambda t, x: t.unique_consecutive(x, dim=2), rand(2, 3))


# ------------------------------------------------------------------------------------------ bincount / histc


@pytest.mark.parametrize("minlength", [0, 3, 12])
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int8"])
def test_bincount(dtype, minlength):
    spec = ints(20, low=0, high=8, dtype=dtype)
    parity(lambda t, x: t.bincount(x, minlength=minlength), spec)
    parity(lambda t, x: t.bincount(x, minlength=minlength), ints(0, dtype=dtype))


@pytest.mark.parametrize("wdtype", ["float32", "float64", "float16", "int64"])
def test_bincount_weights_dtype(wdtype):
    w = (
        ints(10, low=0, high=4, dtype=wdtype)
        if "int" in wdtype
        else rand(10, dtype=wdtype, requires_grad=False)
    )
    parity(lambda t, x, w: x.bincount(w), ints(10, low=0, high=5), w)
    parity(lambda t, x, w: t.bincount(x, w, 9), ints(10, low=0, high=5), w)


@pytest.mark.parametrize(
    "fn,spec",
    [
        (lambda t, x: t.bincount(x), ints(3, 2, low=0)),
        (lambda t, x: t.bincount(x), ints(5, low=-2, high=3)),
        (lambda t, x: t.bincount(x), rand(4)),
        (lambda t, x: t.bincount(x), bools(4)),
        (lambda t, x: t.bincount(x, minlength=-1), ints(4, low=0)),
        (lambda t, x: t.bincount(x, t.ones(3)), ints(4, low=0)),
    ],
)
def test_bincount_errors(fn, spec):
    raises_like(fn, spec)


@pytest.mark.parametrize(
    "kw",
    [{}, {"bins": 5}, {"bins": 7, "min": -1.0, "max": 1.0}, {"bins": 4, "min": 0, "max": 3}, {"bins": 1}],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histc(kw, dtype):
    parity(lambda t, x: t.histc(x, **kw), rand(50, dtype=dtype, requires_grad=False))
    parity(lambda t, x: t.histc(x, **kw), rand(4, 5, dtype=dtype, requires_grad=False, low=-3, high=3))


def test_histc_edges_nan_and_constant_input():
    parity(
        lambda t, x: t.histc(x, 4, min=0, max=4), vals([0.0, 1.0, 2.0, 3.0, 4.0, 4.5, -1.0, NAN]), grad=False
    )
    parity(lambda t, x: t.histc(x, 3), vals([2.0, 2.0, 2.0]), grad=False)
    parity(lambda t, x: (t.histc(x, 3), x.histc(bins=2)), vals([]), grad=False)
    parity(lambda t, x: t.histc(x, 6), vals([1.0, 2.0, 2.0, 3.0], "bfloat16"), grad=False)
    parity(lambda t, x: t.histc(x, 3), rand(), grad=False)


@pytest.mark.parametrize(
    "fn,spec",
    [
        (lambda t, x: t.histc(x, 0), rand(4)),
        (lambda t, x: t.histc(x, 3, min=2, max=1), rand(4)),
        (lambda t, x: t.histc(x, 3, min=0, max=math.inf), rand(4)),
        (lambda t, x: t.histc(x, 3), vals([1.0, NAN])),
        (lambda t, x: t.histc(x, 3), ints(4)),
    ],
)
def test_histc_errors(fn, spec):
    raises_like(fn, spec)


# ------------------------------------------------------------------------------------------ searchsorted / bucketize


def _sorted(*shape, dtype="float32", ties=False):
    g = np.random.default_rng(sum(shape) + 11)
    data = g.integers(0, 5, size=shape).astype(np.float64) if ties else g.uniform(-3, 3, size=shape)
    return Spec(np.sort(data, axis=-1), dtype, False)


@pytest.mark.parametrize("side", [None, "left", "right"])
@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("vshape", [(), (1,), (6,), (2, 5)])
def test_searchsorted_1d(vshape, right, side):
    values = Spec(ints(*vshape, low=-1, high=6).data.astype(np.float64), "float32", False)
    if side == "left" and right:
        raises_like(
            lambda t, s, v: t.searchsorted(s, v, right=True, side="left"), _sorted(8), values, match="side"
        )
    else:
        kw = {"right": right} if side is None else {"side": side, "right": right and side == "right"}
        parity(lambda t, s, v: t.searchsorted(s, v, **kw), _sorted(8, ties=True), values)


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize(
    "shapes", [((2, 6), (2, 4)), ((2, 3, 5), (2, 3, 1)), ((3, 4), (3, 0)), ((2, 0), (2, 3))]
)
def test_searchsorted_batched(shapes, right):
    sshape, vshape = shapes
    parity(
        lambda t, s, v: t.searchsorted(s, v, right=right),
        _sorted(*sshape, ties=True),
        rand(*vshape, low=-1, high=5),
    )


def test_searchsorted_options():
    seq = _sorted(7, ties=True)
    v = vals([[-1.0, 0.0, 2.0, 2.5, 9.0, NAN]])
    parity(lambda t, s, v: t.searchsorted(s, v, out_int32=True), seq, v)
    parity(lambda t, s, v: t.searchsorted(s, v, side="right", out_int32=True), seq, v)
    parity(lambda t, s: (t.searchsorted(s, 2.0), t.searchsorted(s, 2, right=True)), seq)
    parity(lambda t, s, v: t.searchsorted(s, v), seq, ints(3, 2, low=0, high=5))
    parity(lambda t, s, v: t.searchsorted(s, v), _sorted(7, dtype="float64"), rand(4))
    parity(lambda t, s, v: t.searchsorted(s, v), ints(0), rand(4))


def test_searchsorted_sorter():
    def f(t):
        seq = t.tensor([[3.0, 1.0, 2.0, 5.0], [9.0, 7.0, 8.0, 6.0]])
        sorter = t.argsort(seq)
        v = t.tensor([[2.0, 4.0, 0.0], [7.0, 7.5, 10.0]])
        return t.searchsorted(seq, v, sorter=sorter), t.searchsorted(seq, v, sorter=sorter, side="right")

    assert_close(f(ember), f(torch))


@pytest.mark.parametrize(
    "fn",
    [
        lambda t, s, v: t.searchsorted(s.reshape(2, 4), v),
        lambda t, s, v: t.searchsorted(s.reshape(2, 4), 1.0),
        lambda t, s, v: t.searchsorted(s, v, side="middle"),
        lambda t, s, v: t.searchsorted(s, v, sorter=t.tensor([0, 1])),
        lambda t, s, v: t.searchsorted(s, v, sorter=t.arange(8, dtype=t.int32)),
        lambda t, s, v: t.searchsorted(s, v, sorter=t.arange(8) + 1),
        lambda t, s, v: t.bucketize(v, s.reshape(2, 4)),
    ],
)
def test_searchsorted_errors(fn):
    raises_like(fn, _sorted(8), rand(3, 2))


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
def test_bucketize(shape, right):
    b = vals([-1.0, 0.0, 0.0, 1.0, 2.5], requires_grad=False)
    parity(lambda t, x, b: t.bucketize(x, b, right=right), rand(*shape), b)
    parity(lambda t, x, b: t.bucketize(x, b, right=right, out_int32=True), ints(*shape, low=-2, high=4), b)
    parity(lambda t, b: t.bucketize(0.0, b, right=right), b)


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "fn,spec",
    [
        (lambda t, x: t.sort(x, 2), rand(3, 4)),
        (lambda t, x: t.argsort(x, -3), rand(3, 4)),
        (lambda t, x: t.topk(x, 5), rand(3, 4)),
        (lambda t, x: t.topk(x, -1), rand(3, 4)),
        (lambda t, x: t.topk(x, 1, 2), rand(3, 4)),
        (lambda t, x: t.kthvalue(x, 0), rand(3, 4)),
        (lambda t, x: t.kthvalue(x, 5), rand(3, 4)),
        (lambda t, x: t.kthvalue(x, 1, 0), rand(0, 4)),
        (lambda t, x: t.median(x, 1), rand(2, 0)),
        (lambda t, x: t.median(x, 2), rand(2, 3)),
        (lambda t, x: t.nanmedian(x, 0), rand(0)),
        (lambda t, x: t.median(x), bools(3)),
        (lambda t, x: t.mode(x, 0), rand(0)),
        (lambda t, x: t.mode(x, 3), rand(2, 3)),
    ],
)
def test_sort_family_errors(fn, spec):
    raises_like(fn, spec)


# ------------------------------------------------------------------------------------------ properties


@settings(deadline=None, max_examples=30)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=3),
    st.integers(0, 2**31 - 1),
    st.booleans(),
    st.booleans(),
)
def test_sort_property(shape, seed, descending, keepdim):
    g = np.random.default_rng(seed)
    data = g.integers(0, 4, size=shape).astype(np.float64)
    data[g.random(size=shape) < 0.1] = np.nan
    dim = int(g.integers(-len(shape), len(shape)))
    e, t = ember.tensor(data), torch.tensor(data)
    assert_close(tuple(ember.sort(e, dim, descending)), tuple(torch.sort(t, dim, descending)))
    assert_close(ember.median(e, dim, keepdim).values, torch.median(t, dim, keepdim).values)
    _check_gather(ember.median(e, dim, keepdim), e, dim, keepdim)
    assert_close(ember.kthvalue(e, 1, dim, keepdim).values, torch.kthvalue(t, 1, dim, keepdim).values)
    _check_gather(ember.kthvalue(e, 2 if shape[dim] > 1 else 1, dim, keepdim), e, dim, keepdim)
    assert_close(tuple(ember.cummax(e, dim)), tuple(torch.cummax(t, dim)))
    assert_close(ember.unique(e, return_counts=True), torch.unique(t, return_counts=True))

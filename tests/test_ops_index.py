"""Indexing against torch: __getitem__/__setitem__ (basic, advanced, masks, mixed), index_put, gather/scatter
family, index_select/add/copy/fill, masked_*, take, take_along_dim, nonzero/argwhere, put_ (forward, grads,
errors)."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.helpers import assert_close, bools, gradcheck_fn, ints, parity, raises_like, rand, vals


def both(fn):
    """Run fn(module) on torch and ember and compare what it returns."""
    t = fn(torch)
    e = fn(ember)
    assert_close(e, t)
    return e


# ------------------------------------------------------------------------------------------------ getitem: basic


@pytest.mark.parametrize(
    "key",
    [
        1,
        -1,
        (0, 2),
        (-2, -1, 0),
        slice(1, 3),
        slice(None, None, 2),
        slice(-3, None),
        slice(5, 1),
        (slice(None), slice(1, None, 3)),
        (Ellipsis, 1),
        (1, Ellipsis),
        (None, 1),
        (slice(None), None, 0, None),
        (Ellipsis, None),
        (None,),
        Ellipsis,
        (0, 1, 2),
        (slice(None, None, 3), Ellipsis, slice(3, 0, None)),
        True,
        False,
        (True, 1),
        (None, False, Ellipsis),
        (slice(100, None),),
        (slice(-100, 100),),
    ],
)
def test_getitem_basic(key):
    parity(lambda t, x: x[key], rand(3, 4, 5))
    parity(lambda t, x: x[key], rand(3, 4, 5, noncontig=True, dtype="float64"))


def test_getitem_basic_is_view():
    for m in (torch, ember):
        x = m.arange(12.0).view(3, 4)
        for key in [(1,), (slice(None), 2), (None, Ellipsis), (slice(None, None, 2),), m.tensor(1), Ellipsis]:
            v = x[key]
            assert v._base is x._base and v.data_ptr() >= x.data_ptr()
        assert x[1, 2].dim() == 0 and x[1, 2]._base is x._base
        for key in [[1], m.tensor([1]), True, m.tensor(True), x > 3]:
            assert x[key]._base is None


@pytest.mark.parametrize(
    "key", [(), None, Ellipsis, True, False, (None, None), (Ellipsis, None), (True, None)]
)
def test_getitem_on_0d(key):
    parity(lambda t, x: x[key], rand())


@pytest.mark.parametrize("key", [0, slice(None), (slice(None), 0), (Ellipsis, None)])
def test_getitem_on_empty(key):
    parity(lambda t, x: x[key], rand(2, 0) if key == 0 else rand(0, 3))


def test_getitem_int_tensor_as_basic_index():
    parity(lambda t, x: x[t.tensor(1)], rand(3, 4))
    parity(lambda t, x: x[t.tensor(-1), t.tensor(2)], rand(3, 4))
    parity(lambda t, x: x[1 : t.tensor(3)], rand(4, 2))
    parity(lambda t, x: x[np.int64(2)], rand(4, 2))


@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
def test_getitem_errors():
    raises_like(lambda t, x: x[3], rand(3, 4))
    raises_like(lambda t, x: x[-4], rand(3, 4))
    raises_like(lambda t, x: x[0, 4], rand(3, 4))
    raises_like(lambda t, x: x[0, 0, 0], rand(3, 4))
    raises_like(lambda t, x: x[0], rand())
    raises_like(lambda t, x: x[[0]], rand())
    parity(lambda t, x: x[..., ...], rand(3, 4))
    raises_like(lambda t, x: x[::-1], rand(3, 4))
    raises_like(lambda t, x: x[::0], rand(3, 4))
    raises_like(lambda t, x: x[1.5], rand(3, 4))
    raises_like(lambda t, x: x["a"], rand(3, 4))


# ------------------------------------------------------------------------------------------------ getitem: advanced


@pytest.mark.parametrize(
    "key",
    [
        [0, 2],
        [[0, 1], [2, 2]],
        ([0, 2], [1, 3]),
        ([0, 0, 2], slice(None)),
        (slice(None), [3, 0, 3]),
        ([1], [0, 1, 2]),
        ([[0], [2]], [1, 3]),
        ([0, 1], slice(1, 3), [2, 4]),  # advanced indices separated by a slice: broadcast dims go first
        (slice(None), [0, 1], [2, 4]),
        ([1, 2], Ellipsis, [0, 4]),
        (0, slice(None), [1, 2]),  # int + list separated by a slice
        (None, [0, 1], None),
        (Ellipsis, [0, -1]),
        ([-1, -3],),
        [],
        ([], slice(None)),
        (1, [0, 0, 0]),
    ],
)
@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
def test_getitem_advanced(key):
    parity(lambda t, x: x[key], rand(3, 4, 5))
    parity(lambda t, x: x[key], rand(3, 4, 5, noncontig=True, dtype="float64"))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int8", "int16"])
def test_getitem_index_tensor_dtypes(dtype):
    if dtype == "uint8":
        parity(lambda t, x, i: x[i], rand(4, 3), ints(4, low=0, high=2, dtype=dtype))
    elif dtype in ("int8", "int16"):
        raises_like(lambda t, x, i: x[i], rand(4, 3), ints(2, low=0, high=2, dtype=dtype))
    else:
        parity(lambda t, x, i: x[i], rand(4, 3), ints(2, 3, low=-4, high=4, dtype=dtype))
        parity(lambda t, x, i: x[:, i], rand(4, 3), ints(5, low=0, high=3, dtype=dtype))


def test_getitem_repeated_indices_accumulate():
    parity(lambda t, x, i: x[i], rand(4, 3), vals([0, 2, 0, 0, 3], dtype="int64"))
    parity(
        lambda t, x, i, j: x[i, j], rand(4, 3), vals([1, 1, 1], dtype="int64"), vals([2, 2, 0], dtype="int64")
    )
    parity(lambda t, x: x[[0, 0], :][:, [1, 1]], rand(2, 3, dtype="float16"))


def test_getitem_0d_index_tensor():
    parity(lambda t, x, i: x[i], rand(4, 3), vals(2, dtype="int64"))
    parity(lambda t, x, i: x[:, i], rand(4, 3), vals(-1, dtype="int64"))
    parity(lambda t, x, i, j: x[i, :, j], rand(2, 3, 4), vals(1, dtype="int64"), vals([0, 3], dtype="int64"))
    parity(lambda t, x, i: x[i, 1:], rand(4, 3), vals(True, dtype="bool"))


@pytest.mark.parametrize(
    "shape,mshape",
    [
        ((3, 4), (3, 4)),
        ((3, 4), (3,)),
        ((2, 3, 4), (2, 3)),
        ((4,), (4,)),
        ((), ()),
        ((0, 2), (0,)),
        ((3, 4), (3, 4)),
    ],
)
def test_getitem_bool_mask(shape, mshape):
    parity(lambda t, x, m: x[m], rand(*shape), bools(*mshape))
    parity(lambda t, x, m: x[m], rand(*shape, noncontig=True), bools(*mshape, p=0.0))


def test_getitem_mask_mixed():
    parity(lambda t, x, m: x[:, m], rand(3, 4, 2), bools(4))
    parity(lambda t, x, m: x[m, 1:], rand(3, 4), bools(3))
    parity(lambda t, x, m: x[m, [1, 0]], rand(3, 4), vals([True, False, True], dtype="bool"))
    parity(lambda t, x, m: x[..., m], rand(2, 3, 4), bools(3, 4))
    parity(lambda t, x, m: x[None, m], rand(3, 4), bools(3, 4))
    parity(lambda t, x: x[[True, False, True]], rand(3, 2))
    parity(lambda t, x: x[x > 0], rand(3, 4))


def test_getitem_advanced_errors():
    raises_like(lambda t, x: x[[0, 3]], rand(3, 4))
    raises_like(lambda t, x: x[[0, -4]], rand(3, 4))
    raises_like(lambda t, x: x[:, [4]], rand(3, 4))
    raises_like(lambda t, x: x[t.tensor([0.0, 1.0])], rand(3, 4))
    parity(lambda t, x: x[[0.0, 1.0]], rand(3, 4))  # torch casts float lists to long
    raises_like(lambda t, x, m: x[m], rand(3, 4), bools(4))
    raises_like(lambda t, x, m: x[m], rand(3, 4), bools(3, 4, 1))
    raises_like(lambda t, x: x[[0, 1], [0, 1, 2]], rand(3, 4))
    raises_like(lambda t, x: x[t.tensor(5)], rand(3, 4))


_KEY_ELEM = st.one_of(
    st.integers(-3, 2),
    st.builds(
        slice,
        st.one_of(st.none(), st.integers(-4, 4)),
        st.one_of(st.none(), st.integers(-4, 4)),
        st.one_of(st.none(), st.integers(1, 3)),
    ),
    st.none(),
    st.just(Ellipsis),
)


@settings(deadline=None, max_examples=30)
@given(st.lists(st.integers(1, 4), min_size=0, max_size=3), st.lists(_KEY_ELEM, max_size=4))
def test_getitem_basic_property(shape, key):
    key = tuple(key)
    if sum(k is Ellipsis for k in key) > 1:
        key = tuple(k for k in key if k is not Ellipsis)
    n_int = sum(isinstance(k, (int, slice)) for k in key)
    if n_int > len(shape):
        key = tuple(k for k in key if not isinstance(k, (int, slice)))
    key = tuple(k % shape[i] if isinstance(k, int) and i < len(shape) else k for i, k in enumerate(key))
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    try:
        tr = torch.tensor(x)[key]
    except IndexError:
        with pytest.raises(IndexError):
            ember.tensor(x)[key]
        return
    assert_close(ember.tensor(x)[key], tr)


@settings(deadline=None, max_examples=20)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3), st.data())
def test_getitem_advanced_property(shape, data):
    key = []
    for s in shape:
        kind = data.draw(st.sampled_from(["slice", "list", "int", "none", "mask"]))
        if kind == "mask":
            key.append(data.draw(st.lists(st.booleans(), min_size=s, max_size=s)))
        elif kind == "slice":
            key.append(slice(data.draw(st.integers(0, s)), None, data.draw(st.integers(1, 2))))
        elif kind == "list":
            key.append(data.draw(st.lists(st.integers(-s, s - 1), min_size=2, max_size=2)))
        elif kind == "int":
            key.append(data.draw(st.integers(-s, s - 1)))
        else:
            key.extend([None, slice(None)])
    key = tuple(key)
    try:
        torch.zeros(shape)[key]
    except IndexError:  # e.g. a mask and a list that do not broadcast
        raises_like(lambda t, x: x[key], rand(*shape))
        return
    parity(lambda t, x: x[key], rand(*shape))


# ------------------------------------------------------------------------------------------------ setitem


def _set(key, value_fn=None):
    """A parity function that writes into a non-leaf copy of x and returns it (grads reach x and v)."""

    def f(t, x, v=None):
        y = x * 1
        y[key] = v if value_fn is None else value_fn(t, v)
        return y

    return f


@pytest.mark.parametrize(
    "key,vshape",
    [
        (1, (4,)),
        (1, ()),
        (1, (1,)),
        ((slice(None), 2), (3,)),
        ((slice(None), 2), (3, 1)[:1]),
        (slice(0, 3, 2), (2, 4)),
        (slice(0, 3, 2), (4,)),
        ((Ellipsis, slice(1, 3)), (3, 1)),
        ((None, 0), (1, 4)),
        ([0, 2], (2, 4)),
        ([0, 2], (4,)),
        (([0, 2], [1, 3]), (2,)),
        (([0, 1], slice(1, 3)), (2, 2)),
        ((slice(None), [0, 3]), (3, 2)),
        ((0, [1, 1]), ()),
        (Ellipsis, (3, 4)),
        ((), ()),
        (([], []), ()),
    ],
)
def test_setitem_tensor_values(key, vshape):
    parity(_set(key), rand(3, 4), rand(*vshape))
    parity(_set(key), rand(3, 4, noncontig=True, dtype="float64"), rand(*vshape, dtype="float64"))


def test_setitem_repeated_advanced_last_write_semantics():
    # torch writes duplicates in order on CPU (last one wins); grads go to the positions that landed.
    both(lambda m: _set([1, 1])(m, m.arange(6.0).view(3, 2), m.tensor([[1.0, 2.0], [1.0, 2.0]])))


@pytest.mark.parametrize("value", [2.5, 0, -1, True])
@pytest.mark.parametrize("key", [1, (slice(None), 0), [0, 2], (slice(1, None), [1, 2])])
def test_setitem_scalar(key, value):
    parity(lambda t, x: _set(key)(t, x, value), rand(3, 4))
    parity(lambda t, x: _set(key)(t, x, value), ints(3, 4))


def test_setitem_masks_and_0d_values():
    parity(lambda t, x, m: _set(m)(t, x, 7.0), rand(3, 4), bools(3, 4))
    parity(lambda t, x, m, v: _set(m)(t, x, v), rand(3, 4), bools(3), rand(4))
    parity(lambda t, x, m, v: _set(m)(t, x, v), rand(3, 4), bools(3, 4), rand())
    parity(lambda t, x, v: _set(1)(t, x, v), rand(3, 4), rand(dtype="float64"))
    parity(lambda t, x, v: _set((slice(None), 1))(t, x, v), rand(3, 4, dtype="float64"), rand(3))
    parity(lambda t, x, m: _set(m)(t, x, 1.0), rand(3, 4), vals([True, False, True], dtype="bool"))
    parity(lambda t, x: _set(x > 0)(t, x, 0.0), rand(3, 4))


def test_setitem_int_targets_and_bad_values():
    raises_like(lambda t, x: _set(slice(0, 2))(t, x, [[1, 2], [3, 4]]), rand(3, 2))
    raises_like(lambda t, x: _set(0)(t, x, np.ones(2)), rand(3, 2))
    raises_like(lambda t, x: _set(0)(t, x, "a"), rand(3, 2))
    both(lambda m: _set(0)(m, m.zeros(3, 2, dtype=m.int64), m.tensor([5.7, 6.2])))
    both(lambda m: _set([0, 2])(m, m.zeros(3, dtype=m.int32), 2.7))
    both(lambda m: _set(1)(m, m.zeros(3, dtype=m.bool), 1))


def test_setitem_on_view_writes_base():
    def f(m):
        x = m.arange(12.0).view(3, 4)
        v = x[1:, ::2]
        v[0] = m.tensor([-1.0, -2.0])
        v[:, [1]] = 9.0
        x.t()[0, 2] = 100.0
        w = x.view(-1)
        w[[0, 5]] = m.tensor([7.0, 8.0])
        return x, x._version == v._version

    both(f)


def test_setitem_grads_to_history_and_value():
    def f(m):
        x = m.tensor([[1.0, -2.0, 0.5], [3.0, 0.2, -1.0]], requires_grad=True)
        v = m.tensor([10.0, 20.0], requires_grad=True)
        w = m.tensor(5.0, requires_grad=True)
        y = x * 2
        y[:, 1] = v
        y[0, [0, 2]] = w * v
        y[y > 4] = w
        (y * m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
        return y.detach(), x.grad, v.grad, w.grad

    both(f)


def test_setitem_on_view_of_nonleaf_grads():
    def f(m):
        x = m.tensor([[1.0, -2.0, 0.5], [3.0, 0.2, -1.0]], requires_grad=True)
        v = m.tensor([7.0, 8.0], requires_grad=True)
        y = x.sin()
        col = y.t()[1]
        col[[1, 0]] = v
        (y.sin() * m.arange(6.0).view(2, 3)).sum().backward()
        return y.detach(), x.grad, v.grad

    both(f)


def test_setitem_broadcast_value_grads_sum():
    parity(_set((slice(None), slice(0, 2))), rand(3, 4), rand(2))
    parity(_set([0, 2]), rand(3, 4), rand(1, 4))
    parity(_set(Ellipsis), rand(3, 4), rand(3, 1, dtype="float64"))


def test_setitem_errors():
    x34 = rand(3, 4, requires_grad=False)
    raises_like(lambda t, x: x.__setitem__(3, 1.0), x34)
    raises_like(lambda t, x, v: x.__setitem__(0, v), x34, rand(3))
    raises_like(lambda t, x, v: x.__setitem__([0, 1], v), x34, rand(3, 4))
    raises_like(lambda t, x: x.__setitem__([0, 5], 1.0), x34)
    raises_like(lambda t, x: x.__setitem__(t.tensor([0.0]), 1.0), x34)
    raises_like(lambda t, x, m: x.__setitem__(m, 1.0), x34, bools(4))
    raises_like(lambda t, x: x.__setitem__(0, 1.0), rand(3, 4, requires_grad=True))
    raises_like(
        lambda t, x: x.expand(3, 4).__setitem__((slice(None), 0), 1.0), rand(1, 4, requires_grad=False)
    )


# ------------------------------------------------------------------------------------------------ index_put


@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize(
    "idx,vshape",
    [
        (([0, 2, 0],), (3, 4)),
        (([0, 2, 0],), (4,)),
        (([0, 2, 0], [1, 1, 1]), (3,)),
        (([1, 1], [3, 3]), ()),
        (([[0], [2]], [1, 2]), (2, 2)),
    ],
)
def test_index_put(idx, vshape, accumulate):
    if not accumulate and vshape != ():
        idx = tuple([list(dict.fromkeys(i)) if isinstance(i[0], int) else i for i in idx])
        if len(idx) == 1:
            vshape = (len(idx[0]),) + vshape[1:] if len(vshape) == 2 else vshape
        else:
            vshape = ()
    parity(
        lambda t, x, v: t.index_put(x, tuple(t.tensor(i) for i in idx), v, accumulate),
        rand(3, 4),
        rand(*vshape),
    )
    parity(
        lambda t, x, v: (x * 1).index_put_(tuple(t.tensor(i) for i in idx), v, accumulate=accumulate),
        rand(3, 4, noncontig=True),
        rand(*vshape),
    )


def test_index_put_bool_and_ints():
    parity(lambda t, x, m, v: x.index_put((m,), v), rand(3, 4), bools(3, 4), rand())
    parity(lambda t, x, v: x.index_put((t.tensor([0, 0, 1]),), v, accumulate=True), ints(3, 2), ints(3, 2))
    parity(lambda t, x: x.index_put((t.tensor([2, 2]),), t.tensor(1.5), accumulate=True), rand(3))


def test_index_put_errors():
    raises_like(lambda t, x: x.index_put((t.tensor([3]),), t.tensor(1.0)), rand(3))
    raises_like(lambda t, x: x.index_put((t.tensor([0, 1]),), t.tensor([1.0, 2.0, 3.0])), rand(3))
    raises_like(lambda t, x: x.index_put((t.tensor([0.0]),), t.tensor(1.0)), rand(3))


# ------------------------------------------------------------------------------------------------ gather / scatter


@pytest.mark.parametrize(
    "shape,dim,ishape",
    [
        ((3, 4), 0, (2, 4)),
        ((3, 4), 1, (3, 6)),
        ((3, 4), -1, (2, 2)),
        ((2, 3, 4), 1, (2, 5, 3)),
        ((5,), 0, (7,)),
        ((3, 4), 0, (0, 4)),
        ((), 0, ()),
        ((), 0, (3,)),
    ],
)
def test_gather(shape, dim, ishape):
    size = shape[dim] if shape else 1
    parity(
        lambda t, x, i: t.gather(x, dim, i), rand(*shape), ints(*ishape, low=-size if False else 0, high=size)
    )
    parity(lambda t, x, i: x.gather(dim, i), rand(*shape, noncontig=True), ints(*ishape, low=0, high=size))


def test_gather_errors():
    raises_like(lambda t, x, i: x.gather(0, i), rand(3, 4), ints(2, 4, low=3, high=4))
    raises_like(lambda t, x, i: x.gather(1, i), rand(3, 4), ints(4, 4, low=0, high=3))
    raises_like(lambda t, x, i: x.gather(0, i), rand(3, 4), ints(2, low=0, high=3))
    raises_like(lambda t, x, i: x.gather(0, i), rand(3, 4), ints(2, 4, low=0, high=3, dtype="int16"))
    raises_like(lambda t, x: x.gather(0, t.tensor([[0.0]])), rand(3, 4))
    raises_like(lambda t, x, i: x.gather(2, i), rand(3, 4), ints(2, 4, low=0, high=3))


@pytest.mark.parametrize(
    "shape,dim,ishape,sshape",
    [
        ((3, 4), 0, (2, 4), (2, 4)),
        ((3, 4), 1, (3, 2), (3, 5)),
        ((3, 4), -1, (2, 3), (3, 4)),
        ((2, 3, 4), 2, (2, 3, 2), (2, 3, 2)),
        ((5,), 0, (3,), (4,)),
    ],
)
def test_scatter_src(shape, dim, ishape, sshape):
    # distinct indices along dim so that plain scatter is deterministic
    full = np.argsort(np.random.default_rng(0).random(shape), axis=dim)
    idx = full[tuple(slice(0, s) for s in ishape)]
    grad = sshape == ishape  # torch's own backward fails when src is larger than index (see below)
    parity(
        lambda t, x, i, s: t.scatter(x, dim, i, s),
        rand(*shape),
        vals(idx, dtype="int64"),
        rand(*sshape),
        grad=grad,
    )
    parity(
        lambda t, x, i, s: (x * 1).scatter_(dim, i, s),
        rand(*shape, dtype="float64"),
        vals(idx, dtype="int64"),
        rand(*sshape, dtype="float64"),
        grad=grad,
    )


@pytest.mark.parametrize("reduce", [None, "sum", "mean", "amax", "prod"])
def test_scatter_larger_src_grad_is_padded(reduce):
    # torch raises "invalid gradient" here; the natural answer is the grad of the used part, zeros elsewhere
    idx = [[0, 2], [1, 1]]
    xs = np.random.default_rng(1).uniform(0.5, 2.0, (4, 3))
    ss = np.random.default_rng(2).uniform(0.5, 2.0, (3, 4))

    def run(m, src_part):
        x = m.tensor(xs, requires_grad=True)
        src = m.tensor(ss[:2, :2] if src_part else ss, requires_grad=True)
        if reduce is None:
            out = x.scatter(1, m.tensor(idx), src)
        else:
            out = x.scatter_reduce(1, m.tensor(idx), src, reduce)
        (out * m.arange(12.0, dtype=m.float64).view(4, 3)).sum().backward()
        return x.grad, src.grad

    tx, ts = run(torch, True)
    ex, es = run(ember, False)
    assert_close(ex, tx)
    assert_close(es[:2, :2], ts)
    assert float(es[2:].abs().sum()) == 0 and float(es[:, 2:].abs().sum()) == 0


@pytest.mark.parametrize("value", [1.5, -2, 0])
def test_scatter_value(value):
    parity(lambda t, x, i: t.scatter(x, 1, i, value), rand(3, 4), ints(3, 2, low=0, high=4))
    parity(
        lambda t, x, i: x.scatter(0, i, value=value), rand(3, 4, noncontig=True), ints(2, 4, low=0, high=3)
    )
    parity(lambda t, x, i: x.scatter(0, i, value), ints(3, 4), ints(2, 4, low=0, high=3))


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("reduce", ["add", "multiply"])
def test_scatter_reduce_arg(reduce):
    parity(
        lambda t, x, i, s: x.scatter(0, i, s, reduce=reduce),
        rand(3, 4),
        ints(4, 4, low=0, high=3),
        rand(4, 4),
        grad=False,
    )
    parity(
        lambda t, x, i: x.scatter(1, i, 2.0, reduce=reduce), rand(3, 4), ints(3, 5, low=0, high=4), grad=False
    )
    parity(
        lambda t, x, i, s: x.scatter(0, i, s, reduce=reduce),
        ints(3, 4),
        ints(4, 4, low=0, high=3),
        ints(4, 4),
        grad=False,
    )


@pytest.mark.parametrize(
    "shape,dim,ishape",
    [
        ((3, 4), 0, (5, 4)),
        ((3, 4), 1, (2, 6)),
        ((4,), 0, (9,)),
        ((2, 3, 4), -2, (2, 4, 4)),
        ((3, 4), 0, (0, 4)),
    ],
)
def test_scatter_add(shape, dim, ishape):
    size = shape[dim]
    parity(
        lambda t, x, i, s: t.scatter_add(x, dim, i, s),
        rand(*shape),
        ints(*ishape, low=0, high=size),
        rand(*ishape),
    )
    parity(
        lambda t, x, i, s: (x * 1).scatter_add_(dim, i, s),
        rand(*shape, noncontig=True),
        ints(*ishape, low=0, high=size),
        rand(*ishape, noncontig=True),
    )
    parity(
        lambda t, x, i, s: x.scatter_add(dim, i, s),
        rand(*shape),
        ints(*ishape, low=0, high=size),
        rand(*[s + 1 for s in ishape]),
        grad=False,
    )
    parity(
        lambda t, x, i, s: t.scatter_add(x, dim, i, s),
        ints(*shape),
        ints(*ishape, low=0, high=size),
        ints(*ishape),
    )


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce(reduce, include_self):
    # index 2 of dim 0 is never hit; index 0 is hit three times
    idx = vals([[0, 1, 0, 1], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 1, 1]], dtype="int64")
    parity(
        lambda t, x, i, s: t.scatter_reduce(x, 0, i, s, reduce, include_self=include_self),
        rand(3, 4, low=0.5, high=2.0),
        idx,
        rand(4, 4, low=0.5, high=2.0),
    )
    parity(
        lambda t, x, i, s: t.scatter_reduce(x, 0, i, s, reduce, include_self=include_self),
        rand(3, 4, low=0.5, high=2.0),
        idx,
        rand(4, 5, low=0.5, high=2.0),
        grad=False,
    )
    parity(
        lambda t, x, i, s: (x * 1).scatter_reduce_(1, i, s, reduce, include_self=include_self),
        rand(4, 3, low=-2.0, high=-0.5, dtype="float64"),
        idx.__class__(idx.data % 3, "int64", False),
        rand(4, 4, dtype="float64"),
    )
    parity(
        lambda t, x, i, s: x.scatter_reduce(0, i, s, reduce, include_self=include_self),
        ints(3, 4),
        idx,
        ints(4, 4, low=1, high=5),
    )
    for dt in ("bfloat16", "float16"):  # half precision: amax/amin start from -inf/+inf, mean divides
        parity(
            lambda t, x, i, s: x.scatter_reduce(0, i, s, reduce, include_self=include_self),
            rand(3, 4, low=0.5, high=2.0, dtype=dt),
            idx,
            rand(4, 4, low=0.5, high=2.0, dtype=dt),
            grad=False,
        )


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_with_zeros(include_self):
    # one zero, two zeros and no zero among the factors of a position (self included or not)
    parity(
        lambda t, x, i, s: x.scatter_reduce(0, i, s, "prod", include_self=include_self),
        vals([[2.0, 0.0, 3.0, 0.0]]),
        vals([[0, 0, 0, 0], [0, 0, 0, 0]], dtype="int64"),
        vals([[0.0, 1.5, 2.0, 0.0], [4.0, -2.0, 0.5, 0.0]]),
    )


def test_scatter_reduce_ties_share_gradient():
    parity(
        lambda t, x, i, s: x.scatter_reduce(0, i, s, "amax"),
        vals([[1.0, 2.0]]),
        vals([[0, 0], [0, 0]], dtype="int64"),
        vals([[1.0, 0.0], [1.0, 2.0]]),
    )
    parity(
        lambda t, x, i, s: x.scatter_reduce(0, i, s, "amin", include_self=False),
        vals([[1.0, 2.0]]),
        vals([[0, 0], [0, 0]], dtype="int64"),
        vals([[3.0, 0.0], [3.0, 0.0]]),
    )


def test_scatter_errors():
    raises_like(lambda t, x, i, s: x.scatter(0, i, s), rand(3, 4), ints(2, 4, low=3, high=5), rand(2, 4))
    raises_like(
        lambda t, x, i, s: x.scatter(0, i, s),
        rand(3, 4),
        ints(2, 4, low=0, high=3),
        rand(2, 4, dtype="float64"),
    )
    raises_like(lambda t, x, i, s: x.scatter(0, i, s), rand(3, 4), ints(2, low=0, high=3), rand(2, 4))
    raises_like(lambda t, x, i, s: x.scatter(0, i, s), rand(3, 4), ints(2, 4, low=0, high=3), rand(1, 4))
    raises_like(lambda t, x, i, s: x.scatter_add(0, i, s), rand(3, 4), ints(2, 4, low=-1, high=0), rand(2, 4))
    raises_like(lambda t, x, i: x.gather(0, i), rand(3, 4), ints(2, 4, low=-1, high=0))
    raises_like(
        lambda t, x, i, s: x.scatter_reduce(0, i, s, "foo"), rand(3, 4), ints(2, 4, low=0, high=3), rand(2, 4)
    )
    raises_like(lambda t, x, i: x.scatter(0, i, 1.0, reduce="sum"), rand(3, 4), ints(2, 4, low=0, high=3))


# ------------------------------------------------------------------------------------------------ index_* along dim


@pytest.mark.parametrize(
    "shape,dim,index",
    [
        ((4, 3), 0, [0, 3, 0]),
        ((4, 3), 1, [2]),
        ((4, 3), -1, []),
        ((2, 3, 4), 2, [3, 1, 3, 1]),
        ((5,), 0, [4, 0]),
        ((), 0, [0]),
    ],
)
def test_index_select(shape, dim, index):
    parity(lambda t, x: t.index_select(x, dim, t.tensor(index, dtype=t.int64)), rand(*shape))
    parity(lambda t, x: x.index_select(dim, t.tensor(index, dtype=t.int32)), rand(*shape, noncontig=True))
    parity(lambda t, x: x.index_select(dim, t.tensor(index, dtype=t.int64)), ints(*shape))


def test_index_select_0d_index_and_errors():
    parity(lambda t, x: x.index_select(0, t.tensor(2)), rand(4, 3))
    raises_like(lambda t, x: x.index_select(0, t.tensor([4])), rand(4, 3))
    raises_like(lambda t, x: x.index_select(0, t.tensor([[0]])), rand(4, 3))
    raises_like(lambda t, x: x.index_select(0, t.tensor([0.0])), rand(4, 3))
    raises_like(lambda t, x: x.index_select(2, t.tensor([0])), rand(4, 3))


@pytest.mark.parametrize("alpha", [1, 2.5, -1])
@pytest.mark.parametrize(
    "shape,dim,index",
    [
        ((4, 3), 0, [0, 3, 0]),
        ((4, 3), 1, [2, 2]),
        ((4, 3), -1, []),
        ((2, 3, 4), 1, [1, 0]),
        ((5,), 0, [4, 4, 4]),
    ],
)
def test_index_add(shape, dim, index, alpha):
    sshape = list(shape)
    sshape[dim] = len(index)
    parity(
        lambda t, x, s: t.index_add(x, dim, t.tensor(index, dtype=t.int64), s, alpha=alpha),
        rand(*shape),
        rand(*sshape),
    )
    parity(
        lambda t, x, s: (x * 1).index_add_(dim, t.tensor(index, dtype=t.int64), s, alpha=alpha),
        rand(*shape, noncontig=True, dtype="float64"),
        rand(*sshape, dtype="float64"),
    )


def test_index_add_ints_and_errors():
    parity(lambda t, x, s: x.index_add(0, t.tensor([0, 0]), s, alpha=3), ints(3, 2), ints(2, 2))
    raises_like(lambda t, x, s: x.index_add(0, t.tensor([0, 1]), s), rand(3, 2), rand(3, 2))
    raises_like(lambda t, x, s: x.index_add(0, t.tensor([0, 3]), s), rand(3, 2), rand(2, 2))
    raises_like(lambda t, x, s: x.index_add(0, t.tensor([0, 1]), s), rand(3, 2), rand(2, 2, dtype="float64"))


@pytest.mark.parametrize(
    "shape,dim,index",
    [((4, 3), 0, [3, 0]), ((4, 3), 1, [2]), ((4, 3), -1, []), ((2, 3, 4), 2, [0, 3, 2]), ((5,), 0, [1])],
)
def test_index_copy(shape, dim, index):
    sshape = list(shape)
    sshape[dim] = len(index)
    parity(
        lambda t, x, s: t.index_copy(x, dim, t.tensor(index, dtype=t.int64), s), rand(*shape), rand(*sshape)
    )
    parity(
        lambda t, x, s: (x * 1).index_copy_(dim, t.tensor(index, dtype=t.int64), s),
        rand(*shape, noncontig=True),
        rand(*sshape),
    )


@pytest.mark.parametrize("value", [1.5, -3, "tensor"])
@pytest.mark.parametrize(
    "shape,dim,index", [((4, 3), 0, [3, 0, 3]), ((4, 3), 1, [2]), ((2, 3, 4), -1, [0, 3]), ((4, 3), 0, [])]
)
def test_index_fill(shape, dim, index, value):
    if value == "tensor":
        parity(lambda t, x, v: t.index_fill(x, dim, t.tensor(index, dtype=t.int64), v), rand(*shape), rand())
        parity(
            lambda t, x, v: (x * 1).index_fill_(dim, t.tensor(index, dtype=t.int64), v),
            rand(*shape, noncontig=True, dtype="float64"),
            rand(dtype="float64"),
        )
    else:
        parity(lambda t, x: t.index_fill(x, dim, t.tensor(index, dtype=t.int64), value), rand(*shape))
        parity(lambda t, x: x.index_fill(dim, t.tensor(index, dtype=t.int64), value), ints(*shape))


def test_index_copy_fill_errors():
    raises_like(lambda t, x, s: x.index_copy(0, t.tensor([0, 5]), s), rand(3, 2), rand(2, 2))
    raises_like(lambda t, x, s: x.index_copy(0, t.tensor([0]), s), rand(3, 2), rand(2, 2))
    raises_like(lambda t, x: x.index_fill(0, t.tensor([3]), 1.0), rand(3, 2))
    raises_like(lambda t, x, v: x.index_fill(0, t.tensor([0]), v), rand(3, 2), rand(2))


# ------------------------------------------------------------------------------------------------ masks


@pytest.mark.parametrize(
    "shape,mshape",
    [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 3, 4), (3, 4)), ((), ()), ((0, 2), (2,))],
)
@pytest.mark.parametrize("value", [-1.5, 0, "tensor"])
def test_masked_fill(shape, mshape, value):
    if value == "tensor":
        parity(lambda t, x, m, v: t.masked_fill(x, m, v), rand(*shape), bools(*mshape), rand())
        parity(
            lambda t, x, m, v: x.masked_fill(m, v),
            rand(*shape, noncontig=True),
            bools(*mshape),
            rand(dtype="float64"),
        )
    else:
        parity(lambda t, x, m: t.masked_fill(x, m, value), rand(*shape), bools(*mshape))
        parity(lambda t, x, m: x.masked_fill(m, value), ints(*shape), bools(*mshape))


def test_masked_fill_broadcast_up_and_inplace():
    parity(lambda t, x, m: t.masked_fill(x, m, 2.0), rand(4), bools(3, 4))
    parity(lambda t, x, m, v: (x * 1).masked_fill_(m, v), rand(3, 4), bools(4), rand())
    parity(lambda t, x, m: (x * 1).masked_fill_(m, float("inf")), rand(3, 4, noncontig=True), bools(3, 4))
    parity(
        lambda t, x, m, v: t.masked_fill(x, m, v), rand(3, dtype="float16"), bools(3), rand(dtype="float64")
    )
    parity(lambda t, x, m, v: t.masked_fill(x, m, v), ints(3), bools(3), vals(2, dtype="int32"))


def test_masked_fill_errors():
    raises_like(lambda t, x, m: x.masked_fill(m, 1.0), rand(3, 4), ints(3, 4, low=0, high=2))
    raises_like(lambda t, x, m: x.masked_fill(m, 1.0), rand(3, 4), bools(2, 4))
    raises_like(lambda t, x, m, v: x.masked_fill(m, v), rand(3, 4), bools(3, 4), rand(2))
    raises_like(lambda t, x, m: (x * 1).masked_fill_(m, 1.0), rand(4), bools(3, 4))


@pytest.mark.parametrize(
    "shape,mshape", [((3, 4), (3, 4)), ((3, 4), (4,)), ((4,), (3, 4)), ((), ()), ((0, 2), (2,))]
)
def test_masked_select(shape, mshape):
    parity(lambda t, x, m: t.masked_select(x, m), rand(*shape), bools(*mshape))
    parity(lambda t, x, m: x.masked_select(m), rand(*shape, noncontig=True, dtype="float64"), bools(*mshape))


def test_masked_select_errors():
    raises_like(lambda t, x, m: x.masked_select(m), rand(3, 4), bools(3))
    raises_like(lambda t, x, m: x.masked_select(m), rand(3, 4), ints(3, 4, low=0, high=2))


@pytest.mark.parametrize("shape,mshape", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3), (2, 1)), ((), ())])
@pytest.mark.parametrize("extra", [0, 3])
def test_masked_scatter(shape, mshape, extra):
    n = int(np.prod(shape)) + extra
    parity(lambda t, x, m, s: t.masked_scatter(x, m, s), rand(*shape), bools(*mshape), rand(n))
    parity(
        lambda t, x, m, s: (x * 1).masked_scatter_(m, s),
        rand(*shape, noncontig=True),
        bools(*mshape),
        rand(*((n,) if not shape else (n // shape[-1] + 1, shape[-1]))),
    )


def test_masked_scatter_errors():
    raises_like(lambda t, x, m, s: x.masked_scatter(m, s), rand(3, 4), bools(3, 4, p=1.0), rand(5))
    raises_like(lambda t, x, m, s: x.masked_scatter(m, s), rand(3, 4), bools(3, 4), rand(12, dtype="float64"))
    raises_like(lambda t, x, m, s: x.masked_scatter(m, s), rand(3, 4), ints(3, 4, low=0, high=2), rand(12))


# ------------------------------------------------------------------------------------------------ take / nonzero / put


@pytest.mark.parametrize(
    "shape,ishape", [((3, 4), (5,)), ((3, 4), (2, 2)), ((3, 4), ()), ((5,), (0,)), ((), (3,))]
)
def test_take(shape, ishape):
    n = max(int(np.prod(shape)), 1)
    parity(lambda t, x, i: t.take(x, i), rand(*shape), ints(*ishape, low=-n, high=n))
    parity(lambda t, x, i: x.take(i), rand(*shape, noncontig=True), ints(*ishape, low=0, high=n))


def test_take_errors():
    raises_like(lambda t, x: x.take(t.tensor([12])), rand(3, 4))
    raises_like(lambda t, x: x.take(t.tensor([0.0])), rand(3, 4))
    raises_like(lambda t, x: x.take(t.tensor([0], dtype=t.int32)), rand(3, 4))


@pytest.mark.parametrize(
    "shape,ishape,dim",
    [
        ((3, 4), (3, 2), 1),
        ((3, 4), (1, 4), 0),
        ((3, 4), (1, 1), 1),
        ((3, 1), (3, 5), 1),
        ((3, 4), (6,), None),
        ((2, 3, 4), (2, 3, 2), -1),
        ((3, 4), (2, 4), -2),
    ],
)
def test_take_along_dim(shape, ishape, dim):
    size = int(np.prod(shape)) if dim is None else shape[dim]
    parity(lambda t, x, i: t.take_along_dim(x, i, dim), rand(*shape), ints(*ishape, low=0, high=size))
    # torch views the input as 1-D when dim is None, so it only accepts contiguous inputs there
    parity(
        lambda t, x, i: x.take_along_dim(i, dim=dim),
        rand(*shape, noncontig=dim is not None),
        ints(*ishape, low=0, high=size),
    )


def test_take_along_dim_argsort_style_and_errors():
    parity(lambda t, x: t.take_along_dim(x, x.argmax(1, keepdim=True), 1), rand(4, 5))
    raises_like(lambda t, x, i: t.take_along_dim(x, i, 1), rand(3, 4), ints(3, low=0, high=4))
    raises_like(lambda t, x, i: t.take_along_dim(x, i, 1), rand(3, 4), ints(2, 2, low=0, high=4))
    raises_like(lambda t, x, i: t.take_along_dim(x, i, 1), rand(3, 4), vals([[0.0]]))


@pytest.mark.parametrize(
    "data",
    [
        [[0, 1, 0], [2, 0, 3]],
        [0, 0, 0],
        [1.5, 0.0, -0.0, float("nan")],
        [[True, False], [False, True]],
        5,
        0,
        [],
        [[[1, 0], [0, 1]], [[0, 0], [1, 1]]],
    ],
)
def test_nonzero_argwhere(data):
    dtype = (
        "bool"
        if isinstance(data, list) and data and isinstance(np.asarray(data).flat[0], np.bool_)
        else ("float32" if np.asarray(data).dtype.kind == "f" else "int64")
    )
    parity(lambda t, x: t.nonzero(x), vals(data, dtype=dtype, requires_grad=False))
    parity(lambda t, x: x.nonzero(as_tuple=True), vals(data, dtype=dtype, requires_grad=False))
    parity(lambda t, x: t.argwhere(x), vals(data, dtype=dtype, requires_grad=False))


def test_nonzero_noncontig():
    parity(lambda t, x: (x > 0).nonzero(), rand(3, 4, noncontig=True))
    parity(lambda t, x: t.nonzero(x > 0, as_tuple=True), rand(3, 4, noncontig=True))


@pytest.mark.parametrize("accumulate", [False, True])
def test_put(accumulate):
    idx = [0, -1, 5] if not accumulate else [0, 5, 5, -6]
    parity(lambda t, x, s: (x * 1).put_(t.tensor(idx), s, accumulate=accumulate), rand(3, 4), rand(len(idx)))
    parity(lambda t, x, s: x.put(t.tensor(idx), s, accumulate=accumulate), rand(3, 4), rand(len(idx)))
    both(
        lambda m: (
            m.zeros(2, 3, dtype=m.int64)
            .t()
            .put_(m.tensor(idx), m.ones(len(idx), dtype=m.int64), accumulate=accumulate)
        )
    )
    parity(
        lambda t, x, s: (x * 1).put_(t.tensor([[1, 2]]), s.view(2, 1), accumulate=accumulate),
        rand(3, 4),
        rand(2),
    )


def test_put_errors():
    raises_like(lambda t, x, s: x.clone().put_(t.tensor([12]), s), rand(3, 4), rand(1))
    raises_like(lambda t, x, s: x.clone().put_(t.tensor([0, 1]), s), rand(3, 4), rand(3))
    raises_like(lambda t, x, s: x.clone().put_(t.tensor([0.0]), s), rand(3, 4), rand(1))


# ------------------------------------------------------------------------------------------------ gradcheck


_I = ember.tensor([2, 0, 2])


@pytest.mark.parametrize(
    "fn,specs",
    [
        (lambda t, x: x[1, ::2], [rand(3, 4)]),
        (lambda t, x: x[[0, 2, 0]][:, [1, 1]], [rand(3, 4)]),
        (lambda t, x: x[[0, 1], 1:3, [2, 0]], [rand(2, 4, 3)]),
        (lambda t, x: x[x > 0], [rand(3, 4)]),
        (lambda t, x, v: _set((slice(None), [0, 2]))(t, x, v), [rand(2, 3), rand(2, 1)]),
        (
            lambda t, x, v: t.index_put(x, (t.tensor([0, 0, 1]),), v, accumulate=True),
            [rand(2, 3), rand(3, 3)],
        ),
        (lambda t, x: x.gather(1, t.tensor([[0, 0], [2, 1]])), [rand(2, 3)]),
        (lambda t, x, s: x.scatter(1, t.tensor([[2, 0], [1, 2]]), s), [rand(2, 3), rand(2, 2)]),
        (lambda t, x, s: x.scatter_add(0, t.tensor([[1, 1, 1]]), s), [rand(2, 3), rand(1, 3)]),
        (
            lambda t, x, s: x.scatter_reduce(
                0, t.tensor([[1, 0, 1], [1, 1, 0]]), s, "mean", include_self=False
            ),
            [rand(2, 3), rand(2, 3)],
        ),
        (
            lambda t, x, s: x.scatter_reduce(0, t.tensor([[1, 0, 1], [1, 1, 0]]), s, "prod"),
            [rand(2, 3, low=0.5, high=2.0), rand(2, 3, low=0.5, high=2.0)],
        ),
        (
            lambda t, x, s: x.scatter_reduce(0, t.tensor([[1, 0, 1], [1, 1, 0]]), s, "amax"),
            [vals([[0.1, 0.5, -0.3], [0.8, -0.2, 0.4]]), vals([[0.2, 0.7, 0.9], [-0.6, 0.3, -0.8]])],
        ),
        (lambda t, x: x.index_select(1, t.tensor([2, 0, 2])), [rand(2, 3)]),
        (lambda t, x, s: x.index_add(1, t.tensor([2, 0, 2]), s, alpha=2), [rand(2, 3), rand(2, 3)]),
        (lambda t, x, s: x.index_copy(0, t.tensor([1]), s), [rand(2, 3), rand(1, 3)]),
        (lambda t, x, v: x.index_fill(1, t.tensor([1]), v), [rand(2, 3), rand()]),
        (lambda t, x, v: x.masked_fill(t.tensor([True, False, True]), v), [rand(2, 3), rand()]),
        (lambda t, x: x.masked_select(t.tensor([[True], [False]])), [rand(2, 3)]),
        (lambda t, x, s: x.masked_scatter(t.tensor([True, False, True]), s), [rand(2, 3), rand(5)]),
        (lambda t, x: x.take(t.tensor([[5, 0], [5, 1]])), [rand(2, 3)]),
        (lambda t, x: t.take_along_dim(x, t.tensor([[0], [2]]), 1), [rand(2, 3)]),
        (lambda t, x, s: x.put(t.tensor([1, 1, 4]), s, accumulate=True), [rand(2, 3), rand(3)]),
    ],
)
def test_gradcheck(fn, specs):
    gradcheck_fn(fn, *specs)


@pytest.mark.parametrize(
    "fn,specs",
    [
        (lambda t, x: (x * x)[[0, 2, 0]][:, 1:], [rand(3, 2)]),
        (lambda t, x, v: _set((slice(None), [0, 2]))(t, x * x, v * v), [rand(2, 3), rand(2, 1)]),
        (lambda t, x: (x * x).gather(1, t.tensor([[0, 0], [2, 1]])), [rand(2, 3)]),
        (lambda t, x, s: (x * x).scatter(1, t.tensor([[2, 0], [1, 2]]), s * s), [rand(2, 3), rand(2, 2)]),
        (
            lambda t, x, s: x.scatter_reduce(0, t.tensor([[1, 0, 1], [1, 1, 0]]), s, "prod"),
            [rand(2, 3, low=0.5, high=2.0), rand(2, 3, low=0.5, high=2.0)],
        ),
        (lambda t, x, s: (x * x).index_add(0, t.tensor([1, 1]), s * s, alpha=2), [rand(2, 2), rand(2, 2)]),
        (lambda t, x, s: (x * x).masked_scatter(t.tensor([True, False]), s * s), [rand(2, 2), rand(3)]),
        (lambda t, x: (x * x).take(t.tensor([3, 0, 3])), [rand(2, 2)]),
    ],
)
def test_gradgradcheck(fn, specs):
    xs = gradcheck_fn(fn, *specs)
    assert ember.autograd.gradgradcheck(lambda *a: fn(ember, *a), tuple(xs))

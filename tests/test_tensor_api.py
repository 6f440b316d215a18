"""The Tensor object's API against torch: metadata, Python protocols, conversions, casts, copy/fill, pickling."""

import copy
import pickle

import numpy as np
import pytest
import torch

import ember
from tests.helpers import assert_close, parity, raises_like, rand

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


def both(fn):
    """fn(module) on torch and ember; compare the results."""
    t = fn(torch)
    e = fn(ember)
    assert_close(e, t)
    return e


# ------------------------------------------------------------------------------------------------ metadata


@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 4), (1, 2, 3, 4)])
def test_shape_size_dim_numel(shape):
    t, e = torch.zeros(shape), ember.zeros(shape)
    assert isinstance(e.shape, ember.Size) and isinstance(e.size(), ember.Size)
    assert repr(e.shape) == repr(t.shape).replace("torch.", "ember.")
    assert e.shape == t.shape and e.size() == tuple(t.size())
    assert e.dim() == t.dim() == e.ndim == e.ndimension()
    assert e.numel() == t.numel() == e.nelement()
    for d in range(-len(shape), len(shape)):
        assert e.size(d) == t.size(d)
        assert e.shape[d] == t.shape[d]


@pytest.mark.parametrize("shape,dim", [((2,), 1), ((2,), -2), ((2, 3), 2), ((), 0), ((), -1), ((), 1)])
def test_size_dim_out_of_range(shape, dim):
    raises_like(lambda m: m.zeros(shape).size(dim))
    raises_like(lambda m: m.zeros(shape).stride(dim))


def test_size_repr_and_tuple_behaviour():
    s = ember.Size([2, 3, 4])
    assert repr(s) == "ember.Size([2, 3, 4])" == str(s)
    assert repr(ember.Size([])) == "ember.Size([])"
    assert s == (2, 3, 4) and s == torch.Size([2, 3, 4])
    assert isinstance(s[1:], ember.Size) and s[1:] == (3, 4)
    assert isinstance(s[0], int)
    assert s.numel() == 24 and ember.Size([]).numel() == 1
    assert isinstance(s + (5,), ember.Size) and s + (5,) == (2, 3, 4, 5)
    assert isinstance((1,) + s, ember.Size)
    assert hash(s) == hash((2, 3, 4))
    assert list(s) == [2, 3, 4] and len(s) == 3
    assert ember.zeros(s).shape == s
    assert pickle.loads(pickle.dumps(s)) == s and isinstance(pickle.loads(pickle.dumps(s)), ember.Size)
    assert s.count(2) == 1 and s.index(4) == 2


def test_dtype_device():
    e = ember.ones(2)
    assert e.dtype is ember.float32
    assert isinstance(e.device, ember.device)
    assert e.device == "cpu" and e.device == ember.device("cpu") and str(e.device) == "cpu"
    assert repr(e.device) == repr(torch.ones(2).device)
    assert e.device.type == "cpu" and e.device.index is None
    assert not e.is_cuda and not e.is_xpu and not e.is_mps and e.is_cpu
    assert e.get_device() == torch.ones(2).get_device()
    assert {e.device: 1}[ember.device("cpu")] == 1


@pytest.mark.parametrize("name", DTYPES)
def test_element_size_and_flags(name):
    t, e = torch.ones(2, dtype=getattr(torch, name)), ember.ones(2, dtype=getattr(ember, name))
    assert e.element_size() == t.element_size()
    assert e.is_floating_point() == t.is_floating_point()
    assert e.is_complex() == t.is_complex()
    assert e.dtype.is_signed == t.dtype.is_signed
    assert e.dtype.itemsize == t.dtype.itemsize


@pytest.mark.parametrize(
    "view",
    [
        lambda x: x,
        lambda x: x.t(),
        lambda x: x[1:],
        lambda x: x[:, 1:3],
        lambda x: x[::2, ::3],
        lambda x: x[1],
        lambda x: x[:, 2],
        lambda x: x.reshape(-1)[3:7],
        lambda x: x.unsqueeze(0),
        lambda x: x.expand(2, 4, 6) if x.dim() == 2 else x,
        lambda x: x.transpose(0, 1)[1:, ::2],
        lambda x: x.diagonal(),
    ],
)
def test_stride_offset_contiguity(view):
    t, e = view(torch.arange(24.0).reshape(4, 6)), view(ember.arange(24.0).reshape(4, 6))
    assert e.stride() == t.stride()
    assert e.storage_offset() == t.storage_offset()
    assert e.is_contiguous() == t.is_contiguous()
    assert e.tolist() == t.tolist()


def test_data_ptr_across_views():
    e = ember.arange(12.0).reshape(3, 4)
    assert e.view(12).data_ptr() == e.data_ptr()
    assert e[1].data_ptr() == e.data_ptr() + 4 * e.element_size()
    assert e[:, 1].data_ptr() == e.data_ptr() + e.element_size()
    assert e.t().data_ptr() == e.data_ptr()
    assert e.detach().data_ptr() == e.data_ptr()
    assert e.clone().data_ptr() != e.data_ptr()
    assert e[1:].untyped_storage().data_ptr() == e.untyped_storage().data_ptr()


@pytest.mark.parametrize("shape", [(2, 3), (4, 1), (1, 5)])
def test_T_mT(shape):
    parity(lambda m, x: x.T, rand(*shape))
    parity(lambda m, x: x.mT, rand(*shape))
    parity(lambda m, x: x.mT, rand(2, *shape))
    parity(lambda m, x: x.T, rand(shape[0]))


def test_T_on_scalar_and_mT_errors():
    parity(lambda m, x: x.T, rand())
    parity(lambda m, x: x.mT * 2, rand())
    raises_like(lambda m: m.ones(3).mT)


# ------------------------------------------------------------------------------------------------ autograd fields


def test_leaf_and_grad_fn():
    x = ember.ones(2, requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None and x.requires_grad
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    assert y.grad_fn.name() == (torch.ones(2, requires_grad=True) * 2).grad_fn.name()
    z = ember.ones(2)
    assert z.is_leaf and not z.requires_grad and z.grad is None
    assert y.detach().is_leaf and not y.detach().requires_grad


@pytest.mark.parametrize(
    "value",
    [
        lambda m: 3,
        lambda m: [1.0, 2.0],
        lambda m: m.ones(3),
        lambda m: m.ones(2, 1),
        lambda m: m.ones(2, dtype=m.float64),
    ],
)
def test_grad_setter_errors(value):
    def f(m):
        x = m.ones(2, requires_grad=True)
        x.grad = value(m)

    raises_like(f)


def test_grad_setter_ok_and_delete():
    x = ember.ones(2, requires_grad=True)
    g = ember.full((2,), 3.0)
    x.grad = g
    assert x.grad is g
    x.grad = None
    assert x.grad is None
    x.grad = g
    del x.grad
    assert x.grad is None


@pytest.mark.parametrize("name", ["int64", "bool", "int32", "uint8"])
def test_requires_grad_on_int_fails(name):
    raises_like(lambda m: m.ones(2, dtype=getattr(m, name)).requires_grad_())
    raises_like(lambda m: m.ones(2, dtype=getattr(m, name), requires_grad=True))


def test_requires_grad_on_nonleaf():
    def f(m):
        y = m.ones(2, requires_grad=True) * 2
        y.requires_grad = False

    raises_like(f)


# ------------------------------------------------------------------------------------------------ to Python


@pytest.mark.parametrize("name", DTYPES)
def test_item_tolist_types(name):
    def f(m):
        x = m.tensor([[1, 0, 2]], dtype=getattr(m, name))
        return x.tolist(), x[0, 2].item(), x[0, :1].item(), x.sum().tolist() if name != "bool" else 0

    t, e = f(torch), f(ember)
    assert e == t
    assert [type(v) for v in e[0][0]] == [type(v) for v in t[0][0]]
    assert type(e[1]) is type(t[1]) and type(e[2]) is type(t[2])


def test_item_errors():
    raises_like(lambda m: m.ones(2).item())
    raises_like(lambda m: m.ones(0).item())
    assert ember.ones(1, 1, 1).item() == 1.0
    assert ember.tensor(2.5, requires_grad=True).item() == 2.5


def test_tolist_scalar_and_empty():
    assert ember.tensor(3).tolist() == 3 and isinstance(ember.tensor(3).tolist(), int)
    assert ember.zeros(2, 0).tolist() == torch.zeros(2, 0).tolist()
    assert ember.tensor(1.5, requires_grad=True).tolist() == 1.5


@pytest.mark.parametrize("name", DTYPES)
def test_numpy_shares_memory(name):
    e = ember.zeros(3, dtype=getattr(ember, name))
    a = e.cpu().numpy()
    assert a.shape == (3,)
    if name == "bfloat16":
        assert a.dtype.itemsize == 2
    else:
        assert a.dtype == torch.zeros(3, dtype=getattr(torch, name)).cpu().numpy().dtype
    a[1] = 1
    assert e[1].item() == 1
    e[2] = 1
    assert a[2] == 1


def test_numpy_requires_grad_error_and_force():
    raises_like(lambda m: m.ones(2, requires_grad=True).cpu().numpy(), match="detach")
    e = ember.ones(2, requires_grad=True)
    assert e.detach().cpu().numpy().tolist() == [1.0, 1.0]
    assert e.numpy(force=True).tolist() == [1.0, 1.0]
    v = ember.arange(6.0).reshape(2, 3).t()
    assert np.shares_memory(v.cpu().numpy(), v.cpu().numpy()) and v.cpu().numpy().shape == (3, 2)


def test_array_protocol():
    e = ember.arange(6.0).reshape(2, 3)
    a = np.asarray(e)
    assert a.dtype == np.float32 and a.shape == (2, 3)
    assert np.shares_memory(a, e.cpu().numpy())
    assert np.asarray(e, dtype=np.float64).dtype == np.float64
    assert np.array(e).tolist() == e.tolist()
    assert np.asarray(ember.tensor(3)).shape == ()
    raises_like(lambda m: np.asarray(m.ones(2, requires_grad=True)))


@pytest.mark.parametrize(
    "fn",
    [
        lambda m, x: np.float64(2) * x,
        lambda m, x: x * np.float64(2),
        lambda m, x: np.float32(2) + x,
        lambda m, x: np.int64(3) - x,
        lambda m, x: np.float64(1.5) / x,
        lambda m, x: x ** np.float64(2),
        lambda m, x: np.bool_(True) * x,
    ],
)
def test_numpy_scalars_with_tensors(fn):
    e = parity(fn, rand(3))
    assert isinstance(e, ember.Tensor)


@pytest.mark.parametrize("op", ["add", "mul", "sub", "rsub", "lt", "eq"])
def test_numpy_array_operand_gives_tensor(op):
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    e = ember.tensor([3.0, 2.0, 1.0])
    f = {
        "add": lambda x, y: x + y,
        "mul": lambda x, y: x * y,
        "sub": lambda x, y: x - y,
        "rsub": lambda x, y: y - x,
        "lt": lambda x, y: x < y,
        "eq": lambda x, y: x == y,
    }[op]
    r1, r2 = f(a, e), f(e, a)
    assert isinstance(r1, ember.Tensor) and isinstance(r2, ember.Tensor)
    t = torch.tensor([3.0, 2.0, 1.0])
    assert r2.tolist() == f(t, torch.from_numpy(a)).tolist()
    assert r1.tolist() == f(torch.from_numpy(a), t).tolist()


def test_dlpack():
    e = ember.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(e)
    assert a.tolist() == e.tolist()
    assert np.shares_memory(a, e.cpu().numpy())
    assert e.__dlpack_device__()[0] == torch.ones(1).__dlpack_device__()[0]
    assert torch.from_dlpack(e).tolist() == e.tolist()


@pytest.mark.parametrize(
    "build,spec",
    [
        (lambda m: m.tensor(3.14159), ".4f"),
        (lambda m: m.tensor(3.14159), ""),
        (lambda m: m.tensor(3.14159), "10.2e"),
        (lambda m: m.tensor(7), "5d"),
        (lambda m: m.tensor(7), ""),
        (lambda m: m.tensor(True), ""),
        (lambda m: m.tensor(2.5, requires_grad=True), ".3f"),
        (lambda m: m.tensor(2.5, dtype=m.float64), ".10f"),
        (lambda m: m.tensor([1.5, 2.0]), ""),
        (lambda m: m.ones(2, 2), ""),
    ],
)
def test_format(build, spec):
    assert format(build(ember), spec) == format(build(torch), spec).replace("torch.", "ember.")


@pytest.mark.parametrize(
    "build", [lambda m: m.tensor([1.5, 2.0]), lambda m: m.ones(2, 2), lambda m: m.ones(1)]
)
def test_format_nd_with_spec_errors(build):
    raises_like(lambda m: format(build(m), ".2f"))


def test_len_iter():
    e = ember.arange(6.0).reshape(3, 2)
    assert len(e) == 3 and len(ember.zeros(0, 2)) == 0
    rows = list(e)
    assert len(rows) == 3 and all(isinstance(r, ember.Tensor) for r in rows)
    assert [r.tolist() for r in rows] == [r.tolist() for r in torch.arange(6.0).reshape(3, 2)]
    rows[1][0] = 100.0  # iteration yields views
    assert e[1, 0].item() == 100.0
    assert [v.item() for v in ember.tensor([1, 2, 3])] == [1, 2, 3]
    raises_like(lambda m: len(m.tensor(1.0)))
    raises_like(lambda m: iter(m.tensor(1.0)))
    assert list(ember.zeros(0, 3)) == []


def test_iter_grad():
    parity(lambda m, x: list(x), rand(3, 2))
    parity(lambda m, x: [r * (i + 1) for i, r in enumerate(x)], rand(3))


def test_reversed_and_contains():
    parity(lambda m, x: reversed(x), rand(4, 2))
    parity(lambda m, x: reversed(x), rand())
    e = ember.arange(5)
    assert 3 in e and 7 not in e and ember.tensor(2) in e and 2.0 in e
    raises_like(lambda m: "a" in m.arange(5))


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.ones(2),
        lambda m: m.ones(0),
        lambda m: m.ones(2, 2),
        lambda m: m.zeros(3, dtype=m.bool),
    ],
)
def test_bool_ambiguous(build):
    raises_like(lambda m: bool(build(m)), match="ambiguous")
    raises_like(lambda m: m.is_nonzero(build(m)))


@pytest.mark.parametrize(
    "build",
    [lambda m: m.tensor(0.0), lambda m: m.tensor([2]), lambda m: m.tensor([[False]]), lambda m: m.tensor(-1)],
)
def test_bool_single(build):
    assert bool(build(ember)) == bool(build(torch))
    assert ember.is_nonzero(build(ember)) == torch.is_nonzero(build(torch))


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.tensor(3),
        lambda m: m.tensor([3]),
        lambda m: m.tensor(3, dtype=m.int32),
        lambda m: m.tensor(3, dtype=m.uint8),
        lambda m: m.tensor(True),
        lambda m: m.tensor(-2, dtype=m.int8),
    ],
)
def test_index_ok(build):
    e, t = build(ember), build(torch)
    assert e.__index__() == t.__index__()
    assert list(range(e)) == list(range(t))
    assert list(range(10))[e] == list(range(10))[t]
    assert [1, 2, 3] * abs(int(e)) == [1, 2, 3] * abs(int(t))
    assert hex(e) == hex(t)


@pytest.mark.parametrize(
    "build", [lambda m: m.tensor(3.0), lambda m: m.tensor([1, 2]), lambda m: m.tensor(2.0, dtype=m.float64)]
)
def test_index_errors(build):
    raises_like(lambda m: range(build(m)), match="index")


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.tensor(2.7),
        lambda m: m.tensor(-2.7),
        lambda m: m.tensor([[5]]),
        lambda m: m.tensor(True),
        lambda m: m.tensor(3.5, dtype=m.float16),
        lambda m: m.tensor(3.5, requires_grad=True),
    ],
)
def test_int_float(build):
    e, t = build(ember), build(torch)
    assert int(e) == int(t) and type(int(e)) is int
    assert float(e) == float(t) and type(float(e)) is float
    assert complex(e) == complex(t)


@pytest.mark.parametrize("build", [lambda m: m.ones(2), lambda m: m.ones(0)])
def test_int_float_errors(build):
    raises_like(lambda m: int(build(m)))
    raises_like(lambda m: float(build(m)))


def test_hash_identity():
    a, b = ember.ones(2), ember.ones(2)
    s = {a, b, a}
    assert len(s) == 2 and a in s
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert hash(a) == id(a)
    assert (a == b).tolist() == [True, True]
    assert (a == None) is False and (a != None) is True  # noqa: E711


# ------------------------------------------------------------------------------------------------ conversion


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize(
    "cast", ["float", "double", "half", "bfloat16", "int", "long", "short", "char", "byte", "bool"]
)
def test_casts(src, cast):
    vals = [0.0, 1.0, 2.0, 100.0] if src in ("bool", "uint8") else [-3.0, 0.0, 1.5, 100.25]
    if src == "bool":
        vals = [0.0, 1.0, 1.0, 0.0]
    if cast in ("byte", "bool") and src not in ("bool", "uint8"):
        vals = [0.0, 1.5, 3.0, 100.25]
    e = parity(lambda m: getattr(m.tensor(vals, dtype=m.float64).to(getattr(m, src)), cast)(), grad=False)
    assert e.is_contiguous()


@pytest.mark.parametrize("name", DTYPES)
def test_to_dtype_grad(name):
    if name in ("float16", "bfloat16", "float32", "float64"):
        parity(lambda m, x: x.to(getattr(m, name)) * 2, rand(3, 2))
    else:
        parity(lambda m, x: x.to(getattr(m, name)), rand(3, 2, low=0, high=5))


def test_to_variants():
    x = ember.ones(2)
    assert x.to(ember.float32) is x and x.to("cpu") is x and x.to(ember.device("cpu")) is x
    assert x.to(x) is x
    assert x.to("cpu", ember.float64).dtype is ember.float64
    assert x.to(ember.device("cpu"), ember.float64).dtype is ember.float64
    assert x.to(device="cpu", dtype=ember.int32).dtype is ember.int32
    assert x.to(ember.ones(1, dtype=ember.int8)).dtype is ember.int8
    assert x.to(ember.float32, copy=True) is not x
    assert x.to(ember.float32, copy=True).data_ptr() != x.data_ptr()
    assert x.to(dtype=ember.float16).dtype is ember.float16
    assert x.to(ember.float64, non_blocking=True).dtype is ember.float64
    assert x.cpu() is x
    assert x.type_as(ember.ones(1, dtype=ember.int64)).dtype is ember.int64
    parity(lambda m, a, b: a.type_as(b) * 3, rand(3), rand(2, dtype="float64"))


@pytest.mark.parametrize(
    "arg",
    [
        None,
        "torch.DoubleTensor",
        "torch.IntTensor",
        "torch.BoolTensor",
        "torch.HalfTensor",
        "torch.BFloat16Tensor",
        "torch.ByteTensor",
        "torch.FloatTensor",
        "torch.LongTensor",
        "float64",
        "torch.float64",
    ],
)
def test_type(arg):
    def f(m):
        x = m.tensor([1.5, -2.0])
        if arg is None:
            return x.type()
        a = arg.replace("torch.", f"{m.__name__}.") if arg.endswith("Tensor") else arg
        return x.type(a)

    if arg in ("float64", "torch.float64"):
        raises_like(f)
        return
    e, t = f(ember), f(torch)
    if isinstance(t, str):
        assert e == t.replace("torch.", "ember.")
    else:
        assert_close(e, t)


@pytest.mark.parametrize("name", DTYPES)
def test_type_name(name):
    t, e = torch.ones(1, dtype=getattr(torch, name)), ember.ones(1, dtype=getattr(ember, name))
    assert e.type() == t.type().replace("torch.", "ember.")
    assert e.type(ember.int32).dtype is ember.int32
    assert ember.typename(e) == torch.typename(t).replace("torch.", "ember.")


@pytest.mark.parametrize("fmt", [None, "contiguous", "preserve"])
def test_clone(fmt):
    def f(m, x):
        kw = {}
        if fmt == "contiguous":
            kw["memory_format"] = m.contiguous_format
        elif fmt == "preserve":
            kw["memory_format"] = m.preserve_format
        y = x.clone(**kw)
        return y, y.stride(), y.is_contiguous()

    parity(f, rand(3, 4, noncontig=True))
    parity(f, rand(3, 4))
    parity(lambda m, x: x.clone(), rand())


def test_clone_is_a_copy():
    x = ember.ones(3)
    y = x.clone()
    y[0] = 5
    assert x[0].item() == 1 and y.grad_fn is None


def test_data_property():
    x = ember.ones(3, requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf
    assert d.data_ptr() == x.data_ptr()
    v0 = x._version
    d.add_(1)
    assert x.tolist() == [2.0, 2.0, 2.0]
    assert x._version == v0  # separate version counter
    det = x.detach()
    det.add_(1)
    assert x._version == v0 + 1  # detach() shares it
    x.data = ember.zeros(3, dtype=ember.float64)
    assert x.dtype is ember.float64 and x.requires_grad and x.tolist() == [0.0, 0.0, 0.0]


def test_data_property_torch_semantics():
    def f(m):
        x = m.ones(3, requires_grad=True)
        y = x * 2
        x.data.mul_(3)
        return x.detach().clone(), y.detach(), x.data.requires_grad, y.data.grad_fn is None

    t, e = f(torch), f(ember)
    assert_close(e, t)


@pytest.mark.parametrize("name", ["new_zeros", "new_ones", "new_empty"])
@pytest.mark.parametrize("src", ["float32", "int32", "float64"])
@pytest.mark.parametrize("size", [(2, 3), ((2, 3),), ([4],), ((),)])
def test_new_factories(name, src, size):
    def f(m, **kw):
        x = m.ones(1, dtype=getattr(m, src))
        y = getattr(x, name)(*size, **kw)
        return (y if name != "new_empty" else y.shape), y.dtype, y.requires_grad

    assert_close(f(ember), f(torch))
    assert_close(f(ember, dtype=ember.int8), f(torch, dtype=torch.int8))


def test_new_full_and_new_tensor():
    for m in (ember,):
        x = m.ones(1, dtype=m.int32)
        assert x.new_full((2,), 2.7).dtype is m.int32
    both(lambda m: m.ones(1, dtype=m.int32).new_full((2, 2), 3))
    both(lambda m: m.ones(1, dtype=m.int32).new_full([2], 2.7))
    both(lambda m: m.ones(1, dtype=m.float64).new_full((2,), 1, dtype=m.float16))
    both(lambda m: m.ones(1).new_full((2,), 1.5, requires_grad=True))
    both(lambda m: m.ones(1, dtype=m.int32).new_tensor([1.5, 2.5]))
    both(lambda m: m.ones(1, dtype=m.float64).new_tensor([1, 2]))
    both(lambda m: m.ones(1).new_tensor([[1, 2]], dtype=m.int16))
    both(lambda m: m.ones(1).new_tensor(3.0, requires_grad=True))
    both(lambda m: m.ones(1).new_ones(2, requires_grad=True))


def test_new_tensor_copies():
    src = ember.ones(3)
    n = ember.ones(1).new_tensor(src)
    n[0] = 5
    assert src[0].item() == 1


# ------------------------------------------------------------------------------------------------ copy_ / fill_ / zero_


@pytest.mark.parametrize(
    "dst,src",
    [
        ((2, 3), (3,)),
        ((2, 3), (2, 3)),
        ((2, 3), (1, 3)),
        ((2, 3), ()),
        ((4,), (1,)),
        ((2, 1, 3), (2, 1, 3)),
    ],
)
def test_copy_broadcast_grad(dst, src):
    def f(m, d, s):
        d = d * 1
        d.copy_(s)
        return d

    parity(f, rand(*dst), rand(*src))


@pytest.mark.parametrize("src_dt", ["int64", "float64", "bool", "float16", "int8"])
@pytest.mark.parametrize("dst_dt", ["float32", "int32", "bfloat16", "bool"])
def test_copy_dtype_cast(src_dt, dst_dt):
    def f(m):
        d = m.zeros(2, 3, dtype=getattr(m, dst_dt))
        s = m.tensor([1.0, 0.0, -2.0] if src_dt not in ("bool",) else [1.0, 0.0, 1.0])
        s = s.to(getattr(m, src_dt)) if src_dt != "bool" else s.bool()
        return d.copy_(s)

    both(f)


def test_copy_noncontig_and_views():
    def f(m):
        base = m.zeros(4, 4)
        base[:, 1].copy_(m.arange(4.0))
        base.t()[2].copy_(m.arange(4.0) * 2)
        return base

    both(f)


@pytest.mark.parametrize("dst,src", [((2, 3), (2,)), ((2, 3), (2, 3, 1)), ((3,), (4,)), ((), (2,))])
def test_copy_shape_errors(dst, src):
    raises_like(lambda m: m.zeros(dst).copy_(m.ones(src)))


def test_copy_leaf_error():
    raises_like(lambda m: m.zeros(2, requires_grad=True).copy_(m.ones(2)), match="leaf")


def test_copy_returns_self_and_bumps_version():
    x = ember.zeros(3)
    v = x._version
    assert x.copy_(ember.ones(3)) is x and x._version == v + 1


@pytest.mark.parametrize("value", [2, 2.5, True, -1])
@pytest.mark.parametrize("dt", ["float32", "int64", "bool", "float16"])
def test_fill_scalar(value, dt):
    both(lambda m: m.zeros(2, 3, dtype=getattr(m, dt)).fill_(value))
    both(lambda m: m.zeros(2, 3, dtype=getattr(m, dt)).zero_())


def test_fill_tensor_with_grad():
    parity(lambda m, x, v: (x * 1).fill_(v), rand(2, 3), rand())
    parity(lambda m, x, v: (x * 1)[1].fill_(v * 2), rand(2, 3), rand())
    both(lambda m: m.zeros(3, dtype=m.int64).fill_(m.tensor(2.7)))
    raises_like(lambda m: m.zeros(3).fill_(m.ones(1)))
    raises_like(lambda m: m.zeros(3).fill_(m.ones(2)))


def test_zero_grad():
    parity(lambda m, x: (x * 1).zero_() + x, rand(3))


def test_fill_returns_self():
    x = ember.ones(2)
    assert x.fill_(3) is x and x.zero_() is x and x.tolist() == [0.0, 0.0]


# ------------------------------------------------------------------------------------------------ copying / pickling


@pytest.mark.parametrize("name", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (2, 3)])
def test_pickle_round_trip(name, shape):
    e = ember.ones(shape, dtype=getattr(ember, name))
    if e.numel():
        e.view(-1)[0] = 0
    r = pickle.loads(pickle.dumps(e))
    assert r.dtype is e.dtype and r.shape == e.shape and r.tolist() == e.tolist()
    assert r.data_ptr() != e.data_ptr() or e.numel() == 0


def test_pickle_noncontig_and_requires_grad():
    e = ember.arange(6.0).reshape(2, 3).t()
    r = pickle.loads(pickle.dumps(e))
    assert r.tolist() == e.tolist()
    x = ember.ones(2, requires_grad=True)
    x.grad = ember.ones(2)
    r = pickle.loads(pickle.dumps(x))
    assert r.requires_grad and r.is_leaf
    t = torch.ones(2, requires_grad=True)
    t.grad = torch.ones(2)
    assert (r.grad is None) == (pickle.loads(pickle.dumps(t)).grad is None)


def test_pickle_has_no_code():
    """The pickle stream names only data-rebuilding functions (no lambdas, no code objects)."""
    import pickletools

    data = pickle.dumps(ember.arange(4.0), protocol=pickle.HIGHEST_PROTOCOL)
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(data)]
    globals_ = [a for n, a in ops if n in ("GLOBAL", "STACK_GLOBAL")]
    strings = [a for n, a in ops if "UNICODE" in n]
    assert "code" not in strings and "<lambda>" not in strings
    assert all(not isinstance(a, str) or "builtins" not in a for a in globals_)
    for mod in [s for s in strings if isinstance(s, str) and s.startswith(("builtins", "types"))]:
        raise AssertionError(f"pickle references {mod}")


@pytest.mark.parametrize("name", ["float32", "bfloat16", "int64", "bool"])
def test_deepcopy(name):
    x = ember.ones(2, 3, dtype=getattr(ember, name))
    y = copy.deepcopy(x)
    assert y.tolist() == x.tolist() and y.dtype is x.dtype and y.data_ptr() != x.data_ptr()


def test_deepcopy_grad_and_memo():
    x = ember.ones(2, requires_grad=True)
    x.grad = ember.full((2,), 3.0)
    y = copy.deepcopy(x)
    assert y.requires_grad and y.is_leaf and y.grad.tolist() == [3.0, 3.0] and y.grad is not x.grad
    pair = copy.deepcopy([x, x])
    assert pair[0] is pair[1]
    raises_like(lambda m: copy.deepcopy(m.ones(2, requires_grad=True) * 2))


def test_shallow_copy():
    x = ember.ones(2)
    y = copy.copy(x)
    assert y.tolist() == x.tolist()


# ------------------------------------------------------------------------------------------------ misc


def test_is_tensor_and_isinstance():
    assert ember.is_tensor(ember.ones(1)) and not ember.is_tensor([1])
    assert isinstance(ember.ones(1), ember.Tensor)
    assert ember.numel(ember.ones(2, 3)) == 6
    assert ember.is_floating_point(ember.ones(1)) and not ember.is_floating_point(
        ember.ones(1, dtype=ember.int64)
    )


def test_pickle_keeps_python_attributes():
    x = ember.arange(3.0)
    x.tag = {"name": "w"}
    r = pickle.loads(pickle.dumps(x))
    assert r.tag == {"name": "w"} and r.tolist() == [0.0, 1.0, 2.0]
    t = copy.deepcopy(x)
    assert t.tag == {"name": "w"} and t.tag is not x.tag


def test_array_copy_argument():
    e = ember.arange(3.0)
    a = e.__array__(copy=True)
    a[0] = 9
    assert e[0].item() == 0
    assert e.__array__(np.float64).dtype == np.float64


@pytest.mark.parametrize("cast,dtype", [("cfloat", "complex64"), ("cdouble", "complex128")])
def test_complex_casts(cast, dtype):
    e = getattr(ember.tensor([1.5, -2.0]), cast)()
    t = getattr(torch.tensor([1.5, -2.0]), cast)()
    assert e.dtype is getattr(ember, dtype) and e.tolist() == t.tolist()


@pytest.mark.parametrize(
    "build",
    [
        lambda m: ~m.tensor([1, 2]),
        lambda m: ~m.tensor([True, False]),
    ],
)
def test_invert(build):
    both(build)


def test_invert_float_errors():
    raises_like(lambda m: ~m.ones(2))


@pytest.mark.parametrize(
    "name,args",
    [
        ("less_", (1,)),
        ("greater_", (1,)),
        ("less_equal_", (1,)),
        ("greater_equal_", (1,)),
        ("not_equal_", (1,)),
        ("bitwise_left_shift_", (1,)),
        ("bitwise_right_shift_", (1,)),
    ],
)
def test_inplace_aliases(name, args):
    both(lambda m: getattr(m.tensor([0, 1, 2, 5]), name)(*args))


@pytest.mark.parametrize("name", ["sinc_", "arcsinh_", "arccosh_", "arctanh_"])
def test_inplace_unary_aliases(name):
    both(lambda m: getattr(m.tensor([1.2, 1.5]) if name == "arccosh_" else m.tensor([0.2, 0.5]), name)())


def test_float_power_inplace():
    both(lambda m: m.tensor([1.5, 2.0], dtype=m.float64).float_power_(2))
    both(lambda m: m.tensor([1.5, 2.0], dtype=m.float64).float_power_(m.tensor([2, 3])))
    raises_like(lambda m: m.tensor([1.5, 2.0]).float_power_(2))


SIZE_EXPRS = [
    "M.Size([2.5])",
    "M.Size([2, 3]) + [4]",
    "M.Size([2, 3]) + (4,)",
    "(1,) + M.Size([2])",
    "M.Size([2]) * 2",
    "2 * M.Size([2])",
    "M.Size([2, 3])[::-1]",
    "M.Size([2, 3])[1:]",
    "M.Size()",
    "M.Size([M.tensor(3)])",
    "M.Size([1, M.tensor(3.0)])",
    "M.Size(range(3))",
    "M.Size('ab')",
    "pickle.loads(pickle.dumps(M.Size([2, 3])))",
    "M.Size([2, 3]).count(2)",
    "M.Size([True])",
    "M.Size([np.int64(4)])",
    "M.Size((2, 3)) == M.Size([2, 3])",
    "M.Size([2, 3]) == [2, 3]",
    "M.zeros(M.Size([2]) * 2).shape",
    "M.Size([2])[0:1] + M.Size([3])",
    "M.Size([2, 3, 4]).numel()",
    "M.Size([]).numel()",
    "M.Size([2, 0]).numel()",
    "str(M.Size([1]))",
    "M.ones(2, 3).shape[-1]",
    "M.ones(2, 3).size()[0]",
    "type(M.ones(2).shape + (1,)).__name__",
]


@pytest.mark.parametrize("expr", SIZE_EXPRS)
def test_size_like_torch(expr):
    out = []
    for m in (torch, ember):
        try:
            out.append(repr(eval(expr.replace("M.", m.__name__ + "."))).replace("torch.", "ember."))
        except Exception as exc:  # noqa: BLE001
            out.append(type(exc).__name__)
    assert out[1] == out[0]


DEVICE_EXPRS = [
    "M.device('cpu')",
    "M.device('cpu:0')",
    "M.device('cpu', 0)",
    "str(M.device('cpu', 0))",
    "M.device('cuda:1')",
    "str(M.device('cuda', 1))",
    "M.device('cuda:1').index",
    "M.device('gpu')",
    "M.device('cuda:x')",
    "M.device('cuda:-1')",
    "M.device('cuda:01')",
    "M.device('cuda', -1)",
    "M.device('cuda', 'x')",
    "M.device('cpu') == 'cpu:0'",
    "M.device('cpu') == M.device('cpu', 0)",
    "M.device('cuda') == 'cuda:0'",
    "M.device('cpu') == 3",
    "M.device('cpu') == 'foo'",
    "pickle.loads(pickle.dumps(M.device('cuda:1')))",
    "M.device(M.device('cpu'))",
    "M.device('meta')",
    "M.device('cpu:1')",
    "M.device(None)",
    "M.ones(2).to('cpu:0').device",
    "M.zeros(2, device='cpu:0').device",
    "M.tensor([1], device=M.device('cpu', 0)).device",
    "M.device('cpu').type",
]


@pytest.mark.parametrize("expr", DEVICE_EXPRS)
def test_device_like_torch(expr):
    out = []
    for m in (torch, ember):
        try:
            out.append(repr(eval(expr.replace("M.", m.__name__ + "."))).replace("torch.", "ember."))
        except Exception as exc:  # noqa: BLE001
            out.append(type(exc).__name__)
    assert out[1] == out[0]


def test_device_string_equality():
    """ember.device compares equal to its string form (a convenience torch 2.13 does not have)."""
    assert ember.device("cpu") == "cpu" and ember.ones(1).device == "cpu"
    assert ember.device("cuda:1") == "cuda:1" and ember.device("cuda:1") != "cuda:0"
    assert ember.device("cpu") != "not a device"


def test_device_context_manager_sets_the_default_device_like_torch():
    """`with device(...)` is the default device inside the block (factory functions use it), nested blocks
    restore the outer one, and an exception restores it too (torch's device context manager). ember has no
    meta tensors, so the factories are checked on the CPU; the CUDA case is in tests/gpu/test_cuda.py."""
    seen = {}
    for m in (torch, ember):
        got = []
        outer = m.device("cpu")  # the default outside (EMBER_TEST_DEVICE=cuda makes ember's CUDA otherwise)
        outer.__enter__()
        with m.device("meta") as d:
            got.append(str(d))
            got.append(str(m.get_default_device()))
            with m.device("cpu"):
                got.append(str(m.get_default_device()))
                got += [str(m.ones(1).device), str(m.randn(3).device), str(m.arange(3).device)]
            got.append(str(m.get_default_device()))
        got.append(str(m.get_default_device()))
        try:
            with m.device("meta"):
                raise KeyError("inside")
        except KeyError:
            pass
        got.append(str(m.get_default_device()))
        outer.__exit__(None, None, None)
        seen[m.__name__] = got
    assert (
        seen["ember"] == seen["torch"] == ["meta", "meta", "cpu", "cpu", "cpu", "cpu", "meta", "cpu", "cpu"]
    )

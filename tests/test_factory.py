"""Creation functions against torch: tensor/as_tensor/from_numpy, zeros/ones/full/empty(_like), ranges, eye."""

import numpy as np
import pytest
import torch

import ember
from tests.helpers import assert_close, raises_like

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning"),
]

FLOATS = ["float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
# arange's element values depend on torch's vector width; ember reproduces the AVX2 kernels bit for bit.
EXACT = torch.backends.cpu.get_cpu_capability() == "AVX2"


def both(fn):
    t = fn(torch)
    e = fn(ember)
    assert_close(e, t)
    if isinstance(t, torch.Tensor) and t.is_complex():
        assert e.tolist() == t.tolist()
    return e


def _np(x):
    if isinstance(x, torch.Tensor):
        x = x.float() if x.dtype == torch.bfloat16 else x
        return x.cpu().numpy()
    return x.float().cpu().numpy() if x.dtype is ember.bfloat16 else x.cpu().numpy()


def exact(fn):
    """Same dtype, shape and bit-identical values (NaN == NaN)."""
    t, e = fn(torch), fn(ember)
    assert str(e.dtype) == str(t.dtype).replace("torch.", "ember."), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    if EXACT:
        np.testing.assert_array_equal(_np(e), _np(t))
    else:
        assert_close(e, t)
    return e


# ------------------------------------------------------------------------------------------------ tensor()


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.tensor([[1, 2], [3, 4]]),
        lambda m: m.tensor([1, 2.5]),
        lambda m: m.tensor([True, False]),
        lambda m: m.tensor([True, 2]),
        lambda m: m.tensor([True, 2.5]),
        lambda m: m.tensor([]),
        lambda m: m.tensor([[], []]),
        lambda m: m.tensor(2.5),
        lambda m: m.tensor(2),
        lambda m: m.tensor(False),
        lambda m: m.tensor((1, 2)),
        lambda m: m.tensor([(1, 2), [3, 4]]),
        lambda m: m.tensor([float("nan"), float("inf"), -1]),
        lambda m: m.tensor(-(2**63)),
        lambda m: m.tensor([2**62, -5]),
        lambda m: m.tensor([[[1.5]], [[2.0]]]),
        lambda m: m.tensor([1, 2], dtype=m.float64),
        lambda m: m.tensor([1.7, -2.7], dtype=m.int32),
        lambda m: m.tensor([0.0, 2.0], dtype=m.bool),
        lambda m: m.tensor([1.1, 2.2], dtype=m.float16),
        lambda m: m.tensor([1.1, 2.2], dtype=m.bfloat16),
        lambda m: m.tensor([-1, 255], dtype=m.uint8),
        lambda m: m.tensor([1.0, 2.0], requires_grad=True),
        lambda m: m.tensor(3.0, dtype=m.float64, requires_grad=True),
        lambda m: m.tensor([m.tensor(1.0), m.tensor(2.0)]),
        lambda m: m.tensor([m.tensor(1), m.tensor(2)]),
        lambda m: m.tensor([m.tensor(1), m.tensor(2.5, dtype=m.float64)]),
        lambda m: m.tensor([m.tensor(1), 2.5]),
        lambda m: m.tensor([m.tensor([1.0]), m.tensor([2.0])]),
        lambda m: m.tensor([m.tensor(1, dtype=m.int8), 2]),
        lambda m: m.tensor([m.tensor(1, dtype=m.int8), True]),
        lambda m: m.tensor([[m.tensor(1.5, dtype=m.float16)], [2]]),
        lambda m: m.tensor([m.tensor(1.5, requires_grad=True), 2.0]),
        lambda m: m.tensor(m.tensor([1, 2], dtype=m.int16)),
        lambda m: m.tensor(m.tensor([1.0, 2.0], requires_grad=True) * 2),
        lambda m: m.tensor([np.float64(1.0), np.float64(2.0)]),
        lambda m: m.tensor([np.float32(1.0), np.float32(2.0)]),
        lambda m: m.tensor([np.float32(1.0), np.float64(2.5)]),
        lambda m: m.tensor([np.int32(1), np.int32(2)]),
        lambda m: m.tensor([np.int32(1), 2]),
        lambda m: m.tensor([np.float16(1), 2]),
        lambda m: m.tensor([np.float16(1), 2.5]),
        lambda m: m.tensor([np.array([1.0, 2.0]), np.array([3.0, 4.0])]),
        lambda m: m.tensor([np.array([1, 2], dtype=np.int8), [3, 4]]),
        lambda m: m.tensor([np.array([1, 2], dtype=np.int8), [3.5, 4]]),
        lambda m: m.tensor([[1, 2], [3.5, True]]),
        lambda m: m.tensor(np.float64(2.5)),
        lambda m: m.tensor(np.float32(2.5)),
        lambda m: m.tensor(np.int32(2)),
        lambda m: m.tensor(np.bool_(True)),
        lambda m: m.tensor(np.arange(12.0).reshape(3, 4).T),
        lambda m: m.tensor(np.array(3)),
        lambda m: m.tensor(np.zeros((2, 0))),
        lambda m: m.tensor([1 + 2j, 1]),
    ],
)
def test_tensor_inference(build):
    e = both(build)
    assert e.is_leaf


@pytest.mark.parametrize(
    "np_dtype",
    ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "bool", "complex64"],
)
@pytest.mark.parametrize("fn", ["tensor", "as_tensor", "from_numpy", "asarray"])
def test_numpy_dtypes(np_dtype, fn):
    a = (np.arange(6).reshape(2, 3) % 2 if np_dtype == "bool" else np.arange(6).reshape(2, 3)).astype(
        np_dtype
    )
    e = both(lambda m: getattr(m, fn)(a))
    assert e.dtype is getattr(ember, "bool" if np_dtype == "bool" else np_dtype)


def test_float64_numpy_stays_float64():
    assert ember.tensor(np.ones(3)).dtype is ember.float64
    assert ember.tensor(np.float64(1.0)).dtype is ember.float64
    assert ember.tensor([np.float64(1.0)]).dtype is ember.float64
    assert ember.tensor(np.ones(3), dtype=ember.float32).dtype is ember.float32
    assert ember.as_tensor(np.ones(3)).dtype is ember.float64


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.tensor(None),
        lambda m: m.tensor([1, None]),
        lambda m: m.tensor("a"),
        lambda m: m.tensor([[1, 2], [3]]),
        lambda m: m.tensor([[1], 2]),
        lambda m: m.tensor([2**63]),
        lambda m: m.tensor(2**63),
        lambda m: m.tensor([2**64]),
        lambda m: m.tensor([m.tensor([1.0, 2.0]), m.tensor([2.0, 3.0])]),
        lambda m: m.tensor([1, 2], requires_grad=True),
        lambda m: m.tensor([300], dtype=m.uint8),
        lambda m: m.tensor([-1.0], dtype=m.uint8),
        lambda m: m.tensor([1e10], dtype=m.int32),
        lambda m: m.tensor([float("nan")], dtype=m.int64),
        lambda m: m.tensor(np.ones(3, dtype=">f4")),
        lambda m: m.tensor(object()),
    ],
)
def test_tensor_errors(build):
    raises_like(build)


def test_tensor_copies():
    a = np.ones(3)
    e = ember.tensor(a)
    a[0] = 5
    assert e[0].item() == 1.0
    src = ember.ones(3)
    c = ember.tensor(src)
    c[0] = 7
    assert src[0].item() == 1.0
    lst = [1.0, 2.0]
    e = ember.tensor(lst)
    lst[0] = 9.0
    assert e.tolist() == [1.0, 2.0]


def test_as_tensor_memory():
    a = np.arange(4.0)
    e = ember.as_tensor(a)
    a[0] = 10
    assert e[0].item() == 10.0
    e[1] = 20
    assert a[1] == 20
    f = ember.as_tensor(a, dtype=ember.float64)
    a[2] = 30
    assert f[2].item() == 30
    g = ember.as_tensor(a, dtype=ember.float32)
    a[3] = 40
    assert g[3].item() == 3.0
    t = ember.ones(2)
    assert ember.as_tensor(t) is t
    assert ember.as_tensor(t, dtype=ember.float32) is t
    assert ember.as_tensor(t, dtype=ember.float64).dtype is ember.float64
    assert ember.as_tensor([1, 2]).dtype is ember.int64
    assert ember.asarray(a).data_ptr() == a.__array_interface__["data"][0]


@pytest.mark.parametrize(
    "np_dtype", ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8"]
)
def test_from_numpy_shares_both_ways(np_dtype):
    a = np.zeros((2, 3), dtype=np_dtype)
    e = ember.from_numpy(a)
    assert e.dtype is getattr(ember, np_dtype) and e.shape == (2, 3)
    a[0, 1] = 5
    assert e[0, 1].item() == 5
    e[1, 2] = 7
    assert a[1, 2] == 7
    e.add_(1)
    assert a[0, 0] == 1


def test_from_numpy_views():
    a = np.arange(12.0).reshape(3, 4)
    for v in (a.T, a[:, ::2], a[1:, 1:]):
        t, e = torch.from_numpy(v), ember.from_numpy(v)
        assert e.stride() == t.stride() and e.tolist() == t.tolist()
        assert e.is_contiguous() == t.is_contiguous()


@pytest.mark.parametrize(
    "arr",
    [
        lambda: np.array(["a"]),
        lambda: np.array([1, "a"], dtype=object),
        lambda: np.array(["2001-01-01"], dtype="datetime64[D]"),
        lambda: [1, 2],
        lambda: np.ones(3, dtype=">f4"),
    ],
)
def test_from_numpy_errors(arr):
    raises_like(lambda m: m.from_numpy(arr()))


def test_from_numpy_unsupported_dtype_is_typeerror():
    with pytest.raises(TypeError, match="can't convert np.ndarray"):
        ember.from_numpy(np.array(["a"]))
    with pytest.raises(TypeError):
        ember.from_numpy(np.ones(2, dtype=np.longdouble))


def test_frombuffer():
    buf = bytearray(b"\x01\x02\x03\x04")
    both(lambda m: m.frombuffer(bytearray(b"\x01\x02\x03\x04"), dtype=m.int8))
    both(lambda m: m.frombuffer(bytearray(b"\x01\x02\x03\x04"), dtype=m.int16))
    both(lambda m: m.frombuffer(bytearray(b"\x01\x02\x03\x04"), dtype=m.uint8, count=2, offset=1))
    e = ember.frombuffer(buf, dtype=ember.uint8)
    buf[0] = 9
    assert e[0].item() == 9


# ------------------------------------------------------------------------------------------------ zeros/ones/full/empty

SIZES = [
    ("var", lambda m: (2, 3)),
    ("tuple", lambda m: ((2, 3),)),
    ("list", lambda m: ([2, 3],)),
    ("Size", lambda m: (m.Size([2, 3]),)),
    ("scalar", lambda m: ((),)),
    ("empty", lambda m: (0,)),
    ("zero-dim-list", lambda m: ([],)),
    ("np-int", lambda m: (np.int64(3),)),
    ("tensor", lambda m: (m.tensor(3),)),
    ("one", lambda m: (4,)),
]


@pytest.mark.parametrize("fn", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("size", [s for _, s in SIZES], ids=[n for n, _ in SIZES])
@pytest.mark.parametrize("dtype", [None, "int32", "bool", "float64", "bfloat16"])
def test_zeros_ones_empty(fn, size, dtype):
    def f(m):
        kw = {} if dtype is None else {"dtype": getattr(m, dtype)}
        r = getattr(m, fn)(*size(m), **kw)
        return (r if fn != "empty" else r.shape), r.dtype, r.requires_grad, r.is_contiguous()

    assert_close(f(ember), f(torch))


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.zeros(-1),
        lambda m: m.zeros(2, -1),
        lambda m: m.zeros(2.5),
        lambda m: m.zeros(2, 3.0),
        lambda m: m.zeros((2, None)),
        lambda m: m.zeros(True),
        lambda m: m.zeros((2,), (3,)),
        lambda m: m.ones(2, dtype=m.int64, requires_grad=True),
        lambda m: m.empty(-2),
        lambda m: m.full((-1,), 2.0),
    ],
)
def test_size_errors(build):
    raises_like(build)


def test_requires_grad_factories():
    for e in (
        ember.zeros(2, requires_grad=True),
        ember.ones(2, 2, requires_grad=True),
        ember.full((2,), 1.0, requires_grad=True),
        ember.empty(3, requires_grad=True),
        ember.eye(2, requires_grad=True),
        ember.arange(3.0, requires_grad=True),
        ember.linspace(0, 1, 3, requires_grad=True),
        ember.zeros_like(ember.ones(2), requires_grad=True),
    ):
        assert e.requires_grad and e.is_leaf and e.grad_fn is None


@pytest.mark.parametrize(
    "value",
    [
        3,
        3.0,
        True,
        1j,
        -2,
        2.5,
        float("inf"),
        float("nan"),
        np.float32(2.5),
        np.float64(2.5),
        np.int8(2),
        np.int64(2),
        np.bool_(True),
    ],
)
def test_full_dtype_inference(value):
    both(lambda m: m.full((2, 2), value))
    both(lambda m: m.full((2,), m.tensor(value) if not isinstance(value, np.generic) else value))


@pytest.mark.parametrize(
    "value,dtype",
    [
        (3.7, "int32"),
        (-1, "uint8"),
        (255, "uint8"),
        (True, "float32"),
        (2, "bool"),
        (0.5, "float16"),
        (-7, "int8"),
    ],
)
def test_full_with_dtype(value, dtype):
    both(lambda m: m.full((3,), value, dtype=getattr(m, dtype)))
    both(lambda m: m.zeros(3, dtype=getattr(m, dtype)).fill_(value))


@pytest.mark.parametrize(
    "value,dtype",
    [
        (300, "uint8"),
        (-256, "uint8"),
        (-1.0, "uint8"),
        (1e10, "int32"),
        (1e39, "float32"),
        (7e4, "float16"),
        (float("nan"), "int32"),
        (float("inf"), "int64"),
        (200, "int8"),
    ],
)
def test_full_overflow(value, dtype):
    raises_like(lambda m: m.full((2,), value, dtype=getattr(m, dtype)), match="without overflow")
    raises_like(lambda m: m.zeros(2, dtype=getattr(m, dtype)).fill_(value), match="without overflow")


def test_full_errors():
    raises_like(lambda m: m.full((2,), m.ones(2)))
    raises_like(lambda m: m.full((2,), m.ones(1)))
    raises_like(lambda m: m.full((2,), "a"))
    raises_like(lambda m: m.full((2,), None))


@pytest.mark.parametrize(
    "fn", ["zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like"]
)
@pytest.mark.parametrize(
    "src",
    [
        lambda m: m.ones(2, 3),
        lambda m: m.ones(2, 3, dtype=m.float64),
        lambda m: m.ones(3, 2).t(),
        lambda m: m.ones(2, 3, 4).permute(2, 0, 1),
        lambda m: m.ones(4, 6)[:, ::2],
        lambda m: m.ones(4, 6).t()[:, ::2],
        lambda m: m.ones(3).expand(2, 3),
        lambda m: m.ones(2, 1, 3).permute(2, 1, 0),
        lambda m: m.ones(()),
        lambda m: m.ones(0, 3),
        lambda m: m.ones(2, requires_grad=True) * 2,
    ],
)
@pytest.mark.parametrize("dtype", [None, "float16"])
def test_like(fn, src, dtype):
    def f(m):
        kw = {} if dtype is None else {"dtype": getattr(m, dtype)}
        x = src(m)
        r = getattr(m, fn)(x, 2.5, **kw) if fn == "full_like" else getattr(m, fn)(x, **kw)
        value = r if fn in ("zeros_like", "ones_like", "full_like") else r.shape
        return value, r.dtype, r.stride(), r.requires_grad, r.is_contiguous()

    assert_close(f(ember), f(torch))


@pytest.mark.parametrize("fn", ["zeros_like", "ones_like", "empty_like", "full_like"])
def test_like_options(fn):
    def f(m, **kw):
        x = m.ones(3, 2, dtype=m.int32).t()
        r = getattr(m, fn)(x, 3, **kw) if fn == "full_like" else getattr(m, fn)(x, **kw)
        return r.dtype, r.stride(), r.requires_grad

    assert_close(f(ember), f(torch))
    assert_close(
        f(ember, memory_format=ember.contiguous_format), f(torch, memory_format=torch.contiguous_format)
    )
    assert_close(
        f(ember, dtype=ember.float64, requires_grad=True), f(torch, dtype=torch.float64, requires_grad=True)
    )
    raises_like(lambda m: getattr(m, fn)([1, 2], 3) if fn == "full_like" else getattr(m, fn)([1, 2]))


def test_full_like_values():
    both(lambda m: m.full_like(m.ones(2, dtype=m.int32), 2.7))
    both(lambda m: m.full_like(m.ones(2), True))
    both(lambda m: m.full_like(m.ones(2, dtype=m.uint8), -1))
    both(lambda m: m.full_like(m.ones(2), m.tensor(3.5)))
    raises_like(lambda m: m.full_like(m.ones(2, dtype=m.uint8), 300))


# ------------------------------------------------------------------------------------------------ arange

ARANGE = [
    (5,),
    (0,),
    (1, 5),
    (5, 5),
    (1, 10, 3),
    (10, 0, -3),
    (-3, 4),
    (1.0, -1.0, -0.3),
    (0, 1, 0.1),
    (-1, 1.3, 0.3),
    (0.5, 5),
    (5.0,),
    (0, 1, 1e-3),
    (-3.3, 7.7, 0.11),
    (0, 100, 0.7),
    (1e3, 1e4, 3.3),
    (0.1, 0.7, 0.1),
    (2**62, 2**62 + 10, 3),
    (0, 1e20, 1e19),
    (True,),
    (np.int64(4),),
    (np.float64(4.0),),
]


@pytest.mark.parametrize("args", ARANGE)
def test_arange(args):
    exact(lambda m: m.arange(*args))


@pytest.mark.parametrize(
    "args",
    [
        (0, 10),
        (0.5, 5),
        (-2.5, 5, 1.5),
        (0, 5, 1.5),
        (5, 0, -1.5),
        (0, 10, 2.5),
        (0, 1, 0.1),
        (-3.3, 7.7, 0.11),
        (250, 260),
        (-3, 3),
        (0, 2, 0.5),
        (0, 0.5),
        (0.2, 0.5),
        (-0.5, 2.9, 1.9),
        (-0.5, -3.9, -1.9),
        (0, 2049),
    ],
)
@pytest.mark.parametrize("dtype", FLOATS + INTS)
def test_arange_dtypes(args, dtype):
    def f(m):
        return m.arange(*args, dtype=getattr(m, dtype))

    try:
        torch_ok = f(torch) is not None
    except Exception:
        torch_ok = False
    if torch_ok:
        exact(f)
    else:
        raises_like(f)


@pytest.mark.parametrize("n", [1, 7, 8, 15, 16, 17, 31, 33, 64, 100, 257, 1000])
@pytest.mark.parametrize("dtype", FLOATS)
def test_arange_float_lengths(n, dtype):
    """Every length hits a different split between torch's vectorised body and its serial tail."""
    exact(lambda m: m.arange(-1.3, -1.3 + 0.37 * n - 0.1, 0.37, dtype=getattr(m, dtype)))


@pytest.mark.parametrize(
    "args,kw",
    [
        ((5, 0), {}),
        ((0, 5, 0), {}),
        ((0, 5, -1), {}),
        ((0, float("inf")), {}),
        ((float("nan"),), {}),
        (("a",), {}),
        ((0, 2), {"dtype": "bool"}),
        ((0, 2, 0.5), {"dtype": "int64"}),
        ((0.5, 0.7, -1), {"dtype": "int64"}),
    ],
)
def test_arange_errors(args, kw):
    raises_like(lambda m: m.arange(*args, **{k: getattr(m, v) for k, v in kw.items()}))


def test_arange_tensor_bounds():
    exact(lambda m: m.arange(m.tensor(5)))
    exact(lambda m: m.arange(m.tensor(2.5)))
    exact(lambda m: m.arange(m.tensor(1), m.tensor(7), m.tensor(2)))


# ------------------------------------------------------------------------------------------------ linspace / logspace

LIN = [
    (0, 1, 5),
    (0, 1, 0),
    (0, 1, 1),
    (-3, 7, 2),
    (3, -1, 9),
    (-1, 1, 1001),
    (0.1, 0.9, 17),
    (-5.3, 10.7, 33),
    (1e-3, 1e3, 50),
    (2, 2, 4),
    (1, 0, 100),
]


@pytest.mark.parametrize("args", LIN)
@pytest.mark.parametrize("dtype", [None] + FLOATS + ["int64", "int32", "int16", "int8"])
def test_linspace(args, dtype):
    def f(m):
        kw = {} if dtype is None else {"dtype": getattr(m, dtype)}
        return m.linspace(*args, **kw)

    if dtype in ("int8",) and max(abs(args[0]), abs(args[1])) > 127:
        raises_like(f)
        return
    exact(f)


@pytest.mark.parametrize(
    "args", [(0, 2, 5), (0, 3, 0), (1, 3, 1), (-2, 2, 9), (0, 3, 4), (3, -1, 17), (0.5, 2.5, 33)]
)
@pytest.mark.parametrize("base", [10.0, 2.0, 3.3, 0.5])
@pytest.mark.parametrize("dtype", [None, "float64", "float16", "bfloat16", "int64", "int32"])
def test_logspace(args, base, dtype):
    def f(m):
        kw = {} if dtype is None else {"dtype": getattr(m, dtype)}
        return m.logspace(*args, base=base, **kw)

    exact(f)


def test_linspace_logspace_misc():
    exact(lambda m: m.linspace(0, 10, 4, dtype=m.uint8))
    exact(lambda m: m.linspace(m.tensor(0.0), m.tensor(1.0), 3))
    exact(lambda m: m.linspace(0, 1, np.int64(3)))
    exact(lambda m: m.linspace(0, 1, m.tensor(3)))
    exact(lambda m: m.linspace(1 + 1j, 2, 3))
    exact(lambda m: m.logspace(0, 1, 3, base=-2))
    exact(lambda m: m.logspace(-5, 20, 6, dtype=m.int32))
    exact(lambda m: m.logspace(0, 3, 4, base=2, dtype=m.int16))


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.linspace(0, 1, -1),
        lambda m: m.logspace(0, 1, -1),
        lambda m: m.linspace(0, 1, 3.0),
        lambda m: m.linspace(0, 1),
        lambda m: m.linspace(0, 1, 3, dtype=m.bool),
        lambda m: m.linspace(-5.3, 10, 4, dtype=m.uint8),
        lambda m: m.linspace(0, 300, 4, dtype=m.int8),
        lambda m: m.linspace(0, 1e10, 4, dtype=m.int32),
        lambda m: m.logspace(-5.3, 2, 4, dtype=m.uint8),
        lambda m: m.linspace(m.ones(2), 1, 3),
    ],
)
def test_range_errors(build):
    raises_like(build)


# ------------------------------------------------------------------------------------------------ eye / tri indices


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2), (0,), (3, 0), (1, 1)])
@pytest.mark.parametrize("dtype", [None, "int64", "bool", "float64"])
def test_eye(args, dtype):
    both(lambda m: m.eye(*args, **({} if dtype is None else {"dtype": getattr(m, dtype)})))


@pytest.mark.parametrize("build", [lambda m: m.eye(-1), lambda m: m.eye(2, -1), lambda m: m.eye(2.5)])
def test_eye_errors(build):
    raises_like(build)


@pytest.mark.parametrize("fn", ["tril_indices", "triu_indices"])
@pytest.mark.parametrize(
    "args", [(3, 3), (4, 3, 1), (4, 5, -2), (3, 5, 10), (3, 5, -10), (0, 0), (1, 4), (5, 1, 2), (4, 4, -1)]
)
def test_tri_indices(fn, args):
    both(lambda m: getattr(m, fn)(*args))
    both(lambda m: getattr(m, fn)(*args, dtype=m.int32))


@pytest.mark.parametrize("fn", ["tril_indices", "triu_indices"])
@pytest.mark.parametrize(
    "build",
    [
        lambda m, f: f(-1, 3),
        lambda m, f: f(3, -1),
        lambda m, f: f(3, 3, dtype=m.float32),
        lambda m, f: f(3, 3, dtype=m.int16),
    ],
)
def test_tri_indices_errors(fn, build):
    raises_like(lambda m: build(m, getattr(m, fn)))


# ------------------------------------------------------------------------------------------------ default dtype


@pytest.mark.parametrize("default", ["float64", "float32"])
@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.tensor([1.5, 2.0]),
        lambda m: m.tensor(1.5),
        lambda m: m.tensor([1, 2]),
        lambda m: m.tensor([1j]),
        lambda m: m.tensor([np.float32(1.0)]),
        lambda m: m.zeros(2),
        lambda m: m.ones(2),
        lambda m: m.empty(2).dtype,
        lambda m: m.full((2,), 1.5),
        lambda m: m.full((2,), 1),
        lambda m: m.arange(3.0),
        lambda m: m.arange(0, 1, 0.1),
        lambda m: m.arange(3),
        lambda m: m.linspace(0, 1, 5),
        lambda m: m.logspace(0, 1, 5),
        lambda m: m.eye(2),
        lambda m: m.rand(2).dtype,
        lambda m: m.randn(2).dtype,
        lambda m: m.Tensor([1, 2]),
        lambda m: m.ones(2, dtype=m.int64) * 1.5,
        lambda m: m.scalar_tensor(3),
    ],
)
def test_default_dtype(default, build):
    ember.set_default_dtype(getattr(ember, default))
    torch.set_default_dtype(getattr(torch, default))
    assert ember.get_default_dtype() is getattr(ember, default)
    both(build)


def test_set_default_dtype_rejects_ints():
    raises_like(lambda m: m.set_default_dtype(m.int64))


# ------------------------------------------------------------------------------------------------ legacy constructor


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.Tensor(2, 3).shape,
        lambda m: m.Tensor(2).dtype,
        lambda m: m.Tensor([1, 2]),
        lambda m: m.Tensor([[1.5], [2]]),
        lambda m: m.Tensor([True]),
        lambda m: m.Tensor(),
        lambda m: m.Tensor(m.Size([2, 3])).shape,
        lambda m: m.Tensor((2, 3)),
        lambda m: m.Tensor(np.array([1, 2], dtype=np.int64)),
        lambda m: m.Tensor(m.tensor([1, 2])),
        lambda m: m.Tensor(0).shape,
    ],
)
def test_legacy_constructor(build):
    both(build)


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.Tensor(2.5),
        lambda m: m.Tensor(-1),
        lambda m: m.Tensor(2, 3.0),
        lambda m: m.Tensor([[1, 2]], dtype=m.float64),
    ],
)
def test_legacy_constructor_errors(build):
    raises_like(build)


def test_legacy_constructor_identity():
    x = ember.tensor([1, 2])
    assert ember.Tensor(x).data_ptr() == x.data_ptr()
    assert isinstance(ember.Tensor(2), ember.Tensor)


# ------------------------------------------------------------------------------------------------ scalar_tensor, finfo, iinfo


@pytest.mark.parametrize("value", [3, 2.5, True, -1])
@pytest.mark.parametrize("dtype", [None, "int32", "float64"])
def test_scalar_tensor(value, dtype):
    both(lambda m: m.scalar_tensor(value, **({} if dtype is None else {"dtype": getattr(m, dtype)})))


@pytest.mark.parametrize("name", FLOATS)
@pytest.mark.parametrize("attr", ["bits", "eps", "max", "min", "tiny", "smallest_normal", "dtype"])
def test_finfo(name, attr):
    assert getattr(ember.finfo(getattr(ember, name)), attr) == getattr(
        torch.finfo(getattr(torch, name)), attr
    )


def test_finfo_float64_resolution():
    assert ember.finfo(ember.float64).resolution == torch.finfo(torch.float64).resolution


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32"])
def test_finfo_resolution(name):
    assert ember.finfo(getattr(ember, name)).resolution == torch.finfo(getattr(torch, name)).resolution


def test_finfo_default_and_errors():
    assert ember.finfo().bits == torch.finfo().bits
    assert ember.finfo().dtype == torch.finfo().dtype
    raises_like(lambda m: m.finfo(m.int32))


@pytest.mark.parametrize("name", INTS)
def test_iinfo(name):
    e, t = ember.iinfo(getattr(ember, name)), torch.iinfo(getattr(torch, name))
    assert (e.bits, e.max, e.min, e.dtype) == (t.bits, t.max, t.min, t.dtype)


def test_iinfo_float_errors():
    raises_like(lambda m: m.iinfo(m.float32))


def test_iinfo_bool_errors():
    raises_like(lambda m: m.iinfo(m.bool))


@pytest.mark.parametrize("value", [1.7, 0.1, 1e-30, 123456789.123, -2.5e300])
def test_python_float_keeps_float64_precision(value):
    assert ember.tensor(value, dtype=ember.float64).item() == torch.tensor(value, dtype=torch.float64).item()
    assert (
        ember.tensor([value], dtype=ember.float64).tolist()
        == torch.tensor([value], dtype=torch.float64).tolist()
    )
    assert ember.full((1,), value, dtype=ember.float64).item() == value


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.tensor(1 + 2j, dtype=m.float64),
        lambda m: m.tensor([1 + 2j], dtype=m.float32),
        lambda m: m.tensor([1j], dtype=m.int32),
    ],
)
def test_complex_into_real_dtype_errors(build):
    raises_like(build)


def test_tensor_from_tensor_casts_without_range_check():
    both(lambda m: m.tensor(m.tensor([300.0, -1.0]), dtype=m.uint8))
    both(lambda m: m.tensor(m.tensor([1.5, 2.5]), dtype=m.int64))


@pytest.mark.parametrize("fn", ["linspace", "logspace"])
@pytest.mark.parametrize("start", [-1, 0.7, -3, 2])
@pytest.mark.parametrize("dtype", ["uint8", "int32", "float16", "float64"])
def test_single_step_ranges(fn, start, dtype):
    exact(lambda m: getattr(m, fn)(start, 5, 1, dtype=getattr(m, dtype)))


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
def test_size_keyword(name):
    """torch.zeros(size=(2, 3)) works too (not only the positional forms)."""
    e = getattr(ember, name)(size=(2, 3), dtype=ember.float64)
    t = getattr(torch, name)(size=(2, 3), dtype=torch.float64)
    assert tuple(e.shape) == tuple(t.shape) == (2, 3) and e.dtype is ember.float64
    if name != "empty":
        assert e.tolist() == t.tolist()

"""Printing: repr/str of ember tensors equal torch's with 'torch.' replaced by 'ember.'."""

import numpy as np
import pytest
import torch

import ember

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def _reset_printoptions():
    yield
    ember.set_printoptions(profile="default")
    ember.set_printoptions(sci_mode=None)
    torch.set_printoptions(profile="default")
    torch.set_printoptions(sci_mode=None)


def same_repr(build):
    t, e = build(torch), build(ember)
    want = repr(t).replace("torch.", "ember.")
    if e.device.type == "cuda":  # EMBER_TEST_DEVICE=cuda: compare the data formatting on a CPU copy
        assert f"device='{e.device}'" in repr(e)
        assert repr(e.detach().cpu()) == repr(t.detach()).replace("torch.", "ember.")
        return repr(e)
    assert repr(e) == want
    assert str(e) == str(t).replace("torch.", "ember.")
    return repr(e)


def _from_np(m, a, dtype):
    dt = getattr(m, dtype)
    if dtype == "bfloat16":
        return m.tensor(np.asarray(a, dtype=np.float32)).to(dt)
    return m.tensor(a, dtype=dt)


HAND = {
    "scalar": lambda m: m.tensor(3.5),
    "scalar_int_valued": lambda m: m.tensor(2.0),
    "scalar_neg_small": lambda m: m.tensor(-1e-5),
    "scalar_big": lambda m: m.tensor(1e10),
    "scalar_nan": lambda m: m.tensor(float("nan")),
    "scalar_inf": lambda m: m.tensor(-float("inf")),
    "scalar_zero": lambda m: m.tensor(0.0),
    "scalar_neg_zero": lambda m: m.tensor(-0.0),
    "scalar_int": lambda m: m.tensor(3),
    "scalar_int_neg": lambda m: m.tensor(-42),
    "scalar_bool": lambda m: m.tensor(True),
    "scalar_i32": lambda m: m.tensor(3, dtype=m.int32),
    "scalar_f64": lambda m: m.tensor(3.25, dtype=m.float64),
    "scalar_f16": lambda m: m.tensor(1.5, dtype=m.float16),
    "scalar_bf16": lambda m: m.tensor(1.5, dtype=m.bfloat16),
    "ints": lambda m: m.tensor([1, -2, 300]),
    "ints_wide": lambda m: m.arange(100) * 12345,
    "int_valued_floats": lambda m: m.tensor([1.0, 2.0, -3.0]),
    "mixed": lambda m: m.tensor([1.5, 2.0, -3.25]),
    "sci_ratio": lambda m: m.tensor([1e-5, 1.0, 1000.0]),
    "sci_big": lambda m: m.tensor([1e9, 1.0]),
    "sci_small": lambda m: m.tensor([1e-5, 2e-5]),
    "sci_int_valued": lambda m: m.tensor([1e20, 1.0]),
    "int_valued_large": lambda m: m.tensor([123456789.0, 1.0]),
    "threshold_1e8": lambda m: m.tensor([1e8, 1.0]),
    "ratio_1000": lambda m: m.tensor([1000.0, 1.0, 0.5]),
    "negatives": lambda m: m.tensor([-1.5, -2.25, -100.125]),
    "neg_zero": lambda m: m.tensor([-0.0, 0.0, 1.5]),
    "nan_inf": lambda m: m.tensor([float("nan"), 1.0, float("inf"), -float("inf")]),
    "nan_int_valued": lambda m: m.tensor([float("nan"), 1.0, 2.0]),
    "nan_mixed": lambda m: m.tensor([float("nan"), 1.5, 2.0]),
    "all_nan": lambda m: m.tensor([float("nan"), float("nan")]),
    "all_inf": lambda m: m.tensor([float("inf"), -float("inf")]),
    "zeros": lambda m: m.zeros(3),
    "zeros2d": lambda m: m.zeros(2, 3),
    "bools": lambda m: m.tensor([True, False, True]),
    "bools2d": lambda m: m.tensor([[True], [False]]),
    "f64": lambda m: m.tensor([1.5, 2.0], dtype=m.float64),
    "f64_precise": lambda m: m.tensor([1 / 3, 2 / 3], dtype=m.float64),
    "bf16": lambda m: m.tensor([1.5, 2.0, 3.3], dtype=m.bfloat16),
    "f16": lambda m: m.tensor([1.5, 2.1, -65504.0], dtype=m.float16),
    "i32": lambda m: m.tensor([1, 2], dtype=m.int32),
    "i16": lambda m: m.tensor([-1, 2], dtype=m.int16),
    "i8": lambda m: m.tensor([-128, 127], dtype=m.int8),
    "u8": lambda m: m.tensor([0, 255], dtype=m.uint8),
    "c64": lambda m: m.tensor([1 + 2j, 3 - 1j]),
    "c64_mixed": lambda m: m.tensor([1.5 + 2j, -3.25 - 1e-5j, 0j]),
    "c128": lambda m: m.tensor([1 + 2j], dtype=m.complex128),
    "c64_scalar": lambda m: m.tensor(1 - 2.5j),
    "c64_2d": lambda m: m.tensor([[1 + 2j, 3.5 - 1j], [0j, -1j]]),
    "2d": lambda m: m.arange(12.0).reshape(3, 4) / 7,
    "3d": lambda m: m.arange(24.0).reshape(2, 3, 4) / 7,
    "4d": lambda m: m.arange(16.0).reshape(2, 2, 2, 2) - 8,
    "2d_ints": lambda m: m.arange(12).reshape(3, 4) - 6,
    "3d_bool": lambda m: m.arange(8).reshape(2, 2, 2) > 3,
    "noncontig": lambda m: (m.arange(12.0).reshape(3, 4) / 3).t(),
    "empty": lambda m: m.zeros(0),
    "empty2d": lambda m: m.zeros(2, 0),
    "empty3d": lambda m: m.zeros(0, 2, 3),
    "empty_int": lambda m: m.zeros(2, 0, dtype=m.int64),
    "empty_int1d": lambda m: m.zeros(0, dtype=m.int64),
    "empty_f64": lambda m: m.zeros(0, dtype=m.float64),
    "empty_bool": lambda m: m.zeros(0, dtype=m.bool),
    "empty_rg": lambda m: m.zeros(0, requires_grad=True),
    "large1d": lambda m: m.arange(2000.0) / 3,
    "large1d_int": lambda m: m.arange(1001),
    "exactly_1000": lambda m: m.arange(1000.0),
    "large2d": lambda m: m.arange(4000.0).reshape(40, 100) / 3,
    "large3d": lambda m: m.arange(4000).reshape(10, 20, 20),
    "large_tall": lambda m: m.arange(3000.0).reshape(1000, 3),
    "large_sci": lambda m: (m.arange(2000.0) + 1) ** 3,
    "large_c64": lambda m: m.arange(1200.0).to(m.complex64) * (1 + 1j),
    "wide_row": lambda m: m.arange(30.0).reshape(1, 30) * 1.123,
    "wide1d": lambda m: m.arange(100.0) * 1.1,
    "requires_grad": lambda m: m.ones(2, requires_grad=True),
    "requires_grad_scalar": lambda m: m.tensor(2.5, requires_grad=True),
    "requires_grad_f64": lambda m: m.ones(2, dtype=m.float64, requires_grad=True),
    "grad_fn_mul": lambda m: m.ones(2, requires_grad=True) * 2,
    "grad_fn_sum": lambda m: m.ones(2, requires_grad=True).sum(),
    "grad_fn_add": lambda m: m.ones(2, 3, requires_grad=True) + 1,
    "grad_fn_f64": lambda m: m.ones(2, dtype=m.float64, requires_grad=True) * 3,
    "grad_fn_long_line": lambda m: m.arange(10.0, requires_grad=True) * 1.1234567,
    "grad_fn_wide": lambda m: m.arange(16.0, requires_grad=True).reshape(2, 8) * 1e5,
    "detached": lambda m: (m.ones(2, requires_grad=True) * 2).detach(),
    "long_suffix_wrap": lambda m: m.arange(12.0, dtype=m.float64, requires_grad=True) * 1.123456,
}


@pytest.mark.parametrize("name", list(HAND))
def test_hand_picked(name):
    same_repr(HAND[name])


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_random_floats(seed, dtype):
    g = np.random.default_rng(seed)
    nd = int(g.integers(0, 4))
    shape = tuple(int(s) for s in g.integers(1, 6, size=nd))
    scale = 10.0 ** int(g.integers(-7, 10 if dtype not in ("float16",) else 4))
    kind = seed % 6
    a = g.standard_normal(shape) * scale
    if kind == 1:
        a = np.round(a)
    elif kind == 2 and a.size:
        a.reshape(-1)[0] = np.nan
    elif kind == 3 and a.size:
        a.reshape(-1)[-1] = np.inf
    elif kind == 4:
        a = np.abs(a)
    elif kind == 5 and a.size:
        a.reshape(-1)[: a.size // 2] = 0.0
    same_repr(lambda m: _from_np(m, a, dtype))


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "uint8", "bool"])
def test_random_ints(seed, dtype):
    g = np.random.default_rng(100 + seed)
    shape = tuple(int(s) for s in g.integers(1, 5, size=int(g.integers(0, 4))))
    hi = {"int64": 10**12, "int32": 2**31 - 1, "int16": 30000, "uint8": 255, "bool": 2}[dtype]
    lo = 0 if dtype in ("uint8", "bool") else -hi
    a = g.integers(lo, hi, size=shape)
    same_repr(lambda m: m.tensor(a).to(getattr(m, dtype)))


@pytest.mark.parametrize("seed", range(10))
def test_random_large(seed):
    g = np.random.default_rng(200 + seed)
    shape = [(1001,), (50, 30), (3, 40, 10), (2000, 1), (7, 7, 7, 7)][seed % 5]
    a = g.standard_normal(shape) * 10.0 ** int(g.integers(-3, 6))
    same_repr(lambda m: m.tensor(a, dtype=m.float32))


@pytest.mark.parametrize(
    "opts",
    [
        {"precision": 2},
        {"precision": 8},
        {"precision": 0},
        {"sci_mode": True},
        {"sci_mode": False},
        {"precision": 2, "sci_mode": True},
        {"threshold": 5},
        {"threshold": 5, "edgeitems": 1},
        {"threshold": 5, "edgeitems": 0},
        {"linewidth": 40},
        {"linewidth": 200},
        {"profile": "full"},
        {"profile": "short"},
    ],
)
@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.tensor([1.123456789, 2.0, 1e-6]),
        lambda m: m.tensor([1.0, 2.0]),
        lambda m: m.arange(20.0).reshape(4, 5) / 3,
        lambda m: m.tensor(3.14159265),
        lambda m: m.tensor([1e10, 1.0]),
        lambda m: m.arange(30) * 1000,
        lambda m: m.arange(2000.0) / 7,
        lambda m: m.tensor([1.5 + 0.25j, -2j]),
    ],
)
def test_printoptions(opts, build):
    ember.set_printoptions(**opts)
    torch.set_printoptions(**opts)
    same_repr(build)


def test_printoptions_context_manager():
    x = [1.23456789, 2.5]
    with ember.printoptions(precision=2, sci_mode=True):
        assert repr(ember.tensor(x)) == "tensor([1.23e+00, 2.50e+00])"
        assert ember.get_printoptions()["precision"] == 2
    assert repr(ember.tensor(x)) == repr(torch.tensor(x))
    assert ember.get_printoptions() == torch._tensor_str.get_printoptions()
    with ember.printoptions(threshold=3, edgeitems=1):
        assert repr(ember.arange(10)) == "tensor([0,  ..., 9])"  # two spaces, as torch
    assert repr(ember.arange(10)) == repr(torch.arange(10))


def test_printoptions_restore_after_error():
    with pytest.raises(ValueError), ember.printoptions(precision=1):
        raise ValueError
    assert ember.get_printoptions()["precision"] == 4


def test_set_printoptions_state():
    ember.set_printoptions(precision=3, linewidth=60)
    torch.set_printoptions(precision=3, linewidth=60)
    assert ember.get_printoptions() == torch._tensor_str.get_printoptions()
    ember.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")
    assert ember.get_printoptions() == torch._tensor_str.get_printoptions()


@pytest.mark.parametrize("default", ["float64"])
@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.tensor([1.5, 2.0]),
        lambda m: m.tensor([1.5, 2.0], dtype=m.float32),
        lambda m: m.zeros(0),
        lambda m: m.zeros(0, dtype=m.float32),
        lambda m: m.tensor([1j]),
        lambda m: m.tensor([1j], dtype=m.complex64),
    ],
)
def test_default_dtype_suffix(default, build):
    ember.set_default_dtype(getattr(ember, default))
    torch.set_default_dtype(getattr(torch, default))
    same_repr(build)


def test_format_of_size_and_device_and_dtype():
    assert repr(ember.Size([2, 3])) == repr(torch.Size([2, 3])).replace("torch.", "ember.")
    assert repr(ember.float16) == "ember.float16" and str(ember.int64) == "ember.int64"
    assert repr(ember.device("cpu")) == repr(torch.device("cpu"))

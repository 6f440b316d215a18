"""dtypes and type promotion against torch's table."""

import itertools

import pytest
import torch

import ember
from tests.helpers import assert_close

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


def _mk(mod, name, zero_dim):
    dt = getattr(mod, name)
    return mod.ones((), dtype=dt) if zero_dim else mod.ones(2, dtype=dt)


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
def test_promote_types_matches_torch(a, b):
    assert (
        str(ember.promote_types(getattr(ember, a), getattr(ember, b))).split(".")[-1]
        == str(torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[-1]
    )


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
@pytest.mark.parametrize("zero_a,zero_b", [(False, False), (False, True), (True, False), (True, True)])
def test_add_result_dtype_dim_priority(a, b, zero_a, zero_b):
    """0-d tensors only matter when their category is higher (torch's result_type rules)."""
    te = _mk(torch, a, zero_a) * _mk(torch, b, zero_b)
    ee = _mk(ember, a, zero_a) * _mk(ember, b, zero_b)
    assert_close(ee, te)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scalar", [True, 3, 2.5])
def test_tensor_with_python_scalar(name, scalar):
    t = torch.ones(3, dtype=getattr(torch, name)) * scalar
    e = ember.ones(3, dtype=getattr(ember, name)) * scalar
    assert_close(e, t)


@pytest.mark.parametrize("name", NAMES)
def test_true_divide_and_floor_divide(name):
    for op in (lambda m, x: x / 2, lambda m, x: x // 2, lambda m, x: m.div(x, 2, rounding_mode="trunc")):
        if name == "bool":
            continue
        t = op(torch, torch.arange(-3, 4).to(getattr(torch, name)))
        e = op(ember, ember.arange(-3, 4).to(getattr(ember, name)))
        assert_close(e, t)


def test_default_dtype_switch():
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    assert_close(ember.tensor([1.5]) * 2, torch.tensor([1.5]) * 2)
    assert_close(ember.arange(3) * 1.5, torch.arange(3) * 1.5)
    assert ember.get_default_dtype() is ember.float64
    with pytest.raises(TypeError):
        ember.set_default_dtype(ember.int64)


def test_aliases_and_info():
    assert ember.long is ember.int64 and ember.float is ember.float32 and ember.half is ember.float16
    assert ember.double is ember.float64
    for name in ["float16", "bfloat16", "float32", "float64"]:
        fe, ft = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
        assert (fe.eps, fe.max, fe.min, fe.tiny, fe.bits) == (ft.eps, ft.max, ft.min, ft.tiny, ft.bits)
    for name in ["uint8", "int8", "int16", "int32", "int64"]:
        ie, it = ember.iinfo(getattr(ember, name)), torch.iinfo(getattr(torch, name))
        assert (ie.max, ie.min, ie.bits) == (it.max, it.min, it.bits)
    with pytest.raises(TypeError):
        ember.finfo(ember.int32)


def test_half_reductions_accumulate_in_float32():
    assert (
        ember.ones(100_000, dtype=ember.bfloat16).sum().item()
        == torch.ones(100_000, dtype=torch.bfloat16).sum().item()
    )
    assert_close(ember.ones(5000, dtype=ember.float16).mean(), torch.ones(5000, dtype=torch.float16).mean())


def test_ops_return_tensors_not_numpy_scalars():
    x = ember.tensor([1.0, 2.0])
    for r in (x.sum(), x[0], x.max(), x.mean(), (x * 2)[1], ember.tensor(2.0).exp()):
        assert isinstance(r, ember.Tensor) and r.dim() == 0 and type(r._data).__name__ == "ndarray"


def test_inplace_cannot_downcast_category():
    with pytest.raises(RuntimeError, match="can't be cast"):
        ember.ones(2, dtype=ember.int64).add_(1.5)
    with pytest.raises(RuntimeError):
        torch.ones(2, dtype=torch.int64).add_(1.5)

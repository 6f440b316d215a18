"""ember/backend/cuda_elementwise.binary_op: add/sub/mul/truediv by one cached kernel launch (the host-time
path of the arithmetic ops on CUDA). Bit-exact against float32 arithmetic rounded once to the array's dtype
(NaN/inf/subnormals, odd sizes, unaligned views, a Python number on either side); everything it does not take
(broadcasting, strides, mixed dtypes, integers, empty arrays) gives CuPy's result; and through ember's
operators against torch on the GPU."""

from __future__ import annotations

import operator

import ml_dtypes
import numpy as np
import pytest

from tests.gpu.bits import float_values, same_bits

pytestmark = pytest.mark.cuda

DT = {
    "float32": np.dtype(np.float32),
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
}
OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv}


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-42, 3.0e38, 65000.0, 1.00390625]


def _values(rng, n):
    return float_values(rng, n, 4, SPECIAL)


def _ref(name, x, y, dt):
    """x op y in float32, rounded once to dt (x, y: arrays of dt or Python numbers)."""
    f = OPS[name]
    xf = x.astype(np.float32) if isinstance(x, np.ndarray) else np.float32(x)
    yf = y.astype(np.float32) if isinstance(y, np.ndarray) else np.float32(y)
    with np.errstate(all="ignore"):
        return np.asarray(f(xf, yf)).astype(dt)


def _fn(name):
    from ember.backend.cuda_elementwise import binary_op

    return binary_op(name, OPS[name])


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("dtype", list(DT))
@pytest.mark.parametrize("n", [1, 7, 8, 9, 1000, 65541])
def test_array_op_array_bit_exact(name, dtype, n):
    import cupy

    rng = np.random.default_rng(n)
    x = _values(rng, n).astype(DT[dtype])
    y = rng.permutation(_values(rng, n)).astype(DT[dtype])
    got = _fn(name)(cupy.asarray(x), cupy.asarray(y)).get()
    same_bits(got, _ref(name, x, y, DT[dtype]))


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("dtype", list(DT))
@pytest.mark.parametrize("scalar", [0.1, -3, 2.5e-8, 0.0, 1e30])
def test_scalar_on_either_side_bit_exact(name, dtype, scalar):
    import cupy

    x = _values(np.random.default_rng(3), 1003).reshape(17, 59).astype(DT[dtype])
    fn = _fn(name)
    d = cupy.asarray(x)
    same_bits(fn(d, scalar).get(), _ref(name, x, scalar, DT[dtype]))
    same_bits(fn(scalar, d).get(), _ref(name, scalar, x, DT[dtype]))


def test_unaligned_views_and_shapes():
    import cupy

    fn = _fn("mul")
    x = _values(np.random.default_rng(5), 4099).astype(DT["bfloat16"])
    y = _values(np.random.default_rng(6), 4099).astype(DT["bfloat16"])
    dx, dy = cupy.asarray(x), cupy.asarray(y)
    same_bits(fn(dx[1:], dy[:-1]).get(), _ref("mul", x[1:], y[:-1], DT["bfloat16"]))  # offset by 2 bytes
    same_bits(fn(dx[3:], 0.75).get(), _ref("mul", x[3:], 0.75, DT["bfloat16"]))
    a, b = dx[:4096].reshape(2, 32, 64), dy[:4096].reshape(2, 32, 64)
    same_bits(fn(a, b).get(), _ref("mul", x[:4096], y[:4096], DT["bfloat16"]).reshape(2, 32, 64))
    z = cupy.asarray(np.float32(2.0))  # 0-d
    assert fn(z, z).shape == () and float(fn(z, z)) == 4.0


@pytest.mark.parametrize(
    "case",
    [
        "broadcast",
        "strided",
        "mixed_dtype",
        "int",
        "empty",
        "float64",
        "bool_scalar",
        "huge_scalar",
        "nan_scalar",
    ],
)
def test_what_it_does_not_take_gives_cupys_result(case):
    import cupy

    rng = np.random.default_rng(7)
    a = cupy.asarray(rng.standard_normal((6, 8)).astype(np.float32))
    b = {
        "broadcast": lambda: cupy.asarray(rng.standard_normal(8).astype(np.float32)),
        "strided": lambda: cupy.asarray(rng.standard_normal((8, 6)).astype(np.float32)).T,
        "mixed_dtype": lambda: cupy.asarray(rng.standard_normal((6, 8)).astype(np.float16)),
        "int": lambda: cupy.arange(48).reshape(6, 8),
        "empty": lambda: None,
        "float64": lambda: cupy.asarray(rng.standard_normal((6, 8))),
        "bool_scalar": lambda: True,
        "huge_scalar": lambda: 1e300,
        "nan_scalar": lambda: float("nan"),
    }[case]()
    if case == "empty":
        a = b = cupy.zeros((0, 3), dtype=np.float32)
    if case in ("int", "float64"):
        a = b.copy() + 1
    for name, f in OPS.items():
        got, want = _fn(name)(a, b), f(a, b)
        assert got.dtype == want.dtype and got.shape == want.shape, (name, case)
        np.testing.assert_array_equal(cupy.asnumpy(got), cupy.asnumpy(want))


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_ember_operators_match_torch(dtype):
    import torch

    import ember

    rng = np.random.default_rng(11)
    x = rng.standard_normal((33, 65)).astype(np.float32)
    y = rng.standard_normal((33, 65)).astype(np.float32) + 3.0
    tx, ty = (torch.tensor(v, device="cuda").to(getattr(torch, dtype)) for v in (x, y))
    ex, ey = (ember.tensor(v, device="cuda").to(getattr(ember, dtype)) for v in (x, y))
    exact = {
        "x + y": (ex + ey, tx + ty),
        "x - y": (ex - ey, tx - ty),
        "x * y": (ex * ey, tx * ty),
        "x / y": (ex / ey, tx / ty),
        "x * 0.3": (ex * 0.3, tx * 0.3),
        "x + 2": (ex + 2, tx + 2),
        "1.5 - x": (1.5 - ex, 1.5 - tx),
    }
    for label, (e, t) in exact.items():
        assert e.dtype == getattr(ember, dtype) and tuple(e.shape) == tuple(t.shape), label
        np.testing.assert_array_equal(e.float().cpu().numpy(), t.float().cpu().numpy(), err_msg=label)
    # torch divides by a Python number through its reciprocal (and 1 / x through reciprocal(x)): one ulp apart
    tol = {"float32": 1e-6, "float16": 1e-3, "bfloat16": 8e-3}[dtype]
    for label, (e, t) in {"x / 7.0": (ex / 7.0, tx / 7.0), "2 / y": (2 / ey, 2 / ty)}.items():
        np.testing.assert_allclose(e.float().cpu().numpy(), t.float().cpu().numpy(), rtol=tol, err_msg=label)


def test_ember_autograd_through_the_kernel_matches_torch():
    import torch

    import ember

    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((2, 129)).astype(np.float32)
    tx, ty = (torch.tensor(v, device="cuda", requires_grad=True) for v in (x, y))
    ex, ey = (ember.tensor(v, device="cuda", requires_grad=True) for v in (x, y))
    ((tx * ty + tx) / (ty * ty + 1.0) - 0.5 * tx).sum().backward()
    ((ex * ey + ex) / (ey * ey + 1.0) - 0.5 * ex).sum().backward()
    np.testing.assert_allclose(ex.grad.cpu().numpy(), tx.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ey.grad.cpu().numpy(), ty.grad.cpu().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("da,db", [("float32", "bfloat16"), ("float16", "float32"), ("bfloat16", "float16")])
@pytest.mark.parametrize("n", [7, 4099])
def test_mixed_float_operands_give_float32(name, da, db, n):
    import cupy

    rng = np.random.default_rng(n)
    x = _values(rng, n).astype(DT[da])
    y = rng.permutation(_values(rng, n)).astype(DT[db])
    fn = _fn(name)
    want = _ref(name, x.astype(np.float32), y.astype(np.float32), np.float32)
    same_bits(fn(cupy.asarray(x), cupy.asarray(y)).get(), want)
    # shapes that broadcast take CuPy's ufunc on float32 casts: the same values, except that CuPy compiles its
    # kernels with -ftz=true, so subnormal operands and results are flushed to zero there
    got = fn(cupy.asarray(x).reshape(1, n), cupy.asarray(y).reshape(n, 1)[:3]).get()
    xf, yf = (_ftz(v.astype(np.float32)) for v in (x, y))
    want = _ftz(_ref(name, xf.reshape(1, n), yf.reshape(n, 1)[:3], np.float32))
    same_bits(got, want)


def _ftz(v):
    """float32 subnormals replaced by zeros of their sign (CUDA's flush-to-zero)."""
    tiny = np.abs(v) < np.finfo(np.float32).tiny
    return np.where(tiny & (v != 0), np.copysign(np.float32(0), v), v).astype(np.float32)


def test_ember_mixed_add_matches_torch_without_a_cast():
    """float32 + bfloat16 on CUDA (the residual add under autocast) is one kernel, bit-exact with torch, and
    the bfloat16 operand's gradient comes back in bfloat16."""
    import torch

    import ember

    rng = np.random.default_rng(13)
    x, y, w = rng.standard_normal((3, 8, 257)).astype(np.float32)
    tx = torch.tensor(x, device="cuda", requires_grad=True)
    ty = torch.tensor(y, device="cuda").bfloat16().requires_grad_()
    ex = ember.tensor(x, device="cuda", requires_grad=True)
    ey = ember.tensor(y, device="cuda").bfloat16().requires_grad_()
    tr, er = tx + ty, ex + ey
    assert er.dtype == ember.float32 and er.grad_fn.name() == "AddBackward0"
    assert "ToCopy" not in er.grad_fn.next_functions[1][0].name()  # ey's own node: no cast between
    np.testing.assert_array_equal(er.detach().cpu().numpy(), tr.detach().cpu().numpy())
    (tr * torch.tensor(w, device="cuda")).sum().backward()
    (er * ember.tensor(w, device="cuda")).sum().backward()
    assert ey.grad.dtype == ember.bfloat16
    np.testing.assert_array_equal(ey.grad.float().cpu().numpy(), ty.grad.float().cpu().numpy())
    np.testing.assert_array_equal(ex.grad.cpu().numpy(), tx.grad.cpu().numpy())

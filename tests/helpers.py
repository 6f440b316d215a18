"""Parity helpers: run the same code on ember and on torch with identical inputs and compare.

    parity(lambda t, x, y: t.add(x, y, alpha=2), rand(3, 4), rand(4))

The lambda gets the module (``ember`` or ``torch``) first, then the inputs built from the specs. Values,
dtypes and shapes of every output are compared; then gradients of every floating input that requires grad
are compared against a random cotangent (never ``out.sum()``) with separate tolerances. Random data comes
from a generator seeded by the running test's id, so a failure reproduces.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
import torch

import ember

# ------------------------------------------------------------------------------------------------ specs

_TOL = {  # (rtol, atol) for forward values, per dtype name
    "float64": (1e-7, 1e-9),
    "float32": (1e-5, 1e-5),
    "float16": (2e-3, 2e-3),
    "bfloat16": (1.6e-2, 1e-2),
    "complex64": (1e-5, 1e-5),
    "complex128": (1e-7, 1e-9),
}
_GRAD_TOL = {
    "float64": (1e-6, 1e-8),
    "float32": (1e-4, 1e-5),
    "float16": (1e-2, 1e-2),
    "bfloat16": (6e-2, 5e-2),
}


def rng() -> np.random.Generator:
    """A generator seeded by the current test's node id (stable across runs)."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "no-test").split(" ")[0]
    seed = int.from_bytes(hashlib.sha256(test.encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


class Spec:
    """How to build one input: the NumPy data plus dtype, requires_grad and an optional view transform."""

    def __init__(self, data: np.ndarray, dtype: str, requires_grad: bool, view=None):
        self.data = data
        self.dtype = dtype
        self.requires_grad = requires_grad
        self.view = view  # callable applied to the built tensor (same on both sides), e.g. a transpose

    def build(self, mod, device=None):
        dt = getattr(mod, self.dtype)
        if dt in (mod.bfloat16,):
            base = mod.tensor(self.data.astype(np.float32), dtype=dt)
        else:
            base = mod.tensor(self.data, dtype=dt)
        if device is not None:
            base = base.to(device)
        if self.requires_grad:
            base.requires_grad_(True)
        t = self.view(base) if self.view is not None else base
        return base, t


_RNG_STATE: dict = {}


def _gen():
    test = os.environ.get("PYTEST_CURRENT_TEST", "no-test")
    g = _RNG_STATE.get(test)
    if g is None:
        _RNG_STATE.clear()
        g = _RNG_STATE[test] = rng()
    return g


def rand(
    *shape, dtype="float32", low=-2.0, high=2.0, requires_grad=True, noncontig=False, kinks=None
) -> Spec:
    """Uniform floats in [low, high). noncontig=True hands the op a transposed (non-contiguous) view.
    kinks: values (e.g. 0 for relu) written into a few positions, to test the kinks exactly."""
    g = _gen()
    shape = tuple(shape)
    view = None
    if noncontig and len(shape) >= 2:
        shape = shape[:-2] + (shape[-1], shape[-2])
        view = _transpose_last
    data = g.uniform(low, high, size=shape).astype(np.float64)
    if kinks is not None and data.size:
        flat = data.reshape(-1)
        k = min(len(kinks) * 2, flat.size)
        pos = g.choice(flat.size, size=k, replace=False)
        for i, p in enumerate(pos):
            flat[p] = kinks[i % len(kinks)]
    return Spec(data, dtype, requires_grad and "float" in dtype, view)


def randn(*shape, dtype="float32", requires_grad=True, noncontig=False, scale=1.0) -> Spec:
    g = _gen()
    shape = tuple(shape)
    view = None
    if noncontig and len(shape) >= 2:
        shape = shape[:-2] + (shape[-1], shape[-2])
        view = _transpose_last
    return Spec(g.standard_normal(shape) * scale, dtype, requires_grad and "float" in dtype, view)


def positive(*shape, dtype="float32", low=0.1, high=3.0, requires_grad=True, noncontig=False) -> Spec:
    return rand(*shape, dtype=dtype, low=low, high=high, requires_grad=requires_grad, noncontig=noncontig)


def ints(*shape, low=-5, high=6, dtype="int64") -> Spec:
    return Spec(_gen().integers(low, high, size=tuple(shape)), dtype, False)


def bools(*shape, p=0.5) -> Spec:
    return Spec(_gen().random(tuple(shape)) < p, "bool", False)


def vals(data, dtype="float32", requires_grad=None) -> Spec:
    """Exact values (e.g. ties, NaN, inf, zeros)."""
    arr = np.asarray(data, dtype=np.float64 if "float" in dtype else None)
    rg = ("float" in dtype) if requires_grad is None else requires_grad
    return Spec(arr, dtype, rg)


def _transpose_last(t):
    return t.transpose(-1, -2)


# ------------------------------------------------------------------------------------------------ comparison


def _dtype_name(t) -> str:
    return str(t.dtype).split(".")[-1]


def _to_np(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.cpu().numpy()
    a = np.asarray(t.detach().cpu()._data)
    if a.dtype == ember.bfloat16.np:
        a = a.astype(np.float32)
    return a


def assert_close(e, t, rtol=None, atol=None, what="output", check_dtype=True):
    """Compare an ember result with a torch result (tensors, nested tuples, numbers)."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), f"{what}: expected a Tensor, got {type(e).__name__}"
        assert tuple(e.shape) == tuple(t.shape), f"{what}: shape {tuple(e.shape)} != torch {tuple(t.shape)}"
        if check_dtype:
            assert _dtype_name(e) == _dtype_name(t), f"{what}: dtype {e.dtype} != torch {t.dtype}"
        name = _dtype_name(t)
        r0, a0 = _TOL.get(name, (0, 0))
        ea, ta = _to_np(e), _to_np(t)
        if ta.dtype.kind in "biu":
            np.testing.assert_array_equal(ea, ta, err_msg=what)
        else:
            np.testing.assert_allclose(
                ea.astype(np.float64),
                ta.astype(np.float64),
                rtol=r0 if rtol is None else rtol,
                atol=a0 if atol is None else atol,
                equal_nan=True,
                err_msg=what,
            )
        return
    if isinstance(t, (tuple, list)):
        assert isinstance(e, (tuple, list)), f"{what}: expected a sequence, got {type(e).__name__}"
        assert len(e) == len(t), f"{what}: length {len(e)} != torch {len(t)}"
        for i, (ei, ti) in enumerate(zip(e, t)):
            assert_close(ei, ti, rtol, atol, f"{what}[{i}]", check_dtype)
        return
    if isinstance(t, float) and math.isnan(t):
        assert isinstance(e, float) and math.isnan(e), f"{what}: {e} != nan"
        return
    if isinstance(t, (bool, int, float, str, type(None))):
        if isinstance(t, float):
            assert math.isclose(e, t, rel_tol=rtol or 1e-6, abs_tol=atol or 1e-9), f"{what}: {e} != {t}"
        else:
            assert e == t, f"{what}: {e!r} != torch {t!r}"
        assert type(e) is type(t), f"{what}: type {type(e).__name__} != torch {type(t).__name__}"
        return
    if isinstance(t, torch.Size):
        assert tuple(e) == tuple(t), f"{what}: {e} != {t}"
        return
    if isinstance(t, torch.dtype):
        assert str(e).split(".")[-1] == str(t).split(".")[-1], f"{what}: {e} != {t}"
        return
    raise AssertionError(f"{what}: don't know how to compare {type(t).__name__}")


def _flat_tensors(x):
    if isinstance(x, (torch.Tensor, ember.Tensor)):
        return [x]
    if isinstance(x, (tuple, list)):
        return [t for item in x for t in _flat_tensors(item)]
    return []


def parity(
    fn,
    *specs,
    grad=True,
    rtol=None,
    atol=None,
    grad_rtol=None,
    grad_atol=None,
    check_dtype=True,
    kwargs=None,
    torch_fn=None,
):
    """Run fn(module, *inputs) on ember and torch; compare outputs, then gradients for a random cotangent.

    Returns the ember output (for extra assertions)."""
    kwargs = kwargs or {}
    e_leaves, e_inputs, t_leaves, t_inputs = [], [], [], []
    for s in specs:
        if isinstance(s, Spec):
            eb, ei = s.build(ember)
            tb, ti = s.build(torch)
            e_leaves.append(eb if s.requires_grad else None)
            t_leaves.append(tb if s.requires_grad else None)
            e_inputs.append(ei)
            t_inputs.append(ti)
        else:
            e_inputs.append(s)
            t_inputs.append(s)
    t_out = (torch_fn or fn)(torch, *t_inputs, **kwargs)
    e_out = fn(ember, *e_inputs, **kwargs)
    assert_close(e_out, t_out, rtol, atol, "forward", check_dtype)
    if not grad:
        return e_out
    e_outs, t_outs = _flat_tensors(e_out), _flat_tensors(t_out)
    pairs = [(eo, to) for eo, to in zip(e_outs, t_outs) if to.requires_grad and to.dtype.is_floating_point]
    e_req = [x for x in e_leaves if x is not None]
    t_req = [x for x in t_leaves if x is not None]
    if not pairs or not t_req:
        return e_out
    g = _gen()
    cots = [g.standard_normal(tuple(to.shape)) for _, to in pairs]
    t_cots = [torch.tensor(c, dtype=to.dtype) for c, (_, to) in zip(cots, pairs)]
    e_cots = [
        ember.tensor(c.astype(np.float32) if "bfloat" in str(to.dtype) else c, dtype=eo.dtype)
        for c, (eo, to) in zip(cots, pairs)
    ]
    t_grads = torch.autograd.grad([to for _, to in pairs], t_req, t_cots, allow_unused=True)
    for eo, _ in pairs:
        assert eo.requires_grad, "forward: ember output does not require grad but torch's does"
    e_grads = ember.autograd.grad([eo for eo, _ in pairs], e_req, e_cots, allow_unused=True)
    for i, (eg, tg, leaf) in enumerate(zip(e_grads, t_grads, t_req)):
        name = _dtype_name(leaf)
        r0, a0 = _GRAD_TOL.get(name, (1e-4, 1e-5))
        if tg is None:
            tg = torch.zeros_like(leaf)
        if eg is None:
            eg = ember.zeros(tuple(leaf.shape), dtype=getattr(ember, name))
        assert_close(
            eg,
            tg,
            r0 if grad_rtol is None else grad_rtol,
            a0 if grad_atol is None else grad_atol,
            f"grad of input {i}",
        )
    return e_out


def raises_like(fn, *specs, match=None, kwargs=None):
    """fn must raise on torch; ember must raise the same exception type (and mention `match` if given)."""
    import pytest

    kwargs = kwargs or {}
    t_inputs = [s.build(torch)[1] if isinstance(s, Spec) else s for s in specs]
    e_inputs = [s.build(ember)[1] if isinstance(s, Spec) else s for s in specs]
    with pytest.raises(Exception) as t_exc:
        fn(torch, *t_inputs, **kwargs)
    with pytest.raises(Exception) as e_exc:
        fn(ember, *e_inputs, **kwargs)
    assert issubclass(e_exc.type, t_exc.type) or issubclass(t_exc.type, e_exc.type), (
        f"ember raised {e_exc.type.__name__}({e_exc.value}) where torch raised {t_exc.type.__name__}({t_exc.value})"
    )
    if match is not None:
        assert match in str(e_exc.value), f"ember's message {str(e_exc.value)!r} does not mention {match!r}"
    return e_exc.value


def gradcheck_fn(fn, *specs, **kw):
    """ember.autograd.gradcheck (and gradgradcheck) in float64 on fn(ember, *inputs)."""
    inputs = []
    for s in specs:
        if isinstance(s, Spec):
            s64 = Spec(s.data, "float64" if "float" in s.dtype else s.dtype, s.requires_grad, s.view)
            inputs.append(s64.build(ember)[1] if s.view is None else s64.build(ember)[0])
        else:
            inputs.append(s)
    f = lambda *xs: fn(ember, *xs)  # noqa: E731
    assert ember.autograd.gradcheck(f, tuple(inputs), **kw)
    return inputs

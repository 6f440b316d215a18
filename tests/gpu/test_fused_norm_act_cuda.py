"""The fused CUDA kernels for layer_norm / rms_norm (backend/cuda_norm.py) and gelu / silu
(backend/cuda_activation.py) against a float64 reference (torch on the CPU, same rounded inputs), forward and
backward with a random cotangent, float32 / bfloat16 / float16; against ember's unfused composition; and
checks that the fused path was the one taken."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.backend import cuda_activation, cuda_norm
from ember.nn.functional import normalization as N
from ember.ops import activation as A
from tests.gpu.counting import count_calls

pytestmark = pytest.mark.cuda

DTYPES = ["float32", "bfloat16", "float16"]
TOL = {"float32": 1e-5, "bfloat16": 1e-2, "float16": 2e-3}


@pytest.fixture(autouse=True)
def _fused_on(monkeypatch):
    """The tests run the fused kernels whatever EMBER_CUDA_FUSED_NORM / EMBER_CUDA_FUSED_ACT say."""
    monkeypatch.setattr(N._Norm, "fused_cuda", True)
    monkeypatch.setattr(A.Gelu, "fused_cuda", True)
    monkeypatch.setattr(A.Silu, "fused_cuda", True)


@pytest.fixture
def norm_calls(monkeypatch):
    names = ["norm_rows_forward", "norm_rows_backward"]
    return count_calls(monkeypatch, cuda_norm, **{n: n for n in names})


@pytest.fixture
def act_calls(monkeypatch):
    names = ["gelu_forward", "gelu_backward", "silu_forward", "silu_backward"]
    return count_calls(monkeypatch, cuda_activation, **{n: n for n in names})


def _rel(a, b, floor: float = 0.0) -> float:
    """||a - b|| / max(||b||, floor); a must be finite wherever b is."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.isfinite(a[np.isfinite(b)]).all(), "non-finite values where the reference is finite"
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), floor, 1e-30))


def _seed(*key) -> int:
    return zlib.crc32(repr(key).encode())


def _np(t) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def _pair(rng, shape, dtype, scale=1.0, shift=0.0):
    """(torch float64 leaf, ember CUDA leaf of `dtype`) holding the same values, rounded to `dtype` once."""
    t = torch.tensor(rng.standard_normal(shape) * scale + shift).to(getattr(torch, dtype))
    e = ember.tensor(t.float().numpy(), device="cuda").to(getattr(ember, dtype))
    return t.double().requires_grad_(), e.requires_grad_()


# ------------------------------------------------------------------------------------ layer_norm / rms_norm

NORM_SHAPES = [  # (input shape, normalized dims)
    ((3, 7), 1),
    ((1, 1), 1),
    ((0, 16), 1),
    ((16, 768), 1),
    ((5, 4097), 1),
    ((2, 3, 1024), 1),
    ((4, 65536), 1),
    ((1000, 96), 1),  # many rows: grad_weight over several row chunks
    ((33,), 1),  # one row
    ((2, 4, 5, 6), 2),  # two normalized dims
    ((3, 8193), 1),  # just past the register-cached kernels
]


def _norm_case(kind, affine, shape, k, dtype, pdtype=None):
    rng = np.random.default_rng(_seed(kind, affine, shape, dtype, pdtype))
    pdtype = pdtype or dtype
    ns = shape[len(shape) - k :]
    tx, ex = _pair(rng, shape, dtype, 2.0, 0.5)
    tw = ew = tb = eb = None
    if affine in ("weight", "both"):
        tw, ew = _pair(rng, ns, pdtype, 0.5, 1.0)
    if affine == "both":
        tb, eb = _pair(rng, ns, pdtype, 0.5)
    tg = torch.tensor(rng.standard_normal(shape)).to(getattr(torch, dtype))
    eg = ember.tensor(tg.float().numpy(), device="cuda").to(getattr(ember, dtype))
    if kind == "layer":
        ref = torch.nn.functional.layer_norm(tx, ns, tw, tb, 1e-5)
        out = F.layer_norm(ex, ns, ew, eb, 1e-5)
    else:
        ref = torch.nn.functional.rms_norm(tx, ns, tw, 1e-6)
        out = F.rms_norm(ex, ns, ew, 1e-6)
    ref.backward(tg.double())
    out.backward(eg)
    return (tx, tw, tb, ref, tg), (ex, ew, eb, out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k", NORM_SHAPES)
@pytest.mark.parametrize(
    "kind,affine",
    [("layer", "none"), ("layer", "weight"), ("layer", "both"), ("rms", "none"), ("rms", "weight")],
)
def test_norm_matches_torch(kind, affine, shape, k, dtype, norm_calls):
    (tx, tw, tb, ref, tg), (ex, ew, eb, out) = _norm_case(kind, affine, shape, k, dtype)
    assert out.dtype is getattr(ember, dtype) and tuple(out.shape) == tuple(ref.shape)
    assert norm_calls["norm_rows_forward"] == 1
    if out.numel():
        assert norm_calls["norm_rows_backward"] == 1
    tol = TOL[dtype]
    n = int(np.prod(shape[len(shape) - k :]))
    # n == 1: the gradients are differences of nearly equal numbers (tiny), measured against the cotangent
    floor = float(np.linalg.norm(tg.double().numpy())) if n == 1 else 0.0
    assert _rel(_np(out), ref.detach().numpy()) < tol
    assert ex.grad.dtype is ex.dtype
    assert _rel(_np(ex.grad), tx.grad.numpy(), floor) < 2 * tol
    for e, t in ((ew, tw), (eb, tb)):
        if e is not None:
            assert e.grad.dtype is e.dtype and tuple(e.grad.shape) == tuple(t.shape)
            assert _rel(_np(e.grad), t.grad.numpy(), floor) < 2 * tol


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("kind", ["layer", "rms"])
def test_norm_half_input_float32_parameters(kind, dtype, norm_calls):
    affine = "both" if kind == "layer" else "weight"
    (tx, tw, tb, ref, _), (ex, ew, eb, out) = _norm_case(kind, affine, (6, 300), 1, dtype, "float32")
    assert out.dtype is getattr(ember, dtype)
    assert norm_calls == {"norm_rows_forward": 1, "norm_rows_backward": 1}
    assert _rel(_np(out), ref.detach().numpy()) < TOL[dtype]
    assert _rel(_np(ex.grad), tx.grad.numpy()) < 2 * TOL[dtype]
    assert ew.grad.dtype is ember.float32 and _rel(_np(ew.grad), tw.grad.numpy()) < 1e-4
    if eb is not None:
        assert eb.grad.dtype is ember.float32 and _rel(_np(eb.grad), tb.grad.numpy()) < 1e-4


@pytest.mark.parametrize("shape", [(3, 7), (16, 768), (5, 4097), (1000, 96), (2, 65536)])
@pytest.mark.parametrize("kind", ["layer", "rms"])
def test_norm_fused_matches_composition(kind, shape, norm_calls):
    """float32: the fused kernels against ember's own unfused composition on the GPU."""
    rng = np.random.default_rng(shape[-1])
    n = shape[-1]
    x = ember.tensor((rng.standard_normal(shape) * 3 + 1).astype(np.float32), device="cuda")
    w = ember.tensor(rng.standard_normal(n).astype(np.float32), device="cuda")
    b = ember.tensor(rng.standard_normal(n).astype(np.float32), device="cuda")
    g = ember.tensor(rng.standard_normal(shape).astype(np.float32), device="cuda")
    res = []
    for fused in (True, False):
        xs, ws, bs = (t.detach().requires_grad_() for t in (x, w, b))
        if fused:
            out = F.layer_norm(xs, (n,), ws, bs) if kind == "layer" else F.rms_norm(xs, (n,), ws, 1e-6)
        elif kind == "layer":
            out = N._layer_norm_reference(xs, (n,), ws, bs)
        else:
            out = N._norm_reference(
                xs, ws, None, tuple(shape), (len(shape) - 1,), (1,) * (len(shape) - 1) + (n,), 1e-6, False
            )
        out.backward(g)
        res.append([_np(out), _np(xs.grad), _np(ws.grad)] + ([_np(bs.grad)] if kind == "layer" else []))
    assert norm_calls == {"norm_rows_forward": 1, "norm_rows_backward": 1}
    for a, r in zip(*res):
        assert _rel(a, r) < 1e-5


def test_norm_switch_off_uses_composition(monkeypatch, norm_calls):
    """With _Norm.fused_cuda off nothing reaches the kernels, and the results agree with the fused ones."""
    rng = np.random.default_rng(1)
    xa = rng.standard_normal((8, 256)).astype(np.float32)
    ga = rng.standard_normal((8, 256)).astype(np.float32)
    outs = []
    for on in (True, False):
        monkeypatch.setattr(N._Norm, "fused_cuda", on)
        m = ember.nn.LayerNorm(256).to("cuda")
        x = ember.tensor(xa, device="cuda").requires_grad_()
        y = m(x)
        y.backward(ember.tensor(ga, device="cuda"))
        outs.append((_np(y), _np(x.grad), _np(m.weight.grad), _np(m.bias.grad)))
    assert norm_calls == {"norm_rows_forward": 1, "norm_rows_backward": 1}
    for a, r in zip(*outs):
        assert _rel(a, r) < 1e-5


def test_norm_non_contiguous_input_and_gradient(norm_calls):
    rng = np.random.default_rng(2)
    base = rng.standard_normal((64, 12)).astype(np.float32)
    gt = rng.standard_normal((12, 64))
    tx = torch.tensor(base, dtype=torch.float64).t().requires_grad_()
    ref = torch.nn.functional.layer_norm(tx, (64,))
    ref.backward(torch.tensor(gt))
    ex0 = ember.tensor(base, device="cuda").requires_grad_()
    ex = ex0.t()  # (12, 64), not contiguous
    out = F.layer_norm(ex, (64,))
    out.backward(ember.tensor(gt.T.astype(np.float32), device="cuda").t())
    assert norm_calls["norm_rows_forward"] == 1 and norm_calls["norm_rows_backward"] == 1
    assert _rel(_np(out), ref.detach().numpy()) < 1e-5
    assert _rel(_np(ex0.grad), tx.grad.t().numpy()) < 1e-5


def test_norm_double_backward_through_composition():
    """create_graph: the backward is the composition (exact second derivatives), the forward still fused."""
    rng = np.random.default_rng(3)
    xa = rng.standard_normal((4, 50))
    wa = rng.standard_normal(50)
    tx = torch.tensor(xa, requires_grad=True)
    tw = torch.tensor(wa, requires_grad=True)
    ex = ember.tensor(xa.astype(np.float32), device="cuda").requires_grad_()
    ew = ember.tensor(wa.astype(np.float32), device="cuda").requires_grad_()
    (tgx,) = torch.autograd.grad(
        (torch.nn.functional.layer_norm(tx, (50,), tw) ** 2).sum(), tx, create_graph=True
    )
    (tgx * tgx).sum().backward()
    (egx,) = ember.autograd.grad((F.layer_norm(ex, (50,), ew) ** 2).sum(), ex, create_graph=True)
    (egx * egx).sum().backward()
    assert _rel(_np(egx), tgx.detach().numpy()) < 1e-4
    assert _rel(_np(ex.grad), tx.grad.numpy()) < 1e-4
    assert _rel(_np(ew.grad), tw.grad.numpy()) < 1e-4


def test_norm_kernel_statistics():
    """The wrapper's (mean, var, rstd) outputs directly, and rows == 0."""
    import cupy

    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 130)).astype(np.float32) * 5 + 3
    y, mean, var, rstd = cuda_norm.norm_rows_forward(cupy.asarray(x), None, None, 1e-5, True)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean.get(), x64.mean(1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var.get(), x64.var(1), rtol=1e-5)
    np.testing.assert_allclose(rstd.get(), 1 / np.sqrt(x64.var(1) + 1e-5), rtol=1e-5)
    y, mean, var, rstd = cuda_norm.norm_rows_forward(cupy.asarray(x), None, None, 1e-6, False)
    assert mean is None
    np.testing.assert_allclose(var.get(), (x64**2).mean(1), rtol=1e-5)
    e = cupy.empty((0, 5), dtype=np.float32)
    y, mean, var, rstd = cuda_norm.norm_rows_forward(e, None, None, 1e-5, True)
    assert y.shape == (0, 5) and mean.shape == var.shape == rstd.shape == (0,)
    gx, gw, gb = cuda_norm.norm_rows_backward(
        e, e, cupy.ones(5, np.float32), mean, rstd, True, True, True, True
    )
    assert gx.shape == (0, 5) and float(abs(gw).sum()) == 0.0 and float(abs(gb).sum()) == 0.0


# ----------------------------------------------------------------------------------------- gelu / silu

ACTS = {
    "gelu_tanh": (
        lambda t: torch.nn.functional.gelu(t, approximate="tanh"),
        lambda e: F.gelu(e, approximate="tanh"),
        "gelu",
    ),
    "gelu": (torch.nn.functional.gelu, F.gelu, "gelu"),
    "silu": (torch.nn.functional.silu, F.silu, "silu"),
}
ACT_SHAPES = [(), (0,), (1,), (7,), (3, 1000), (2, 3, 1029), (4097,), (1, 1 << 20)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ACT_SHAPES)
@pytest.mark.parametrize("name", list(ACTS))
def test_act_matches_torch(name, shape, dtype, act_calls):
    tf, ef, kern = ACTS[name]
    rng = np.random.default_rng(_seed(name, shape, dtype))
    tx, ex = _pair(rng, shape, dtype, 3.0)
    tg = torch.tensor(rng.standard_normal(shape)).to(getattr(torch, dtype))
    ref = tf(tx)
    ref.backward(tg.double())
    out = ef(ex)
    assert out.dtype is ex.dtype and tuple(out.shape) == tuple(ref.shape)
    out.backward(ember.tensor(tg.float().numpy(), device="cuda").to(ex.dtype))
    assert act_calls[f"{kern}_forward"] == 1 and act_calls[f"{kern}_backward"] == 1
    assert ex.grad.dtype is ex.dtype
    tol = TOL[dtype]
    assert _rel(_np(out), ref.detach().numpy()) < tol
    assert _rel(_np(ex.grad), tx.grad.numpy()) < 2 * tol


EDGE = [0.0, -0.0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 3.0, -3.0, 5.0, -5.0, 10.0, -10.0, 30.0, -30.0]
EDGE += [88.0, -88.0, 100.0, -100.0, 1e4, -1e4, 6e4, -6e4, 1e20, -1e20, 3e38, -3e38]
EDGE += [float("inf"), float("-inf"), float("nan")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTS))
def test_act_edge_values(name, dtype):
    """Kinks and extremes: finite (and close) wherever torch's float64 result is finite; NaN forward exactly
    where torch's is."""
    tf, ef, _ = ACTS[name]
    tdt = getattr(torch, dtype)
    xt = torch.tensor(EDGE, dtype=torch.float64).to(tdt)
    g = torch.tensor(np.linspace(-2, 2, len(EDGE))).to(tdt)
    tx = xt.double().requires_grad_()
    ref = tf(tx)
    ref.backward(g.double())
    ex = ember.tensor(xt.float().numpy(), device="cuda").to(getattr(ember, dtype)).requires_grad_()
    out = ef(ex)
    out.backward(ember.tensor(g.float().numpy(), device="cuda").to(ex.dtype))
    y, r = _np(out).astype(np.float64), ref.detach().numpy()
    gx, rg = _np(ex.grad).astype(np.float64), tx.grad.numpy()
    rtol = TOL[dtype] * 2
    atol = 1e-6 if dtype == "float32" else 1e-3
    fin = np.isfinite(r)
    assert np.array_equal(np.isnan(y), np.isnan(r)), (xt, y, r)
    # a float32 result may overflow where the float64 one is huge but finite (x ~ 3e38)
    big = np.abs(r) > float(torch.finfo(tdt).max)
    np.testing.assert_allclose(y[fin & ~big], r[fin & ~big], rtol=rtol, atol=atol)
    fing = np.isfinite(rg)
    assert np.isfinite(gx[fing]).all(), (xt[fing], gx[fing], rg[fing])
    np.testing.assert_allclose(gx[fing], rg[fing], rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", list(ACTS))
def test_act_fused_matches_composition_and_switch(name, monkeypatch, act_calls):
    """The fused kernels against the unfused CuPy path (switch off), float32 and bfloat16."""
    _, ef, kern = ACTS[name]
    cls = A.Silu if kern == "silu" else A.Gelu
    rng = np.random.default_rng(9)
    xa = (rng.standard_normal((37, 301)) * 3).astype(np.float32)
    ga = rng.standard_normal((37, 301)).astype(np.float32)
    for dt in (ember.float32, ember.bfloat16):
        res = []
        for on in (True, False):
            monkeypatch.setattr(cls, "fused_cuda", on)
            x = ember.tensor(xa, device="cuda").to(dt).requires_grad_()
            y = ef(x)
            y.backward(ember.tensor(ga, device="cuda").to(dt))
            assert y.dtype is dt and x.grad.dtype is dt
            res.append((_np(y), _np(x.grad)))
        for a, r in zip(*res):
            assert _rel(a, r) < (1e-5 if dt is ember.float32 else 1e-2)
    assert act_calls[f"{kern}_forward"] == 2 and act_calls[f"{kern}_backward"] == 2


@pytest.mark.parametrize("name", list(ACTS))
def test_act_non_contiguous_and_broadcast_gradient(name, act_calls):
    tf, ef, kern = ACTS[name]
    rng = np.random.default_rng(10)
    base = rng.standard_normal((50, 30)) * 2
    tx = torch.tensor(base).t().requires_grad_()
    row = rng.standard_normal((1, 50))
    ref = tf(tx)
    ref.backward(torch.tensor(row).expand(30, 50))
    ex0 = ember.tensor(base.astype(np.float32), device="cuda").requires_grad_()
    out = ef(ex0.t())
    out.backward(ember.tensor(row.astype(np.float32), device="cuda").expand(30, 50))
    assert act_calls[f"{kern}_forward"] == 1 and act_calls[f"{kern}_backward"] == 1
    assert _rel(_np(out), ref.detach().numpy()) < 1e-5
    assert _rel(_np(ex0.grad), tx.grad.t().numpy()) < 1e-5


@pytest.mark.parametrize("name", list(ACTS))
def test_act_double_backward(name, monkeypatch):
    """create_graph after a fused forward: the backward is composed from ember ops (in float32 for half),
    against torch in float64 on the same (rounded) inputs, in float32 and in bfloat16.

    NOTE: the unfused half-precision path is not the reference here: it saves its float32 upcast of x as a
    constant, so its second derivative misses the term through x (13% off in this test, on the CPU too)."""
    tf, ef, kern = ACTS[name]
    rng = np.random.default_rng(11)
    tx, ex = _pair(rng, (40,), "float32", 2.0)
    (tg,) = torch.autograd.grad(tf(tx).pow(2).sum(), tx, create_graph=True)
    (tg * tg).sum().backward()
    (eg,) = ember.autograd.grad(ef(ex).pow(2).sum(), ex, create_graph=True)
    (eg * eg).sum().backward()
    assert _rel(_np(eg), tg.detach().numpy()) < 1e-4
    assert _rel(_np(ex.grad), tx.grad.numpy()) < 1e-4
    monkeypatch.setattr(A.Silu if kern == "silu" else A.Gelu, "fused_cuda", True)
    xb = ex.detach().to(ember.bfloat16).requires_grad_()
    (eg,) = ember.autograd.grad(ef(xb).float().pow(2).sum(), xb, create_graph=True)
    (eg.float() * eg.float()).sum().backward()
    tb = torch.tensor(_np(xb.detach())).double().requires_grad_()
    (tg,) = torch.autograd.grad(tf(tb).pow(2).sum(), tb, create_graph=True)
    (tg * tg).sum().backward()
    assert _rel(_np(eg), tg.detach().numpy()) < 2e-2
    assert _rel(_np(xb.grad), tb.grad.numpy()) < 3e-2


def test_act_module_and_no_grad(act_calls):
    """nn.GELU / nn.SiLU and calls under no_grad take the kernels too (forward only)."""
    x = ember.tensor(np.linspace(-4, 4, 101, dtype=np.float32), device="cuda")
    with ember.no_grad():
        a = ember.nn.GELU(approximate="tanh")(x)
        b = ember.nn.SiLU()(x)
    t = torch.tensor(np.linspace(-4, 4, 101, dtype=np.float32), dtype=torch.float64)
    assert _rel(_np(a), torch.nn.functional.gelu(t, approximate="tanh").numpy()) < 1e-5
    assert _rel(_np(b), torch.nn.functional.silu(t).numpy()) < 1e-5
    assert act_calls["gelu_forward"] == 1 and act_calls["silu_forward"] == 1

"""ember.amp.GradScaler against torch.amp.GradScaler("cpu"): training runs with injected inf/NaN grads (params,
scale, growth tracker, skipped steps), growth, update(new_scale=), unscale_ + clipping, state_dict/pickle,
closures, several optimizers, disabled scalers, error messages, and the one host read per step."""

from __future__ import annotations

import os
import pickle
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.amp
from ember.amp import OptState

DEV = os.environ.get("EMBER_TEST_DEVICE", "cpu")  # ember's device; torch (the oracle) stays on the CPU
INF, NAN = float("inf"), float("nan")


# ---------------------------------------------------------------------------------------------- helpers
def _np(t):
    """A tensor of either library as a float64 NumPy array."""
    t = t.detach()
    if isinstance(t, torch.Tensor):
        return t.double().numpy()
    return t.double().cpu().numpy()


def _models(sizes=(4, 5, 6, 3), seed=0):
    """The same MLP (len(sizes)-1 Linear layers with Tanh between) in torch and in ember."""
    torch.manual_seed(seed)
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    tm = torch.nn.Sequential(*layers)
    em = ember.nn.Sequential(
        *[
            ember.nn.Tanh()
            if isinstance(m, torch.nn.Tanh)
            else ember.nn.Linear(m.in_features, m.out_features)
            for m in tm
        ]
    )
    with ember.no_grad():
        for ep, tp in zip(em.parameters(), tm.parameters()):
            ep.copy_(ember.tensor(tp.detach().numpy()))
    return tm, em


def _opt(lib, params, kind):
    if kind == "sgd":
        return lib.optim.SGD(params, lr=0.1, momentum=0.9)
    if kind == "adam":
        return lib.optim.Adam(params, lr=0.01)
    return lib.optim.SGD(params, lr=0.05)


def _scaler(lib, **kw):
    return lib.amp.GradScaler(DEV if lib is ember else "cpu", **kw)


def _data(n, seed=1, shape=(8, 4)):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def _count_steps(opt):
    calls = []
    opt.register_step_post_hook(lambda *a: calls.append(1))
    return calls


def _train(lib, model, opt, scaler, xs, inject=None, clip=None):
    """One scaled step per input; `inject` maps step -> (param index, value) written into that grad after
    backward. Returns per-step (scale, growth tracker, stepped?) and the params after each step."""
    inject = inject or {}
    calls = _count_steps(opt)
    params = list(model.parameters())
    trace, snaps = [], []
    for i, x in enumerate(xs):
        opt.zero_grad()
        loss = (model(lib.tensor(x)) ** 2).mean()
        scaler.scale(loss).backward()
        if i in inject:
            k, v = inject[i]
            with lib.no_grad():
                params[k].grad.view(-1)[0] = v
        if clip is not None:
            scaler.unscale_(opt)
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        before = len(calls)
        scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), scaler._get_growth_tracker(), len(calls) > before))
        snaps.append([_np(p) for p in params])
    return trace, snaps


def _assert_same(e, t, rtol=1e-5, atol=1e-6):
    (etrace, esnaps), (ttrace, tsnaps) = e, t
    assert etrace == ttrace
    for es, ts in zip(esnaps, tsnaps):
        for a, b in zip(es, ts):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def _run_both(kind="sgd", scaler_kw=None, steps=10, inject=None, clip=None, sizes=(4, 5, 6, 3)):
    tm, em = _models(sizes)
    xs = _data(steps, shape=(8, sizes[0]))
    out = []
    for lib, m in ((ember, em), (torch, tm)):
        out.append(
            _train(
                lib, m, _opt(lib, m.parameters(), kind), _scaler(lib, **(scaler_kw or {})), xs, inject, clip
            )
        )
    return out


# ---------------------------------------------------------------------------------------------- training parity
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_training_with_injected_nonfinite_grads_matches_torch(kind):
    inject = {1: (0, INF), 2: (3, NAN), 6: (5, -INF), 7: (2, INF)}
    e, t = _run_both(kind, {"init_scale": 1024.0, "growth_interval": 3}, steps=12, inject=inject)
    _assert_same(e, t)
    skipped = [i for i, (_, _, stepped) in enumerate(e[0]) if not stepped]
    assert skipped == [1, 2, 6, 7]
    assert [s for s, _, _ in e[0]][:3] == [1024.0, 512.0, 256.0]


def test_overflowing_scale_calibrates_like_torch():
    """Grads s*c overflow float32 for s >= 2**125 (c up to 8): three skipped steps, then training resumes."""
    c = np.array([1.0, 2.0, 4.0, 8.0], dtype=np.float32)
    res = []
    for lib in (ember, torch):
        p = lib.zeros(4, requires_grad=True)
        opt = lib.optim.SGD([p], lr=2.0**-20)
        scaler = _scaler(lib, init_scale=2.0**127, growth_interval=2)
        calls = _count_steps(opt)
        trace = []
        for _ in range(8):
            opt.zero_grad()
            scaler.scale((p * lib.tensor(c)).sum()).backward()
            scaler.step(opt)
            scaler.update()
            trace.append((scaler.get_scale(), scaler._get_growth_tracker(), len(calls), _np(p).tolist()))
        res.append(trace)
    assert res[0] == res[1]
    assert [s for s, *_ in res[0]][:4] == [2.0**126, 2.0**125, 2.0**124, 2.0**124]


def test_growth_after_interval_and_not_past_float32_max():
    e, t = _run_both("plain", {"init_scale": 4.0, "growth_factor": 3.0, "growth_interval": 2}, steps=7)
    _assert_same(e, t)
    assert [s for s, _, _ in e[0]] == [4.0, 12.0, 12.0, 36.0, 36.0, 108.0, 108.0]
    assert [g for _, g, _ in e[0]] == [1, 0, 1, 0, 1, 0, 1]
    # growing 2**127 would give inf: the scale stays, the tracker still resets
    e, t = _run_both("plain", {"init_scale": 2.0**127, "growth_interval": 1}, steps=1, sizes=(4, 1))
    assert e[0] == t[0] == [(2.0**127, 0, True)]


def test_unusual_factors_round_like_torch():
    """Factors that are not float32-exact: torch multiplies in float64 and rounds once to float32."""
    kw = {"init_scale": 1.7, "growth_factor": 1.1, "backoff_factor": 0.3, "growth_interval": 1}
    e, t = _run_both("plain", kw, steps=6, inject={0: (0, NAN), 3: (1, INF)})
    _assert_same(e, t)
    backed_off = np.float32(np.float64(np.float32(1.7)) * 0.3)  # float64 product, one rounding to float32
    assert e[0][0] == (backed_off, 0, False)


def test_unscale_clip_step_matches_torch():
    e, t = _run_both(
        "sgd", {"init_scale": 256.0, "growth_interval": 2}, steps=6, inject={3: (1, INF)}, clip=0.05
    )
    _assert_same(e, t)
    assert [stepped for *_, stepped in e[0]] == [True, True, True, False, True, True]


def test_mixed_dtype_params_match_torch():
    """float32, float64 and bfloat16 params in one optimizer: one found_inf across the dtype buckets."""
    vals = {"a": (np.float32, (3,)), "b": (np.float64, (2, 2)), "c": (np.float32, (4,))}
    res = []
    for lib in (ember, torch):
        rng = np.random.default_rng(3)
        ps = [lib.tensor(rng.standard_normal(s).astype(d)).requires_grad_() for d, s in vals.values()]
        ps[2] = ps[2].detach().to(lib.bfloat16).requires_grad_()
        ps.append(lib.zeros(2, requires_grad=True))  # never gets a grad
        opt = lib.optim.SGD(ps, lr=0.25, momentum=0.5)
        scaler = _scaler(lib, init_scale=64.0, growth_interval=2)
        calls = _count_steps(opt)
        trace = []
        for i in range(5):
            opt.zero_grad()
            loss = (ps[0] ** 2).sum() + (ps[1] * 3).sum().float() + (ps[2].float() * 0.5).sum()
            scaler.scale(loss).backward()
            if i == 2:
                with lib.no_grad():
                    ps[1].grad[1, 1] = INF
            dtypes = [str(p.grad.dtype).split(".")[-1] if p.grad is not None else None for p in ps]
            scaler.step(opt)
            scaler.update()
            trace.append((scaler.get_scale(), scaler._get_growth_tracker(), len(calls), dtypes))
        res.append((trace, [_np(p) for p in ps]))
    assert res[0][0] == res[1][0]
    assert res[0][0][2][2] == 2  # the step with the float64 inf was skipped
    for a, b in zip(res[0][1], res[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_bfloat16_model_on_cpu_matches_torch():
    res = []
    x = np.linspace(-1, 1, 6).astype(np.float32)
    for lib in (ember, torch):
        p = lib.tensor(x).to(lib.bfloat16).requires_grad_()
        opt = lib.optim.SGD([p], lr=0.125)
        scaler = _scaler(lib, init_scale=2.0**10)
        for _ in range(3):
            opt.zero_grad()
            scaler.scale((p * p).sum()).backward()
            scaler.unscale_(opt)
            grad = _np(p.grad)
            scaler.step(opt)
            scaler.update()
        res.append((grad, _np(p), p.dtype == lib.bfloat16))
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])
    assert res[0][2] and res[1][2]


# ---------------------------------------------------------------------------------------------- scale / update
def test_scale_nested_outputs_like_torch():
    for lib in (ember, torch):
        scaler = _scaler(lib, init_scale=4.0)
        a, b, c = lib.tensor([1.0, 2.0]), lib.tensor(3.0), lib.tensor([0.5], dtype=lib.float64)
        out = scaler.scale([a, (b, [c]), iter([a])])
        assert type(out) is list and type(out[1]) is tuple and type(out[1][1]) is list
        assert not isinstance(out[2], (list, tuple))
        assert _np(out[0]).tolist() == [4.0, 8.0] and _np(out[1][0]).item() == 12.0
        assert out[1][1][0].dtype == lib.float64 and _np(out[1][1][0]).tolist() == [2.0]
        assert _np(next(iter(out[2]))).tolist() == [4.0, 8.0]
        assert scaler._scale.dtype == lib.float32 and tuple(scaler._scale.shape) == ()
        assert scaler._growth_tracker.dtype == lib.int32
        h = lib.tensor([1.0, 70000.0]).to(lib.float16)
        assert scaler.scale(h).dtype == lib.float16 and _np(scaler.scale(h))[1] == INF
        with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
            scaler.scale([a, 1.0])


def test_scale_is_created_lazily_on_the_outputs_device():
    scaler = ember.amp.GradScaler(DEV, init_scale=8.0)
    assert scaler._scale is None and scaler.get_scale() == 8.0 and scaler._get_growth_tracker() == 0
    out = scaler.scale(ember.tensor([1.0]))
    assert scaler._scale.device == out.device == ember.tensor([1.0]).device
    assert scaler._growth_tracker.device == out.device
    assert _np(out).tolist() == [8.0]


def _one_step(lib, scaler, inf=False):
    p = lib.ones(3, requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.1)
    scaler.scale(p.sum()).backward()
    if inf:
        with lib.no_grad():
            p.grad[0] = INF
    scaler.step(opt)
    return p, opt


def test_update_new_scale_float_and_tensor():
    for lib in (ember, torch):
        scaler = _scaler(lib, init_scale=16.0, growth_interval=1)
        _one_step(lib, scaler, inf=True)
        scaler.update(3.5)  # replaces the backoff; the tracker is untouched
        assert scaler.get_scale() == 3.5 and scaler._get_growth_tracker() == 0
        _one_step(lib, scaler)
        src = lib.tensor(7.25)
        scaler.update(src)
        src.fill_(1.0)  # copied: later changes do not leak in
        assert scaler.get_scale() == 7.25 and scaler._per_optimizer_states == {}
        _one_step(lib, scaler)
        scaler.update()
        assert scaler.get_scale() == 14.5 and scaler._get_growth_tracker() == 0


@pytest.mark.parametrize(
    "bad", [lambda lib: lib.tensor([1.0, 2.0]), lambda lib: lib.tensor(2.0, requires_grad=True)]
)
def test_update_new_scale_tensor_errors(bad):
    for lib in (ember, torch):
        scaler = _scaler(lib)
        _one_step(lib, scaler)
        with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
            scaler.update(bad(lib))


def test_update_new_scale_shape_1_and_int_fail_like_torch():
    """torch copies new_scale into its 0-d scale: a shape-(1,) tensor fails in copy_; an int is not a float."""
    for lib in (ember, torch):
        scaler = _scaler(lib)
        _one_step(lib, scaler)
        with pytest.raises(RuntimeError):
            scaler.update(lib.tensor([2.0]))
        with pytest.raises(AttributeError):
            scaler.update(4)


def _factors(scaler):
    return scaler.get_growth_factor(), scaler.get_backoff_factor(), scaler.get_growth_interval()


def test_factor_accessors_and_changing_interval_mid_run():
    res = []
    for lib in (ember, torch):
        scaler = _scaler(lib, init_scale=2.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=5)
        assert _factors(scaler) == (4.0, 0.25, 5)
        scaler.set_growth_factor(3.0)
        scaler.set_backoff_factor(0.125)
        scaler.set_growth_interval(2)
        assert _factors(scaler) == (3.0, 0.125, 2)
        trace = []
        for i in range(6):
            _one_step(lib, scaler, inf=i == 3)
            scaler.update()
            if i == 4:  # the tracker (1) is past the new interval: it never equals it again, so no growth
                scaler.set_growth_interval(1)
            trace.append((scaler.get_scale(), scaler._get_growth_tracker()))
        res.append(trace)
    assert res[0] == res[1] == [(2.0, 1), (6.0, 0), (6.0, 1), (0.75, 0), (0.75, 1), (0.75, 2)]


# ---------------------------------------------------------------------------------------------- state
def test_per_optimizer_stages_and_found_inf():
    res = []
    for lib in (ember, torch):
        scaler = _scaler(lib, init_scale=2.0)
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        scaler.scale(p.sum()).backward()
        with lib.no_grad():
            p.grad[1] = NAN
        assert scaler._per_optimizer_states[id(opt)]["stage"].name == "READY"
        scaler.unscale_(opt)
        st = scaler._per_optimizer_states[id(opt)]
        (found,) = st["found_inf_per_device"].values()
        row = [st["stage"].name, found.dtype == lib.float32, tuple(found.shape), _np(found).item()]
        scaler.step(opt)
        row += [st["stage"].name, _np(p).tolist()]
        scaler.update()
        row += [len(scaler._per_optimizer_states)]
        res.append(row)
    assert res[0] == res[1] == ["UNSCALED", True, (), 1.0, "STEPPED", [1.0, 1.0], 0]
    assert [(s.name, s.value) for s in OptState] == [("READY", 0), ("UNSCALED", 1), ("STEPPED", 2)]


def test_state_dict_round_trip_and_resume():
    inject = {2: (1, INF)}
    kw = {"init_scale": 128.0, "growth_interval": 2, "growth_factor": 3.0, "backoff_factor": 0.25}
    tm, em = _models()
    xs = _data(8)
    full, resumed = [], []
    for lib, m in ((ember, em), (torch, tm)):
        scaler = _scaler(lib, **kw)
        opt = _opt(lib, m.parameters(), "sgd")
        _train(lib, m, opt, scaler, xs[:4], inject)
        sd = scaler.state_dict()
        full.append(sd)
        fresh = _scaler(lib)  # lazy: the loaded values seed the scale when it is first created
        fresh.load_state_dict(sd)
        assert fresh.state_dict() == sd and fresh._scale is None
        live = _scaler(lib, init_scale=2.0)  # already has a scale tensor: load fills it
        live.scale(lib.ones(1))
        live.load_state_dict(sd)
        assert live.state_dict() == sd
        resumed.append(_train(lib, m, opt, fresh, xs[4:]))
    assert full[0] == full[1]
    assert set(full[0]) == {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}
    assert full[0]["scale"] == 96.0 and full[0]["_growth_tracker"] == 1
    _assert_same(resumed[0], resumed[1])


def test_load_state_dict_errors_and_disabled_state():
    for lib in (ember, torch):
        with pytest.raises(
            RuntimeError, match="The source state dict is empty, possibly because it was saved"
        ):
            _scaler(lib).load_state_dict({})
        off = _scaler(lib, enabled=False)
        assert off.state_dict() == {}
        off.load_state_dict({"scale": 3.0})  # a no-op
        assert off.get_scale() == 1.0 and off._get_growth_tracker() == 0


def test_pickle_round_trip():
    scaler = ember.amp.GradScaler(DEV, init_scale=32.0, growth_interval=3)
    _one_step(ember, scaler, inf=True)
    with pytest.raises(AssertionError, match="may only be pickled at the beginning of an iteration"):
        pickle.dumps(scaler)
    scaler.update()
    _one_step(ember, scaler)
    scaler.update()
    clone = pickle.loads(pickle.dumps(scaler))
    assert clone._scale is None and clone.state_dict() == scaler.state_dict() == {
        "scale": 16.0,
        "growth_factor": 2.0,
        "backoff_factor": 0.5,
        "growth_interval": 3,
        "_growth_tracker": 1,
    }
    _one_step(ember, clone)
    clone.update()
    assert clone.get_scale() == 16.0 and clone._get_growth_tracker() == 2
    off = pickle.loads(pickle.dumps(ember.amp.GradScaler(DEV, enabled=False)))
    assert not off.is_enabled()


# ---------------------------------------------------------------------------------------------- step variants
def _closure_run(lib):
    scaler = _scaler(lib, init_scale=8.0)
    p = lib.tensor([1.0, -2.0], requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.5)
    scaler.scale((p**2).sum()).backward()
    with pytest.raises(
        RuntimeError, match="Closure use is not currently supported if GradScaler is enabled."
    ):
        scaler.step(opt, closure=lambda: None)
    calls = []

    def closure():
        calls.append(1)
        return lib.tensor(42.0)

    out = scaler.step(opt, closure)  # positional: forwarded to optimizer.step
    scaler.update()
    scaler.scale((p**2).sum()).backward()
    with lib.no_grad():
        p.grad[0] = NAN
    skipped = scaler.step(opt, closure)
    return _np(out).item(), skipped, len(calls), _np(p).tolist()


def test_closure_passed_to_step():
    assert _closure_run(ember) == _closure_run(torch) == (42.0, None, 1, [0.0, 0.0])


def test_step_returns_optimizer_step_value():
    class Opt(ember.optim.SGD):
        def step(self, *args, **kwargs):
            super().step()
            return ("ret", args, kwargs)

    scaler = ember.amp.GradScaler(DEV)
    p = ember.ones(2, requires_grad=True)
    opt = Opt([p], lr=0.1)
    scaler.scale(p.sum()).backward()
    assert scaler.step(opt, 1, flag=True) == ("ret", (1,), {"flag": True})


def test_multiple_optimizers_one_scaler():
    res = []
    tm1, em1 = _models(seed=1)
    tm2, em2 = _models(seed=2)
    xs = _data(6)
    for lib, m1, m2 in ((ember, em1, em2), (torch, tm1, tm2)):
        scaler = _scaler(lib, init_scale=512.0, growth_interval=2)
        o1, o2 = _opt(lib, m1.parameters(), "sgd"), _opt(lib, m2.parameters(), "adam")
        c1, c2 = _count_steps(o1), _count_steps(o2)
        trace = []
        for i, x in enumerate(xs):
            o1.zero_grad()
            o2.zero_grad()
            x = lib.tensor(x)
            loss1 = (m1(x) ** 2).mean()
            loss2 = ((m2(x) - m1(x).detach()) ** 2).mean()
            scaler.scale(loss1).backward(retain_graph=True)
            scaler.scale(loss2).backward()
            if i in (2, 4):
                with lib.no_grad():
                    next(m2.parameters()).grad[0, 0] = INF
            scaler.unscale_(o1)
            scaler.step(o1)
            scaler.step(o2)
            scaler.update()
            trace.append((scaler.get_scale(), scaler._get_growth_tracker(), len(c1), len(c2)))
        res.append((trace, [_np(p) for p in [*m1.parameters(), *m2.parameters()]]))
    assert res[0][0] == res[1][0]
    assert [c2 for *_, c2 in res[0][0]] == [1, 2, 2, 3, 3, 4]  # o2 skipped at steps 2 and 4, o1 never
    for a, b in zip(res[0][1], res[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _own_scaling_run(lib):
    seen = []

    class Opt(lib.optim.SGD):
        _step_supports_amp_scaling = True

        def step(self, closure=None):
            grad = self.param_groups[0]["params"][0].grad
            seen.append((_np(self.grad_scale).item(), _np(self.found_inf).item(), _np(grad).tolist()))
            return "custom"

    scaler = _scaler(lib, init_scale=4.0)
    p = lib.ones(2, requires_grad=True)
    opt = Opt([p], lr=0.1)
    scaler.scale(p.sum()).backward()
    out = scaler.step(opt)
    left = (hasattr(opt, "grad_scale"), hasattr(opt, "found_inf"))
    with pytest.raises(RuntimeError, match=r"step\(\) has already been called since the last update\(\)."):
        scaler.step(opt)
    scaler.update()
    return out, seen, left, scaler.get_scale()


def test_optimizer_with_its_own_amp_scaling():
    """An optimizer with _step_supports_amp_scaling gets grad_scale and found_inf for the duration of step."""
    expected = ("custom", [(4.0, 0.0, [4.0, 4.0])], (False, False), 4.0)
    assert _own_scaling_run(ember) == _own_scaling_run(torch) == expected


# ---------------------------------------------------------------------------------------------- disabled
@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_disabled_scaler_is_a_pass_through(lib):
    scaler = _scaler(lib, enabled=False, growth_factor=0.5)  # factors are not validated when disabled
    p = lib.tensor([1.0, 2.0], requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.5)
    loss = (p**2).sum()
    outs = [loss]
    assert scaler.scale(loss) is loss and scaler.scale(outs) is outs
    loss.backward()
    scaler.unscale_(opt)
    assert _np(p.grad).tolist() == [2.0, 4.0]
    assert _np(scaler.step(opt, lambda: lib.tensor(5.0))).item() == 5.0
    assert scaler.step(opt, closure=lambda: lib.tensor(6.0)).item() == 6.0  # no closure error when off
    scaler.update()
    scaler.update(8.0)
    assert _np(p).tolist() == [-1.0, -2.0]
    assert not scaler.is_enabled() and scaler.get_scale() == 1.0 and scaler.state_dict() == {}


def test_cuda_scaler_without_cuda_warns_and_disables():
    msgs = []
    for lib in (ember, torch):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            scaler = lib.amp.GradScaler()
        msgs.append(([(x.category, str(x.message)) for x in w], scaler.is_enabled()))
    text = "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling."
    if ember.cuda.is_available():
        assert msgs[0] == ([], True)
    else:
        assert msgs[0] == msgs[1] == ([(UserWarning, text)], False)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert not ember.amp.GradScaler(enabled=False).is_enabled()
        assert ember.amp.GradScaler("cpu").is_enabled()
    assert w == []


# ---------------------------------------------------------------------------------------------- errors
def _raises_like(fn, exc, match):
    for lib in (ember, torch):
        with pytest.raises(exc, match=match):
            fn(lib)


def test_constructor_errors():
    _raises_like(
        lambda lib: _scaler(lib, growth_factor=1.0), AssertionError, "The growth factor must be > 1.0."
    )
    _raises_like(
        lambda lib: _scaler(lib, backoff_factor=1.0), AssertionError, "The backoff factor must be < 1.0."
    )


def test_stage_errors():
    def unscale_twice(lib):
        scaler = _scaler(lib)
        p = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        scaler.scale(p.sum()).backward()
        scaler.unscale_(opt)
        scaler.unscale_(opt)

    def unscale_after_step(lib):
        scaler = _scaler(lib)
        _, opt = _one_step(lib, scaler)
        scaler.unscale_(opt)

    def step_twice(lib):
        scaler = _scaler(lib)
        _, opt = _one_step(lib, scaler)
        scaler.step(opt)

    _raises_like(
        unscale_twice,
        RuntimeError,
        r"^unscale_\(\) has already been called on this optimizer since the last update\(\)\.$",
    )
    _raises_like(unscale_after_step, RuntimeError, r"^unscale_\(\) is being called after step\(\)\.$")
    _raises_like(step_twice, RuntimeError, r"^step\(\) has already been called since the last update\(\)\.$")


def test_missing_scale_and_inf_check_errors():
    def opt_of(lib):
        return lib.optim.SGD([lib.ones(2, requires_grad=True)], lr=0.1)

    fix = r"\.  This may indicate your script did not use scaler.scale\(loss or outputs\) earlier"
    _raises_like(
        lambda lib: _scaler(lib).step(opt_of(lib)), AssertionError, "Attempted step but _scale is None" + fix
    )
    _raises_like(
        lambda lib: _scaler(lib).unscale_(opt_of(lib)), AssertionError, "Attempted unscale_ but _scale"
    )
    _raises_like(lambda lib: _scaler(lib).update(), AssertionError, "Attempted update but _scale is None")

    def update_without_step(lib):
        scaler = _scaler(lib)
        scaler.scale(lib.ones(1))
        scaler.update()

    def step_without_grads(lib):
        scaler = _scaler(lib)
        scaler.scale(lib.ones(1))
        scaler.step(opt_of(lib))

    _raises_like(update_without_step, AssertionError, "^No inf checks were recorded prior to update.$")
    _raises_like(step_without_grads, AssertionError, "^No inf checks were recorded for this optimizer.$")


def test_fp16_grads_cannot_be_unscaled():
    def fp16(lib):
        p = lib.ones(2, dtype=lib.float16, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        scaler = _scaler(lib)
        scaler.scale(p.sum()).backward()
        assert p.grad.dtype == lib.float16
        scaler.step(opt)

    _raises_like(fp16, ValueError, "^Attempting to unscale FP16 gradients.$")


# ---------------------------------------------------------------------------------------------- host reads
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_host_read_per_step(kind, monkeypatch):
    """scale -> backward -> step -> update reads the device once per step (no per-parameter sync)."""
    _, em = _models((4, 5, 6, 3))
    params = list(em.parameters())
    assert len(params) == 6
    opt = _opt(ember, params, kind)
    scaler = ember.amp.GradScaler(DEV, init_scale=64.0, growth_interval=2)
    xs = [ember.tensor(x) for x in _data(4)]
    count = [0]
    depth = [0]

    def counting(orig):
        def fn(self, *a, **k):
            if depth[0] == 0:
                count[0] += 1
            depth[0] += 1
            try:
                return orig(self, *a, **k)
            finally:
                depth[0] -= 1

        return fn

    for name in ("item", "__bool__", "tolist", "numpy", "__float__", "__int__", "__index__", "__array__"):
        monkeypatch.setattr(ember.Tensor, name, counting(getattr(ember.Tensor, name)))
    before = [p.detach().clone() for p in params]
    for i, x in enumerate(xs):
        opt.zero_grad()
        loss = (em(x) ** 2).mean()
        scaler.scale(loss).backward()
        if i == 1:
            with ember.no_grad():
                params[4].grad.view(-1)[0] = NAN  # not read on the host either
        scaler.step(opt)
        scaler.update()
    reads = count[0]
    monkeypatch.undo()
    assert reads == len(xs)  # exactly one per step: the read that decides whether optimizer.step runs
    assert scaler.get_scale() == 64.0 and scaler._get_growth_tracker() == 0  # clean, skip, clean, clean
    assert all(not ember.equal(b, p) for b, p in zip(before, params))

"""ember.optim optimizers against torch.optim, step by step, in float64 on the same problems.

Every optimizer runs 20 steps on a small tanh-MLP regression and on a quadratic, for several hyper-parameter
combinations; parameters are compared after every step. State dicts are compared with torch's (structure,
dtypes, values), round-tripped mid-run, and torch's state dict is loaded into ember to continue identically.
"""

from __future__ import annotations

import copy
import importlib
import warnings

import numpy as np
import pytest
import torch

import ember

_R = np.random.default_rng(1234)
_X = _R.standard_normal((16, 4))
_Y = _R.standard_normal((16, 2))
_MLP0 = [
    _R.standard_normal((8, 4)) * 0.5,
    _R.standard_normal(8) * 0.1,
    _R.standard_normal((2, 8)) * 0.5,
    _R.standard_normal(2) * 0.1,
]
_M = _R.standard_normal((5, 5))
_A = _M @ _M.T / 5 + np.eye(5)
_B = _R.standard_normal(5)
_C = _R.standard_normal((3, 2))
_QUAD0 = [_R.standard_normal(5), _R.standard_normal((3, 2))]

PROBLEMS = {"mlp": _MLP0, "quad": _QUAD0}


def _loss(lib, kind, ps):
    dt = ps[0].dtype
    if kind == "mlp":
        x, y = lib.tensor(_X, dtype=dt), lib.tensor(_Y, dtype=dt)
        out = lib.tanh(x @ ps[0].T + ps[1]) @ ps[2].T + ps[3]
        return ((out - y) ** 2).mean()
    a, b, c = lib.tensor(_A, dtype=dt), lib.tensor(_B, dtype=dt), lib.tensor(_C, dtype=dt)
    p, q = ps
    return 0.5 * (p @ (a @ p)) - (b * p).sum() + ((q - c) ** 2 * (1.0 + c.abs())).sum()


def _params(lib, kind, init=None, dtype="float64"):
    arrays = PROBLEMS[kind] if init is None else init
    return [lib.tensor(np.array(a), dtype=getattr(lib, dtype), requires_grad=True) for a in arrays]


def _np(t):
    return t.detach().cpu().numpy().copy() if isinstance(t, torch.Tensor) else t.detach().cpu().numpy().copy()


def _train(lib, make, kind, steps, ps=None, opt=None, dtype="float64"):
    """Run `steps` optimizer steps; returns (params, optimizer, [param arrays after each step])."""
    if ps is None:
        ps = _params(lib, kind, dtype=dtype)
    if opt is None:
        opt = make(lib, ps)
    hist = []
    for _ in range(steps):
        opt.zero_grad()
        loss = _loss(lib, kind, ps)
        loss.backward()
        opt.step()
        hist.append([_np(p) for p in ps])
    return ps, opt, hist


def _assert_hist(he, ht, rtol=1e-9, atol=1e-11):
    assert len(he) == len(ht)
    for i, (se, st) in enumerate(zip(he, ht)):
        for j, (a, b) in enumerate(zip(se, st)):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"step {i + 1}, param {j}")


def _plain(obj):
    """A state dict as plain Python: tensors become (dtype name, shape, float64 array)."""
    if isinstance(obj, (torch.Tensor, ember.Tensor)):
        dt = str(obj.dtype).split(".")[-1]
        return ("tensor", dt, tuple(obj.shape), _np(obj).astype(np.float64))
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    return obj


def _assert_plain_equal(e, t, path="sd", rtol=1e-9, atol=1e-11):
    if isinstance(t, tuple) and t and t[0] == "tensor":
        assert isinstance(e, tuple) and e and e[0] == "tensor", f"{path}: expected a tensor, got {e!r}"
        assert e[1] == t[1], f"{path}: dtype {e[1]} != torch {t[1]}"
        assert e[2] == t[2], f"{path}: shape {e[2]} != torch {t[2]}"
        np.testing.assert_allclose(e[3], t[3], rtol=rtol, atol=atol, err_msg=path)
        return
    if isinstance(t, dict):
        assert isinstance(e, dict), f"{path}: expected a dict, got {type(e).__name__}"
        assert list(e.keys()) == list(t.keys()), f"{path}: keys {list(e.keys())} != torch {list(t.keys())}"
        for k in t:
            _assert_plain_equal(e[k], t[k], f"{path}[{k!r}]", rtol, atol)
        return
    if isinstance(t, (list, tuple)):
        assert type(e) is type(t) and len(e) == len(t), f"{path}: {e!r} != torch {t!r}"
        for i, (a, b) in enumerate(zip(e, t)):
            _assert_plain_equal(a, b, f"{path}[{i}]", rtol, atol)
        return
    if isinstance(t, float):
        assert isinstance(e, (float, int)) and np.isclose(e, t, rtol=1e-12, atol=0), f"{path}: {e!r} != {t!r}"
        return
    assert e == t, f"{path}: {e!r} != torch {t!r}"


def _torch_sd_to_ember(obj):
    if isinstance(obj, torch.Tensor):
        return ember.tensor(obj.detach().cpu().numpy().copy(), dtype=getattr(ember, str(obj.dtype).split(".")[-1]))
    if isinstance(obj, dict):
        return {k: _torch_sd_to_ember(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_torch_sd_to_ember(v) for v in obj)
    return obj


# ------------------------------------------------------------------------------------------------ cases
CASES = {
    "sgd": lambda L, ps: L.optim.SGD(ps, lr=0.1),
    "sgd-momentum": lambda L, ps: L.optim.SGD(ps, lr=0.05, momentum=0.9),
    "sgd-dampening-wd": lambda L, ps: L.optim.SGD(
        ps, lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.01
    ),
    "sgd-nesterov": lambda L, ps: L.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
    "sgd-maximize": lambda L, ps: L.optim.SGD(ps, lr=0.01, momentum=0.5, maximize=True),
    "sgd-foreach": lambda L, ps: L.optim.SGD(ps, lr=0.05, momentum=0.8, foreach=True),
    "adam": lambda L, ps: L.optim.Adam(ps, lr=0.01),
    "adam-amsgrad": lambda L, ps: L.optim.Adam(ps, lr=0.02, amsgrad=True),
    "adam-wd": lambda L, ps: L.optim.Adam(ps, lr=0.01, weight_decay=0.1),
    "adam-maximize-betas": lambda L, ps: L.optim.Adam(
        ps, lr=0.01, betas=(0.8, 0.99), eps=1e-6, maximize=True
    ),
    "adam-decoupled-amsgrad": lambda L, ps: L.optim.Adam(
        ps, lr=0.01, weight_decay=0.1, amsgrad=True, decoupled_weight_decay=True
    ),
    "adam-foreach": lambda L, ps: L.optim.Adam(ps, lr=0.01, foreach=True),
    "adamw": lambda L, ps: L.optim.AdamW(ps, lr=0.01),
    "adamw-amsgrad-wd": lambda L, ps: L.optim.AdamW(ps, lr=0.01, weight_decay=0.3, amsgrad=True),
    "adamw-maximize": lambda L, ps: L.optim.AdamW(ps, lr=0.01, maximize=True, betas=(0.5, 0.9)),
    "adamw-nowd": lambda L, ps: L.optim.AdamW(ps, lr=0.01, weight_decay=0.0),
    "rmsprop": lambda L, ps: L.optim.RMSprop(ps, lr=0.01),
    "rmsprop-alpha-eps": lambda L, ps: L.optim.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-6),
    "rmsprop-centered": lambda L, ps: L.optim.RMSprop(ps, lr=0.005, centered=True),
    "rmsprop-momentum": lambda L, ps: L.optim.RMSprop(ps, lr=0.005, momentum=0.9),
    "rmsprop-all": lambda L, ps: L.optim.RMSprop(ps, lr=0.005, momentum=0.5, centered=True, weight_decay=0.1),
    "rmsprop-maximize": lambda L, ps: L.optim.RMSprop(ps, lr=0.001, maximize=True),
    "adagrad": lambda L, ps: L.optim.Adagrad(ps, lr=0.1),
    "adagrad-lr-decay": lambda L, ps: L.optim.Adagrad(ps, lr=0.1, lr_decay=0.05),
    "adagrad-init-acc": lambda L, ps: L.optim.Adagrad(ps, lr=0.1, initial_accumulator_value=0.5, eps=1e-8),
    "adagrad-wd-maximize": lambda L, ps: L.optim.Adagrad(ps, lr=0.01, weight_decay=0.1, maximize=True),
    "adadelta": lambda L, ps: L.optim.Adadelta(ps),
    "adadelta-rho-lr": lambda L, ps: L.optim.Adadelta(ps, lr=0.5, rho=0.95, eps=1e-4),
    "adadelta-wd": lambda L, ps: L.optim.Adadelta(ps, weight_decay=0.1),
    "adadelta-maximize": lambda L, ps: L.optim.Adadelta(ps, lr=0.1, maximize=True),
    "nadam": lambda L, ps: L.optim.NAdam(ps, lr=0.01),
    "nadam-momentum-decay": lambda L, ps: L.optim.NAdam(ps, lr=0.01, momentum_decay=0.01, betas=(0.8, 0.99)),
    "nadam-wd": lambda L, ps: L.optim.NAdam(ps, lr=0.01, weight_decay=0.1),
    "nadam-decoupled": lambda L, ps: L.optim.NAdam(
        ps, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True
    ),
    "nadam-maximize": lambda L, ps: L.optim.NAdam(ps, lr=0.005, maximize=True),
    "radam": lambda L, ps: L.optim.RAdam(ps, lr=0.01),
    "radam-wd": lambda L, ps: L.optim.RAdam(ps, lr=0.01, weight_decay=0.1),
    "radam-decoupled": lambda L, ps: L.optim.RAdam(
        ps, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True
    ),
    "radam-maximize-betas": lambda L, ps: L.optim.RAdam(ps, lr=0.01, betas=(0.8, 0.9), maximize=True),
    "adamax": lambda L, ps: L.optim.Adamax(ps, lr=0.01),
    "adamax-wd": lambda L, ps: L.optim.Adamax(ps, lr=0.01, weight_decay=0.1),
    "adamax-maximize-betas": lambda L, ps: L.optim.Adamax(
        ps, lr=0.005, betas=(0.5, 0.9), eps=1e-6, maximize=True
    ),
    "rprop": lambda L, ps: L.optim.Rprop(ps, lr=0.01),
    "rprop-etas-sizes": lambda L, ps: L.optim.Rprop(ps, lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1)),
    "rprop-maximize": lambda L, ps: L.optim.Rprop(ps, lr=0.001, maximize=True),
    "asgd": lambda L, ps: L.optim.ASGD(ps, lr=0.05),
    "asgd-t0-wd": lambda L, ps: L.optim.ASGD(ps, lr=0.05, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.1),
    "asgd-maximize": lambda L, ps: L.optim.ASGD(ps, lr=0.01, t0=3, maximize=True),
}


@pytest.mark.parametrize("kind", ["mlp", "quad"])
@pytest.mark.parametrize("case", list(CASES))
def test_steps_match_torch(case, kind):
    make = CASES[case]
    _, oe, he = _train(ember, make, kind, 20)
    _, ot, ht = _train(torch, make, kind, 20)
    _assert_hist(he, ht)
    _assert_plain_equal(_plain(oe.state_dict()), _plain(ot.state_dict()))


TWO_GROUPS = {
    "SGD": (
        lambda L, g: L.optim.SGD(g, lr=0.05, momentum=0.9),
        {"lr": 0.01, "nesterov": True, "weight_decay": 0.1},
    ),
    "Adam": (lambda L, g: L.optim.Adam(g, lr=0.01), {"lr": 0.03, "amsgrad": True, "betas": (0.5, 0.9)}),
    "AdamW": (lambda L, g: L.optim.AdamW(g, lr=0.01), {"weight_decay": 0.5, "maximize": True}),
    "RMSprop": (lambda L, g: L.optim.RMSprop(g, lr=0.01), {"centered": True, "momentum": 0.5, "alpha": 0.9}),
    "Adagrad": (lambda L, g: L.optim.Adagrad(g, lr=0.1), {"lr_decay": 0.1, "weight_decay": 0.05}),
    "Adadelta": (lambda L, g: L.optim.Adadelta(g), {"rho": 0.5, "lr": 0.3}),
    "NAdam": (lambda L, g: L.optim.NAdam(g, lr=0.01), {"momentum_decay": 0.02, "weight_decay": 0.1}),
    "RAdam": (lambda L, g: L.optim.RAdam(g, lr=0.01), {"decoupled_weight_decay": True, "weight_decay": 0.2}),
    "Adamax": (lambda L, g: L.optim.Adamax(g, lr=0.01), {"betas": (0.7, 0.95), "lr": 0.02}),
    "Rprop": (lambda L, g: L.optim.Rprop(g, lr=0.01), {"etas": (0.4, 1.1), "lr": 0.02}),
    "ASGD": (lambda L, g: L.optim.ASGD(g, lr=0.01, t0=4), {"lambd": 0.01, "t0": 2, "lr": 0.02}),
}


@pytest.mark.parametrize("name", list(TWO_GROUPS))
def test_two_param_groups(name):
    ctor, overrides = TWO_GROUPS[name]

    def make(L, ps):
        return ctor(L, [{"params": ps[:2]}, {"params": ps[2:], **overrides}])

    _, oe, he = _train(ember, make, "mlp", 20)
    _, ot, ht = _train(torch, make, "mlp", 20)
    _assert_hist(he, ht)
    _assert_plain_equal(_plain(oe.state_dict()), _plain(ot.state_dict()))
    assert [sorted(g) for g in oe.param_groups] == [sorted(g) for g in ot.param_groups]


RESUME = [
    "sgd-nesterov",
    "adam-amsgrad",
    "adam-decoupled-amsgrad",
    "adamw-amsgrad-wd",
    "rmsprop-all",
    "adagrad-lr-decay",
    "adadelta-wd",
    "nadam-decoupled",
    "radam",
    "adamax-wd",
    "rprop-etas-sizes",
    "asgd-t0-wd",
]


@pytest.mark.parametrize("case", RESUME)
def test_state_dict_resume(case):
    make = CASES[case]
    pe, oe, he1 = _train(ember, make, "mlp", 10)
    pt, ot, ht1 = _train(torch, make, "mlp", 10)
    sd_e = copy.deepcopy(oe.state_dict())
    sd_t = copy.deepcopy(ot.state_dict())
    _assert_plain_equal(_plain(sd_e), _plain(sd_t))
    # ember -> fresh ember optimizer continues like the uninterrupted one (exactly, unless torch's
    # load_state_dict casts float32 scalar state such as NAdam's mu_product or ASGD's eta to float64 params)
    snapshot = [_np(p) for p in pe]
    ps2 = _params(ember, "mlp", snapshot)
    opt2 = make(ember, ps2)
    opt2.load_state_dict(sd_e)
    _, _, he2 = _train(ember, make, "mlp", 10, pe, oe)
    _, _, he3 = _train(ember, make, "mlp", 10, ps2, opt2)
    exact = not {"mu_product", "eta", "mu"} & set(sd_e["state"][0])
    _assert_hist(he3, he2, rtol=0 if exact else 1e-7, atol=0 if exact else 1e-9)
    # torch's state dict loaded into a fresh ember optimizer continues like torch's own resume
    pt2 = _params(torch, "mlp", [_np(p) for p in pt])
    ot2 = make(torch, pt2)
    ot2.load_state_dict(copy.deepcopy(sd_t))
    ps4 = _params(ember, "mlp", [_np(p) for p in pt])
    opt4 = make(ember, ps4)
    opt4.load_state_dict(_torch_sd_to_ember(sd_t))
    _assert_plain_equal(_plain(opt4.state_dict()), _plain(ot2.state_dict()))
    _, _, ht2 = _train(torch, make, "mlp", 10, pt2, ot2)
    _, _, he4 = _train(ember, make, "mlp", 10, ps4, opt4)
    _assert_hist(he4, ht2)
    _assert_plain_equal(_plain(opt4.state_dict()), _plain(ot2.state_dict()))


@pytest.mark.parametrize(
    "case", ["sgd-momentum", "adam-amsgrad", "rmsprop-all", "nadam", "adagrad", "adamax"]
)
def test_float32_matches_torch(case):
    make = CASES[case]
    _, oe, he = _train(ember, make, "quad", 20, dtype="float32")
    _, ot, ht = _train(torch, make, "quad", 20, dtype="float32")
    _assert_hist(he, ht, rtol=2e-5, atol=2e-6)
    _assert_plain_equal(_plain(oe.state_dict()), _plain(ot.state_dict()), rtol=2e-5, atol=2e-6)
    assert all(a.dtype == np.float32 for a in he[-1])


def test_load_state_dict_casts_to_param_dtype():
    ps = _params(ember, "quad")
    opt = ember.optim.Adam(ps, lr=0.1)
    _train(ember, None, "quad", 3, ps, opt)
    sd = copy.deepcopy(opt.state_dict())
    ps32 = _params(ember, "quad", dtype="float32")
    opt32 = ember.optim.Adam(ps32, lr=0.1)
    opt32.load_state_dict(sd)
    st = opt32.state[ps32[0]]
    assert st["exp_avg"].dtype == ember.float32 and st["exp_avg_sq"].dtype == ember.float32
    assert st["step"].dtype == ember.float32 and st["step"].shape == ()  # step is never cast
    assert st["step"].item() == 3.0


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_step_dtype_follows_default_dtype(lib):
    lib.set_default_dtype(lib.float64)
    p = lib.zeros(3, requires_grad=True)
    opt = lib.optim.Adam([p])
    p.grad = lib.ones(3)
    opt.step()
    assert opt.state[p]["step"].dtype == lib.float64


def test_capturable_and_differentiable_flags_accepted():
    """capturable=True takes the no-host-read tensor path; differentiable/fused/foreach are accepted."""
    make = lambda L, ps: L.optim.Adam(ps, lr=0.01, amsgrad=True, capturable=(L is ember))  # noqa: E731
    _, _, he = _train(ember, make, "mlp", 20)
    _, _, ht = _train(torch, make, "mlp", 20)
    _assert_hist(he, ht)
    for make in [
        lambda ps: ember.optim.NAdam(ps, capturable=True),
        lambda ps: ember.optim.RAdam(ps, capturable=True),
        lambda ps: ember.optim.Adamax(ps, capturable=True),
        lambda ps: ember.optim.SGD(ps, fused=True, momentum=0.9),
        lambda ps: ember.optim.Adagrad(ps, fused=True),
        lambda ps: ember.optim.AdamW(ps, fused=True),
        lambda ps: ember.optim.RMSprop(ps, capturable=True, foreach=True),
        lambda ps: ember.optim.Adadelta(ps, capturable=True),
    ]:
        ps = _params(ember, "quad")
        _train(ember, None, "quad", 8, ps, make(ps))
        assert all(np.isfinite(_np(p)).all() for p in ps)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RAdam", "NAdam", "Adamax"])
@pytest.mark.parametrize("kind", ["mlp", "quad"])
def test_capturable_matches_host_path(name, kind):
    """The capturable tensor path (no host reads) gives torch's eager results for float64 params."""
    make = lambda L, ps: getattr(L.optim, name)(ps, lr=0.01, weight_decay=0.1, capturable=(L is ember))  # noqa: E731
    _, _, he = _train(ember, make, kind, 20)
    _, _, ht = _train(torch, make, kind, 20)
    _assert_hist(he, ht)


DIFFERENTIABLE = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.1)),
    ("RMSprop", dict(lr=0.1, centered=True, momentum=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adadelta", dict(weight_decay=0.1)),
    ("NAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1, betas=(0.9, 0.5))),
    ("Rprop", dict(lr=0.1)),
    ("ASGD", dict(lr=0.1, t0=2)),
]


@pytest.mark.parametrize(
    "name,kw", DIFFERENTIABLE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(DIFFERENTIABLE)]
)
def test_differentiable_backprops_through_steps(name, kw):
    """differentiable=True records the updates of non-leaf params: d(loss)/d(initial weights) match torch."""
    res = {}
    for lib in (ember, torch):
        w = lib.tensor([1.0, -2.0, 3.0, 0.5], dtype=lib.float64, requires_grad=True)
        p = w.clone()
        opt = getattr(lib.optim, name)([p], differentiable=True, **kw)
        for i in range(6):
            p.grad = (0.5 * p + 0.1 * i).detach()
            opt.step()
        (p**2).sum().backward()
        res[lib.__name__] = ([_np(p)], [_np(w.grad)])
    tol = dict(rtol=1e-6, atol=1e-9) if "Adam" in name else {}  # float32 step math in the tensor path
    _assert_hist([res["ember"][0]], [res["torch"][0]], **tol)
    _assert_hist([res["ember"][1]], [res["torch"][1]], **tol)


def test_step_never_reads_device_values(monkeypatch):
    """Optimizer updates (all but LBFGS) never call item()/float()/bool() on tensors."""
    makers = [CASES[c] for c in CASES] + [
        lambda L, ps: L.optim.Adam(ps, capturable=True, amsgrad=True),
        lambda L, ps: L.optim.RAdam(ps, capturable=True),
        lambda L, ps: L.optim.NAdam(ps, capturable=True),
        lambda L, ps: L.optim.ASGD(ps, capturable=True, t0=1),
        lambda L, ps: L.optim.Rprop(ps, capturable=True),
    ]
    opts = []
    for make in makers:
        ps = _params(ember, "quad")
        opt = make(ember, ps)
        _loss(ember, "quad", ps).backward()
        opts.append(opt)

    def boom(*a, **k):
        raise AssertionError("host read during step")

    for name in ("item", "__float__", "__bool__", "__int__", "tolist", "numpy", "__array__"):
        monkeypatch.setattr(ember.Tensor, name, boom)
    for opt in opts:
        for _ in range(3):
            opt.step()


# ------------------------------------------------------------------------------------------------ LBFGS
def _rosen(lib, ps):
    p = ps[0]
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


LBFGS_CASES = [
    ("quad", dict(lr=1, line_search_fn="strong_wolfe")),
    ("quad", dict(lr=0.5, max_iter=5)),
    ("mlp", dict(lr=1, line_search_fn="strong_wolfe", history_size=5)),
    ("mlp", dict(lr=0.5, history_size=3, max_iter=10)),
    ("rosen", dict(lr=1, line_search_fn="strong_wolfe")),
    ("rosen", dict(lr=1, line_search_fn="strong_wolfe", history_size=2, max_iter=7)),
    ("rosen", dict(lr=0.05, history_size=4)),
    ("rosen", dict(lr=1, line_search_fn="strong_wolfe", tolerance_grad=1e-3, tolerance_change=1e-4)),
    ("mlp", dict(lr=1, max_iter=3, max_eval=4, line_search_fn="strong_wolfe")),
]


@pytest.mark.parametrize("kind,kw", LBFGS_CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(LBFGS_CASES)])
def test_lbfgs_matches_torch(kind, kw):
    res = {}
    for lib in (ember, torch):
        if kind == "rosen":
            ps = [lib.tensor([-1.5, 2.0], dtype=lib.float64, requires_grad=True)]
            fn = _rosen
        else:
            ps = _params(lib, kind)
            fn = lambda lib, ps, kind=kind: _loss(lib, kind, ps)  # noqa: E731
        opt = lib.optim.LBFGS(ps, **kw)

        def closure(lib=lib, ps=ps, opt=opt, fn=fn):
            opt.zero_grad()
            loss = fn(lib, ps)
            loss.backward()
            return loss

        hist, losses = [], []
        for _ in range(4):
            losses.append(float(opt.step(closure).detach()))
            hist.append([_np(p) for p in ps])
        st = opt.state[ps[0]]
        res[lib.__name__] = (hist, losses, st["func_evals"], st["n_iter"], len(st["old_dirs"]))
    (he, le, *ce), (ht, lt, *ct) = res["ember"], res["torch"]
    _assert_hist(he, ht, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(le, lt, rtol=1e-6, atol=1e-12)
    assert ce == ct


def test_lbfgs_state_dict_and_errors():
    ps = _params(ember, "quad")
    opt = ember.optim.LBFGS(ps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _loss(ember, "quad", ps)
        loss.backward()
        return loss

    opt.step(closure)
    sd = opt.state_dict()
    assert set(sd["state"][0]) >= {"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag"}
    assert list(sd["state"]) == [0]
    opt2 = ember.optim.LBFGS(_params(ember, "quad"), line_search_fn="strong_wolfe")
    opt2.load_state_dict(copy.deepcopy(sd))
    assert opt2.state_dict()["state"][0]["n_iter"] == sd["state"][0]["n_iter"]
    for lib in (ember, torch):
        bad = lib.optim.LBFGS(_params(lib, "quad"), line_search_fn="armijo")
        ps_b = bad.param_groups[0]["params"]

        def clo(lib=lib, ps_b=ps_b, bad=bad):
            bad.zero_grad()
            loss = _loss(lib, "quad", ps_b)
            loss.backward()
            return loss

        with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
            bad.step(clo)
        with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
            lib.optim.LBFGS([{"params": [lib.zeros(1, requires_grad=True)]}, {"params": [lib.zeros(1)]}])


# ------------------------------------------------------------------------------------------------ errors
def _p(L):
    return [L.zeros(3, requires_grad=True)]


ERRORS = {
    "sgd-lr": lambda L: L.optim.SGD(_p(L), lr=-0.1),
    "sgd-momentum": lambda L: L.optim.SGD(_p(L), momentum=-0.1),
    "sgd-wd": lambda L: L.optim.SGD(_p(L), weight_decay=-1),
    "sgd-nesterov-no-momentum": lambda L: L.optim.SGD(_p(L), nesterov=True),
    "sgd-nesterov-dampening": lambda L: L.optim.SGD(_p(L), momentum=0.9, dampening=0.1, nesterov=True),
    "sgd-fused-foreach": lambda L: L.optim.SGD(_p(L), fused=True, foreach=True),
    "adam-lr": lambda L: L.optim.Adam(_p(L), lr=-1e-3),
    "adam-eps": lambda L: L.optim.Adam(_p(L), eps=-1e-8),
    "adam-beta0": lambda L: L.optim.Adam(_p(L), betas=(1.0, 0.999)),
    "adam-beta1": lambda L: L.optim.Adam(_p(L), betas=(0.9, -0.1)),
    "adam-wd": lambda L: L.optim.Adam(_p(L), weight_decay=-0.1),
    "adam-int-betas": lambda L: L.optim.Adam(_p(L), betas=(0, 0.9)),
    "adam-fused-differentiable": lambda L: L.optim.Adam(_p(L), fused=True, differentiable=True),
    "adamw-lr": lambda L: L.optim.AdamW(_p(L), lr=-1.0),
    "adamw-beta": lambda L: L.optim.AdamW(_p(L), betas=(0.9, 1.5)),
    "rmsprop-lr": lambda L: L.optim.RMSprop(_p(L), lr=-1.0),
    "rmsprop-alpha": lambda L: L.optim.RMSprop(_p(L), alpha=-0.1),
    "rmsprop-momentum": lambda L: L.optim.RMSprop(_p(L), momentum=-0.1),
    "rmsprop-eps": lambda L: L.optim.RMSprop(_p(L), eps=-1.0),
    "adagrad-lr-decay": lambda L: L.optim.Adagrad(_p(L), lr_decay=-0.1),
    "adagrad-init-acc": lambda L: L.optim.Adagrad(_p(L), initial_accumulator_value=-0.1),
    "adagrad-eps": lambda L: L.optim.Adagrad(_p(L), eps=-0.1),
    "adadelta-rho": lambda L: L.optim.Adadelta(_p(L), rho=1.5),
    "adadelta-lr": lambda L: L.optim.Adadelta(_p(L), lr=-1.0),
    "nadam-momentum-decay": lambda L: L.optim.NAdam(_p(L), momentum_decay=-0.1),
    "nadam-beta": lambda L: L.optim.NAdam(_p(L), betas=(0.9, 1.0)),
    "radam-wd": lambda L: L.optim.RAdam(_p(L), weight_decay=-0.1),
    "radam-eps": lambda L: L.optim.RAdam(_p(L), eps=-0.1),
    "adamax-beta": lambda L: L.optim.Adamax(_p(L), betas=(-0.1, 0.9)),
    "lbfgs-lr": lambda L: L.optim.LBFGS(_p(L), lr=-1.0),
    "rprop-etas": lambda L: L.optim.Rprop(_p(L), etas=(1.2, 0.5)),
    "rprop-lr": lambda L: L.optim.Rprop(_p(L), lr=-0.5),
    "asgd-wd": lambda L: L.optim.ASGD(_p(L), weight_decay=-0.5),
    "empty-params": lambda L: L.optim.SGD([], lr=0.1),
    "tensor-params": lambda L: L.optim.SGD(L.zeros(3, requires_grad=True), lr=0.1),
    "set-params": lambda L: L.optim.SGD({"params": {1, 2}} and [{"params": set(_p(L))}], lr=0.1),
    "non-tensor-param": lambda L: L.optim.SGD([1.0], lr=0.1),
    "non-leaf": lambda L: L.optim.SGD([L.zeros(3, requires_grad=True) * 2], lr=0.1),
    "group-not-dict": lambda L: L.optim.SGD(_p(L), lr=0.1).add_param_group([1]),
    "param-in-two-groups": lambda L: (lambda p: L.optim.SGD([{"params": p}, {"params": p}], lr=0.1))(_p(L)),
    "missing-names": lambda L: L.optim.SGD(
        [("a", L.zeros(1, requires_grad=True)), L.zeros(1, requires_grad=True)]
    ),
    "mixed-named-groups": lambda L: L.optim.SGD(
        [{"params": [("a", L.zeros(1, requires_grad=True))]}, {"params": [L.zeros(1, requires_grad=True)]}]
    ),
    "load-group-count": lambda L: L.optim.SGD(_p(L)).load_state_dict(
        {"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]}
    ),
    "load-group-size": lambda L: L.optim.SGD(_p(L)).load_state_dict(
        {"state": {}, "param_groups": [{"params": [0, 1]}]}
    ),
    "bad-pre-hook-result": lambda L: (lambda o: (o.register_step_pre_hook(lambda *a: 5), o.step()))(
        L.optim.SGD(_p(L))
    ),
}


def _capture(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            return e
    return None


@pytest.mark.parametrize("case", list(ERRORS))
def test_error_parity(case):
    et = _capture(lambda: ERRORS[case](torch))
    ee = _capture(lambda: ERRORS[case](ember))
    assert et is not None, "torch accepted the call"
    assert type(ee) is type(et), f"ember raised {type(ee).__name__}: {ee} ; torch {type(et).__name__}: {et}"
    msg_t = str(et).replace("torch", "ember")
    if case != "bad-pre-hook-result":  # that message embeds the function's repr
        assert str(ee) == msg_t


def test_duplicate_params_warn():
    for lib in (ember, torch):
        p = lib.zeros(2, requires_grad=True)
        with pytest.warns(UserWarning, match="duplicate parameters"):
            lib.optim.SGD([p, p], lr=0.1)


# ------------------------------------------------------------------------------------------------ base API
def test_zero_grad_and_closure():
    ps = _params(ember, "quad")
    opt = ember.optim.SGD(ps, lr=0.1)
    _loss(ember, "quad", ps).backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and float(p.grad.abs().sum()) == 0.0 for p in ps)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)
    before = [_np(p) for p in ps]
    assert opt.step() is None  # no grads: nothing moves
    assert all((a == _np(p)).all() for a, p in zip(before, ps))

    def closure():
        opt.zero_grad()
        loss = _loss(ember, "quad", ps)
        loss.backward()
        return loss

    with ember.no_grad():
        loss = opt.step(closure)  # the closure runs with grad enabled
    assert isinstance(loss, ember.Tensor) and loss.grad_fn is not None
    assert not all((a == _np(p)).all() for a, p in zip(before, ps))


def test_skips_params_without_grad_and_add_param_group():
    res = {}
    for lib in (ember, torch):
        ps = _params(lib, "mlp")
        opt = lib.optim.Adam(ps[:2], lr=0.01)
        _train(lib, None, "mlp", 3, ps, opt)
        opt.add_param_group({"params": ps[2:], "lr": 0.05, "amsgrad": True})
        _train(lib, None, "mlp", 3, ps, opt)
        ps[3].grad = None
        opt.step()
        res[lib.__name__] = ([_np(p) for p in ps], _plain(opt.state_dict()))
    _assert_hist([res["ember"][0]], [res["torch"][0]])
    _assert_plain_equal(res["ember"][1], res["torch"][1])


def test_adagrad_state_created_eagerly_and_for_new_groups():
    res = {}
    for lib in (ember, torch):
        ps = _params(lib, "mlp")
        opt = lib.optim.Adagrad(ps[:2], lr=0.1, initial_accumulator_value=0.3)
        sd0 = _plain(opt.state_dict())
        opt.add_param_group({"params": ps[2:], "initial_accumulator_value": 0.7})
        _train(lib, None, "mlp", 4, ps, opt)
        res[lib.__name__] = (sd0, _plain(opt.state_dict()))
    _assert_plain_equal(res["ember"][0], res["torch"][0])
    _assert_plain_equal(res["ember"][1], res["torch"][1])


def test_named_parameters_and_repr():
    for name in [
        "SGD",
        "Adam",
        "AdamW",
        "RMSprop",
        "Adagrad",
        "Adadelta",
        "NAdam",
        "RAdam",
        "Adamax",
        "LBFGS",
    ]:
        reprs, sds = [], []
        for lib in (ember, torch):
            named = [("w", lib.zeros(2, requires_grad=True)), ("b", lib.zeros(1, requires_grad=True))]
            opt = getattr(lib.optim, name)(named)
            reprs.append(repr(opt))
            sds.append(opt.state_dict()["param_groups"])
        assert reprs[0] == reprs[1]
        assert sds[0] == sds[1]
        assert sds[0][0]["param_names"] == ["w", "b"]


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_step_hooks(lib):
    calls = []
    p = lib.zeros(2, requires_grad=True)
    opt = lib.optim.SGD([p], lr=0.1)
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", o is opt)))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append(("post", o is opt)))
    mod = importlib.import_module(f"{lib.__name__}.optim.optimizer")
    g1 = mod.register_optimizer_step_pre_hook(lambda o, a, k: calls.append(("gpre", True)))
    g2 = mod.register_optimizer_step_post_hook(lambda o, a, k: calls.append(("gpost", True)))
    p.grad = lib.ones(2)
    try:
        opt.step()
    finally:
        for h in (h1, h2, g1, g2):
            h.remove()
    assert calls == [("gpre", True), ("pre", True), ("post", True), ("gpost", True)]
    calls.clear()
    opt.step()
    assert calls == []
    # a pre hook may replace the closure argument
    opt.register_step_pre_hook(lambda o, a, k: ((a[0],), {"closure": lambda: 7.0}))
    assert opt.step() == 7.0


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_state_dict_hooks(lib):
    calls = []
    p = lib.zeros(2, requires_grad=True)
    opt = lib.optim.Adam([p], lr=0.1)
    p.grad = lib.ones(2)
    opt.step()
    opt.register_state_dict_pre_hook(lambda o: calls.append("sd-pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: calls.append("load-pre"))
    opt.register_load_state_dict_post_hook(lambda o: calls.append("load-post"), prepend=True)
    sd = opt.state_dict()
    assert sd["extra"] == 1
    opt.load_state_dict(sd)
    assert calls == ["sd-pre", "load-pre", "load-post"]


def test_custom_optimizer_subclass():
    """A user optimizer written against the MLX-style hooks of the ember base class."""

    class SignSGD(ember.optim.Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, {"lr": lr})

        def _init_state(self, p, state, group):
            state["n"] = ember.zeros(())

        def _update(self, p, grad, state, group):
            state["n"] += 1
            p.add_(grad.sign(), alpha=-group["lr"])

    ps = _params(ember, "quad")
    opt = SignSGD(ps, lr=0.1)
    before = [_np(p) for p in ps]
    g = []
    for _ in range(2):
        opt.zero_grad()
        _loss(ember, "quad", ps).backward()
        g.append([np.sign(_np(p.grad)) for p in ps])
        opt.step()
    expect = [b - 0.1 * (s0 + s1) for b, s0, s1 in zip(before, *g)]
    _assert_hist([[_np(p) for p in ps]], [expect], rtol=0, atol=1e-15)
    assert opt.state_dict()["state"][1]["n"].item() == 2.0


def test_tensor_lr():
    res = {}
    for lib in (ember, torch):
        make = lambda L, ps: L.optim.Adam(ps, lr=L.tensor(0.01))  # noqa: E731
        _, opt, hist = _train(lib, make, "mlp", 10)
        assert isinstance(opt.param_groups[0]["lr"], lib.Tensor)
        res[lib.__name__] = hist
    _assert_hist(res["ember"], res["torch"])


def test_load_old_style_state_dict():
    """A state dict with Python-number steps and missing newer group keys loads like torch's."""
    res = {}
    for lib in (ember, torch):
        ps = _params(lib, "quad")
        opt = lib.optim.Adam(ps, lr=0.05)
        _train(lib, None, "quad", 4, ps, opt)
        sd = copy.deepcopy(opt.state_dict())
        for st in sd["state"].values():
            st["step"] = float(st["step"])
        for g in sd["param_groups"]:
            del g["amsgrad"], g["decoupled_weight_decay"], g["maximize"]
        ps2 = _params(lib, "quad", [_np(p) for p in ps])
        opt2 = lib.optim.Adam(ps2, lr=0.05)
        opt2.load_state_dict(sd)
        assert isinstance(opt2.state[ps2[0]]["step"], lib.Tensor)
        _, _, hist = _train(lib, None, "quad", 4, ps2, opt2)
        res[lib.__name__] = (hist, _plain(opt2.state_dict()))
    _assert_hist(res["ember"][0], res["torch"][0])
    _assert_plain_equal(res["ember"][1], res["torch"][1])


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")
def test_zero_grad_detaches_graph_grads():
    for lib in (ember, torch):
        p = lib.ones(3, requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        (p**3).sum().backward(create_graph=True)
        assert p.grad.grad_fn is not None
        opt.zero_grad(set_to_none=False)
        assert p.grad.grad_fn is None and not p.grad.requires_grad
        assert _np(p.grad).tolist() == [0.0, 0.0, 0.0]


def test_clip_grad_norm_then_step():
    res = {}
    for lib in (ember, torch):
        ps = _params(lib, "mlp")
        opt = lib.optim.SGD(ps, lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            _loss(lib, "mlp", ps).backward()
            lib.nn.utils.clip_grad_norm_(ps, 0.05)
            opt.step()
        res[lib.__name__] = [[_np(p) for p in ps]]
    _assert_hist(res["ember"], res["torch"])

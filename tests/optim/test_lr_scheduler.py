"""ember.optim.lr_scheduler against torch.optim.lr_scheduler: lr (and momentum/beta1) sequences over ~50
steps, state_dict round trips, chained/sequential combinations, ReduceLROnPlateau, closed forms, errors."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch

import ember


def _opt(lib, kind="sgd", lrs=(0.1, 0.03)):
    groups = [{"params": [lib.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs]
    if kind == "sgd":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    if kind == "adam":
        return lib.optim.Adam(groups, lr=0.1, betas=(0.9, 0.99))
    return lib.optim.Adagrad(groups, lr=0.1)


def _snap(opt):
    """lr, momentum and beta1 of every group (the values schedulers touch)."""
    out = []
    for g in opt.param_groups:
        lr = g["lr"]
        out.append(float(lr) if hasattr(lr, "item") else lr)
        out.append(g.get("momentum"))
        out.append(g["betas"][0] if "betas" in g else None)
    return out


def _run(lib, make_opt, make_sched, steps, metrics=None, resume_at=None):
    """Step optimizer then scheduler `steps` times; optionally rebuild both from state dicts mid-way."""
    opt = make_opt(lib)
    sched = make_sched(lib, opt)
    seq = [_snap(opt)]
    last = [list(map(float, sched.get_last_lr()))]
    for i in range(steps):
        if resume_at is not None and i == resume_at:
            o_sd, s_sd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
            opt = make_opt(lib)
            sched = make_sched(lib, opt)
            opt.load_state_dict(o_sd)
            sched.load_state_dict(s_sd)
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        seq.append(_snap(opt))
        last.append(list(map(float, sched.get_last_lr())))
    return seq, last, sched


def _assert_seq(e, t):
    assert len(e) == len(t)
    for i, (a, b) in enumerate(zip(e, t)):
        assert len(a) == len(b), f"step {i}: {a} vs {b}"
        for x, y in zip(a, b):
            if y is None:
                assert x is None, f"step {i}: {a} vs torch {b}"
            else:
                assert x is not None and math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15), (
                    f"step {i}: {a} vs {b}"
                )


L = lambda lib: lib.optim.lr_scheduler  # noqa: E731


class _Halve:
    """A callable-object lambda (its __dict__ goes into the state dict)."""

    def __init__(self):
        self.base = 0.97

    def __call__(self, epoch):
        return self.base**epoch


SCHEDULERS = {
    "lambda": ("sgd", lambda lib, o: L(lib).LambdaLR(o, lambda e: 1.0 / (1 + e))),
    "lambda-list": ("sgd", lambda lib, o: L(lib).LambdaLR(o, [lambda e: 0.95**e, _Halve()])),
    "multiplicative": ("sgd", lambda lib, o: L(lib).MultiplicativeLR(o, lambda e: 0.95 if e % 3 else 1.02)),
    "step": ("sgd", lambda lib, o: L(lib).StepLR(o, step_size=7, gamma=0.5)),
    "multistep": ("sgd", lambda lib, o: L(lib).MultiStepLR(o, milestones=[5, 15, 15, 30], gamma=0.3)),
    "constant": ("sgd", lambda lib, o: L(lib).ConstantLR(o, factor=0.5, total_iters=8)),
    "constant-default": ("adam", lambda lib, o: L(lib).ConstantLR(o)),
    "linear": ("sgd", lambda lib, o: L(lib).LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=12)),
    "linear-decay": (
        "sgd",
        lambda lib, o: L(lib).LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=30),
    ),
    "exponential": ("sgd", lambda lib, o: L(lib).ExponentialLR(o, gamma=0.93)),
    "polynomial": ("sgd", lambda lib, o: L(lib).PolynomialLR(o, total_iters=30, power=2.0)),
    "polynomial-default": ("sgd", lambda lib, o: L(lib).PolynomialLR(o)),
    "cosine": ("sgd", lambda lib, o: L(lib).CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "cosine-long": ("sgd", lambda lib, o: L(lib).CosineAnnealingLR(o, T_max=60)),
    "warm-restarts": (
        "sgd",
        lambda lib, o: L(lib).CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.01),
    ),
    "warm-restarts-t1": ("sgd", lambda lib, o: L(lib).CosineAnnealingWarmRestarts(o, T_0=7)),
    "onecycle": ("sgd", lambda lib, o: L(lib).OneCycleLR(o, max_lr=1.0, total_steps=50)),
    "onecycle-linear": (
        "sgd",
        lambda lib, o: L(lib).OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=60, anneal_strategy="linear"),
    ),
    "onecycle-three-phase": (
        "sgd",
        lambda lib, o: L(lib).OneCycleLR(o, max_lr=0.5, total_steps=50, three_phase=True, pct_start=0.25),
    ),
    "onecycle-adam": (
        "adam",
        lambda lib, o: L(lib).OneCycleLR(
            o, max_lr=0.01, epochs=5, steps_per_epoch=10, base_momentum=[0.8, 0.7], max_momentum=0.9
        ),
    ),
    "onecycle-no-momentum": (
        "adagrad",
        lambda lib, o: L(lib).OneCycleLR(
            o, max_lr=0.3, total_steps=55, cycle_momentum=False, div_factor=10.0, final_div_factor=100.0
        ),
    ),
    "cyclic": ("sgd", lambda lib, o: L(lib).CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5)),
    "cyclic-triangular2": (
        "sgd",
        lambda lib, o: L(lib).CyclicLR(
            o, [0.01, 0.02], [0.1, 0.3], step_size_up=4, step_size_down=6, mode="triangular2"
        ),
    ),
    "cyclic-exp-range": (
        "sgd",
        lambda lib, o: L(lib).CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.95),
    ),
    "cyclic-scale-fn": (
        "sgd",
        lambda lib, o: L(lib).CyclicLR(
            o, 0.01, 0.1, step_size_up=4, scale_fn=lambda x: 1 / (1.0 + x), scale_mode="iterations"
        ),
    ),
    "cyclic-adam": (
        "adam",
        lambda lib, o: L(lib).CyclicLR(o, 0.001, 0.01, step_size_up=6, base_momentum=0.8, max_momentum=0.95),
    ),
    "cyclic-no-momentum": (
        "adagrad",
        lambda lib, o: L(lib).CyclicLR(o, 0.001, 0.01, step_size_up=6, cycle_momentum=False),
    ),
    "sequential": (
        "sgd",
        lambda lib, o: L(lib).SequentialLR(
            o, [L(lib).LinearLR(o, 0.1, total_iters=10), L(lib).ExponentialLR(o, 0.9)], milestones=[10]
        ),
    ),
    "sequential-3": (
        "sgd",
        lambda lib, o: L(lib).SequentialLR(
            o,
            [
                L(lib).ConstantLR(o, 0.1, total_iters=5),
                L(lib).StepLR(o, 4, 0.5),
                L(lib).CosineAnnealingLR(o, 12),
            ],
            milestones=[5, 20],
        ),
    ),
    "chained": (
        "sgd",
        lambda lib, o: L(lib).ChainedScheduler(
            [L(lib).ConstantLR(o, 0.1, total_iters=4), L(lib).ExponentialLR(o, 0.9)]
        ),
    ),
    "chained-3": (
        "sgd",
        lambda lib, o: L(lib).ChainedScheduler(
            [
                L(lib).LinearLR(o, 0.5, total_iters=10),
                L(lib).MultiStepLR(o, [8, 20], 0.5),
                L(lib).StepLR(o, 3, 0.9),
            ],
            optimizer=o,
        ),
    ),
    "sequential-in-chained": (
        "sgd",
        lambda lib, o: L(lib).ChainedScheduler(
            [
                L(lib).SequentialLR(
                    o,
                    [L(lib).ConstantLR(o, 0.5, total_iters=3), L(lib).ExponentialLR(o, 0.95)],
                    milestones=[6],
                ),
                L(lib).StepLR(o, 5, 0.5),
            ]
        ),
    ),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_lr_sequence_matches_torch(name):
    kind, make = SCHEDULERS[name]
    make_opt = lambda lib: _opt(lib, kind)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        se, le, sch_e = _run(ember, make_opt, make, 50)
        st, lt, sch_t = _run(torch, make_opt, make, 50)
    _assert_seq(se, st)
    _assert_seq(le, lt)
    assert sorted(sch_e.state_dict()) == sorted(sch_t.state_dict())
    assert getattr(sch_e, "last_epoch", None) == getattr(sch_t, "last_epoch", None)


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_state_dict_round_trip(name):
    kind, make = SCHEDULERS[name]
    make_opt = lambda lib: _opt(lib, kind)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        se, le, _ = _run(ember, make_opt, make, 50)
        se2, le2, _ = _run(ember, make_opt, make, 50, resume_at=23)
        st2, lt2, _ = _run(torch, make_opt, make, 50, resume_at=23)
    _assert_seq(se2, se)
    _assert_seq(le2, le)
    _assert_seq(se2, st2)


PLATEAU = {
    "min-rel": dict(patience=2),
    "min-abs-cooldown": dict(threshold_mode="abs", threshold=0.05, cooldown=2, patience=1, factor=0.5),
    "max-rel": dict(mode="max", patience=1, factor=0.3, threshold=0.01),
    "max-abs-min-lr": dict(mode="max", threshold_mode="abs", patience=0, factor=0.5, min_lr=[0.02, 0.001]),
    "min-lr-eps": dict(patience=0, factor=0.5, min_lr=0.01, eps=1e-3),
}
_METRICS = [
    1.0,
    0.9,
    0.95,
    0.93,
    0.94,
    0.92,
    0.921,
    0.922,
    0.5,
    0.51,
    0.52,
    0.53,
    0.54,
    0.4,
    0.41,
    0.6,
    0.2,
    0.2,
]
_METRICS = _METRICS + [0.2 + 0.01 * math.sin(i) for i in range(20)] + [0.1 * 0.9**i for i in range(12)]


@pytest.mark.parametrize("name", list(PLATEAU))
@pytest.mark.parametrize("resume", [None, 20])
def test_reduce_lr_on_plateau(name, resume):
    kw = PLATEAU[name]
    make = lambda lib, o: L(lib).ReduceLROnPlateau(o, **kw)  # noqa: E731
    metrics = _METRICS if name.startswith("min") else [-m for m in _METRICS]
    se, le, sch_e = _run(ember, _opt, make, len(metrics), metrics=metrics, resume_at=resume)
    st, lt, sch_t = _run(torch, _opt, make, len(metrics), metrics=metrics, resume_at=resume)
    _assert_seq(se, st)
    _assert_seq(le, lt)
    for attr in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch", "mode_worse", "min_lrs"):
        assert getattr(sch_e, attr) == getattr(sch_t, attr), attr
    assert sorted(sch_e.state_dict()) == sorted(sch_t.state_dict())


def test_reduce_lr_on_plateau_tensor_metric_and_new_group():
    for lib in (ember, torch):
        o = _opt(lib)
        s = L(lib).ReduceLROnPlateau(o, patience=0, factor=0.5)
        s.step(lib.tensor(1.0))
        s.step(lib.tensor(2.0))
        assert [g["lr"] for g in o.param_groups] == [0.05, 0.015]
        o.add_param_group({"params": [lib.zeros(1, requires_grad=True)], "lr": 0.2})
        s.step(3.0)
        assert [g["lr"] for g in o.param_groups] == [0.025, 0.0075, 0.1]
        s2 = L(lib).ReduceLROnPlateau(_opt(lib), patience=0, min_lr=[0.0, 0.0])
        s2.optimizer.add_param_group({"params": [lib.zeros(1, requires_grad=True)]})
        s2.step(1.0)
        with pytest.raises(RuntimeError, match="The number of param groups in the `optimizer`"):
            s2.step(2.0)


CLOSED_FORM = {
    "step": lambda lib, o: L(lib).StepLR(o, 3, 0.5),
    "multistep": lambda lib, o: L(lib).MultiStepLR(o, [2, 5, 5, 9], 0.5),
    "constant": lambda lib, o: L(lib).ConstantLR(o, 0.25, total_iters=4),
    "linear": lambda lib, o: L(lib).LinearLR(o, 0.25, 0.75, total_iters=6),
    "exponential": lambda lib, o: L(lib).ExponentialLR(o, 0.8),
    "polynomial": lambda lib, o: L(lib).PolynomialLR(o, total_iters=8, power=1.5),
    "cosine": lambda lib, o: L(lib).CosineAnnealingLR(o, T_max=6, eta_min=0.01),
    "lambda": lambda lib, o: L(lib).LambdaLR(o, lambda e: 0.5**e),
}


@pytest.mark.parametrize("name", list(CLOSED_FORM))
def test_step_with_epoch_uses_closed_form(name):
    epochs = [3, 7, 1, 10, 10, 4, 0, 12, 5]
    res = {}
    for lib in (ember, torch):
        o = _opt(lib)
        s = CLOSED_FORM[name](lib, o)
        seq = []
        for e in epochs:
            o.step()
            with pytest.warns(UserWarning, match="The epoch parameter"):
                s.step(e)
            seq.append(_snap(o))
            if hasattr(s, "_get_closed_form_lr"):
                with warnings.catch_warnings():
                    warnings.simplefilter("error")
                    seq.append(list(map(float, s._get_closed_form_lr())))
        res[lib.__name__] = seq
    _assert_seq(res["ember"], res["torch"])


def test_warm_restarts_fractional_epochs():
    res = {}
    for lib in (ember, torch):
        for t_mult in (1, 2, 3):
            o = _opt(lib)
            s = L(lib).CosineAnnealingWarmRestarts(o, T_0=3, T_mult=t_mult, eta_min=0.001)
            seq = []
            iters = 7
            for epoch in range(12):
                for i in range(iters):
                    o.step()
                    s.step(epoch + i / iters)
                    seq.append(_snap(o) + [s.T_cur, s.T_i, s.last_epoch])
            with pytest.raises(ValueError, match="Expected non-negative epoch"):
                s.step(-1)
            res.setdefault(lib.__name__, []).extend(seq)
    _assert_seq(res["ember"], res["torch"])


def test_user_subclass_of_lr_scheduler():
    def make_cls(lib):
        class Warmup(L(lib).LRScheduler):
            def __init__(self, optimizer, warmup, last_epoch=-1):
                self.warmup = warmup
                super().__init__(optimizer, last_epoch)

            def get_lr(self):
                scale = min(1.0, (self.last_epoch + 1) / self.warmup)
                return [
                    base * scale * 0.99 ** max(0, self.last_epoch - self.warmup) for base in self.base_lrs
                ]

        return Warmup

    make = lambda lib, o: make_cls(lib)(o, warmup=8)  # noqa: E731
    se, le, sch_e = _run(ember, _opt, make, 40, resume_at=13)
    st, lt, sch_t = _run(torch, _opt, make, 40, resume_at=13)
    _assert_seq(se, st)
    _assert_seq(le, lt)
    assert sorted(sch_e.state_dict()) == sorted(sch_t.state_dict())
    assert issubclass(ember.optim.lr_scheduler._LRScheduler, ember.optim.lr_scheduler.LRScheduler)
    # get_lr() outside step() warns, like torch
    for lib, sch in ((ember, sch_e), (torch, sch_t)):
        with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
            L(lib).StepLR(_opt(lib), 3).get_lr()
        assert sch.base_lrs == [0.1, 0.03]


def test_resume_with_last_epoch():
    for lib in (ember, torch):
        o = _opt(lib)
        with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups\\[0\\]"):
            L(lib).StepLR(o, 3, last_epoch=4)
    res = {}
    for lib in (ember, torch):
        o = _opt(lib)
        s = L(lib).StepLR(o, 3, 0.5)
        for _ in range(5):
            o.step()
            s.step()
        s2 = L(lib).ExponentialLR(o, 0.9, last_epoch=s.last_epoch)
        seq = [_snap(o)]
        for _ in range(4):
            o.step()
            s2.step()
            seq.append(_snap(o))
        res[lib.__name__] = seq
    _assert_seq(res["ember"], res["torch"])


def test_tensor_lr_keeps_identity():
    res = {}
    for lib in (ember, torch):
        p = lib.zeros(2, requires_grad=True)
        lr = lib.tensor(0.1)
        o = lib.optim.Adam([p], lr=lr)
        s = L(lib).StepLR(o, 2, 0.5)
        seq = []
        for _ in range(7):
            o.step()
            s.step()
            assert o.param_groups[0]["lr"] is lr
            assert isinstance(s.get_last_lr()[0], lib.Tensor) and s.get_last_lr()[0] is not lr
            seq.append([float(lr)])
        res[lib.__name__] = seq
    _assert_seq(res["ember"], res["torch"])


def test_step_order_warning():
    for lib in (ember, torch):
        o = _opt(lib)
        s = L(lib).StepLR(o, 3)
        with pytest.warns(
            UserWarning, match="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`"
        ):
            s.step()
        o2 = _opt(lib)
        s2 = L(lib).StepLR(o2, 3)
        o2.step()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            s2.step()
        assert o2._opt_called and hasattr(o2.step, "_wrapped_by_lr_sched")


def test_onecycle_overrun_raises():
    for lib in (ember, torch):
        o = _opt(lib)
        s = L(lib).OneCycleLR(o, max_lr=0.1, total_steps=3)
        for _ in range(2):
            o.step()
            s.step()
        o.step()
        s.step()
        with pytest.raises(
            ValueError, match="Tried to step 4 times. The specified number of total steps is 3"
        ):
            s.step()


ERRORS = {
    "not-optimizer": lambda lib: L(lib).StepLR("sgd", 3),
    "constant-factor": lambda lib: L(lib).ConstantLR(_opt(lib), factor=1.5),
    "linear-start": lambda lib: L(lib).LinearLR(_opt(lib), start_factor=0.0),
    "linear-end": lambda lib: L(lib).LinearLR(_opt(lib), end_factor=1.5),
    "lambda-count": lambda lib: L(lib).LambdaLR(_opt(lib), [lambda e: 1.0]),
    "multiplicative-not-callable": lambda lib: L(lib).MultiplicativeLR(_opt(lib), [1.0, 2.0]),
    "warm-T0": lambda lib: L(lib).CosineAnnealingWarmRestarts(_opt(lib), T_0=0),
    "warm-T0-float": lambda lib: L(lib).CosineAnnealingWarmRestarts(_opt(lib), T_0=2.0),
    "warm-Tmult": lambda lib: L(lib).CosineAnnealingWarmRestarts(_opt(lib), T_0=2, T_mult=0),
    "warm-eta-min": lambda lib: L(lib).CosineAnnealingWarmRestarts(_opt(lib), T_0=2, eta_min="0"),
    "onecycle-no-steps": lambda lib: L(lib).OneCycleLR(_opt(lib), max_lr=0.1),
    "onecycle-total-steps": lambda lib: L(lib).OneCycleLR(_opt(lib), max_lr=0.1, total_steps=0),
    "onecycle-epochs": lambda lib: L(lib).OneCycleLR(_opt(lib), max_lr=0.1, epochs=0, steps_per_epoch=3),
    "onecycle-steps-per-epoch": lambda lib: L(lib).OneCycleLR(
        _opt(lib), max_lr=0.1, epochs=2, steps_per_epoch=-1
    ),
    "onecycle-pct": lambda lib: L(lib).OneCycleLR(_opt(lib), max_lr=0.1, total_steps=10, pct_start=1),
    "onecycle-anneal": lambda lib: L(lib).OneCycleLR(
        _opt(lib), max_lr=0.1, total_steps=10, anneal_strategy="exp"
    ),
    "onecycle-momentum": lambda lib: L(lib).OneCycleLR(_opt(lib, "adagrad"), max_lr=0.1, total_steps=10),
    "onecycle-max-lr-len": lambda lib: L(lib).OneCycleLR(_opt(lib), max_lr=[0.1], total_steps=10),
    "cyclic-mode": lambda lib: L(lib).CyclicLR(_opt(lib), 0.01, 0.1, mode="sine"),
    "cyclic-momentum": lambda lib: L(lib).CyclicLR(_opt(lib, "adagrad"), 0.01, 0.1),
    "cyclic-not-optimizer": lambda lib: L(lib).CyclicLR(None, 0.01, 0.1),
    "plateau-factor": lambda lib: L(lib).ReduceLROnPlateau(_opt(lib), factor=1.0),
    "plateau-mode": lambda lib: L(lib).ReduceLROnPlateau(_opt(lib), mode="up"),
    "plateau-threshold-mode": lambda lib: L(lib).ReduceLROnPlateau(_opt(lib), threshold_mode="pct"),
    "plateau-min-lr": lambda lib: L(lib).ReduceLROnPlateau(_opt(lib), min_lr=[0.1]),
    "sequential-empty": lambda lib: L(lib).SequentialLR(_opt(lib), [], []),
    "sequential-milestones": lambda lib: (
        lambda o: L(lib).SequentialLR(o, [L(lib).StepLR(o, 2), L(lib).StepLR(o, 3)], milestones=[2, 4])
    )(_opt(lib)),
    "sequential-plateau": lambda lib: (
        lambda o: L(lib).SequentialLR(o, [L(lib).StepLR(o, 2), L(lib).ReduceLROnPlateau(o)], milestones=[2])
    )(_opt(lib)),
    "sequential-other-optimizer": lambda lib: (
        lambda o: L(lib).SequentialLR(o, [L(lib).StepLR(o, 2), L(lib).StepLR(_opt(lib), 2)], milestones=[2])
    )(_opt(lib)),
    "sequential-no-optimizer-attr": lambda lib: L(lib).SequentialLR(_opt(lib), [object()], milestones=[]),
    "chained-empty": lambda lib: L(lib).ChainedScheduler([]),
    "chained-plateau": lambda lib: (lambda o: L(lib).ChainedScheduler([L(lib).ReduceLROnPlateau(o)]))(
        _opt(lib)
    ),
    "base-get-lr": lambda lib: L(lib).LRScheduler(_opt(lib)),
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
    if case not in ("sequential-other-optimizer",):  # that message embeds the optimizer's repr
        assert str(ee) == str(et).replace("torch", "ember")


def test_sequential_and_chained_last_lr_and_get_last_lr_types():
    res = {}
    for lib in (ember, torch):
        o = _opt(lib)
        a, b = L(lib).ConstantLR(o, 0.5, total_iters=2), L(lib).ExponentialLR(o, 0.5)
        seq_s = L(lib).SequentialLR(o, [a, b], milestones=[3])
        vals = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(6):
                o.step()
                seq_s.step()
                vals.append(list(seq_s.get_last_lr()) + [a.last_epoch, b.last_epoch, seq_s.last_epoch])
        res[lib.__name__] = vals
    _assert_seq(res["ember"], res["torch"])
    assert np.isfinite(np.array(res["ember"], dtype=float)).all()

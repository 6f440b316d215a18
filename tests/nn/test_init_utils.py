"""nn.init distributions, nn.utils (clip_grad, vectors), utils.checkpoint — against torch."""

import math

import numpy as np
import pytest
import torch

import ember
from tests.helpers import assert_close


def _stats(t):
    a = t.detach().cpu().numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


@pytest.mark.parametrize("shape", [(256, 128), (64, 32, 3, 3)])
def test_init_distributions_match_torch(shape):
    cases = [
        ("uniform_", {"a": -0.3, "b": 0.7}),
        ("normal_", {"mean": 0.5, "std": 2.0}),
        ("xavier_uniform_", {"gain": 1.5}),
        ("xavier_normal_", {}),
        ("kaiming_uniform_", {"a": math.sqrt(5)}),
        ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
        ("trunc_normal_", {"std": 0.02, "a": -0.04, "b": 0.04}),
    ]
    for name, kw in cases:
        te = getattr(ember.nn.init, name)(ember.empty(*shape), **kw)
        tt = getattr(torch.nn.init, name)(torch.empty(*shape), **kw)
        me, se, lo_e, hi_e = _stats(te)
        mt, st, lo_t, hi_t = _stats(tt)
        assert abs(me - mt) < 0.05 * st + 1e-3, name
        assert abs(se - st) < 0.05 * st, name
        if "uniform" in name or "trunc" in name:  # bounded distributions: same support
            assert lo_e >= lo_t - 0.05 * st and hi_e <= hi_t + 0.05 * st, name


def test_init_deterministic_ones():
    for name in ("zeros_", "ones_", "eye_"):
        assert_close(
            getattr(ember.nn.init, name)(ember.empty(3, 4)), getattr(torch.nn.init, name)(torch.empty(3, 4))
        )
    assert_close(
        ember.nn.init.constant_(ember.empty(2, 2), 0.3), torch.nn.init.constant_(torch.empty(2, 2), 0.3)
    )
    assert_close(ember.nn.init.dirac_(ember.empty(4, 2, 3, 3)), torch.nn.init.dirac_(torch.empty(4, 2, 3, 3)))
    q = ember.nn.init.orthogonal_(ember.empty(6, 4), gain=2.0)
    assert_close(q.t() @ q, torch.eye(4) * 4, atol=1e-5)
    for nl in ("linear", "relu", "tanh", "selu", "sigmoid"):
        assert ember.nn.init.calculate_gain(nl) == torch.nn.init.calculate_gain(nl)
    assert ember.nn.init.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain("leaky_relu", 0.2)
    with pytest.raises(ValueError):
        ember.nn.init.calculate_gain("nope")
    with pytest.raises(ValueError):
        ember.nn.init.xavier_uniform_(ember.empty(3))
    x = ember.ones(3, requires_grad=True)
    ember.nn.init.normal_(x)
    assert x.is_leaf and x.requires_grad


def _grads(lib, seed=0):
    rng = np.random.default_rng(seed)
    ps = [lib.tensor(rng.standard_normal(s) * 3, requires_grad=True) for s in [(3, 4), (5,), (2, 2, 2)]]
    for p in ps:
        p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)) * 4)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm(norm_type, max_norm):
    pe, pt = _grads(ember), _grads(torch)
    ne = ember.nn.utils.clip_grad_norm_(pe, max_norm, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type)
    assert_close(ne, nt)
    for a, b in zip(pe, pt):
        assert_close(a.grad, b.grad)


def test_clip_grad_value_and_nonfinite():
    pe, pt = _grads(ember), _grads(torch)
    ember.nn.utils.clip_grad_value_(pe, 1.5)
    torch.nn.utils.clip_grad_value_(pt, 1.5)
    for a, b in zip(pe, pt):
        assert_close(a.grad, b.grad)
    pe = _grads(ember)
    pe[0].grad[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match="non-finite"):
        ember.nn.utils.clip_grad_norm_(pe, 1.0, error_if_nonfinite=True)
    assert ember.nn.utils.clip_grad_norm_([ember.ones(2, requires_grad=True)], 1.0).item() == 0.0


def test_parameters_vector_round_trip():
    pe, pt = _grads(ember), _grads(torch)
    ve, vt = ember.nn.utils.parameters_to_vector(pe), torch.nn.utils.parameters_to_vector(pt)
    assert_close(ve, vt)
    ember.nn.utils.vector_to_parameters(ve * 2, pe)
    torch.nn.utils.vector_to_parameters(vt * 2, pt)
    for a, b in zip(pe, pt):
        assert_close(a, b)


def test_checkpoint_matches_plain_backward_and_rng():
    def block(lib, x, w):
        h = (x @ w).tanh()
        return lib.nn.functional.dropout(h, 0.5, training=True) * 2

    res = {}
    for use_ckpt in (False, True):
        ember.manual_seed(0)
        w = ember.tensor(np.linspace(-1, 1, 12).reshape(3, 4), requires_grad=True)
        x = ember.tensor(np.linspace(0, 2, 6).reshape(2, 3), requires_grad=True)
        if use_ckpt:
            out = ember.utils.checkpoint.checkpoint(
                lambda a, b: block(ember, a, b), x, w, use_reentrant=False
            )
        else:
            out = block(ember, x, w)
        out.sum().backward()
        res[use_ckpt] = (out.detach(), w.grad, x.grad)
    for a, b in zip(res[False], res[True]):
        np.testing.assert_allclose(a.cpu().numpy(), b.cpu().numpy(), rtol=1e-6)

"""autocast: the per-op dtype policy matches torch's, op by op, on the CPU (bf16, fp16) and on CUDA.

torch is the oracle for the policy: each case runs the same code under torch.autocast and ember.autocast
and compares the result dtype, the values (loosely: low-precision products) and the gradients' dtypes.
The CUDA cases need torch with CUDA as the oracle too (the GPU machine has it); they are marked `cuda`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(0)


def _arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


# name -> (input shapes, fn(m, *tensors)); m is torch or ember, F its nn.functional
CASES = {
    "matmul": ([(3, 4), (4, 5)], lambda m, a, b: a @ b),
    "bmm": ([(2, 3, 4), (2, 4, 5)], lambda m, a, b: m.bmm(a, b)),
    "addmm": ([(3, 5), (3, 4), (4, 5)], lambda m, c, a, b: m.addmm(c, a, b)),
    "baddbmm": ([(2, 3, 5), (2, 3, 4), (2, 4, 5)], lambda m, c, a, b: m.baddbmm(c, a, b)),
    "linear": ([(3, 4), (5, 4), (5,)], lambda m, x, w, b: m.nn.functional.linear(x, w, b)),
    "conv2d": ([(1, 2, 5, 5), (3, 2, 3, 3), (3,)], lambda m, x, w, b: m.nn.functional.conv2d(x, w, b)),
    "conv1d": ([(1, 2, 7), (3, 2, 3)], lambda m, x, w: m.nn.functional.conv1d(x, w)),
    "sdpa": (
        [(1, 2, 4, 8), (1, 2, 4, 8), (1, 2, 4, 8)],
        lambda m, q, k, v: m.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True),
    ),
    "einsum": ([(3, 4), (4, 5)], lambda m, a, b: m.einsum("ij,jk->ik", a, b)),
    "softmax": ([(3, 4)], lambda m, x: x.softmax(-1)),
    "log_softmax": ([(3, 4)], lambda m, x: m.log_softmax(x, -1)),
    "exp": ([(3, 4)], lambda m, x: x.exp()),
    "log": ([(3, 4)], lambda m, x: x.abs().log()),
    "sum": ([(3, 4)], lambda m, x: x.sum()),
    "mean": ([(3, 4)], lambda m, x: x.mean()),
    "prod": ([(3, 4)], lambda m, x: x.prod(-1)),
    "cumsum": ([(3, 4)], lambda m, x: x.cumsum(0)),
    "pow": ([(3, 4)], lambda m, x: x.pow(2)),
    "tanh": ([(3, 4)], lambda m, x: x.tanh()),
    "gelu": ([(3, 4)], lambda m, x: m.nn.functional.gelu(x)),
    "layer_norm": ([(3, 4), (4,), (4,)], lambda m, x, w, b: m.nn.functional.layer_norm(x, (4,), w, b)),
    "group_norm": ([(2, 4, 3)], lambda m, x: m.nn.functional.group_norm(x, 2)),
    "cross_entropy": ([(3, 5)], lambda m, x: m.nn.functional.cross_entropy(x, m.tensor([0, 4, 2], device=x.device))),
    "mse_loss": ([(3, 4), (3, 4)], lambda m, a, b: m.nn.functional.mse_loss(a, b)),
    "l1_loss": ([(3, 4), (3, 4)], lambda m, a, b: m.nn.functional.l1_loss(a, b)),
    "bce_logits": (
        [(3, 4)],
        lambda m, x: m.nn.functional.binary_cross_entropy_with_logits(x, m.ones(3, 4, device=x.device)),
    ),
    "cosine_similarity": ([(3, 4), (3, 4)], lambda m, a, b: m.nn.functional.cosine_similarity(a, b)),
    "normalize": ([(3, 4)], lambda m, x: m.nn.functional.normalize(x)),
    "cdist": ([(3, 4), (2, 4)], lambda m, a, b: m.cdist(a, b)),
    # mixtures: a low-precision product meeting a float32 tensor promotes back to float32
    "linear_then_add": ([(3, 4), (5, 4), (3, 5)], lambda m, x, w, r: m.nn.functional.linear(x, w) + r),
    "linear_then_softmax": ([(3, 4), (5, 4)], lambda m, x, w: m.nn.functional.linear(x, w).softmax(-1)),
    "linear_then_layer_norm": (
        [(3, 4), (5, 4)],
        lambda m, x, w: m.nn.functional.layer_norm(m.nn.functional.linear(x, w), (5,)),
    ),
    "float64_stays": ([(3, 4), (4, 5)], lambda m, a, b: a.double() @ b.double()),
}


def _run(m, name, arrs, device, dtype, grad=True):
    _, fn = CASES[name]
    ts = [m.tensor(a, device=device, requires_grad=grad) for a in arrs]
    with m.autocast(device, dtype=getattr(m, dtype)):
        out = fn(m, *ts)
    grads = None
    if grad:
        out.float().sum().backward()
        grads = [t.grad for t in ts]
    return out, grads


def _check(name, device, dtype):
    arrs = [_arr(*s) for s in CASES[name][0]]
    t_out, t_grads = _run(torch, name, arrs, device, dtype)
    e_out, e_grads = _run(ember, name, arrs, device, dtype)
    assert str(e_out.dtype).replace("ember.", "torch.") == str(t_out.dtype), (name, e_out.dtype, t_out.dtype)
    low = t_out.dtype in (torch.bfloat16, torch.float16) or dtype == "bfloat16"
    tol = 5e-2 if low else 2e-3
    np.testing.assert_allclose(
        e_out.detach().float().cpu().numpy(), t_out.detach().float().cpu().numpy(), rtol=tol, atol=tol
    )
    for eg, tg in zip(e_grads, t_grads):
        assert (eg is None) == (tg is None)
        if eg is not None:
            assert str(eg.dtype).replace("ember.", "torch.") == str(tg.dtype)
            np.testing.assert_allclose(
                eg.float().cpu().numpy(), tg.float().cpu().numpy(), rtol=10 * tol, atol=10 * tol
            )


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cpu_policy_matches_torch(name, dtype):
    _check(name, "cpu", dtype)


_TORCH_CUDA = torch.cuda.is_available()


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_cuda_policy_matches_torch(name, dtype):
    assert _TORCH_CUDA, "the CUDA policy oracle is torch with CUDA (present on the GPU machine)"
    _check(name, "cuda", dtype)


@pytest.mark.cuda
def test_cuda_bce_is_banned_like_torch():
    x = ember.rand(3, device="cuda")
    with ember.autocast("cuda"), pytest.raises(RuntimeError, match="unsafe to autocast"):
        ember.nn.functional.binary_cross_entropy(x, x)
    with ember.autocast("cuda", enabled=False):
        assert ember.nn.functional.binary_cross_entropy(x, x).dtype is ember.float32


def test_state_nesting_and_decorator():
    assert not ember.is_autocast_enabled("cpu")
    x = ember.randn(2, 3, device="cpu")
    w = ember.randn(3, 3, device="cpu")
    with ember.autocast("cpu", dtype=ember.bfloat16):
        assert ember.is_autocast_enabled("cpu") and ember.get_autocast_dtype("cpu") is ember.bfloat16
        assert (x @ w).dtype is ember.bfloat16
        with ember.autocast("cpu", enabled=False):
            assert not ember.is_autocast_enabled("cpu")
            assert (x @ w).dtype is ember.float32
        with ember.autocast("cpu", dtype=ember.float16):
            assert (x @ w).dtype is ember.float16
        assert (x @ w).dtype is ember.bfloat16  # the outer state is back
    assert not ember.is_autocast_enabled("cpu") and (x @ w).dtype is ember.float32

    @ember.autocast("cpu")
    def f(a, b):
        return a @ b

    assert f(x, w).dtype is ember.bfloat16 and (x @ w).dtype is ember.float32


def test_backward_is_not_autocast_and_grads_keep_param_dtype():
    lin = ember.nn.Linear(4, 3).to("cpu")
    x = ember.randn(5, 4, device="cpu")
    with ember.autocast("cpu"):
        y = lin(x)
        assert y.dtype is ember.bfloat16
        loss = y.float().pow(2).mean()
        loss.backward()  # backward inside the region still runs the recorded graph as recorded
    assert lin.weight.grad.dtype is ember.float32 and lin.bias.grad.dtype is ember.float32


def test_unsupported_dtype_and_device_warn_and_disable():
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        ac = ember.autocast("cpu", dtype=ember.float64)
    with ac:
        assert not ember.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        ember.autocast(ember.device("cpu"))
    if not ember.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            ember.autocast("cuda")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ember.autocast("cuda")


def test_other_device_type_is_untouched():
    x = ember.randn(2, 3, device="cpu")
    with ember.autocast("cuda", enabled=False), ember.autocast("cpu", enabled=False):
        assert (x @ x.T).dtype is ember.float32
    if ember.cuda.is_available():
        with ember.autocast("cuda"):  # CPU tensors are not cast by a CUDA region
            assert (x @ x.T).dtype is ember.float32


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_gpt_steps_under_autocast_match_torch(device):
    """nanoGPT's code (the same source for both libraries) trained 3 AdamW steps under bf16 autocast from the
    same weights: the losses follow torch's and stay float32, the parameters stay float32."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    from train_cpu import gpt as generic_gpt

    if device == "cuda":
        assert _TORCH_CUDA, "the oracle is torch with CUDA"
    ember.set_default_device(device)
    torch.set_default_device(device)
    try:
        torch.manual_seed(0)
        tm = generic_gpt(torch, vocab=32, block=16, n_layer=2, n_head=2, n_embd=32)
        em = generic_gpt(ember, vocab=32, block=16, n_layer=2, n_head=2, n_embd=32)
        em.load_state_dict({k: ember.tensor(v.cpu().numpy()) for k, v in tm.state_dict().items()})
        t_opt = torch.optim.AdamW(tm.parameters(), lr=1e-3)
        e_opt = ember.optim.AdamW(em.parameters(), lr=1e-3)
        for _ in range(3):
            idx = RNG.integers(0, 32, (4, 17))
            x, y = idx[:, :-1].copy(), idx[:, 1:].copy()
            with torch.autocast(device, dtype=torch.bfloat16):
                t_loss = tm(torch.tensor(x), torch.tensor(y))
            with ember.autocast(device, dtype=ember.bfloat16):
                e_loss = em(ember.tensor(x), ember.tensor(y))
            assert e_loss.dtype is ember.float32 and t_loss.dtype is torch.float32
            np.testing.assert_allclose(e_loss.item(), t_loss.item(), rtol=2e-2)
            for loss, opt in ((t_loss, t_opt), (e_loss, e_opt)):
                opt.zero_grad()
                loss.backward()
                opt.step()
        assert all(p.dtype is ember.float32 for p in em.parameters())
    finally:
        torch.set_default_device(None)

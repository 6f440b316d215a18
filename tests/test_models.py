"""Reference models: shapes, parameter names, weight tying, generation; end-to-end training against torch."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ember
from ember.models import GPT, MLP, GPTConfig, SmallCNN
from tests.helpers import assert_close

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from train_cpu import gpt as generic_gpt  # noqa: E402  (the same model code for both libraries)


def test_gpt_shapes_names_tying_generate():
    ember.manual_seed(0)
    cfg = GPTConfig(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=8)
    m = GPT(cfg)
    names = [n for n, _ in m.named_parameters()]
    assert names[0] == "transformer.wte.weight" and "transformer.h.1.attn.c_attn.weight" in names
    assert "lm_head.weight" not in names  # tied to wte (counted once)
    assert m.lm_head.weight is m.transformer.wte.weight
    idx = ember.randint(0, 11, (3, 10))
    logits, loss = m(idx, idx)
    assert tuple(logits.shape) == (3, 10, 11) and loss.dim() == 0
    assert abs(loss.item() - np.log(11)) < 0.5
    logits, loss = m(idx)
    assert tuple(logits.shape) == (3, 1, 11) and loss is None
    out = m.generate(idx[:, :2], 20, temperature=0.9, top_k=5, generator=ember.Generator(idx.device).manual_seed(1))
    assert tuple(out.shape) == (3, 22) and int(out.max()) < 11
    again = m.generate(idx[:, :2], 20, temperature=0.9, top_k=5, generator=ember.Generator(idx.device).manual_seed(1))
    assert out.tolist() == again.tolist()
    with pytest.raises(ValueError, match="block_size"):
        m(ember.zeros(1, 17, dtype=ember.int64))


def test_mlp_and_cnn_forward_backward():
    x = ember.randn(4, 1, 28, 28)
    for m in (MLP(784, [32, 16], 10, dropout=0.1), SmallCNN(width=4)):
        out = m(x)
        assert tuple(out.shape) == (4, 10)
        out.sum().backward()
        assert all(p.grad is not None for p in m.parameters())


def test_end_to_end_training_matches_torch():
    """The same char-GPT code trained 6 steps with AdamW in float64 from the same weights: same losses."""
    torch.manual_seed(0)
    tm = generic_gpt(torch, vocab=13, block=12, n_layer=2, n_head=2, n_embd=16).double()
    em = generic_gpt(ember, vocab=13, block=12, n_layer=2, n_head=2, n_embd=16).double()
    em.load_state_dict({k: ember.tensor(v.cpu().numpy()) for k, v in tm.state_dict().items()})
    topt = torch.optim.AdamW(tm.parameters(), lr=3e-3, weight_decay=0.1)
    eopt = ember.optim.AdamW(em.parameters(), lr=3e-3, weight_decay=0.1)
    rng = np.random.default_rng(0)
    tl, el = [], []
    for _ in range(6):
        idx = rng.integers(0, 13, (4, 13))
        x, y = idx[:, :-1].copy(), idx[:, 1:].copy()
        for lib, model, opt, losses in ((torch, tm, topt, tl), (ember, em, eopt, el)):
            loss = model(lib.tensor(x), lib.tensor(y))
            opt.zero_grad()
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
    np.testing.assert_allclose(el, tl, rtol=1e-9)
    for (k, a), (_, b) in zip(em.state_dict().items(), tm.state_dict().items()):
        assert_close(a, b, rtol=1e-8, atol=1e-10, what=k)

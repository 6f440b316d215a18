"""ember.export: tracing with symbolic sizes, the `.ember` artifact (fresh-process loads, tampering), the
NumPy-only runtime, graph passes and the errors promised for untraceable models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import ember
from ember.export import ArtifactError, ExportError
from ember.models import GPT, MLP, GPTConfig

nn = ember.nn
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TextClassifier(nn.Module):
    """A TransformerEncoder classifier (embedding -> 2 encoder layers -> mean over time -> linear)."""

    def __init__(self, vocab=50, d=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 4, 64, batch_first=True), 2)
        self.head = nn.Linear(d, 3)

    def forward(self, tokens):
        return self.head(self.enc(self.emb(tokens)).mean(1))


def _cnn():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 6 * 6, 10),
    )


def _gpt():
    return GPT(GPTConfig(block_size=32, vocab_size=65, n_layer=2, n_head=2, n_embd=32))


def _ints(high, *shape):
    return ember.tensor(np.random.default_rng(sum(shape)).integers(0, high, shape))


# name -> (model factory, example input, dynamic axes, other inputs to check)
MODELS = {
    "mlp": (MLP, lambda: ember.randn(4, 784), {"x": {0: "batch"}}, [lambda: ember.randn(9, 784)]),
    "cnn": (
        _cnn,
        lambda: ember.randn(2, 1, 28, 28),
        {"input": {0: "batch"}},
        [lambda: ember.randn(5, 1, 28, 28)],
    ),
    "gpt": (
        _gpt,
        lambda: _ints(65, 2, 16),
        {"idx": {0: "batch", 1: "seq"}},
        [lambda: _ints(65, 3, 16), lambda: _ints(65, 2, 27), lambda: _ints(65, 1, 5)],
    ),
    "tenc": (
        TextClassifier,
        lambda: _ints(50, 2, 7),
        {"tokens": {0: "batch", 1: "seq"}},
        [lambda: _ints(50, 4, 7), lambda: _ints(50, 3, 12)],
    ),
}


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(MODELS))
def test_trace_runs_at_other_sizes(name):
    make, example, dyn, others = MODELS[name]
    ember.manual_seed(0)
    model = make().eval()
    prog = ember.export.trace(model, (example(),), dynamic_axes=dyn)
    assert "graph(" in str(prog) and "return" in str(prog)
    for x in [example(), *(o() for o in others)]:
        np.testing.assert_allclose(
            _first(prog(x)).numpy(), _first(model(x)).detach().numpy(), rtol=1e-5, atol=1e-6
        )


def test_artifacts_load_in_a_fresh_process_and_the_numpy_runtime(tmp_path):
    """Save all four models; a new interpreter (which never imports their classes) loads and runs them
    with ember at the traced and other sizes; a second one runs them with ember_runtime, ember blocked."""
    cases = {}
    for name, (make, example, dyn, others) in MODELS.items():
        ember.manual_seed(1)
        model = make().eval()
        path = tmp_path / f"{name}.ember"
        ember.export.save(model, path, (example(),), dynamic_axes=dyn, metadata={"model": name})
        xs = [example(), *(o() for o in others)]
        np.savez(
            tmp_path / f"{name}.npz",
            **{f"x{i}": x.numpy() for i, x in enumerate(xs)},
            **{f"y{i}": _first(model(x)).detach().numpy() for i, x in enumerate(xs)},
        )
        cases[name] = len(xs)
    check = textwrap.dedent(f"""
        import sys, numpy as np
        BLOCK = sys.argv[1] == "runtime"
        if BLOCK:
            sys.modules["ember"] = None  # importing the framework must fail here
            import ember_runtime as rt
        else:
            import ember
        cases = {cases!r}
        for name, n in cases.items():
            data = np.load(r"{tmp_path}" + f"/{{name}}.npz")
            path = r"{tmp_path}" + f"/{{name}}.ember"
            prog = rt.load(path) if BLOCK else ember.export.load(path)
            assert prog.metadata == {{"model": name}}, prog.metadata
            prog.verify()
            for i in range(n):
                out = prog(data[f"x{{i}}"])
                out = out[0] if isinstance(out, tuple) else out
                out = np.asarray(out) if BLOCK else out.numpy()
                np.testing.assert_allclose(out, data[f"y{{i}}"], rtol=1e-4, atol=1e-5, err_msg=f"{{name}} case {{i}}")
        print("ok", sorted(cases))
        assert ("ember.nn" in sys.modules) != BLOCK
        """)
    for mode in ("ember", "runtime"):
        r = subprocess.run(
            [sys.executable, "-c", check, mode], capture_output=True, text=True, cwd=ROOT, timeout=300
        )
        assert r.returncode == 0, r.stderr[-3000:]
        assert r.stdout.startswith("ok"), r.stdout


def test_export_api_names_and_extra_files(tmp_path):
    model = MLP().eval()
    prog = ember.export.export(model, (ember.randn(3, 784),), dynamic_shapes={"x": {0: "batch"}})
    x = ember.randn(6, 784)
    np.testing.assert_allclose(prog.module()(x).numpy(), model(x).detach().numpy(), rtol=1e-6)
    path = tmp_path / "m.ember"
    ember.export.save(prog, path, extra_files={"vocab.txt": "abc\n"}, metadata={"task": "digits"})
    loaded = ember.export.load(path)
    assert loaded.extra_files == {"vocab.txt": b"abc\n"} and loaded.metadata == {"task": "digits"}
    assert loaded.manifest["inputs"] == [{"name": "x", "dtype": "float32", "shape": ["batch", 784]}]
    assert loaded.verify()
    np.testing.assert_allclose(loaded(x.numpy()).numpy(), model(x).detach().numpy(), rtol=1e-6)  # NumPy in
    assert sorted(os.listdir(tmp_path)) == ["m.ember"]  # the atomic write left nothing behind


def test_program_checks_its_inputs():
    prog = ember.export.trace(MLP().eval(), (ember.randn(2, 784),), dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(ValueError, match=r"input 'x': expected float32\[batch, 784\], got float32\[2, 783\]"):
        prog(ember.randn(2, 783))
    with pytest.raises(ValueError, match="got float64"):
        prog(ember.randn(2, 784, dtype=ember.float64))
    with pytest.raises(TypeError, match="takes 1 inputs"):
        prog(ember.randn(2, 784), ember.randn(2, 784))


# ------------------------------------------------------------------------------------------ bad artifacts


def _rewrite(src, dst, edit):
    """Copy a zip, letting edit(name, data) change or drop (None) members; edit may add members via extra."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
    return dst


@pytest.fixture
def artifact(tmp_path):
    path = tmp_path / "good.ember"
    ember.export.save(MLP().eval(), path, (ember.randn(2, 784),))
    return path


def test_truncated_artifact(artifact, tmp_path):
    data = artifact.read_bytes()
    bad = tmp_path / "cut.ember"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="not a complete .ember archive"):
        ember.export.load(bad)


def test_edited_weights_fail_the_hash(artifact, tmp_path):
    def edit(name, data):
        if name == "weights.safetensors":
            b = bytearray(data)
            b[-1] ^= 1
            return bytes(b)
        return data

    with pytest.raises(ArtifactError, match="sha256 mismatch for 'weights.safetensors'"):
        ember.export.load(_rewrite(artifact, tmp_path / "t.ember", edit))


def test_newer_format_version(artifact, tmp_path):
    def edit(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            m["format_version"] = 99
            return json.dumps(m).encode()
        return data

    with pytest.raises(ArtifactError, match="format version 99.*upgrade ember"):
        ember.export.load(_rewrite(artifact, tmp_path / "v.ember", edit))


def test_path_traversal_member_and_unlisted_members(artifact, tmp_path):
    bad = _rewrite(artifact, tmp_path / "p.ember", lambda n, d: d)
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("../evil.txt", b"x")
    before = sorted(os.listdir(tmp_path.parent))
    with pytest.raises(ArtifactError, match="unsafe member name '../evil.txt'"):
        ember.export.load(bad)
    assert sorted(os.listdir(tmp_path.parent)) == before and not (tmp_path.parent / "evil.txt").exists()
    extra = _rewrite(artifact, tmp_path / "u.ember", lambda n, d: d)
    with zipfile.ZipFile(extra, "a") as zf:
        zf.writestr("extra/payload.bin", b"x")
    with pytest.raises(ArtifactError, match="not listed in the manifest"):
        ember.export.load(extra)


def test_oversized_manifest(artifact, tmp_path):
    def edit(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            m["metadata"] = {"pad": "x" * (2 << 20)}
            return json.dumps(m).encode()
        return data

    with pytest.raises(ArtifactError, match="manifest.json is .* bytes \\(limit"):
        ember.export.load(_rewrite(artifact, tmp_path / "o.ember", edit))
    with pytest.raises(ArtifactError, match="metadata too large"):
        ember.export.save(
            MLP().eval(), tmp_path / "big.ember", (ember.randn(1, 784),), metadata={"p": "x" * (2 << 20)}
        )
    assert not (tmp_path / "big.ember").exists() and not [
        f for f in os.listdir(tmp_path) if f.startswith(".tmp")
    ]


def test_not_an_artifact(tmp_path):
    p = tmp_path / "x.ember"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("structure.json", "{}")
    with pytest.raises(ArtifactError, match="no manifest.json"):
        ember.export.load(p)


# -------------------------------------------------------------------------------------- untraceable models


class _ItemBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.gate = _Gate()

    def forward(self, x):
        return self.gate(self.lin(x))


class _Gate(nn.Module):
    def forward(self, x):
        if x.sum().item() > 0:  # data-dependent control flow
            return x
        return -x


class _InplaceInput(nn.Module):
    def forward(self, x):
        x.add_(1)
        return x * 2


class _Random(nn.Module):
    def forward(self, x):
        return x + ember.rand_like(x)


def test_untraceable_models_name_module_and_op():
    with pytest.raises(ExportError, match=r"'item' reads the value of a traced tensor .* module 'gate'"):
        ember.export.trace(_ItemBranch(), (ember.randn(2, 3),))
    with pytest.raises(ExportError, match=r"in-place 'op.Add' writes to an input"):
        ember.export.trace(_InplaceInput(), (ember.randn(2, 3),))
    with pytest.raises(ExportError, match=r"random op 'op.Sample'"):
        ember.export.trace(_Random(), (ember.randn(2, 3),))
    drop = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).train()
    with pytest.raises(ExportError, match=r"dropout in training mode .* module '1'.*model.eval\(\)"):
        ember.export.trace(drop, (ember.randn(2, 3),))
    from ember._trace_hooks import ACTIVE

    assert ACTIVE[0] is None  # a failed trace leaves no tracer behind
    assert ember.randn(2, 3).shape == (2, 3)


# ------------------------------------------------------------------------------------------------ passes


class _Redundant(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(ember.randn(4))

    def forward(self, x):
        unused = x.exp()  # noqa: F841  (dead code)
        a = x * (self.w * 2.0)  # self.w * 2.0 depends on parameters only: folded
        b = x * (self.w * 2.0)
        return a + b + x.relu() + x.relu()  # relu twice: one after CSE


def test_graph_passes():
    m = _Redundant()
    x = ember.randn(3, 4)
    raw = ember.export.trace(m, (x,), optimize=False)
    opt = ember.export.trace(m, (x,))
    ops_raw = [n["op"] for n in raw.graph["nodes"]]
    ops_opt = [n["op"] for n in opt.graph["nodes"]]
    assert "op.Exp" in ops_raw and "op.Exp" not in ops_opt  # dead code gone
    assert ops_raw.count("F.relu") + ops_raw.count("op.Relu") == 2
    assert ops_opt.count("F.relu") + ops_opt.count("op.Relu") == 1  # common subexpression merged
    assert all(p["key"] != "w" for p in opt.graph["params"])  # w * 2 folded into a constant
    assert any(p["key"].startswith("const.") for p in opt.graph["params"])
    for prog in (raw, opt):
        np.testing.assert_allclose(prog(x).numpy(), m(x).detach().numpy(), rtol=1e-6)
    dce = ember.export.dead_code_elimination(raw.graph)
    assert len(dce["nodes"]) < len(raw.graph["nodes"])
    assert "op.Exp" in ember.export.format_graph(raw.graph)


def test_cli_exports_a_demo_style_checkpoint(tmp_path):
    """`python -m ember export` turns the demo's checkpoint (model + config + vocab) into an artifact that
    carries the vocabulary for text generation."""
    from ember.cli import main

    cfg = GPTConfig(block_size=32, vocab_size=12, n_layer=1, n_head=2, n_embd=16)
    ember.manual_seed(0)
    model = GPT(cfg).eval()
    ckpt = tmp_path / "checkpoint.ember"
    ember.save({"model": model.state_dict(), "config": vars(cfg), "vocab": "abcdefghijk\n", "step": 3}, ckpt)
    out = tmp_path / "gpt.ember"
    assert main(["export", str(ckpt), str(out)]) == 0
    prog = ember.export.load(out)
    assert json.loads(prog.extra_files["vocab.json"]) == {"chars": "abcdefghijk\n"}
    assert prog.metadata["model"] == "gpt" and prog.output_names == ["logits"]
    idx = _ints(12, 2, 9)
    np.testing.assert_allclose(prog(idx)[0].numpy(), model(idx)[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    mlp = MLP()
    ember.save(mlp.state_dict(), tmp_path / "mlp.ember")
    assert (
        main(["export", str(tmp_path / "mlp.ember"), str(tmp_path / "mlp_prog.ember"), "--model", "mlp"]) == 0
    )
    x = ember.randn(3, 784)
    np.testing.assert_allclose(
        ember.export.load(tmp_path / "mlp_prog.ember")(x).numpy(), mlp.eval()(x).detach().numpy(), rtol=1e-6
    )


def test_dynamic_axes_naming_no_input_warns():
    model = nn.Sequential(nn.Linear(4, 2))  # Sequential's input is called "input"
    with pytest.warns(UserWarning, match="dynamic_axes names 'x', which is not an input \\(input\\)"):
        prog = ember.export.trace(model, (ember.randn(2, 4),), dynamic_axes={"x": {0: "batch"}})
    assert prog.graph["inputs"][0]["shape"] == [2, 4]

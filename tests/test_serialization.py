"""ember.save / ember.load: round trips, identity and view sharing, the on-disk format, corruption handling,
atomic writes, map_location, and proof that loading never unpickles."""

from __future__ import annotations

import ast
import base64
import builtins
import collections
import io
import json
import math
import os
import pathlib
import pickle
import stat
import zipfile

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import ember
from ember import serialization
from ember.serialization import load, save

# --------------------------------------------------------------------------------------------- helpers


def _same(a, b, path="obj"):
    """Deep equality with exact types; tensors compare dtype, shape, requires_grad and bits (NaN-aware)."""
    assert type(a) is type(b), f"{path}: {type(a)} != {type(b)}"
    if isinstance(a, ember.Tensor):
        assert a.dtype is b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad, path
        assert a.detach().cpu().numpy().tobytes() == b.detach().cpu().numpy().tobytes(), path
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), path
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
        if hasattr(a, "__dict__"):
            _same(vars(a), vars(b), f"{path}.__dict__")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, complex):
        _same(a.real, b.real, path)
        _same(a.imag, b.imag, path)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), path
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b), path
    else:
        assert a == b, path
    return True


def _roundtrip(obj, via, tmp_path):
    if via == "bytesio":
        buf = io.BytesIO()
        save(obj, buf)
        buf.seek(0)
        return load(buf)
    path = tmp_path / "ckpt.ember"
    save(obj, str(path) if via == "str" else path)
    return load(path if via == "str" else str(path))


def _entries(path):
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("structure.json")), z.read("tensors.safetensors")


def _rewrite(path, doc=None, payload=None, extra=None):
    """Rebuild the zip with modified entries (and valid CRCs), as a deliberate tamperer would."""
    old_doc, old_payload = _entries(path)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("structure.json", json.dumps(doc if doc is not None else old_doc))
        z.writestr("tensors.safetensors", payload if payload is not None else old_payload)
        for name, data in (extra or {}).items():
            z.writestr(name, data)


def _all_dtype_tensors():
    out = {}
    for dt in (ember.bool, ember.uint8, ember.int8, ember.int16, ember.int32, ember.int64):
        if dt is ember.bool:
            arr = np.array([True, False, True])
        else:
            info = np.iinfo(dt.np)
            arr = np.array([info.min, 0, 1, info.max], dtype=dt.np)
        out[dt.name] = ember.tensor(arr)
    specials = np.array([0.0, -0.0, 1.5, -2.25, np.nan, np.inf, -np.inf, 1e-3], dtype=np.float64)
    for dt in (ember.float16, ember.bfloat16, ember.float32, ember.float64):
        out[dt.name] = ember.tensor(specials).to(dt)
    out["complex64"] = ember.tensor(np.array([1 + 2j, np.nan - 1j, -0.5j], dtype=np.complex64))
    out["complex128"] = ember.tensor(np.array([1e300 + 2j, -np.inf + 0j], dtype=np.complex128))
    return out


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("via", ["str", "pathlike", "bytesio"])
def test_roundtrip_of_every_supported_kind(via, tmp_path):
    obj = {
        "none": None,
        "bools": [True, False],
        "ints": [0, -1, 2**62, -(2**63), 2**63, -(2**100), 10**40],
        "floats": [0.0, -0.0, 1.5, 1e-310, float("nan"), float("inf"), -float("inf"), 0.1 + 0.2],
        "complex": complex(1.5, float("nan")),
        "str": 'héllo \u2603 "quoted" \n',
        "bytes": b"\x00\xff",
        "bytearray": bytearray(b"ab"),
        "tuple": (1, (2, [3, (4,)]), ()),
        "list": [[], [[1]], (1,)],
        "set": {1, 2, 3},
        "frozenset": frozenset({"a"}),
        "device": ember.device("cpu"),
        "cuda_device": ember.device("cuda", 1),
        "dtypes": [ember.bfloat16, ember.bool, ember.complex128, ember.int8],
        "size": ember.Size([2, 0, 3]),
        "numpy": np.arange(6, dtype=np.uint16).reshape(2, 3),
        "numpy_big_endian": np.arange(3, dtype=">i4"),
        "numpy_scalars": [np.float32(1.25), np.int64(-3), np.bool_(True), np.float64(np.nan)],
        "tensors": _all_dtype_tensors(),
        "scalar_tensor": ember.tensor(3.5),
        "empty": ember.zeros(2, 0),
        "noncontig": ember.arange(24.0).reshape(4, 6)[::2, 1::2].t(),
        "requires_grad": ember.randn(3, requires_grad=True),
        "nonleaf": ember.randn(2, requires_grad=True) * 2,
    }
    out = _roundtrip(obj, via, tmp_path)
    obj["numpy_big_endian"] = obj["numpy_big_endian"].astype("<i4")  # loads in native byte order
    obj["nonleaf"] = obj["nonleaf"].detach().requires_grad_(True)  # loads as a leaf that requires grad
    _same(obj, out)
    assert out["noncontig"].tolist() == obj["noncontig"].tolist()
    assert out["requires_grad"].is_leaf and out["requires_grad"].grad_fn is None


@pytest.mark.parametrize(
    "key", [0, -5, 2**70, 1.5, None, True, (1, "a"), ember.device("cpu"), frozenset({2})]
)
def test_non_string_dict_keys(key, tmp_path):
    obj = {key: "v", "s": {key: [key]}}
    out = _roundtrip(obj, "bytesio", tmp_path)
    assert list(out) == [key, "s"] and out[key] == "v" and out["s"] == {key: [key]}
    assert type(list(out)[0]) is type(key)


def test_ordered_dict_and_attributes(tmp_path):
    od = collections.OrderedDict([("b", 1), ("a", ember.ones(2))])
    od._metadata = collections.OrderedDict({"": {"version": 1}, "fc": {"version": 2}})
    out = _roundtrip({"plain": {"z": 1, "a": 2}, "od": od}, "bytesio", tmp_path)
    assert type(out["od"]) is collections.OrderedDict and type(out["plain"]) is dict
    assert list(out["plain"]) == ["z", "a"] and list(out["od"]) == ["b", "a"]
    assert out["od"]._metadata == od._metadata


@pytest.mark.parametrize("name,t", list(_all_dtype_tensors().items()))
def test_every_dtype_is_bit_exact(name, t, tmp_path):
    out = _roundtrip({"t": t, "view": t[1:]}, "bytesio", tmp_path)
    assert out["t"].dtype is t.dtype and out["t"].cpu().numpy().tobytes() == t.cpu().numpy().tobytes()
    assert out["view"].cpu().numpy().tobytes() == t[1:].cpu().numpy().tobytes()


def test_bfloat16_payload_is_standard_safetensors(tmp_path):
    t = ember.randn(4, 5).to(ember.bfloat16)
    path = tmp_path / "bf.ember"
    save({"w": t}, path)
    doc, payload = _entries(path)
    assert doc["storages"] == [{"name": "w", "dtype": "BF16", "shape": [4, 5]}]
    ref = safetensors.torch.load(payload)["w"]
    assert ref.dtype is torch.bfloat16
    assert ref.float().cpu().numpy().tolist() == t.float().cpu().numpy().tolist()
    out = load(path)["w"]
    assert out.dtype is ember.bfloat16 and out.float().tolist() == t.float().tolist()


def test_state_dict_payload_reads_with_safetensors(tmp_path):
    model = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.ReLU(), ember.nn.Linear(3, 2))
    path = tmp_path / "model.ember"
    save(model.state_dict(), path)
    _, payload = _entries(path)
    arrays = safetensors.numpy.load(payload)
    sd = model.state_dict()
    assert set(arrays) == set(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(arrays[k], v.cpu().numpy())


def test_model_state_dict_roundtrip_restores_the_model(tmp_path):
    model = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 2))
    path = tmp_path / "model.ember"
    save(model.state_dict(), path)
    sd = load(path)
    assert type(sd) is collections.OrderedDict and list(sd) == list(model.state_dict())
    fresh = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 2))
    fresh.load_state_dict(sd)
    x = ember.randn(5, 4)
    assert fresh(x).tolist() == model(x).tolist()


def test_optimizer_like_state_dict(tmp_path):
    state = {
        "state": {
            0: {"step": ember.tensor(3.0), "exp_avg": ember.randn(3, 2), "exp_avg_sq": ember.rand(3, 2)},
            1: {"step": ember.tensor(3.0), "exp_avg": ember.randn(2), "momentum_buffer": None},
        },
        "param_groups": [
            {
                "lr": 1e-3,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "weight_decay": 0,
                "amsgrad": False,
                "foreach": None,
                "maximize": False,
                "params": [0, 1],
                "name": "decay",
            }
        ],
    }
    out = _roundtrip(state, "bytesio", tmp_path)
    _same(state, out)
    assert list(out["state"]) == [0, 1] and type(out["param_groups"][0]["betas"]) is tuple


def test_checkpoint_resume_continues_training_identically(tmp_path):
    def make():
        ember.manual_seed(0)
        model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Tanh(), ember.nn.Linear(4, 1))
        return model, ember.optim.Adam(model.parameters(), lr=1e-2)

    def step(model, opt, k):
        ember.manual_seed(100 + k)
        x = ember.randn(8, 3)
        opt.zero_grad()
        ((model(x) - 1.0) ** 2).mean().backward()
        opt.step()

    model, opt = make()
    for k in range(3):
        step(model, opt, k)
    save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3}, tmp_path / "ckpt.ember")
    ckpt = load(tmp_path / "ckpt.ember")
    model2, opt2 = make()
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["opt"])
    for k in range(3, 5):
        step(model, opt, k)
        step(model2, opt2, k)
    for a, b in zip(model.parameters(), model2.parameters()):
        assert a.tolist() == b.tolist()


def test_parameters_load_as_parameters(tmp_path):
    lin = ember.nn.Linear(3, 2)
    frozen = ember.nn.Parameter(ember.randn(2), requires_grad=False)
    out = _roundtrip({"w": lin.weight, "frozen": frozen}, "bytesio", tmp_path)
    assert type(out["w"]) is ember.nn.Parameter and out["w"].requires_grad
    assert type(out["frozen"]) is ember.nn.Parameter and not out["frozen"].requires_grad
    assert out["w"].tolist() == lin.weight.tolist()


# --------------------------------------------------------------------------------------------- identity


def test_same_tensor_loads_as_one_object(tmp_path):
    t = ember.randn(3)
    out = _roundtrip({"a": t, "b": t, "l": [t, (t,)], 7: t}, "bytesio", tmp_path)
    assert out["a"] is out["b"] is out["l"][0] is out["l"][1][0] is out[7]
    doc_buf = io.BytesIO()
    save({"a": t, "b": t}, doc_buf)
    with zipfile.ZipFile(doc_buf) as z:
        doc = json.loads(z.read("structure.json"))
    assert len(doc["tensors"]) == 1 and len(doc["storages"]) == 1


def test_views_of_one_storage_share_memory_after_load(tmp_path):
    base = ember.arange(12.0).reshape(3, 4)
    obj = {"row": base[1], "base": base, "t": base.t(), "step": base[:, ::2], "flat": base.reshape(-1)}
    path = tmp_path / "views.ember"
    save(obj, path)
    doc, _ = _entries(path)
    assert len(doc["storages"]) == 1 and doc["storages"][0]["name"] == "base"  # stored once, typed
    out = load(path)
    for k, v in obj.items():
        assert out[k].tolist() == v.tolist() and out[k].stride() == v.stride(), k
    out["base"][1, 0] = 99.0
    assert out["row"][0].item() == 99.0 and out["t"][0, 1].item() == 99.0 and out["flat"][4].item() == 99.0
    assert out["step"][1, 0].item() == 99.0


def test_partial_views_store_only_the_span(tmp_path):
    big = ember.arange(1000.0)
    a, b = big[10:20], big[15:30]
    buf = io.BytesIO()
    save([a, b], buf)
    assert len(buf.getvalue()) < 1000  # 20 floats of span, not the 4000-byte base
    buf.seek(0)
    la, lb = load(buf)
    assert la.tolist() == a.tolist() and lb.tolist() == b.tolist()
    la[5] = -1.0
    assert lb[0].item() == -1.0


def test_parameter_and_its_state_dict_tensor_share_memory(tmp_path):
    lin = ember.nn.Linear(2, 2)
    out = _roundtrip({"p": lin.weight, "sd": lin.state_dict()}, "bytesio", tmp_path)
    assert np.shares_memory(out["p"].detach().cpu().numpy(), out["sd"]["weight"].cpu().numpy())


def test_saving_twice_gives_identical_bytes():
    obj = {"w": ember.randn(3, 3), "meta": {"epoch": 3}}
    a, b = io.BytesIO(), io.BytesIO()
    save(obj, a)
    save(obj, b)
    assert a.getvalue() == b.getvalue()


# --------------------------------------------------------------------------------------- bad inputs


class _NotSavable:
    pass


@pytest.mark.parametrize(
    "obj,match",
    [
        ({"x": [1, _NotSavable()]}, r"_NotSavable at obj\['x'\]\[1\]"),
        ({"f": lambda: 0}, "function"),
        ({"m": ember.nn.Linear(2, 2)}, "state_dict"),
        ({"a": np.array(["s"])}, "NumPy array of dtype"),
        ({"d": collections.defaultdict(list)}, "defaultdict"),
    ],
)
def test_unsupported_objects_raise_type_error(obj, match, tmp_path):
    with pytest.raises(TypeError, match=match):
        save(obj, tmp_path / "x.ember")
    assert not (tmp_path / "x.ember").exists() and os.listdir(tmp_path) == []


def test_reference_cycle_raises():
    a = [1]
    a.append({"self": a})
    with pytest.raises(ValueError, match="reference cycle"):
        save(a, io.BytesIO())


def test_bad_file_arguments(tmp_path):
    with pytest.raises(TypeError, match="must be a path or a writable binary file"):
        save({}, 123)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.ember")


def test_torch_compat_arguments_are_accepted(tmp_path):
    path = tmp_path / "c.ember"
    save({"a": 1}, path, pickle_protocol=4)
    save({"a": 1}, path, pickle, 2)
    assert load(path, weights_only=True) == {"a": 1}
    assert load(path, weights_only=False, mmap=False) == {"a": 1}


def test_non_seekable_streams(tmp_path):
    class Stream(io.RawIOBase):
        def __init__(self, data=b""):
            self.data, self.pos, self.out = data, 0, bytearray()

        def readable(self):
            return True

        def writable(self):
            return True

        def seekable(self):
            return False

        def write(self, b):
            self.out += bytes(b)
            return len(b)

        def readinto(self, b):
            n = min(len(b), len(self.data) - self.pos)
            b[:n] = self.data[self.pos : self.pos + n]
            self.pos += n
            return n

    out = Stream()
    obj = {"t": ember.arange(5), "s": "x"}
    save(obj, out)
    _same(load(Stream(bytes(out.out))), obj)


# ------------------------------------------------------------------------------------ corrupt files


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / "good.ember"
    save({"w": ember.randn(64, 8), "b": ember.tensor([True, False]), "step": 3}, path)
    return path


@pytest.mark.parametrize("frac", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_files_raise(ckpt, frac):
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: int(len(data) * frac)])
    with pytest.raises(RuntimeError, match=f"cannot load '{ckpt}'"):
        load(ckpt)


@pytest.mark.parametrize("where", ["structure", "payload_header", "payload_data"])
def test_flipped_bytes_fail_the_crc(ckpt, where):
    data = bytearray(ckpt.read_bytes())
    with zipfile.ZipFile(ckpt) as z:
        info = {i.filename: i for i in z.infolist()}
    if where == "structure":
        off = info["structure.json"].header_offset + 30 + len("structure.json") + 5
    else:
        start = info["tensors.safetensors"].header_offset + 30 + len("tensors.safetensors")
        off = start + (3 if where == "payload_header" else info["tensors.safetensors"].file_size - 7)
    data[off] ^= 0x5A
    ckpt.write_bytes(bytes(data))
    # Either the CRC check or a validation that runs before it (a mangled header length) catches it.
    with pytest.raises(RuntimeError, match=f"cannot load '{ckpt}': .*(corrupt|malformed|exceeds)"):
        load(ckpt)


def _tamper_doc(ckpt, fn):
    doc, _ = _entries(ckpt)
    fn(doc)
    _rewrite(ckpt, doc=doc)


@pytest.mark.parametrize(
    "tamper,match",
    [
        (lambda d: d.update(version=2), "format version 2, newer than this ember reads"),
        (lambda d: d.update(version=0), "bad format version"),
        (lambda d: d.update(format="something.else"), "does not describe an ember checkpoint"),
        (lambda d: d["tensors"][0].update(shape=[64, 800]), "reach outside its storage"),
        (lambda d: d["tensors"][0].update(strides=[-32, 4]), "reach outside its storage"),
        (lambda d: d["tensors"][0].update(offset=-4), "bad offset"),
        (lambda d: d["tensors"][0].update(storage=9), "bad storage index"),
        (lambda d: d["tensors"][0].update(dtype="object"), "bad table entry"),
        (lambda d: d["tensors"][0].update(**{"class": "os.system"}), "unknown class"),
        (lambda d: d["tensors"][1].update(requires_grad=True), "bad requires_grad"),
        (lambda d: d["storages"][0].update(dtype="F64"), "does not match its safetensors entry"),
        (lambda d: d["storages"][0].update(name="nope"), "missing from the tensor payload"),
        (lambda d: d["root"]["v"].update(w={"$": "tensor", "id": 17}), "bad tensor reference"),
        (lambda d: d["root"]["v"].update(x={"$": "pickle", "v": "gASVAAAAAAAAAAA="}), "unknown tag 'pickle'"),
        (lambda d: d["root"]["v"].update(x={"no": "tag"}), "untagged JSON object"),
        (lambda d: d["root"]["v"].update(x={"$": "float", "v": "1e999"}), "bad float"),
        (lambda d: d.pop("tensors"), "lacks its storages/tensors"),
    ],
)
def test_tampered_structure_raises(ckpt, tamper, match):
    _tamper_doc(ckpt, tamper)
    with pytest.raises(RuntimeError, match=match) as info:
        load(ckpt)
    assert str(ckpt) in str(info.value)


def _payload_with_header(header: dict, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + data


@pytest.mark.parametrize(
    "payload,match",
    [
        (b"\x00" * 4, "truncated"),
        ((10**9).to_bytes(8, "little") + b"{}", "exceeds the payload"),
        (
            _payload_with_header({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\x00" * 4),
            "holds 4 data bytes",
        ),
        (
            _payload_with_header({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\x00" * 8),
            "do not match its shape",
        ),
        (
            _payload_with_header({"w": {"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}}, b"\x00" * 8),
            "unsupported dtype",
        ),
        (
            _payload_with_header(
                {
                    "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
                    "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]},
                },
                b"\x00" * 3,
            ),
            "gap or overlap",
        ),
        (
            _payload_with_header({"b": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\x01\x07"),
            "values other than 0 and 1",
        ),
    ],
)
def test_tampered_payload_raises(ckpt, payload, match):
    _rewrite(ckpt, payload=payload)
    with pytest.raises(RuntimeError, match=match):
        load(ckpt)


def test_foreign_files_are_rejected(tmp_path):
    cases = {
        "empty": (b"", "the file is empty"),
        "text": (b"hello, world", "not an ember checkpoint"),
        "pickle": (pickle.dumps({"a": 1}), "it is a pickle"),
    }
    for name, (data, match) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(RuntimeError, match=match):
            load(tmp_path / name)
    torch.save({"w": torch.zeros(2)}, tmp_path / "torch.pt")
    with pytest.raises(RuntimeError, match="it is a PyTorch checkpoint"):
        load(tmp_path / "torch.pt")
    torch.save({"w": torch.zeros(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="it is a pickle"):
        load(tmp_path / "legacy.pt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(RuntimeError, match="not an ember checkpoint"):
        load(tmp_path / "other.zip")


class _Exploit:
    """Unpickling this runs code (it sets a flag on builtins)."""

    def __reduce__(self):
        return (exec, ("import builtins; builtins._ember_pwned = True",))


def test_loading_never_unpickles(tmp_path, monkeypatch):
    evil = pickle.dumps(_Exploit())

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle was used while loading")

    for name in ("load", "loads", "Unpickler", "_Unpickler", "_load", "_loads"):
        if hasattr(pickle, name):
            monkeypatch.setattr(pickle, name, forbidden)
    good = tmp_path / "good.ember"
    save({"w": ember.ones(2), "n": 1}, good)
    assert load(good)["n"] == 1

    (tmp_path / "raw.pkl").write_bytes(evil)
    with zipfile.ZipFile(tmp_path / "torchlike.pt", "w") as z:
        z.writestr("archive/data.pkl", evil)
        z.writestr("archive/version", "3\n")
    smuggled = tmp_path / "smuggled.ember"
    save({"w": ember.ones(2)}, smuggled)
    doc, _ = _entries(smuggled)
    doc["root"]["v"]["x"] = {"$": "pickle", "v": base64.b64encode(evil).decode()}
    _rewrite(smuggled, doc=doc, extra={"data.pkl": evil})
    for path in ("raw.pkl", "torchlike.pt", "smuggled.ember"):
        with pytest.raises(RuntimeError):
            load(tmp_path / path)
    extra_entry = tmp_path / "extra.ember"
    save({"w": ember.ones(2)}, extra_entry)
    _rewrite(extra_entry, extra={"data.pkl": evil})
    assert load(extra_entry)["w"].tolist() == [1.0, 1.0]  # unknown entries are ignored, never run
    assert not hasattr(builtins, "_ember_pwned")
    tree = ast.parse(pathlib.Path(serialization.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"pickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve"}


# ------------------------------------------------------------------------------------- atomic writes


def test_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.ember"
    save({"version": 1, "w": ember.zeros(4)}, path)
    before = path.read_bytes()

    with pytest.raises(TypeError):
        save({"version": 2, "w": ember.ones(4), "bad": _NotSavable()}, path)
    assert path.read_bytes() == before

    calls = []
    real = serialization._storage_bytes

    def fail_midway(storage):
        calls.append(storage.name)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return real(storage)

    monkeypatch.setattr(serialization, "_storage_bytes", fail_midway)
    with pytest.raises(OSError, match="disk full"):
        save({"version": 2, "a": ember.ones(1000), "b": ember.ones(1000)}, path)
    assert calls == ["a", "b"]  # the first tensor had already been written to the temp file
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.ember"]  # the temp file is gone
    assert load(path)["version"] == 1


def test_new_file_permissions_follow_umask_and_existing_mode(tmp_path):
    old = os.umask(0o027)
    try:
        save({"a": 1}, tmp_path / "new.ember")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.ember").st_mode) == 0o640
    os.chmod(tmp_path / "new.ember", 0o600)
    save({"a": 2}, tmp_path / "new.ember")
    assert stat.S_IMODE(os.stat(tmp_path / "new.ember").st_mode) == 0o600
    assert load(tmp_path / "new.ember") == {"a": 2}


def test_save_through_a_symlink_updates_its_target(tmp_path):
    target = tmp_path / "real.ember"
    save({"a": 1}, target)
    (tmp_path / "link.ember").symlink_to(target)
    save({"a": 2}, tmp_path / "link.ember")
    assert (tmp_path / "link.ember").is_symlink() and load(target) == {"a": 2}


def test_file_objects(tmp_path):
    path = tmp_path / "f.ember"
    with open(path, "wb") as fh:
        save({"a": ember.arange(3)}, fh)
    with open(path, "rb") as fh:
        assert load(fh)["a"].tolist() == [0, 1, 2]
    path.write_bytes(b"junk")
    with open(path, "rb") as fh, pytest.raises(RuntimeError, match=f"cannot load '{path}'"):
        load(fh)


# -------------------------------------------------------------------------------------- map_location


@pytest.mark.parametrize(
    "map_location",
    [
        None,
        "cpu",
        ember.device("cpu"),
        {"cpu": "cpu"},
        {"cuda:0": "cpu"},
        lambda s, loc: s,
        lambda s, loc: None,
        lambda s, loc: "cpu",
    ],
    ids=["none", "str", "device", "dict", "dict_other", "callable_tensor", "callable_none", "callable_str"],
)
def test_map_location_forms(map_location, tmp_path):
    t = ember.randn(3)
    path = tmp_path / "m.ember"
    save({"t": t, "p": ember.nn.Parameter(ember.ones(2))}, path)
    out = load(path, map_location=map_location)
    assert out["t"].device == ember.device("cpu") and out["t"].tolist() == t.tolist()
    assert type(out["p"]) is ember.nn.Parameter


def test_map_location_callable_sees_each_tensor_and_its_location(tmp_path):
    seen = []
    save([ember.ones(2), ember.zeros(3)], tmp_path / "c.ember")
    out = load(tmp_path / "c.ember", map_location=lambda t, loc: seen.append((tuple(t.shape), loc)) or t * 2)
    assert seen == [((2,), "cpu"), ((3,), "cpu")] and out[0].tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="map_location returned int"):
        load(tmp_path / "c.ember", map_location=lambda t, loc: 5)
    with pytest.raises(ZeroDivisionError):
        load(tmp_path / "c.ember", map_location=lambda t, loc: 1 / 0)


def test_cuda_saved_tensors_need_a_map_location_without_cuda(tmp_path):
    path = tmp_path / "gpu.ember"
    save({"w": ember.ones(2)}, path)
    _tamper_doc(path, lambda d: d["tensors"][0].update(device="cuda:0"))
    assert load(path, map_location="cpu")["w"].device == ember.device("cpu")
    assert load(path, map_location={"cuda:0": "cpu"})["w"].tolist() == [1.0, 1.0]
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
            load(path)
    else:
        assert load(path)["w"].device == ember.device("cuda:0")


# ----------------------------------------------------------------------------------- plain safetensors


def test_plain_safetensors_files_load_as_dicts(tmp_path):
    safetensors.numpy.save_file(
        {
            "w": np.arange(6, dtype=np.float32).reshape(2, 3),
            "i": np.array([1, -2], np.int64),
            "m": np.array([True]),
        },
        tmp_path / "a.safetensors",
    )
    out = load(tmp_path / "a.safetensors")
    assert out["w"].dtype is ember.float32 and out["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert out["i"].dtype is ember.int64 and out["m"].dtype is ember.bool
    safetensors.torch.save_file(
        {"h": torch.tensor([1.5, -2.0], dtype=torch.bfloat16)}, tmp_path / "b.safetensors"
    )
    h = load(tmp_path / "b.safetensors")["h"]
    assert h.dtype is ember.bfloat16 and h.float().tolist() == [1.5, -2.0]


def test_file_objects_without_readinto_use_zipfile_reader(ckpt):
    class Plain:
        """Seekable, but only read/seek/tell: the loader must go through zipfile's own reader."""

        def __init__(self, data):
            self._b = io.BytesIO(data)

        def read(self, n=-1):
            return self._b.read(n)

        def seek(self, *a):
            return self._b.seek(*a)

        def tell(self):
            return self._b.tell()

        def seekable(self):
            return True

    data = ckpt.read_bytes()
    assert load(Plain(data))["step"] == 3
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0xFF  # inside the tensor data
    with pytest.raises(RuntimeError, match="Bad CRC-32"):
        load(Plain(bytes(bad)))

"""ember.onnx: hand-written export graphs for every mapped op, run with onnxruntime and compared with ember's
eager evaluation of the same graph (dynamic axes at two sizes); end-to-end exports of models."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import ember
from ember import _dtype as D
from ember.export.program import run_node
from ember.models import MLP
from ember.onnx import export, export_graph, graph_to_onnx
from ember.onnx.converter import supported_ops

TOL = 1e-4
SIZES = ({"batch": 2, "seq": 5}, {"batch": 3, "seq": 7})


# ------------------------------------------------------------------------------------------------ graph builder


def enc(obj):
    """A Python value in the export format's JSON encoding."""
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, tuple):
        return {"$tuple": [enc(o) for o in obj]}
    if isinstance(obj, list):
        return [enc(o) for o in obj]
    if isinstance(obj, slice):
        return {"$slice": [enc(obj.start), enc(obj.stop), enc(obj.step)]}
    if obj is Ellipsis:
        return {"$ellipsis": True}
    if isinstance(obj, D.dtype):
        return {"$dtype": "bfloat16" if obj is D.bfloat16 else obj.name}
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"$f": "nan" if obj != obj else ("inf" if obj > 0 else "-inf")}
    return obj


class G:
    """Builds a graph dict: inputs with (symbolic) shapes and data specs, params, nodes."""

    def __init__(self):
        self.inputs, self.params, self.nodes, self.outputs = [], [], [], []
        self.data = {}
        self.specs = {}
        self.k = 0

    def _name(self, p):
        self.k += 1
        return f"{p}{self.k}"

    def input(self, name, shape, dtype="float32", kind="randn", low=0, high=5):
        v = self._name("v")
        self.inputs.append({"name": name, "value": v, "dtype": dtype, "shape": list(shape)})
        self.specs[name] = (shape, dtype, kind, low, high)
        return {"$v": v}

    def param(self, key, array):
        p = self._name("p")
        array = np.asarray(array)
        dt = "bool" if array.dtype == np.bool_ else str(array.dtype)
        self.params.append({"value": p, "key": key, "dtype": dt, "shape": list(array.shape)})
        self.data[p] = array
        return {"$v": p}

    def __call__(self, op, *args, nout=1, scope="m", **kwargs):
        outs = [self._name("s" if op.startswith("sym.") else "v") for _ in range(nout)]
        self.nodes.append(
            {
                "op": op,
                "args": [enc(a) for a in args],
                "kwargs": {k: enc(v) for k, v in kwargs.items()},
                "outputs": outs,
                "scope": scope,
            }
        )
        refs = [{"$s": o} if op.startswith("sym.") else {"$v": o} for o in outs]
        return refs[0] if nout == 1 else refs

    def graph(self, *outs):
        return {
            "format": 1,
            "inputs": self.inputs,
            "outputs": [{"name": f"out{i}", "value": o["$v"]} for i, o in enumerate(outs)],
            "params": self.params,
            "nodes": self.nodes,
        }

    def feeds(self, sizes, rng):
        out = {}
        for name, (shape, dtype, kind, low, high) in self.specs.items():
            shp = tuple(sizes[d] if isinstance(d, str) else d for d in shape)
            if kind == "int":
                a = rng.integers(low, high, shp).astype(dtype)
            elif kind == "bool":
                a = rng.random(shp) > 0.5
            elif kind == "pos":
                a = rng.uniform(0.5, 2.0, shp).astype(dtype)
            elif kind == "ties":
                a = rng.integers(-3, 4, shp).astype(dtype) * 0.5
            else:
                a = rng.standard_normal(shp).astype(dtype)
            out[name] = a
        return out


# ------------------------------------------------------------------------------------------------ eager reference


def eager(graph, params, feeds):
    """Evaluate a graph node by node with ember (the semantics the format defines)."""
    env = {}
    for i in graph["inputs"]:
        env[i["value"]] = ember.from_numpy(np.ascontiguousarray(feeds[i["name"]]))
    for p in graph["params"]:
        env[p["value"]] = ember.from_numpy(
            np.array(params[p["value"]])
        )  # a copy: ops may renormalise in place
    for node in graph["nodes"]:
        for n, o in zip(node["outputs"], run_node(node, env)):
            if n is not None:
                env[n] = o
    return [env[o["value"]] for o in graph["outputs"]]


def run_onnx(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, {n: feeds[n] for n in names})


def _as_np(t):
    a = t.numpy() if hasattr(t, "numpy") else np.asarray(t)
    return np.asarray(a)


def compare(got, want, tol=TOL):
    want = _as_np(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if want.dtype == np.bool_ or want.dtype.kind in "iu":
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=tol, atol=tol)


def check(g: G, outs, sizes=SIZES, opset=17, tol=TOL, seed=0):
    """Convert, check, run with onnxruntime at each size assignment, compare with ember's eager result."""
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    graph = g.graph(*outs)
    model = graph_to_onnx(graph, g.data, opset=opset)
    onnx.checker.check_model(model)
    rng = np.random.default_rng(seed)
    for s in sizes:
        feeds = g.feeds(s, rng)
        want = eager(graph, g.data, feeds)
        got = run_onnx(model, feeds)
        assert len(got) == len(want)
        for a, w in zip(got, want):
            compare(a, w, tol)
    return model


def randn(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ------------------------------------------------------------------------------------------------ op.* elementwise

UNARY = ["Neg", "Abs", "Exp", "Sin", "Cos", "Tanh", "Sigmoid", "Erf", "Floor", "Ceil", "Round", "Sign"]
POSITIVE = ["Log", "Sqrt", "Rsqrt", "Reciprocal"]


@pytest.mark.parametrize("name", UNARY + POSITIVE)
def test_op_unary(name):
    g = G()
    x = g.input("x", ["batch", 3], kind="pos" if name in POSITIVE else "ties")
    check(g, g(f"op.{name}", x))


@pytest.mark.parametrize("name", ["Exp", "Sqrt", "Sigmoid", "Neg", "Abs", "Floor", "Sign"])
def test_op_unary_int_input(name):
    g = G()
    x = g.input("x", ["batch", 3], dtype="int64", kind="int", low=0, high=6)
    check(g, g(f"op.{name}", x))


def test_op_round_decimals_and_float64():
    g = G()
    x = g.input("x", ["batch", 4], dtype="float64")
    check(g, [g("op.Round", g("op.Mul", x, 10.0), decimals=2), g("op.Exp", x)])


@pytest.mark.parametrize(
    "op,other,kw",
    [
        ("Add", "t", {}),
        ("Add", 2, {}),
        ("Add", "t", {"alpha": 2}),
        ("Sub", "t", {}),
        ("Sub", 1.5, {"alpha": 3}),
        ("Mul", "t", {}),
        ("Mul", 0.5, {}),
        ("Div", "t", {}),
        ("Div", 3, {}),
        ("Pow", 2, {}),
        ("Maximum", "t", {}),
        ("Minimum", "t", {}),
        ("DivRounded", "t", {"rounding_mode": "floor"}),
        ("DivRounded", "t", {"rounding_mode": "trunc"}),
        ("DivRounded", -2.5, {}),
    ],
)
def test_op_binary_float(op, other, kw):
    g = G()
    x = g.input("x", ["batch", 4])
    y = g.input("y", [4], kind="pos") if other == "t" else other
    check(g, g(f"op.{op}", x, y, **kw))


@pytest.mark.parametrize(
    "op,kw",
    [
        ("Add", {}),
        ("Mul", {}),
        ("Div", {}),
        ("DivRounded", {"rounding_mode": "floor"}),
        ("DivRounded", {"rounding_mode": "trunc"}),
        ("Pow", {}),
        ("Sub", {"alpha": 2}),
    ],
)
def test_op_binary_int(op, kw):
    g = G()
    x = g.input("x", ["batch", 4], dtype="int64", kind="int", low=-6, high=7)
    y = g.input("y", [4], dtype="int64", kind="int", low=1, high=4)
    check(g, g(f"op.{op}", x, y, **kw))


def test_op_binary_promotion():
    g = G()
    i = g.input("i", ["batch", 3], dtype="int32", kind="int", low=-3, high=3)
    h = g.input("h", [3], dtype="float64")
    bm = g.input("bm", ["batch", 3], dtype="bool", kind="bool")
    outs = [
        g("op.Add", i, 0.5),  # int tensor + float number -> default float
        g("op.Mul", i, 3),  # stays int32
        g("op.Add", i, h),  # -> float64
        g("op.Add", bm, bm),  # bool + bool -> logical or
        g("op.Mul", bm, i),  # bool * int32 -> int32
        g("op.Pow", 2.0, g("op.Abs", h)),
    ]
    check(g, outs)


def test_op_clamp_where_compare_logical():
    g = G()
    x = g.input("x", ["batch", 5], kind="ties")
    y = g.input("y", [5], kind="ties")
    lo = g.input("lo", [5])
    outs = [
        g("op.Clamp", x, -0.5, 0.75),
        g("op.Clamp", x, None, 0.0),
        g("op.Clamp", x, lo, None),
        g("op.Where", g("op.Gt", x, 0.0), x, y),
        g("op.Where", g("op.Lt", x, y), x, 0.0),
    ]
    for c in ("Eq", "Ne", "Lt", "Le", "Gt", "Ge"):
        outs.append(g(f"op.{c}", x, y))
        outs.append(g(f"op.{c}", x, 0.5))
    a, b_ = g("op.Gt", x, 0.0), g("op.Le", y, 0.0)
    outs += [
        g("op.LogicalAnd", a, b_),
        g("op.LogicalOr", a, b_),
        g("op.LogicalNot", a),
        g("op.LogicalAnd", x, y),
    ]
    check(g, outs)


def test_op_activations_and_softmax():
    g = G()
    x = g.input("x", ["batch", 3, 6])
    outs = [
        g("op.Relu", x),
        g("op.Gelu", x),
        g("op.Gelu", x, approximate="tanh"),
        g("op.Silu", x),
        g("op.Softmax", x, dim=2),
        g("op.Softmax", x, dim=0),
        g("op.LogSoftmax", x, dim=1),
    ]
    check(g, outs)


def test_op_shape_ops():
    g = G()
    x = g.input("x", ["batch", 3, 4])
    y = g.input("y", ["batch", 2, 4])
    one = g.input("one", [1, 4])
    outs = [
        g("op.Transpose", x, dim0=0, dim1=2),
        g("op.Permute", x, dims=(2, 0, 1)),
        g("op.Contiguous", x),
        g("op.Clone", x),
        g("op.ToCopy", x, dtype=D.float64),
        g("op.ToCopy", x, dtype=D.int32),
        g("op.Expand", one, shape=(2, 3, 4)),
        g("op.Unsqueeze", x, dim=1),
        g("op.Squeeze", g("op.Unsqueeze", x, dim=3), dims=(3,)),
        g("op.Squeeze", one, dims=(0,)),
        g("op.Squeeze", x, dims=(1,)),  # size 3: unchanged
        g("op.Cat", x, y, dim=1),
        g("op.Matmul", x, g("op.Transpose", x, dim0=1, dim1=2)),
    ]
    check(g, outs)


def test_op_expand_with_symbolic_size():
    g = G()
    x = g.input("x", ["batch", 3])
    col = g.input("col", [1, 1])
    n = g("sym.size", x, 0)
    check(g, g("op.Expand", col, shape=(n, 3)))


def test_op_reductions_tril_masked_fill():
    g = G()
    x = g.input("x", ["batch", 4, 5], kind="ties")
    i = g.input("i", ["batch", 4], dtype="int32", kind="int")
    bm = g.input("bm", [4, 5], dtype="bool", kind="bool")
    outs = [
        g("op.Sum", x),
        g("op.Sum", x, dims=(1,), keepdim=True),
        g("op.Sum", x, dims=(0, 2)),
        g("op.Sum", i, dims=(1,)),
        g("op.Sum", x, dims=(2,), dtype=D.float64),
        g("op.Sum", bm, dims=(0,)),
        g("op.Amax", x, dims=(2,)),
        g("op.Amax", x, dims=(0, 1), keepdim=True, is_min=True),
        g("op.Amax", x),
        g("op.Tril", x),
        g("op.Tril", x, diagonal=1, upper=True),
        g("op.Tril", x, diagonal=-1),
        g("op.Tril", bm),
        g("op.MaskedFill", x, bm, -1.5),
        g("op.MaskedFill", x, bm, float("-inf")),
    ]
    check(g, outs)


def test_op_matmul_1d_cases():
    g = G()
    a = g.input("a", [4])
    m = g.input("m", ["batch", 4, 3])
    v = g.input("v", [3])
    check(g, [g("op.Matmul", a, m), g("op.Matmul", m, v), g("op.Matmul", g("op.Matmul", m, v), a)])


# ------------------------------------------------------------------------------------------------ F.*


def test_f_linear():
    g = G()
    x2 = g.input("x2", ["batch", 4])
    x3 = g.input("x3", ["batch", "seq", 4])
    w, bias = g.param("w", randn(3, 4)), g.param("b", randn(3))
    outs = [
        g("F.linear", x2, w, bias),
        g("F.linear", x3, w, bias),
        g("F.linear", x3, w),
        g("F.linear", x2, w),
    ]
    model = check(g, outs)
    assert any(n.op_type == "Gemm" for n in model.graph.node)


@pytest.mark.parametrize(
    "op,shape,wshape,kw",
    [
        ("F.conv1d", ["batch", 4, 11], (6, 4, 3), {}),
        ("F.conv1d", ["batch", 4, 11], (6, 2, 3), {"stride": 2, "padding": 1, "groups": 2}),
        ("F.conv1d", [4, 11], (6, 4, 3), {"padding": "same", "dilation": 2}),
        (
            "F.conv2d",
            ["batch", 3, 9, 8],
            (5, 3, 3, 2),
            {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)},
        ),
        ("F.conv2d", ["batch", 4, 7, 7], (4, 1, 3, 3), {"groups": 4, "padding": "same"}),
        ("F.conv2d", ["batch", 4, 7, 7], (2, 4, 3, 3), {"padding": "valid"}),
        ("F.conv3d", ["batch", 2, 5, 6, 5], (3, 2, 2, 3, 2), {"stride": 2, "padding": 1}),
    ],
)
def test_f_conv(op, shape, wshape, kw):
    g = G()
    x = g.input("x", shape)
    w = g.param("w", randn(*wshape))
    b = g.param("b", randn(wshape[0], seed=2))
    check(g, [g(op, x, w, b, **kw), g(op, x, w, **kw)])


@pytest.mark.parametrize(
    "op,shape,wshape,kw",
    [
        ("F.conv_transpose1d", ["batch", 4, 6], (4, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
        (
            "F.conv_transpose2d",
            ["batch", 4, 5, 6],
            (4, 2, 3, 2),
            {"stride": (2, 1), "groups": 2, "dilation": (1, 2)},
        ),
        ("F.conv_transpose2d", [4, 5, 6], (4, 3, 3, 3), {"padding": 1}),
    ],
)
def test_f_conv_transpose(op, shape, wshape, kw):
    g = G()
    x = g.input("x", shape)
    w = g.param("w", randn(*wshape))
    groups = kw.get("groups", 1)
    b = g.param("b", randn(wshape[1] * groups, seed=2))
    check(g, [g(op, x, w, b, **kw), g(op, x, w, **kw)])


@pytest.mark.parametrize(
    "op,shape,kw",
    [
        ("F.max_pool1d", ["batch", 3, 10], {"kernel_size": 3}),
        ("F.max_pool1d", ["batch", 3, 10], {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
        ("F.max_pool2d", ["batch", 2, 9, 8], {"kernel_size": 2}),
        (
            "F.max_pool2d",
            ["batch", 2, 9, 8],
            {"kernel_size": (3, 2), "stride": (2, 3), "padding": 1, "dilation": 2},
        ),
        ("F.max_pool2d", ["batch", 2, 9, 8], {"kernel_size": 3, "stride": 2, "ceil_mode": True}),
        ("F.max_pool2d", [2, 9, 8], {"kernel_size": 2}),
        ("F.avg_pool1d", ["batch", 3, 10], {"kernel_size": 3, "stride": 2}),
        ("F.avg_pool1d", ["batch", 3, 10], {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True}),
        ("F.avg_pool2d", ["batch", 2, 9, 8], {"kernel_size": 2}),
        ("F.avg_pool2d", ["batch", 2, 9, 8], {"kernel_size": 3, "stride": 2, "padding": 1}),
        ("F.avg_pool2d", ["batch", 2, 9, 8], {"kernel_size": 3, "padding": 1, "count_include_pad": False}),
        ("F.avg_pool2d", ["batch", 2, 9, 8], {"kernel_size": 2, "stride": 2, "ceil_mode": True}),
        ("F.adaptive_avg_pool1d", ["batch", 3, 10], {"output_size": 5}),
        ("F.adaptive_avg_pool1d", ["batch", 3, 10], {"output_size": 3}),
        ("F.adaptive_avg_pool2d", ["batch", 2, 9, 8], {"output_size": 1}),
        ("F.adaptive_avg_pool2d", ["batch", 2, 9, 8], {"output_size": (3, 4)}),
        ("F.adaptive_avg_pool2d", ["batch", 2, 9, 8], {"output_size": (4, 5)}),
        ("F.adaptive_avg_pool2d", ["batch", 2, 9, 8], {"output_size": (None, 3)}),
        ("F.adaptive_avg_pool2d", ["batch", 2, "seq", "seq"], {"output_size": (1, 1)}),
    ],
)
def test_f_pool(op, shape, kw):
    g = G()
    x = g.input("x", shape)
    check(g, g(op, x, **kw))


def test_adaptive_pool_dynamic_spatial_raises():
    g = G()
    x = g.input("x", ["batch", 2, "seq", 8])
    out = g("F.adaptive_avg_pool2d", x, (3, 4))
    with pytest.raises(NotImplementedError, match="static spatial sizes"):
        graph_to_onnx(g.graph(out), g.data)


def test_f_norms():
    g = G()
    x = g.input("x", ["batch", "seq", 8])
    c = g.input("c", ["batch", 6, 5, 4])
    w8, b8 = g.param("w8", randn(8)), g.param("b8", randn(8, seed=2))
    w6, b6 = g.param("w6", randn(6)), g.param("b6", randn(6, seed=2))
    mean, var = g.param("mean", randn(6, seed=3)), g.param("var", np.abs(randn(6, seed=4)) + 0.5)
    outs = [
        g("F.layer_norm", x, (8,), w8, b8),
        g("F.layer_norm", x, [8], eps=1e-3),
        g("F.layer_norm", c, (5, 4)),
        g("F.rms_norm", x, (8,), w8),
        g("F.rms_norm", x, [8], None, 1e-2),
        g("F.group_norm", c, 3, w6, b6),
        g("F.group_norm", c, 2, eps=1e-3),
        g("F.batch_norm", c, mean, var, w6, b6, False, 0.1, 1e-5),
        g("F.batch_norm", c, mean, var),
        g("F.batch_norm", g("T.flatten", c, 2), mean, var, w6, b6),
        g("F.batch_norm", c, None, None, w6, b6, True),
        g("F.normalize", x, dim=-1),
        g("F.normalize", c, p=1.0, dim=1),
    ]
    check(g, outs)


def test_f_layer_norm_composed_below_opset_17():
    g = G()
    x = g.input("x", ["batch", 8])
    model = check(g, [g("F.layer_norm", x, (8,), g.param("w", randn(8)), g.param("b", randn(8)))], opset=16)
    assert not any(n.op_type == "LayerNormalization" for n in model.graph.node)


def test_f_embedding():
    g = G()
    idx = g.input("idx", ["batch", "seq"], dtype="int64", kind="int", low=0, high=10)
    w = g.param("w", randn(10, 4) * 3)
    check(
        g,
        [
            g("F.embedding", idx, w),
            g("F.embedding", idx, w, padding_idx=0),
            g("F.embedding", idx, w, max_norm=1.0),
        ],
    )


@pytest.mark.parametrize(
    "kw,mask",
    [
        ({}, None),
        ({"is_causal": True}, None),
        ({"scale": 0.3}, None),
        ({}, "bool"),
        ({}, "float"),
        ({"enable_gqa": True}, None),
    ],
)
def test_f_scaled_dot_product_attention(kw, mask):
    g = G()
    q = g.input("q", ["batch", 4, "seq", 8])
    hk = 2 if kw.get("enable_gqa") else 4
    k = g.input("k", ["batch", hk, "seq", 8])
    v = g.input("v", ["batch", hk, "seq", 6])
    args = [q, k, v]
    if mask == "bool":
        args.append(g.input("mask", ["seq", "seq"], dtype="bool", kind="bool"))
    elif mask == "float":
        args.append(g.input("mask", ["batch", 1, "seq", "seq"]))
    check(g, g("F.scaled_dot_product_attention", *args, **kw))


def test_f_sdpa_fully_masked_rows_give_zeros():
    g = G()
    q = g.input("q", ["batch", "seq", 8])
    mask = g.param("mask", np.array([[True, False, True], [False, False, False], [True, True, True]]))
    k = g.input("k", ["batch", 3, 8])
    v = g.input("v", ["batch", 3, 4])
    check(g, g("F.scaled_dot_product_attention", q, k, v, attn_mask=mask), sizes=[{"batch": 2, "seq": 3}])


def test_f_activations():
    g = G()
    x = g.input("x", ["batch", 3, 5])
    outs = [
        g("F.relu", x),
        g("F.gelu", x),
        g("F.gelu", x, approximate="tanh"),
        g("F.silu", x),
        g("F.sigmoid", x),
        g("F.tanh", x),
        g("F.leaky_relu", x),
        g("F.leaky_relu", x, 0.2),
        g("F.elu", x),
        g("F.elu", x, alpha=0.5),
        g("F.softplus", x),
        g("F.softplus", g("op.Mul", x, 20.0), beta=2.0, threshold=5.0),
        g("F.hardtanh", x),
        g("F.hardtanh", x, -0.5, 0.25),
        g("F.mish", x),
        g("F.dropout", x, 0.5, False),
        g("F.dropout", x, p=0.0),
        g("F.softmax", x, dim=1),
        g("F.softmax", x, -1, dtype=D.float64),
        g("F.log_softmax", x, dim=2),
        g("F.softmax", x),
    ]
    check(g, outs)


def test_f_dropout_training_raises():
    g = G()
    x = g.input("x", ["batch", 3])
    with pytest.raises(NotImplementedError, match="training mode"):
        graph_to_onnx(g.graph(g("F.dropout", x, 0.5, True)), g.data)


@pytest.mark.parametrize(
    "pad,mode,value",
    [
        ((1, 2), "constant", None),
        ((1, 0, 2, 1), "constant", 1.5),
        ((-1, 2), "constant", None),
        ((2, 1, 1, 2), "reflect", None),
        ((1, 2, 0, 0), "replicate", None),
        ((2, 1, 0, 1), "replicate", None),
        ((1, 2, 2, 0), "circular", None),
    ],
)
def test_f_pad(pad, mode, value):
    g = G()
    x = g.input("x", ["batch", 2, 5, 6])
    kw = {} if value is None else {"value": value}
    check(g, g("F.pad", x, pad, mode, **kw))


def test_f_pad_circular_opset19_uses_wrap():
    g = G()
    x = g.input("x", ["batch", 2, 5, 6])
    model = check(g, g("F.pad", x, (1, 2, 2, 1), "circular"), opset=19)
    assert any(n.op_type == "Pad" for n in model.graph.node)


# ------------------------------------------------------------------------------------------------ T.*


def test_t_view_reshape_flatten_unflatten():
    g = G()
    x = g.input("x", ["batch", 3, 4])
    n = g("sym.size", x, 0)
    outs = [
        g("T.view", x, -1, 12),
        g("T.view", x, (n, 2, 6)),
        g("T.reshape", x, [n, -1]),
        g("T.reshape", x, -1),
        g("T.view", x, n, 3, 2, 2),
        g("T.flatten", x),
        g("T.flatten", x, 1),
        g("T.flatten", x, 0, 1),
        g("T.flatten", x, start_dim=1, end_dim=-1),
        g("T.unflatten", x, 2, (2, 2)),
        g("T.unflatten", x, -1, (2, -1)),
        g("T.unflatten", x, 0, (1, n)),
    ]
    check(g, outs)


def test_sym_size_view_two_sizes():
    """sym.size -> sym arithmetic -> T.view: the shapes stay dynamic in the ONNX graph."""
    g = G()
    x = g.input("x", ["batch", "seq", 8])
    b_, t = g("sym.size", x, 0), g("sym.size", x, 1)
    bt = g("sym.mul", b_, t)
    half = g("sym.floordiv", 8, 2)
    y = g("T.view", x, bt, half, -1)
    z = g("T.view", y, b_, t, 2, 4)
    tm1 = g("sym.sub", t, 1)
    w = g("T.__getitem__", z, (slice(None), slice(None, tm1)))
    r = g("sym.mod", g("sym.add", t, 3), 4)
    v = g("T.view", x, g("sym.neg", g("sym.neg", b_)), g("sym.max", t, r), g("sym.min", 8, 16))
    model = check(g, [z, w, v], sizes=[{"batch": 2, "seq": 5}, {"batch": 4, "seq": 3}])
    assert {"Shape"} <= {n.op_type for n in model.graph.node}
    dims = model.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", "seq", 2, 4]


def test_t_squeeze_unsqueeze_expand_repeat():
    g = G()
    x = g.input("x", ["batch", 1, 4])
    d = g.input("d", ["batch", 3])
    outs = [
        g("T.squeeze", x),
        g("T.squeeze", x, 1),
        g("T.squeeze", x, (1, 2)),
        g("T.squeeze", x, 0),
        g("T.unsqueeze", x, -1),
        g("T.unsqueeze", x, 0),
        g("T.expand", x, -1, 3, 4),
        g("T.expand", x, (2, -1, 5, 4)),
        g("T.expand_as", x, g("T.unsqueeze", g("T.expand", x, -1, 2, -1), 0)),
        g("T.repeat", x, 1, 2, 3),
        g("T.repeat", x, (2, 1, 1, 2)),
        g("T.expand", g("T.unsqueeze", d, 1), -1, g("sym.size", d, 1), -1),
    ]
    check(g, outs)


def test_t_squeeze_dynamic_dim_of_size_one():
    g = G()
    x = g.input("x", ["batch", 3])
    check(g, g("T.squeeze", x, 0), sizes=[{"batch": 1}, {"batch": 2}])


def test_t_split_chunk():
    g = G()
    x = g.input("x", ["batch", 10, "seq"])
    outs = []
    outs += g("T.split", x, 4, 1, nout=3)
    outs += g("T.split", x, [2, 3, 5], dim=1, nout=3)
    outs += g("T.chunk", x, 3, 1, nout=3)
    outs += g("T.chunk", x, 4, dim=1, nout=4)
    outs += g("T.split", x, 2, -1, nout=3)  # seq = 5: sizes 2, 2, 1
    check(g, outs, sizes=[{"batch": 2, "seq": 5}, {"batch": 3, "seq": 6}])


@pytest.mark.parametrize(
    "key",
    [
        1,
        -1,
        slice(1, None),
        slice(None, -1),
        slice(0, None, 2),
        (Ellipsis, 0),
        (slice(None), None, 2),
        (None, Ellipsis, slice(1, 3)),
        (0, slice(None), -1),
        [0, 2],
        (slice(None), [-1], slice(None)),
        (Ellipsis, [1, 0, 1]),
        (slice(None), [[0, 1], [2, 0]]),
        ([0, 1], slice(None), [1, 2]),
        (slice(None), [0, 2], [1, 3]),
        (True,),
        (slice(None), False),
        (False, Ellipsis, 1),
        (1, True, Ellipsis, [0, 1]),
    ],
)
def test_t_getitem(key):
    g = G()
    x = g.input("x", [3, 4, 5])
    check(g, g("T.__getitem__", x, key))


def test_t_getitem_tensor_indices_and_masks():
    g = G()
    x = g.input("x", ["batch", 4, 5])
    idx = g.input("idx", [3], dtype="int64", kind="int", low=-4, high=4)
    mask = g.input("mask", [4, 5], dtype="bool", kind="bool")
    rows = g.input("rows", ["batch", 4], dtype="bool", kind="bool")
    i0 = g.input("i0", [], dtype="int64", kind="int", low=0, high=2)
    outs = [
        g("T.__getitem__", x, (slice(None), idx)),
        g("T.__getitem__", x, (slice(None), mask)),
        g("T.__getitem__", x, rows),
        g("T.__getitem__", x, (slice(None), idx, slice(1, 3))),
        g("T.__getitem__", x, (i0, idx)),
        g("T.__getitem__", x, (slice(None), idx, idx)),
    ]
    last = g("sym.sub", g("sym.size", x, 0), 1)
    outs += [
        g("T.__getitem__", x, last),
        g("T.__getitem__", x, [0, last]),
        g("T.__getitem__", x, (last, Ellipsis, 0)),
    ]
    check(g, outs)


def test_t_reductions():
    g = G()
    x = g.input("x", ["batch", 4, 5], kind="ties")
    i = g.input("i", ["batch", 4], dtype="int64", kind="int")
    outs = [
        g("T.mean", x),
        g("T.mean", x, 1),
        g("T.mean", x, (0, 2), True),
        g("T.mean", x, dim=-1, keepdim=True),
        g("T.sum", x),
        g("T.sum", x, 2),
        g("T.sum", i, 1),
        g("T.sum", x, (1, 2), dtype=D.float64),
        g("T.sum", i, dtype=D.float32),
        g("T.amax", x),
        g("T.amax", x, 1),
        g("T.amin", x, (0, 2), True),
        g("T.max", x),
        g("T.min", x),
        g("T.max", x, g("op.Neg", x)),
        g("T.var", x),
        g("T.var", x, 1),
        g("T.var", x, (1, 2), keepdim=True, correction=0),
        g("T.var", x, False),
        g("T.std", x, -1),
        g("T.std", x, 1, unbiased=False),
        g("T.mean", i, dtype=D.float32),
    ]
    outs += g("T.max", x, 2, nout=2)
    outs += g("T.max", x, 1, True, nout=2)
    outs += g("T.min", x, dim=0, nout=2)
    check(g, outs)


def test_t_masked_fill_casts():
    g = G()
    x = g.input("x", ["batch", 3])
    m = g.input("m", ["batch", 3], dtype="bool", kind="bool")
    h = g.input("h", [3], dtype="float64")
    outs = [
        g("T.masked_fill", x, m, 0.0),
        g("T.masked_fill", x, m, float("-inf")),
        g("T.masked_fill", x, g("T.__getitem__", m, 0), g("T.sum", h)),
        g("T.type_as", x, h),
        g("T.to", x, D.float64),
        g("T.to", x, dtype=D.int64),
        g("T.to", x, "cpu"),
        g("T.to", x, h),
        g("T.float", h),
        g("T.half", x),
        g("T.long", g("op.Mul", x, 3.0)),
        g("T.int", x),
        g("T.bool", x),
        g("T.contiguous", x),
        g("T.to", x, None, D.float16),
    ]
    check(g, outs, tol=1e-3)


# ------------------------------------------------------------------------------------------------ E.*


def test_e_arange_factories():
    g = G()
    x = g.input("x", ["batch", 3])
    n = g("sym.size", x, 0)
    outs = [
        g("E.arange", 5),
        g("E.arange", 1, 7, 2),
        g("E.arange", 0.5, 3.0, 0.5),
        g("E.arange", 4, dtype=D.float32),
        g("E.arange", n),
        g("E.arange", 0, n, dtype=D.int64),
        g("E.arange", 1, g("sym.add", n, 4), 2),
        g("E.arange", n, dtype=D.float32),
        g("E.arange", 5, step=2),
        g("E.arange", 1, end=n),
        g("E.arange", end=6, start=2),
        g("E.zeros", 2, 3),
        g("E.zeros", (n, 3)),
        g("E.ones", [n, 2], dtype=D.int64),
        g("E.ones", n, 2, dtype=D.bool_),
        g("E.full", (2, n), 1.5),
        g("E.full", [n], 7),
        g("E.full", (n, 2), True),
        g("E.full", (2,), n),
        g("E.zeros_like", x),
        g("E.ones_like", x, dtype=D.int32),
        g("E.full_like", x, -2.0),
        g("E.full_like", x, n),
    ]
    check(g, outs)


def test_e_join_tril_where_matmul():
    g = G()
    x = g.input("x", ["batch", 3, 4])
    y = g.input("y", ["batch", 3, 4])
    i = g.input("i", ["batch", 3, 4], dtype="int32", kind="int")
    e = g.param("empty", np.zeros((0,), np.float32))
    m = g.input("m", ["batch", 4, 2])
    mat = g.input("mat", [4, 4])
    outs = [
        g("E.cat", [x, y], 1),
        g("E.cat", (x, y, x), dim=-1),
        g("E.cat", [x, i], 0),
        g("E.cat", [e, x, e]),
        g("E.stack", [x, y]),
        g("E.stack", (x, y), dim=-1),
        g("E.stack", [x, i], 2),
        g("E.tril", x),
        g("E.triu", x, 1),
        g("E.tril", x, diagonal=-1),
        g("E.where", g("op.Gt", x, 0.0), x, y),
        g("E.where", g("op.Gt", x, 0.0), x, 0.0),
        g("E.where", g("op.Gt", x, 0.0), 1.0, i),
        g("E.matmul", x, m),
        g("E.bmm", x, m),
        g("E.matmul", mat, mat),
        g("E.einsum", "bij,bjk->bik", x, m),
        g("E.einsum", "bij, bij -> bi", [x, y]),
        g("E.einsum", "ij,jk", mat, mat),
        g("E.einsum", "...ij->...ji", x),
        g("E.baddbmm", g("E.bmm", x, m), x, m, beta=0.5, alpha=2.0),
        g("E.baddbmm", g("T.__getitem__", g("E.bmm", x, m), 0), x, m),
        g("E.addmm", mat, mat, mat),
        g("E.addmm", mat, mat, mat, beta=0.5, alpha=-1.0),
        g("E.addmm", g("T.__getitem__", mat, 0), mat, mat, beta=0),
    ]
    check(g, outs)


# ------------------------------------------------------------------------------------------------ contract


def test_every_v1_op_is_mapped():
    v1 = {  # the v1 list of ember/export/FORMAT.md
        "F": "linear conv1d conv2d conv3d conv_transpose1d conv_transpose2d max_pool1d max_pool2d avg_pool1d "
        "avg_pool2d adaptive_avg_pool1d adaptive_avg_pool2d layer_norm group_norm batch_norm rms_norm embedding "
        "scaled_dot_product_attention softmax log_softmax pad dropout gelu relu silu sigmoid tanh leaky_relu elu "
        "softplus hardtanh mish normalize",
        "T": "view reshape flatten unflatten squeeze unsqueeze expand expand_as repeat split chunk __getitem__ mean "
        "sum amax amin max var std masked_fill type_as to float half bfloat16 long int bool contiguous",
        "E": "arange cat stack zeros ones full zeros_like ones_like full_like tril triu where matmul bmm einsum "
        "baddbmm addmm",
        "op": "Add Sub Mul Div Pow Neg Abs Exp Log Sqrt Rsqrt Sin Cos Tanh Sigmoid Erf Reciprocal Floor Ceil Round "
        "Sign Clamp Maximum Minimum Where Eq Ne Lt Le Gt Ge LogicalAnd LogicalOr LogicalNot Relu Gelu Silu Softmax "
        "LogSoftmax Matmul Transpose Permute Contiguous Clone ToCopy Expand Unsqueeze Squeeze Cat Sum Amax Tril "
        "MaskedFill",
        "sym": "size add sub mul floordiv mod neg max min",
    }
    names = {f"{ns}.{n}" for ns, ops in v1.items() for n in ops.split()}
    assert names - set(supported_ops()) == set()


def test_unmapped_op_raises():
    g = G()
    x = g.input("x", ["batch", 3])
    y = g("op.Lerp", x, x, 0.5, scope="encoder.layers.0")
    with pytest.raises(NotImplementedError) as e:
        graph_to_onnx(g.graph(y), g.data)
    assert (
        str(e.value) == "ember.onnx: no ONNX mapping for op 'op.Lerp' (called at module 'encoder.layers.0')"
    )


def test_checker_names_and_dynamic_dims():
    g = G()
    x = g.input("x", ["batch", 4])
    w = g.param("fc.weight", randn(3, 4))
    y = g("F.linear", x, w)
    model = graph_to_onnx(
        g.graph(y),
        g.data,
        input_names=["inp"],
        output_names=["logits"],
        dynamic_axes={"inp": {0: "N"}, "logits": {0: "N"}},
    )
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["inp"]
    assert [o.name for o in model.graph.output] == ["logits"]
    assert [i.name for i in model.graph.initializer] == ["fc.weight"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert model.opset_import[0].version == 17
    xs = np.ones((6, 4), np.float32)
    np.testing.assert_allclose(run_onnx(model, {"inp": xs})[0], xs @ g.data[w["$v"]].T, rtol=1e-5)


def test_static_axis_declared_dynamic_raises():
    g = G()
    x = g.input("x", [2, 4])
    with pytest.raises(ValueError, match="static size"):
        graph_to_onnx(g.graph(g("F.relu", x)), g.data, dynamic_axes={"x": [0]})


@pytest.mark.parametrize("opset", [18, 21])
def test_newer_opsets_and_out_of_range_refused(opset):
    g = G()
    x = g.input("x", ["batch", 4, 5])
    outs = [g("T.mean", x, 1), g("T.amax", x, 2), g("F.normalize", x), g("T.var", x, 1), g("T.sum", x, -1)]
    outs += g("T.split", x, 2, 2, nout=3)
    outs += [g("F.pad", x, (1, 1), "circular"), g("F.layer_norm", x, (5,)), g("T.squeeze", x, 0)]
    check(g, outs, opset=opset)
    for bad in (11, onnx.defs.onnx_opset_version() + 1):
        with pytest.raises(ValueError, match="opset"):
            graph_to_onnx(g.graph(*outs), g.data, opset=bad)


def test_export_graph_writes_atomically(tmp_path):
    g = G()
    x = g.input("x", ["batch", 4])
    graph = g.graph(g("F.gelu", x))
    path = tmp_path / "m.onnx"
    model = export_graph(graph, g.data, str(path), opset_version=17)
    assert onnx.load(str(path)).SerializeToString() == model.SerializeToString()
    assert os.listdir(tmp_path) == ["m.onnx"]
    buf = io.BytesIO()
    export_graph(graph, g.data, buf)
    assert onnx.load_from_string(buf.getvalue()).graph.node


def test_bfloat16_and_float16_params():
    g = G()
    x = g.input("x", ["batch", 4], dtype="float16")
    w = g.param("w", randn(3, 4).astype(np.float16))
    check(g, g("F.linear", x, w), tol=2e-3)
    import ml_dtypes

    g2 = G()
    x2 = g2.input("x", ["batch", 4])
    w2 = g2.param("w", randn(4).astype(ml_dtypes.bfloat16))
    model = graph_to_onnx(g2.graph(g2("op.Mul", x2, g2("T.float", w2))), g2.data)
    assert model.graph.initializer[0].data_type == onnx.TensorProto.BFLOAT16


# ------------------------------------------------------------------------------------------------ end to end


def _export_and_compare(model, example, sizes, make_input, tmp_path=None, **kw):
    """ember.onnx.export, then onnxruntime against the eager model at each size (1e-4)."""
    if tmp_path is not None:
        target = tmp_path / "model.onnx"
        onnx_model = export(model, example, str(target), **kw)
        sess = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    else:
        buf = io.BytesIO()
        onnx_model = export(model, example, buf, **kw)
        sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    onnx.checker.check_model(onnx_model)
    names = [i.name for i in sess.get_inputs()]
    with ember.no_grad():
        for s in sizes:
            inputs = make_input(*s)
            want = model(*inputs)
            want = want[0] if isinstance(want, tuple) else want
            got = sess.run(None, {n: x.numpy() for n, x in zip(names, inputs)})[0]
            compare(got, want.detach())
    return onnx_model


def test_export_mlp(tmp_path):
    ember.manual_seed(0)
    model = MLP(6, [16, 8], 3).eval()
    onnx_model = _export_and_compare(
        model,
        (ember.randn(2, 6),),
        [(1,), (5,)],
        lambda n: (ember.randn(n, 6),),
        tmp_path,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
    )
    assert [d.dim_param or d.dim_value for d in onnx_model.graph.output[0].type.tensor_type.shape.dim] == [
        "batch",
        3,
    ]
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]


class _CNN(ember.nn.Module):
    def __init__(self):
        super().__init__()
        nn = ember.nn
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def test_export_cnn_with_batchnorm_eval():
    ember.manual_seed(0)
    model = _CNN()
    for m in model.modules():  # non-trivial running statistics
        if isinstance(m, ember.nn.BatchNorm2d):
            m.running_mean.copy_(ember.randn(8) * 0.1)
            m.running_var.copy_(ember.rand(8) + 0.5)
    model.train()  # export switches to eval and restores the mode, as torch.onnx does
    onnx_model = _export_and_compare(
        model.eval(),
        (ember.randn(2, 3, 16, 16),),
        [(1,), (3,)],
        lambda n: (ember.randn(n, 3, 16, 16),),
        input_names=["img"],
        dynamic_axes={"img": {0: "batch"}},
    )
    assert {"Conv", "BatchNormalization", "MaxPool"} <= {n.op_type for n in onnx_model.graph.node}


def test_export_restores_training_mode():
    model = MLP(4, [8], 2)
    model.train()
    export(model, (ember.randn(2, 4),), io.BytesIO())
    assert model.training


def test_export_gpt_dynamic_batch_and_sequence():
    from ember.models import GPT, GPTConfig

    ember.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=11, n_layer=2, n_head=2, n_embd=16)).eval()
    idx = ember.randint(0, 11, (2, 5))
    onnx_model = _export_and_compare(
        model,
        (idx,),
        [(1, 3), (3, 9)],
        lambda b, t: (ember.randint(0, 11, (b, t)),),
        input_names=["idx"],
        output_names=["logits"],
        dynamic_axes={"idx": {0: "batch", 1: "seq"}},
    )
    dims = onnx_model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "seq"]


class _EncoderClassifier(ember.nn.Module):
    def __init__(self):
        super().__init__()
        nn = ember.nn
        self.embed = nn.Linear(6, 16)
        layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.encoder(self.embed(x)).mean(dim=1))


def test_export_transformer_encoder_classifier():
    ember.manual_seed(0)
    model = _EncoderClassifier().eval()
    _export_and_compare(
        model,
        (ember.randn(2, 5, 6),),
        [(1, 3), (4, 8)],
        lambda b, t: (ember.randn(b, t, 6),),
        input_names=["x"],
        dynamic_axes={"x": {0: "batch", 1: "seq"}},
    )


def test_normalize_other_norms():
    g = G()
    x = g.input("x", ["batch", 4, 5])
    outs = [g("F.normalize", x, float("inf"), 2), g("F.normalize", x, 3.0, -1), g("F.normalize", x, 0.5)]
    check(g, outs)


def test_conversion_errors_name_op_and_scope():
    g = G()
    x = g.input("x", ["batch", 3])
    y = g("T.view", x, g.param("size", np.array([3])), scope="blocks.1")
    with pytest.raises(NotImplementedError, match=r"tensor-valued sizes.*'T.view'.*'blocks.1'"):
        graph_to_onnx(g.graph(y), g.data)
    g2 = G()
    x2 = g2.input("x", [2, 3])
    y2 = g2("T.__getitem__", x2, (0, 1, 2), scope="head")
    with pytest.raises(IndexError) as e:
        graph_to_onnx(g2.graph(y2), g2.data)
    assert "ember.onnx: while converting op 'T.__getitem__' (called at module 'head')" in e.value.__notes__


def test_large_models_use_external_data(tmp_path, monkeypatch):
    from ember.onnx import converter

    monkeypatch.setattr(converter, "IN_MEMORY_LIMIT", 256)  # pretend 256 bytes of weights is "over 2 GiB"
    g = G()
    x = g.input("x", ["batch", 16])
    w = g.param("fc.weight", randn(32, 16))
    graph = g.graph(g("F.linear", x, w))
    path = tmp_path / "big.onnx"
    export_graph(graph, g.data, str(path))
    assert sorted(os.listdir(tmp_path)) == ["big.onnx", "big.onnx.data"]
    onnx.checker.check_model(str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    xs = randn(3, 16, seed=5)
    np.testing.assert_allclose(sess.run(None, {"x": xs})[0], xs @ g.data[w["$v"]].T, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="over 2 GiB"):
        export_graph(graph, g.data, io.BytesIO())


def test_extra_op_level_mappings():
    """Dispatched primitives beyond the v1 list that models commonly reach at op level."""
    g = G()
    x = g.input("x", ["batch", 4, 5], kind="ties")
    p = g.input("p", ["batch", 4, 5], kind="pos")
    idx = g.input("idx", ["batch", 4, 2], dtype="int64", kind="int", low=0, high=4)
    i = g.input("i", ["batch", 4], dtype="int64", kind="int", low=-7, high=8)
    n = g("sym.size", x, 0)
    outs = [
        g("op.View", x, shape=(n, 20)),
        g("op.Reshape", x, shape=(n, 2, 10)),
        g("op.Slice", x, key=(slice(None), 1, Ellipsis)),
        g("op.Index", x, key=(slice(None), idx)),
        g("op.Tan", g("op.Mul", x, 0.3)),
        g("op.Atan", x),
        g("op.Trunc", g("op.Mul", x, 1.5)),
        g("op.Square", x),
        g("op.Log1p", p),
        g("op.Expm1", x),
        g("op.Log2", p),
        g("op.Exp2", x),
        g("op.Remainder", x, 0.75),
        g("op.Remainder", x, -0.75),
        g("op.Remainder", i, 3),
        g("op.Remainder", i, -3),
        g("op.FloorDivide", x, 0.75),
        g("op.FloorDivide", i, -3),
        g("op.LeakyRelu", x, slope=0.1),
        g("op.Elu", x, alpha=0.5),
        g("op.Elu", x, alpha=1.6, scale=1.05),
        g("op.Elu", x, alpha=0.7, beta=2.0),
        g("op.Softplus", x, beta=2.0),
        g("op.Hardtanh", x, lo=-0.5, hi=0.5),
        g("op.Mish", x),
        g("op.Hardsigmoid", g("op.Mul", x, 4.0)),
        g("op.Hardswish", g("op.Mul", x, 4.0)),
        g("op.Argmax", p, dim=1),
        g("op.Argmax", p, dim=2, keepdim=True, is_min=True),
        g("op.Argmax", p),
        g("op.Prod", x, dim=1),
        g("op.Prod", i, dim=1, keepdim=True),
        g("op.Cumsum", x, dim=2),
        g("op.Cumsum", i, dim=1),
        g("op.Logsumexp", x, dims=(2,)),
        g("op.Logsumexp", x, dims=(0, 1), keepdim=True),
        g("op.Repeat", x, repeats=(2, 1, 1, 2)),
        g("op.Flip", x, dims=(0, 2)),
        g("op.Gather", x, dim=2, index=idx),
    ]
    check(g, outs)


def test_float16_graph():
    g = G()
    x = g.input("x", ["batch", "seq", 8], dtype="float16")
    w = g.param("w", randn(8, 8).astype(np.float16))
    h = g("F.linear", x, w)
    h = g("F.layer_norm", g("op.Add", x, g("F.gelu", h, approximate="tanh")), (8,))
    q = g("T.view", h, g("sym.size", h, 0), g("sym.size", h, 1), 2, 4)
    q = g("op.Transpose", q, dim0=1, dim1=2)
    a = g("F.scaled_dot_product_attention", q, q, q, is_causal=True)
    outs = [a, g("F.softmax", h, -1), g("T.mean", h, -1), g("T.sum", h, 1), g("F.rms_norm", h, (8,))]
    check(g, outs, tol=1e-2)

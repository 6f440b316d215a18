"""The Open Inference Protocol codec (ember.serve.protocol): JSON and binary requests/responses, and errors."""

import gzip
import json
import zlib

import ml_dtypes
import numpy as np
import pytest

from ember.serve.protocol import (
    HEADER_LENGTH,
    InferRequest,
    ProtocolError,
    RequestedOutput,
    encode_infer_response,
    error_body,
    from_v2_datatype,
    model_metadata,
    parse_infer_request,
    to_v2_datatype,
)

# ember dtype name, v2 datatype, NumPy dtype
DTYPES = [
    ("bool", "BOOL", np.dtype(np.bool_)),
    ("uint8", "UINT8", np.dtype(np.uint8)),
    ("int8", "INT8", np.dtype(np.int8)),
    ("int16", "INT16", np.dtype(np.int16)),
    ("int32", "INT32", np.dtype(np.int32)),
    ("int64", "INT64", np.dtype(np.int64)),
    ("float16", "FP16", np.dtype(np.float16)),
    ("bfloat16", "BF16", np.dtype(ml_dtypes.bfloat16)),
    ("float32", "FP32", np.dtype(np.float32)),
    ("float64", "FP64", np.dtype(np.float64)),
    ("uint16", "UINT16", np.dtype(np.uint16)),
    ("uint32", "UINT32", np.dtype(np.uint32)),
    ("uint64", "UINT64", np.dtype(np.uint64)),
]
DTYPE_IDS = [d[0] for d in DTYPES]


def sample(dtype: np.dtype, shape=(2, 3)) -> np.ndarray:
    """Values that span the dtype's range (extremes for integers, fractions and signs for floats)."""
    n = int(np.prod(shape))
    if dtype == np.bool_:
        return (np.arange(n) % 3 == 0).reshape(shape)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        vals = [info.min, info.max, 0, 1, info.max // 3, info.min // 2 if info.min else 7]
        return np.array((vals * n)[:n], dtype=dtype).reshape(shape)
    vals = np.array([-2.5, 0.0, 1.0, 3.140625, -0.001953125, 65504.0 if dtype == np.float16 else 1e30])
    if dtype == np.float16 or dtype == ml_dtypes.bfloat16:
        vals[5] = 448.0
    return np.resize(vals, n).astype(dtype).reshape(shape)


def json_data(arr: np.ndarray) -> list:
    """What a client puts in "data": a flat list of Python numbers."""
    if arr.dtype == ml_dtypes.bfloat16:
        arr = arr.astype(np.float32)
    return arr.ravel().tolist()


def le_bytes(arr: np.ndarray) -> bytes:
    """The binary extension's bytes: little-endian, row-major."""
    if arr.dtype == ml_dtypes.bfloat16:
        return (arr.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    return np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()


def request_json(inputs, outputs=None, parameters=None, request_id=None) -> bytes:
    doc = {}
    if request_id is not None:
        doc["id"] = request_id
    if parameters is not None:
        doc["parameters"] = parameters
    doc["inputs"] = inputs
    if outputs is not None:
        doc["outputs"] = outputs
    return json.dumps(doc).encode()


def binary_request(tensors: dict, outputs=None, parameters=None, request_id=None):
    """A request the way tritonclient.http writes one: compact JSON header, then each input's bytes."""
    inputs, blobs = [], []
    for name, (datatype, arr) in tensors.items():
        blob = le_bytes(arr)
        inputs.append(
            {
                "name": name,
                "shape": list(arr.shape),
                "datatype": datatype,
                "parameters": {"binary_data_size": len(blob)},
            }
        )
        blobs.append(blob)
    doc = {}
    if request_id is not None:
        doc["id"] = request_id
    doc["inputs"] = inputs
    if outputs is not None:
        doc["outputs"] = outputs
    if parameters is not None:
        doc["parameters"] = parameters
    head = json.dumps(doc, separators=(",", ":"))
    return head.encode() + b"".join(blobs), {HEADER_LENGTH: str(len(head))}


def decode_response(body: bytes, headers: dict) -> tuple[dict, dict]:
    """Read a response back the way tritonclient's InferResult does; returns (JSON header, name -> array)."""
    n = headers.get(HEADER_LENGTH)
    head = json.loads(body if n is None else body[: int(n)])
    buffer = b"" if n is None else body[int(n) :]
    arrays, index = {}, 0
    for out in head["outputs"]:
        dtype = from_v2_datatype(out["datatype"])
        size = out.get("parameters", {}).get("binary_data_size")
        if size is None:
            arr = np.array(out["data"], dtype=np.float64 if dtype == ml_dtypes.bfloat16 else dtype).astype(
                dtype
            )
        else:
            arr = np.frombuffer(buffer[index : index + size], dtype=dtype.newbyteorder("<"))
            index += size
        arrays[out["name"]] = arr.reshape(out["shape"])
    assert index == len(buffer)
    return head, arrays


def same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(
        a.astype(np.float64) if a.dtype == ml_dtypes.bfloat16 else a,
        b.astype(np.float64) if b.dtype == ml_dtypes.bfloat16 else b,
    )


def sig(name="x", dtype="float32", shape=("batch", 3)):
    return {"name": name, "dtype": dtype, "shape": list(shape)}


# ---------------------------------------------------------------------------------------------- datatypes


@pytest.mark.parametrize("name,v2,npdt", DTYPES, ids=DTYPE_IDS)
def test_datatype_mapping_both_ways(name, v2, npdt):
    assert to_v2_datatype(name) == v2
    assert to_v2_datatype(npdt) == v2
    assert to_v2_datatype(f"ember.{name}") == v2
    assert from_v2_datatype(v2) == npdt
    assert to_v2_datatype(from_v2_datatype(v2)) == v2


def test_datatype_aliases_and_byte_orders():
    assert to_v2_datatype(np.dtype(">f4")) == "FP32"
    assert to_v2_datatype(np.float64) == "FP64"
    assert to_v2_datatype(bool) == "BOOL"
    assert to_v2_datatype("torch.half") == "FP16"
    assert to_v2_datatype(ml_dtypes.bfloat16) == "BF16"


def test_bytes_and_unknown_datatypes_are_rejected():
    with pytest.raises(ProtocolError, match="BYTES .*not supported") as e:
        from_v2_datatype("BYTES")
    assert e.value.status == 400
    with pytest.raises(ProtocolError, match=r"unknown datatype 'fp32'; expected one of BOOL, UINT8"):
        from_v2_datatype("fp32")
    with pytest.raises(ProtocolError, match="must be a string"):
        from_v2_datatype(3)
    with pytest.raises(ProtocolError, match="complex64 has no Open Inference Protocol datatype") as e:
        to_v2_datatype("complex64")
    assert e.value.status == 500


# ---------------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name,v2,npdt", DTYPES, ids=DTYPE_IDS)
def test_json_round_trip(name, v2, npdt):
    x = sample(npdt)
    body = request_json([{"name": "x", "shape": [2, 3], "datatype": v2, "data": json_data(x)}])
    req = parse_infer_request(body, {"Content-Type": "application/json"}, [sig(dtype=name)])
    got = req.inputs["x"]
    same(got, x)
    assert got.flags.c_contiguous and got.flags.writeable
    assert req.id is None and req.outputs is None and not req.binary_data_output

    body, headers = encode_infer_response("m", "1", {"y": x}, req)
    assert headers == {"Content-Type": "application/json"}
    head, arrays = decode_response(body, headers)
    assert head["outputs"][0] == {"name": "y", "datatype": v2, "shape": [2, 3], "data": json_data(x)}
    same(arrays["y"], x)


@pytest.mark.parametrize("name,v2,npdt", DTYPES, ids=DTYPE_IDS)
def test_binary_round_trip(name, v2, npdt):
    x = sample(npdt, (3, 2, 2))
    body, headers = binary_request(
        {"x": (v2, x)}, outputs=[{"name": "y", "parameters": {"binary_data": True}}]
    )
    req = parse_infer_request(body, headers, [sig(dtype=name, shape=("b", 2, 2))])
    same(req.inputs["x"], x)
    assert req.inputs["x"].flags.c_contiguous and req.inputs["x"].flags.writeable
    assert req.outputs == [RequestedOutput("y", True, {"binary_data": True})]

    body, headers = encode_infer_response("m", 1, {"y": x}, req)
    assert headers["Content-Type"] == "application/octet-stream"
    n = int(headers[HEADER_LENGTH])
    assert body[n:] == le_bytes(x)
    head, arrays = decode_response(body, headers)
    assert head["outputs"][0]["parameters"] == {"binary_data_size": x.size * npdt.itemsize}
    assert "data" not in head["outputs"][0]
    same(arrays["y"], x)


def test_bool_and_bf16_binary_layouts():
    body, headers = binary_request({"b": ("BOOL", np.array([True, False, True]))})
    assert body.endswith(b"\x01\x00\x01")
    req = parse_infer_request(body, headers, [sig("b", "bool", ("n",))])
    same(req.inputs["b"], np.array([True, False, True]))
    bf = np.array([1.0, -2.0, 0.5], ml_dtypes.bfloat16)
    out, headers = encode_infer_response("m", "1", {"y": bf}, InferRequest(None, {}, binary_data_output=True))
    assert out[int(headers[HEADER_LENGTH]) :] == bf.view("<u2").tobytes() == b"\x80\x3f\x00\xc0\x00\x3f"


def test_nested_partially_nested_and_flat_data_are_row_major():
    x = np.arange(12, dtype=np.int32).reshape(2, 2, 3)
    spec = [sig("x", "int32", ("b", 2, 3))]
    for data in (x.tolist(), x.reshape(2, 6).tolist(), x.ravel().tolist(), x.reshape(4, 3).tolist()):
        body = request_json([{"name": "x", "shape": [2, 2, 3], "datatype": "INT32", "data": data}])
        same(parse_infer_request(body, {}, spec).inputs["x"], x)


def test_bool_json_takes_true_false_and_zero_one():
    body = request_json([{"name": "b", "shape": [4], "datatype": "BOOL", "data": [True, 0, 1, False]}])
    same(
        parse_infer_request(body, {}, [sig("b", "bool", ("n",))]).inputs["b"],
        np.array([True, False, True, False]),
    )


def test_zero_batch_is_a_valid_request():
    spec = [sig("x", "float32", ("batch", 3))]
    body = request_json([{"name": "x", "shape": [0, 3], "datatype": "FP32", "data": []}])
    same(parse_infer_request(body, {}, spec).inputs["x"], np.zeros((0, 3), np.float32))
    body, headers = binary_request({"x": ("FP32", np.zeros((0, 3), np.float32))})
    same(parse_infer_request(body, headers, spec).inputs["x"], np.zeros((0, 3), np.float32))


def test_shapes_beyond_numpy_are_rejected():
    body = request_json([{"name": "x", "shape": [0, 2**62, 2**62], "datatype": "FP32", "data": []}])
    with pytest.raises(
        ProtocolError, match=r"input 'x': shape \[0, 4611686018427387904, 4611686018427387904\] is too large"
    ):
        parse_infer_request(body, {}, [sig("x", "float32", ("a", "b", "c"))])
    body = request_json([{"name": "x", "shape": [0, 10**18], "datatype": "FP32", "data": []}])
    assert parse_infer_request(body, {}, [sig("x", "float32", ("a", "b"))]).inputs["x"].shape == (0, 10**18)


def test_scalar_and_static_shapes():
    spec = [sig("s", "float64", ()), sig("v", "int64", (4,))]
    body = request_json(
        [
            {"name": "v", "shape": [4], "datatype": "INT64", "data": [1, 2, 3, -(2**63)]},
            {"name": "s", "shape": [], "datatype": "FP64", "data": [2.5]},
        ]
    )
    req = parse_infer_request(body, {}, spec)
    same(req.inputs["s"], np.array(2.5))
    same(req.inputs["v"], np.array([1, 2, 3, -(2**63)]))


def test_mixed_json_and_binary_inputs_in_one_request():
    a, b, c = np.ones((1, 3), np.float32), np.array([[5, 6]], np.int64), np.array([[1, 2, 3]], np.uint8)
    head = {
        "inputs": [
            {"name": "a", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}},
            {"name": "b", "shape": [1, 2], "datatype": "INT64", "data": [[5, 6]]},
            {"name": "c", "shape": [1, 3], "datatype": "UINT8", "parameters": {"binary_data_size": 3}},
        ]
    }
    raw = json.dumps(head).encode()
    body = raw + a.tobytes() + c.tobytes()
    spec = [sig("a", "float32", ("n", 3)), sig("b", "int64", ("n", 2)), sig("c", "uint8", ("n", 3))]
    req = parse_infer_request(body, {HEADER_LENGTH: str(len(raw))}, spec)
    for name, want in zip("abc", (a, b, c)):
        same(req.inputs[name], want)


# ------------------------------------------------------------------------------------ tritonclient's format


def test_tritonclient_http_request_and_response():
    """Bytes as tritonclient.http.InferenceServerClient.infer writes them (binary inputs by default)."""
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    bf = np.array(
        [[1.5, -3.0]], np.float32
    )  # tritonclient's BF16 inputs are float32, sent as the upper halves
    ids = np.array([[7, 8, 9]], np.int64)
    inputs = [
        {"name": "INPUT0", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": 24}},
        {"name": "INPUT1", "shape": [1, 2], "datatype": "BF16", "parameters": {"binary_data_size": 4}},
        {"name": "INPUT2", "shape": [1, 3], "datatype": "INT64", "data": [7, 8, 9]},  # binary_data=False
    ]
    outputs = [
        {"name": "OUTPUT1", "parameters": {"binary_data": True}},
        {"name": "OUTPUT0", "parameters": {"binary_data": False}},
    ]
    parameters = {"sequence_id": 3, "sequence_start": True, "sequence_end": False, "priority": 1}
    request = {"id": "req-1", "inputs": inputs, "outputs": outputs, "parameters": parameters}
    head = json.dumps(request, separators=(",", ":"))  # python-rapidjson's compact dumps
    bf_bytes = (bf.view(np.uint32) >> 16).astype("<u2").tobytes()  # tritonclient.utils.serialize_bf16_tensor
    body = head.encode() + x.tobytes() + bf_bytes
    headers = {HEADER_LENGTH: str(len(head))}  # no Content-Type: tritonclient sends none

    model_inputs = [
        {"name": "INPUT0", "dtype": "float32", "shape": ["batch", 3]},
        {"name": "INPUT1", "dtype": "bfloat16", "shape": ["batch", 2]},
        {"name": "INPUT2", "dtype": "int64", "shape": ["batch", 3]},
    ]
    req = parse_infer_request(body, headers, model_inputs, model_outputs=["OUTPUT0", "OUTPUT1"])
    assert req.id == "req-1" and req.parameters == parameters and not req.binary_data_output
    same(req.inputs["INPUT0"], x)
    same(req.inputs["INPUT1"], bf.astype(ml_dtypes.bfloat16))
    same(req.inputs["INPUT2"], ids)
    assert req.output_names(["OUTPUT0", "OUTPUT1"]) == ["OUTPUT1", "OUTPUT0"]
    assert req.binary_for("OUTPUT1") and not req.binary_for("OUTPUT0")

    y0, y1 = x * 2, np.array([[True, False]])
    body, headers = encode_infer_response("add", "2", {"OUTPUT0": y0, "OUTPUT1": y1}, req)
    n = int(headers[HEADER_LENGTH])
    doc = json.loads(body[:n])
    assert list(doc) == ["id", "model_name", "model_version", "outputs"]  # Triton's order
    assert doc["id"] == "req-1" and doc["model_name"] == "add" and doc["model_version"] == "2"
    assert [o["name"] for o in doc["outputs"]] == ["OUTPUT1", "OUTPUT0"]
    assert doc["outputs"][0] == {
        "name": "OUTPUT1",
        "datatype": "BOOL",
        "shape": [1, 2],
        "parameters": {"binary_data_size": 2},
    }
    assert body[n:] == b"\x01\x00"
    _, arrays = decode_response(body, headers)
    same(arrays["OUTPUT0"], y0)
    same(arrays["OUTPUT1"], y1)


def test_tritonclient_request_without_outputs_gets_all_outputs_binary():
    """tritonclient asks for binary_data_output when no outputs are named: every output, model order."""
    x = np.ones((1, 3), np.float32)
    body, headers = binary_request({"x": ("FP32", x)}, parameters={"binary_data_output": True})
    req = parse_infer_request(body, headers, [sig()])
    assert req.outputs is None and req.binary_data_output
    outs = {"b": np.arange(3, dtype=np.int32), "a": np.zeros((2, 2), np.float64)}
    body, headers = encode_infer_response("m", "1", outs, req)
    head, arrays = decode_response(body, headers)
    assert [o["name"] for o in head["outputs"]] == ["b", "a"]
    assert all("data" not in o for o in head["outputs"])
    same(arrays["b"], outs["b"])
    same(arrays["a"], outs["a"])


def test_header_names_are_case_insensitive():
    body, headers = binary_request({"x": ("FP32", np.ones((1, 3), np.float32))})
    lower = {k.lower(): v for k, v in headers.items()}
    same(parse_infer_request(body, lower, [sig()]).inputs["x"], np.ones((1, 3), np.float32))


# ---------------------------------------------------------------------------------------------- responses


def test_response_outputs_follow_the_request_and_echo_the_id():
    outs = {"a": np.array([1.0], np.float32), "b": np.array([2], np.int64), "c": np.array([True])}
    req = InferRequest("abc", {}, outputs=[RequestedOutput("c"), RequestedOutput("a", binary_data=True)])
    body, headers = encode_infer_response("m", "3", outs, req)
    head, arrays = decode_response(body, headers)
    assert head["id"] == "abc" and head["model_version"] == "3"
    assert [o["name"] for o in head["outputs"]] == ["c", "a"]
    assert head["outputs"][0]["data"] == [True]
    assert head["outputs"][1]["parameters"] == {"binary_data_size": 4}
    same(arrays["a"], outs["a"])


def test_request_level_binary_flag_is_overridden_per_output():
    req = InferRequest(
        None, {}, outputs=[RequestedOutput("a", False), RequestedOutput("b")], binary_data_output=True
    )
    body, headers = encode_infer_response("m", "1", {"a": np.zeros(2), "b": np.ones(2)}, req)
    head, arrays = decode_response(body, headers)
    assert "data" in head["outputs"][0] and "parameters" in head["outputs"][1]
    assert "id" not in head
    same(arrays["b"], np.ones(2))


def test_unknown_requested_output_is_rejected():
    req = InferRequest(None, {}, outputs=[RequestedOutput("nope")])
    with pytest.raises(ProtocolError, match="unknown output 'nope'; the model's outputs are 'y'") as e:
        encode_infer_response("m", "1", {"y": np.zeros(1)}, req)
    assert e.value.status == 400


def test_non_finite_json_outputs_are_written_like_triton():
    """Triton's RapidJSON writer (kWriteNanAndInfFlag) emits the bare tokens NaN, Infinity, -Infinity."""
    y = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    body, _ = encode_infer_response("m", "1", {"y": y}, InferRequest(None, {}))
    assert b'"data":[NaN,Infinity,-Infinity,1.5]' in body
    _, arrays = decode_response(body, {})
    same(arrays["y"], y)


def test_odd_output_arrays_encode_correctly():
    big = np.arange(6, dtype=">i4").reshape(2, 3)
    strided = np.arange(12, dtype=np.float64).reshape(3, 4)[:, ::2].T
    scalar = np.float32(2.5)
    empty = np.zeros((0, 4), np.float16)
    outs = {"big": big, "strided": strided, "scalar": scalar, "empty": empty}
    for binary in (False, True):
        body, headers = encode_infer_response(
            "m", "1", outs, InferRequest(None, {}, binary_data_output=binary)
        )
        head, arrays = decode_response(body, headers)
        same(arrays["big"], big.astype(np.int32))
        same(arrays["strided"], strided)
        same(arrays["scalar"], np.array(scalar))
        same(arrays["empty"], empty)
        assert head["outputs"][2]["shape"] == []


def test_output_with_unsupported_dtype_is_a_server_error():
    with pytest.raises(ProtocolError, match="output 'z': dtype complex64") as e:
        encode_infer_response("m", "1", {"z": np.zeros(2, np.complex64)}, InferRequest(None, {}))
    assert e.value.status == 500


# ------------------------------------------------------------------------------------------------- errors

SPEC = [sig("x", "float32", ("batch", 3)), sig("y", "int64", (2,))]
X_OK = {"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}
Y_OK = {"name": "y", "shape": [2], "datatype": "INT64", "data": [1, 2]}


def with_x(**changes):
    entry = {**X_OK, **changes}
    return request_json([entry, Y_OK])


def without(entry, key):
    return {k: v for k, v in entry.items() if k != key}


BOTH = with_x(parameters={"binary_data_size": 24})
ERRORS = [
    ("empty", b"", {}, "the request body is empty"),
    ("malformed", b'{"inputs": [', {}, "malformed JSON in the request: Expecting value"),
    ("bad utf8", b'{"id": "\xff"}', {}, "malformed JSON"),
    ("not object", b"[1, 2]", {}, r"must be a JSON object, got \[1, 2\]"),
    ("no inputs", b'{"outputs": []}', {}, "the request has no 'inputs'"),
    ("inputs not list", b'{"inputs": {}}', {}, "has 'inputs' {}"),
    ("input not object", request_json([3]), {}, r"inputs\[0\] must be a JSON object"),
    ("no name", request_json([without(X_OK, "name")]), {}, r"inputs\[0\] has no 'name'"),
    (
        "unknown input",
        request_json([{**X_OK, "name": "z"}]),
        {},
        "unknown input 'z'; the model's inputs are 'x', 'y'",
    ),
    ("duplicate", request_json([X_OK, X_OK, Y_OK]), {}, "input 'x' is given more than once"),
    ("missing input", request_json([X_OK]), {}, r"missing input\(s\) 'y'; the model's inputs are 'x', 'y'"),
    ("no datatype", request_json([without(X_OK, "datatype"), Y_OK]), {}, "input 'x' has no 'datatype'"),
    (
        "wrong datatype",
        with_x(datatype="FP64"),
        {},
        "input 'x': datatype FP64 does not match the model's FP32",
    ),
    ("bytes", with_x(datatype="BYTES"), {}, "input 'x': datatype BYTES .*not supported"),
    ("unknown datatype", with_x(datatype="FLOAT"), {}, "input 'x': unknown datatype 'FLOAT'"),
    ("no shape", request_json([without(X_OK, "shape"), Y_OK]), {}, "input 'x' has no 'shape'"),
    (
        "negative dim",
        with_x(shape=[-1, 3]),
        {},
        "input 'x': 'shape' must be an array of non-negative integers",
    ),
    ("float dim", with_x(shape=[2.0, 3]), {}, "input 'x': 'shape' must be an array of non-negative integers"),
    ("rank", with_x(shape=[6]), {}, r"input 'x': shape \[6\] does not match the model's \[\?, 3\]"),
    (
        "static dim",
        with_x(shape=[2, 4], data=[0] * 8),
        {},
        r"input 'x': shape \[2, 4\] does not match the model's \[\?, 3\]",
    ),
    (
        "count",
        with_x(data=[1, 2, 3, 4, 5]),
        {},
        r"input 'x': shape \[2, 3\] holds 6 elements but 'data' has 5",
    ),
    ("count nested", with_x(data=[[1, 2, 3], [4, 5]]), {}, "holds 6 elements but 'data' has 5"),
    (
        "mixed nesting",
        with_x(data=[[1, 2, 3], 4, 5, 6]),
        {},
        "input 'x': 'data' mixes nested arrays and scalars",
    ),
    ("data not array", with_x(data=7), {}, "input 'x': 'data' must be a JSON array, got 7"),
    (
        "string element",
        with_x(data=[1, 2, 3, 4, 5, "6"]),
        {},
        "input 'x': FP32 data must be numbers, got \"6\"",
    ),
    ("null element", with_x(data=[1, 2, 3, 4, 5, None]), {}, "FP32 data must be numbers, got null"),
    ("bool for float", with_x(data=[1, 2, 3, 4, 5, True]), {}, "FP32 data must be numbers, got true"),
    (
        "huge int",
        with_x(data=[1, 2, 3, 4, 5, 10**400]),
        {},
        "input 'x': an integer in 'data' is too large for FP32",
    ),
    ("float overflow", with_x(data=[1, 2, 3, 4, 5, 1e39]), {}, r"input 'x': value 1e\+39 overflows FP32"),
    (
        "neither",
        request_json([without(X_OK, "data"), Y_OK]),
        {},
        "input 'x' sets neither 'data' nor 'binary_data_size'",
    ),
    ("both", BOTH, {HEADER_LENGTH: str(len(BOTH))}, "input 'x' sets both 'data' and 'binary_data_size'"),
    (
        "shared memory",
        with_x(parameters={"shared_memory_region": "r"}),
        {},
        "input 'x': shared memory inputs are not supported",
    ),
    ("params not object", with_x(parameters=[1]), {}, "input 'x': 'parameters' must be a JSON object"),
    ("id not string", request_json([X_OK, Y_OK], request_id=5), {}, "'id' must be a string, got 5"),
    (
        "request params",
        request_json([X_OK, Y_OK], parameters="p"),
        {},
        "the request: 'parameters' must be a JSON object",
    ),
    (
        "binary_data_output",
        request_json([X_OK, Y_OK], parameters={"binary_data_output": 1}),
        {},
        "'binary_data_output' must be true or false",
    ),
    ("outputs not list", request_json([X_OK, Y_OK], outputs={"name": "a"}), {}, "'outputs' must be an array"),
    (
        "output no name",
        request_json([X_OK, Y_OK], outputs=[{"parameters": {}}]),
        {},
        r"outputs\[0\] has no 'name'",
    ),
    (
        "output twice",
        request_json([X_OK, Y_OK], outputs=[{"name": "a"}, {"name": "a"}]),
        {},
        "output 'a' is requested more than once",
    ),
    (
        "classification",
        request_json([X_OK, Y_OK], outputs=[{"name": "a", "parameters": {"classification": 3}}]),
        {},
        "output 'a': the classification extension is not supported",
    ),
    (
        "output shm",
        request_json([X_OK, Y_OK], outputs=[{"name": "a", "parameters": {"shared_memory_region": "r"}}]),
        {},
        "output 'a': shared memory outputs are not supported",
    ),
    (
        "binary_data flag",
        request_json([X_OK, Y_OK], outputs=[{"name": "a", "parameters": {"binary_data": "yes"}}]),
        {},
        "output 'a': 'binary_data' must be true or false",
    ),
    (
        "unknown output",
        request_json([X_OK, Y_OK], outputs=[{"name": "nope"}]),
        {"model_outputs": ["a"]},
        "unknown output 'nope'; the model's outputs are 'a'",
    ),
]


@pytest.mark.parametrize("body,headers,match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_request_errors(body, headers, match):
    headers = dict(headers)
    kwargs = {"model_outputs": headers.pop("model_outputs")} if "model_outputs" in headers else {}
    with pytest.raises(ProtocolError, match=match) as e:
        parse_infer_request(body, headers, SPEC, **kwargs)
    assert e.value.status == 400 and str(e.value) == e.value.message


def test_integer_and_bool_json_errors():
    cases = [
        ("UINT8", "uint8", [1, 300], r"input 'v': value 300 is out of range for UINT8 \[0, 255\]"),
        ("INT8", "int8", [-129, 0], r"input 'v': value -129 is out of range for INT8 \[-128, 127\]"),
        ("UINT64", "uint64", [-1, 0], "value -1 is out of range for UINT64"),
        ("INT64", "int64", [1.5, 2], "input 'v': INT64 data must be integers, got 1.5"),
        ("INT32", "int32", [True, 2], "INT32 data must be integers, got true"),
        ("BOOL", "bool", [1, 2], "input 'v': BOOL data must be true/false or 0/1, got 2"),
        ("BOOL", "bool", [True, 0.0], "BOOL data must be true/false or 0/1, got 0.0"),
        ("FP16", "float16", [1.0, 70000.0], "value 70000.0 overflows FP16"),
        ("BF16", "bfloat16", [1.0, 1e39], "overflows BF16"),
    ]
    for v2, name, data, match in cases:
        body = request_json([{"name": "v", "shape": [2], "datatype": v2, "data": data}])
        with pytest.raises(ProtocolError, match=match):
            parse_infer_request(body, {}, [sig("v", name, (2,))])


def binary_errors_body(size=24, blob=b"\0" * 24, header=True, extra=b""):
    head = json.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": size}}
            ]
        }
    )
    return head.encode() + blob + extra, ({HEADER_LENGTH: str(len(head))} if header else {})


@pytest.mark.parametrize(
    "args,match",
    [
        (
            {"size": 20, "blob": b"\0" * 20},
            r"input 'x': binary_data_size is 20 bytes but shape \[2, 3\] of FP32 needs 24",
        ),
        (
            {"blob": b"\0" * 20},
            "input 'x': the binary data ends early: it needs 24 bytes at offset 0 but only 20 remain",
        ),
        (
            {"extra": b"\0\0"},
            "the request has 2 bytes of binary data that no input's 'binary_data_size' accounts for",
        ),
        (
            {"header": False, "blob": b""},
            f"input 'x' has 'binary_data_size' but the request has no {HEADER_LENGTH} header",
        ),
        ({"size": -24}, "input 'x': 'binary_data_size' must be a non-negative integer, got -24"),
        ({"size": True}, "'binary_data_size' must be a non-negative integer, got true"),
    ],
)
def test_binary_errors(args, match):
    body, headers = binary_errors_body(**args)
    with pytest.raises(ProtocolError, match=match) as e:
        parse_infer_request(body, headers, [sig()])
    assert e.value.status == 400


def test_header_length_errors():
    body, _ = binary_errors_body()
    for value, match in [
        ("abc", "must be an integer, got 'abc'"),
        (str(len(body) + 1), "outside the body"),
        ("-1", "outside"),
    ]:
        with pytest.raises(ProtocolError, match=f"{HEADER_LENGTH} {match}|{HEADER_LENGTH} is .*{match}"):
            parse_infer_request(body, {HEADER_LENGTH: value}, [sig()])


def test_bool_binary_bytes_must_be_zero_or_one():
    head = json.dumps(
        {"inputs": [{"name": "b", "shape": [3], "datatype": "BOOL", "parameters": {"binary_data_size": 3}}]}
    )
    body = head.encode() + b"\x01\x02\x00"
    with pytest.raises(ProtocolError, match="input 'b': BOOL binary data must be bytes 0 or 1, got 2"):
        parse_infer_request(body, {HEADER_LENGTH: str(len(head))}, [sig("b", "bool", (3,))])


def test_non_finite_inputs_follow_allow_nan():
    spec = [sig("x", "float32", (3,))]
    body = (
        b'{"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [NaN, Infinity, -Infinity]}]}'
    )
    got = parse_infer_request(body, {}, spec).inputs["x"]
    same(got, np.array([np.nan, np.inf, -np.inf], np.float32))
    with pytest.raises(ProtocolError, match="input 'x' contains NaN or infinite values"):
        parse_infer_request(body, {}, spec, allow_nan=False)
    overflow = request_json(
        [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 1e400]}]
    )  # 1e400 -> inf
    with pytest.raises(ProtocolError, match="input 'x' contains NaN"):
        parse_infer_request(overflow, {}, spec, allow_nan=False)
    for v2, name, dtype in [
        ("FP32", "float32", np.float32),
        ("BF16", "bfloat16", ml_dtypes.bfloat16),
        ("FP16", "float16", np.float16),
    ]:
        body, headers = binary_request({"x": (v2, np.array([1.0, np.nan, 2.0], dtype))})
        assert np.isnan(
            parse_infer_request(body, headers, [sig("x", name, (3,))]).inputs["x"].astype(np.float32)[1]
        )
        with pytest.raises(ProtocolError, match="input 'x' contains NaN or infinite values"):
            parse_infer_request(body, headers, [sig("x", name, (3,))], allow_nan=False)
    ints = request_json([{"name": "i", "shape": [1], "datatype": "INT64", "data": [5]}])
    assert parse_infer_request(ints, {}, [sig("i", "int64", (1,))], allow_nan=False).inputs["i"][0] == 5


# ---------------------------------------------------------------------------------------------- deep JSON


def test_deep_nesting_is_a_protocol_error_not_a_recursion_error():
    for body in (b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"inputs": ' + b"[" * 100_000):
        with pytest.raises(
            ProtocolError, match="JSON nested too deeply: depth 10000[0-9] exceeds the limit of 64"
        ):
            parse_infer_request(body, {}, SPEC)
    # a max_depth beyond what the parser can recurse: json's RecursionError becomes a ProtocolError too
    with pytest.raises(ProtocolError, match="JSON nested too deeply"):
        parse_infer_request(b"[" * 100_000 + b"]" * 100_000, {}, SPEC, max_depth=10**9)


def test_depth_limit_counts_data_nesting_and_ignores_brackets_in_strings():
    data = 1
    for _ in range(62):
        data = [data]
    body = request_json([{"name": "x", "shape": [1] * 62, "datatype": "FP32", "data": data}])
    spec = [sig("x", "float32", ["d"] * 62)]
    with pytest.raises(ProtocolError, match="depth 65 exceeds the limit of 64"):
        parse_infer_request(body, {}, spec)
    assert parse_infer_request(body, {}, spec, max_depth=65).inputs["x"].shape == (1,) * 62
    body = request_json([X_OK, Y_OK], request_id="[" * 1000 + '{"\\"[')
    assert parse_infer_request(body, {}, SPEC).id == "[" * 1000 + '{"\\"['


def test_unterminated_escaped_strings_do_not_blow_up():
    with pytest.raises(ProtocolError, match="malformed JSON"):
        parse_infer_request(b'{"id": "' + b'\\"' * 200_000, {}, SPEC)


# ------------------------------------------------------------------------------------ raw binary, encodings


def test_raw_binary_request():
    """Triton's `Inference-Header-Content-Length: 0`: the body is the model's only input; outputs go binary."""
    x = np.arange(6, dtype=np.float32)
    req = parse_infer_request(x.tobytes(), {HEADER_LENGTH: "0"}, [sig("x", "float32", ("b", 3))])
    same(req.inputs["x"], x.reshape(2, 3))
    assert req.outputs is None and req.binary_data_output
    req = parse_infer_request(x.tobytes(), {HEADER_LENGTH: "0"}, [sig("x", "float32", (2, 3))])
    same(req.inputs["x"], x.reshape(2, 3))
    with pytest.raises(ProtocolError, match="needs a model with exactly one input; this one has 2"):
        parse_infer_request(x.tobytes(), {HEADER_LENGTH: "0"}, SPEC)
    with pytest.raises(ProtocolError, match=r"do not fill the model's shape \[\?, 4\]"):
        parse_infer_request(x.tobytes(), {HEADER_LENGTH: "0"}, [sig("x", "float32", ("b", 4))])
    with pytest.raises(ProtocolError, match="not a whole number of FP32"):
        parse_infer_request(b"\0" * 7, {HEADER_LENGTH: "0"}, [sig("x", "float32", ("b",))])
    with pytest.raises(ProtocolError, match="several dynamic axes"):
        parse_infer_request(x.tobytes(), {HEADER_LENGTH: "0"}, [sig("x", "float32", ("a", "b"))])


def test_compressed_requests():
    body, headers = binary_request({"x": ("FP32", np.ones((2, 3), np.float32))})
    for encoding, packed in [
        ("gzip", gzip.compress(body)),
        ("deflate", zlib.compress(body)),
        ("deflate", zlib.compress(body)[2:-4]),  # a bare deflate stream
    ]:
        req = parse_infer_request(packed, {**headers, "Content-Encoding": encoding}, [sig()])
        same(req.inputs["x"], np.ones((2, 3), np.float32))
    with pytest.raises(ProtocolError, match="unsupported Content-Encoding 'br'") as e:
        parse_infer_request(body, {**headers, "Content-Encoding": "br"}, [sig()])
    assert e.value.status == 415
    with pytest.raises(ProtocolError, match="exceeds 100 bytes") as e:
        parse_infer_request(
            gzip.compress(body), {**headers, "Content-Encoding": "gzip"}, [sig()], max_decompressed_size=100
        )
    assert e.value.status == 413
    with pytest.raises(ProtocolError, match="truncated"):
        parse_infer_request(gzip.compress(body)[:-12], {**headers, "Content-Encoding": "gzip"}, [sig()])
    with pytest.raises(ProtocolError, match="not valid gzip data"):
        parse_infer_request(body, {**headers, "Content-Encoding": "gzip"}, [sig()])


# ------------------------------------------------------------------------------------- metadata, error body


def test_model_metadata():
    meta = model_metadata(
        "gpt",
        ["1", 2],
        "ember",
        [
            {"name": "ids", "dtype": "int64", "shape": ["batch", "seq"]},
            {"name": "mask", "dtype": "bool", "shape": [4]},
        ],
        [{"name": "logits", "dtype": "bfloat16", "shape": ["batch", "seq", 50]}, {"name": "h"}, "extra"],
    )
    assert meta == {
        "name": "gpt",
        "versions": ["1", "2"],
        "platform": "ember",
        "inputs": [
            {"name": "ids", "datatype": "INT64", "shape": [-1, -1]},
            {"name": "mask", "datatype": "BOOL", "shape": [4]},
        ],
        "outputs": [
            {"name": "logits", "datatype": "BF16", "shape": [-1, -1, 50]},
            {"name": "h"},
            {"name": "extra"},
        ],
    }
    json.dumps(meta)


def test_error_body():
    assert json.loads(error_body("input 'x': bad \"shape\"")) == {"error": "input 'x': bad \"shape\""}
    assert error_body("x") == b'{"error": "x"}'


def test_infer_request_helpers():
    req = InferRequest(
        "i", {}, outputs=[RequestedOutput("b", True), RequestedOutput("a")], binary_data_output=False
    )
    assert req.output_names(["a", "b", "c"]) == ["b", "a"]
    assert req.binary_for("b") and not req.binary_for("a")
    everything = InferRequest(None, {}, binary_data_output=True)
    assert everything.output_names(["a", "b"]) == ["a", "b"] and everything.binary_for("a")
    empty = parse_infer_request(request_json([X_OK, Y_OK], outputs=[]), {}, SPEC)
    assert empty.outputs is None


# ------------------------------------------------------------------------------- orjson and json fallback

PARSER_BODIES = [
    request_json([{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1.5, -2, 3e-3, 4]}]),
    request_json([{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1.5, -2], [3e-3, 4]]}]),
    b'{"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [NaN, Infinity, -Infinity]}]}',
    b'{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1e400, 1]}]}',
    b'{"inputs": [{"name": "i", "shape": [2], "datatype": "INT64", "data": [1, 100000000000000000000000]}]}',
    b'{"inputs": [{"name": "i", "shape": [2], "datatype": "INT64", "data": [1, 9223372036854775807]}]}',
    b'{"inputs": [{"name": "i", "shape": [2], "datatype": "INT64", "data": [1, true]}]}',
    b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [null]}]}',
    b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}], "id": "\\ud800"}',
    b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]',
    b'{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]}  trailing',
    b"\xff\xfe{}",
]


@pytest.mark.parametrize("body", PARSER_BODIES, ids=range(len(PARSER_BODIES)))
def test_orjson_and_json_parsers_agree(body, monkeypatch):
    """orjson is the fast path; whatever it refuses goes to json, so both give the same result or error."""
    import ember.serve.protocol as protocol

    if protocol.orjson is None:
        pytest.skip("orjson is not installed (the serve extra installs it)")
    spec = [sig("x", "float32", ["n"] * body.count(b"[[") + ["n"]), sig("i", "int64", ["n"])]
    spec = [s for s in spec if f'"{s["name"]}"'.encode() in body] or spec[:1]

    def parse():
        try:
            r = parse_infer_request(body, {}, spec)
        except ProtocolError as e:
            return ("error", e.status, e.message)
        return ("ok", r.id, {k: (v.dtype.str, v.shape, v.tobytes()) for k, v in r.inputs.items()})

    fast = parse()
    monkeypatch.setattr(protocol, "orjson", None)
    assert parse() == fast

"""The Open Inference Protocol (KServe v2 REST, as Triton and `tritonclient.http` speak it): a pure codec.

No server here: `parse_infer_request` turns an HTTP body and its headers into NumPy inputs checked against the
model's signature, `encode_infer_response` turns NumPy outputs into a body and headers, `model_metadata`
and `error_body` build the other JSON answers. Every rejection is a `ProtocolError` carrying the HTTP status.

Wire format (what Triton does, and where this codec differs):
- A body is JSON, or with Triton's binary tensor data extension a JSON header of
  `Inference-Header-Content-Length` bytes followed by the raw tensors (little-endian, row-major, BOOL one byte
  0/1, BF16 the upper two bytes of a float32), in the order of the JSON entries that carry
  `"parameters": {"binary_data_size": k}`. `Inference-Header-Content-Length: 0` is Triton's raw binary
  request: the whole body is the single input of the model, and every output comes back binary.
- `Content-Type` is not consulted (tritonclient sends none); `Content-Encoding: gzip|deflate` is undone.
- JSON numbers may be the bare tokens `NaN`, `Infinity`, `-Infinity` both ways, as Triton's RapidJSON reads
  (kParseNanAndInfFlag) and writes them (kWriteNanAndInfFlag); Python's json and tritonclient's
  python-rapidjson read them too. They are not strict JSON: a strict client must ask for binary outputs.
- FP16 and BF16 travel in JSON too (as numbers) although Triton refuses them there; BOOL data in JSON may
  be true/false or 0/1 (Triton takes only true/false). BYTES (string tensors) are refused.
"""

from __future__ import annotations

import json
import math
import re
import sys
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import ml_dtypes
import numpy as np

try:  # the serve extra installs orjson: ~4x faster than json on number arrays; json stays the fallback
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    orjson = None

__all__ = [
    "HEADER_LENGTH",
    "V2_DATATYPES",
    "InferRequest",
    "ProtocolError",
    "RequestedOutput",
    "encode_infer_response",
    "error_body",
    "from_v2_datatype",
    "model_metadata",
    "parse_infer_request",
    "to_v2_datatype",
]

HEADER_LENGTH = "Inference-Header-Content-Length"


class ProtocolError(Exception):
    """A request (or, with status 500, a server-side value) the protocol cannot carry; `.status` is HTTP's."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


# ---------------------------------------------------------------------------------------------- datatypes

_V2_TO_NUMPY: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
V2_DATATYPES = tuple(_V2_TO_NUMPY)
_NAME_TO_V2 = {dt.name: v2 for v2, dt in _V2_TO_NUMPY.items()}  # "float32" -> "FP32", "bool" -> "BOOL", ...
_ALIASES = {
    "half": "float16",
    "float": "float32",
    "double": "float64",
    "long": "int64",
    "int": "int32",
    "short": "int16",
    "bool_": "bool",
}  # torch's alias names of the same dtypes
_BF16 = _V2_TO_NUMPY["BF16"]


def _dtype_name(dtype: Any) -> str:
    """The dtype name ("float32") of an ember dtype, its name, a NumPy dtype or a NumPy scalar type."""
    if isinstance(dtype, str):
        name = dtype.rsplit(".", 1)[-1].lower()  # "ember.float32" / "torch.float32" -> "float32"
        return _ALIASES.get(name, name)
    if isinstance(dtype, np.dtype):
        return dtype.name
    name = getattr(dtype, "name", None)
    if isinstance(name, str) and not isinstance(dtype, type):
        return _dtype_name(name)  # an ember.dtype
    try:
        return np.dtype(dtype).name
    except TypeError:
        return _dtype_name(str(dtype))


def to_v2_datatype(dtype: Any) -> str:
    """The v2 datatype ("FP32", "INT64", "BF16", ...) of an ember dtype (or its name) or a NumPy dtype.

    A dtype the protocol cannot carry (complex, strings, objects) raises ProtocolError with status 500: it is
    the served model's, not the client's, fault.
    """
    name = _dtype_name(dtype)
    v2 = _NAME_TO_V2.get(name)
    if v2 is None:
        raise ProtocolError(f"dtype {name} has no Open Inference Protocol datatype", status=500)
    return v2


def from_v2_datatype(dt: Any) -> np.dtype:
    """The NumPy dtype of a v2 datatype name (BF16 is ml_dtypes.bfloat16); BYTES and unknown names raise 400."""
    if not isinstance(dt, str):
        raise ProtocolError(f"'datatype' must be a string such as \"FP32\", got {_describe(dt)}")
    npdt = _V2_TO_NUMPY.get(dt)
    if npdt is not None:
        return npdt
    if dt == "BYTES":
        raise ProtocolError(
            "datatype BYTES (string tensors) is not supported: ember models take numeric tensors"
        )
    raise ProtocolError(f"unknown datatype {dt!r}; expected one of {', '.join(V2_DATATYPES)}")


def _is_float(dtype: np.dtype) -> bool:
    return dtype.kind == "f" or dtype == _BF16


# ------------------------------------------------------------------------------------------ request types


@dataclass
class RequestedOutput:
    """One entry of the request's "outputs": the name and its "binary_data" flag (None when not given)."""

    name: str
    binary_data: bool | None = None
    parameters: dict = field(default_factory=dict)


@dataclass
class InferRequest:
    """A parsed inference request; `outputs` None means every output of the model, in the model's order."""

    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: list[RequestedOutput] | None = None
    parameters: dict = field(default_factory=dict)
    binary_data_output: bool = False  # the request-level "parameters": {"binary_data_output": true}

    def binary_for(self, name: str) -> bool:
        """Whether the output `name` goes back as binary data (its own flag, else the request-level one)."""
        for out in self.outputs or ():
            if out.name == name and out.binary_data is not None:
                return out.binary_data
        return self.binary_data_output

    def output_names(self, model_outputs: Iterable[str]) -> list[str]:
        """The names of the outputs to answer with: the requested ones in request order, else all of them."""
        if self.outputs is None:
            return list(model_outputs)
        return [out.name for out in self.outputs]


@dataclass(frozen=True)
class _InputSpec:
    name: str
    datatype: str
    dtype: np.dtype
    shape: tuple  # an int per static axis, None per dynamic one


def _is_dynamic(d: Any) -> bool:
    return d is None or isinstance(d, str) or (isinstance(d, int) and d < 0)


def _spec_datatype(t: Mapping) -> str | None:
    """The v2 datatype of a signature entry with an ember "dtype" (or a v2 "datatype"); None if it has none."""
    if t.get("dtype") is not None:
        return to_v2_datatype(t["dtype"])
    if t.get("datatype") is not None:
        from_v2_datatype(t["datatype"])
        return t["datatype"]
    return None


_SPECS_CACHE: dict[int, tuple] = {}


def _input_specs(model_inputs: Sequence[Mapping]) -> dict[str, _InputSpec]:
    """The model's input specs; cached per signature object (a served version passes the same list)."""
    hit = _SPECS_CACHE.get(id(model_inputs))
    if hit is not None and hit[0] is model_inputs:
        return hit[1]
    specs = _make_input_specs(model_inputs)
    if len(_SPECS_CACHE) > 256:
        _SPECS_CACHE.clear()
    _SPECS_CACHE[id(model_inputs)] = (model_inputs, specs)  # holds the list: its id cannot be reused
    return specs


def _make_input_specs(model_inputs: Sequence[Mapping]) -> dict[str, _InputSpec]:
    specs = {}
    for t in model_inputs:
        datatype = _spec_datatype(t)
        if datatype is None:
            raise ProtocolError(f"model input {t.get('name')!r} has no dtype", status=500)
        shape = tuple(None if _is_dynamic(d) else int(d) for d in t.get("shape", ()))
        specs[t["name"]] = _InputSpec(t["name"], datatype, _V2_TO_NUMPY[datatype], shape)
    return specs


def _fmt_shape(shape: Sequence) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _describe(v: Any) -> str:
    """A short JSON rendering of a (bad) value for messages."""
    try:
        text = json.dumps(v)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) or "none"


# ----------------------------------------------------------------------------------------------- body, JSON

# a string, or an unterminated one up to the end: each match is linear and no match is retried (no blow-up)
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays/objects in a JSON text, found without parsing it (vectorised)."""
    if b'"' in raw:
        raw = _JSON_STRING.sub(b'""', raw)  # brackets inside strings do not nest
    brackets = raw.translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    b = np.frombuffer(brackets, np.uint8)
    steps = np.where((b == ord("[")) | (b == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _load_json(raw: bytes, max_depth: int, fast: bool = False) -> Any:
    """Parse a request body. `fast` allows orjson, which reads integers past 64 bits as floats: callers
    pass it only when every input is a float or bool tensor, where that gives the same values."""
    if not raw.strip():
        raise ProtocolError("the request body is empty; expected a JSON inference request")
    # the number of opening brackets bounds the depth, so most requests (flat data) skip the scan
    if raw.count(b"[") + raw.count(b"{") > max_depth:
        depth = _json_depth(raw)
        if depth > max_depth:
            raise ProtocolError(f"JSON nested too deeply: depth {depth} exceeds the limit of {max_depth}")
    if fast and orjson is not None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # NaN/Infinity tokens, integers past 64 bits, 1e400, bad text: json decides and words the error
    try:
        return json.loads(raw)
    except RecursionError:  # a max_depth above the interpreter's recursion limit
        raise ProtocolError("JSON nested too deeply for the parser") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, too many integer digits
        raise ProtocolError(f"malformed JSON in the request: {e}") from None


def _decode_content(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body with its Content-Encoding (gzip, deflate, identity) undone, at most `limit` bytes."""
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "deflate"):
        raise ProtocolError(
            f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or identity", status=415
        )
    # gzip: gzip framing; deflate: zlib framing as HTTP means it, else a bare deflate stream
    error = None
    for wbits in (31,) if enc == "gzip" else (15, -15):
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(body, limit + 1)
        except zlib.error as e:
            error = e
            continue
        if len(out) > limit:
            raise ProtocolError(f"the decompressed request body exceeds {limit} bytes", status=413)
        if not d.eof:
            raise ProtocolError(f"the {enc}-encoded request body is truncated")
        return out
    raise ProtocolError(f"the request body is not valid {enc} data: {error}")


def _lower_headers(headers: Mapping) -> dict:
    """Header names lowercased once per request (HTTP header names are case-insensitive)."""
    return {(k.decode("latin-1") if isinstance(k, bytes) else str(k)).lower(): v for k, v in headers.items()}


def _header(lower: Mapping, name: str) -> str | None:
    """Header `name` (lowercase) from a `_lower_headers` dict, as text."""
    value = lower.get(name)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value


def _header_length(value: str, body_size: int) -> int:
    try:
        n = int(value.strip())
    except ValueError:
        raise ProtocolError(f"{HEADER_LENGTH} must be an integer, got {value!r}") from None
    if n < 0 or n > body_size:
        raise ProtocolError(f"{HEADER_LENGTH} is {n}, outside the body of {body_size} bytes")
    return n


# ----------------------------------------------------------------------------------------------- tensors


def _from_binary(buf: memoryview, dtype: np.dtype, shape: tuple, name: str) -> np.ndarray:
    """A C-contiguous, writable array of `shape` from little-endian bytes."""
    if dtype == np.bool_:
        u = np.frombuffer(buf, np.uint8)
        if u.size and int(u.max()) > 1:
            raise ProtocolError(f"input '{name}': BOOL binary data must be bytes 0 or 1, got {int(u.max())}")
        return (u != 0).reshape(shape)
    arr = np.frombuffer(buf, dtype).copy()
    if sys.byteorder == "big" and dtype.itemsize > 1:
        arr = arr.byteswap()
    return arr.reshape(shape)


def _flatten(data: list, name: str) -> tuple[list, set]:
    """Row-major flattening of nested JSON arrays, one level at a time (no recursion); also returns the set
    of element types of the flat list."""
    level = data
    while True:
        kinds = set(map(type, level))
        if list not in kinds:
            return level, kinds
        if kinds != {list}:
            raise ProtocolError(f"input '{name}': 'data' mixes nested arrays and scalars at the same level")
        level = list(chain.from_iterable(level))


def _bad_element(flat: list, allowed: tuple, name: str, datatype: str, what: str) -> ProtocolError:
    bad = next(v for v in flat if type(v) not in allowed)
    return ProtocolError(f"input '{name}': {datatype} data must be {what}, got {_describe(bad)}")


def _from_json(data: Any, spec: _InputSpec, shape: tuple, count: int, name: str) -> np.ndarray:
    """A C-contiguous array of `shape` and the model's dtype from JSON "data" (flat or nested)."""
    if not isinstance(data, list):
        raise ProtocolError(f"input '{name}': 'data' must be a JSON array, got {_describe(data)}")
    flat, kinds = _flatten(data, name)
    if len(flat) != count:
        raise ProtocolError(
            f"input '{name}': shape {_fmt_shape(shape)} holds {count} elements but 'data' has {len(flat)}"
        )
    dtype, datatype = spec.dtype, spec.datatype
    if dtype == np.bool_:
        if not kinds <= {bool, int}:
            raise _bad_element(flat, (bool, int), name, datatype, "true/false or 0/1")
        if int in kinds and (min(flat) < 0 or max(flat) > 1):
            bad = next(v for v in flat if type(v) is int and v not in (0, 1))
            raise ProtocolError(f"input '{name}': BOOL data must be true/false or 0/1, got {bad}")
        arr = np.array(flat, dtype=np.bool_)
    elif dtype.kind in "iu":
        if not kinds <= {int}:
            raise _bad_element(flat, (int,), name, datatype, "integers")
        if flat:
            info = np.iinfo(dtype)
            lo, hi = min(flat), max(flat)
            if lo < info.min or hi > info.max:
                bad = lo if lo < info.min else hi
                raise ProtocolError(
                    f"input '{name}': value {bad} is out of range for {datatype} [{info.min}, {info.max}]"
                )
        arr = np.array(flat, dtype=dtype)
    else:
        if not kinds <= {int, float}:
            raise _bad_element(flat, (int, float), name, datatype, "numbers")
        try:
            wide = np.array(flat, dtype=np.float64)
        except OverflowError:
            raise ProtocolError(f"input '{name}': an integer in 'data' is too large for {datatype}") from None
        with np.errstate(over="ignore"):
            arr = wide.astype(dtype)
        overflow = np.isinf(arr) & np.isfinite(wide)
        if overflow.any():
            bad = float(wide[np.argmax(overflow)])
            raise ProtocolError(f"input '{name}': value {bad!r} overflows {datatype}")
    return arr.reshape(shape)


def _check_shape(shape: tuple, spec: _InputSpec) -> None:
    expected = spec.shape
    if len(shape) != len(expected) or any(e is not None and e != d for d, e in zip(shape, expected)):
        raise ProtocolError(
            f"input '{spec.name}': shape {_fmt_shape(shape)} does not match the model's {_fmt_shape(expected)}"
            " ('?' is a dynamic axis)"
        )


def _parse_shape(value: Any, name: str) -> tuple:
    if not isinstance(value, list) or any(type(d) is not int or d < 0 for d in value):
        raise ProtocolError(
            f"input '{name}': 'shape' must be an array of non-negative integers, got {_describe(value)}"
        )
    return tuple(value)


def _check_finite(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        raise ProtocolError(
            f"input '{name}' contains NaN or infinite values, which this server does not accept"
        )


def _params(entry: Mapping, where: str) -> dict:
    p = entry.get("parameters")
    if p is None:
        return {}
    if not isinstance(p, dict):
        raise ProtocolError(f"{where}: 'parameters' must be a JSON object, got {_describe(p)}")
    return p


def _parse_raw_binary(binary: memoryview, specs: dict[str, _InputSpec], allow_nan: bool) -> InferRequest:
    """Triton's raw binary request: the whole body is the model's single input; outputs all go back binary."""
    if len(specs) != 1:
        raise ProtocolError(
            f"a raw binary request ({HEADER_LENGTH}: 0) needs a model with exactly one input; "
            f"this one has {len(specs)}"
        )
    (spec,) = specs.values()
    size = len(binary)
    if size % spec.dtype.itemsize:
        raise ProtocolError(
            f"input '{spec.name}': raw binary body of {size} bytes is not a whole number of {spec.datatype}"
        )
    count = size // spec.dtype.itemsize
    dynamic = [i for i, d in enumerate(spec.shape) if d is None]
    known = math.prod(d for d in spec.shape if d is not None)
    if len(dynamic) > 1:
        raise ProtocolError(
            f"input '{spec.name}': a raw binary request cannot tell the shape {_fmt_shape(spec.shape)} "
            "with several dynamic axes; send a JSON header"
        )
    shape = list(spec.shape)
    if dynamic:
        shape[dynamic[0]] = count // known if known else 0
    if math.prod(shape) != count:
        raise ProtocolError(
            f"input '{spec.name}': raw binary body holds {count} {spec.datatype} elements, which do not fill "
            f"the model's shape {_fmt_shape(spec.shape)}"
        )
    arr = _from_binary(binary, spec.dtype, tuple(shape), spec.name)
    if not allow_nan and _is_float(spec.dtype):
        _check_finite(arr, spec.name)
    return InferRequest(
        id=None, inputs={spec.name: arr}, outputs=None, parameters={}, binary_data_output=True
    )


# ---------------------------------------------------------------------------------------------- requests


def parse_infer_request(
    body: bytes,
    headers: Mapping[str, str],
    model_inputs: Sequence[Mapping],
    *,
    allow_nan: bool = True,
    max_depth: int = 64,
    model_outputs: Iterable[str | Mapping] | None = None,
    max_decompressed_size: int = 1 << 30,
) -> InferRequest:
    """Parse a v2 inference request (JSON or Triton's binary extension) and check it against the model.

    `model_inputs` is the model's signature: dicts with "name", "dtype" (an ember dtype name; a v2
    "datatype" also works) and "shape" (ints for static axes; strings, None or negative ints for dynamic
    ones). Every model input is required, each given once, with exactly the model's datatype (as Triton
    requires: no casting), its rank and its static dims. A dynamic axis takes any size >= 0: a zero batch
    (shape [0, ...]) is a valid request and yields empty arrays. JSON "data" may be flat or nested in
    row-major order (nested arrays are flattened like Triton does, so only the element count is checked
    against "shape"); BOOL takes true/false or 0/1, integer types take integers in range, float types take
    numbers (and NaN/Infinity tokens unless `allow_nan` is False, which also rejects non-finite binary
    data). `max_depth` bounds the nesting of the whole JSON header (the request object is depth 1), checked
    before parsing. `model_outputs` (names or dicts with "name"), when given, lets unknown requested outputs
    fail here rather than after inference. Arrays come back C-contiguous, writable, in the model's dtype.
    Raises ProtocolError (400; 413/415 for an oversized/unknown Content-Encoding body).
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    lower = _lower_headers(headers)
    body = _decode_content(body, _header(lower, "content-encoding"), max_decompressed_size)
    specs = _input_specs(model_inputs)
    view = memoryview(body)
    header_length = _header(lower, HEADER_LENGTH.lower())
    if header_length is None:
        head, binary = body, view[len(view) :]
    else:
        n = _header_length(header_length, len(body))
        if n == 0:
            return _parse_raw_binary(view, specs, allow_nan)
        head, binary = bytes(view[:n]), view[n:]

    fast = all(_is_float(s.dtype) or s.dtype == np.bool_ for s in specs.values())
    doc = _load_json(bytes(head), max_depth, fast)
    if not isinstance(doc, dict):
        raise ProtocolError(f"the inference request must be a JSON object, got {_describe(doc)}")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise ProtocolError(f"'id' must be a string, got {_describe(request_id)}")
    parameters = _params(doc, "the request")
    binary_data_output = parameters.get("binary_data_output", False)
    if not isinstance(binary_data_output, bool):
        raise ProtocolError(
            f"'binary_data_output' must be true or false, got {_describe(binary_data_output)}"
        )

    inputs_json = doc.get("inputs")
    if not isinstance(inputs_json, list):
        what = "has no 'inputs'" if inputs_json is None else f"has 'inputs' {_describe(inputs_json)}"
        raise ProtocolError(f"the request {what}; expected an array of input tensors")
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    for i, entry in enumerate(inputs_json):
        if not isinstance(entry, dict):
            raise ProtocolError(f"inputs[{i}] must be a JSON object, got {_describe(entry)}")
        name = entry.get("name")
        if not isinstance(name, str):
            raise ProtocolError(f"inputs[{i}] has no 'name' (a string)")
        spec = specs.get(name)
        if spec is None:
            raise ProtocolError(f"unknown input '{name}'; the model's inputs are {_names(specs)}")
        if name in inputs:
            raise ProtocolError(f"input '{name}' is given more than once")
        if "datatype" not in entry:
            raise ProtocolError(f"input '{name}' has no 'datatype'")
        try:
            from_v2_datatype(entry["datatype"])
        except ProtocolError as e:
            raise ProtocolError(f"input '{name}': {e.message}") from None
        if entry["datatype"] != spec.datatype:
            raise ProtocolError(
                f"input '{name}': datatype {entry['datatype']} does not match the model's {spec.datatype}"
            )
        if "shape" not in entry:
            raise ProtocolError(f"input '{name}' has no 'shape'")
        shape = _parse_shape(entry["shape"], name)
        _check_shape(shape, spec)
        if math.prod(max(d, 1) for d in shape) * spec.dtype.itemsize >= 2**63:  # beyond NumPy, even with a 0
            raise ProtocolError(f"input '{name}': shape {_fmt_shape(shape)} is too large")
        count = math.prod(shape)
        p = _params(entry, f"input '{name}'")
        if "shared_memory_region" in p:
            raise ProtocolError(f"input '{name}': shared memory inputs are not supported")
        has_data, has_binary = "data" in entry, "binary_data_size" in p
        if has_data == has_binary:
            which = "both 'data' and" if has_data else "neither 'data' nor"
            raise ProtocolError(
                f"input '{name}' sets {which} 'binary_data_size' in 'parameters'; set exactly one"
            )
        if has_binary:
            if header_length is None:
                raise ProtocolError(
                    f"input '{name}' has 'binary_data_size' but the request has no {HEADER_LENGTH} header"
                )
            size = p["binary_data_size"]
            if type(size) is not int or size < 0:
                raise ProtocolError(
                    f"input '{name}': 'binary_data_size' must be a non-negative integer, got {_describe(size)}"
                )
            expected = count * spec.dtype.itemsize
            if size != expected:
                raise ProtocolError(
                    f"input '{name}': binary_data_size is {size} bytes but shape {_fmt_shape(shape)} of "
                    f"{spec.datatype} needs {expected}"
                )
            if offset + size > len(binary):
                raise ProtocolError(
                    f"input '{name}': the binary data ends early: it needs {size} bytes at offset {offset} "
                    f"but only {len(binary) - offset} remain"
                )
            arr = _from_binary(binary[offset : offset + size], spec.dtype, shape, name)
            offset += size
        else:
            arr = _from_json(entry["data"], spec, shape, count, name)
        if not allow_nan and _is_float(spec.dtype):
            _check_finite(arr, name)
        inputs[name] = arr
    if offset != len(binary):
        raise ProtocolError(
            f"the request has {len(binary) - offset} bytes of binary data that no input's 'binary_data_size' "
            "accounts for"
        )
    missing = [n for n in specs if n not in inputs]
    if missing:
        raise ProtocolError(f"missing input(s) {_names(missing)}; the model's inputs are {_names(specs)}")

    known_outputs = None
    if model_outputs is not None:
        known_outputs = [o if isinstance(o, str) else o["name"] for o in model_outputs]
    outputs = _parse_outputs(doc.get("outputs"), known_outputs)
    return InferRequest(
        id=request_id,
        inputs=inputs,
        outputs=outputs,
        parameters=parameters,
        binary_data_output=binary_data_output,
    )


def _parse_outputs(value: Any, known: list[str] | None) -> list[RequestedOutput] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ProtocolError(f"'outputs' must be an array of requested outputs, got {_describe(value)}")
    if not value:
        return None  # none requested: every output, as Triton does
    outputs, seen = [], set()
    for j, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ProtocolError(f"outputs[{j}] must be a JSON object, got {_describe(entry)}")
        name = entry.get("name")
        if not isinstance(name, str):
            raise ProtocolError(f"outputs[{j}] has no 'name' (a string)")
        if known is not None and name not in known:
            raise ProtocolError(f"unknown output '{name}'; the model's outputs are {_names(known)}")
        if name in seen:
            raise ProtocolError(f"output '{name}' is requested more than once")
        seen.add(name)
        p = _params(entry, f"output '{name}'")
        if "classification" in p:
            raise ProtocolError(f"output '{name}': the classification extension is not supported")
        if "shared_memory_region" in p:
            raise ProtocolError(f"output '{name}': shared memory outputs are not supported")
        binary = p.get("binary_data")
        if binary is not None and not isinstance(binary, bool):
            raise ProtocolError(
                f"output '{name}': 'binary_data' must be true or false, got {_describe(binary)}"
            )
        outputs.append(RequestedOutput(name, binary, dict(p)))
    return outputs


# --------------------------------------------------------------------------------------------- responses


def _to_binary(arr: np.ndarray) -> bytes:
    """Little-endian, row-major bytes; BOOL one byte 0/1 per element, BF16 two bytes."""
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr).view(np.uint8).clip(0, 1).tobytes()
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big"):
        arr = arr.byteswap()
    return np.ascontiguousarray(arr).tobytes()


def _to_json_list(arr: np.ndarray) -> list:
    if arr.dtype == np.float16 or arr.dtype == _BF16:
        arr = arr.astype(np.float32)  # exact; Python floats
    return arr.ravel().tolist()


def _finite_list(data: list) -> bool:
    """Whether a flat JSON data list holds no NaN/Infinity (ints and bools are always finite)."""
    return not data or type(data[0]) is not float or math.isfinite(sum(data))  # overflow: json decides


def encode_infer_response(
    model_name: str,
    model_version: str | int | None,
    outputs: Mapping[str, np.ndarray],
    request: InferRequest,
) -> tuple[bytes, dict[str, str]]:
    """Encode outputs (name -> array, in the model's order) as a v2 response body and its headers.

    Only the requested outputs go back, in request order (all of them, in `outputs` order, when none were
    requested); an unknown requested name raises ProtocolError 400. An output goes back binary when its
    "binary_data" flag says so, else per the request's "binary_data_output"; if any does, the body is the
    JSON header then the raw tensors, with `Inference-Header-Content-Length` and Content-Type
    application/octet-stream (Triton's headers), else the body is JSON (application/json). JSON data is
    flat, row-major; non-finite floats are written as the bare tokens NaN, Infinity and -Infinity, exactly
    like Triton, which Python's json and tritonclient read back. An output dtype the protocol cannot carry
    raises ProtocolError 500.
    """
    if request.outputs is None:
        chosen = [(name, request.binary_data_output) for name in outputs]
    else:
        chosen = []
        for out in request.outputs:
            if out.name not in outputs:
                raise ProtocolError(f"unknown output '{out.name}'; the model's outputs are {_names(outputs)}")
            chosen.append(
                (out.name, request.binary_data_output if out.binary_data is None else out.binary_data)
            )
    entries, blobs = [], []
    for name, binary in chosen:
        arr = np.asarray(outputs[name])
        try:
            datatype = to_v2_datatype(arr.dtype)
        except ProtocolError as e:
            raise ProtocolError(f"output '{name}': {e.message}", status=500) from None
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": [int(d) for d in arr.shape]}
        if binary:
            blob = _to_binary(arr)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = _to_json_list(arr)
        entries.append(entry)
    doc: dict[str, Any] = {}
    if request.id is not None:
        doc["id"] = request.id
    doc["model_name"] = model_name
    if model_version is not None:
        doc["model_version"] = str(model_version)
    doc["outputs"] = entries
    head = None
    if orjson is not None:
        try:  # orjson writes non-finite floats as null: only finite outputs take this path
            if all("data" not in e or _finite_list(e["data"]) for e in entries):
                head = orjson.dumps(doc)
        except TypeError:
            head = None
    if head is None:
        head = json.dumps(doc, separators=(",", ":"), allow_nan=True).encode("ascii")
    if any(binary for _, binary in chosen):
        return head + b"".join(blobs), {
            "Content-Type": "application/octet-stream",
            HEADER_LENGTH: str(len(head)),
        }
    return head, {"Content-Type": "application/json"}


def _tensor_metadata(t: str | Mapping) -> dict:
    if isinstance(t, str):
        return {"name": t}
    entry: dict[str, Any] = {"name": t["name"]}
    datatype = _spec_datatype(t)
    if datatype is not None:
        entry["datatype"] = datatype
    if t.get("shape") is not None:
        entry["shape"] = [-1 if _is_dynamic(d) else int(d) for d in t["shape"]]
    return entry


def model_metadata(
    name: str,
    versions: Sequence[str | int],
    platform: str,
    inputs: Sequence[Mapping],
    outputs: Sequence[str | Mapping],
) -> dict:
    """The v2 model metadata object; dynamic axes become -1, outputs carry datatype/shape when known.

    Inputs and outputs are dicts with "name", "dtype" (ember; or a v2 "datatype") and "shape"; an output may
    also be a bare name, and then (unlike the spec, which always has them) it goes out without datatype and
    shape.
    """
    return {
        "name": name,
        "versions": [str(v) for v in versions],
        "platform": platform,
        "inputs": [_tensor_metadata(t) for t in inputs],
        "outputs": [_tensor_metadata(t) for t in outputs],
    }


def error_body(message: str) -> bytes:
    """The v2 error object `{"error": message}` as a body."""
    return json.dumps({"error": str(message)}).encode("ascii")

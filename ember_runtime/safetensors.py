"""The safetensors format with NumPy only (bfloat16 through ml_dtypes): a little-endian u64 header length,
a JSON header {name: {dtype, shape, data_offsets}}, then the raw bytes. Reading validates every field."""

from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np

CODES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "I16": np.dtype(np.int16),
    "I32": np.dtype(np.int32),
    "I64": np.dtype(np.int64),
    "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F32": np.dtype(np.float32),
    "F64": np.dtype(np.float64),
}
_CODE_OF = {dt: code for code, dt in CODES.items()}
MAX_HEADER = 100_000_000


class SafetensorsError(ValueError):
    pass


def dumps(tensors: dict) -> bytes:
    header, chunks, offset = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        code = _CODE_OF.get(a.dtype)
        if code is None:
            raise SafetensorsError(f"safetensors: cannot store dtype {a.dtype} ({name})")
        data = a.tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    doc = json.dumps(header, separators=(",", ":")).encode()
    doc += b" " * (-len(doc) % 8)
    return struct.pack("<Q", len(doc)) + doc + b"".join(chunks)


def loads(buf: bytes, what: str = "safetensors data") -> dict:
    """name -> NumPy array (copies: the arrays own their memory)."""
    if len(buf) < 8:
        raise SafetensorsError(f"{what}: too short to hold a safetensors header")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER or 8 + n > len(buf):
        raise SafetensorsError(f"{what}: header length {n} does not fit in {len(buf)} bytes")
    try:
        header = json.loads(buf[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{what}: header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{what}: header is not a JSON object")
    body = memoryview(buf)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dt = CODES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            start, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{what}: bad entry for {name!r}") from None
        if any(s < 0 for s in shape) or not 0 <= start <= end <= len(body):
            raise SafetensorsError(f"{what}: entry {name!r} points outside the data")
        count = int(np.prod(shape, dtype=np.int64))
        if count * dt.itemsize != end - start:
            raise SafetensorsError(f"{what}: entry {name!r} has {end - start} bytes for shape {list(shape)}")
        out[name] = np.frombuffer(body[start:end], dtype=dt).reshape(shape).copy()
    return out

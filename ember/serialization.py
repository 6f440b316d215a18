"""ember.save / ember.load: checkpoints without pickle, so loading a file never runs code from it.

A checkpoint is a zip archive (stored, not compressed; CRC-checked on read) holding two entries:

- ``structure.json``: the object tree in a tagged JSON encoding plus the format name and version. JSON
  strings, finite floats, ints, bools, null and lists stand for themselves; everything else is an object
  with a ``"$"`` tag: ``dict``/``odict`` (str keys in ``"v"``, other keys as ``"kv"`` pairs), ``tuple``,
  ``set``, ``frozenset``, ``float`` (nan/inf), ``int`` (beyond int64), ``complex``, ``bytes``,
  ``device``, ``dtype``, ``size``, ``npscalar`` and ``tensor`` (an index into the ``"tensors"`` table).
- ``tensors.safetensors``: a standard safetensors file with the raw data. A tensor saved alone is stored
  with its own dtype and shape (named after where it sits in the object, e.g. ``fc.weight``), so a state
  dict's payload reads with any safetensors reader; complex tensors are stored as real pairs ``[..., 2]``.
  Tensors that share memory (views of one storage) are stored once: as the contiguous member that spans
  them all when there is one (a base and its views), else as the bytes they span (``U8``); each table entry
  records its dtype, shape, byte offset and byte strides into its storage.

Identity is kept: the same tensor object referenced twice loads as one object, and views of one storage load
sharing memory. Containers are copied per reference (a list referenced twice loads as two equal lists).
``load`` also reads plain ``.safetensors`` files (as a dict of tensors). Every field read from a file is
validated (shapes, strides and offsets against the data actually present) before any array is built.
"""

from __future__ import annotations

import base64
import collections
import io
import json
import math
import os
import stat
import sys
import tempfile
import zipfile
import zlib

import ml_dtypes
import numpy as np

FORMAT_NAME = "ember.checkpoint"
FORMAT_VERSION = 1
_STRUCTURE = "structure.json"
_PAYLOAD = "tensors.safetensors"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so that saving the same object twice gives identical bytes
_MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header

# dtype name -> (NumPy dtype, safetensors code of the stored data). Complex is stored as real pairs.
_DTYPES = {
    "bool": (np.dtype(np.bool_), "BOOL"),
    "uint8": (np.dtype(np.uint8), "U8"),
    "int8": (np.dtype(np.int8), "I8"),
    "int16": (np.dtype(np.int16), "I16"),
    "uint16": (np.dtype(np.uint16), "U16"),
    "int32": (np.dtype(np.int32), "I32"),
    "uint32": (np.dtype(np.uint32), "U32"),
    "int64": (np.dtype(np.int64), "I64"),
    "uint64": (np.dtype(np.uint64), "U64"),
    "float16": (np.dtype(np.float16), "F16"),
    "bfloat16": (np.dtype(ml_dtypes.bfloat16), "BF16"),
    "float32": (np.dtype(np.float32), "F32"),
    "float64": (np.dtype(np.float64), "F64"),
    "complex64": (np.dtype(np.complex64), "F32"),
    "complex128": (np.dtype(np.complex128), "F64"),
}
_NP_NAME = {npdt: name for name, (npdt, _) in _DTYPES.items()}
_CODES = {code: npdt for name, (npdt, code) in _DTYPES.items() if not name.startswith("complex")}


class _Corrupt(Exception):
    """A structural problem in a checkpoint; load() turns it into a RuntimeError naming the file."""


class _Passthrough(Exception):
    """Carries an exception from user code (map_location) or a device move out of load() unchanged."""

    def __init__(self, exc: BaseException):
        super().__init__(str(exc))
        self.exc = exc


# ----------------------------------------------------------------------------------------------- saving


class _Storage:
    """One safetensors entry: a whole array (``typed``) or the byte span shared by several views."""

    __slots__ = ("name", "array", "code", "shape")

    def __init__(self, name: str, array: np.ndarray, code: str, shape: tuple):
        self.name, self.array, self.code, self.shape = name, array, code, shape


class _Saver:
    """Walks the object once: builds the JSON tree and the tensor table, then lays out the storages."""

    def __init__(self):
        self.table: list[dict] = []  # one entry per distinct tensor/array object
        self.arrays: list[np.ndarray] = []  # host array of each entry
        self.paths: list[str] = []  # where each entry was first met (names its storage)
        self.index: dict[int, int] = {}  # id(object) -> table index
        self.keepalive: list = []  # keep ids stable while encoding
        self.active: set[int] = set()  # containers on the current path (cycle detection)

    def encode(self, obj, path: tuple):
        t = type(obj)
        if obj is None or t is bool or t is str:
            return obj
        if t is int:
            return obj if -(2**63) <= obj < 2**63 else {"$": "int", "v": str(obj)}
        if t is float:
            return obj if math.isfinite(obj) else {"$": "float", "v": repr(obj)}
        if t is list or t is tuple or t is set or t is frozenset:
            items = self._container(
                obj, path, lambda: [self.encode(x, path + (i,)) for i, x in enumerate(obj)]
            )
            return items if t is list else {"$": t.__name__, "v": items}
        if t is dict or t is collections.OrderedDict:
            return self._dict(obj, path)
        from ._device import device
        from ._dtype import dtype
        from ._size import Size
        from ._tensor import Tensor

        if isinstance(obj, Tensor) or t is np.ndarray:
            return {"$": "tensor", "id": self._tensor(obj, path)}
        if t is Size:
            return {"$": "size", "v": list(obj)}
        if t is device:
            return {"$": "device", "v": str(obj)}
        if t is dtype:
            return {"$": "dtype", "v": obj.name}
        if t is complex:
            return {"$": "complex", "v": [self.encode(obj.real, path), self.encode(obj.imag, path)]}
        if t is bytes or t is bytearray:
            return {"$": t.__name__, "v": base64.b64encode(obj).decode("ascii")}
        if isinstance(obj, np.generic) and obj.dtype in _NP_NAME:
            return {"$": "npscalar", "dtype": _NP_NAME[obj.dtype], "v": self.encode(obj.item(), path)}
        hint = " (save its state_dict() instead)" if hasattr(obj, "state_dict") else ""
        raise TypeError(
            f"ember.save: cannot save an object of type {t.__module__}.{t.__qualname__} at {_path_str(path)}"
            f"{hint}; ember checkpoints hold tensors, NumPy arrays, numbers, strings, bytes, None, devices, "
            "dtypes, Sizes and dicts/lists/tuples/sets of them (no pickle)"
        )

    def _container(self, obj, path, fn):
        if id(obj) in self.active:
            raise ValueError(f"ember.save: the object contains a reference cycle at {_path_str(path)}")
        self.active.add(id(obj))
        try:
            return fn()
        finally:
            self.active.discard(id(obj))

    def _dict(self, obj, path):
        def items():
            if all(type(k) is str for k in obj):
                out = {"v": {k: self.encode(v, path + (k,)) for k, v in obj.items()}}
            else:
                out = {"kv": [[self.encode(k, path), self.encode(v, path + (k,))] for k, v in obj.items()]}
            attrs = getattr(obj, "__dict__", None)
            if attrs:
                out["attrs"] = self._dict(attrs, path + ("<attrs>",))
            return out

        enc = self._container(obj, path, items)
        return {"$": "dict" if type(obj) is dict else "odict", **enc}

    def _tensor(self, obj, path) -> int:
        key = id(obj)
        if key in self.index:
            return self.index[key]
        from ._tensor import Tensor, _to_host
        from .nn.parameter import Parameter

        if isinstance(obj, Tensor):
            if type(obj) not in (Tensor, Parameter):
                raise TypeError(
                    f"ember.save: cannot save a tensor subclass {type(obj).__qualname__} at {_path_str(path)}; "
                    "save a plain tensor (t.detach()) instead"
                )
            arr = _to_host(obj)
            entry = {
                "class": "Parameter" if type(obj) is Parameter else "Tensor",
                "dtype": obj.dtype.name,
                "device": str(obj.device),
                "requires_grad": bool(obj.requires_grad),
            }
        else:
            if obj.dtype.newbyteorder("=") not in _NP_NAME:
                raise TypeError(
                    f"ember.save: cannot save a NumPy array of dtype {obj.dtype} at {_path_str(path)}; "
                    f"supported dtypes: {', '.join(_DTYPES)}"
                )
            arr = obj
            entry = {"class": "ndarray", "dtype": _NP_NAME[obj.dtype.newbyteorder("=")]}
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        self.index[key] = len(self.table)
        self.keepalive.append(obj)
        self.table.append(entry)
        self.arrays.append(arr)
        self.paths.append(_path_str(path, for_name=True))
        return self.index[key]

    def layout(self) -> list[_Storage]:
        """Group the arrays by the memory they live in and decide what each safetensors entry holds."""
        groups: dict[int, list[int]] = {}
        roots: dict[int, np.ndarray] = {}
        for i, arr in enumerate(self.arrays):
            root = arr
            while isinstance(root.base, np.ndarray):
                root = root.base
            if arr.size == 0 or not (root.flags.c_contiguous or root.flags.f_contiguous):
                groups[-1 - i] = [i]  # stored alone
                continue
            groups.setdefault(id(root), []).append(i)
            roots[id(root)] = root
        storages: list[_Storage] = []
        used: set[str] = set()
        for key, members in groups.items():
            span = self._span(members, roots[key], len(storages), used) if len(members) > 1 else None
            if span is not None:
                storages.append(span)
                continue
            for i in members:
                storages.append(self._typed(_unique_name(self.paths[i], used), i, len(storages)))
        return storages

    def _typed(self, name: str, i: int, sid: int) -> _Storage:
        arr = _c_contiguous(self.arrays[i])
        self.table[i].update(storage=sid, offset=0, shape=list(arr.shape), strides=list(arr.strides))
        return self._typed_storage(name, i, arr)

    def _typed_storage(self, name: str, i: int, arr: np.ndarray) -> _Storage:
        dt_name = self.table[i]["dtype"]
        shape = arr.shape
        if dt_name.startswith("complex"):  # safetensors has no complex dtype: real pairs [..., 2]
            arr = arr.reshape(-1).view(np.float32 if dt_name == "complex64" else np.float64)
            shape = shape + (2,)
        return _Storage(name, arr, _DTYPES[dt_name][1], shape)

    def _span(self, members: list[int], root: np.ndarray, sid: int, used: set[str]) -> _Storage | None:
        """One storage for arrays sharing ``root``'s memory: the C-contiguous member that spans them all (a
        typed entry), else the raw bytes they span; every member records its byte offset and strides."""
        base_ptr = _ptr(root)
        extents = [_extent(self.arrays[i], _ptr(self.arrays[i]) - base_ptr) for i in members]
        lo = min(e[0] for e in extents)
        hi = max(e[1] for e in extents)
        if lo < 0 or hi > root.nbytes:  # memory not owned by the root array: store each one on its own
            return None
        for i in members:
            arr = self.arrays[i]
            self.table[i].update(
                storage=sid,
                offset=_ptr(arr) - base_ptr - lo,
                shape=list(arr.shape),
                strides=list(arr.strides),
            )
        for i, ext in zip(members, extents):
            if ext == (lo, hi) and self.arrays[i].flags.c_contiguous:
                return self._typed_storage(_unique_name(self.paths[i], used), i, self.arrays[i])
        flat = (root if root.flags.c_contiguous else root.T).reshape(-1).view(np.uint8)
        return _Storage(_unique_name(self.paths[members[0]], used), flat[lo:hi], "U8", (hi - lo,))

    def document(self, root_value, storages) -> bytes:
        doc = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "byteorder": "little",
            "root": root_value,
            "storages": [{"name": s.name, "dtype": s.code, "shape": list(s.shape)} for s in storages],
            "tensors": self.table,
        }
        return json.dumps(doc, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _ptr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _extent(a: np.ndarray, offset: int) -> tuple[int, int]:
    """Byte range [lo, hi) that a non-empty strided array touches, relative to its base."""
    return _extent_of(a.shape, a.strides, a.itemsize, offset)


def _c_contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself when C-contiguous, else a C-ordered copy (np.ascontiguousarray would make 0-d 1-d)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


def _path_str(path: tuple, for_name: bool = False) -> str:
    if for_name:
        return ".".join(str(p) for p in path) or "tensor"
    return "obj" + "".join(f"[{p!r}]" for p in path)


def _unique_name(name: str, used: set[str]) -> str:
    if name == "__metadata__":
        name = "tensor.__metadata__"
    cand, k = name, 1
    while cand in used:
        cand = f"{name}#{k}"
        k += 1
    used.add(cand)
    return cand


def _safetensors_header(storages: list[_Storage]) -> bytes:
    header: dict = {"__metadata__": {"format": "ember"}}
    pos = 0
    for s in storages:
        n = s.array.nbytes
        header[s.name] = {"dtype": s.code, "shape": list(s.shape), "data_offsets": [pos, pos + n]}
        pos += n
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # 8-byte alignment of the data, as safetensors writes it
    return len(raw).to_bytes(8, "little") + raw


def _storage_bytes(storage: _Storage) -> memoryview:
    """The raw little-endian bytes of one storage."""
    return memoryview(_c_contiguous(storage.array).reshape(-1).view(np.uint8))


def _write(doc: bytes, storages: list[_Storage], fh) -> None:
    header = _safetensors_header(storages)
    total = len(header) + sum(s.array.nbytes for s in storages)
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        info = zipfile.ZipInfo(_STRUCTURE, date_time=_ZIP_DATE)
        info.external_attr = 0o644 << 16
        zf.writestr(info, doc)
        info = zipfile.ZipInfo(_PAYLOAD, date_time=_ZIP_DATE)
        info.external_attr = 0o644 << 16
        info.file_size = total
        with zf.open(info, "w", force_zip64=total >= 2**31) as w:
            w.write(header)
            for s in storages:
                if s.array.nbytes:
                    w.write(_storage_bytes(s))


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: str, write) -> None:
    """Write through a temp file in the target's directory, fsync it, then rename it over ``path``."""
    if os.path.islink(path):  # write through the link, as open(path, "wb") would
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path):
        mode = stat.S_IMODE(os.stat(path).st_mode)
    else:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save(
    obj,
    f,
    pickle_module=None,
    pickle_protocol=2,
    _use_new_zipfile_serialization=True,
    _disable_byteorder_record=False,
) -> None:
    """Save ``obj`` (tensors, state dicts, nested containers, numbers, strings...) to a path or binary file.

    Writes to a path are atomic: the old file stays intact if anything fails. ``pickle_module`` and
    ``pickle_protocol`` are accepted for torch compatibility and ignored: ember never pickles."""
    if sys.byteorder != "little":
        raise RuntimeError("ember.save: checkpoints are little-endian; big-endian hosts are not supported")
    saver = _Saver()
    root = saver.encode(obj, ())
    storages = saver.layout()
    doc = saver.document(root, storages)

    def write(fh):
        _write(doc, storages, fh)

    if isinstance(f, (str, os.PathLike)):
        _atomic_write(os.fspath(f), write)
    elif hasattr(f, "write"):
        write(f)
        if hasattr(f, "flush"):
            f.flush()
    else:
        raise TypeError(
            f"ember.save: f must be a path or a writable binary file object, got {type(f).__name__}"
        )


# ---------------------------------------------------------------------------------------------- loading


def _describe(f) -> str:
    if isinstance(f, (str, os.PathLike)):
        return repr(os.fspath(f))
    name = getattr(f, "name", None)
    return repr(name) if isinstance(name, str) else f"<{type(f).__name__}>"


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved by ``ember.save`` from a path or binary file object.

    ``map_location``: None (tensors go back to the device they were saved from), a device or device string
    (all tensors), a dict mapping saved locations to new ones (``{"cuda:1": "cpu"}``), or a callable
    ``fn(tensor, location)`` returning the tensor to use (or None for the default). ``weights_only``,
    ``mmap`` and ``pickle_module`` are accepted for torch compatibility: loading never unpickles, so every
    load is weights-only. Raises RuntimeError naming the file for corrupt, truncated or foreign files."""
    name = _describe(f)
    if isinstance(f, (str, os.PathLike)):
        with open(os.fspath(f), "rb") as fh:
            return _load_stream(fh, name, map_location)
    if not hasattr(f, "read"):
        raise TypeError(
            f"ember.load: f must be a path or a readable binary file object, got {type(f).__name__}"
        )
    if not (hasattr(f, "seekable") and f.seekable()):
        f = io.BytesIO(f.read())
    return _load_stream(f, name, map_location)


def _load_stream(fh, name: str, map_location):
    start = fh.tell()
    magic = fh.read(4)
    fh.seek(start)
    try:
        if magic[:2] != b"PK":
            head = fh.read(9)
            fh.seek(start)
            if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= _MAX_HEADER:
                return _load_safetensors_file(fh, map_location)
            if magic[:1] == b"\x80":
                raise _Corrupt(
                    "it is a pickle (e.g. written by torch.save's legacy format or pickle.dump); ember.load "
                    "never unpickles, since unpickling can run arbitrary code"
                )
            raise _Corrupt(
                "it is not an ember checkpoint (no zip signature)" if magic else "the file is empty"
            )
        with zipfile.ZipFile(fh) as zf:
            return _load_zip(zf, map_location)
    except _Passthrough as p:
        raise p.exc from None
    except _Corrupt as e:
        raise RuntimeError(f"ember.load: cannot load {name}: {e}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as e:
        raise RuntimeError(
            f"ember.load: cannot load {name}: the file is corrupt or truncated ({e})"
        ) from None
    except (ValueError, KeyError, TypeError, IndexError, OverflowError, RecursionError, OSError) as e:
        raise RuntimeError(
            f"ember.load: cannot load {name}: malformed checkpoint ({type(e).__name__}: {e})"
        ) from None


def _load_zip(zf: zipfile.ZipFile, map_location):
    names = set(zf.namelist())
    if _STRUCTURE not in names:
        if any(n.endswith("data.pkl") for n in names):
            raise _Corrupt(
                "it is a PyTorch checkpoint (a zip around a pickle); ember.load never unpickles, since "
                "unpickling can run arbitrary code. Convert its state dict once with torch, e.g. "
                "safetensors.torch.save_file(state_dict, 'model.safetensors'), and ember.load that file"
            )
        raise _Corrupt(f"it is a zip archive but not an ember checkpoint (no {_STRUCTURE})")
    doc = json.loads(zf.read(_STRUCTURE).decode("utf-8"))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise _Corrupt(f"{_STRUCTURE} does not describe an ember checkpoint")
    version = doc.get("version")
    if type(version) is not int or version < 1:
        raise _Corrupt(f"bad format version {version!r}")
    if version > FORMAT_VERSION:
        raise _Corrupt(
            f"it uses checkpoint format version {version}, newer than this ember reads (up to "
            f"{FORMAT_VERSION}); upgrade ember to load it"
        )
    if doc.get("byteorder", "little") != "little" or sys.byteorder != "little":
        raise _Corrupt("only little-endian checkpoints on little-endian hosts are supported")
    storages = doc.get("storages")
    table = doc.get("tensors")
    if not isinstance(storages, list) or not isinstance(table, list):
        raise _Corrupt(f"{_STRUCTURE} lacks its storages/tensors tables")
    if _PAYLOAD not in names:
        raise _Corrupt(f"the tensor payload {_PAYLOAD} is missing")
    arrays = _read_payload(zf, storages)
    loader = _Loader(arrays, table, map_location)
    return loader.decode(doc.get("root"), 0)


def _check_shape(shape, what: str) -> tuple[int, ...]:
    if not isinstance(shape, list) or len(shape) > 64 or any(type(n) is not int or n < 0 for n in shape):
        raise _Corrupt(f"bad shape {shape!r} for {what}")
    return tuple(shape)


def _read_payload(zf: zipfile.ZipFile, storages: list) -> list[np.ndarray]:
    """Stream the safetensors entry into one fresh array per storage, validating it against the structure."""
    info = zf.getinfo(_PAYLOAD)
    raw = _StoredEntry.open(zf, info)
    if raw is not None:  # the usual case: read straight from the file into the arrays
        entries = _read_safetensors(raw, info.file_size)
        raw.finish()
    else:
        with zf.open(_PAYLOAD) as fh:
            entries = _read_safetensors(fh, info.file_size)
            if fh.read(1):  # also makes zipfile verify the entry's CRC-32
                raise _Corrupt("trailing bytes after the tensor payload")
    by_name = {key: arr for key, arr in entries}
    arrays = []
    for i, s in enumerate(storages):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or s["name"] not in by_name:
            raise _Corrupt(f"storage {i} is missing from the tensor payload")
        arr = by_name[s["name"]]
        if _CODES.get(s.get("dtype")) != arr.dtype or s.get("shape") != list(arr.shape):
            raise _Corrupt(f"storage {s['name']!r} does not match its safetensors entry")
        arrays.append(arr)
    return arrays


class _StoredEntry:
    """Reads an uncompressed zip entry directly from the archive's file (one copy, straight into the
    arrays), checking its CRC-32 like zipfile does."""

    def __init__(self, fh, offset: int, info: zipfile.ZipInfo):
        self.fh, self.info = fh, info
        self.remaining = info.file_size
        self.crc = 0
        fh.seek(offset)

    @classmethod
    def open(cls, zf: zipfile.ZipFile, info: zipfile.ZipInfo):
        fh = zf.fp
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1 or not hasattr(fh, "readinto"):
            return None
        fh.seek(info.header_offset)
        local = fh.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"Bad magic number for file header of {info.filename!r}")
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
        if fh.read(name_len) != info.orig_filename.encode("utf-8"):
            raise zipfile.BadZipFile(f"File name in directory {info.filename!r} and header differ")
        return cls(fh, info.header_offset + 30 + name_len + extra_len, info)

    def _account(self, data) -> None:
        self.crc = zlib.crc32(data, self.crc)

    def read(self, n: int) -> bytes:
        data = self.fh.read(min(n, self.remaining))
        self.remaining -= len(data)
        self._account(data)
        return data

    def readinto(self, buf) -> int:
        view = memoryview(buf)[: self.remaining]
        k = self.fh.readinto(view) or 0
        self.remaining -= k
        self._account(view[:k])
        return k

    def finish(self) -> None:
        if self.remaining:
            raise _Corrupt("trailing bytes after the tensor payload")
        if self.crc != self.info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {self.info.filename!r}")


def _read_safetensors(fh, size: int) -> list[tuple[str, np.ndarray]]:
    """Parse and validate a safetensors stream of ``size`` bytes; read each entry into a fresh array."""
    if size < 8:
        raise _Corrupt("the tensor payload is truncated")
    n = int.from_bytes(_read_exact(fh, 8), "little")
    if n > min(_MAX_HEADER, size - 8):
        raise _Corrupt(f"safetensors header length {n} exceeds the payload")
    header = json.loads(_read_exact(fh, n).decode("utf-8"))
    if not isinstance(header, dict):
        raise _Corrupt("safetensors header is not a JSON object")
    header.pop("__metadata__", None)
    entries = []
    for key, spec in header.items():
        if not isinstance(spec, dict) or spec.get("dtype") not in _CODES:
            raise _Corrupt(f"safetensors entry {key!r} has an unsupported dtype")
        shape = _check_shape(spec.get("shape"), f"safetensors entry {key!r}")
        offs = spec.get("data_offsets")
        if not (isinstance(offs, list) and len(offs) == 2 and all(type(o) is int for o in offs)):
            raise _Corrupt(f"safetensors entry {key!r} has bad data_offsets")
        npdt = _CODES[spec["dtype"]]
        if offs[1] - offs[0] != math.prod(shape) * npdt.itemsize:
            raise _Corrupt(f"safetensors entry {key!r}: data_offsets do not match its shape and dtype")
        entries.append((offs[0], offs[1], key, npdt, shape))
    entries.sort(key=lambda e: (e[0], e[1]))
    pos = 0
    for begin, end, key, _, _ in entries:
        if begin != pos:
            raise _Corrupt(f"safetensors entry {key!r} does not follow the previous one (gap or overlap)")
        pos = end
    if pos != size - 8 - n:
        raise _Corrupt(f"the tensor payload holds {size - 8 - n} data bytes but its header describes {pos}")
    out = []
    for _, _, key, npdt, shape in entries:
        arr = np.empty(shape, npdt)
        if arr.nbytes:
            _readinto_exact(fh, arr.reshape(-1).view(np.uint8))
        if npdt == np.bool_ and arr.view(np.uint8).max(initial=0) > 1:
            raise _Corrupt(f"bool storage {key!r} holds values other than 0 and 1")
        out.append((key, arr))
    return out


def _load_safetensors_file(fh, map_location) -> dict:
    """A plain ``.safetensors`` file: a dict of its tensors, in file order."""
    from . import _dtype as D
    from ._device import CPU
    from ._tensor import _wrap

    start = fh.tell()
    size = fh.seek(0, os.SEEK_END) - start
    fh.seek(start)
    loader = _Loader([], [], map_location)
    out = {}
    for key, arr in _read_safetensors(fh, size):
        dt = D.from_numpy_dtype(arr.dtype)  # U16/U32/U64 widen to the next signed ember dtype
        out[key] = loader.relocate(_wrap(arr.astype(dt.np, copy=False), dt, CPU), "cpu")
    return out


def _read_exact(fh, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise _Corrupt("the tensor payload is truncated")
    return data


def _readinto_exact(fh, buf: np.ndarray) -> None:
    view = memoryview(buf)
    got = 0
    while got < len(view):
        k = fh.readinto(view[got:])
        if not k:
            raise _Corrupt("the tensor payload is truncated")
        got += k


class _Loader:
    """Decodes the tagged JSON tree, building each table tensor once (shared references stay shared)."""

    def __init__(self, arrays: list[np.ndarray], table: list, map_location):
        self.arrays = arrays
        self.table = table
        self.map_location = map_location
        self.built: dict[int, object] = {}

    def decode(self, v, depth: int):
        if v is None or isinstance(v, (bool, str, int, float)):
            return v
        if depth > 10_000:
            raise _Corrupt("structure nested too deeply")
        if isinstance(v, list):
            return [self.decode(x, depth + 1) for x in v]
        if not isinstance(v, dict) or "$" not in v:
            raise _Corrupt(f"untagged JSON object in the structure: {str(v)[:80]}")
        tag = v["$"]
        if tag in ("dict", "odict"):
            out = {} if tag == "dict" else collections.OrderedDict()
            if "v" in v and isinstance(v["v"], dict):
                for k, x in v["v"].items():
                    out[k] = self.decode(x, depth + 1)
            elif "kv" in v and isinstance(v["kv"], list):
                for pair in v["kv"]:
                    if not (isinstance(pair, list) and len(pair) == 2):
                        raise _Corrupt("bad key/value pair in a dict")
                    out[self.decode(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
            else:
                raise _Corrupt("dict without items")
            attrs = v.get("attrs")
            if attrs is not None:
                if tag != "odict":
                    raise _Corrupt("attributes on a plain dict")
                for k, x in self.decode(attrs, depth + 1).items():
                    if not isinstance(k, str):
                        raise _Corrupt("non-string attribute name")
                    setattr(out, k, x)
            return out
        if tag in ("tuple", "set", "frozenset"):
            items = v.get("v")
            if not isinstance(items, list):
                raise _Corrupt(f"{tag} without items")
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](
                self.decode(x, depth + 1) for x in items
            )
        if tag == "tensor":
            return self.tensor(v.get("id"))
        if tag == "float":
            if v.get("v") not in ("nan", "inf", "-inf"):
                raise _Corrupt(f"bad float {v.get('v')!r}")
            return float(v["v"])
        if tag == "int":
            s = v.get("v")
            if not isinstance(s, str) or len(s) > 100_000:
                raise _Corrupt("bad int")
            return int(s)
        if tag == "complex":
            parts = v.get("v")
            if not (isinstance(parts, list) and len(parts) == 2):
                raise _Corrupt("bad complex")
            re_, im = (self.decode(p, depth + 1) for p in parts)
            return complex(re_, im)
        if tag in ("bytes", "bytearray"):
            raw = base64.b64decode(v.get("v", ""), validate=True)
            return raw if tag == "bytes" else bytearray(raw)
        if tag == "size":
            from ._size import Size

            return Size(_check_shape(v.get("v"), "a Size"))
        if tag == "device":
            from ._device import device

            if not isinstance(v.get("v"), str):
                raise _Corrupt("bad device")
            return device(v["v"])
        if tag == "dtype":
            from ._dtype import _BY_NAME

            if v.get("v") not in _BY_NAME:
                raise _Corrupt(f"unknown dtype {v.get('v')!r}")
            return _BY_NAME[v["v"]]
        if tag == "npscalar":
            if v.get("dtype") not in _DTYPES:
                raise _Corrupt("bad NumPy scalar dtype")
            return _DTYPES[v["dtype"]][0].type(self.decode(v.get("v"), depth + 1))
        raise _Corrupt(f"unknown tag {tag!r} in the structure")

    def tensor(self, i):
        if type(i) is not int or not 0 <= i < len(self.table):
            raise _Corrupt(f"bad tensor reference {i!r}")
        if i in self.built:
            return self.built[i]
        e = self.table[i]
        if not isinstance(e, dict) or e.get("dtype") not in _DTYPES:
            raise _Corrupt(f"tensor {i}: bad table entry")
        cls = e.get("class")
        sid = e.get("storage")
        if type(sid) is not int or not 0 <= sid < len(self.arrays):
            raise _Corrupt(f"tensor {i}: bad storage index")
        npdt = _DTYPES[e["dtype"]][0]
        shape = _check_shape(e.get("shape"), f"tensor {i}")
        strides = e.get("strides")
        offset = e.get("offset")
        if not (
            isinstance(strides, list) and len(strides) == len(shape) and all(type(s) is int for s in strides)
        ):
            raise _Corrupt(f"tensor {i}: bad strides")
        buf = self.arrays[sid].reshape(-1).view(np.uint8)
        if type(offset) is not int or offset < 0:
            raise _Corrupt(f"tensor {i}: bad offset")
        if math.prod(shape):
            lo, hi = _extent_of(shape, strides, npdt.itemsize, offset)
            if lo < 0 or hi > buf.nbytes:
                raise _Corrupt(f"tensor {i}: shape/strides reach outside its storage")
        elif offset > buf.nbytes:
            raise _Corrupt(f"tensor {i}: offset outside its storage")
        arr = np.ndarray(shape, npdt, buffer=buf, offset=offset, strides=strides)
        if npdt == np.bool_ and arr.size and arr.view(np.uint8).max() > 1:
            raise _Corrupt(f"tensor {i}: bool values other than 0 and 1")
        if cls == "ndarray":
            out = arr
        elif cls in ("Tensor", "Parameter"):
            out = self._make_tensor(i, e, arr, cls)
        else:
            raise _Corrupt(f"tensor {i}: unknown class {cls!r}")
        self.built[i] = out
        return out

    def _make_tensor(self, i: int, e: dict, arr: np.ndarray, cls: str):
        from . import _dtype as D
        from ._device import CPU
        from ._tensor import _wrap

        dt = D._BY_NAME.get(e["dtype"])
        if dt is None or dt.np != arr.dtype:
            raise _Corrupt(f"tensor {i}: dtype {e['dtype']!r} is not an ember dtype")
        requires_grad = e.get("requires_grad", False)
        if type(requires_grad) is not bool or (requires_grad and not (dt.is_floating_point or dt.is_complex)):
            raise _Corrupt(f"tensor {i}: bad requires_grad")
        location = e.get("device", "cpu")
        if not isinstance(location, str):
            raise _Corrupt(f"tensor {i}: bad device")
        t = self.relocate(_wrap(arr, dt, CPU), location)
        if cls == "Parameter":
            from .nn.parameter import Parameter

            return Parameter(t, requires_grad=requires_grad)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def relocate(self, t, location: str):
        """Apply map_location to a freshly loaded CPU tensor saved from ``location``."""
        from ._tensor import Tensor

        try:
            t = self._relocate(t, location)
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"ember.load: map_location returned {type(t).__name__}, expected a Tensor or None"
                )
        except Exception as exc:
            raise _Passthrough(exc) from exc
        return t

    def _relocate(self, t, location: str):
        ml = self.map_location
        target = location
        if ml is None:
            pass
        elif callable(ml) and not isinstance(ml, (str, dict)):
            from ._device import device

            r = ml(t, location)
            if r is None:
                target = location
            elif isinstance(r, (str, device)):
                target = str(r)
            else:
                return r
        elif isinstance(ml, dict):
            target = ml.get(location, location)
        else:
            target = ml
        from ._device import to_device

        dev = to_device(target)
        if dev.type == "cpu":
            return t
        if dev.type == "cuda":
            from . import cuda

            if not cuda.is_available():
                raise RuntimeError(
                    "Attempting to deserialize object on a CUDA device but ember.cuda.is_available() is False. "
                    "If you are running on a CPU-only machine, please use ember.load with "
                    "map_location=ember.device('cpu') to map your storages to the CPU."
                )
        return t.to(dev)


def _extent_of(shape, strides, itemsize: int, offset: int) -> tuple[int, int]:
    lo = hi = offset
    for n, s in zip(shape, strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + itemsize


__all__ = ["load", "save"]

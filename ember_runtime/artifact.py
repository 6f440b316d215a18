"""The `.ember` program artifact: one zip file (stored, deterministic) holding

- ``manifest.json``: format name and version, the ember version that wrote it, input/output names, dtypes and
  shapes (dynamic axes by name), user metadata, and the size and sha256 of every other member;
- ``graph.json``: the traced graph (see ember.export); ``weights.safetensors``: its parameters by key;
- ``golden.safetensors``: an example input/output pair (``input.<i>``, ``output.<i>``);
- ``extra/<name>``: files the model needs to be used (a tokenizer, a vocabulary).

Reading checks, before trusting any byte: that the file is a complete zip, member names are plain relative
paths, every member is listed in the manifest with its size and hash (and nothing else is present), sizes
are within limits, the format version is one this reader knows. Nothing is extracted to disk and no code
from the file is ever executed (JSON and raw arrays only).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tempfile
import zipfile
import zlib

from . import safetensors

FORMAT_NAME = "ember.program"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST = 1 << 20  # 1 MiB
MAX_MEMBER = 1 << 36  # 64 GiB
_DATE = (1980, 1, 1, 0, 0, 0)


class ArtifactError(ValueError):
    """A `.ember` file that cannot be trusted or read (the message says which file and why)."""


def _sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _safe_member(name: str) -> bool:
    parts = name.split("/")
    return (
        bool(name)
        and not name.startswith("/")
        and "\\" not in name
        and ":" not in name
        and all(p not in ("", ".", "..") for p in parts)
    )


def write(
    path,
    *,
    graph: dict,
    weights: dict,
    golden_inputs=(),
    golden_outputs=(),
    extra_files=None,
    metadata=None,
    writer_version: str = "",
) -> None:
    """Write the artifact atomically (a temporary file in the target directory, then a rename)."""
    members = {
        "graph.json": json.dumps(graph, separators=(",", ":"), allow_nan=False).encode(),
        "weights.safetensors": safetensors.dumps(weights),
    }
    gold = {f"input.{i}": a for i, a in enumerate(golden_inputs)}
    gold.update({f"output.{i}": a for i, a in enumerate(golden_outputs)})
    if gold:
        members["golden.safetensors"] = safetensors.dumps(gold)
    for name, data in (extra_files or {}).items():
        if isinstance(data, str):
            data = data.encode()
        if not _safe_member(f"extra/{name}") or "/" in name:
            raise ArtifactError(f"extra file name {name!r} must be a plain file name")
        members[f"extra/{name}"] = bytes(data)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "writer": writer_version,
        "inputs": [{k: i[k] for k in ("name", "dtype", "shape")} for i in graph["inputs"]],
        "outputs": [o["name"] for o in graph["outputs"]],
        "metadata": metadata or {},
        "members": {n: {"size": len(b), "sha256": _sha256(b)} for n, b in members.items()},
    }
    doc = json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False).encode()
    if len(doc) > MAX_MANIFEST:
        raise ArtifactError(
            f"the manifest would be {len(doc)} bytes (limit {MAX_MANIFEST}): metadata too large"
        )

    def emit(fh):
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
            for name, data in [(MANIFEST, doc), *members.items()]:
                info = zipfile.ZipInfo(name, date_time=_DATE)
                info.external_attr = 0o644 << 16
                zf.writestr(info, data)

    if hasattr(path, "write"):
        emit(path)
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".ember", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            emit(fh)
            fh.flush()
            os.fsync(fh.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(
            tmp,
            (stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH) & ~mask,
        )
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class Artifact:
    def __init__(self, manifest, graph, weights, golden_inputs, golden_outputs, extra_files):
        self.manifest = manifest
        self.graph = graph
        self.weights = weights
        self.golden_inputs = golden_inputs
        self.golden_outputs = golden_outputs
        self.extra_files = extra_files

    @property
    def metadata(self) -> dict:
        return self.manifest.get("metadata", {})


def read(path) -> Artifact:
    """Read and verify an artifact (path or binary file object)."""
    what = getattr(path, "name", None) or os.fspath(path) if not hasattr(path, "read") else "<stream>"
    try:
        if hasattr(path, "read"):
            zf = zipfile.ZipFile(io.BytesIO(path.read()))
        else:
            zf = zipfile.ZipFile(os.fspath(path))
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise ArtifactError(
            f"{what}: not a complete .ember archive (truncated or not a zip file): {e}"
        ) from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        for name in infos:
            if not _safe_member(name):
                raise ArtifactError(f"{what}: refusing unsafe member name {name!r}")
        m_info = infos.get(MANIFEST)
        if m_info is None:
            raise ArtifactError(f"{what}: no {MANIFEST}; not an ember program artifact")
        if m_info.file_size > MAX_MANIFEST:
            raise ArtifactError(f"{what}: {MANIFEST} is {m_info.file_size} bytes (limit {MAX_MANIFEST})")
        manifest = _json(_read(zf, m_info, what), f"{what}: {MANIFEST}")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise ArtifactError(f"{what}: {MANIFEST} does not describe an ember program")
        version = manifest.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise ArtifactError(f"{what}: bad format_version {version!r}")
        if version > FORMAT_VERSION:
            raise ArtifactError(
                f"{what}: written in format version {version} by ember {manifest.get('writer', '?')}; this reader "
                f"supports versions up to {FORMAT_VERSION} — upgrade ember to load it"
            )
        listed = manifest.get("members")
        if not isinstance(listed, dict):
            raise ArtifactError(f"{what}: {MANIFEST} lists no members")
        extra = set(infos) - set(listed) - {MANIFEST}
        if extra:
            raise ArtifactError(f"{what}: members not listed in the manifest: {sorted(extra)}")
        data = {}
        for name, meta in listed.items():
            info = infos.get(name)
            if info is None:
                raise ArtifactError(f"{what}: member {name!r} is missing (truncated file?)")
            size = meta.get("size") if isinstance(meta, dict) else None
            if not isinstance(size, int) or size != info.file_size or size > MAX_MEMBER:
                raise ArtifactError(
                    f"{what}: member {name!r} has size {info.file_size}, manifest says {size}"
                )
            raw = _read(zf, info, what)
            if _sha256(raw) != meta.get("sha256"):
                raise ArtifactError(
                    f"{what}: sha256 mismatch for {name!r}: the file was modified or corrupted after it was written"
                )
            data[name] = raw
    for need in ("graph.json", "weights.safetensors"):
        if need not in data:
            raise ArtifactError(f"{what}: missing {need}")
    graph = _json(data["graph.json"], f"{what}: graph.json")
    try:
        weights = safetensors.loads(data["weights.safetensors"], f"{what}: weights.safetensors")
        gold = (
            safetensors.loads(data["golden.safetensors"], f"{what}: golden")
            if "golden.safetensors" in data
            else {}
        )
    except safetensors.SafetensorsError as e:
        raise ArtifactError(str(e)) from None
    ins = [gold[f"input.{i}"] for i in range(len(gold)) if f"input.{i}" in gold]
    outs = [gold[f"output.{i}"] for i in range(len(gold)) if f"output.{i}" in gold]
    extra_files = {n[len("extra/") :]: b for n, b in data.items() if n.startswith("extra/")}
    return Artifact(manifest, graph, weights, ins, outs, extra_files)


def _read(zf, info, what: str) -> bytes:
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise ArtifactError(
            f"{what}: member {info.filename!r} cannot be read (truncated or corrupt): {e}"
        ) from None


def _json(raw: bytes, what: str):
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArtifactError(f"{what} is not valid JSON: {e}") from None

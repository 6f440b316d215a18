"""The model repository (Triton's layout) and the loaded versions.

    DIR/<model>/<version>/model.ember      versions are positive integers
    DIR/<model>/config.json                optional: max_batch_size, max_queue_delay_ms, max_queue_size,
                                           timeout_s, version_policy ("latest" (default) | "all"), allow_nan

`load(name)` re-scans the model's directory, loads and warms the versions the policy selects (running each
artifact's golden example) while the current ones keep serving, then swaps the model's version table in one
assignment. Requests hold the ModelVersion they started with, so in-flight work finishes on it; versions that
left the table are drained, then stopped. A failed load leaves the table as it was and raises LoadError.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import time
from dataclasses import dataclass, fields, replace

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class LoadError(Exception):
    pass


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class ModelConfig:
    max_batch_size: int = 8
    max_queue_delay_ms: float = 0.0
    max_queue_size: int = 256
    timeout_s: float = 60.0
    version_policy: str = "latest"
    allow_nan: bool = False  # NaN/Inf in float inputs: rejected (400) unless the model says otherwise

    def merged(self, overrides: dict, where: str) -> ModelConfig:
        known = {f.name: f.type for f in fields(self)}
        bad = sorted(set(overrides) - set(known))
        if bad:
            raise LoadError(f"{where}: unknown keys {bad} (known: {sorted(known)})")
        out = {}
        for k, v in overrides.items():
            cur = getattr(self, k)
            if isinstance(cur, bool):
                if not isinstance(v, bool):
                    raise LoadError(f"{where}: {k} must be true or false, got {v!r}")
            elif isinstance(cur, str):
                if v not in ("latest", "all"):
                    raise LoadError(f"{where}: version_policy must be 'latest' or 'all', got {v!r}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise LoadError(f"{where}: {k} must be a non-negative number, got {v!r}")
            out[k] = type(cur)(v)
        return replace(self, **out)


class ModelVersion:
    """One loaded version: the program, its batcher (set by the server) and in-flight accounting."""

    def __init__(self, name: str, version: int, path: str, program, config: ModelConfig):
        self.name = name
        self.version = version
        self.path = path
        self.program = program
        self.config = config
        self.batcher = None
        self.engine = None  # the text-generation engine of a GPT, made on first use
        self.inflight = 0
        self.loaded_at = time.time()
        self._outputs_meta = None

    @property
    def inputs(self) -> list:
        return self.program.graph["inputs"]

    @functools.cached_property
    def batchable(self) -> bool:
        """Every input's first axis is dynamic: requests can be concatenated along it."""
        return all(i["shape"] and isinstance(i["shape"][0], str) for i in self.inputs)

    def outputs_meta(self) -> list:
        """Output names, dtypes and shapes (-1 for the batch axis); computed once per version."""
        if self._outputs_meta is None:
            self._outputs_meta = self._make_outputs_meta()
        return self._outputs_meta

    def _make_outputs_meta(self) -> list:
        gold = self.program.golden[1] if self.program.golden else None
        out = []
        for k, o in enumerate(self.program.graph["outputs"]):
            d = {"name": o["name"]}
            if gold is not None and k < len(gold):
                d["dtype"] = str(gold[k].dtype).rsplit(".", 1)[-1]
                shape = list(gold[k].shape)
                if self.batchable and shape:
                    shape[0] = -1
                d["shape"] = shape
            out.append(d)
        return out

    def run(self, inputs: dict) -> dict:
        """Run the program on named NumPy inputs (a worker thread calls this)."""
        args = [inputs[i["name"]] for i in self.inputs]
        outs = self.program.run_flat(*args)
        return {o["name"]: t.detach().cpu().numpy() for o, t in zip(self.program.graph["outputs"], outs)}


class Repository:
    def __init__(self, root: str, defaults: ModelConfig):
        self.root = os.path.abspath(root)
        self.defaults = defaults
        if not os.path.isdir(self.root):
            raise LoadError(f"model repository {self.root} is not a directory")

    def models(self) -> list[str]:
        return sorted(
            n for n in os.listdir(self.root) if _NAME.match(n) and os.path.isdir(os.path.join(self.root, n))
        )

    def versions(self, name: str) -> list[int]:
        d = os.path.join(self.root, name)
        if not _NAME.match(name) or not os.path.isdir(d):
            raise NotFound(f"model '{name}' is not in the repository")
        out = []
        for v in os.listdir(d):
            if v.isdigit() and int(v) > 0 and os.path.isfile(os.path.join(d, v, "model.ember")):
                out.append(int(v))
        return sorted(out)

    def config(self, name: str) -> ModelConfig:
        path = os.path.join(self.root, name, "config.json")
        if not os.path.exists(path):
            return self.defaults
        try:
            with open(path, encoding="utf-8") as fh:
                overrides = json.load(fh)
        except (OSError, ValueError, RecursionError) as e:
            raise LoadError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(overrides, dict):
            raise LoadError(f"{path}: expected a JSON object")
        return self.defaults.merged(overrides, path)

    def path(self, name: str, version: int) -> str:
        return os.path.join(self.root, name, str(version), "model.ember")


class ModelManager:
    """The loaded models: name -> {version: ModelVersion}; swaps whole tables, never edits one in place."""

    def __init__(self, repo: Repository, *, executor, make_batcher, metrics=None, device: str = "cpu"):
        self.repo = repo
        self.executor = executor
        self.make_batcher = make_batcher
        self.metrics = metrics
        self.device = device
        self.tables: dict[str, dict[int, ModelVersion]] = {}
        self.failures: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, name: str, version: str | int | None = None) -> ModelVersion:
        table = self.tables.get(name)
        if not table:
            raise NotFound(f"model '{name}' is not loaded")
        if version is None or version == "":
            return table[max(table)]
        try:
            v = int(version)
        except ValueError:
            raise NotFound(f"version '{version}' of model '{name}' is not a positive integer") from None
        if v not in table:
            raise NotFound(f"version {v} of model '{name}' is not loaded (loaded: {sorted(table)})")
        return table[v]

    def index(self) -> list[dict]:
        out = []
        for name in self.repo.models():
            try:
                versions = self.repo.versions(name)
            except NotFound:
                continue
            table = self.tables.get(name, {})
            for v in versions:
                entry = {"name": name, "version": str(v), "state": "READY" if v in table else "UNAVAILABLE"}
                if v not in table:
                    entry["reason"] = self.failures.get(name, "unloaded")
                out.append(entry)
        return out

    def _load_version(self, name: str, version: int, config: ModelConfig) -> ModelVersion:
        from ..export import load

        path = self.repo.path(name, version)
        program = load(path, device=self.device)
        if program.golden is not None:
            program.verify(rtol=1e-4, atol=1e-5)  # warms the version up and checks it
        return ModelVersion(name, version, path, program, config)

    async def load(self, name: str) -> list[int]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            t0 = time.perf_counter()
            try:
                config = self.repo.config(name)
                versions = self.repo.versions(name)
                if not versions:
                    raise LoadError(f"model '{name}' has no version directory with a model.ember")
                wanted = versions if config.version_policy == "all" else versions[-1:]
                old = self.tables.get(name, {})
                loop = asyncio.get_running_loop()
                new = {}
                for v in wanted:
                    if v in old and old[v].config == config and _same_file(old[v]):
                        new[v] = old[v]
                        continue
                    mv = await loop.run_in_executor(self.executor, self._load_version, name, v, config)
                    mv.batcher = self.make_batcher(mv)
                    new[v] = mv
            except NotFound:
                raise
            except Exception as e:
                self.failures[name] = f"load failed: {e}"
                if self.metrics is not None:
                    self.metrics.load_failures.labels(name).inc()
                raise LoadError(f"loading model '{name}' failed: {e}") from None
            self.tables[name] = new  # the switch: one assignment; requests already running keep their version
            self.failures.pop(name, None)
            if self.metrics is not None:
                self.metrics.load_seconds.labels(name).observe(time.perf_counter() - t0)
            for v, mv in old.items():
                if new.get(v) is not mv:
                    loop.create_task(_drain(mv))
            return sorted(new)

    async def unload(self, name: str) -> None:
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            old = self.tables.pop(name, None)
            if old is None:
                raise NotFound(f"model '{name}' is not loaded")
            self.failures[name] = "unloaded"
            await asyncio.gather(*(_drain(mv) for mv in old.values()))

    async def close(self) -> None:
        tables, self.tables = self.tables, {}
        await asyncio.gather(*(_drain(mv) for t in tables.values() for mv in t.values()))


def _same_file(mv: ModelVersion) -> bool:
    try:
        return os.path.getmtime(mv.path) <= mv.loaded_at
    except OSError:
        return False


async def _drain(mv: ModelVersion) -> None:
    """Wait until no request uses this version any more, then stop its batcher."""
    while mv.inflight > 0:
        await asyncio.sleep(0.005)
    if mv.batcher is not None:
        await mv.batcher.stop()

"""`ember serve` as a real process on 127.0.0.1, driven by httpx: the KServe v2 endpoints, binary tensors,
dynamic batching (made deterministic by the batch-hold test hook, not by sleeping), the bad-input table,
reload under load, a failed reload, SIGTERM draining, OpenAI completions with SSE, and the API key."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

import ember
from ember.models import GPT, GPTConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHARS = "abcdefgh \n"


class Tiny(ember.nn.Module):
    def __init__(self, scale: float):
        super().__init__()
        self.lin = ember.nn.Linear(4, 3)
        self.scale = scale

    def forward(self, x):
        return self.lin(x) * self.scale


def _export_tiny(path, scale):
    ember.manual_seed(0)
    m = Tiny(scale).eval()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ember.export.save(m, path, (ember.randn(2, 4),), dynamic_axes={"x": {0: "batch"}})
    return m


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("repo")
    _export_tiny(str(root / "tiny" / "1" / "model.ember"), 1.0)
    ember.manual_seed(1)
    gpt = GPT(GPTConfig(block_size=16, vocab_size=len(CHARS), n_layer=1, n_head=2, n_embd=16)).eval()
    os.makedirs(root / "gpt" / "1")
    ember.export.save(
        gpt,
        root / "gpt" / "1" / "model.ember",
        (ember.zeros(1, 4, dtype=ember.int64),),
        dynamic_axes={"idx": {0: "batch", 1: "seq"}},
        output_names=["logits"],
        extra_files={"vocab.json": json.dumps({"chars": CHARS})},
        metadata={"model": "gpt", "config": {"block_size": 16}},
    )
    (root / "gpt" / "config.json").write_text(json.dumps({"max_batch_size": 16}))
    return root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, repo, *args, env=None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable,
            "-m",
            "ember",
            "serve",
            "--model-repository",
            str(repo),
            "--port",
            str(self.port),
            *args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + "/v2/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not become ready in 60 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server(repo):
    s = Server(repo, "--max-batch-size", "8")
    yield s
    assert s.stop() == 0


async def _until(client, fragment: str, seconds: float = 30.0) -> str:
    """Poll /metrics until it contains `fragment` (bounded: fails after `seconds`)."""
    deadline = time.time() + seconds
    while True:
        text = (await client.get("/metrics")).text
        if fragment in text:
            return text
        assert time.time() < deadline, f"metrics never showed {fragment!r}"
        await asyncio.sleep(0.01)


def _infer_body(x, name="x", **extra):
    return {
        "inputs": [
            {"name": name, "shape": list(x.shape), "datatype": "FP32", "data": x.reshape(-1).tolist()}
        ],
        **extra,
    }


def _expected(x, scale=1.0):
    ember.manual_seed(0)
    m = Tiny(scale).eval()
    return m(ember.tensor(x)).detach().numpy()


# ----------------------------------------------------------------------------------------------- protocol


def test_health_metadata_and_ready(server):
    c = httpx.Client(base_url=server.url)
    assert c.get("/v2/health/live").json() == {"live": True}
    assert c.get("/v2/health/ready").status_code == 200
    meta = c.get("/v2").json()
    assert meta["name"] == "ember" and "binary_tensor_data" in meta["extensions"]
    m = c.get("/v2/models/tiny").json()
    assert m["name"] == "tiny" and m["versions"] == ["1"] and m["platform"] == "ember"
    assert m["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert m["outputs"][0]["name"] == "output" and m["outputs"][0]["shape"] == [-1, 3]
    assert c.get("/v2/models/tiny/versions/1").json()["name"] == "tiny"
    assert c.get("/v2/models/tiny/ready").json()["ready"] is True
    assert c.get("/v2/models/tiny/versions/1/ready").status_code == 200


def test_infer_json_and_binary(server):
    c = httpx.Client(base_url=server.url)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    r = c.post("/v2/models/tiny/infer", json=_infer_body(x, id="req-1"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_name"] == "tiny" and body["model_version"] == "1" and body["id"] == "req-1"
    out = body["outputs"][0]
    assert out["name"] == "output" and out["datatype"] == "FP32" and out["shape"] == [3, 3]
    np.testing.assert_allclose(np.array(out["data"]).reshape(3, 3), _expected(x), rtol=1e-5, atol=1e-6)
    assert c.post("/v2/models/tiny/versions/1/infer", json=_infer_body(x)).status_code == 200
    # tritonclient.http's binary form: JSON header, then raw little-endian bytes; binary output requested
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [3, 4],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": x.nbytes},
                }
            ],
            "outputs": [{"name": "output", "parameters": {"binary_data": True}}],
        }
    ).encode()
    r = c.post(
        "/v2/models/tiny/infer",
        content=header + x.tobytes(),
        headers={
            "Inference-Header-Content-Length": str(len(header)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert r.status_code == 200, r.text
    n = int(r.headers["Inference-Header-Content-Length"])
    head = json.loads(r.content[:n])
    size = head["outputs"][0]["parameters"]["binary_data_size"]
    got = np.frombuffer(r.content[n : n + size], dtype="<f4").reshape(head["outputs"][0]["shape"])
    np.testing.assert_allclose(got, _expected(x), rtol=1e-5, atol=1e-6)


def test_repository_api_and_metrics(server):
    c = httpx.Client(base_url=server.url)
    index = c.post("/v2/repository/index").json()
    assert {"name": "tiny", "version": "1", "state": "READY"} in index
    assert c.post("/v2/repository/models/tiny/load").json()["versions"] == ["1"]
    text = c.get("/metrics").text
    assert 'ember_requests_total{model="tiny",status="200",version="1"}' in text
    assert "ember_request_latency_seconds_bucket" in text and "ember_batch_size_bucket" in text
    assert "process_resident_memory_bytes" in text and "ember_queue_depth" in text
    assert "ember_model_load_seconds_count" in text


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "body,status,fragment",
    [
        (b"{not json", 400, "JSON"),
        (b"[" * 100000 + b"]" * 100000, 400, "nested"),
        (
            json.dumps(
                {"inputs": [{"name": "y", "shape": [1, 4], "datatype": "FP32", "data": [0, 0, 0, 0]}]}
            ),
            400,
            "y",
        ),
        (
            json.dumps({"inputs": [{"name": "x", "shape": [1, 5], "datatype": "FP32", "data": [0] * 5}]}),
            400,
            "x",
        ),
        (
            json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT64", "data": [0] * 4}]}),
            400,
            "INT64",
        ),
        (
            json.dumps({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [0] * 4}]}),
            400,
            "x",
        ),
        (
            b'{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [NaN, 0, 0, 0]}]}',
            400,
            "x",
        ),
        (json.dumps({"inputs": []}), 400, "x"),
    ],
)
def test_bad_input_gets_a_clear_4xx(server, body, status, fragment):
    r = httpx.post(
        server.url + "/v2/models/tiny/infer", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == status, r.text
    assert fragment.lower() in r.json()["error"].lower()


def test_unknown_model_and_version_404(server):
    x = np.zeros((1, 4), np.float32)
    for path in (
        "/v2/models/nope/infer",
        "/v2/models/tiny/versions/7/infer",
        "/v2/models/tiny/versions/x/infer",
    ):
        r = httpx.post(server.url + path, json=_infer_body(x))
        assert r.status_code == 404 and "error" in r.json()
    assert httpx.get(server.url + "/v2/models/nope").status_code == 404
    assert httpx.post(server.url + "/v2/repository/models/nope/load").status_code == 404
    assert httpx.get(server.url + "/v2/nothing/here").status_code == 404


def test_body_limit_and_api_key(repo):
    s = Server(repo, "--max-request-bytes", "2000", "--api-key", "s3cret")
    try:
        auth = {"Authorization": "Bearer s3cret"}
        x = np.zeros((1, 4), np.float32)
        assert httpx.post(s.url + "/v2/models/tiny/infer", json=_infer_body(x)).status_code == 401
        assert (
            httpx.post(
                s.url + "/v2/models/tiny/infer",
                json=_infer_body(x),
                headers={"Authorization": "Bearer wrong"},
            ).status_code
            == 401
        )
        assert httpx.post(s.url + "/v2/repository/index").status_code == 401
        assert httpx.get(s.url + "/v2/health/live").status_code == 200  # health stays open
        assert (
            httpx.post(s.url + "/v2/models/tiny/infer", json=_infer_body(x), headers=auth).status_code == 200
        )
        big = np.zeros((200, 4), np.float32)
        r = httpx.post(s.url + "/v2/models/tiny/infer", json=_infer_body(big), headers=auth)
        assert r.status_code == 413 and "limit of 2000 bytes" in r.json()["error"]

        def chunks():  # no Content-Length: the limit applies while the body streams in
            for _ in range(100):
                yield b" " * 100

        r = httpx.post(s.url + "/v2/models/tiny/infer", content=chunks(), headers=auth)
        assert r.status_code == 413
        assert httpx.get(s.url + "/v2/health/ready").status_code == 200  # still serving
    finally:
        assert s.stop() == 0


# ------------------------------------------------------------------------------------------------- batching


def test_dynamic_batching_forms_batches_and_keeps_results_matched(repo):
    """With the hold hook at 4, four concurrent single-row requests run as ONE 4-row batch."""
    s = Server(repo, "--max-batch-size", "4", env={"EMBER_SERVE_TEST_BATCH_HOLD": "4"})
    try:
        xs = [np.full((1, 4), float(i), np.float32) for i in range(4)]

        async def go():
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as c:
                return await asyncio.gather(
                    *(c.post("/v2/models/tiny/infer", json=_infer_body(x)) for x in xs)
                )

        rs = asyncio.run(go())
        for x, r in zip(xs, rs):
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(
                np.array(r.json()["outputs"][0]["data"]).reshape(1, 3), _expected(x), rtol=1e-5, atol=1e-6
            )
        text = httpx.get(s.url + "/metrics").text
        lines = {
            ln.split(" ")[0]: float(ln.split(" ")[1])
            for ln in text.splitlines()
            if ln.startswith("ember_batch")
        }
        assert lines['ember_batch_size_count{model="tiny",version="1"}'] == 1.0
        assert lines['ember_batch_size_sum{model="tiny",version="1"}'] == 4.0
    finally:
        assert s.stop() == 0


def test_sigterm_drains_queued_requests(repo):
    s = Server(repo, env={"EMBER_SERVE_TEST_BATCH_HOLD": "3"})
    x = np.ones((1, 4), np.float32)

    async def go():
        async with httpx.AsyncClient(base_url=s.url, timeout=30) as c:
            tasks = [
                asyncio.ensure_future(c.post("/v2/models/tiny/infer", json=_infer_body(x))) for _ in range(2)
            ]
            await _until(
                c, 'ember_queue_depth{model="tiny",version="1"} 2.0'
            )  # both queued (the hook wants 3)
            s.proc.send_signal(signal.SIGTERM)
            return await asyncio.gather(*tasks)

    rs = asyncio.run(go())
    assert [r.status_code for r in rs] == [200, 200]
    assert s.proc.wait(30) == 0


# --------------------------------------------------------------------------------------------------- reload


def test_reload_under_load_and_failed_reload(tmp_path):
    repo = tmp_path / "repo"
    _export_tiny(str(repo / "tiny" / "1" / "model.ember"), 1.0)
    s = Server(repo, "--max-batch-size", "4")
    x = np.ones((1, 4), np.float32)
    try:

        async def go():
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as c:
                stop = asyncio.Event()
                statuses = []

                async def hammer():
                    while not stop.is_set():
                        r = await c.post("/v2/models/tiny/infer", json=_infer_body(x))
                        statuses.append(r.status_code)

                workers = [asyncio.ensure_future(hammer()) for _ in range(4)]
                while len(statuses) < 10:
                    await asyncio.sleep(0.01)
                _export_tiny(str(repo / "tiny" / "2" / "model.ember"), 3.0)
                r = await c.post("/v2/repository/models/tiny/load")
                assert r.status_code == 200 and r.json()["versions"] == ["2"], r.text
                n = len(statuses)
                while len(statuses) < n + 10:
                    await asyncio.sleep(0.01)
                stop.set()
                await asyncio.gather(*workers)
                return statuses

        statuses = asyncio.run(go())
        assert statuses and set(statuses) == {200}  # zero failed requests across the switch
        r = httpx.post(s.url + "/v2/models/tiny/infer", json=_infer_body(x)).json()
        assert r["model_version"] == "2"
        np.testing.assert_allclose(
            np.array(r["outputs"][0]["data"]).reshape(1, 3), _expected(x, 3.0), rtol=1e-5
        )
        # a corrupt version 3: the load fails, version 2 keeps serving
        os.makedirs(repo / "tiny" / "3")
        (repo / "tiny" / "3" / "model.ember").write_bytes(b"PK\x03\x04 not really a zip")
        r = httpx.post(s.url + "/v2/repository/models/tiny/load")
        assert r.status_code == 400 and "not a complete .ember archive" in r.json()["error"]
        assert httpx.post(s.url + "/v2/models/tiny/infer", json=_infer_body(x)).json()["model_version"] == "2"
        text = httpx.get(s.url + "/metrics").text
        assert 'ember_model_load_failures_total{model="tiny"} 1.0' in text
        shutil.rmtree(repo / "tiny" / "3")
        assert httpx.post(s.url + "/v2/repository/models/tiny/unload").status_code == 200
        assert httpx.post(s.url + "/v2/models/tiny/infer", json=_infer_body(x)).status_code == 404
        idx = httpx.post(s.url + "/v2/repository/index").json()
        assert {"name": "tiny", "version": "2", "state": "UNAVAILABLE", "reason": "unloaded"} in idx
    finally:
        assert s.stop() == 0


# ------------------------------------------------------------------------------------------ OpenAI completions


def test_completions_json_and_sse(server):
    c = httpx.Client(base_url=server.url, timeout=30)
    assert [m["id"] for m in c.get("/v1/models").json()["data"]] == ["gpt"]
    req = {"model": "gpt", "prompt": "abc", "max_tokens": 8, "temperature": 0}
    r = c.post("/v1/completions", json=req)
    assert r.status_code == 200, r.text
    body = r.json()
    text = body["choices"][0]["text"]
    assert body["object"] == "text_completion" and body["usage"]["completion_tokens"] == 8 and len(text) == 8
    assert set(text) <= set(CHARS)
    pieces = []
    with c.stream("POST", "/v1/completions", json={**req, "stream": True}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data: "):
                pieces.append(line[len("data: ") :])
    assert pieces[-1] == "[DONE]"
    assert "".join(json.loads(p)["choices"][0]["text"] for p in pieces[:-1]) == text
    assert c.post("/v1/completions", json={**req, "model": "tiny"}).status_code == 404
    assert (
        c.post("/v1/completions", json={**req, "prompt": "xyz"}).status_code == 400
    )  # not in the vocabulary


def test_queue_full_timeout_and_client_disconnect(repo):
    """Backpressure: a full queue answers 503 with Retry-After; a request that waits past --timeout gets 504;
    a request whose client went away is dropped from the queue (the hold hook keeps them queued)."""
    s = Server(repo, "--max-queue-size", "2", "--timeout", "1", env={"EMBER_SERVE_TEST_BATCH_HOLD": "3"})
    x = np.ones((1, 4), np.float32)
    try:

        async def go():
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as c:
                first = asyncio.ensure_future(c.post("/v2/models/tiny/infer", json=_infer_body(x)))
                second = asyncio.ensure_future(c.post("/v2/models/tiny/infer", json=_infer_body(x)))
                await _until(c, 'ember_queue_depth{model="tiny",version="1"} 2.0')
                full = await c.post("/v2/models/tiny/infer", json=_infer_body(x))
                return full, await first, await second

        full, first, second = asyncio.run(go())
        assert (
            full.status_code == 503 and full.headers["Retry-After"] == "1" and "queue" in full.json()["error"]
        )
        assert first.status_code == 504 and second.status_code == 504  # held past --timeout 1 s
        assert "did not finish within 1.0 s" in first.json()["error"]

        async def gone():
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as c:
                t = asyncio.ensure_future(c.post("/v2/models/tiny/infer", json=_infer_body(x)))
                await _until(c, 'ember_queue_depth{model="tiny",version="1"} 1.0')
                t.cancel()  # the client goes away mid-request
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as c:
                await _until(c, 'status="499"')
                return (await c.get("/metrics")).text

        text = asyncio.run(gone())
        assert 'ember_queue_depth{model="tiny",version="1"} 0.0' in text
    finally:
        assert s.stop() == 0


def test_poll_interval_picks_up_a_new_version(tmp_path):
    repo = tmp_path / "repo"
    _export_tiny(str(repo / "tiny" / "1" / "model.ember"), 1.0)
    s = Server(repo, "--poll-interval", "0.1")
    try:
        _export_tiny(str(repo / "tiny" / "2" / "model.ember"), 2.0)
        deadline = time.time() + 30
        while httpx.get(s.url + "/v2/models/tiny").json()["versions"] != ["2"]:
            assert time.time() < deadline, "the new version was not picked up"
            time.sleep(0.05)
        x = np.ones((1, 4), np.float32)
        out = httpx.post(s.url + "/v2/models/tiny/infer", json=_infer_body(x)).json()
        np.testing.assert_allclose(
            np.array(out["outputs"][0]["data"]).reshape(1, 3), _expected(x, 2.0), rtol=1e-5
        )
    finally:
        assert s.stop() == 0

"""Serving throughput and latency: `ember serve` (dynamic batching) vs a plain FastAPI endpoint
(benchmarks/plain_fastapi.py: one model call per request), same artifact, in one run.

    python benchmarks/serve.py [--quick] [--json out.json]      (needs fastapi installed for the baseline)

Models: (a) the MLP 784-256-10 (cheap: measures HTTP and decoding), (b) a Transformer encoder classifier
(sequence 128, width 256, 4 layers, 4 heads: compute-bound, where batching must pay), (c) the demo's char-GPT
through /v1/completions (tokens/s). Load comes from a separate process (httpx, asyncio) on loopback with a
bounded number of requests per concurrency level (1, 8, 64); latency percentiles are per request.
Not a test: no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, proc, path="/v2/health/ready") -> None:
    import httpx

    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stdout.read())
        try:
            if httpx.get(url + path, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


# ---------------------------------------------------------------------------------------------- load client


async def _load(url: str, bodies: list, concurrency: int, path: str) -> dict:
    """`concurrency` keep-alive connections, each sending its share of pre-encoded requests one after the
    other (a minimal HTTP/1.1 client on asyncio streams, so the load generator costs little CPU)."""
    host, port = url.split("//")[1].split(":")
    encoded = []
    for b in bodies:
        payload = json.dumps(b).encode()
        encoded.append(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
    latencies, errors = [], 0

    async def worker(share):
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for req in share:
                t0 = time.perf_counter()
                writer.write(req)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                lines = head.decode("latin-1").lower().split("\r\n")
                length = next(
                    (int(ln.split(":", 1)[1]) for ln in lines if ln.startswith("content-length:")), None
                )
                if length is not None:
                    await reader.readexactly(length)
                else:  # chunked (SSE): read chunks until the last one
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        await reader.readexactly(size + 2)
                        if size == 0:
                            break
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    shares = [encoded[i::concurrency] for i in range(concurrency)]
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(sh) for sh in shares if sh))
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1e3
    return {
        "requests": len(bodies),
        "errors": errors,
        "rps": len(bodies) / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "wall_s": wall,
    }


def client_main(spec_path: str) -> int:
    """Runs in its own process: reads a JSON spec, drives the server, prints a JSON result line."""
    spec = json.load(open(spec_path))
    out = asyncio.run(_load(spec["url"], spec["bodies"], spec["concurrency"], spec["path"]))
    if spec.get("tokens_per_request"):
        out["tokens_per_s"] = out["rps"] * spec["tokens_per_request"]
    print(json.dumps(out))
    return 0


def _drive(url, bodies, concurrency, path, tokens_per_request=0) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(
            {
                "url": url,
                "bodies": bodies,
                "concurrency": concurrency,
                "path": path,
                "tokens_per_request": tokens_per_request,
            },
            fh,
        )
    r = subprocess.run(
        [sys.executable, __file__, "--client", fh.name], capture_output=True, text=True, cwd=ROOT
    )
    os.unlink(fh.name)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------- the models


def _build_repo(root: str) -> dict:
    import ember

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from train_cpu import mlp

    nn = ember.nn

    class EncoderClassifier(nn.Module):
        def __init__(self, vocab=1000, d=256, layers=4, heads=4, classes=4):
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.enc = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(d, heads, 4 * d, batch_first=True), layers
            )
            self.head = nn.Linear(d, classes)

        def forward(self, tokens):
            return self.head(self.enc(self.emb(tokens)).mean(1))

    from ember.models import GPT, GPTConfig

    ember.manual_seed(0)
    models = {
        "mlp": (mlp(ember).eval(), ember.randn(2, 784), {"x": {0: "batch"}}, {}, {}),
        "encoder": (
            EncoderClassifier().eval(),
            ember.randint(0, 1000, (2, 128)),
            {"tokens": {0: "batch"}},
            {},
            {},
        ),
    }
    chars = "".join(
        chr(c) for c in range(32, 127)
    )  # printable ASCII (the demo's model size: 4 x 128, ctx 64)
    gpt = GPT(GPTConfig(block_size=64, vocab_size=len(chars), n_layer=4, n_head=4, n_embd=128)).eval()
    models["gpt"] = (
        gpt,
        ember.zeros(1, 8, dtype=ember.int64),
        {"idx": {0: "batch", 1: "seq"}},
        {"vocab.json": json.dumps({"chars": chars})},
        {"config": {"block_size": 64}},
    )
    paths = {}
    for name, (m, x, dyn, extra, meta) in models.items():
        d = os.path.join(root, name, "1")
        os.makedirs(d)
        paths[name] = os.path.join(d, "model.ember")
        names = {"output_names": ["logits"]} if name == "gpt" else {"input_names": list(dyn)}
        ember.export.save(m, paths[name], (x,), dynamic_axes=dyn, extra_files=extra, metadata=meta, **names)
    return paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--client", help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="fewer requests")
    p.add_argument("--max-batch-size", type=int, default=32)
    p.add_argument("--max-queue-delay-ms", type=float, default=0.0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--json", default=None)
    p.add_argument("--models", default="mlp,encoder,gpt", help="comma-separated subset of mlp,encoder,gpt")
    p.add_argument("--levels", default="1,8,64", help="concurrency levels")
    args = p.parse_args(argv)
    wanted = set(args.models.split(","))
    levels = [int(c) for c in args.levels.split(",")]
    if args.client:
        return client_main(args.client)

    rng = np.random.default_rng(0)
    scale = 0.25 if args.quick else 1.0
    root = tempfile.mkdtemp()
    paths = _build_repo(root)
    loads = {
        "mlp": (
            [1, 8, 64],
            lambda: {
                "inputs": [
                    {
                        "name": "x",
                        "shape": [1, 784],
                        "datatype": "FP32",
                        "data": rng.standard_normal(784).round(4).tolist(),
                    }
                ]
            },
            {1: 300, 8: 600, 64: 1200},
        ),
        "encoder": (
            [1, 8, 64],
            lambda: {
                "inputs": [
                    {
                        "name": "tokens",
                        "shape": [1, 128],
                        "datatype": "INT64",
                        "data": rng.integers(0, 1000, 128).tolist(),
                    }
                ]
            },
            {1: 40, 8: 96, 64: 256},
        ),
    }
    loads = {m: (levels, make, counts) for m, (_, make, counts) in loads.items() if m in wanted}
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "max_batch_size": args.max_batch_size,
        "max_queue_delay_ms": args.max_queue_delay_ms,
        "workers": args.workers,
        "rows": [],
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    srv = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ember",
            "serve",
            "--model-repository",
            root,
            "--port",
            str(port),
            "--max-batch-size",
            str(args.max_batch_size),
            "--max-queue-delay-ms",
            str(args.max_queue_delay_ms),
            "--workers",
            str(args.workers),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait(url, srv)
        for model, (levels, make, counts) in loads.items():
            for c in levels:
                bodies = [make() for _ in range(max(c, int(counts.get(c, 8 * c) * scale)))]
                r = _drive(url, bodies, c, f"/v2/models/{model}/infer")
                results["rows"].append({"model": model, "server": "ember serve", "concurrency": c, **r})
                print(
                    f"{model:8s} ember serve  c={c:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                    f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}",
                    flush=True,
                )
        for c in (1, 8) if "gpt" in wanted else ():
            n = max(c, int((8 if c == 1 else 32) * scale))
            bodies = [
                {"model": "gpt", "prompt": "Hello", "max_tokens": 32, "temperature": 0.8, "seed": i}
                for i in range(n)
            ]
            r = _drive(url, bodies, c, "/v1/completions", tokens_per_request=32)
            results["rows"].append({"model": "gpt", "server": "ember serve", "concurrency": c, **r})
            print(
                f"gpt      completions  c={c:<3d} {r['tokens_per_s']:8.1f} tokens/s  p50 {r['p50_ms']:7.1f} ms  "
                f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}",
                flush=True,
            )
    finally:
        _stop(srv)
    for model, (levels, make, counts) in loads.items():
        port = _free_port()
        purl = f"http://127.0.0.1:{port}"
        plain = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks.plain_fastapi:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, "PLAIN_MODEL": paths[model]},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait(purl, plain, "/docs")
            for c in levels:
                bodies = [make() for _ in range(max(c, int(counts.get(c, 8 * c) * scale)))]
                r = _drive(purl, bodies, c, f"/v2/models/{model}/infer")
                results["rows"].append({"model": model, "server": "plain FastAPI", "concurrency": c, **r})
                print(
                    f"{model:8s} plain FastAPI c={c:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  "
                    f"p99 {r['p99_ms']:7.1f} ms  errors {r['errors']}",
                    flush=True,
                )
        finally:
            _stop(plain)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GPT-2 124M training on one GPU, ember vs torch, same model code and initial weights, in one run.

    python benchmarks/gpt2_cuda.py [--batch 16] [--steps 10] [--warmup 3] [--profile] [--cuda-graph] [--dropout 0.1]
                                   [--json out.json]

Model: nanoGPT's GPT-2 small (vocab 50304, 12 layers, width 768, 12 heads, context 1024, tied embeddings,
tanh GELU), written once in benchmarks/train_cpu.py against the torch API and built for each library.
Step: bf16 autocast forward, float32 loss, backward, AdamW (lr 6e-4, betas (0.9, 0.95), wd 0.1).
Printed per library: first losses, step time (median of --steps after --warmup), tokens/s, host time per
step (the step's Python time before the final synchronisation), and peak memory (max_memory_allocated and
max_memory_reserved, each library's own allocator counters). With --profile, torch.profiler (CUPTI, which
sees every kernel of the process, CuPy's included) lists each library's top ten kernels for one step.
Not a test: no assertions. Needs an NVIDIA GPU, CuPy, and torch with CUDA.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from train_cpu import gpt  # noqa: E402  (the same model code for both libraries)

CFG = {"vocab": 50304, "block": 1024, "n_layer": 12, "n_head": 12, "n_embd": 768}


def _make_step(lib, model, opt, x, y):
    def step():
        with lib.autocast("cuda", dtype=lib.bfloat16):
            loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    return step


def _bench(lib, model, batches, steps: int, warmup: int):
    cuda = lib.cuda
    opt = lib.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    xs = [lib.tensor(b[:, :-1].copy(), device="cuda") for b in batches]
    ys = [lib.tensor(b[:, 1:].copy(), device="cuda") for b in batches]
    losses, times, host = [], [], []
    cuda.synchronize()
    cuda.reset_peak_memory_stats()
    for i in range(warmup + steps):
        step = _make_step(lib, model, opt, xs[i % len(xs)], ys[i % len(ys)])
        t0 = time.perf_counter()
        loss = step()
        t1 = time.perf_counter()
        cuda.synchronize()
        t2 = time.perf_counter()
        losses.append(loss.item())
        if i >= warmup:
            times.append(t2 - t0)
            host.append(t1 - t0)
    return {
        "losses": losses[:5],
        "step_ms": 1e3 * statistics.median(times),
        "host_ms": 1e3 * statistics.median(host),
        "max_allocated_gib": cuda.max_memory_allocated() / 2**30,
        "max_reserved_gib": cuda.max_memory_reserved() / 2**30,
    }, _make_step(lib, model, opt, xs[0], ys[0])


def _bench_graph(lib, model, batches, steps: int) -> dict:
    """The same step captured once as a CUDA graph and replayed (AdamW with capturable=True, the form a graph
    can hold): the host does nothing per step but copy the batch into the static inputs and launch."""
    cuda = lib.cuda
    opt = lib.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95), weight_decay=0.1, capturable=True)
    sx = lib.tensor(batches[0][:, :-1].copy(), device="cuda")
    sy = lib.tensor(batches[0][:, 1:].copy(), device="cuda")

    def step():
        with lib.autocast("cuda", dtype=lib.bfloat16):
            loss = model(sx, sy)
        loss.backward()
        opt.step()
        return loss

    side = cuda.Stream()
    side.wait_stream(cuda.current_stream())
    with cuda.stream(side):  # warm-up: kernels compile and load, optimizer state appears
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            step()
    cuda.current_stream().wait_stream(side)
    graph = cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    t0 = time.perf_counter()
    with cuda.graph(graph):
        static_loss = step()
    capture_s = time.perf_counter() - t0
    times, losses = [], []
    for i in range(steps):
        b = batches[i % len(batches)]
        t0 = time.perf_counter()
        sx.copy_(lib.tensor(b[:, :-1].copy(), device="cuda"))
        sy.copy_(lib.tensor(b[:, 1:].copy(), device="cuda"))
        graph.replay()
        cuda.synchronize()
        times.append(time.perf_counter() - t0)
        losses.append(static_loss.item())
    pool = graph.pool()
    return {
        "graph_step_ms": 1e3 * statistics.median(times),
        "graph_losses": losses[:5],
        "graph_capture_s": round(capture_s, 2),
        # torch's counters include the graph's private pool; ember's pool is the graph's own
        "graph_pool_gib": pool.total_bytes() / 2**30 if hasattr(pool, "total_bytes") else None,
    }


def _profile(step, torch) -> tuple:
    """Top ten kernels of one step by total GPU time: (name, launches, total ms); and where the GPU waited
    for the host (see _gaps)."""
    from torch.profiler import ProfilerActivity, profile

    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    rows = {}
    total = 0.0
    spans = []
    for ev in prof.events():
        if ev.device_type.name != "CUDA":
            continue
        spans.append((ev.time_range.start, ev.time_range.end, ev.name))
        us = ev.device_time_total if hasattr(ev, "device_time_total") else ev.cuda_time_total
        r = rows.setdefault(ev.name, [0, 0.0])
        r[0] += 1
        r[1] += us / 1e3
        total += us / 1e3
    top = sorted(rows.items(), key=lambda kv: -kv[1][1])[:10]
    gemm = [(n, ms) for name, (n, ms) in rows.items() if any(k in name.lower() for k in _GEMM_NAMES)]
    return [(name[:90], n, round(ms, 3)) for name, (n, ms) in top] + [
        ("(all kernels)", sum(r[0] for r in rows.values()), round(total, 3)),
        ("(cuBLAS GEMM kernels)", sum(n for n, _ in gemm), round(sum(ms for _, ms in gemm), 3)),
    ], _gaps(spans)


def _gaps(spans) -> dict:
    """The GPU's idle time between the first and the last kernel of the step (time it waited for the host to
    launch the next kernel), and the eight longest idle gaps with the kernels on each side."""
    spans.sort()
    idle, gaps = 0.0, []
    end, before = None, ""
    for s, e, name in spans:
        if end is not None and s > end:
            idle += s - end
            gaps.append((round((s - end) / 1e3, 3), before[:60], name[:60]))
        if end is None or e > end:
            end, before = e, name
    span = (end - spans[0][0]) / 1e3 if spans else 0.0
    gaps.sort(reverse=True)
    return {"span_ms": round(span, 3), "idle_ms": round(idle / 1e3, 3), "gaps": gaps[:8], "n_gaps": len(gaps)}


# kernel-name fragments of cuBLAS's GEMMs (the linear layers; attention runs in its own kernels in both)
_GEMM_NAMES = ("nvjet", "gemm", "xmma", "cutlass")


def _linear_flops(tokens: int) -> float:
    """FLOPs of one training step's linear layers (the cuBLAS GEMMs: forward 2*m*n*k, backward twice that):
    per layer the QKV, output and two MLP projections, plus the tied vocabulary head."""
    c, v, n = CFG["n_embd"], CFG["vocab"], CFG["n_layer"]
    per_token = n * (c * 3 * c + c * c + 2 * c * 4 * c) + c * v
    return 6.0 * per_token * tokens


def _cprofile(step, lib, path: str) -> None:
    """cProfile of three steps (host view: Python functions and the launches they make), top 45 by tottime."""
    import cProfile
    import io
    import pstats

    step()
    lib.cuda.synchronize()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(3):
        step()
    lib.cuda.synchronize()
    prof.disable()
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf).sort_stats("tottime")
    st.print_stats(45)
    st.sort_stats("cumulative").print_stats(45)
    Path(path).write_text(buf.getvalue())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--block", type=int, default=CFG["block"], help="context length (small: host-bound steps)")
    p.add_argument("--cprofile", default=None, help="write cProfile's top functions of one ember step here")
    p.add_argument("--cuda-graph", action="store_true", help="also time the step captured as a CUDA graph")
    p.add_argument(
        "--dropout", type=float, default=0.0, help="nanoGPT's dropout (attention, residual, embedding)"
    )
    args = p.parse_args(argv)
    CFG["block"] = args.block

    import torch

    import ember

    torch.backends.cuda.matmul.allow_tf32 = True
    ember.backends.cuda.matmul.allow_tf32 = True
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 50257, (args.batch, CFG["block"] + 1)) for _ in range(4)]
    torch.manual_seed(0)
    # built on the CPU and moved: torch.set_default_device would put a function mode around every torch op
    tm = gpt(torch, **CFG, dropout=args.dropout).to("cuda")
    em = gpt(ember, **CFG, dropout=args.dropout).to("cuda")
    em.load_state_dict({k: ember.tensor(v.detach().cpu().numpy()) for k, v in tm.state_dict().items()})
    n_params = sum(p.numel() for p in tm.parameters())
    result = {
        "device": torch.cuda.get_device_name(),
        "params": n_params,
        "batch": args.batch,
        "tokens_per_step": args.batch * CFG["block"],
        "dropout": args.dropout,
        "torch": torch.__version__,
    }
    for name, lib, model in (("torch", torch, tm), ("ember", ember, em)):
        r, step = _bench(lib, model, batches, args.steps, args.warmup)
        r["tokens_per_s"] = result["tokens_per_step"] / (r["step_ms"] / 1e3)
        if args.profile:
            r["top_kernels"], r["gpu_gaps"] = _profile(step, torch)
            gemm_ms = r["top_kernels"][-1][2]
            r["gemm_tflops"] = round(_linear_flops(result["tokens_per_step"]) / (gemm_ms * 1e-3) / 1e12, 1)
        if args.cprofile and name == "ember":
            _cprofile(step, lib, args.cprofile)
        if args.cuda_graph:
            del step
            step = None
            try:
                r.update(_bench_graph(lib, model, batches, args.steps))
                r["graph_tokens_per_s"] = result["tokens_per_step"] / (r["graph_step_ms"] / 1e3)
            except Exception as e:  # noqa: BLE001 - reported in the result; the eager numbers stand
                r["graph_error"] = f"{type(e).__name__}: {e}"[:2000]
        result[name] = r
        del step
        torch.cuda.empty_cache()
    result["ratio_step_time"] = result["ember"]["step_ms"] / result["torch"]["step_ms"]
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

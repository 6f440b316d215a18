"""Print the comparison lines of a `gpt2_cuda.py --json` result (step time, tokens/s, host time, memory,
losses, top kernels, GPU idle gaps). Not a test.

    python benchmarks/gpt2_summary.py out.json
"""

from __future__ import annotations

import json
import sys


def main(argv=None) -> int:
    for f in argv if argv is not None else sys.argv[1:]:
        try:
            r = json.load(open(f))
        except (OSError, ValueError) as e:
            print(f, "no result:", e)
            continue
        print("#", f, r["device"], "tokens/step", r["tokens_per_step"])
        for lib in ("torch", "ember"):
            x = r[lib]
            print(
                f"{lib}: {x['step_ms']:.1f} ms/step {x['tokens_per_s']:.0f} tok/s host {x['host_ms']:.1f} ms "
                f"alloc {x['max_allocated_gib']:.2f} GiB reserved {x['max_reserved_gib']:.2f} GiB losses "
                f"{x['losses']} GEMM TFLOP/s {x.get('gemm_tflops')}"
            )
            if "graph_error" in x:
                print(f"{lib} CUDA graph failed: {x['graph_error'][:600]}")
            if "graph_step_ms" in x:
                print(
                    f"{lib} CUDA graph: {x['graph_step_ms']:.1f} ms/step {x['graph_tokens_per_s']:.0f} tok/s "
                    f"losses {x['graph_losses']} capture {x['graph_capture_s']} s pool {x['graph_pool_gib']} GiB"
                )
            for k in x.get("top_kernels", [])[:12]:
                print("   ", k)
            g = x.get("gpu_gaps")
            if g:
                print(
                    f"    GPU span {g['span_ms']} ms, idle {g['idle_ms']} ms in {g['n_gaps']} gaps; longest:"
                )
                for gap in g["gaps"]:
                    print("     ", gap)
        print("ratio of step times", round(r["ratio_step_time"], 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# One GPU lease in one command: install, the CUDA-specific tests, the GPT-2 benchmark, then the whole parity
# suite on the GPU for whatever time is left. Logs go to $OUT (the device tool's output folder) or ./out/gpu.
#   bash benchmarks/gpu_check.sh [budget_seconds]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
END=$((SECONDS + ${1:-520}))
export PYTHONUNBUFFERED=1 CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-/tmp/cupy_cache} PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
left() { echo $((END - SECONDS)); }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -m pip install -q --no-deps --no-build-isolation -e . >"$OUT/install.log" 2>&1 || python3 -m pip install -q --no-deps -e . >>"$OUT/install.log" 2>&1
python3 -c "import cupy, torch, numpy; print('cupy', cupy.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__)" | tee -a "$OUT/gpu.txt"

echo "== attention kernels ($(left) s left)"
timeout $(( $(left) < 90 ? $(left) : 90 )) python3 -m pytest -q -p no:cacheprovider -m cuda \
    tests/gpu/test_attention_cuda.py 2>&1 | tee "$OUT/attention_tests.log" | tail -12

echo "== GPT-2 124M benchmark ($(left) s left)"
EMBER_CUDA_FUSED_ATTENTION=${EMBER_CUDA_FUSED_ATTENTION:-1} timeout $(( $(left) < 150 ? $(left) : 150 )) python3 benchmarks/gpt2_cuda.py --steps ${GPT2_STEPS:-8} --warmup 2 --profile \
    --json "$OUT/gpt2.json" >"$OUT/gpt2.log" 2>&1
python3 - "$OUT/gpt2.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print("no benchmark result:", e); sys.exit()
for lib in ("torch", "ember"):
    x = r[lib]
    print(f"{lib}: {x['step_ms']:.1f} ms/step {x['tokens_per_s']:.0f} tok/s host {x['host_ms']:.1f} ms "
          f"alloc {x['max_allocated_gib']:.2f} GiB reserved {x['max_reserved_gib']:.2f} GiB losses {x['losses']}")
    for k in x.get("top_kernels", [])[:11]:
        print("   ", k)
print("ratio", round(r["ratio_step_time"], 3), r["device"])
EOF

echo "== CUDA-specific tests ($(left) s left)"
timeout $(( $(left) < 200 ? $(left) : 200 )) python3 -m pytest -q -p no:cacheprovider -m cuda \
    tests/gpu/test_cuda.py tests/test_autocast.py tests/test_philox.py 2>&1 | tee "$OUT/gpu_tests.log" | tail -25

echo "== whole parity suite on the GPU ($(left) s left)"
if [ "$(left)" -gt 30 ]; then
    EMBER_TEST_DEVICE=cuda EMBER_CUDA_FUSED_ATTENTION=${EMBER_CUDA_FUSED_ATTENTION:-1} timeout $(( $(left) - 5 )) python3 -m pytest -q -n 16 -p no:cacheprovider tests \
        >"$OUT/full_suite.log" 2>&1
    echo "exit $?"; grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/full_suite.log" | tail -25
fi

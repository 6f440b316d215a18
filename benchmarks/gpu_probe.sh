#!/usr/bin/env bash
# One lease: where a training step waits for the GPU, the GPT-2 benchmark (full size with kernel profile, then a
# host-bound small config with cProfile), the fused-kernel tests, CUDA per-op overhead, the CUDA-specific tests,
# optionally the whole parity suite on the GPU. Stage switches (environment): SYNC=0, GPT2=0, KERNEL=0, SMALL=0,
# OVERHEAD=0, CUDA_TESTS=0 skip a stage; FULL_CPROFILE=1 profiles the full-size step; CUDA_GRAPH=1 also times
# the step captured as a CUDA graph; FULL_SUITE=1 runs every test on the GPU;
# BLOCKING_TESTS="paths" runs them with CUDA_LAUNCH_BLOCKING=1 (BLOCKING_ENV="VAR=value ..." set for them),
# SANITIZE_TESTS="paths" under compute-sanitizer; PYSPY=1 samples ember's host-bound step with py-spy (from a wheel
# carried in .whl/) next to torch's time for the same loop.
#   bash benchmarks/gpu_probe.sh [budget_seconds]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
END=$((SECONDS + ${1:-540}))
export PYTHONUNBUFFERED=1 CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-/tmp/cupy_cache} PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
left() { echo $((END - SECONDS)); }
cap() { local l; l=$(left); echo $(( l < $1 ? l : $1 )); }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -m pip install -q --no-deps --no-build-isolation -e . >/tmp/install.log 2>&1 || python3 -m pip install -q --no-deps -e . >>/tmp/install.log 2>&1
python3 -c "import cupy, torch, numpy, triton; print('cupy', cupy.__version__, 'torch', torch.__version__, 'numpy', numpy.__version__, 'triton', triton.__version__)" | tee -a "$OUT/gpu.txt"

if [ "${SYNC:-1}" = 1 ]; then
    echo "== where a step waits for the GPU ($(left) s left)"
    timeout $(cap 60) python3 benchmarks/find_sync.py >"$OUT/find_sync.log" 2>&1
    grep -E "^(SYNC|ok|round|gpt|pieces)|depth +[0-9]+ " "$OUT/find_sync.log" | grep -v "^ok" | head -40
fi

[ "${GPT2:-1}" = 1 ] && echo "== GPT-2 124M benchmark ($(left) s left)"
[ "${GPT2:-1}" = 1 ] && timeout $(cap 160) python3 benchmarks/gpt2_cuda.py --steps ${GPT2_STEPS:-6} --warmup 2 --profile --json "$OUT/gpt2.json" \
    ${FULL_CPROFILE:+--cprofile "$OUT/cprofile_full.txt"} ${CUDA_GRAPH:+--cuda-graph} >"$OUT/gpt2.log" 2>&1
[ "${SMALL:-1}" = 1 ] && echo "== GPT-2 host-bound (batch 1, context 64) ($(left) s left)"
[ "${SMALL:-1}" = 1 ] && timeout $(cap 90) python3 benchmarks/gpt2_cuda.py --batch 1 --block 64 --steps 10 --warmup 3 --json "$OUT/gpt2_small.json" --cprofile "$OUT/cprofile.txt" >>"$OUT/gpt2.log" 2>&1
ls "$OUT"/gpt2*.json >/dev/null 2>&1 && python3 benchmarks/gpt2_summary.py "$OUT/gpt2.json" "$OUT/gpt2_small.json"
head -32 "$OUT/cprofile.txt" 2>/dev/null | tail -24 | cut -c1-140
head -32 "$OUT/cprofile_full.txt" 2>/dev/null | tail -24 | cut -c1-140

if [ "${PYSPY:-0}" = 1 ]; then
    echo "== host profile of the host-bound step: py-spy, and torch's time for the same loop ($(left) s left)"
    ls .whl/py_spy*.whl >/dev/null 2>&1 && python3 -m pip install -q --no-index --no-deps --target /tmp/pyspy .whl/py_spy*.whl
    for lib in torch ember; do  # the host-bound size
        timeout $(cap 60) python3 benchmarks/host_profile.py --device cuda --lib $lib --steps 100 2>&1 | tail -1
    done
    for size in "--steps 200" "--batch 16 --block 1024 --steps 25"; do
        timeout $(cap 90) /tmp/pyspy/bin/py-spy record -r 1000 -f raw -o "$OUT/pyspy_raw.txt" -- \
            python3 benchmarks/host_profile.py --device cuda $size 2>&1 | tail -1
        tag=$(echo "$size" | tr -cd 'a-z0-9')
        python3 benchmarks/pyspy_summary.py "$OUT/pyspy_raw.txt" --self 50 --inclusive 80 >"$OUT/pyspy_$tag.txt" 2>&1
        rm -f "$OUT/pyspy_raw.txt"
        head -40 "$OUT/pyspy_$tag.txt" | cut -c1-150
    done
fi

echo "== kernel tests ($(left) s left)"
XD=$(python3 -c "import xdist" 2>/dev/null && echo "-n ${NPROC:-4}")
[ "${KERNEL:-1}" = 1 ] && timeout $(cap 240) python3 -m pytest -q $XD -p no:cacheprovider -m cuda ${KERNEL_TESTS:-tests/gpu/test_triton_launch.py \
    tests/gpu/test_flash_attention_cuda.py tests/gpu/test_attention_cuda.py tests/gpu/test_fused_norm_act_cuda.py \
    tests/gpu/test_fused_loss_optim_cuda.py tests/gpu/test_cuda_elementwise.py tests/gpu/test_fused_dropout_cuda.py \
    tests/gpu/test_fused_softmax_cuda.py tests/gpu/test_cuda_binary.py tests/gpu/test_cuda_graph.py} 2>&1 | tee "$OUT/kernel_tests.log" | grep -E "^(FAILED|ERROR)|passed|failed" | cut -c1-220 | tail -40

if [ -n "${BLOCKING_TESTS:-}" ]; then
    echo "== $BLOCKING_TESTS on the GPU, CUDA_LAUNCH_BLOCKING=1, stop at the first failure ($(left) s left)"
    env ${BLOCKING_ENV:-} EMBER_TEST_DEVICE=cuda CUDA_LAUNCH_BLOCKING=1 timeout $(cap 90) python3 -m pytest -x -q -p no:cacheprovider \
        $BLOCKING_TESTS 2>&1 | grep -E "^(E |FAILED|ERROR)|passed|failed|\.py:[0-9]+: " | head -30
fi

if [ -n "${SANITIZE_TESTS:-}" ]; then  # out-of-bounds accesses, named by kernel and thread (slow: small sets)
    echo "== compute-sanitizer memcheck: $SANITIZE_TESTS ($(left) s left)"
    EMBER_TEST_DEVICE=cuda timeout $(cap 240) compute-sanitizer --tool memcheck --print-limit 5 \
        python3 -m pytest -x -q -p no:cacheprovider $SANITIZE_TESTS 2>&1 | tee "$OUT/sanitizer.log" \
        | grep -E "Invalid|ERROR SUMMARY|is out of bounds|at 0x|passed|failed" | head -40
fi

echo "== per-op overhead on CUDA ($(left) s left)"
[ "${OVERHEAD:-1}" = 1 ] && timeout $(cap 60) python3 benchmarks/overhead.py --device cuda --repeat 3 2>&1 | tee -a "$OUT/gpu.txt"

echo "== CUDA-specific tests ($(left) s left)"
[ "${CUDA_TESTS:-1}" = 1 ] && timeout $(cap 200) python3 -m pytest -q -p no:cacheprovider -m cuda tests/gpu/test_cuda.py tests/test_autocast.py \
    tests/test_philox.py 2>&1 | tee "$OUT/gpu_tests.log" | tail -15
if [ "${FULL_SUITE:-0}" = 1 ] && [ "$(left)" -gt 60 ]; then
    echo "== whole parity suite on the GPU ($(left) s left)"
    EMBER_TEST_DEVICE=cuda timeout $(( $(left) - 10 )) python3 -m pytest -q $XD -p no:cacheprovider tests \
        --ignore=tests/serve >"$OUT/full_suite.log" 2>&1
    echo "exit $?"; grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/full_suite.log" | cut -c1-200 | tail -30
fi
# the device tool returns at most 8 files: bundle the logs when there are more
if [ "$(ls "$OUT" | wc -l)" -gt 8 ]; then
    (cd "$OUT" && tar czf logs.tgz ./*.log ./*.txt && rm -f ./*.log ./*.txt)
fi
echo "done ($(left) s left)"

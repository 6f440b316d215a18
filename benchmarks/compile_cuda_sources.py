"""Compile ember's NVRTC kernel sources for sm_90 on a machine without a GPU, to catch compile errors before a
GPU lease. Needs libnvrtc from the `nvidia-cuda-nvrtc-cu12` wheel (not a project dependency):

    pip download --no-deps -d /tmp/nvrtc nvidia-cuda-nvrtc-cu12 && unzip -q -o /tmp/nvrtc/*.whl -d /tmp/nvrtc/x
    python benchmarks/compile_cuda_sources.py --nvrtc /tmp/nvrtc/x/nvidia/cuda_nvrtc/lib/libnvrtc.so.12

Covers the modules whose source is one `Kernels` object (elementwise, softmax, dropout, optimizers, attention,
losses), the CUDA-graph generator-buffer kernel; the per-dtype sources of norm and activation are built by their `source(...)` for every dtype.
Compiles with `-ftz=true`, which CuPy appends to every NVRTC compile. `--ptx DIR` writes each source's PTX
there (e.g. to check which float instructions flush subnormals: `grep -c 'ftz.f32' DIR/cuda_elementwise.ptx`).
Not a test: prints OK or NVRTC's log per source, exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import sys

MODULES = ("cuda_elementwise", "cuda_softmax", "cuda_dropout", "cuda_optim", "cuda_attention", "cuda_loss")
DTYPES = ("float32", "bfloat16", "float16")


def _compile(lib, name: str, src: str, arch: str, ptx_dir: str | None = None) -> bool:
    prog = ctypes.c_void_p()
    if lib.nvrtcCreateProgram(ctypes.byref(prog), src.encode(), name.encode(), 0, None, None):
        raise RuntimeError(f"nvrtcCreateProgram failed for {name}")
    opts = [f"--gpu-architecture={arch}".encode(), b"-std=c++17", b"-ftz=true"]
    rc = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    if rc == 0 and ptx_dir:
        lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetPTX(prog, ptx)
        fname = name.replace("[", "_").replace("]", "").replace(", ", "_")
        with open(os.path.join(ptx_dir, f"{fname}.ptx"), "w") as f:
            f.write(ptx.value.decode())
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    print(f"{name:40s} {'OK' if rc == 0 else 'FAILED'}")
    if rc or log.value.strip():
        print(log.value.decode()[:4000])
    return rc == 0


def _sources():
    for mod in MODULES:
        m = importlib.import_module(f"ember.backend.{mod}")
        k = getattr(m, "_KERNELS", None) or m._kernel
        yield mod, k.source
    yield "cuda_graph", importlib.import_module("ember.backend.cuda_graph")._BASE_SRC
    for mod in ("cuda_norm", "cuda_activation"):
        m = importlib.import_module(f"ember.backend.{mod}")
        src = m.source
        for dt in DTYPES:
            if mod == "cuda_activation":
                yield f"{mod}[{dt}]", src(dt)
            else:  # x of one dtype, weights of another
                for wt in DTYPES:
                    yield f"{mod}[{dt}, {wt}]", src(dt, wt)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nvrtc", required=True, help="path to libnvrtc.so")
    p.add_argument("--arch", default="compute_90")
    p.add_argument("--ptx", metavar="DIR", help="write each source's PTX into DIR")
    args = p.parse_args(argv)
    lib = ctypes.CDLL(args.nvrtc)
    if args.ptx:
        os.makedirs(args.ptx, exist_ok=True)
    ok = True
    for name, src in _sources():
        ok &= _compile(lib, name, src, args.arch, args.ptx)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

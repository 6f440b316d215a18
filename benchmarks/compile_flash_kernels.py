"""Compile the flash-attention kernels for a GPU architecture on a machine without a GPU (Triton's compiler and
its bundled ptxas need no device). A development check next to check_flash_interpreter.py: it catches kernels
that the interpreter runs but the compiler rejects, and prints each variant's PTX instruction count and mix, so
that a source-only change can be shown to generate the same code. Not a test; needs `pip install triton`.

    python benchmarks/compile_flash_kernels.py [--arch 90]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import inspect
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))


def _compile(fn, pointers: dict, floats: set, constexprs: dict, arch: int) -> tuple:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    names = list(inspect.signature(fn.fn).parameters)
    sig = {
        n: "constexpr" if n in constexprs else pointers.get(n) or ("fp32" if n in floats else "i32")
        for n in names
    }
    src = ASTSource(fn=fn, signature=sig, constexprs={(names.index(k),): v for k, v in constexprs.items()})
    k = triton.compile(src, target=GPUTarget("cuda", arch, 32), options={"num_warps": 4, "num_stages": 2})
    ops = collections.Counter(
        line.split()[0]
        for line in k.asm["ptx"].splitlines()
        if line.strip() and not line.strip().startswith((".", "$", "}", "{", ")", "(", "//"))
    )
    mix = hashlib.md5(str(sorted(ops.items())).encode()).hexdigest()[:8]
    return sum(ops.values()), mix, k.metadata.shared


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", type=int, default=90, help="compute capability x 10 (90: H100/H200)")
    args = p.parse_args(argv)
    from ember.backend import cuda_flash_kernels as fk

    h, f32 = "*bf16", "*fp32"
    for kind, mask in ((0, h), (1, "*u8"), (2, f32)):
        for causal in (False, True):
            c = dict(CAUSAL=causal, MASK=kind, BLOCK_M=128, BLOCK_N=64, BLOCK_D=64)
            io = dict(Q=h, K=h, V=h, M=mask, LSE=f32)
            variants = (
                ("fwd", fk._flash_fwd, dict(io, O=h), {"qk_scale"}, c),
                ("dkdv", fk._flash_bwd_dkdv, dict(io, DO=h, DELTA=f32, DK=h, DV=h), {"qk_scale", "sm_scale"},
                 dict(c, BLOCK_M=64)),
                ("dq", fk._flash_bwd_dq, dict(io, DO=h, DELTA=f32, DQ=h), {"qk_scale", "sm_scale"},
                 dict(c, BLOCK_M=64)),
            )  # fmt: skip
            for name, fn, ptrs, floats, const in variants:
                n, mix, shared = _compile(fn, ptrs, floats, const, args.arch)
                print(
                    f"{name:5s} mask {kind} causal {causal!s:5s}: {n} PTX instructions (mix {mix}), {shared} B shared"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""torch.backends.cuda flags; `matmul.allow_tf32` is read by the CUDA backend's float32 matmul."""


class _Matmul:
    allow_tf32 = False
    allow_bf16_reduced_precision_reduction = True
    allow_fp16_reduced_precision_reduction = True


matmul = _Matmul()


def is_built() -> bool:
    return True

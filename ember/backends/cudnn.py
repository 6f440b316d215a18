"""torch.backends.cudnn flags. ember does not use cuDNN; the flags exist so scripts can set them."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False


def version():
    return None

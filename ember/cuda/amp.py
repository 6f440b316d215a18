"""ember.cuda.amp: torch.cuda.amp's older spellings of autocast("cuda") and GradScaler("cuda")."""

from __future__ import annotations

from .. import _dtype as D
from ..amp.grad_scaler import GradScaler as _GradScaler
from ..ops._autocast import autocast as _autocast


def autocast(enabled: bool = True, dtype=D.float16, cache_enabled: bool = True):
    """``ember.cuda.amp.autocast(args...)`` is ``ember.amp.autocast("cuda", args...)``."""
    return _autocast("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    """``ember.cuda.amp.GradScaler(args...)`` is ``ember.amp.GradScaler("cuda", args...)``."""

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        super().__init__(
            "cuda",
            init_scale=init_scale,
            growth_factor=growth_factor,
            backoff_factor=backoff_factor,
            growth_interval=growth_interval,
            enabled=enabled,
        )

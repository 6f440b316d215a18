"""ember.random: seeding and RNG state of the default generators (torch.random)."""

from __future__ import annotations

import contextlib

from ._generator import default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state


@contextlib.contextmanager
def fork_rng(
    devices=None, enabled: bool = True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"
):
    """Restore the state of the CPU generator (and of every device generator in use) on exit."""
    if not enabled:
        yield
        return
    from ._generator import _DEFAULTS

    saved = [(g, g.get_state()) for g in list(_DEFAULTS.values())]
    try:
        yield
    finally:
        for g, state in saved:
            g.set_state(state)


__all__ = [
    "default_generator",
    "fork_rng",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]

"""An unmodified PyTorch script gives the same losses under torch and under `python -m ember run`."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

SCRIPT = Path(__file__).parent / "scripts" / "plain_torch_training.py"


def _weights(path: Path) -> None:
    torch.manual_seed(0)
    import importlib.util

    spec = importlib.util.spec_from_file_location("plain", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.Net()
    np.savez(path, **{k: v.cpu().numpy() for k, v in net.state_dict().items()})


def _losses(out: str) -> list:
    return [float(line.split()[-1]) for line in out.strip().splitlines()]


def test_plain_script_matches_torch(tmp_path):
    w = tmp_path / "w.npz"
    _weights(w)
    t = subprocess.run([sys.executable, str(SCRIPT), str(w)], capture_output=True, text=True, timeout=120)
    assert t.returncode == 0, t.stderr
    e = subprocess.run(
        [sys.executable, "-m", "ember", "run", str(SCRIPT), str(w)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert e.returncode == 0, e.stderr
    tl, el = _losses(t.stdout), _losses(e.stdout)
    assert len(tl) == len(el) == 4
    np.testing.assert_allclose(el, tl, rtol=1e-4, atol=1e-5)


def test_compat_alias_gives_same_module_objects():
    code = (
        "import ember.compat as c; c.install_torch_alias(); import torch, torch.nn.functional as F, ember; "
        "import torch.optim.lr_scheduler as S, torch.utils.data as D; "
        "assert torch is ember and F is ember.nn.functional and S is ember.optim.lr_scheduler "
        "and D is ember.utils.data; print('ok')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr

"""The demo runs end to end (a few steps): checkpoint, loss curve, sample, and the final `val loss` line."""

import re
import subprocess
import sys

import ember


def test_demo_smoke(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "ember",
            "demo",
            "--steps",
            "6",
            "--eval-interval",
            "3",
            "--eval-iters",
            "1",
            "--sample-chars",
            "20",
            "--n-layer",
            "1",
            "--n-embd",
            "32",
            "--block-size",
            "16",
            "--batch-size",
            "4",
            "--out-dir",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"val loss \d+\.\d{4}", last), last
    assert (out / "loss.png").stat().st_size > 1000
    assert len((out / "sample.txt").read_text()) >= 20
    ckpt = ember.load(out / "checkpoint.ember")
    assert ckpt["step"] == 6 and "transformer.wte.weight" in ckpt["model"] and len(ckpt["vocab"]) == 65
    assert set(ckpt["optimizer"]) == {"state", "param_groups"}


def test_demo_help_lists_options():
    r = subprocess.run(
        [sys.executable, "-m", "ember", "demo", "--help"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0
    for opt in ("--steps", "--batch-size", "--n-layer", "--n-embd", "--seed", "--out-dir", "--time-limit"):
        assert opt in r.stdout

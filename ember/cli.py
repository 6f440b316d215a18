"""The ``ember`` command line: ``python -m ember demo | run script.py``."""

from __future__ import annotations

import argparse
import runpy
import sys


def _demo(args) -> int:
    from .demo import run

    return run(args)


def _run(args) -> int:
    """Run a PyTorch script unmodified with ``import torch`` resolving to ember."""
    from .compat import install_torch_alias

    install_torch_alias()
    sys.argv = [args.script] + args.args
    runpy.run_path(args.script, run_name="__main__")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ember", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    from .demo import build_parser

    build_parser(
        sub.add_parser("demo", help="train a character-level GPT on Tiny Shakespeare (the demo job)")
    )
    p_run = sub.add_parser("run", help="run a PyTorch script on ember")
    p_run.add_argument("script")
    p_run.add_argument("args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    return {"demo": _demo, "run": _run}[args.cmd](args)

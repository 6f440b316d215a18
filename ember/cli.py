"""The ``ember`` command line: ``python -m ember demo | run script.py | export checkpoint out | serve``."""

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


def _export(args) -> int:
    """A checkpoint of a reference model (ember.models) -> a `.ember` artifact or an `.onnx` file."""
    import json

    from . import export as ex
    from . import int64, load, models, zeros

    ckpt = load(args.checkpoint, map_location="cpu")
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        print(f"ember export: {args.checkpoint} holds no state dict", file=sys.stderr)
        return 2
    config = dict(ckpt.get("config") or {}) if isinstance(ckpt.get("config"), dict) else {}
    config.update(json.loads(args.config) if args.config else {})
    kind = args.model or ("gpt" if "n_layer" in config or any(k.startswith("transformer.") for k in state) else "mlp")
    extra, metadata = {}, {"model": kind, "config": config, "source": str(args.checkpoint)}
    if kind == "gpt":
        model = models.GPT(models.GPTConfig(**config))
        seq = min(args.seq or 16, model.config.block_size)
        example = zeros(args.batch, seq, dtype=int64)
        dynamic = {"idx": {0: "batch", 1: "seq"}}
        if isinstance(ckpt.get("vocab"), str):
            extra["vocab.json"] = json.dumps({"chars": ckpt["vocab"]})
    elif kind == "mlp":
        model = models.MLP(**config)
        example = zeros(args.batch, model.net[0].in_features)
        dynamic = {"x": {0: "batch"}}
    elif kind == "cnn":
        model = models.SmallCNN(**config)
        example = zeros(args.batch, model.features[0].in_channels, 28, 28)
        dynamic = {"x": {0: "batch"}}
    else:
        print(f"ember export: unknown model kind {kind!r} (gpt, mlp, cnn)", file=sys.stderr)
        return 2
    model.load_state_dict(state)
    model.eval()
    if str(args.out).endswith(".onnx"):
        from . import onnx

        onnx.export(model, (example,), args.out, dynamic_axes=dynamic, input_names=list(dynamic),
                    output_names=["output"] if kind != "gpt" else ["logits"])
    else:
        ex.save(model, args.out, (example,), dynamic_axes=dynamic, metadata=metadata, extra_files=extra,
                output_names=["logits"] if kind == "gpt" else None)
    print(f"wrote {args.out} ({kind}, inputs {list(dynamic)} with dynamic axes {dynamic})")
    return 0


def _serve(args) -> int:
    from .serve.server import main as serve_main

    return serve_main(args)


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
    p_exp = sub.add_parser("export", help="export a reference-model checkpoint to .ember or .onnx")
    p_exp.add_argument("checkpoint", help="a file written by ember.save (e.g. out/demo/checkpoint.ember)")
    p_exp.add_argument("out", help="output path: *.ember (the artifact) or *.onnx")
    p_exp.add_argument("--model", choices=["gpt", "mlp", "cnn"], help="model kind (default: from the checkpoint)")
    p_exp.add_argument("--config", help="JSON keyword arguments for the model's constructor / GPTConfig")
    p_exp.add_argument("--batch", type=int, default=1, help="example batch size to trace with (batch is dynamic)")
    p_exp.add_argument("--seq", type=int, default=0, help="GPT: example sequence length (dynamic)")
    p_serve = sub.add_parser("serve", help="serve a model repository (KServe v2, OpenAI completions, metrics)")
    from .serve.server import add_arguments

    add_arguments(p_serve)
    args = parser.parse_args(argv)
    return {"demo": _demo, "run": _run, "export": _export, "serve": _serve}[args.cmd](args)

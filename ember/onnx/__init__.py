"""ONNX export: ember.onnx.export(model, args, f, ...) mirrors torch.onnx.export (needs the `onnx` package).

The model is traced with ember.export.trace into the ember graph format, which converter.graph_to_onnx maps
node by node to ONNX operators (opset 17 by default).
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["DEFAULT_OPSET", "export", "export_graph", "graph_to_onnx", "supported_ops"]

DEFAULT_OPSET = 17


def _converter():
    """The converter module (imported on first use: it needs the optional `onnx` package)."""
    try:
        from . import converter
    except ModuleNotFoundError as e:
        if e.name == "onnx":
            raise ModuleNotFoundError(
                "ember.onnx needs the `onnx` package: pip install onnx (or pip install ember[onnx])",
                name="onnx",
            ) from e
        raise
    return converter


def __getattr__(name):
    if name in ("graph_to_onnx", "supported_ops"):
        return getattr(_converter(), name)
    raise AttributeError(f"module 'ember.onnx' has no attribute '{name}'")


def _too_large(model) -> bool:
    """Protobuf messages (and so single-file .onnx models) must stay under 2 GiB."""
    return sum(len(t.raw_data) for t in model.graph.initializer) >= _converter().IN_MEMORY_LIMIT


def _write(model, f) -> None:
    """Serialize `model` to a path (atomically: a temp file in the same directory, then os.replace) or to a
    binary file object. Models over 2 GiB go to a path with their weights in `<name>.data` beside it."""
    if not isinstance(f, (str, os.PathLike)):
        if _too_large(model):
            raise ValueError(
                "ember.onnx: the model is over 2 GiB; export it to a path (weights go to a .data file)"
            )
        f.write(model.SerializeToString())
        return
    import onnx

    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".ember-onnx-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            if _too_large(model):
                fh.close()
                onnx.save_model(
                    model,
                    tmp,
                    save_as_external_data=True,
                    all_tensors_to_one_file=True,
                    location=os.path.basename(path) + ".data",
                    size_threshold=1024,
                )
            else:
                fh.write(model.SerializeToString())
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def export_graph(
    graph: dict,
    params: dict,
    f=None,
    *,
    input_names=None,
    output_names=None,
    dynamic_axes=None,
    opset_version=None,
):
    """Convert an already-traced graph (and its params: value name -> Tensor or array) to ONNX; write it
    to `f` (a path or a binary file object) when given. Returns the onnx.ModelProto."""
    model = _converter().graph_to_onnx(
        graph,
        params,
        opset=DEFAULT_OPSET if opset_version is None else opset_version,
        input_names=input_names,
        output_names=output_names,
        dynamic_axes=dynamic_axes,
    )
    if f is not None:
        _write(model, f)
    return model


def export(
    model,
    args,
    f=None,
    *,
    kwargs=None,
    export_params: bool = True,
    verbose: bool = False,
    training=None,
    input_names=None,
    output_names=None,
    dynamic_axes=None,
    opset_version=None,
    do_constant_folding: bool = True,
    keep_initializers_as_inputs=None,
    dynamo: bool = False,
    **unused,
):
    """Trace `model` on the example `args` (a tensor or a tuple of tensors) and write it to `f` as ONNX.

    dynamic_axes follows torch.onnx: {input or output name: {axis: label} or [axes]}. Returns the
    onnx.ModelProto (torch.onnx.export returns None; the model is handy for checks)."""
    from ..export import trace

    _converter()  # fail before tracing when `onnx` is missing
    if kwargs:
        raise NotImplementedError("ember.onnx.export: keyword inputs (kwargs=) are not supported; pass args")
    if not export_params:
        raise NotImplementedError("ember.onnx.export: export_params=False is not supported")
    if not isinstance(args, (tuple, list)):
        args = (args,)
    # torch.onnx's training=TrainingMode.EVAL (the default) exports in eval mode and restores the mode after;
    # PRESERVE / TRAINING keep the model's mode (dropout in training mode then fails to trace)
    mode = str(getattr(training, "name", training)).lower()
    switch = bool(getattr(model, "training", False)) and mode in ("none", "eval")
    if switch:
        model.eval()
    try:
        program = trace(
            model, tuple(args), dynamic_axes=dynamic_axes, input_names=input_names, output_names=output_names
        )
    finally:
        if switch:
            model.train(True)
    onnx_model = export_graph(
        program.graph,
        program.params,
        f,
        input_names=input_names,
        output_names=output_names,
        dynamic_axes=dynamic_axes,
        opset_version=opset_version,
    )
    if verbose:
        import onnx

        print(onnx.printer.to_text(onnx_model.graph))
    return onnx_model

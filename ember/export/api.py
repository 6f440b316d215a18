"""ember.export.save / load / export: the portable `.ember` artifact around a traced Program."""

from __future__ import annotations

from .program import Program
from .trace import trace


def _np(t):
    return t.detach().cpu().numpy()


def export(
    model, args, kwargs=None, *, dynamic_shapes=None, strict=None, input_names=None, output_names=None
):
    """torch.export.export's spelling: trace `model` on `args`; dynamic_shapes as {arg name: {axis: label}}
    (or a tuple per positional arg). Returns the Program; `.module()` gives a callable."""
    if kwargs:
        raise TypeError("ember.export.export: keyword inputs are not supported; pass them positionally")
    return trace(model, args, dynamic_axes=dynamic_shapes, input_names=input_names, output_names=output_names)


def save(
    model,
    path,
    example_inputs=None,
    *,
    input_names=None,
    output_names=None,
    dynamic_axes=None,
    metadata=None,
    extra_files=None,
) -> Program:
    """Trace `model` (or take a Program) and write one `.ember` file atomically; returns the Program."""
    from ember_runtime import artifact

    from .. import __version__

    if isinstance(model, Program):
        program = model
    else:
        if example_inputs is None:
            raise TypeError("ember.export.save: example_inputs are needed to trace a model")
        program = trace(
            model,
            example_inputs,
            dynamic_axes=dynamic_axes,
            input_names=input_names,
            output_names=output_names,
        )
    weights = {p["key"]: _np(program.params[p["value"]]) for p in program.graph["params"]}
    ins, outs = program.golden if program.golden is not None else ([], [])
    artifact.write(
        path,
        graph=program.graph,
        weights=weights,
        golden_inputs=[_np(x) for x in ins],
        golden_outputs=[_np(x) for x in outs],
        extra_files={**program.extra_files, **(extra_files or {})},
        metadata={**program.metadata, **(metadata or {})},
        writer_version=__version__,
    )
    return program


def load(path, device="cpu") -> Program:
    """Read and verify a `.ember` file; the Program runs with ember's ops on `device`. No code from the file
    runs: the graph names only ember's registered functions and ops."""
    from ember_runtime import artifact

    from ..ops.factory import from_numpy

    a = artifact.read(path)
    params = {}
    for p in a.graph["params"]:
        if p["key"] not in a.weights:
            raise artifact.ArtifactError(f"{path}: weights.safetensors has no tensor {p['key']!r}")
        params[p["value"]] = from_numpy(a.weights[p["key"]]).to(device)
    golden = ([from_numpy(x).to(device) for x in a.golden_inputs], [from_numpy(x) for x in a.golden_outputs])
    prog = Program(
        a.graph,
        params,
        golden=golden if a.golden_inputs else None,
        extra_files=a.extra_files,
        metadata=a.metadata,
    )
    prog.manifest = a.manifest
    return prog

"""ember_runtime: run an exported `.ember` program with NumPy only (no ember, no torch).

    import ember_runtime
    program = ember_runtime.load("model.ember")
    logits = program(np.array([[1, 2, 3]]))      # NumPy in, NumPy out
    program.verify()                              # re-runs the golden example stored in the file

Importing it loads only numpy, ml_dtypes and the standard library, so edge and serving images can ship it
without the framework.
"""

from __future__ import annotations

import numpy as np

from .artifact import ArtifactError, read

__all__ = ["ArtifactError", "Program", "load"]


class Program:
    """A loaded artifact: call it with NumPy arrays (one per graph input)."""

    def __init__(self, artifact):
        self.artifact = artifact
        self.graph = artifact.graph
        self.params = {}
        for p in self.graph["params"]:
            key = p["key"]
            if key not in artifact.weights:
                raise ArtifactError(f"weights.safetensors has no tensor {key!r} that the graph needs")
            self.params[p["value"]] = artifact.weights[key]
        self.extra_files = artifact.extra_files
        self.metadata = artifact.metadata

    @property
    def input_names(self) -> list:
        return [i["name"] for i in self.graph["inputs"]]

    @property
    def output_names(self) -> list:
        return [o["name"] for o in self.graph["outputs"]]

    def run(self, *inputs) -> list:
        """The graph outputs as a flat list of arrays."""
        from .interpreter import run_graph

        return run_graph(self.graph, self.params, [np.asarray(x) for x in inputs])

    def __call__(self, *inputs):
        outs = self.run(*inputs)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def verify(self, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
        got = self.run(*self.artifact.golden_inputs)
        for i, (g, w) in enumerate(zip(got, self.artifact.golden_outputs)):
            np.testing.assert_allclose(
                np.asarray(g, dtype=np.float64) if g.dtype.kind in "fV" else g,
                np.asarray(w, dtype=np.float64) if w.dtype.kind in "fV" else w,
                rtol=rtol,
                atol=atol,
                err_msg=f"golden output {i} differs",
            )
        return True


def load(path) -> Program:
    return Program(read(path))

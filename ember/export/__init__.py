"""ember.export: capture a model as a graph, save it as a portable `.ember` artifact, load and run it.

program = ember.export.trace(model, (x,), dynamic_axes={"x": {0: "batch"}})
ember.export.save(model, "model.ember", (x,), dynamic_axes={"x": {0: "batch"}})
program = ember.export.load("model.ember");  y = program(x);  program.verify()
"""

from ember_runtime.artifact import ArtifactError

from .api import export, load, save
from .graph import common_subexpressions, dead_code_elimination, fold_constants, format_graph
from .program import Program
from .trace import ExportError, trace

__all__ = [
    "ArtifactError",
    "ExportError",
    "Program",
    "common_subexpressions",
    "dead_code_elimination",
    "export",
    "fold_constants",
    "format_graph",
    "load",
    "save",
    "trace",
]

"""Let unmodified PyTorch code import ember: ``install_torch_alias()`` maps ``torch`` and its submodules."""

from __future__ import annotations

import importlib
import sys

_ALIASES = {
    "torch": "ember",
    "torch.nn": "ember.nn",
    "torch.nn.functional": "ember.nn.functional",
    "torch.nn.init": "ember.nn.init",
    "torch.nn.utils": "ember.nn.utils",
    "torch.nn.utils.rnn": "ember.nn.utils.rnn",
    "torch.nn.modules": "ember.nn.modules",
    "torch.nn.parameter": "ember.nn.parameter",
    "torch.optim": "ember.optim",
    "torch.optim.lr_scheduler": "ember.optim.lr_scheduler",
    "torch.utils": "ember.utils",
    "torch.utils.data": "ember.utils.data",
    "torch.utils.checkpoint": "ember.utils.checkpoint",
    "torch.autograd": "ember.autograd",
    "torch.linalg": "ember.linalg",
    "torch.random": "ember.random",
    "torch.backends": "ember.backends",
    "torch.backends.cudnn": "ember.backends.cudnn",
    "torch.cuda": "ember.cuda",
}


def install_torch_alias() -> None:
    """Make ``import torch`` (and the submodules above) resolve to ember's modules (the same objects)."""
    for name, target in _ALIASES.items():
        try:
            sys.modules[name] = importlib.import_module(target)
        except ImportError:
            continue


def uninstall_torch_alias() -> None:
    for name, target in _ALIASES.items():
        mod = sys.modules.get(name)
        if mod is not None and mod.__name__ == target:
            del sys.modules[name]

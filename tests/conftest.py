"""Shared test setup: torch is the oracle; keep both libraries single-threaded and default dtypes reset."""

import pytest
import torch

import ember

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _reset_defaults():
    yield
    ember.set_default_dtype(ember.float32)
    torch.set_default_dtype(torch.float32)

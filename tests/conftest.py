"""Shared test setup: torch is the oracle; keep both libraries single-threaded and default dtypes reset.

EMBER_TEST_DEVICE=cuda runs the whole parity suite with ember tensors on the GPU (ember's default device
becomes cuda; torch stays on the CPU as the oracle) and marks every test `cuda`:

    EMBER_TEST_DEVICE=cuda pytest -m cuda tests
"""

import os

import pytest
import torch

import ember

torch.set_num_threads(1)
TEST_DEVICE = os.environ.get("EMBER_TEST_DEVICE", "cpu")


# Tests of CPU-only semantics, skipped when the suite runs on the GPU (EMBER_TEST_DEVICE=cuda):
# - host-side errors that torch raises on the CPU but only as asynchronous device asserts (or not at all) on
#   CUDA: out-of-range indices, integer division by zero, singular-matrix checks;
# - tests that assert CPU placement or CPU memory sharing (default device, numpy() views, save/load sharing);
# - float -> uint8 casts of negative values (implementation-defined; NumPy wraps, CUDA saturates).
CPU_ONLY = (
    "test_dtype_device", "test_to_variants", "test_device_string_equality", "test_numpy_shares_memory",
    "test_map_location", "test_partial_views_store_only_the_span", "test_views_of_one_storage_share_memory",
    "test_type[", "test_integer_division_by_zero_raises", "test_inplace_integer_rules", "test_gather_errors",
    "test_getitem_advanced_errors", "test_index_put_errors", "test_scatter_errors", "test_setitem_errors",
    "test_inv_singular_raises_linalg_error", "test_solve_errors", "test_from_numpy", "test_as_tensor",
)
# Tests that compare module reprs with torch's: reprs changed between torch releases (LayerNorm/BatchNorm
# gained `bias=`), so they need the pinned oracle, torch 2.13 (the GPU machine has its own torch).
ORACLE_REPR = ("test_repr_state_dict_and_init", "test_repr_and_keys", "test_word_language_model_repr",
               "test_repr_of_repeated_layers")


def pytest_collection_modifyitems(config, items):
    if TEST_DEVICE == "cuda":
        cpu_only = pytest.mark.skip(reason="CPU-only semantics (see CPU_ONLY in tests/conftest.py)")
        for item in items:
            item.add_marker(pytest.mark.cuda)
            if item.name.startswith(CPU_ONLY):
                item.add_marker(cpu_only)
    if not torch.__version__.startswith("2.13"):
        old = pytest.mark.skip(reason=f"module reprs differ in torch {torch.__version__}; the oracle is 2.13")
        for item in items:
            if item.name.startswith(ORACLE_REPR):
                item.add_marker(old)
    if not ember.cuda.is_available():
        why = "; ".join(ember.cuda._WHY_NOT) or "no device"
        skip = pytest.mark.skip(reason=f"needs an NVIDIA GPU with CuPy ({why}); run with -m cuda on a GPU machine")
        for item in items:
            if item.get_closest_marker("cuda") is not None:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _reset_defaults():
    if TEST_DEVICE == "cuda":
        ember.set_default_device("cuda")
    yield
    ember.set_default_device(None)
    ember.set_default_dtype(ember.float32)
    torch.set_default_dtype(torch.float32)

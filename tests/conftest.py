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
    "test_cross_entropy_errors", "test_nll_loss_gradcheck_and_errors",  # out-of-range targets: NaN on CUDA
    "test_embedding_errors",  # out-of-range indices: NaN rows on CUDA
    "test_to_and_casts_keep_parameter_identity", "test_array_protocol", "test_array_copy_argument", "test_dlpack",
    "test_numpy_requires_grad_error_and_force", "test_parameter_and_its_state_dict_tensor_share_memory",
    "test_format[", "test_printoptions_context_manager",  # reprs of CUDA tensors carry device='cuda:0'
    # the CPU generator's API (get/set_rng_state, Generator() objects): the CUDA generator has its own tests
    "test_generator_argument", "test_generator_api", "test_rng_state_round_trip", "test_fork_rng",
    "test_reproducible_with_manual_seed_and_generator_state",
)
# Tests that compare module reprs with torch's: reprs changed between torch releases (LayerNorm/BatchNorm
# gained `bias=`), so they need the pinned oracle, torch 2.13 (the GPU machine has its own torch).
ORACLE_REPR = ("test_repr_state_dict_and_init", "test_repr_and_keys", "test_word_language_model_repr",
               "test_repr_of_repeated_layers")
# Tests whose torch-side behaviour changed since older releases (found by running the CPU suite against torch
# 2.11): new `bias=` arguments, aminmax's derivative, eager Adagrad state, arange/isclose/clamp(NaN)/trace
# fixes (torch 2.11 even dies of SIGFPE on arange(0, 1, 0.1, dtype=int64)).
ORACLE_BEHAVIOUR = (
    "test_loss_module_constructor_errors", "test_mse_l1_broadcast_dtypes_and_errors",
    "test_batch_norm_module_float64_and_bias_false", "test_group_norm_options_and_functional",
    "test_adagrad_state_created_eagerly_and_for_new_groups", "test_aminmax[",
    "test_arange_dtypes[int64-args6]", "test_arange_dtypes[int64-args7]", "test_arange_dtypes[int64-args10]",
    "test_arange_errors[args7-kw7]", "test_isclose_allclose[float32-kw3]", "test_isclose_allclose[float64-kw3]",
    "test_isclose_allclose[float16-kw3]", "test_isclose_allclose[bfloat16-kw3]", "test_trace[<lambda>2]",
    "test_trace[<lambda>5]", "test_clamp_scalar_bounds[<lambda>6]",
)


def pytest_collection_modifyitems(config, items):
    if TEST_DEVICE == "cuda":
        cpu_only = pytest.mark.skip(reason="CPU-only semantics (see CPU_ONLY in tests/conftest.py)")
        host = pytest.mark.skip(reason="export/serving tests compare host NumPy results (the NumPy runtime, "
                                       "artifacts, servers); run them without EMBER_TEST_DEVICE")
        for item in items:
            item.add_marker(pytest.mark.cuda)
            if item.name.startswith(CPU_ONLY):
                item.add_marker(cpu_only)
            elif "/tests/export/" in str(item.fspath) or "/tests/serve/" in str(item.fspath):
                item.add_marker(host)
    if not torch.__version__.startswith("2.13"):
        old = pytest.mark.skip(reason=f"module reprs differ in torch {torch.__version__}; the oracle is 2.13")
        changed = pytest.mark.skip(reason=f"torch {torch.__version__} behaves differently; the oracle is 2.13")
        for item in items:
            if item.name.startswith(ORACLE_REPR):
                item.add_marker(old)
            elif item.name.startswith(ORACLE_BEHAVIOUR):
                item.add_marker(changed)
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

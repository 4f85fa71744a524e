"""The reservoir update's native loop (csrc/reservoir.cpp) against the NumPy/SciPy one."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
import torch

from recur.engine import native
from recur.reservoir import kernel
from recur.reservoir.kernel import Reservoir

needs_native = pytest.mark.skipif(not native.load(), reason="the native engine did not build")


def run_both(W, leak, activation, drive, x0):
    results = []
    for use_native in (True, False):
        reservoir = Reservoir(W, leak, activation, native=use_native)
        results.append(reservoir.run(drive.copy(), x0))
    return results


@needs_native
@pytest.mark.parametrize("activation", ["tanh", "identity", "relu", "sigmoid"])
@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("batch", [None, 3])
def test_matches_the_numpy_loop(activation, dtype, tol, batch):
    rng = np.random.default_rng(0)
    n, steps = 40, 25
    W = scipy.sparse.random(n, n, density=0.1, random_state=1, dtype=dtype) * 0.8
    shape = (steps, n) if batch is None else (steps, n, batch)
    drive = rng.standard_normal(shape).astype(dtype)
    x0 = rng.standard_normal(shape[1:]).astype(dtype)
    native_states, numpy_states = run_both(W, 0.6, activation, drive, x0)
    np.testing.assert_allclose(native_states, numpy_states, rtol=tol, atol=tol)


@needs_native
@pytest.mark.parametrize("batch", [None, 2])
def test_rows_split_between_threads_give_the_same_states(batch):
    """From 20,000 non-zeros a step the rows are split between torch's threads (a barrier a
    step): the states must not depend on how many threads ran them."""
    rng = np.random.default_rng(5)
    n, steps = 600, 30
    W = scipy.sparse.random(n, n, density=0.06, random_state=4) * 0.3  # 21,600 non-zeros
    shape = (steps, n) if batch is None else (steps, n, batch)
    drive, x0 = rng.standard_normal(shape), rng.standard_normal(shape[1:])
    threads = torch.get_num_threads()
    try:
        by_threads = {}
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            by_threads[count] = Reservoir(W, 0.7, "tanh", native=True).run(drive.copy(), x0)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(by_threads[2], by_threads[1])
    np.testing.assert_array_equal(by_threads[3], by_threads[1])
    expected = Reservoir(W, 0.7, "tanh", native=False).run(drive.copy(), x0)
    np.testing.assert_allclose(by_threads[2], expected, rtol=0, atol=1e-12)


@needs_native
@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize(("n", "density", "inputs"), [(40, 0.1, 1), (40, 0.1, 3), (600, 0.06, 2)])
def test_drive_formed_in_the_loop(batch, n, density, inputs):
    """inputs/input_weights/bias: the loop forms d_t = b + W_in u_t itself (written, not added
    to: drive's old contents are ignored); the same states as the drive computed beforehand,
    with the rows split between threads too (600 units: 21,600 non-zeros)."""
    rng = np.random.default_rng(7)
    steps = 20
    W = scipy.sparse.random(n, n, density=density, random_state=3) * 0.4
    W_in, b = rng.standard_normal((n, inputs)), rng.standard_normal(n)
    u_shape = (steps, inputs) if batch is None else (steps, inputs, batch)
    u = rng.standard_normal(u_shape)
    drive = u @ W_in.T + b if batch is None else np.einsum("ni,tib->tnb", W_in, u) + b[:, None]
    x0 = rng.standard_normal(drive.shape[1:])
    expected = Reservoir(W, 0.6, "tanh", native=False).run(drive, x0)
    for native_loop in (True, False):
        garbage = np.full(drive.shape, np.nan)
        states = Reservoir(W, 0.6, "tanh", native=native_loop).run(
            garbage, x0, inputs=u, input_weights=W_in, bias=b
        )
        np.testing.assert_allclose(states, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("native_loop", [True, False])
def test_run_rejects_inputs_of_the_wrong_shape(native_loop):
    if native_loop and not native.load():
        pytest.skip("the native engine did not build")
    reservoir = Reservoir(scipy.sparse.identity(4, format="csr"), native=native_loop)
    drive, u, W_in, b = np.zeros((3, 4)), np.zeros((3, 2)), np.zeros((4, 2)), np.zeros(4)
    for given in [(u[:2], W_in, b), (u, W_in[:, :1], b), (u, W_in, b[:3]), (u, W_in, None)]:
        with pytest.raises(ValueError, match=r"expected \(T=3, K\) inputs, \(4, K\) weights"):
            reservoir.run(
                drive, np.zeros(4), **dict(zip(("inputs", "input_weights", "bias"), given))
            )


@needs_native
def test_kernel_rejects_inputs_of_the_wrong_shape():
    W = scipy.sparse.identity(4, format="csr")
    indptr, indices = (torch.from_numpy(a) for a in (W.indptr, W.indices))
    arguments = [torch.zeros(3, 4, dtype=torch.float64), indptr, indices,
                 torch.from_numpy(W.data), torch.zeros(4, dtype=torch.float64), 1.0, 0]  # fmt: skip
    with pytest.raises(RuntimeError, match=r"inputs \(3, K\), input_weights \(4, K\)"):
        torch.ops.recur_native.reservoir_run(
            *arguments,
            torch.zeros(3, 2, dtype=torch.float64),
            torch.zeros(4, 3, dtype=torch.float64),
            torch.zeros(4, dtype=torch.float64),
        )
    with pytest.raises(RuntimeError, match="expected together or not at all"):
        torch.ops.recur_native.reservoir_run(*arguments, torch.zeros(3, 2, dtype=torch.float64))


@needs_native
def test_states_written_into_the_columns_of_a_wider_matrix():
    """ESN features hold the states as columns [3, 3 + N) of each row: steps are not adjacent."""
    rng = np.random.default_rng(1)
    n = 30
    W = scipy.sparse.random(n, n, density=0.2, random_state=2) * 0.5
    features = rng.standard_normal((12, n + 7))
    expected = Reservoir(W, 1.0, "tanh", native=False).run(
        features[:, 3 : 3 + n].copy(), np.ones(n)
    )
    Reservoir(W, 1.0, "tanh", native=True).run(features[:, 3 : 3 + n], np.ones(n))
    np.testing.assert_allclose(features[:, 3 : 3 + n], expected, rtol=0, atol=1e-13)


@needs_native
def test_int64_indices_as_for_huge_matrices():
    W = scipy.sparse.random(20, 20, density=0.3, random_state=3, format="csr")
    W.indptr, W.indices = W.indptr.astype(np.int64), W.indices.astype(np.int64)
    drive = np.random.default_rng(2).standard_normal((6, 20))
    native_states, numpy_states = run_both(W, 0.5, "tanh", drive, np.zeros(20))
    np.testing.assert_allclose(native_states, numpy_states, rtol=0, atol=1e-13)


@needs_native
def test_kernel_rejects_a_non_contiguous_step():
    W = scipy.sparse.identity(4, format="csr")
    indptr, indices = (torch.from_numpy(a) for a in (W.indptr, W.indices))
    drive = torch.zeros(3, 8, dtype=torch.float64)[:, ::2]
    with pytest.raises(RuntimeError, match=r"every drive\[t\] must be contiguous"):
        torch.ops.recur_native.reservoir_run(
            drive,
            indptr,
            indices,
            torch.from_numpy(W.data),
            torch.zeros(4, dtype=torch.float64),
            1.0,
            0,
        )


def test_native_asked_for_where_it_cannot_load(monkeypatch):
    monkeypatch.setattr(kernel, "load_native", lambda: False)
    with pytest.raises(ValueError, match="native: recur's native library is not available here"):
        Reservoir(scipy.sparse.identity(3), native=True)
    assert not Reservoir(scipy.sparse.identity(3)).native

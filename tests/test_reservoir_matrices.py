"""The fixed reservoir: exact spectral radius, connectivity, seeds, and the update kernel."""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse
import torch

from recur.reservoir import EchoStateNetwork, Reservoir, spectral_radius
from recur.reservoir.matrices import draw_weights, sparse_reservoir


@pytest.fixture(autouse=True, scope="module")
def single_threaded():
    """One torch and one BLAS thread: on a busy 2-core machine their worker threads spin against
    each other, and the small products here run 100x slower with two threads than with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
    else:
        with threadpool_limits(1):
            yield
    torch.set_num_threads(threads)


def dense_radius(W) -> float:
    return float(np.abs(scipy.linalg.eigvals(W.toarray())).max())


@pytest.mark.parametrize(
    "size, connectivity, rho",
    [(50, 0.2, 0.9), (200, 0.05, 1.25), (400, 0.02, 0.8), (700, 0.01, 1.1), (1500, 0.09, 1.2),
     (2100, 0.02, 1.25)],
)  # fmt: skip
# 1,500 units at 9 % is 202,500 non-zeros: products run natively, W's rows split between threads;
# 2,100 units: above 2,000, where ARPACK's Krylov space is larger (3 s of LAPACK to check it)
def test_spectral_radius_is_as_requested(size, connectivity, rho):
    # sizes above spectral.DENSE_LIMIT go through ARPACK; checked here against LAPACK
    W = sparse_reservoir(size, connectivity, rho, np.random.default_rng(size))
    assert abs(dense_radius(W) - rho) < 1e-6
    assert abs(spectral_radius(W) - rho) < 1e-6


def test_connectivity_is_the_fraction_of_nonzero_weights():
    W = sparse_reservoir(300, 0.03, 1.0, np.random.default_rng(0))
    assert W.nnz == round(0.03 * 300 * 300)
    assert isinstance(W, scipy.sparse.csr_matrix) and W.has_sorted_indices
    assert np.abs(W.data).max() > 0


def test_same_seed_same_weights_and_streams_are_independent():
    kwargs = dict(
        connectivity=0.05,
        spectral_radius=0.9,
        input_scaling=0.5,
        bias_scaling=0.1,
        feedback=False,
        feedback_scaling=1.0,
    )
    a = draw_weights(2, 100, 1, seed=7, **kwargs)
    b = draw_weights(2, 100, 1, seed=7, **kwargs)
    c = draw_weights(2, 100, 1, seed=8, **kwargs)
    assert (a.W != b.W).nnz == 0 and np.array_equal(a.W_in, b.W_in) and np.array_equal(a.b, b.b)
    assert not np.array_equal(a.W_in, c.W_in)
    # turning feedback on or changing a scaling leaves the other matrices of the seed unchanged
    d = draw_weights(2, 100, 1, seed=7, **{**kwargs, "feedback": True, "input_scaling": 2.0})
    assert (a.W != d.W).nnz == 0 and np.array_equal(a.b, d.b)
    np.testing.assert_allclose(d.W_in, 4 * a.W_in)
    assert d.W_back.shape == (100, 1) and np.abs(d.W_back).max() <= 1.0


def test_seeded_networks_reproduce_their_predictions():
    u = np.sin(np.arange(300) / 5.0)[:, None]
    outputs = [
        EchoStateNetwork(1, 80, 1, seed=3, washout=20).fit(u[:-1], u[1:]).predict(u)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*outputs)


def test_nilpotent_pattern_is_an_error():
    with pytest.raises(ValueError, match="connectivity"):
        sparse_reservoir(3, 0.1, 1.0, np.random.default_rng(0))  # one weight: no cycle


def loop_reference(W, W_in, b, u, leak, f):
    x, states = np.zeros(W.shape[0]), []
    for u_t in u:
        x = (1 - leak) * x + leak * f(W @ x + W_in @ u_t + b)
        states.append(x)
    return np.array(states)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("activation, f", [("tanh", np.tanh), ("identity", lambda z: z)])
def test_kernel_equals_a_loop_of_the_equations(compiled, activation, f):
    rng = np.random.default_rng(0)
    w = draw_weights(
        2, 60, 1, connectivity=0.1, spectral_radius=0.9, input_scaling=1.0, bias_scaling=0.2,
        feedback=False, feedback_scaling=0.0, seed=1,
    )  # fmt: skip
    u = rng.standard_normal((40, 2))
    reservoir = Reservoir(w.W, leak_rate=0.3, activation=activation, compiled=compiled)
    states = reservoir.run(u @ w.W_in.T + w.b, np.zeros(60))
    expected = loop_reference(w.W, w.W_in, w.b, u, 0.3, f)
    np.testing.assert_allclose(states, expected, rtol=0, atol=1e-12)
    # three sequences at once, laid out (T, N, B), give each sequence's states
    batch = rng.standard_normal((40, 3, 2))
    drive = np.ascontiguousarray(np.einsum("tbi,ni->tnb", batch, w.W_in) + w.b[:, None])
    together = reservoir.run(drive, np.zeros((60, 3)))
    for k in range(3):
        alone = loop_reference(w.W, w.W_in, w.b, batch[:, k], 0.3, f)
        np.testing.assert_allclose(together[:, :, k], alone, rtol=0, atol=1e-12)

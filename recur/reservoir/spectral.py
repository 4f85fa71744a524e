r"""The spectral radius :math:`\rho(W) = \max_i |\lambda_i(W)|` of a reservoir matrix.

Small matrices (``N <= DENSE_LIMIT``) use LAPACK's dense eigenvalues: exact and, there, faster
than an iterative solver. Larger ones use ARPACK (``scipy.sparse.linalg.eigs``) on the sparse
matrix, asking for the 8 largest-magnitude eigenvalues in a Krylov space of 40 vectors (of 100
above 2,000 units), to ARPACK's relative tolerance 1e-10 (a bound on the residual: the
eigenvalue itself comes out within about 1e-14 of LAPACK's; the looser 1e-8 is faster but missed
the edge once in 40 draws). Its matrix-vector products go through the reservoir kernel: SciPy's
compiled sparse product without the dispatch of ``W @ v`` or, from ``NATIVE_NON_ZEROS`` (below it
the native op's per-call cost outweighs its gain), the native loop with W's rows split between
torch's threads. NumPy's and SciPy's BLAS then run on one thread: ARPACK calls them between
products, and their workers' busy-waiting made the split products 3x slower instead of 3x
faster. The native products took a 10,000-unit radius (2 %) on 2 cores from 12.5 to 6.8 s.

Asking for one eigenvalue only (``k = 1``, ARPACK's default space of 20) is what libraries usually
do, and it is unreliable on random reservoirs: their eigenvalues fill a disk uniformly, so the
largest moduli are packed together, and ARPACK often settles on one just inside the edge. Measured
against dense eigenvalues: 1 in 20 wrong at 500 units, 2 in 10 at 1,000, 2 in 4 at 2,000 (errors
up to 1 %); none wrong in 140 draws of 500 to 2,000 units with 8 of 40. Above 2,000 units 8 of
40 missed the edge in 1 of 2 draws at 10,000 units (by 0.5 %), hence the space of 100: 8 of 100
agreed with 16 of 100 to 7e-13 in 38 draws of 3,000 to 10,000 units (1-5 %, uniform and normal
weights), which agreed with LAPACK to 3e-14 at 3,000 units and with 24 of 150 to 2e-12 at 5,000
and 10,000. 10,000 units at 2 % take 2.4-6.5 s.
reservoirpy's single-eigenvalue estimate left ρ(W) at 1.2598 (normal weights) and 1.2678 (uniform,
in ``benchmarks/esn.py``, after 54-60 s) for 1.25 asked at 10,000 units.
"""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.linalg
import scipy.sparse
import scipy.sparse.linalg
from threadpoolctl import threadpool_limits

from recur.engine.native import load as load_native
from recur.reservoir.kernel import Reservoir

DENSE_LIMIT = 300
ARPACK_TOL = 1e-10
NATIVE_NON_ZEROS = 200_000  # at 2 %: 1,000 units 52 ms native against 37, 2,000 units alike


def arpack_sizes(n: int) -> tuple[int, int]:
    """(wanted eigenvalues k, Krylov space size): larger for large reservoirs (fewer restarts)."""
    return (8, 40) if n <= 2000 else (8, 100)


def spectral_radius(W, *, seed: int = 0) -> float:
    r"""Largest eigenvalue modulus of a square matrix (dense ndarray or scipy sparse).

    Arguments:
        W: (N, N) matrix.
        seed: seeds ARPACK's starting vector, so that the result is reproducible.

    Returns:
        :math:`\rho(W)` as a float.

    Example::

        >>> W = scipy.sparse.random(1000, 1000, density=0.02, format="csr", random_state=0)
        >>> rho = spectral_radius(W)
    """
    n = W.shape[0]
    if W.ndim != 2 or W.shape[1] != n:
        raise ValueError(f"W: expected a square matrix, got shape {W.shape}")
    if n <= DENSE_LIMIT:
        dense = W.toarray() if scipy.sparse.issparse(W) else np.asarray(W)
        return float(np.abs(scipy.linalg.eigvals(dense, check_finite=False)).max(initial=0.0))
    W = scipy.sparse.csr_matrix(W, dtype=np.float64)
    native = load_native() and W.nnz >= NATIVE_NON_ZEROS
    product = Reservoir(W, activation="identity", native=native)

    def matvec(v: np.ndarray) -> np.ndarray:
        v = np.ascontiguousarray(v, dtype=np.float64).reshape(n)
        if native:  # one step from x_0 = v with no drive, identity f, no leak: W v
            return product.run(np.zeros((1, n)), v)[0]
        out = np.zeros(n)
        product.accumulate_(v, out)
        return out

    v0 = np.random.default_rng(seed).standard_normal(n)
    wanted, krylov = arpack_sizes(n)
    with threadpool_limits(1, user_api="blas") if native else contextlib.nullcontext():
        eigenvalues = scipy.sparse.linalg.eigs(
            scipy.sparse.linalg.LinearOperator((n, n), matvec=matvec, dtype=np.float64),
            k=wanted,
            ncv=krylov,
            which="LM",
            tol=ARPACK_TOL,
            v0=v0,
            maxiter=100 * n,
            return_eigenvectors=False,
        )
    return float(np.abs(eigenvalues).max())

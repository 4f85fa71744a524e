r"""The fixed random weights of an Echo State Network, each drawn from its own seeded generator.

    W       (N, N)  sparse recurrent weights: a fraction ``connectivity`` of the N² entries,
                    at uniformly random positions, uniform in [-1, 1], then rescaled so that
                    :math:`\rho(W)` = ``spectral_radius`` exactly (see :mod:`.spectral`)
    W_in    (N, I)  dense input weights, uniform in [-input_scaling, input_scaling]
    b       (N,)    bias, uniform in [-bias_scaling, bias_scaling]
    W_back  (N, O)  dense output-feedback weights, uniform in [-feedback_scaling, feedback_scaling]

Every matrix has its own child of one ``numpy.random.SeedSequence``: changing the input scaling or
turning feedback on leaves the recurrent weights of a given seed unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from recur.reservoir.spectral import spectral_radius as measure_spectral_radius

STREAMS = ("W", "W_in", "b", "W_back", "noise")


def seed_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per matrix (and one for teacher noise), all from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def sparse_reservoir(
    size: int,
    connectivity: float,
    spectral_radius: float,
    rng: np.random.Generator,
    dtype=np.float64,
) -> scipy.sparse.csr_matrix:
    r"""W: round(connectivity·N²) non-zeros (at least one), uniform in [-1, 1], :math:`\rho(W)` set.

    Positions are drawn without replacement from the N² entries and sorted, which gives the CSR
    row pointers directly (no COO → CSR sort). Raises ``ValueError`` when the drawn pattern is
    nilpotent (every eigenvalue 0, possible only for very sparse small reservoirs): it cannot be
    rescaled to a positive spectral radius.
    """
    nnz = max(1, round(connectivity * size * size))
    flat = np.sort(rng.choice(size * size, size=nnz, replace=False, shuffle=False))
    rows, cols = np.divmod(flat, size)
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=size), out=indptr[1:])
    values = rng.uniform(-1.0, 1.0, size=nnz)
    W = scipy.sparse.csr_matrix(
        (values, cols.astype(np.int32), indptr.astype(np.int32)), shape=(size, size)
    )
    rho = measure_spectral_radius(W)
    if rho < 1e-12:
        raise ValueError(
            f"connectivity: the random {size}-unit reservoir drawn with connectivity "
            f"{connectivity} has spectral radius 0 (every cycle missing); expected a larger "
            "connectivity or reservoir_size"
        )
    W.data *= spectral_radius / rho
    return W.astype(dtype)


def uniform(shape: tuple[int, ...], scaling: float, rng: np.random.Generator, dtype=np.float64):
    """Dense weights uniform in [-scaling, scaling] (zeros when scaling is 0)."""
    return (rng.uniform(-1.0, 1.0, size=shape) * scaling).astype(dtype)


@dataclass
class ReservoirWeights:
    """The fixed weights; ``W_back`` is None without output feedback."""

    W: scipy.sparse.csr_matrix
    W_in: np.ndarray
    b: np.ndarray
    W_back: np.ndarray | None


def draw_weights(
    input_size: int,
    reservoir_size: int,
    output_size: int,
    *,
    connectivity: float,
    spectral_radius: float,
    input_scaling: float,
    bias_scaling: float,
    feedback: bool,
    feedback_scaling: float,
    seed: int,
    dtype=np.float64,
) -> ReservoirWeights:
    streams = seed_streams(seed)
    n = reservoir_size
    return ReservoirWeights(
        W=sparse_reservoir(n, connectivity, spectral_radius, streams["W"], dtype),
        W_in=uniform((n, input_size), input_scaling, streams["W_in"], dtype),
        b=uniform((n,), bias_scaling, streams["b"], dtype),
        W_back=uniform((n, output_size), feedback_scaling, streams["W_back"], dtype)
        if feedback
        else None,
    )

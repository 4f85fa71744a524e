"""The ridge readout's algebra (recur/reservoir/readout.py) against a closed form in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

from recur.reservoir.readout import RidgeReadout, solve_spd


def ridge_reference(phi, y, ridge):
    """argmin ||y - Φ wᵀ||² + λ ||w[:, 1:]||² as least squares on Φ stacked over √λ P."""
    penalty = np.sqrt(ridge) * np.eye(phi.shape[1])[1:]
    stacked = np.concatenate([phi, penalty])
    targets = np.concatenate([y, np.zeros((len(penalty), y.shape[1]))])
    return np.linalg.lstsq(stacked, targets, rcond=None)[0].T


def rows(seed, count, features, outputs):
    rng = np.random.default_rng(seed)
    phi = np.concatenate([np.ones((count, 1)), rng.uniform(-1, 1, (count, features - 1))], 1)
    phi[:, 1:] += 3.0  # far from centred: the dual form's shift and centring must cancel it
    return phi, rng.standard_normal((count, outputs))


@pytest.mark.parametrize(
    ("count", "chunks"),
    [(300, [300]), (300, [40, 100, 160]), (50, [50]), (50, [10, 25, 15]), (90, [30, 30, 30])],
    ids=["primal", "primal-chunks", "dual", "dual-chunks", "dual-then-folded"],
)
def test_matches_the_closed_form(count, chunks):
    """Primal (more rows than the 61 features), dual (fewer), and dual rows folded into G."""
    phi, y = rows(0, count, 61, 2)
    readout = RidgeReadout(features=61, outputs=2)
    start = 0
    for size in chunks:
        readout.add(phi[start : start + size], y[start : start + size])
        start += size
    expected = ridge_reference(phi, y, 1e-3)
    np.testing.assert_allclose(readout.solve(1e-3), expected, rtol=1e-8, atol=1e-8)
    assert (readout.gram is not None) == (count >= 61)


def test_solves_again_after_more_rows():
    phi, y = rows(1, 80, 41, 1)
    readout = RidgeReadout(features=41, outputs=1)
    readout.add(phi[:20], y[:20])
    np.testing.assert_allclose(
        readout.solve(1e-2), ridge_reference(phi[:20], y[:20], 1e-2), rtol=1e-8, atol=1e-8
    )
    readout.add(phi[20:], y[20:])
    np.testing.assert_allclose(readout.solve(1e-2), ridge_reference(phi, y, 1e-2), atol=1e-8)


def test_singular_system_falls_back_to_least_squares():
    """ridge 0 and a repeated column: no Cholesky, yet the fit is the least-squares fit."""
    phi, y = rows(2, 200, 21, 2)
    phi[:, 5] = phi[:, 4]
    readout = RidgeReadout(features=21, outputs=2)
    readout.add(phi, y)
    W = readout.solve(0.0)
    best = phi @ np.linalg.lstsq(phi, y, rcond=None)[0]
    np.testing.assert_allclose(phi @ W.T, best, rtol=0, atol=1e-8)


def test_solve_spd_reads_the_lower_triangle_and_keeps_its_matrix():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((30, 30))
    A = M @ M.T + np.eye(30)
    u = rng.standard_normal(30) * 0.01
    B = rng.standard_normal((30, 2))
    left = A - u[:, None] - u[None, :] + np.diag(np.full(30, 0.5))
    given = np.tril(A) + np.triu(np.full_like(A, np.nan), 1)  # the upper triangle is never read
    kept = given.copy()
    X = solve_spd(given, B, 0.5, centring=u)
    np.testing.assert_allclose(left @ X, B, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(given, kept)


def test_overwrite_phi_gives_the_same_solution():
    """A caller that hands its rows over (the ESN's fit) gets the readout of a copying caller."""
    phi, y = rows(4, 50, 61, 2)
    copying, owning = RidgeReadout(61, 2), RidgeReadout(61, 2)
    for chunk in (slice(0, 20), slice(20, 50)):
        copying.add(phi[chunk], y[chunk])
        owning.add(phi[chunk].copy(), y[chunk], overwrite_phi=True)
    np.testing.assert_array_equal(owning.solve(1e-3), copying.solve(1e-3))


def test_a_last_solve_in_place_then_more_rows():
    """solve(keep=False) factors the dual kernel in place (as fit's last solve does): the same
    readout, and a later add or solve forms the kernel again from the kept rows."""
    phi, y = rows(5, 45, 61, 2)
    readout = RidgeReadout(61, 2)
    readout.add(phi[:20], y[:20])
    readout.add(phi[20:30], y[20:30])
    np.testing.assert_allclose(
        readout.solve(1e-3, keep=False), ridge_reference(phi[:30], y[:30], 1e-3), atol=1e-8
    )
    assert readout.kernel is None
    np.testing.assert_allclose(
        readout.solve(1e-3, keep=False), ridge_reference(phi[:30], y[:30], 1e-3), atol=1e-8
    )
    readout.add(phi[30:], y[30:])
    np.testing.assert_allclose(readout.solve(1e-3), ridge_reference(phi, y, 1e-3), atol=1e-8)
    assert readout.kernel.shape == (45, 45)


def test_a_singular_solve_in_place_falls_back_on_a_rebuilt_kernel():
    phi, y = rows(6, 30, 41, 1)
    phi[15:] = phi[:15]  # repeated rows: K is singular at ridge 0
    readout = RidgeReadout(41, 1)
    readout.add(phi, y)
    W = readout.solve(0.0, keep=False)
    best = phi @ np.linalg.lstsq(phi, y, rcond=None)[0]
    np.testing.assert_allclose(phi @ W.T, best, rtol=0, atol=1e-8)
    assert readout.kernel is not None  # the fallback solved on a kernel formed again

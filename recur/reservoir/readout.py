r"""Ridge regression readout, accumulated from streamed rows of features and targets.

Features are :math:`\phi_t = [1, z_t]` with :math:`z_t = [u_t, x_t, \tilde y_{t-1}]` (column 0 is
the constant), targets :math:`y_t`; the readout :math:`W_{out}` (O, D) minimises

.. math::

    \sum_t \lVert y_t - W_{out} \phi_t \rVert^2 + \lambda \lVert W_{out}[:, 1:] \rVert^2

(the intercept, column 0, is not penalised). Two exact solutions of the same problem:

- **primal**, from the accumulated :math:`G = \Phi^\top \Phi` (D, D) and :math:`C = \Phi^\top Y`
  (D, O): :math:`(G + \lambda P) W_{out}^\top = C`, :math:`P = \mathrm{diag}(0, 1, \dots, 1)`.
  Rows stream through in chunks; memory is O(D²) whatever the series length.
- **dual**, while fewer rows S than features D have been seen (a 10,000-unit reservoir trained on
  2,000 steps): with the rows centred, :math:`Z_c, Y_c`,
  :math:`W^\top = Z_c^\top (Z_c Z_c^\top + \lambda I)^{-1} Y_c` and the intercept
  :math:`\bar y - W \bar z`. It costs O(S² D) instead of O(S D² + D³). The kernel
  :math:`K = Z Z^\top` (S, S) grows block by block as chunks arrive (only its lower triangle is
  formed, by SYRK), from rows shifted by the first chunk's mean (centring is shift-invariant; the
  shift keeps the final centring from cancelling digits). The rows are kept as φ − (1, shift), z
  behind a zero column, so that they are contiguous for BLAS. K is centred when solving:
  :math:`K_c = K - v 1^\top - 1 v^\top + (\bar z^\top \bar z) 11^\top`, :math:`v = Z \bar z`,
  a symmetric rank-2 update.

The rows are kept until there are D of them (never more memory than G), then folded into G and
C, unless ``expected_rows`` says from the start that there will be at least D. Both systems are
solved by Cholesky after symmetric scaling to unit diagonal (the constant column's entry S would
otherwise dwarf the states'), falling back to least squares when the matrix is singular
(``ridge=0`` with fewer independent rows than features). ``fit``'s last solve factors the kernel
in place instead (``solve(keep=False)``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg import blas, lapack


def solve_spd(A, B, diagonal_shift=0.0, centring=None, *, overwrite_a=False) -> np.ndarray:
    """Solve (A − u1ᵀ − 1uᵀ + diag(diagonal_shift)) X = B, the left side symmetric positive
    semi-definite; u is ``centring`` (none when None). Only A's lower triangle is read; A is kept.

    Scaled to unit diagonal, then Cholesky in place; least squares when the matrix is singular.
    One (D, D) temporary: on this code's 2-core VM a fresh 32 MB array costs as much as its
    product. All of it runs in SciPy's BLAS, as the readout's products do: NumPy ships its own
    OpenBLAS, and two BLAS thread pools on two cores slow each other (a 2,000-unit Cholesky took
    2.5x as long right after a NumPy product as alone).

    ``overwrite_a=True`` (A Fortran-ordered) factors A itself instead: no temporary and no
    scaling (Cholesky's rounding errors do not depend on a diagonal scaling; the scaling serves
    the least-squares fallback), 6-8 ms less at 2,000 units; but when the matrix is singular,
    A is lost and :class:`numpy.linalg.LinAlgError` is raised: solve again from a rebuilt A.
    """
    if overwrite_a:
        if centring is not None:  # − u1ᵀ − 1uᵀ: a symmetric rank-2 update in place
            A = blas.dsyr2(-1.0, centring, np.ones(len(A)), a=A, lower=1, overwrite_a=1)
        A[np.diag_indices_from(A)] += diagonal_shift
        factor, info = lapack.dpotrf(A, lower=1, clean=0, overwrite_a=1)
        if info == 0:
            X, info = lapack.dpotrs(factor, B, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"solve_spd: not positive definite (LAPACK info {info})")
        return X
    diagonal = np.diag(A) + diagonal_shift
    if centring is not None:
        diagonal = diagonal - 2.0 * centring
    scale = 1.0 / np.sqrt(np.where(diagonal > 0, diagonal, 1.0))

    def scaled() -> np.ndarray:  # D_s (A − u1ᵀ − 1uᵀ + diag(shift)) D_s: lower triangle, F order
        S = np.multiply(A, scale[:, None], order="F")
        S *= scale[None, :]
        if centring is not None:  # − (s∘u) sᵀ − s (s∘u)ᵀ: a symmetric rank-2 update in place
            S = blas.dsyr2(-1.0, scale * centring, scale, a=S, lower=1, overwrite_a=1)
        S[np.diag_indices_from(S)] += diagonal_shift * scale**2
        return S

    B_scaled = B * scale[:, None]
    factor, info = lapack.dpotrf(scaled(), lower=1, clean=0, overwrite_a=1)
    if info == 0:  # Cholesky alone: scipy.linalg.solve would also estimate the condition number
        X, info = lapack.dpotrs(factor, B_scaled, lower=1)
    if info != 0:  # singular (or indefinite by rounding): least squares on the whole matrix
        S = scaled()
        X = scipy.linalg.lstsq(np.tril(S) + np.tril(S, -1).T, B_scaled, check_finite=False)[0]
    return X * scale[:, None]


class RidgeReadout:
    """Streams (Φ, Y) row blocks in, solves for W_out (O, D).

    Arguments:
        features: D, the width of Φ (column 0 must be the constant 1).
        outputs: O.

    Example::

        >>> readout = RidgeReadout(features=D, outputs=O)
        >>> for phi, y in chunks:          # phi (S_k, D), y (S_k, O)
        ...     readout.add(phi, y)
        >>> W_out = readout.solve(ridge=1e-8)   # (O, D); predictions phi @ W_out.T
    """

    def __init__(self, features: int, outputs: int):
        self.features = features
        self.outputs = outputs
        self.reset()

    def reset(self, expected_rows: int | None = None) -> None:
        """Forget all rows; with ``expected_rows >= features`` accumulate G and C right away."""
        self.n_rows = 0
        self.gram: np.ndarray | None = None  # Φᵀ Φ (D, D)
        self.cross: np.ndarray | None = None  # Φᵀ Y (D, O)
        self.rows: list[tuple[np.ndarray, np.ndarray]] = []  # (φ - shift, y) blocks
        self.kernel = np.zeros((0, 0))  # (Φ - shift)(Φ - shift)ᵀ over the kept rows
        self.shift: np.ndarray | None = None  # (D,): 1, then the first chunk's mean of z
        if expected_rows is not None and expected_rows >= self.features:
            self._start_gram()

    def _start_gram(self) -> None:
        self.gram = np.zeros((self.features, self.features), order="F")  # lower triangle kept
        self.cross = np.zeros((self.features, self.outputs), order="F")

    def add(self, phi: np.ndarray, y: np.ndarray, *, overwrite_phi: bool = False) -> None:
        """Accumulate rows phi (S, D) with targets y (S, O), both converted to float64.

        ``overwrite_phi=True`` lets the readout keep phi's memory (shifted in place) where it
        keeps rows, instead of a copy: for a caller that made phi for it and drops it.
        """
        phi = np.asarray(phi, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if self.gram is None and self.n_rows + len(phi) >= self.features:
            kept = self.rows  # the rows now outweigh G: fold them in
            self._start_gram()
            for z_kept, y_kept in kept:
                self._add_gram(z_kept + self.shift, y_kept)
            self.rows, self.kernel = [], np.zeros((0, 0))
        self.n_rows += len(phi)
        if self.gram is not None:
            self._add_gram(phi, y)
            return
        if self.shift is None:  # the constant column becomes 0: K is that of z alone
            self.shift = phi.mean(axis=0)
            self.shift[0] = 1.0
        if overwrite_phi and phi.flags.c_contiguous:
            z = phi
            z -= self.shift
        else:
            z = phi - self.shift
        self._grow_kernel(z)
        self.rows.append((z, y))

    def _grow_kernel(self, z: np.ndarray) -> None:
        """Extend K's lower triangle by rows z, after the kept ones: [[K, ·], [z Z_keptᵀ, z zᵀ]]."""
        if self.kernel is None:  # factored in place by the last solve: form it again
            self._rebuild_kernel()
        new_block = blas.dsyrk(1.0, z.T, trans=1, lower=1)  # z zᵀ, lower triangle, F order
        old = len(self.kernel)
        if old == 0:
            self.kernel = new_block
            return
        kernel = np.empty((old + len(z), old + len(z)), order="F")
        kernel[:old, :old] = self.kernel
        kernel[old:, :old] = np.concatenate(
            [blas.dgemm(1.0, z.T, z_kept.T, trans_a=1) for z_kept, _ in self.rows], axis=1
        )
        kernel[old:, old:] = new_block
        self.kernel = kernel

    def _rebuild_kernel(self) -> None:
        kept, self.rows, self.kernel = self.rows, [], np.zeros((0, 0))
        for z, y in kept:
            self._grow_kernel(z)
            self.rows.append((z, y))

    def _add_gram(self, phi: np.ndarray, y: np.ndarray) -> None:
        # phi.T and (for one output) y are Fortran views: SciPy's BLAS reads them without a copy
        self.gram = blas.dsyrk(1.0, phi.T, beta=1.0, c=self.gram, lower=1, overwrite_c=1)
        self.cross = blas.dgemm(1.0, phi.T, y, beta=1.0, c=self.cross, overwrite_c=1)

    def solve(self, ridge: float, *, keep: bool = True) -> np.ndarray:
        """W_out (O, D) for regularisation ``ridge`` (the accumulated rows are kept).

        ``keep=False`` lets a dual solve factor the kernel in place (no (S, S) copy: for a last
        solve, as in ``fit``); a later ``add`` or ``solve`` forms it again from the kept rows.
        """
        if self.n_rows == 0:
            raise ValueError("targets: expected at least one training row after washout, got 0")
        if self.gram is not None:
            penalty = np.full(self.features, float(ridge))
            penalty[0] = 0.0
            return solve_spd(self.gram, self.cross, penalty).T
        S = self.n_rows
        z_mean = sum(z.sum(axis=0) for z, _ in self.rows) / S
        y_mean = sum(y.sum(axis=0) for _, y in self.rows) / S
        v = np.concatenate([blas.dgemv(1.0, z.T, z_mean, trans=1) for z, _ in self.rows])  # Z z̄
        y_c = np.concatenate([y for _, y in self.rows]) - y_mean
        # K_c = K − v1ᵀ − 1vᵀ + (z̄ᵀz̄) 11ᵀ = K − u1ᵀ − 1uᵀ with u = v − (z̄ᵀz̄ / 2) 1
        centring = v - 0.5 * (z_mean @ z_mean)
        if self.kernel is None:  # factored by a solve(keep=False) before
            self._rebuild_kernel()
        alpha = None
        if not keep:
            kernel, self.kernel = self.kernel, None
            try:
                alpha = solve_spd(kernel, y_c, float(ridge), centring, overwrite_a=True)
            except np.linalg.LinAlgError:  # singular: the kernel is lost, solve on a new one
                self._rebuild_kernel()
        if alpha is None:
            alpha = solve_spd(self.kernel, y_c, float(ridge), centring=centring)
        starts = np.cumsum([0] + [len(z) for z, _ in self.rows])
        weights = sum(
            blas.dgemm(1.0, z.T, alpha[a:b]) for (z, _), a, b in zip(self.rows, starts, starts[1:])
        )
        weights -= z_mean[:, None] * alpha.sum(axis=0)[None, :]  # Z_cᵀ α (D, O); row 0 is 0
        weights[0] = y_mean - (z_mean + self.shift) @ weights  # the intercept
        return weights.T

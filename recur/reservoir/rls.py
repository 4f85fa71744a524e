r"""Online readout training by recursive least squares, the rule of FORCE learning.

With :math:`P_0 = I / \delta` and forgetting factor :math:`\mu \in (0, 1]`, each step with
features :math:`\phi_t` (D,) and target :math:`y_t` (O,):

.. math::

    e_t = W \phi_t - y_t, \qquad k_t = \frac{P \phi_t}{\mu + \phi_t^\top P \phi_t}

    W \leftarrow W - e_t k_t^\top, \qquad P \leftarrow \frac{P - k_t (P \phi_t)^\top}{\mu}

``P`` estimates the inverse correlation matrix of the features (Sussillo & Abbott 2009, "Generating
coherent patterns of activity from chaotic neural networks"). :math:`e_t` is the a-priori error,
computed with the weights before the update; FORCE feeds back the a-priori output
:math:`W \phi_t`. With :math:`\mu = 1` and :math:`\delta = \lambda` the weights after S steps
are those of ridge regression with penalty :math:`\lambda` on every column, intercept included.
Each step costs O(D²); P is updated in place by one BLAS rank-1 update.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.blas


class RLSReadout:
    """W (O, D) trained one row at a time.

    Arguments:
        features: D.
        outputs: O.
        delta: P_0 = I / delta (small delta: fast, aggressive early learning).
        forgetting: mu in (0, 1]; 1 weights all steps equally.
        weights: initial W (O, D); zeros when None.

    Example::

        >>> rls = RLSReadout(features=D, outputs=O, delta=1.0)
        >>> for phi, y in zip(features, targets):
        ...     y_before = rls.update(phi, y)   # prediction with the weights before this step
    """

    def __init__(
        self,
        features: int,
        outputs: int,
        *,
        delta: float = 1.0,
        forgetting: float = 1.0,
        weights: np.ndarray | None = None,
    ):
        self.P = np.eye(features) / delta  # symmetric, so its C array is also its Fortran array
        self.forgetting = forgetting
        self.W = np.zeros((outputs, features)) if weights is None else np.array(weights, np.float64)

    def update(self, phi: np.ndarray, y: np.ndarray) -> np.ndarray:
        """One RLS step on phi (D,), y (O,); returns the a-priori prediction W phi (O,)."""
        phi = np.asarray(phi, dtype=np.float64)
        prediction = self.W @ phi
        P_phi = self.P @ phi
        gain = P_phi / (self.forgetting + phi @ P_phi)
        self.W -= np.outer(prediction - y, gain)
        # P -= gain P_phiᵀ (symmetric rank-1 update, in place on P's Fortran view)
        scipy.linalg.blas.dger(-1.0, gain, P_phi, a=self.P.T, overwrite_a=True)
        if self.forgetting != 1.0:
            self.P /= self.forgetting
        return prediction

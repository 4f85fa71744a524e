r"""The reservoir update, the hot loop of every Echo State Network computation.

.. math::

    z_t = W x_{t-1} + d_t, \qquad d_t = W_{in} u_t + W_{back} \tilde y_{t-1} + b

    x_t = (1 - a)\, x_{t-1} + a\, f(z_t)

with leak rate ``a`` (1 gives the plain ESN) and activation ``f``. The drive :math:`d_t` does not
depend on the state, so it is formed for all steps before the loop, in the buffer the states are
written into (one matrix product), or by the native loop itself from the inputs; each step adds
the sparse product into its drive row in place, applies ``f`` and the leak in place, and moves
on.

Shapes: ``drive`` and the returned states are (T, N) for one sequence or (T, N, B) for B
sequences run together (each step's block is (N, B), the layout scipy's sparse kernel reads).

Why NumPy/SciPy and not torch, measured on the 2-core CPU this was written on (float64, 2 %
connectivity, leak and tanh included, one torch thread): one step of a 500-unit reservoir costs
8 µs here, 13 µs with the public ``W @ x``, 17 µs with a torch sparse CSR ``mv`` and 58 µs with a
dense torch ``mv``; at 10,000 units 3.6 ms, 4.1 ms and 5.4 ms. The sparse product calls scipy's
compiled CSR kernel directly (``scipy.sparse._sparsetools``), skipping the argument checks of
``W @ x``; when that private module is missing the public ``W @ x`` is used instead, with the
same result to rounding.

Faster still, where recur's native library loads (:mod:`recur.engine.native`): the whole loop
in C++ (``torch.ops.recur_native.reservoir_run``, csrc/reservoir.cpp), 2-4 µs a step at 500
units; its tanh is 2σ(2z) − 1, within a few ulp of NumPy's. From 20,000 non-zeros a step it
splits W's rows between torch's threads (``torch.set_num_threads``), with the same states whatever
the count: on 2 cores 2,100 steps of a 2,000-unit reservoir at 2 % take 42 instead of 78 ms,
of a 10,000-unit one 1.5 instead of 4.8 s. The barrier a step makes that split sensitive to a
busy machine: NumPy's and SciPy's OpenBLAS workers busy-wait ~0.1 s after a threaded product, and
a 2,000-unit loop started within that window took 80-140 ms instead of 42 (78 on one thread).
Switching to one thread when that happens was tried (timed segments) and did not help: one
thread inside the team ran 3x slower there too. ``native=False`` keeps NumPy.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import scipy.special
import torch

from recur.engine.native import load as load_native
from recur.engine.native import status as native_status
from recur.reservoir.checks import check_activation

#: the native kernel's activation codes, in order (csrc/reservoir.cpp)
NATIVE_ACTIVATIONS = ("tanh", "identity", "relu", "sigmoid")
#: up to this many inputs the native loop forms the drive b + W_in u_t itself, a step at a time;
#: beyond, one BLAS product beforehand costs less than K passes over a step's rows
FUSED_INPUTS = 16

try:  # the compiled kernel behind ``csr_matrix @ vector``; private, hence the fallback
    from scipy.sparse._sparsetools import csr_matvec, csr_matvecs
except ImportError:  # pragma: no cover - depends on the scipy version
    csr_matvec = csr_matvecs = None


def activate_(z: np.ndarray, activation: str) -> None:
    """Apply f in place."""
    if activation == "tanh":
        np.tanh(z, out=z)
    elif activation == "relu":
        np.maximum(z, 0.0, out=z)
    elif activation == "sigmoid":
        scipy.special.expit(z, out=z)


class Reservoir:
    """The fixed recurrent part: sparse ``W`` (N, N), leak rate ``a``, activation ``f``.

    Arguments:
        W: scipy sparse (N, N) matrix, converted to CSR.
        leak_rate: ``a`` in (0, 1].
        activation: ``"tanh"``, ``"identity"``, ``"relu"`` or ``"sigmoid"``.
        compiled: use scipy's compiled CSR kernel directly (default when available); ``False``
            forces the public ``W @ x``.
        native: run the whole loop in recur's native library (default when it loads);
            ``False`` keeps the NumPy loop above.

    Example::

        >>> reservoir = Reservoir(W, leak_rate=0.5, activation="tanh")
        >>> states = reservoir.run(inputs @ W_in.T + b, x0=np.zeros(W.shape[0]))  # (T, N)
    """

    def __init__(
        self, W, leak_rate: float = 1.0, activation: str = "tanh", compiled=None, native=None
    ):
        self.W = scipy.sparse.csr_matrix(W)
        self.W.sort_indices()
        self.size = self.W.shape[0]
        self.leak_rate = float(leak_rate)
        self.activation = check_activation(activation)
        if compiled and csr_matvec is None:
            raise ValueError("compiled: scipy.sparse._sparsetools is not available in this scipy")
        self.compiled = csr_matvec is not None if compiled is None else bool(compiled)
        self.native = bool(native) if native is not None else load_native()
        if self.native and not load_native():
            raise ValueError(
                "native: recur's native library is not available here "
                f"({native_status().reason}); pass native=False or leave it unset"
            )
        self._csr = None  # W's CSR arrays as torch tensors, made on the first native run

    def accumulate_(self, x: np.ndarray, z: np.ndarray) -> None:
        """z += W x, in place; x and z are (N,) or C-contiguous (N, B) of W's dtype."""
        W = self.W
        if not self.compiled:
            z += W @ x
        elif x.ndim == 1:
            csr_matvec(self.size, self.size, W.indptr, W.indices, W.data, x, z)
        else:
            csr_matvecs(self.size, self.size, x.shape[1], W.indptr, W.indices, W.data, x, z)

    def step(self, x_prev: np.ndarray, z: np.ndarray) -> np.ndarray:
        """One update: ``z`` holds the drive d_t on entry and x_t on return (no allocation)."""
        self.accumulate_(x_prev, z)
        activate_(z, self.activation)
        if self.leak_rate != 1.0:  # x_t = x_{t-1} + a (f(z_t) - x_{t-1})
            z -= x_prev
            z *= self.leak_rate
            z += x_prev
        return z

    def run(
        self,
        drive: np.ndarray,
        x0: np.ndarray,
        *,
        inputs: np.ndarray | None = None,
        input_weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
    ) -> np.ndarray:
        """Run over all steps; ``drive`` (T, N[, B]) is overwritten with the states x_0..x_{T-1}.

        Each step's block ``drive[t]`` must be C-contiguous; the steps need not be adjacent (the
        states may be columns of a wider feature matrix). With ``inputs`` u (T, K[, B]),
        ``input_weights`` (N, K) and ``bias`` (N), ``drive`` is only written: the drive is
        d_t = bias + input_weights u_t, formed inside the native loop for up to
        ``FUSED_INPUTS`` inputs (no pass over a (T, N) block before the loop), else first.
        """
        if drive.dtype != self.W.dtype or not drive[0].flags.c_contiguous:
            raise ValueError(
                f"drive: expected {self.W.dtype} steps drive[t] that are C-contiguous, "
                f"got dtype {drive.dtype} with strides {drive.strides}"
            )
        if inputs is not None or input_weights is not None or bias is not None:
            self._check_inputs(drive, inputs, input_weights, bias)
        x = np.ascontiguousarray(x0, dtype=drive.dtype)
        fused = inputs is not None and self.native and inputs.shape[1] <= FUSED_INPUTS
        if inputs is not None and not fused:  # (T, K) (N, K)ᵀ or (N, K) (T, K, B)
            if drive.ndim == 2:
                np.matmul(inputs, input_weights.T, out=drive)
            else:
                np.matmul(input_weights, inputs, out=drive)
            drive += bias[:, None] if drive.ndim == 3 else bias
        if self.native and len(drive):
            given = (inputs, input_weights, bias) if fused else ()
            self._run_native(drive, x, *(np.ascontiguousarray(a, drive.dtype) for a in given))
            return drive
        for z in drive:
            x = self.step(x, z)
        return drive

    @staticmethod
    def _check_inputs(drive, inputs, input_weights, bias) -> None:
        """inputs (T, K[, B]), input_weights (N, K) and bias (N), all three or none."""
        T, N = drive.shape[:2]
        batch = ", B" if drive.ndim == 3 else ""
        shapes = [getattr(a, "shape", None) for a in (inputs, input_weights, bias)]
        K = shapes[1][1] if shapes[1] is not None and len(shapes[1]) == 2 else None
        expected_inputs = (T, K, *drive.shape[2:])
        if K is None or shapes != [expected_inputs, (N, K), (N,)]:
            raise ValueError(
                f"inputs, input_weights, bias: expected (T={T}, K{batch}) inputs, ({N}, K) "
                f"weights and a ({N},) bias for a drive of shape {drive.shape}, got shapes "
                f"{shapes[0]}, {shapes[1]} and {shapes[2]}"
            )

    def _run_native(self, drive: np.ndarray, x0: np.ndarray, *fused_drive: np.ndarray) -> None:
        if self._csr is None:
            W = self.W
            index = np.result_type(W.indptr, W.indices)  # int32 unless W is huge
            self._csr = (
                torch.from_numpy(W.indptr.astype(index)),
                torch.from_numpy(W.indices.astype(index)),
                torch.from_numpy(W.data),
            )
        indptr, indices, data = self._csr
        torch.ops.recur_native.reservoir_run(
            torch.from_numpy(drive),
            indptr,
            indices,
            data,
            torch.from_numpy(x0),
            self.leak_rate,
            NATIVE_ACTIVATIONS.index(self.activation),
            *(torch.from_numpy(a) for a in fused_drive),
        )

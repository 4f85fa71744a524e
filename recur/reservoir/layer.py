r"""A fixed reservoir as a torch layer, to put Echo State Network states inside any model.

.. math::

    x_t = (1 - a)\, x_{t-1} + a\, f(W x_{t-1} + W_{in} u_t + b)

Shapes, as torch.nn.RNN: input (L, B, H_in) — (B, L, H_in) with ``batch_first``, or unbatched
(L, H_in); output (L, B, N) states; ``h_n`` (1, B, N). Nothing is trainable: W (sparse, stored as
COO ``weight_hh_indices`` / ``weight_hh_values``), ``weight_ih`` (= W_in) and ``bias`` are buffers,
so they follow ``.to()`` and ``state_dict`` but no optimiser. Put a readout after the layer and
train it with an optimiser, or by ridge regression with :func:`fit_readout`.

Two implementations, chosen in one place (:meth:`ESNLayer.forward`, argument ``impl``):
``"fast"`` runs the NumPy/SciPy kernel of :mod:`.kernel` (CPU, no gradient); ``"reference"`` runs
torch ops with a sparse COO W and is differentiable with respect to the input and ``hx`` (for a
reservoir behind trainable layers). ``"auto"`` takes the fast one unless a gradient is needed or
the buffers are not on the CPU. Both give the same states.
"""

from __future__ import annotations

import weakref

import numpy as np
import scipy.sparse
import torch
from torch import Tensor, nn

from recur.reservoir.checks import (
    check_activation,
    check_int,
    check_nonnegative,
    check_positive,
    check_unit_interval,
)
from recur.reservoir.kernel import Reservoir
from recur.reservoir.matrices import draw_weights
from recur.reservoir.readout import RidgeReadout

IMPLS = ("auto", "fast", "reference")
DENSE_LIMIT = 1024  # reference path: dense W up to this many units
TORCH_ACTIVATIONS = {
    "tanh": torch.tanh,
    "identity": lambda z: z,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
}


class ESNLayer(nn.Module):
    """Reservoir states of a leaky-integrator Echo State Network (no readout).

    Arguments:
        input_size: H_in.
        reservoir_size: N.
        connectivity, spectral_radius, input_scaling, bias_scaling, leak_rate, activation, seed:
            as in :class:`~recur.reservoir.EchoStateNetwork` (the same seed draws the same W,
            W_in and b).
        batch_first: input and output as (B, L, ·).
        impl: ``"auto"``, ``"fast"`` or ``"reference"`` (see the module docstring).
        device, dtype: of the buffers (dtype defaults to torch's default dtype).

    Example::

        >>> reservoir = ESNLayer(3, 300, spectral_radius=0.9, seed=0)
        >>> readout = nn.Linear(300, 2)
        >>> states, h_n = reservoir(torch.randn(50, 8, 3))      # (50, 8, 300), (1, 8, 300)
        >>> fit_readout(readout, states[10:], targets[10:], ridge=1e-6)   # or an optimiser
    """

    def __init__(
        self,
        input_size: int,
        reservoir_size: int,
        *,
        connectivity: float = 0.02,
        spectral_radius: float = 0.9,
        input_scaling: float = 1.0,
        bias_scaling: float = 0.2,
        leak_rate: float = 1.0,
        activation: str = "tanh",
        seed: int | None = None,
        batch_first: bool = False,
        impl: str = "auto",
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.reservoir_size = check_int("reservoir_size", reservoir_size)
        self.leak_rate = check_unit_interval("leak_rate", leak_rate)
        self.activation = check_activation(activation)
        self.batch_first = bool(batch_first)
        if impl not in IMPLS:
            raise ValueError(f"impl: expected one of {IMPLS}, got {impl!r}")
        self.impl = impl
        seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else seed
        weights = draw_weights(
            input_size, reservoir_size, 1,
            connectivity=check_unit_interval("connectivity", connectivity),
            spectral_radius=check_positive("spectral_radius", spectral_radius),
            input_scaling=check_nonnegative("input_scaling", input_scaling),
            bias_scaling=check_nonnegative("bias_scaling", bias_scaling),
            feedback=False, feedback_scaling=0.0, seed=check_int("seed", seed, minimum=0),
        )  # fmt: skip
        W = weights.W.tocoo()
        factory = {"device": device, "dtype": dtype or torch.get_default_dtype()}
        indices = torch.from_numpy(np.stack([W.row, W.col]).astype(np.int64))
        self.register_buffer("weight_hh_indices", indices.to(device))
        self.register_buffer("weight_hh_values", torch.from_numpy(W.data).to(**factory))
        self.register_buffer("weight_ih", torch.from_numpy(weights.W_in).to(**factory))
        self.register_buffer("bias", torch.from_numpy(weights.b).to(**factory))

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.reservoir_size}, leak_rate={self.leak_rate}, "
            f"activation={self.activation!r}, batch_first={self.batch_first}, impl={self.impl!r}"
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """States for every step and the last state: (output (L, B, N), h_n (1, B, N))."""
        values = self.weight_hh_values
        if not isinstance(input, Tensor) or input.dim() not in (2, 3):
            raise ValueError(
                "input: expected a 3-D tensor (L, B, H_in) ((B, L, H_in) with batch_first) or "
                f"2-D (L, H_in), got {getattr(input, 'shape', type(input).__name__)}"
            )
        if input.shape[-1] != self.input_size or input.shape[-2 if input.dim() == 2 else 0] == 0:
            raise ValueError(
                f"input: expected last dimension input_size={self.input_size} and at least "
                f"one step, got shape {tuple(input.shape)}"
            )
        if input.dtype != values.dtype or input.device != values.device:
            raise ValueError(
                f"input: expected dtype {values.dtype} on {values.device} (the layer's buffers), "
                f"got {input.dtype} on {input.device}"
            )
        unbatched = input.dim() == 2
        u = (
            input.unsqueeze(1)
            if unbatched
            else (input.transpose(0, 1) if self.batch_first else input)
        )
        x0 = self._initial_state(hx, u.shape[1], unbatched)
        needs_grad = torch.is_grad_enabled() and (u.requires_grad or x0.requires_grad)
        impl = self.impl
        if impl == "auto":
            impl = "reference" if needs_grad or values.device.type != "cpu" else "fast"
        elif impl == "fast" and (needs_grad or values.device.type != "cpu"):
            raise ValueError(
                "impl: 'fast' runs on the CPU without gradients, got "
                + ("an input that needs a gradient" if needs_grad else f"device {values.device}")
            )
        states = self._fast(u, x0) if impl == "fast" else self._reference(u, x0)
        h_n = states[-1].unsqueeze(0)
        if unbatched:
            return states[:, 0], h_n[:, 0]
        return (states.transpose(0, 1) if self.batch_first else states), h_n

    def _initial_state(self, hx: Tensor | None, batch: int, unbatched: bool) -> Tensor:
        values = self.weight_hh_values
        shape = (1, self.reservoir_size) if unbatched else (1, batch, self.reservoir_size)
        if hx is None:
            return values.new_zeros(batch, self.reservoir_size)
        if not isinstance(hx, Tensor) or tuple(hx.shape) != shape:
            raise ValueError(f"hx: expected shape {shape}, got {getattr(hx, 'shape', hx)}")
        if hx.dtype != values.dtype or hx.device != values.device:
            raise ValueError(
                f"hx: expected dtype {values.dtype} on {values.device}, "
                f"got {hx.dtype} on {hx.device}"
            )
        return hx.reshape(batch, self.reservoir_size)

    def _fast(self, u: Tensor, x0: Tensor) -> Tensor:
        """NumPy/SciPy kernel, states laid out (L, N, B) for the batched sparse product; the
        native loop forms the drive b + W_in u_t from u laid out (L, H_in, B)."""
        states = np.empty((u.shape[0], self.reservoir_size, u.shape[1]), dtype=u.numpy().dtype)
        self._kernel().run(
            states,
            x0.T.contiguous().numpy(),
            inputs=u.permute(0, 2, 1).contiguous().numpy(),
            input_weights=self.weight_ih.numpy(),
            bias=self.bias.numpy(),
        )
        return torch.from_numpy(states).permute(0, 2, 1).contiguous()

    def _kernel(self) -> Reservoir:
        """The CSR reservoir of the W buffers, rebuilt only when they or the leak rate and
        activation change (``.to()``, ``load_state_dict``, in-place writes): at 10,000 units
        building it took 11-25 ms a call, a third of a 20-step run of batch 4."""
        indices, values = self.weight_hh_indices, self.weight_hh_values
        # weak references: a stale cache must not keep replaced buffers alive
        key = (indices._version, values._version, self.leak_rate, self.activation)
        cached = self.__dict__.get("_cached_kernel")
        if not (
            cached is not None
            and cached[0]() is indices
            and cached[1]() is values
            and cached[2] == key
        ):
            n = self.reservoir_size
            rows, cols = indices.numpy()
            W = scipy.sparse.csr_matrix((values.numpy(), (rows, cols)), shape=(n, n))
            kernel = Reservoir(W, self.leak_rate, self.activation)
            self._cached_kernel = (weakref.ref(indices), weakref.ref(values), key, kernel)
        return self._cached_kernel[3]

    def __getstate__(self):
        """Pickled (``torch.save(layer)``, ``copy.deepcopy``) without the kernel cache."""
        state = dict(super().__getstate__())  # a copy: object's is the live __dict__
        state.pop("_cached_kernel", None)
        return state

    def _reference(self, u: Tensor, x0: Tensor) -> Tensor:
        """Torch ops, differentiable: z_t = x_{t-1} Wᵀ + d_t.

        W is dense up to ``DENSE_LIMIT`` units (torch's sparse product costs more than a small
        dense one) and a sparse COO tensor above.
        """
        n = self.reservoir_size
        W = torch.sparse_coo_tensor(
            self.weight_hh_indices, self.weight_hh_values, (n, n), check_invariants=False
        ).coalesce()
        if n <= DENSE_LIMIT:
            W_T = W.to_dense().T

            def recurrent(x: Tensor) -> Tensor:
                return x @ W_T
        else:

            def recurrent(x: Tensor) -> Tensor:
                return torch.sparse.mm(W, x.T).T

        f = TORCH_ACTIVATIONS[self.activation]
        drive = u @ self.weight_ih.T + self.bias
        x, states = x0, []
        for d_t in drive:
            z = d_t + recurrent(x)
            x = x + self.leak_rate * (f(z) - x)
            states.append(x)
        return torch.stack(states)


def fit_readout(
    readout: nn.Linear, features: Tensor, targets: Tensor, *, ridge: float
) -> nn.Linear:
    r"""Set ``readout`` (an nn.Linear) to the ridge solution of targets ≈ readout(features).

    ``features`` (..., F) and ``targets`` (..., O) are flattened over their leading dimensions;
    the bias is not penalised (see :mod:`.readout`). Returns ``readout``.
    """
    if features.shape[:-1] != targets.shape[:-1]:
        raise ValueError(
            f"targets: expected leading shape {tuple(features.shape[:-1])} (as features), "
            f"got {tuple(targets.shape[:-1])}"
        )
    if (
        readout.in_features,
        readout.out_features,
        readout.bias is not None,
    ) != (features.shape[-1], targets.shape[-1], True):
        raise ValueError(
            f"readout: expected nn.Linear({features.shape[-1]}, {targets.shape[-1]}) with a bias, "
            f"got {readout}"
        )
    phi = features.detach().reshape(-1, features.shape[-1]).cpu().double().numpy()
    y = targets.detach().reshape(-1, targets.shape[-1]).cpu().double().numpy()
    solver = RidgeReadout(1 + phi.shape[1], y.shape[1])
    solver.add(np.concatenate([np.ones((len(phi), 1)), phi], axis=1), y)
    W_out = torch.from_numpy(solver.solve(check_nonnegative("ridge", ridge)))
    with torch.no_grad():
        readout.weight.copy_(W_out[:, 1:])
        readout.bias.copy_(W_out[:, 0])
    return readout

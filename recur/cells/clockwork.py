"""The Clockwork RNN cell (Koutník, Greff, Gomez & Schmidhuber 2014)."""

from __future__ import annotations

import torch
from torch import Tensor

from recur.cells.activations import tanh
from recur.cells.base import Cell, ParamGrad, Params, State
from recur.cells.elman import NONLINEARITIES

#: the default number of modules: the largest of these that divides hidden_size
DEFAULT_MODULES = (4, 3, 2, 1)


def check_periods(periods, hidden_size: int) -> tuple[int, ...]:
    """Validate ``periods`` and return it as a tuple of ints (see :class:`ClockworkCell`).

    None gives the default (powers of two, as many modules as the largest of 4, 3, 2, 1 dividing
    hidden_size); an int g gives the first g powers of two (1, 2, ..., 2^(g-1)).
    """
    given = periods
    if periods is None:
        count = next(g for g in DEFAULT_MODULES if hidden_size % g == 0)
        return tuple(2**k for k in range(count))
    if isinstance(periods, int) and not isinstance(periods, bool):
        if periods < 1:
            raise ValueError(f"periods: expected a number of modules >= 1, got {given!r}")
        periods = tuple(2**k for k in range(periods))
    elif isinstance(periods, (str, bytes)) or not hasattr(periods, "__iter__"):
        raise ValueError(f"periods: expected a sequence of positive ints or an int, got {given!r}")
    periods = tuple(periods)
    if not periods:
        raise ValueError(f"periods: expected a non-empty sequence of positive ints, got {given!r}")
    if any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in periods):
        raise ValueError(f"periods: expected positive ints, got {given!r}")
    if any(a >= b for a, b in zip(periods, periods[1:])):
        raise ValueError(f"periods: expected strictly increasing periods, got {given!r}")
    if hidden_size % len(periods):
        raise ValueError(
            f"periods: expected a number of modules dividing hidden_size={hidden_size}, "
            f"got {len(periods)} periods {periods}"
        )
    return periods


class ClockworkCell(Cell):
    r"""Clockwork RNN: an Elman cell whose hidden units are modules ticking at their own periods.

    The H units are split into g = len(periods) equal modules of H/g units; module k has period
    T_k, T_1 < ... < T_g. With a_t the (H,) mask of units whose module is active at step t
    (counting from 0), i.e. t mod T_k = 0, and f = tanh or ReLU:

    .. math::
        z_t = W_{ih} x_t + b_{ih} + (W_{hh} \odot M) h_{t-1} + b_{hh} \\
        h_t = a_t \odot f(z_t) + (1 - a_t) \odot h_{t-1}

    M is block upper triangular: module k reads the recurrent input of modules j with
    T_j >= T_k only (slow modules feed fast ones). ``weight_hh`` holds zeros on the masked
    blocks from :meth:`reset_parameters` on, and :meth:`recurrent_params` multiplies by M under
    autograd, so its gradient is exactly zero there and no optimizer moves them.

    ``periods`` (see :func:`check_periods`): default None, the powers of two 1, 2, 4, 8 when 4
    divides H (else 3, 2 or 1 modules), an int g for the first g powers of two, or any strictly
    increasing sequence of positive ints whose length divides H. At step 0 every module is
    active. The reverse direction of a bidirectional layer counts t from each sequence's own end.

    Backward (y = f(z); the masks make inactive units pass their gradient straight through):
        dz = a_t ⊙ dh ⊙ f'(z) with tanh' = 1 - h², relu' = [h > 0] (h = y where a_t = 1)
        dh_{t-1} = (W_hh ⊙ M)^T dz + (1 - a_t) ⊙ dh,  dW_hh = M ⊙ Σ dzᵀ h_{t-1} (by autograd)
    """

    num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        periods=None,
    ):
        super().__init__(input_size, hidden_size, bias)
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        self.periods = check_periods(periods, hidden_size)
        self.module_size = hidden_size // len(self.periods)
        self._weight_masks: dict[tuple[torch.device, torch.dtype], Tensor] = {}
        self._active_masks: dict[tuple[torch.device, tuple[bool, ...]], Tensor] = {}

    # ----------------------------------------------------------------- masks
    def module_of_unit(self, device=None) -> Tensor:
        """(H,) index of the module of each hidden unit."""
        return torch.arange(self.hidden_size, device=device) // self.module_size

    def weight_mask(self, device, dtype) -> Tensor:
        """(H, H) block upper triangular M: M[u, v] = 1 if module(v) >= module(u)."""
        key = (torch.device(device), dtype)
        if key not in self._weight_masks:
            module = self.module_of_unit(device)
            self._weight_masks[key] = (module.unsqueeze(0) >= module.unsqueeze(1)).to(dtype)
        return self._weight_masks[key]

    def active(self, t: int) -> tuple[bool, ...]:
        """Which modules update at step t."""
        return tuple(t % period == 0 for period in self.periods)

    def active_mask(self, t: int | Tensor, device) -> Tensor:
        """(1, H) boolean a_t; one tensor per distinct pattern of active modules and device.

        ``t`` may be a 0-d integer tensor (the scan engine's traced step index): a_t is then
        computed as a tensor, t mod T_k == 0 per unit, uncached.
        """
        if isinstance(t, Tensor):
            modules = [(t % period == 0).expand(self.module_size) for period in self.periods]
            return torch.cat(modules).unsqueeze(0)
        pattern = self.active(t)
        key = (torch.device(device), pattern)
        if key not in self._active_masks:
            modules = torch.tensor(pattern, device=device)
            self._active_masks[key] = modules.repeat_interleave(self.module_size).unsqueeze(0)
        return self._active_masks[key]

    # ----------------------------------------------------------------- parameters
    def reset_parameters(self, params: Params) -> None:
        """torch.nn's default U(-1/sqrt(H), 1/sqrt(H)), then zero the masked blocks of W_hh."""
        super().reset_parameters(params)
        with torch.no_grad():
            w = params["weight_hh"]
            w.masked_fill_(self.weight_mask(w.device, w.dtype) == 0, 0.0)

    def recurrent_params(self, params: Params) -> Params:
        """W_hh ⊙ M under autograd, so that dW_hh is masked too."""
        recurrent = super().recurrent_params(params)
        w = recurrent["weight_hh"]
        recurrent["weight_hh"] = w * self.weight_mask(w.device, w.dtype)
        return recurrent

    # ----------------------------------------------------------------- math
    def step(self, xp_t: Tensor, state: State, params: Params, t: int) -> tuple[State, tuple]:
        (h_prev,) = state
        z = xp_t + self.recurrent_gemm(h_prev, params)
        y = tanh(z) if self.nonlinearity == "tanh" else torch.relu(z)
        h = torch.where(self.active_mask(t, y.device), y, h_prev)
        return (h,), (h_prev, h)

    def step_backward(
        self, d_state: State, saved: tuple, params: Params, t: int
    ) -> tuple[Tensor, State, list[ParamGrad]]:
        (dh,) = d_state
        h_prev, h = saved
        active = self.active_mask(t, dh.device)
        dy = dh * (1 - h * h) if self.nonlinearity == "tanh" else dh * (h > 0).to(dh.dtype)
        dz = torch.where(active, dy, 0.0)
        dh_rec, terms = self.recurrent_backward(dz, h_prev, params)
        return dz, (torch.where(active, 0.0, dh) + dh_rec,), terms

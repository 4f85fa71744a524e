r"""``--model esn``: an Echo State Network reads the window; a ridge readout forecasts from it.

.. math::

    x_t = (1 - a)\, x_{t-1} + a \tanh(W x_{t-1} + W_{in} u_t + b), \quad x_0 = 0,\ t = 1..L

    \hat y_{L+1..L+K} = W_{out} [1;\ u_L;\ x_L]

The reservoir (:class:`recur.reservoir.ESNLayer`: sparse random W scaled to a spectral radius,
W_in, b; the same draws as :class:`recur.reservoir.EchoStateNetwork` for the same seed) is never
trained; :math:`W_{out}` is the ridge regression of every training window's K targets on its
features, solved once (:func:`recur.reservoir.fit_readout`), with no gradient steps; unless
given, the penalty is the one of ``RIDGES`` (1e-8 to 1000) that forecasts the validation windows
best (a long clean series wants almost none, a short noisy one a lot). Each window
starts from a zero state, so the ESN reads exactly what the recurrent model reads (the last L
rows) and forecasts from the same origins.

Strategies: "direct" (K = H) has one readout row block per horizon step; "autoregressive"
(K = 1) predicts one step and :func:`recur.models.forecaster.forecast` feeds it back into the
window H times (each step re-reads the shifted window from a zero state, as in training).

The module keeps the reservoir as buffers and the readout as an ``nn.Linear``, so a run saves and
reloads it like any other model (``model.safetensors``); it computes in float64.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur.models.forecaster import forecast
from recur.reservoir.layer import ESNLayer, fit_readout

FIT_CHUNK = 256  # windows run through the reservoir at once while fitting
#: the penalties tried when none is given, by validation error
RIDGES = tuple(10.0**k for k in range(-8, 4))


class ReservoirForecaster(nn.Module):
    """Window (B, L, C) → next ``output_steps`` values (B, K, C) through a fixed reservoir.

    Arguments:
        input_size: C.
        output_steps: K.
        reservoir_size, spectral_radius, leak_rate, input_scaling, connectivity, seed: of the
            reservoir (see :class:`recur.reservoir.ESNLayer`).

    Example::

        esn = ReservoirForecaster(1, 10, reservoir_size=300, seed=0)
        esn.fit(windows, targets, ridge=1e-4)     # (N, L, 1), (N, 10, 1)
        future = esn(windows[:4])                 # (4, 10, 1)
    """

    def __init__(
        self,
        input_size: int,
        output_steps: int,
        *,
        reservoir_size: int = 300,
        spectral_radius: float = 0.9,
        leak_rate: float = 1.0,
        input_scaling: float = 0.5,
        connectivity: float = 0.05,
        seed: int = 0,
    ):
        super().__init__()
        self.input_size, self.output_steps = input_size, output_steps
        self.reservoir = ESNLayer(
            input_size,
            reservoir_size,
            connectivity=connectivity,
            spectral_radius=spectral_radius,
            input_scaling=input_scaling,
            leak_rate=leak_rate,
            seed=seed,
            batch_first=True,
            dtype=torch.float64,
        )
        self.readout = nn.Linear(
            input_size + reservoir_size, output_steps * input_size, dtype=torch.float64
        )

    def features(self, window: Tensor) -> Tensor:
        """[u_L, x_L] (B, C + N) of each window (no gradient: the reservoir is fixed)."""
        with torch.no_grad():
            u = window.detach().to(torch.float64)
            states, _ = self.reservoir(u)
            return torch.cat([u[:, -1], states[:, -1]], dim=1)

    def forward(self, window: Tensor) -> Tensor:
        """(B, L, C) → (B, K, C), in the window's dtype."""
        out = self.readout(self.features(window))
        return out.view(len(window), self.output_steps, self.input_size).to(window.dtype)

    def fit(self, windows: Tensor, targets: Tensor, *, ridge, valid=None) -> float:
        """Ridge readout of ``targets`` (N, K, C) on the features of ``windows`` (N, L, C).

        ``ridge``: the penalty, or a sequence of candidates, each tried; the one whose forecasts
        of ``valid`` = (windows (M, L, C), targets (M, H, C)) have the least mean squared error
        is kept. Returns the penalty used.
        """
        features = torch.cat([self.features(part) for part in windows.split(FIT_CHUNK)])
        flat = targets.reshape(len(targets), -1).double()
        if isinstance(ridge, (int, float)):
            fit_readout(self.readout, features, flat, ridge=ridge)
            return float(ridge)
        inputs, truth = valid
        best = (math.inf, None, None)
        for candidate in ridge:
            fit_readout(self.readout, features, flat, ridge=candidate)
            with torch.no_grad():
                error = float(F.mse_loss(forecast(self, inputs, truth.shape[1]), truth))
            if error < best[0]:
                best = (
                    error,
                    candidate,
                    {k: v.clone() for k, v in self.readout.state_dict().items()},
                )
        if best[1] is None:
            raise ValueError("model.ridge: every penalty tried gave a non-finite validation error")
        self.readout.load_state_dict(best[2])
        return float(best[1])

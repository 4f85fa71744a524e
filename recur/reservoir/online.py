r"""Online readout training: recursive least squares over the states, FORCE with feedback.

Without feedback the states do not depend on :math:`W_{out}`, so the reservoir runs at full speed
first and RLS (:mod:`.rls`) then visits the rows :math:`\phi_t` one by one.

With feedback this is FORCE learning (Sussillo & Abbott 2009): during the washout the reservoir
is teacher-forced, :math:`\tilde y_{t-1} = y_{t-1}`; afterwards it is fed the network's own
a-priori output :math:`\tilde y_{t-1} = W_{out} \phi_{t-1}` while RLS updates :math:`W_{out}`
at every step to keep that output on the target, so the network learns in the closed loop it
will later run in.
"""

from __future__ import annotations

import numpy as np

from recur.reservoir.checks import check_positive, check_unit_interval
from recur.reservoir.rls import RLSReadout


def fit_online(esn, us, ys, washout: int, *, delta: float, forgetting: float) -> np.ndarray:
    """Train ``esn``'s readout on validated sequences; returns the new W_out (O, D).

    Starts from the current W_out (zeros before any fit) with :math:`P_0 = I / \\delta`.
    """
    check_positive("delta", delta)
    check_unit_interval("forgetting", forgetting)
    c = esn.config
    rls = RLSReadout(
        c.feature_size, c.output_size, delta=delta, forgetting=forgetting, weights=esn.W_out
    )
    for u, y in zip(us, ys):
        if c.feedback:
            _force(esn, u, y, washout, rls)
            continue
        phi = esn._run(u, esn._zeros(len(u), 0), esn._zeros(c.reservoir_size))
        for phi_t, y_t in zip(phi[washout:], y[washout:]):
            rls.update(phi_t, y_t)
    return rls.W


def _force(esn, u: np.ndarray, y: np.ndarray, washout: int, rls: RLSReadout) -> None:
    c, w = esn.config, esn.weights
    I, N = c.input_size, c.reservoir_size
    drive = u @ w.W_in.T + w.b
    x, fed = esn._zeros(N), esn._zeros(c.output_size)
    phi = np.ones(c.feature_size)
    for t in range(len(u)):
        x = esn.reservoir.step(x, drive[t] + w.W_back @ fed)
        phi[1 : 1 + I], phi[1 + I : 1 + I + N], phi[1 + I + N :] = u[t], x, fed
        fed = y[t] if t < washout else rls.update(phi, y[t]).astype(c.np_dtype)

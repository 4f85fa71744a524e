r"""Series for reservoir tasks, generated on the spot (nothing is downloaded).

Mackey–Glass, the classic benchmark of chaotic time-series prediction (Mackey & Glass 1977;
Jaeger & Haas 2004), is the delay differential equation

.. math::

    \frac{dx}{dt} = \frac{a\, x(t - \tau)}{1 + x(t - \tau)^{n}} - b\, x(t)

chaotic for :math:`\tau = 17` (a = 0.2, b = 0.1, n = 10). It is integrated here by fourth-order
Runge–Kutta with step ``dt`` (0.1 by default, so that the delay is a whole number of steps; the
delayed value at half steps is the mean of its neighbours, which makes the scheme second order
in dt), from a history ``x0`` perturbed by
±1 % at whole time units (drawn from ``seed``), and sampled every ``sample_step`` time units (1 by
default) after a transient of ``discard`` samples.
"""

from __future__ import annotations

import numpy as np


def mackey_glass(
    n_steps: int,
    *,
    tau: float = 17.0,
    a: float = 0.2,
    b: float = 0.1,
    n: float = 10.0,
    dt: float = 0.1,
    sample_step: float = 1.0,
    x0: float = 1.2,
    discard: int = 500,
    seed: int = 0,
) -> np.ndarray:
    """``n_steps`` samples (float64, shape (n_steps,)) of the Mackey–Glass series.

    Example::

        >>> series = scale(mackey_glass(5000))   # tau = 17, in [-1, 1]
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps: expected an int >= 1, got {n_steps!r}")
    delay = round(tau / dt)
    every = round(sample_step / dt)
    if delay < 1 or abs(delay * dt - tau) > 1e-9 * max(1.0, tau):
        raise ValueError(f"dt: expected a divisor of tau={tau}, got {dt}")
    if every < 1 or abs(every * dt - sample_step) > 1e-9 * max(1.0, sample_step):
        raise ValueError(f"sample_step: expected a multiple of dt={dt}, got {sample_step}")
    total = (n_steps + discard) * every
    # history on [-tau, 0]: x0 perturbed at whole time units by ``seed``, linear in between, so
    # that a smaller dt integrates the same problem more finely
    knots = np.arange(-np.ceil(tau), 1.0)
    perturbation = 0.02 * (np.random.default_rng(seed).random(len(knots)) - 0.5)
    history = (x0 + np.interp(np.arange(-delay, 1) * dt, knots, perturbation)).tolist()
    history += [0.0] * total  # Python floats: the scalar loop is 5x faster than on array items

    def rate(x_now: float, x_delayed: float) -> float:
        return a * x_delayed / (1.0 + x_delayed**n) - b * x_now

    for i in range(delay, delay + total):
        x_now, lag0, lag1 = history[i], history[i - delay], history[i - delay + 1]
        lag_half = 0.5 * (lag0 + lag1)
        k1 = rate(x_now, lag0)
        k2 = rate(x_now + 0.5 * dt * k1, lag_half)
        k3 = rate(x_now + 0.5 * dt * k2, lag_half)
        k4 = rate(x_now + dt * k3, lag1)
        history[i + 1] = x_now + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    samples = np.asarray(history[delay + discard * every :: every])
    return samples[:n_steps]


def scale(series, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Affine map of ``series`` onto [low, high] (its minimum to ``low``, maximum to ``high``)."""
    series = np.asarray(series, dtype=np.float64)
    lo, hi = series.min(), series.max()
    if hi <= lo:
        raise ValueError(f"series: expected varying values, got a constant {lo}")
    return low + (series - lo) * (high - low) / (hi - lo)

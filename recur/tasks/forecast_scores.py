r"""Forecast errors and the two baselines every forecast must beat, on the same windows.

For N windows of H steps and C columns (original units), with truth :math:`y` and forecast
:math:`\hat y`:

.. math::

    \mathrm{MAE} = \mathrm{mean}\,|y - \hat y|, \qquad
    \mathrm{RMSE} = \sqrt{\mathrm{mean}\,(y - \hat y)^2}, \qquad
    \mathrm{MASE}_m = \frac{1}{C}\sum_c \frac{\mathrm{MAE}_c}{s_{m,c}}, \quad
    s_{m,c} = \frac{1}{n - m} \sum_{t=m}^{n-1} |x_{t,c} - x_{t-m,c}|

(Hyndman & Koehler 2006): the scale :math:`s_m` is the in-sample MAE of the seasonal-naive
one-step forecast with lag m over the n training rows, so MASE is unit-free and comparable
across columns; ``mase`` uses m = 1 (the naive forecast), ``mase_seasonal`` the season m (columns
whose training rows repeat exactly with lag m have :math:`s_m = 0` and are left out; None if all
are). MAE and RMSE mix the columns' units when there are several. NRMSE is the RMSE over the
standard deviation of the truth (per column, then averaged; :func:`recur.reservoir.nrmse`).

Baselines from origin t (the last observed row), for h = 1..H: naive :math:`\hat y_{t+h} = x_t`;
seasonal naive :math:`\hat y_{t+h} = x_{t+h-m\lceil h/m\rceil}` (the last observed value at the
same phase of the season). Both read the whole series before t, not only the lookback window.
"""

from __future__ import annotations

import numpy as np

from recur.reservoir.metrics import nrmse


def in_sample_scale(train: np.ndarray, lag: int) -> list[float]:
    """Per-column mean |x_t - x_{t-lag}| over the training rows (T_train, C)."""
    return np.abs(train[lag:] - train[:-lag]).mean(0).tolist()


def truths(values: np.ndarray, origins: range, horizon: int) -> np.ndarray:
    """(N, H, C) values after each origin."""
    return np.stack([values[t + 1 : t + 1 + horizon] for t in origins])


def naive(values: np.ndarray, origins: range, horizon: int) -> np.ndarray:
    """(N, H, C): the last observed value, repeated."""
    return np.stack([np.repeat(values[t : t + 1], horizon, axis=0) for t in origins])


def seasonal_naive(values: np.ndarray, origins: range, horizon: int, season: int) -> np.ndarray:
    """(N, H, C): the last observed value at the same phase of the season (needs t >= m - 1)."""
    steps = np.arange(1, horizon + 1)
    back = steps - season * np.ceil(steps / season).astype(int)  # in [1 - m, 0]
    if origins and origins[0] + back.min() < 0:
        raise ValueError(f"season: the first origin {origins[0]} has less than {season} rows")
    return np.stack([values[t + back] for t in origins])


def errors(truth: np.ndarray, forecast: np.ndarray, scales: dict[str, list[float]]) -> dict:
    """mae, rmse and one MASE per scale (e.g. {"mase": s_1, "mase_seasonal": s_m})."""
    diff = np.abs(truth - forecast).reshape(-1, truth.shape[-1])
    result = {"mae": float(diff.mean()), "rmse": float(np.sqrt((diff**2).mean()))}
    for name, scale in scales.items():
        scale = np.asarray(scale)
        usable = scale > 0  # a column repeating itself exactly in training has no scale
        ratios = diff.mean(0)[usable] / scale[usable]
        result[name] = float(ratios.mean()) if usable.any() else None
    return result


def report(
    truth: np.ndarray,
    forecast: np.ndarray,
    values: np.ndarray,
    origins: range,
    meta: dict,
) -> dict:
    """The model's metrics and the baselines' on the same windows (original units).

    Keys: mae, rmse, nrmse, mase, mase_seasonal; naive_mae, naive_rmse, naive_mase;
    seasonal_naive_mae, seasonal_naive_rmse, seasonal_naive_mase (MASE with the m = 1 scale, the
    model's ``mase`` comparable to them); season, horizon, windows.
    """
    horizon, season = meta["horizon"], meta["season"]
    scales = {"mase": meta["naive_scale"], "mase_seasonal": meta["seasonal_scale"]}
    one = {"mase": meta["naive_scale"]}
    flat = truth.reshape(-1, truth.shape[-1])
    result = {
        **errors(truth, forecast, scales),
        "nrmse": nrmse(flat, forecast.reshape(flat.shape)),
    }
    baselines = {
        "naive": naive(values, origins, horizon),
        "seasonal_naive": seasonal_naive(values, origins, horizon, season),
    }
    for name, baseline in baselines.items():
        result.update({f"{name}_{k}": v for k, v in errors(truth, baseline, one).items()})
    result.update(season=season, horizon=horizon, windows=len(origins))
    return result

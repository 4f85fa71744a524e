r"""Error measures of predictions against the truth.

.. math::

    \mathrm{RMSE} = \sqrt{\tfrac{1}{T} \textstyle\sum_t (y_t - \hat y_t)^2}, \qquad
    \mathrm{NRMSE} = \mathrm{RMSE} / \sigma

with :math:`\sigma` the standard deviation of the truth over time (Jaeger's normalisation: an
NRMSE of 1 is as bad as predicting the mean), or a given ``scale`` — e.g. the standard deviation
of the whole series when scoring a short window. Several outputs: the mean over outputs.
Arrays or tensors of shape (T,) or (T, O) are accepted.
"""

from __future__ import annotations

import numpy as np
import torch


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for value in (y_true, y_pred):
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        array = np.asarray(value, dtype=np.float64)
        arrays.append(array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1))
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"y_pred: expected the shape of y_true {np.shape(y_true)}, got {np.shape(y_pred)}"
        )
    return arrays[0], arrays[1]


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, averaged over outputs."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.sqrt(((y_true - y_pred) ** 2).mean(axis=0)).mean())


def nrmse(y_true, y_pred, scale: float | None = None) -> float:
    """RMSE over the standard deviation of ``y_true`` (per output, then averaged) or ``scale``.

    Example::

        >>> nrmse(series[1:], esn.predict(series[:-1]))
    """
    y_true, y_pred = _pair(y_true, y_pred)
    error = np.sqrt(((y_true - y_pred) ** 2).mean(axis=0))
    sigma = np.full_like(error, scale) if scale is not None else y_true.std(axis=0)
    if np.any(sigma <= 0):
        raise ValueError(
            "y_true: expected a series that varies (standard deviation > 0) or a scale > 0, "
            f"got standard deviation {sigma}"
        )
    return float((error / sigma).mean())

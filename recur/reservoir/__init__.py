"""Reservoir computing: Echo State Networks as the seeds describe them.

A large, sparse, random recurrent reservoir that is never trained, input weights W_in, optional
output feedback W_back, and a linear readout W_out on [1, u_t, x_t, y_{t-1}] trained by ridge
regression (or online by recursive least squares, FORCE). Layout:

    matrices.py, spectral.py    the fixed random weights and their exact spectral radius
    kernel.py                   the reservoir update loop (the hot path)
    readout.py, rls.py          ridge readout from streamed ΦᵀΦ, ΦᵀY (or its dual); online RLS
    online.py                   online training over the states, FORCE learning with feedback
    esn.py, config.py           EchoStateNetwork (fit, partial_fit, predict, generate) and its
                                validated configuration; serialization.py: save / load
    layer.py                    ESNLayer: the reservoir as a torch nn.Module, and fit_readout
    series.py                   NumPy / torch sequences in, the same kind out
    datasets.py, metrics.py, plotting.py   Mackey–Glass, NRMSE, a PNG of prediction vs truth
"""

from recur.reservoir.config import ESNConfig
from recur.reservoir.datasets import mackey_glass, scale
from recur.reservoir.esn import EchoStateNetwork
from recur.reservoir.kernel import Reservoir
from recur.reservoir.layer import ESNLayer, fit_readout
from recur.reservoir.metrics import nrmse, rmse
from recur.reservoir.plotting import plot_prediction
from recur.reservoir.readout import RidgeReadout
from recur.reservoir.rls import RLSReadout
from recur.reservoir.spectral import spectral_radius

__all__ = [
    "ESNConfig",
    "ESNLayer",
    "EchoStateNetwork",
    "RLSReadout",
    "Reservoir",
    "RidgeReadout",
    "fit_readout",
    "mackey_glass",
    "nrmse",
    "plot_prediction",
    "rmse",
    "scale",
    "spectral_radius",
]

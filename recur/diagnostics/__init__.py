"""Seeing BPTT: gradient flow through time, Jacobian spectra and gradient tracking in training.

- :func:`gradient_flow` — ``||dL/dh_k||`` for every step k, layer and direction of a model;
- :func:`jacobian_spectrum` — singular values of ds_t/ds_{t-1}, of their products, and of W_hh;
- :class:`GradientTracker` — per-step global and per-group gradient norms, clipping rate, and
  NaN/inf detection naming the parameter and step;
- :mod:`recur.diagnostics.plots` — PNG plots of each.
"""

from recur.diagnostics.flow import GradientFlow, gradient_flow
from recur.diagnostics.probe import EngineRun, probing, swapped_engine
from recur.diagnostics.spectrum import JacobianSpectrum, jacobian_spectrum
from recur.diagnostics.tracker import GradientTracker, NonFiniteGradientError, StepRecord

__all__ = [
    "EngineRun",
    "GradientFlow",
    "GradientTracker",
    "JacobianSpectrum",
    "NonFiniteGradientError",
    "StepRecord",
    "gradient_flow",
    "jacobian_spectrum",
    "probing",
    "swapped_engine",
]

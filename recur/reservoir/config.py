"""The typed, validated configuration of an Echo State Network (what save() writes as JSON)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from recur.reservoir.checks import (
    check_activation,
    check_int,
    check_nonnegative,
    check_positive,
    check_unit_interval,
)
from recur.reservoir.series import numpy_dtype


@dataclass(frozen=True)
class ESNConfig:
    """Every hyper-parameter of :class:`~recur.reservoir.EchoStateNetwork`; see its docstring.

    ``seed`` is always an int here: a network built without one draws it from the OS and records
    it, so that the configuration alone rebuilds the same reservoir.
    """

    input_size: int
    reservoir_size: int
    output_size: int
    connectivity: float = 0.02
    spectral_radius: float = 0.9
    input_scaling: float = 1.0
    bias_scaling: float = 0.2
    leak_rate: float = 1.0
    feedback: bool = False
    feedback_scaling: float = 1.0
    teacher_noise: float = 0.0
    activation: str = "tanh"
    washout: int = 100
    ridge: float = 1e-8
    seed: int = 0
    dtype: str = "float64"

    def __post_init__(self):
        check_int("input_size", self.input_size, minimum=0)
        check_int("reservoir_size", self.reservoir_size)
        check_int("output_size", self.output_size)
        check_unit_interval("connectivity", self.connectivity)
        check_positive("spectral_radius", self.spectral_radius)
        check_nonnegative("input_scaling", self.input_scaling)
        check_nonnegative("bias_scaling", self.bias_scaling)
        check_unit_interval("leak_rate", self.leak_rate)
        if not isinstance(self.feedback, bool):
            raise ValueError(f"feedback: expected True or False, got {self.feedback!r}")
        check_nonnegative("feedback_scaling", self.feedback_scaling)
        check_nonnegative("teacher_noise", self.teacher_noise)
        check_activation(self.activation)
        check_int("washout", self.washout, minimum=0)
        check_nonnegative("ridge", self.ridge)
        check_int("seed", self.seed, minimum=0)
        object.__setattr__(self, "dtype", numpy_dtype(self.dtype).name)
        if self.input_size == 0 and not self.feedback:
            raise ValueError(
                "input_size: expected >= 1 without feedback (the reservoir would see nothing), "
                "got 0"
            )

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def feature_size(self) -> int:
        """D = 1 + I + N (+ O with feedback): the readout reads [1, u_t, x_t, y_{t-1}]."""
        return (
            1 + self.input_size + self.reservoir_size + (self.output_size if self.feedback else 0)
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ESNConfig:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"config: unknown keys {unknown}; expected keys among {sorted(known)}")
        return cls(**values)

r"""The Echo State Network of the seeds: a fixed sparse random reservoir and a linear readout.

.. math::

    x_t = (1 - a)\, x_{t-1} + a\, f(W x_{t-1} + W_{in} u_t + W_{back} \tilde y_{t-1} + b)

    y_t = W_{out} \, [1;\ u_t;\ x_t;\ \tilde y_{t-1}]

for t = 0..T-1 from :math:`x_{-1} = 0,\ \tilde y_{-1} = 0`. Only :math:`W_{out}` is trained.
:math:`\tilde y_{t-1}` is the output fed back (the :math:`W_{back}` term and the last readout
block exist only with ``feedback=True``): the teacher :math:`y_{t-1}` plus Gaussian noise of
standard deviation ``teacher_noise`` while fitting, the given targets in ``predict(inputs,
targets)``, the network's own output :math:`y_{t-1}` when it runs free.

Shapes: N reservoir units, I inputs, O outputs, D = 1 + I + N (+ O) readout features.
"""

from __future__ import annotations

import numpy as np
import torch

from recur.reservoir.checks import check_int
from recur.reservoir.config import ESNConfig
from recur.reservoir.kernel import Reservoir
from recur.reservoir.matrices import ReservoirWeights, draw_weights, seed_streams
from recur.reservoir.online import fit_online
from recur.reservoir.readout import RidgeReadout
from recur.reservoir.serialization import load_esn, save_esn
from recur.reservoir.series import SeriesKind, as_series, check_same_lengths

CHUNK_BYTES = 2**27  # feature rows built at once when fitting: 128 MiB


class EchoStateNetwork:
    r"""Echo State Network with a leaky-integrator reservoir, trained by ridge regression.

    Arguments:
        input_size: I (0 for an autonomous generator driven only by its fed-back output).
        reservoir_size: N; the reservoir is sparse (CSR), so 10,000 units run.
        output_size: O.
        connectivity: fraction of the N² recurrent weights that are non-zero, in (0, 1]
            (the seeds: 1 % to 5 %).
        spectral_radius: :math:`\rho(W)` after rescaling, exact (see :mod:`.spectral`).
        input_scaling, bias_scaling, feedback_scaling: half-widths of the uniform W_in, b, W_back.
            The default bias breaks the symmetry of a tanh reservoir without one (its states
            would be odd functions of the inputs); on Mackey–Glass it cut the free-running error
            by about ten times.
        leak_rate: ``a`` in (0, 1]; 1 is the non-leaky ESN.
        feedback: feed the previous output back into the reservoir (W_back) and the readout.
        teacher_noise: std of the Gaussian noise added to the fed-back teacher while fitting.
        activation: ``"tanh"``, ``"identity"``, ``"relu"`` or ``"sigmoid"``.
        washout: leading steps of every sequence left out of the regression (``fit``).
        ridge: :math:`\lambda` of the ridge readout.
        seed: seeds every random draw; None draws one from the OS (recorded in ``config``).
        dtype: float64 (default) or float32 (NumPy or torch dtype) for the reservoir.
        device: torch device of returned tensors for torch input (default: the input's).

    Inputs and targets are (T, F) arrays or tensors, (n, T, F) stacks or lists of sequences (see
    :mod:`.series`); results come back in the same layout and kind.

    Example::

        >>> series = scale(mackey_glass(3000))                    # (3000,)
        >>> esn = EchoStateNetwork(1, 500, 1, spectral_radius=1.25, leak_rate=0.5, seed=0)
        >>> esn.fit(series[:2000], series[1:2001])                 # one step ahead
        >>> one_step = esn.predict(series[2000:-1])                # teacher-forced
        >>> future = esn.generate(100, warmup=series[1800:2001])   # free-running, (100,)
    """

    def __init__(
        self,
        input_size: int,
        reservoir_size: int,
        output_size: int,
        *,
        connectivity: float = 0.02,
        spectral_radius: float = 0.9,
        input_scaling: float = 1.0,
        bias_scaling: float = 0.2,
        leak_rate: float = 1.0,
        feedback: bool = False,
        feedback_scaling: float = 1.0,
        teacher_noise: float = 0.0,
        activation: str = "tanh",
        washout: int = 100,
        ridge: float = 1e-8,
        seed: int | None = None,
        dtype=torch.float64,
        device=None,
    ):
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        config = ESNConfig(
            input_size, reservoir_size, output_size, connectivity, spectral_radius,
            input_scaling, bias_scaling, leak_rate, feedback, feedback_scaling, teacher_noise,
            activation, washout, ridge, seed, dtype,
        )  # fmt: skip
        self._build(config, None, device)

    @classmethod
    def from_config(
        cls, config: ESNConfig, weights: ReservoirWeights | None = None, device=None
    ) -> EchoStateNetwork:
        """A network from a configuration, with given fixed weights or freshly drawn ones."""
        esn = cls.__new__(cls)
        esn._build(config, weights, device)
        return esn

    def _build(self, config: ESNConfig, weights: ReservoirWeights | None, device) -> None:
        c = self.config = config
        self.device = torch.device(device) if device is not None else None
        self.weights = weights or draw_weights(
            c.input_size, c.reservoir_size, c.output_size,
            connectivity=c.connectivity, spectral_radius=c.spectral_radius,
            input_scaling=c.input_scaling, bias_scaling=c.bias_scaling, feedback=c.feedback,
            feedback_scaling=c.feedback_scaling, seed=c.seed, dtype=c.np_dtype,
        )  # fmt: skip
        self.reservoir = Reservoir(self.weights.W, c.leak_rate, c.activation)
        w = self.weights  # [W_in, W_back] (N, I + O): the drive's weights on [u_t, ỹ_{t-1}]
        self._drive_weights = np.hstack([w.W_in, w.W_back]) if c.feedback else w.W_in
        self.W_out: np.ndarray | None = None  # (O, D), set by fit
        self._noise = seed_streams(c.seed)["noise"]
        self._readout = RidgeReadout(c.feature_size, c.output_size)
        self._carry: tuple[np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        c = self.config
        return (
            f"EchoStateNetwork({c.input_size}, {c.reservoir_size}, {c.output_size}, "
            f"spectral_radius={c.spectral_radius}, leak_rate={c.leak_rate}, "
            f"feedback={c.feedback}, fitted={self.W_out is not None})"
        )

    # ---------------------------------------------------------------- teacher-forced reservoir
    def _zeros(self, *shape) -> np.ndarray:
        return np.zeros(shape, dtype=self.config.np_dtype)

    def _fed_back(self, y: np.ndarray, y_before: np.ndarray, noisy: bool) -> np.ndarray:
        """ỹ_{t-1} for t = 0..T-1: ``y_before`` then y_0..y_{T-2} (+ teacher noise)."""
        fed = np.concatenate([y_before[None, :], y[:-1]])
        if noisy and self.config.teacher_noise > 0:
            fed = fed + self._noise.normal(0.0, self.config.teacher_noise, size=fed.shape)
        return fed.astype(self.config.np_dtype, copy=False)

    def _run(self, u: np.ndarray, fed: np.ndarray, x0: np.ndarray) -> np.ndarray:
        """Features φ_t = [1, u_t, x_t, ỹ_{t-1}] (T, D); the states run in φ's own columns."""
        c = self.config
        I, N = c.input_size, c.reservoir_size
        phi = np.empty((len(u), c.feature_size), dtype=c.np_dtype)
        phi[:, 0] = 1.0
        phi[:, 1 : 1 + I] = u
        drivers = u  # d_t = W_in u_t (+ W_back ỹ_{t-1}) + b, formed by the reservoir's loop
        if c.feedback:
            phi[:, 1 + I + N :] = fed
            drivers = np.concatenate([u, fed], axis=1)
        self.reservoir.run(
            phi[:, 1 + I : 1 + I + N],
            x0,
            inputs=drivers,
            input_weights=self._drive_weights,
            bias=self.weights.b,
        )
        return phi

    def _states(self, phi: np.ndarray) -> np.ndarray:
        I, N = self.config.input_size, self.config.reservoir_size
        return phi[:, 1 + I : 1 + I + N]

    def _pairs(self, inputs, targets, targets_required: bool = True):
        """Validated (inputs, targets) sequence lists and the kind results are returned as.

        Inputs may be None only when input_size == 0; then the targets define the lengths.
        """
        c = self.config
        if inputs is None and (c.input_size != 0 or targets is None):
            raise ValueError(
                f"inputs: expected (T, {c.input_size}) inputs, got None "
                "(inputs may be omitted only when input_size == 0 and targets are given)"
            )
        us, kind = (None, None)
        if inputs is not None:
            us, kind = as_series("inputs", inputs, c.input_size, c.np_dtype)
        if targets is None:
            if targets_required:
                raise ValueError("targets: expected an array or tensor of targets, got None")
            return us, None, kind
        ys, y_kind = as_series("targets", targets, c.output_size, c.np_dtype)
        if us is None:
            return [self._zeros(len(y), 0) for y in ys], ys, y_kind
        check_same_lengths(us, ys)
        return us, ys, kind

    # ---------------------------------------------------------------- training
    def fit(self, inputs, targets, *, washout: int | None = None, chunk_size: int | None = None):
        """Ridge readout on all sequences (each loses ``washout`` leading steps); returns self.

        Long sequences run in chunks of ``chunk_size`` steps (default: 128 MiB of features),
        accumulated as :math:`\\Phi^\\top\\Phi` and
        :math:`\\Phi^\\top Y` (see :mod:`.readout`).
        """
        washout = self._washout(washout)
        us, ys, _ = self._pairs(inputs, targets)
        self._check_washout(us, washout)
        self._readout.reset(expected_rows=sum(len(u) - washout for u in us))
        self._carry = None
        self._accumulate(us, ys, washout, carry_state=False, chunk_size=chunk_size)
        self.W_out = self._readout.solve(self.config.ridge, keep=False)
        return self

    def partial_fit(
        self,
        inputs,
        targets,
        *,
        washout: int | None = None,
        carry_state: bool = False,
        solve: bool = True,
        chunk_size: int | None = None,
    ):
        """Add sequences to the accumulated regression, then (``solve=True``) refit W_out.

        ``carry_state=True`` continues the sequence the previous ``partial_fit`` ended with (its
        reservoir state and last target, no washout): a long series streamed in chunks gives the
        same readout as one ``fit`` on the whole series. Returns self.
        """
        washout = self._washout(washout)
        us, ys, _ = self._pairs(inputs, targets)
        if carry_state and self._carry is None:
            raise ValueError("carry_state: expected a previous partial_fit to continue, got none")
        if carry_state and len(us) != 1:
            raise ValueError(f"carry_state: expected one sequence to continue, got {len(us)}")
        self._check_washout(us, 0 if carry_state else washout)
        self._accumulate(us, ys, washout, carry_state, chunk_size)
        if solve:
            self.W_out = self._readout.solve(self.config.ridge)
        return self

    def _washout(self, washout: int | None) -> int:
        return self.config.washout if washout is None else check_int("washout", washout, 0)

    @staticmethod
    def _check_washout(us: list[np.ndarray], washout: int) -> None:
        for k, u in enumerate(us):
            if len(u) <= washout:
                raise ValueError(
                    f"inputs: expected more than washout={washout} time steps in sequence {k}, "
                    f"got {len(u)}"
                )

    def _accumulate(self, us, ys, washout: int, carry_state: bool, chunk_size: int | None):
        """Run every sequence in chunks and add its post-washout rows to the readout."""
        c = self.config
        chunk = chunk_size or max(1, CHUNK_BYTES // (8 * c.feature_size))
        for u, y in zip(us, ys):
            fresh = (self._zeros(c.reservoir_size), self._zeros(c.output_size))
            x, y_before = self._carry if carry_state else fresh
            skip = 0 if carry_state else washout
            fed = self._fed_back(y, y_before, noisy=True)
            for start in range(0, len(u), chunk):
                stop = min(len(u), start + chunk)
                phi = self._run(u[start:stop], fed[start:stop], x)
                x = self._states(phi)[-1].copy()
                first = max(skip - start, 0)
                if first < stop - start:
                    self._readout.add(phi[first:], y[start + first : stop], overwrite_phi=True)
            self._carry = (x, y[-1].copy())

    def fit_online(
        self,
        inputs,
        targets,
        *,
        washout: int | None = None,
        delta: float = 1.0,
        forgetting: float = 1.0,
    ):
        """Recursive least squares, one step at a time; FORCE learning with feedback.

        See :func:`recur.reservoir.online.fit_online`. Returns self.
        """
        washout = self._washout(washout)
        us, ys, _ = self._pairs(inputs, targets)
        self._check_washout(us, washout)
        self.W_out = fit_online(self, us, ys, washout, delta=delta, forgetting=forgetting)
        return self

    # ---------------------------------------------------------------- use
    def _check_fitted(self, method: str) -> np.ndarray:
        if self.W_out is None:
            raise ValueError(
                f"{method}: expected a fitted network (call fit, partial_fit or fit_online "
                "first), got one without a readout"
            )
        return self.W_out

    def states(self, inputs=None, targets=None):
        """Reservoir states x_t (T, N) of every sequence, teacher-forced (no readout needed).

        With feedback, ``targets`` supply :math:`\\tilde y_{t-1}` (zeros when omitted).
        """
        c = self.config
        us, ys, kind = self._pairs(inputs, targets, targets_required=False)
        states = []
        for k, u in enumerate(us):
            y0 = self._zeros(c.output_size)
            fed = self._zeros(len(u), 0)
            if c.feedback:
                fed = (
                    self._fed_back(ys[k], y0, noisy=False)
                    if ys is not None
                    else self._zeros(len(u), c.output_size)
                )
            states.append(self._states(self._run(u, fed, self._zeros(c.reservoir_size))))
        return kind.restore(states, c.np_dtype, self.device)

    def predict(self, inputs=None, targets=None, *, return_states: bool = False):
        """One step ahead: y_t for every step of every sequence, teacher-forced.

        With feedback, ``targets`` supply the fed-back :math:`\\tilde y_{t-1}`; without them the
        network feeds back its own outputs (driven by ``inputs``). Returns outputs (T, O) in the
        inputs' layout and kind, and the states (T, N) too with ``return_states=True``.
        """
        W_out = self._check_fitted("predict")
        c = self.config
        us, ys, kind = self._pairs(inputs, targets, targets_required=False)
        outputs, states = [], []
        for k, u in enumerate(us):
            x0, y0 = self._zeros(c.reservoir_size), self._zeros(c.output_size)
            if c.feedback and ys is None:
                out, x = self._free_run(len(u), x0, y0, u)
            else:
                fed = (
                    self._fed_back(ys[k], y0, noisy=False) if c.feedback else self._zeros(len(u), 0)
                )
                phi = self._run(u, fed, x0)
                out, x = phi @ W_out.T, self._states(phi)
            outputs.append(out)
            states.append(x)
        return self._returned(kind, outputs, states, return_states)

    def generate(self, n_steps: int, *, warmup, return_states: bool = False):
        """Free-running: the ``n_steps`` values that follow ``warmup``, each fed back.

        ``warmup`` is one sequence of the series itself, run teacher-forced from a zero state.
        Input-driven networks (input_size == output_size) feed each output back as the next
        input; autonomous ones (input_size == 0, feedback) through W_back only.
        """
        W_out = self._check_fitted("generate")
        c = self.config
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps: expected an int >= 1, got {n_steps!r}")
        if c.input_size not in (0, c.output_size):
            raise ValueError(
                "generate: expected input_size == output_size (outputs fed back as inputs) or "
                f"input_size == 0 with feedback, got input_size={c.input_size}, "
                f"output_size={c.output_size}"
            )
        series, kind = as_series("warmup", warmup, c.output_size, c.np_dtype)
        if len(series) != 1:
            raise ValueError(f"warmup: expected one sequence, got {len(series)}")
        (s,) = series
        x0, y0 = self._zeros(c.reservoir_size), self._zeros(c.output_size)
        if c.input_size == 0:  # the warmup is the output series: teacher-force it, then go on
            phi = self._run(self._zeros(len(s), 0), self._fed_back(s, y0, noisy=False), x0)
            out, x = self._free_run(n_steps, self._states(phi)[-1].copy(), s[-1])
        else:  # the warmup is the input series; its last output predicts the first new value
            fed = s.copy() if c.feedback else self._zeros(len(s), 0)
            fed[:1] = 0.0  # ỹ_{t-1} = y_{t-1} = u_t, unknown at t = 0 (as in fit)
            phi = self._run(s, fed, x0)
            first = phi[-1] @ W_out.T
            rest, x_rest = self._free_run(n_steps - 1, self._states(phi)[-1].copy(), first)
            out = np.concatenate([first[None, :], rest])
            x = np.concatenate([self._states(phi)[-1:], x_rest])
        return self._returned(kind, [out], [x], return_states)

    def _free_run(self, n_steps: int, x: np.ndarray, y_prev: np.ndarray, u=None):
        """Closed loop from state x and last output y_prev: ỹ_{t-1} = y_{t-1}.

        ``u`` (n_steps, I) drives the reservoir when given; otherwise the output is fed back as
        the next input (input_size == output_size) or there is no input (input_size == 0).
        Returns outputs (n_steps, O) and states (n_steps, N).
        """
        c, w, W_out = self.config, self.weights, self.W_out
        I, N, O = c.input_size, c.reservoir_size, c.output_size
        A_u, A_x = W_out[:, 1 : 1 + I], W_out[:, 1 + I : 1 + I + N]
        A_y = W_out[:, 1 + I + N :] if c.feedback else np.zeros((O, O))
        M = w.W_back if c.feedback else np.zeros((N, O), dtype=c.np_dtype)
        drive = np.broadcast_to(w.b, (n_steps, N))
        offset = np.broadcast_to(W_out[:, 0], (n_steps, O))
        if u is not None:
            drive, offset = u @ w.W_in.T + w.b, u @ A_u.T + W_out[:, 0]
        elif I > 0:  # u_t = y_{t-1}: fold the input weights into the fed-back ones
            M, A_y = M + w.W_in, A_y + A_u
        outputs = np.empty((n_steps, O))
        states = np.empty((n_steps, N), dtype=c.np_dtype)
        y_prev = np.asarray(y_prev, dtype=np.float64)
        for t in range(n_steps):
            z = states[t]
            np.add(drive[t], M @ y_prev, out=z)
            x = self.reservoir.step(x, z)
            y_prev = outputs[t] = A_x @ x + A_y @ y_prev + offset[t]
        return outputs, states

    def _returned(self, kind: SeriesKind, outputs, states, return_states: bool):
        dtype = self.config.np_dtype
        result = kind.restore(outputs, dtype, self.device)
        if not return_states:
            return result
        return result, kind.restore([np.asarray(s) for s in states], dtype, self.device)

    # ---------------------------------------------------------------- persistence
    def save(self, path) -> None:
        """Write ``path/config.json`` and ``path/weights.safetensors`` (see :mod:`.serialization`).

        ``EchoStateNetwork.load(path)`` reads them back.
        """
        save_esn(self, path)

    @classmethod
    def load(cls, path, device=None) -> EchoStateNetwork:
        return load_esn(path, device=device)

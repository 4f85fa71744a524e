"""Bad input fails early with a ValueError naming the argument, the expected and the given."""

import numpy as np
import pytest
import torch

from recur.reservoir import EchoStateNetwork, mackey_glass, nrmse, plot_prediction, scale

SERIES = np.sin(np.arange(300) / 4.0)


@pytest.fixture(scope="module")
def fitted():
    return EchoStateNetwork(2, 30, 1, connectivity=0.2, washout=20, seed=0).fit(
        np.stack([SERIES, SERIES**2], axis=1), SERIES[:, None]
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"spectral_radius": 0.0}, "spectral_radius: expected a finite number > 0, got 0.0"),
        ({"spectral_radius": -1.2}, "spectral_radius: expected a finite number > 0, got -1.2"),
        ({"spectral_radius": float("nan")}, "spectral_radius: expected a finite number > 0"),
        ({"connectivity": 0.0}, r"connectivity: expected a number in \(0, 1\], got 0.0"),
        ({"connectivity": 1.5}, r"connectivity: expected a number in \(0, 1\], got 1.5"),
        ({"connectivity": -0.1}, r"connectivity: expected a number in \(0, 1\], got -0.1"),
        ({"leak_rate": 0.0}, r"leak_rate: expected a number in \(0, 1\], got 0.0"),
        ({"input_scaling": -1.0}, "input_scaling: expected a finite number >= 0, got -1.0"),
        ({"ridge": -1e-8}, "ridge: expected a finite number >= 0, got -1e-08"),
        ({"teacher_noise": -0.1}, "teacher_noise: expected a finite number >= 0, got -0.1"),
        ({"activation": "softsign"}, "activation: expected one of .*, got 'softsign'"),
        ({"washout": -1}, "washout: expected an int >= 0, got -1"),
        ({"washout": 2.5}, "washout: expected an int >= 0, got 2.5"),
        ({"seed": -3}, "seed: expected an int >= 0, got -3"),
        ({"feedback": "yes"}, "feedback: expected True or False, got 'yes'"),
        ({"dtype": torch.int64}, "dtype: expected torch.float64 or torch.float32, got torch.int64"),
    ],
)
def test_bad_hyper_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EchoStateNetwork(1, 20, 1, **{"connectivity": 0.2, **kwargs})


@pytest.mark.parametrize(
    "sizes, message",
    [
        ((0, 20, 1), "input_size: expected >= 1 without feedback"),
        ((1, 0, 1), "reservoir_size: expected an int >= 1, got 0"),
        ((1, 20, 0), "output_size: expected an int >= 1, got 0"),
        ((1.0, 20, 1), "input_size: expected an int >= 0, got 1.0"),
    ],
)
def test_bad_sizes(sizes, message):
    with pytest.raises(ValueError, match=message):
        EchoStateNetwork(*sizes, connectivity=0.2)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_inputs_or_targets(bad):
    esn = EchoStateNetwork(1, 20, 1, connectivity=0.2, washout=10, seed=0)
    series = SERIES.copy()
    series[57] = bad
    with pytest.raises(ValueError, match=f"inputs: expected finite values, got {bad} at index"):
        esn.fit(series, SERIES)
    with pytest.raises(ValueError, match=f"targets: expected finite values, got {bad} at index"):
        esn.fit(SERIES, series)
    with pytest.raises(ValueError, match=r"inputs\[1\]: expected finite values"):
        esn.fit([SERIES, series], [SERIES, SERIES])
    with pytest.raises(ValueError, match="inputs: expected finite values"):
        esn.fit(torch.from_numpy(series), SERIES)


def test_fewer_steps_than_the_washout():
    esn = EchoStateNetwork(1, 20, 1, connectivity=0.2, washout=100, seed=0)
    with pytest.raises(
        ValueError, match="inputs: expected more than washout=100 time steps in sequence 1, got 60"
    ):
        esn.fit([SERIES, SERIES[:60]], [SERIES, SERIES[:60]])
    with pytest.raises(ValueError, match="expected more than washout=100 time steps"):
        esn.fit_online(SERIES[:100], SERIES[:100])
    with pytest.raises(ValueError, match="expected more than washout=50 time steps"):
        esn.partial_fit(SERIES[:50], SERIES[:50], washout=50)
    with pytest.raises(ValueError, match="washout: expected an int >= 0, got -5"):
        esn.fit(SERIES, SERIES, washout=-5)


def test_bad_online_arguments():
    esn = EchoStateNetwork(1, 20, 1, connectivity=0.2, washout=10, seed=0)
    with pytest.raises(ValueError, match="delta: expected a finite number > 0, got 0"):
        esn.fit_online(SERIES, SERIES, delta=0)
    with pytest.raises(ValueError, match=r"forgetting: expected a number in \(0, 1\], got 1.5"):
        esn.fit_online(SERIES, SERIES, forgetting=1.5)


def test_feature_sizes_must_match_between_fit_and_predict(fitted):
    with pytest.raises(
        ValueError, match=r"inputs: expected shape \(T, 2\) \(2 features\), got shape \(300, 3\)"
    ):
        fitted.predict(np.zeros((300, 3)))
    with pytest.raises(ValueError, match=r"inputs: expected shape \(T, 2\) \(2 features\)"):
        fitted.predict(SERIES)  # one feature given as (T,)
    with pytest.raises(ValueError, match=r"targets: expected shape \(T, 1\) \(1 features\)"):
        fitted.fit(np.zeros((300, 2)), np.zeros((300, 2)))
    with pytest.raises(ValueError, match=r"inputs: expected shape \(T, 2\), \(n, T, 2\)"):
        fitted.predict(np.zeros((2, 3, 4, 2)))


def test_lengths_and_counts_must_match():
    esn = EchoStateNetwork(1, 20, 1, connectivity=0.2, washout=10, seed=0)
    with pytest.raises(
        ValueError, match="targets: expected 300 time steps in sequence 0 .*, got 299"
    ):
        esn.fit(SERIES, SERIES[:-1])
    with pytest.raises(ValueError, match="targets: expected 2 sequences .*, got 1"):
        esn.fit([SERIES, SERIES], [SERIES])
    with pytest.raises(ValueError, match="inputs: expected at least one sequence"):
        esn.fit([], [])
    with pytest.raises(ValueError, match="inputs: expected at least one time step, got 0"):
        esn.fit(np.zeros((0, 1)), np.zeros((0, 1)))
    with pytest.raises(ValueError, match="targets: expected an array or tensor of targets"):
        esn.fit(SERIES, None)
    with pytest.raises(ValueError, match="inputs: expected .* got None"):
        esn.fit(None, SERIES)
    with pytest.raises(ValueError, match="inputs: expected a NumPy array, a torch tensor"):
        esn.fit({"a": 1}, SERIES)


def test_use_before_fit():
    esn = EchoStateNetwork(1, 20, 1, connectivity=0.2, seed=0)
    with pytest.raises(ValueError, match="predict: expected a fitted network .* got one without"):
        esn.predict(SERIES)
    with pytest.raises(ValueError, match="generate: expected a fitted network"):
        esn.generate(10, warmup=SERIES)
    with pytest.raises(ValueError, match="carry_state: expected a previous partial_fit"):
        esn.partial_fit(SERIES, SERIES, carry_state=True)


def test_bad_generate_arguments(fitted):
    with pytest.raises(ValueError, match="n_steps: expected an int >= 1, got 0"):
        fitted.generate(0, warmup=np.zeros((10, 2)))
    with pytest.raises(ValueError, match="generate: expected input_size == output_size"):
        fitted.generate(5, warmup=np.zeros((10, 2)))
    esn = EchoStateNetwork(1, 20, 1, connectivity=0.2, washout=10, seed=0).fit(SERIES, SERIES)
    with pytest.raises(ValueError, match="warmup: expected one sequence, got 2"):
        esn.generate(5, warmup=[SERIES, SERIES])


def test_bad_helpers():
    with pytest.raises(ValueError, match="n_steps: expected an int >= 1"):
        mackey_glass(0)
    with pytest.raises(ValueError, match="dt: expected a divisor of tau=17"):
        mackey_glass(10, dt=0.3)
    with pytest.raises(ValueError, match="series: expected varying values"):
        scale(np.ones(5))
    with pytest.raises(ValueError, match=r"y_pred: expected the shape of y_true \(5,\)"):
        nrmse(np.arange(5.0), np.arange(4.0))
    with pytest.raises(ValueError, match="y_true: expected a series that varies"):
        nrmse(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match=r"prediction: expected the shape of truth \(5, 1\)"):
        plot_prediction(np.arange(5.0), np.arange(4.0), "unused.png")

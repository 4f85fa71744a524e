"""EchoStateNetwork: the readout's algebra, the tasks it must learn, its API and persistence."""

import json

import numpy as np
import pytest
import torch

from recur.reservoir import EchoStateNetwork, mackey_glass, nrmse, scale


@pytest.fixture(autouse=True, scope="module")
def single_threaded():
    """One torch and one BLAS thread: on a busy 2-core machine their worker threads spin against
    each other, and the small products here run 100x slower with two threads than with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
    else:
        with threadpool_limits(1):
            yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mg():
    return scale(mackey_glass(2700))


def features(esn, u, states):
    return np.concatenate([np.ones((len(u), 1)), u, states], axis=1)


# ------------------------------------------------------------------ the readout's algebra
def test_readout_solves_a_noiseless_linear_target_exactly():
    rng = np.random.default_rng(0)
    esn = EchoStateNetwork(2, 40, 3, connectivity=0.1, ridge=0.0, washout=0, seed=1)
    u = rng.uniform(-1, 1, (400, 2))
    phi = features(esn, u, esn.states(u))
    W_true = rng.standard_normal((3, phi.shape[1]))
    esn.fit(u, phi @ W_true.T)
    np.testing.assert_allclose(esn.W_out, W_true, rtol=0, atol=1e-7)
    np.testing.assert_allclose(esn.predict(u), phi @ W_true.T, rtol=0, atol=1e-9)


def test_fewer_rows_than_features_interpolate_the_targets():
    # 60 rows, 1 + 1 + 200 features: the dual (kernel) solution fits every row
    rng = np.random.default_rng(1)
    esn = EchoStateNetwork(1, 200, 1, connectivity=0.05, ridge=1e-12, washout=10, seed=2)
    u, y = rng.uniform(-1, 1, (70, 1)), rng.standard_normal((70, 1))
    esn.fit(u, y)
    np.testing.assert_allclose(esn.predict(u)[10:], y[10:], rtol=0, atol=1e-5)


def test_streaming_fit_equals_one_shot_fit(mg):
    u, y = mg[:1500, None], mg[1:1501, None]
    kwargs = dict(
        connectivity=0.05, spectral_radius=1.1, leak_rate=0.5, washout=50, seed=3, ridge=1e-6
    )
    one_shot = EchoStateNetwork(1, 100, 1, **kwargs).fit(u, y)
    chunked = EchoStateNetwork(1, 100, 1, **kwargs).fit(u, y, chunk_size=97)
    streamed = EchoStateNetwork(1, 100, 1, **kwargs)
    streamed.partial_fit(u[:400], y[:400], solve=False)
    streamed.partial_fit(u[400:1000], y[400:1000], carry_state=True, solve=False)
    streamed.partial_fit(u[1000:], y[1000:], carry_state=True)
    for other in (chunked, streamed):
        np.testing.assert_allclose(other.W_out, one_shot.W_out, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(other.predict(u), one_shot.predict(u), rtol=0, atol=1e-7)


def test_each_sequence_loses_its_own_washout():
    rng = np.random.default_rng(4)
    esn = EchoStateNetwork(2, 50, 2, connectivity=0.1, ridge=1e-6, washout=20, seed=5)
    sequences = [rng.uniform(-1, 1, (n, 2)) for n in (120, 80, 200)]
    targets = [np.stack([np.roll(s[:, 0], -1), s[:, 0] * s[:, 1]], axis=1) for s in sequences]
    esn.fit(sequences, targets)
    phi = np.concatenate([features(esn, s, esn.states(s))[20:] for s in sequences])
    y = np.concatenate([t[20:] for t in targets])
    penalty = np.eye(phi.shape[1]) * 1e-6
    penalty[0, 0] = 0.0
    expected = np.linalg.solve(phi.T @ phi + penalty, phi.T @ y).T
    np.testing.assert_allclose(esn.W_out, expected, rtol=1e-6, atol=1e-8)
    # equal-length sequences as one (n, T, I) stack give the same readout and a stacked result
    stack = rng.uniform(-1, 1, (3, 100, 2))
    a = EchoStateNetwork(2, 50, 2, connectivity=0.1, washout=20, seed=5).fit(stack, stack)
    b = EchoStateNetwork(2, 50, 2, connectivity=0.1, washout=20, seed=5).fit(
        list(stack), list(stack)
    )
    np.testing.assert_allclose(a.W_out, b.W_out, rtol=1e-12, atol=1e-12)
    assert a.predict(stack).shape == (3, 100, 2) and isinstance(b.predict(list(stack)), list)


def test_rls_converges_to_the_ridge_solution():
    from recur.reservoir import RLSReadout

    rng = np.random.default_rng(6)
    phi = np.concatenate([np.ones((300, 1)), rng.standard_normal((300, 9))], axis=1)
    y = phi @ rng.standard_normal((10, 2)) + 0.1 * rng.standard_normal((300, 2))
    rls = RLSReadout(10, 2, delta=0.5)
    for phi_t, y_t in zip(phi, y):
        rls.update(phi_t, y_t)
    ridge = np.linalg.solve(phi.T @ phi + 0.5 * np.eye(10), phi.T @ y).T  # P_0 = I / delta
    np.testing.assert_allclose(rls.W, ridge, rtol=1e-8, atol=1e-8)


# ------------------------------------------------------------------ tasks it must learn
def test_predicts_and_generates_a_sine():
    u = np.sin(np.arange(1200) * 2 * np.pi / 40)
    esn = EchoStateNetwork(1, 100, 1, spectral_radius=0.9, connectivity=0.1, seed=0)
    esn.fit(u[:800], u[1:801])
    assert nrmse(u[801:1101], esn.predict(u[600:1100])[200:]) < 1e-5  # measured 4.5e-7
    assert nrmse(u[901:1101], esn.generate(200, warmup=u[700:901])) < 1e-4  # measured 9e-7


def test_predicts_mackey_glass(mg):
    """One step ahead < 1e-3 and 84 free-running steps < 2e-2 (median of 4 starts) NRMSE."""
    esn = EchoStateNetwork(1, 300, 1, spectral_radius=1.25, leak_rate=0.5, bias_scaling=0.2,
                           connectivity=0.03, ridge=1e-9, seed=0)  # fmt: skip
    esn.fit(mg[:2100], mg[1:2101])
    assert nrmse(mg[2101:2601], esn.predict(mg[1900:2600])[200:]) < 1e-3  # measured 4.1e-4
    free = [
        nrmse(mg[s : s + 84], esn.generate(84, warmup=mg[s - 200 : s]), scale=mg.std())
        for s in (2100, 2250, 2400, 2550)
    ]
    assert np.median(free) < 2e-2  # measured 5.3e-3


def test_autonomous_generator_with_feedback_learns_a_sine():
    """No input: the output fed back through W_back (Jaeger's sine generator), teacher noise."""
    y = 0.5 * np.sin(np.arange(1500) * 2 * np.pi / 25)
    esn = EchoStateNetwork(0, 100, 1, feedback=True, teacher_noise=1e-4, spectral_radius=0.8,
                           connectivity=0.1, bias_scaling=0.2, ridge=1e-8, seed=0)  # fmt: skip
    esn.fit(None, y[:1200])
    one_step = esn.predict(targets=y[:1200])
    assert nrmse(y[100:1200], one_step[100:]) < 1e-2
    generated = esn.generate(200, warmup=y[1000:1200])
    assert nrmse(y[1200:1400], generated) < 5e-2


def test_force_learning_trains_the_feedback_loop_online():
    y = 0.5 * np.sin(np.arange(1500) * 2 * np.pi / 25)
    esn = EchoStateNetwork(0, 100, 1, feedback=True, spectral_radius=1.2, feedback_scaling=0.3,
                           connectivity=0.1, bias_scaling=0.2, seed=0)  # fmt: skip
    esn.fit_online(None, y[:1200], delta=1e-3)
    assert nrmse(y[1200:1400], esn.generate(200, warmup=y[1000:1200])) < 5e-2  # measured 1.4e-2


# ------------------------------------------------------------------ API
def test_numpy_and_torch_in_the_same_kind_out(mg):
    esn = EchoStateNetwork(1, 60, 1, connectivity=0.1, seed=0).fit(mg[:500], mg[1:501])
    vector = esn.predict(mg[:300])
    assert isinstance(vector, np.ndarray) and vector.shape == (300,)
    assert esn.predict(mg[:300, None]).shape == (300, 1)
    tensor = esn.predict(torch.from_numpy(mg[:300]))
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float64
    np.testing.assert_array_equal(tensor.numpy(), vector)
    out, states = esn.predict(torch.from_numpy(mg[:300, None]), return_states=True)
    assert out.shape == (300, 1) and states.shape == (300, 60)
    np.testing.assert_array_equal(states.numpy(), esn.states(mg[:300]))
    generated = esn.generate(10, warmup=torch.from_numpy(mg[:100]).float())
    assert isinstance(generated, torch.Tensor) and generated.shape == (10,)
    fitted_on_torch = EchoStateNetwork(1, 60, 1, connectivity=0.1, seed=0).fit(
        torch.from_numpy(mg[:500]), torch.from_numpy(mg[1:501])
    )
    np.testing.assert_array_equal(fitted_on_torch.W_out, esn.W_out)


def test_float32_reservoir(mg):
    esn = EchoStateNetwork(1, 80, 1, connectivity=0.1, seed=0, dtype=torch.float32)
    esn.fit(mg[:800], mg[1:801])
    prediction = esn.predict(mg[600:1000])
    assert prediction.dtype == np.float32 and esn.weights.W.dtype == np.float32
    assert nrmse(mg[801:1001], prediction[200:]) < 1e-2


def test_save_load_round_trip(tmp_path, mg):
    esn = EchoStateNetwork(1, 70, 1, feedback=True, connectivity=0.1, leak_rate=0.7, seed=9)
    esn.fit(mg[:600], mg[1:601])
    esn.save(tmp_path / "esn")
    loaded = EchoStateNetwork.load(tmp_path / "esn")
    assert loaded.config == esn.config
    np.testing.assert_array_equal(loaded.W_out, esn.W_out)
    np.testing.assert_array_equal(
        loaded.predict(mg[:300], mg[1:301]), esn.predict(mg[:300], mg[1:301])
    )
    assert sorted(p.name for p in (tmp_path / "esn").iterdir()) == [
        "config.json",
        "weights.safetensors",
    ]  # no temporary files left behind
    document = json.loads((tmp_path / "esn" / "config.json").read_text())
    assert document["config"]["reservoir_size"] == 70 and document["config"]["seed"] == 9
    # an unfitted network saves and loads too; a config with an unknown key does not load
    EchoStateNetwork(1, 30, 1, connectivity=0.2, seed=0).save(tmp_path / "bare")
    assert EchoStateNetwork.load(tmp_path / "bare").W_out is None
    document["config"]["colour"] = "red"
    (tmp_path / "esn" / "config.json").write_text(json.dumps(document))
    with pytest.raises(ValueError, match="unknown keys \\['colour'\\]"):
        EchoStateNetwork.load(tmp_path / "esn")


def test_seed_none_draws_and_records_a_seed():
    a, b = (EchoStateNetwork(1, 30, 1, connectivity=0.2) for _ in range(2))
    assert a.config.seed != b.config.seed
    rebuilt = EchoStateNetwork(1, 30, 1, connectivity=0.2, seed=a.config.seed)
    np.testing.assert_array_equal(rebuilt.weights.W_in, a.weights.W_in)

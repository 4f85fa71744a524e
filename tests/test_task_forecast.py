"""`recur train --task forecast`: RNN and ESN end to end, metrics and baselines, scaling fitted on
the training part, time stamps, predict, bad input."""

import csv
import json
import math
from datetime import datetime

import numpy as np
import pytest
import torch

from recur.cli.main import main
from recur.tasks.forecast_data import builtin_series, future_times, read_series
from recur.tasks.forecast_scores import errors, in_sample_scale, naive, seasonal_naive

PERIOD = 20


@pytest.fixture(autouse=True, scope="module")
def single_threaded():
    """One torch and one BLAS thread: the reservoir's small dense solves crawl when BLAS threads
    spin against each other on a busy 2-core machine (see tests/test_reservoir_esn.py)."""
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


def sine(n, noise=0.02, seed=0, shift_after=None, shift=0.0):
    """sin(2πt/20) + noise; from row ``shift_after`` on, ``shift`` is added (a new level)."""
    rng = np.random.default_rng(seed)
    y = np.sin(2 * np.pi * np.arange(n) / PERIOD) + noise * rng.standard_normal(n)
    if shift_after is not None:
        y[shift_after:] += shift
    return y


def write_csv(path, columns, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def sine_csv(path, n=300, **kwargs):
    y = sine(n, **kwargs)
    return write_csv(path, ["t", "y"], [[k, f"{v:.6f}"] for k, v in enumerate(y)])


def train_args(data, run, *extra):
    return ["train", "--task", "forecast", "--data", str(data), "--run-dir", str(run),
            "--time-column", "t", "--lookback", "16", "--horizon", "5", "--hidden-size", "16",
            "--max-steps", "150", "--eval-every", "50", "--lr", "1e-2", "--threads", "1",
            "--quiet", *extra]  # fmt: skip


def evaluate(capsys, *args):
    capsys.readouterr()
    assert main(["evaluate", *map(str, args)]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast")
    data = sine_csv(root / "sine.csv")
    for model in ("rnn", "esn"):
        assert main(train_args(data, root / model, "--model", model)) == 0
    return root, data


@pytest.mark.parametrize("model", ["rnn", "esn"])
def test_model_beats_the_baselines_on_a_clean_sine(runs, model, capsys):
    root, _ = runs
    run = root / model
    assert (run / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    result = evaluate(capsys, run)
    keys = {"mae", "rmse", "nrmse", "mase", "mase_seasonal", "naive_mae", "naive_rmse",
            "naive_mase", "seasonal_naive_mae", "seasonal_naive_rmse",
            "seasonal_naive_mase"}  # fmt: skip
    assert keys <= set(result) and result["windows"] == 45 - 5 + 1 and result["horizon"] == 5
    # the naive forecast of 1-5 steps of a period-20 sine is off by ~0.5; the models by < 0.1
    assert result["naive_mae"] > 0.4
    assert result["mae"] < 0.25 * result["naive_mae"]
    assert result["mase"] < 0.25 * result["naive_mase"]
    assert result["mase"] == pytest.approx(result["mase_seasonal"])  # season 1
    valid = evaluate(capsys, run, "--split", "valid")
    assert valid["windows"] == 41 and valid["mae"] < 0.25 * valid["naive_mae"]


def test_the_esn_is_fitted_in_closed_form(runs, capsys):
    root, data = runs
    meta = json.loads((root / "esn" / "task.json").read_text())
    assert meta["ridge"] in [10.0**k for k in range(-8, 4)]
    assert not (root / "esn" / "metrics.jsonl").exists()  # no gradient steps were logged
    args = train_args(data, root / "esn-again", "--model", "esn", "--ridge", "0.01")
    assert main(args) == 0
    assert "fitted in closed form" in capsys.readouterr().out
    assert json.loads((root / "esn-again" / "task.json").read_text())["ridge"] == 0.01


def test_predict_continues_the_series(runs, tmp_path, capsys):
    root, data = runs
    tail = tmp_path / "tail.csv"
    rows = list(csv.reader(data.read_text().splitlines()))
    write_csv(tail, rows[0], rows[-40:])
    out = tmp_path / "next.csv"
    for model in ("rnn", "esn"):
        assert main(["predict", str(root / model), "--input", str(tail), "--output", str(out)]) == 0
        records = list(csv.DictReader(out.read_text().splitlines()))
        assert [r["step"] for r in records] == ["1", "2", "3", "4", "5"]
        assert [r["t"] for r in records] == ["300", "301", "302", "303", "304"]
        truth = np.sin(2 * np.pi * np.arange(300, 305) / PERIOD)
        assert np.abs(np.array([float(r["y"]) for r in records]) - truth).max() < 0.2


def test_autoregressive_strategy(tmp_path, capsys):
    data = sine_csv(tmp_path / "sine.csv")
    for model in ("esn", "rnn"):
        run = tmp_path / model
        assert main(train_args(data, run, "--model", model, "--strategy", "autoregressive")) == 0
        assert json.loads((run / "task.json").read_text())["output_steps"] == 1
        result = evaluate(capsys, run)
        assert result["horizon"] == 5 and result["mae"] < 0.5 * result["naive_mae"]


def test_scaling_is_fitted_on_the_training_part_only(tmp_path, capsys):
    # the test part (last 15 %) sits 5 units higher: the training mean must not see it
    y = sine(200, shift_after=170, shift=5.0)
    data = write_csv(tmp_path / "shift.csv", ["t", "y"], [[k, v] for k, v in enumerate(y)])
    assert main(train_args(data, tmp_path / "run", "--max-steps", "5")) == 0
    meta = json.loads((tmp_path / "run" / "task.json").read_text())
    assert meta["rows"] == {"train": 140, "valid": 30, "test": 30}
    assert meta["mean"][0] == pytest.approx(y[:140].mean())
    assert meta["std"][0] == pytest.approx(y[:140].std())
    assert abs(meta["mean"][0] - y.mean()) > 0.5
    assert meta["naive_scale"][0] == pytest.approx(np.abs(np.diff(y[:140])).mean())


def test_dates_two_columns_and_unsorted_rows(tmp_path, capsys):
    days = [datetime(2024, 1, 1).toordinal() + k for k in range(150)]
    rows = [[datetime.fromordinal(d).date().isoformat(), f"{math.sin(k / 3):.5f}", k % 7]
            for k, d in enumerate(days)]  # fmt: skip
    rows = rows[::-1]  # newest first: sorted by the time column
    data = write_csv(tmp_path / "daily.csv", ["date", "a", "b"], rows)
    series = read_series(data, time_column="date")
    assert series.columns == ["a", "b"] and series.times[0] == datetime(2024, 1, 1)
    assert series.values[1].tolist() == [round(math.sin(1 / 3), 5), 1.0]
    args = train_args(data, tmp_path / "run", "--max-steps", "5", "--season", "7")
    args[args.index("t")] = "date"
    assert main(args) == 0
    result = evaluate(capsys, tmp_path / "run")
    assert result["season"] == 7 and result["seasonal_naive_mae"] < result["naive_mae"]
    assert main(["predict", str(tmp_path / "run"), "--input", str(data)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["date"] for r in records][:2] == ["2024-05-30", "2024-05-31"]
    assert set(records[0]) == {"step", "date", "a", "b"}


def test_future_times():
    months = [datetime(2020, m, 15) for m in (1, 4, 7, 10)]
    assert future_times(months, 2) == [datetime(2021, 1, 15), datetime(2021, 4, 15)]
    assert future_times([1.0, 2.5, 4.0], 2) == [5.5, 7.0]
    assert future_times([1.0, 2.0, 4.0], 2) is None  # irregular
    assert future_times(None, 2) is None


def test_baselines_and_mase_golden_values():
    values = np.array([[1.0], [3.0], [2.0], [5.0], [4.0], [6.0], [8.0]])
    origins = range(3, 5)  # last observed rows 3 and 4
    assert naive(values, origins, 2)[:, :, 0].tolist() == [[5.0, 5.0], [4.0, 4.0]]
    # season 2: h=1 takes the row one before the origin, h=2 the origin itself
    assert seasonal_naive(values, origins, 2, 2)[:, :, 0].tolist() == [[2.0, 5.0], [5.0, 4.0]]
    assert in_sample_scale(values[:4], 1) == [pytest.approx((2 + 1 + 3) / 3)]
    truth = np.array([[[4.0], [6.0]], [[6.0], [8.0]]])
    result = errors(truth, naive(values, origins, 2), {"mase": [2.0]})
    assert result["mae"] == pytest.approx((1 + 1 + 2 + 4) / 4)
    assert result["rmse"] == pytest.approx(math.sqrt((1 + 1 + 4 + 16) / 4))
    assert result["mase"] == pytest.approx(1.0)


def test_builtin_series():
    sunspots, digest = builtin_series("sunspots")
    assert len(sunspots) == 309 and sunspots.columns == ["SUNACTIVITY"]
    assert sunspots.times[0] == 1700 and sunspots.times[-1] == 2008 and len(digest) == 64
    mg, _ = builtin_series("mackey-glass")
    assert mg.values.shape == (2000, 1) and mg.times is None


def test_esn_on_mackey_glass(tmp_path, capsys):
    run = tmp_path / "mg"
    args = ["train", "--task", "forecast", "--builtin", "mackey-glass", "--model", "esn",
            "--reservoir-size", "200", "--run-dir", str(run), "--threads", "1",
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    result = evaluate(capsys, run)
    assert result["nrmse"] < 0.02 and result["mase"] < 0.05 and result["naive_mase"] > 4


# ---------------------------------------------------------------- bad input: exit 2, one line
def fails(args, capsys, *needles):
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_bad_files(tmp_path, capsys):
    good = sine_csv(tmp_path / "good.csv", 120)
    fails(train_args(good, tmp_path / "r", "--value-column", "z"), capsys,
          "good.csv", "no column 'z'", "columns: t, y")  # fmt: skip
    args = train_args(good, tmp_path / "r")
    args[args.index("t")] = "time"
    fails(args, capsys, "good.csv", "no column 'time'")
    bad = good.read_text().splitlines()
    bad[7] = "6,n/a"
    (tmp_path / "num.csv").write_text("\n".join(bad) + "\n")
    fails(train_args(tmp_path / "num.csv", tmp_path / "r"), capsys,
          "num.csv line 8", "column 'y'", "'n/a' is not a number")  # fmt: skip
    bad[7] = "yesterday,1.0"
    (tmp_path / "time.csv").write_text("\n".join(bad) + "\n")
    fails(train_args(tmp_path / "time.csv", tmp_path / "r"), capsys,
          "time.csv line 8", "'yesterday' is neither a number nor an ISO date")  # fmt: skip
    bad[7] = "3,1.0"
    (tmp_path / "dup.csv").write_text("\n".join(bad) + "\n")
    fails(train_args(tmp_path / "dup.csv", tmp_path / "r"), capsys,
          "dup.csv line 8", "time stamp 3 repeats line 5")  # fmt: skip
    bad[7] = "2024-01-01,1.0"
    (tmp_path / "mixed.csv").write_text("\n".join(bad) + "\n")
    fails(train_args(tmp_path / "mixed.csv", tmp_path / "r"), capsys,
          "mixed.csv line 8", "a date/time, but line 2 holds a number")  # fmt: skip
    (tmp_path / "empty.csv").write_text("")
    fails(train_args(tmp_path / "empty.csv", tmp_path / "r"), capsys, "empty.csv is empty")
    (tmp_path / "a.jsonl").write_text('{"t": 0, "y": 1}\n{"t": 1}\n')
    fails(train_args(tmp_path / "a.jsonl", tmp_path / "r"), capsys,
          "a.jsonl line 2", "no value for 'y'")  # fmt: skip
    flat = write_csv(tmp_path / "flat.csv", ["t", "y"], [[k, 1.0] for k in range(100)])
    fails(train_args(flat, tmp_path / "r"), capsys, "flat.csv", "'y' is constant")
    assert not (tmp_path / "r").exists()


def test_too_few_rows_says_how_many_are_needed(tmp_path, capsys):
    # 31 rows: 21 to train (one window of 16 + 5), 5 to validate, 5 to test (15 % each)
    short = sine_csv(tmp_path / "short.csv", 25)
    fails(train_args(short, tmp_path / "r"), capsys,
          "short.csv: 25 rows are too few for lookback 16 + horizon 5",
          "at least 31 rows")  # fmt: skip
    ok = sine_csv(tmp_path / "ok.csv", 31)
    assert main(train_args(ok, tmp_path / "r", "--max-steps", "2")) == 0


def test_bad_options(tmp_path, capsys):
    good = sine_csv(tmp_path / "good.csv", 120)
    fails(train_args(good, tmp_path / "r", "--model", "arima"), capsys, "model.kind", "--model")
    fails(train_args(good, tmp_path / "r", "--builtin", "sunspots"), capsys, "data.builtin")
    fails(train_args(good, tmp_path / "r", "--value-column", "y,,"), capsys, "data.value_columns")
    fails(["train", "--task", "forecast", "--time-column", "t", "--run-dir", str(tmp_path / "r")],
          capsys, "data.time_column")  # fmt: skip


def test_bad_input_at_evaluation_and_prediction(runs, tmp_path, capsys):
    root, _ = runs
    run = root / "rnn"
    few = sine_csv(tmp_path / "few.csv", 10)
    out = tmp_path / "out.csv"
    out.write_text("previous")
    fails(["predict", str(run), "--input", str(few), "--output", str(out)], capsys,
          "few.csv: 10 rows; a forecast from lookback 16 needs at least 16")  # fmt: skip
    assert out.read_text() == "previous"
    fails(["evaluate", str(run), "--data", str(few)], capsys, "needs at least 21")
    other = write_csv(tmp_path / "other.csv", ["t", "v"], [[k, k % 3] for k in range(30)])
    fails(["evaluate", str(run), "--data", str(other)], capsys, "other.csv", "no column 'y'")
    data = sine_csv(tmp_path / "more.csv", 60)
    result = evaluate(capsys, run, "--data", data)
    assert result["windows"] == 60 - 16 - 5 + 1


def test_the_three_formats_read_alike(tmp_path):
    rows = [(3, 0.5, 2), (1, 1.5, 4), (2, -2.0, 6)]
    write_csv(tmp_path / "s.csv", ["t", "a", "b"], rows)
    (tmp_path / "s.tsv").write_text("t\ta\tb\n" + "".join(f"{t}\t{a}\t{b}\n" for t, a, b in rows))
    (tmp_path / "s.jsonl").write_text(
        "".join(json.dumps({"t": t, "a": a, "b": b}) + "\n" for t, a, b in rows)
    )
    for name in ("s.csv", "s.tsv", "s.jsonl"):
        series = read_series(tmp_path / name, time_column="t", value_columns=["b", "a"])
        assert series.times == [1, 2, 3] and series.columns == ["b", "a"]
        assert series.values.tolist() == [[4, 1.5], [6, -2.0], [2, 0.5]]
        assert series.lines == ([3, 4, 2] if name != "s.jsonl" else [2, 3, 1])

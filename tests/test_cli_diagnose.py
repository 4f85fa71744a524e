"""`recur diagnose` and `recur experiment` in-process: plots, JSON checked against autograd and the
saved weights, and bad input."""

import json
import math
import shutil

import pytest
import torch
import torch.nn.functional as F

from recur.cli import diagnose
from recur.cli.common import open_run
from recur.cli.main import main
from recur.data.text import batchify, load_corpus, split_by_position
from recur.experiments import EXPERIMENTS

PNG = b"\x89PNG\r\n\x1a\n"
PLOTS = ["gradient_flow.png", "jacobian_spectrum.png", "grad_norm_history.png"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from pydoc_data.topics import topics

    path = tmp_path_factory.mktemp("data") / "small.txt"
    path.write_text("".join(topics[k] for k in sorted(topics))[:6000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """A two-layer LSTM language model trained for 5 steps, shared by the read-only tests."""
    run = tmp_path_factory.mktemp("runs") / "run"
    args = [
        "train", "--data", str(corpus), "--run-dir", str(run), "--hidden-size", "16",
        "--num-layers", "2", "--batch-size", "4", "--bptt", "16", "--max-steps", "5",
        "--eval-every", "5", "--log-every", "1", "--warmup-steps", "1", "--lr", "1e-2",
        "--quiet", "--sample-tokens", "0",
    ]  # fmt: skip
    assert main(args) == 0
    return run


def numbers(obj):
    """Every number in a JSON value."""
    if isinstance(obj, dict):
        return [n for value in obj.values() for n in numbers(value)]
    if isinstance(obj, list):
        return [n for value in obj for n in numbers(value)]
    return [obj] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []


def test_diagnose_writes_plots_and_json(trained, capsys):
    assert main(["diagnose", str(trained)]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["plots"] == [str(trained / "diagnostics" / name) for name in PLOTS]
    for name in PLOTS:
        assert (trained / "diagnostics" / name).read_bytes()[:8] == PNG
    assert not [p for p in (trained / "diagnostics").iterdir() if p.name not in PLOTS]
    assert set(result["gradient_flow"]) == set(result["jacobian"]) == {"rnn.l0", "rnn.l1"}
    for layer in result["jacobian"].values():
        assert len(layer["spectral_radius"]) == len(layer["sigma_max"]) == 4  # LSTM gates
    assert result["grad_norm"]["logged"] == 5 and result["grad_norm"]["clip_norm"] == 1.0
    assert 0.0 <= result["grad_norm"]["clip_rate"] <= 1.0
    assert result["batch"].startswith("4 x 16 of the valid split")
    values = numbers({k: v for k, v in result.items() if k != "plots"})
    assert len(values) > 20 and all(math.isfinite(v) for v in values)
    assert "gradient flow" in err and "step Jacobians" in err


def test_diagnose_numbers_match_autograd_and_the_weights(trained, capsys):
    assert main(["diagnose", str(trained), "--batch-size", "2", "--length", "8"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["batch"].startswith("2 x 8 ")
    saved = open_run(trained)
    model = saved.model
    # the batch: the first 9 tokens of 2 rows of the validation split
    data = saved.config.data
    text = split_by_position(load_corpus(data.path), data.valid_fraction, data.test_fraction)
    window = batchify(saved.meta.encode(text["valid"], "skip"), 2)[:, :9]
    # dL/dh_{T-1} of the top layer only flows through the output at the last step
    x = model.embed(window[:, :-1], "ids")
    output, _ = model.rnn(x)
    loss = F.cross_entropy(model.head(output).flatten(0, 1), window[:, 1:].flatten())
    (d_output,) = torch.autograd.grad(loss, output)
    assert result["loss"] == pytest.approx(float(loss.detach()), rel=1e-5)
    top = result["gradient_flow"]["rnn.l1"]
    assert top["last"] == pytest.approx(float(d_output[:, -1].norm()), rel=1e-4)
    assert top["ratio"] == pytest.approx(top["first"] / top["last"])
    for index in range(2):
        w = getattr(model.rnn, f"weight_hh_l{index}").detach().double()
        blocks = w.split(16)
        radius = [float(torch.linalg.eigvals(b).abs().max()) for b in blocks]
        sigma = [float(torch.linalg.matrix_norm(b, ord=2)) for b in blocks]
        assert result["jacobian"][f"rnn.l{index}"]["spectral_radius"] == pytest.approx(radius)
        assert result["jacobian"][f"rnn.l{index}"]["sigma_max"] == pytest.approx(sigma)


def test_diagnose_out_folder(trained, tmp_path, capsys):
    out = tmp_path / "new" / "plots"
    assert main(["diagnose", str(trained), "--out", str(out), "--length", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["plots"] == [str(out / name) for name in PLOTS]
    assert sorted(p.name for p in out.iterdir()) == sorted(PLOTS)


# ---------------------------------------------------------------- bad input: exit 2, one line
def fails(args, capsys, match):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err, err
    assert match in err, err


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--batch-size", "0"], "batch-size: expected an int >= 1, got 0"),
        (["--length", "-1"], "length: expected an int >= 1, got -1"),
        (["--threads", "0"], "threads: expected an int >= 1"),
        (["--length", "100000"], "length: the valid split of"),
        (["--length", "long"], "argument --length: invalid int value: 'long'"),
        (["--data", "/no/such/file.txt"], "/no/such/file.txt"),
    ],
)
def test_diagnose_bad_options(trained, tmp_path, capsys, extra, match):
    out = tmp_path / "plots"
    fails(["diagnose", str(trained), "--out", str(out), *extra], capsys, match)
    assert not out.exists()


def test_diagnose_bad_runs(trained, tmp_path, capsys):
    fails(["diagnose", str(tmp_path / "missing")], capsys, "run: ")
    fails(["diagnose", str(tmp_path)], capsys, "config.json does not exist")
    no_model = tmp_path / "no_model"
    shutil.copytree(trained, no_model)
    (no_model / "model.safetensors").unlink()
    fails(["diagnose", str(no_model)], capsys, "model.safetensors does not exist")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    fails(["diagnose", str(trained), "--out", str(a_file)], capsys, "out: ")


def test_diagnose_names_the_tasks_it_reads(trained, monkeypatch, capsys):
    monkeypatch.setattr(diagnose, "BATCHES", {"other": None})
    fails(["diagnose", str(trained)], capsys, "is a 'lm' run; diagnose reads 'other' runs")


# ---------------------------------------------------------------- recur experiment
def test_experiment_help_lists_every_experiment(capsys):
    assert main(["experiment", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPERIMENTS)


def test_experiment_runs_one_quick(tmp_path, capsys):
    assert main(["experiment", "exploding", "--quick", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("exploding: ")
    assert (tmp_path / "exploding.png").read_bytes()[:8] == PNG
    assert "(exploding.md)" in (tmp_path / "README.md").read_text()


def test_experiment_bad_input(tmp_path, capsys):
    fails(["experiment", "no-such-experiment"], capsys, "invalid choice: 'no-such-experiment'")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    fails(["experiment", "exploding", "--quick", "--out", str(a_file)], capsys, "out: ")

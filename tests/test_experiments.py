"""recur.experiments: every experiment runs in quick mode and writes its page; tasks and models
have the properties the pages rely on."""

import json

import pytest
import torch

from recur.experiments import EXPERIMENTS, run_experiment
from recur.experiments.__main__ import main
from recur.experiments.models import build, count_parameters
from recur.experiments.tasks import AddingTask, CopyTask, FillBlankTask, WaveTask
from recur.experiments.training import train

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_experiment_quick_run_writes_table_png_and_index(name, tmp_path):
    report = run_experiment(name, tmp_path, quick=True)
    page = (tmp_path / f"{name}.md").read_text()
    assert page.startswith(f"# {report.title}")
    assert "Quick run" in page
    assert "| " + " | ".join(report.columns) + " |" in page
    assert len(report.rows) >= 2 and all(len(r) == len(report.columns) for r in report.rows)
    assert "**Would contradict the claim.**" in page and report.contradiction in page
    assert f"**Verdict: {report.outcome}.**" in page
    assert (tmp_path / f"{name}.png").read_bytes()[:8] == PNG
    assert json.loads((tmp_path / f"{name}.json").read_text())["outcome"] == report.outcome
    assert f"({name}.md)" in (tmp_path / "README.md").read_text()


def test_command_line_runs_one_experiment(tmp_path, capsys):
    main(["exploding", "--quick", "--out", str(tmp_path)])
    assert "exploding:" in capsys.readouterr().out
    assert (tmp_path / "exploding.png").exists()
    with pytest.raises(ValueError, match="name: expected one of"):
        run_experiment("no-such-experiment", tmp_path)


def test_adding_task_chance_is_the_target_variance():
    x, y = AddingTask(20).sample(20000, torch.Generator().manual_seed(0))
    assert x.shape == (20, 20000, 2)
    assert torch.all(x[:10, :, 1].sum(0) == 1) and torch.all(x[10:, :, 1].sum(0) == 1)
    assert float(((y - 1) ** 2).mean()) == pytest.approx(AddingTask.chance, rel=0.03)


def test_copy_task_recalls_the_symbols_after_the_delimiter():
    task = CopyTask(delay=3, length=4, symbols=5)
    x, y = task.sample(6, torch.Generator().manual_seed(0))
    tokens = x.argmax(-1)
    assert x.shape == (11, 6, 7) and task.steps == 11
    assert torch.equal(tokens[:4], y + 1)
    assert torch.all(tokens[7] == 6) and torch.all(tokens[4:7] == 0) and torch.all(tokens[8:] == 0)
    perfect = torch.zeros(11, 6, 5)
    perfect[-4:].scatter_(2, y.unsqueeze(2), 1.0)
    assert float(task.metric(perfect, y)) == 1.0


@pytest.mark.parametrize("context", ["both", "past"])
def test_fill_blank_answer_comes_from_the_stated_context(context):
    task = FillBlankTask(steps=9, vocab=7, context=context)
    x, y = task.sample(50, torch.Generator().manual_seed(1))
    tokens = x.argmax(-1)
    for b in range(50):
        p = int(y[0, b])
        assert tokens[p, b] == 7
        pair = (p - 1, p + 1) if context == "both" else (p - 2, p - 1)
        assert int(y[1, b]) == (int(tokens[pair[0], b]) + int(tokens[pair[1], b])) % 7


def test_wave_target_is_fixed_and_normalised():
    target = WaveTask(steps=64).target()
    assert torch.equal(target, WaveTask(steps=64).target())
    assert float(target.std()) == pytest.approx(1.0, abs=1e-5)


def test_no_forget_gate_lstm_keeps_f_equal_to_one_through_training():
    torch.manual_seed(0)
    model = build("lstm-no-forget", 2, 4, 1)
    before = {n: p.detach().clone() for n, p in model.rnn.named_parameters()}
    train(model, AddingTask(5), steps=3, lr=0.1, eval_every=10)
    rows = slice(4, 8)
    for name, p in model.rnn.named_parameters():
        assert torch.equal(p[rows], before[name][rows]), name
        assert not torch.equal(p, before[name]), name  # the other gates did train
    x = torch.randn(5, 3, 2)
    xp = x @ model.rnn.weight_ih_l0.t() + model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    assert torch.all(torch.sigmoid(xp[..., rows]) == 1.0)


def test_identity_init_and_clockwork_parameter_count():
    irnn = build("irnn", 3, 5, 1)
    assert torch.equal(irnn.rnn.weight_hh_l0, torch.eye(5))
    assert torch.all(irnn.rnn.bias_hh_l0 == 0)
    clockwork = build("clockwork", 1, 4, 1, periods=(1, 2))
    # 4x4 W_hh, 2 modules of 2: 3 of the 4 blocks are free (12 weights), + 4 + 4 + 4 + head 5
    assert count_parameters(clockwork) == 12 + 4 + 4 + 4 + 5

"""recur.train: schedule, a non-language task on the same loop, determinism, resume, stopping."""

import json
import math
import os
import signal

import pytest
import torch
import torch.nn.functional as F

from recur.cli.main import main
from recur.layers.registry import make_layer
from recur.train import LoopConfig, OptimConfig, RunDir, Trainer, load_tensors
from recur.train.schedule import LRSchedule
from recur.train.trainer import Trainer as TrainerClass


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as `recur train` uses: two spin-wait badly on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def losses(run_dir):
    """Every loss of a run's metrics.jsonl (train and valid), without the timing fields."""
    keep = ("step", "loss", "lr", "grad_norm", "valid_loss")
    return [{k: r[k] for k in keep if k in r} for r in RunDir(run_dir).read_metrics()]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from pydoc_data.topics import topics

    path = tmp_path_factory.mktemp("data") / "small.txt"
    path.write_text("".join(topics[k] for k in sorted(topics))[:6000], encoding="utf-8")
    return path


def tiny(corpus, run_dir, *extra):
    return [
        "train", "--data", str(corpus), "--run-dir", str(run_dir), "--hidden-size", "32",
        "--batch-size", "4", "--bptt", "16", "--max-steps", "30", "--eval-every", "10",
        "--log-every", "5", "--warmup-steps", "5", "--lr", "1e-2", "--quiet",
        "--sample-tokens", "0", *extra,
    ]  # fmt: skip


# ---------------------------------------------------------------- schedule
def test_warmup_then_cosine_to_the_floor():
    s = LRSchedule(OptimConfig(lr=1.0, warmup_steps=3, min_lr_ratio=0.1))
    assert [s.lr(k, 0.0) for k in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert s.lr(10, 0.5) == pytest.approx(0.55)
    assert s.lr(10, 1.0) == pytest.approx(0.1)


def test_plateau_decays_after_patience_evaluations():
    s = LRSchedule(OptimConfig(lr=1.0, warmup_steps=0, schedule="plateau", plateau_patience=1))
    for loss in (3.0, 2.0, 2.5, 2.5):  # two evaluations without a better loss
        s.observe(loss)
    assert s.lr(100, 0.5) == 0.5
    assert LRSchedule(OptimConfig(lr=2.0, warmup_steps=0, schedule="constant")).lr(9, 0.9) == 2.0


# ---------------------------------------------------------------- a task that is not an LM
class SignTask:
    """Is the sum of a random sequence positive? N -> 1 classification on the same loop."""

    loss_unit, loss_scale = "nats", 1.0

    def __init__(self):
        self.gen = torch.Generator().manual_seed(0)
        self.batches = 0

    def _batch(self, gen):
        x = torch.randn(16, 6, 1, generator=gen)
        return x, (x.sum(dim=(1, 2)) > 0).long()

    def train_batch(self):
        self.batches += 1
        return self._batch(self.gen)

    def loss(self, model, batch):
        x, y = batch
        return F.cross_entropy(model(x), y), y.numel()

    def evaluate(self, model, split):
        with torch.no_grad():
            x, y = self._batch(torch.Generator().manual_seed(1))
            loss = float(F.cross_entropy(model(x), y))
        return {"loss": loss, "count": y.numel()}

    def state_dict(self):
        return {"batches": self.batches, "gen": self.gen.get_state()}

    def load_state_dict(self, state):
        self.batches = state["batches"]
        self.gen.set_state(state["gen"])


class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = make_layer("gru", 1, 16, batch_first=True)
        self.head = torch.nn.Linear(16, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[1][-1])


def test_the_loop_trains_any_task_and_writes_its_run(tmp_path):
    torch.manual_seed(0)
    run = RunDir(tmp_path / "run")
    run.create()
    task = SignTask()
    trainer = Trainer(
        task,
        Classifier(),
        OptimConfig(lr=0.02, warmup_steps=0),
        LoopConfig(max_steps=120, eval_every=40, max_time=None),
        run=run,
    )
    summary = trainer.fit()
    assert summary["steps"] == 120 and summary["stopped"] == "max_steps"
    assert summary["valid"]["loss"] < 0.4 < math.log(2)  # far below chance
    assert (run / "loss.png").stat().st_size > 1000
    assert task.batches == 120
    fresh = Trainer(SignTask(), Classifier(), OptimConfig(), LoopConfig(max_steps=1))
    fresh.load_checkpoint(run / "checkpoint.safetensors")
    assert fresh.step == 120 and fresh.task.batches == 120


class ScriptedValidTask(SignTask):
    """SignTask whose validation losses follow a script: 3, 1, 2, 2 (best at the 2nd)."""

    def __init__(self):
        super().__init__()
        self.script, self.snapshots = [3.0, 1.0, 2.0, 2.0], []

    def evaluate(self, model, split):
        self.snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return {"loss": self.script[len(self.snapshots) - 1], "count": 1}


@pytest.mark.parametrize("keep_best", [True, False])
def test_the_best_evaluation_is_kept_and_saved(tmp_path, keep_best):
    torch.manual_seed(0)
    run = RunDir(tmp_path / "run")
    run.create()
    task, model = ScriptedValidTask(), Classifier()
    loop = LoopConfig(max_steps=40, eval_every=10, max_time=None, keep_best=keep_best)
    summary = Trainer(task, model, OptimConfig(lr=0.02), loop, run=run).fit()
    expected = task.snapshots[1 if keep_best else 3]
    saved, metadata = load_tensors(run / "model.safetensors")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0)
        torch.testing.assert_close(saved[name], expected[name], rtol=0, atol=0)
    assert summary["best_step"] == 20 and summary["valid"]["loss"] == (1.0 if keep_best else 2.0)
    assert metadata["step"] == ("20" if keep_best else "40")
    # a resume restores the best weights too
    again = Trainer(ScriptedValidTask(), Classifier(), OptimConfig(), loop)
    again.load_checkpoint(run / "checkpoint.safetensors")
    assert again.best_step == 20 and (again.best_weights is not None) == keep_best


# ---------------------------------------------------------------- through `recur train`
def test_same_seed_same_losses_other_seed_other_losses(corpus, tmp_path):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert main(tiny(corpus, tmp_path / name, "--seed", seed, "--dropout", "0.1")) == 0
    a, b, c = (losses(tmp_path / n) for n in "abc")
    assert a == b and len(a) == 9  # 6 log records and 3 evaluations
    assert a != c


def test_resume_after_a_crash_reaches_the_same_losses(corpus, tmp_path, monkeypatch):
    args = ("--dropout", "0.1", "--schedule", "cosine", "--eval-every", "10", "--max-steps", "35")
    assert main(tiny(corpus, tmp_path / "whole", *args)) == 0

    step = TrainerClass._train_step

    def crash_at_23(self, spent):
        if self.step == 23:
            raise RuntimeError("simulated crash")
        step(self, spent)

    monkeypatch.setattr(TrainerClass, "_train_step", crash_at_23)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(tiny(corpus, tmp_path / "crashed", *args))
    monkeypatch.undo()
    assert (
        json.loads((tmp_path / "crashed/metrics.jsonl").read_text().splitlines()[-1])["step"] == 20
    )
    assert (
        main(["train", "--resume", str(tmp_path / "crashed"), "--quiet", "--sample-tokens", "0"])
        == 0
    )
    assert losses(tmp_path / "crashed") == losses(tmp_path / "whole")


def test_resume_can_extend_the_budget(corpus, tmp_path):
    run = tmp_path / "run"
    assert main(tiny(corpus, run, "--schedule", "constant")) == 0
    resume = ["train", "--resume", str(run), "--max-steps", "40", "--quiet", "--sample-tokens", "0"]
    assert main(resume) == 0
    records = RunDir(run).read_metrics()
    assert records[-1]["step"] == 40
    assert json.loads((run / "config.json").read_text())["train"]["max_steps"] == 40


def test_early_stopping_and_plateau(corpus, tmp_path):
    # lr 0 (a constant schedule at a vanishing rate): the valid loss cannot improve
    extra = (
        "--lr",
        "1e-12",
        "--schedule",
        "plateau",
        "--early-stopping",
        "2",
        "--max-steps",
        "200",
    )
    args = tiny(corpus, tmp_path / "run", *extra)
    args[args.index("--eval-every") + 1] = "5"
    assert main(args) == 0
    evals = [r for r in RunDir(tmp_path / "run").read_metrics() if "valid_loss" in r]
    assert len(evals) == 3  # the first sets the best, two more without improvement stop


def test_clipping_by_value_and_sgd(corpus, tmp_path):
    extra = ("--optimizer", "sgd", "--clip-value", "0.01", "--clip-norm", "none", "--lr", "0.5")
    assert main(tiny(corpus, tmp_path / "run", *extra)) == 0
    records = [r for r in RunDir(tmp_path / "run").read_metrics() if "grad_norm" in r]
    n_params = 4 * 32 * (32 + 32 + 2) + 32 * 63 + 63 + 63 * 32  # bound: every entry <= 0.01
    assert all(r["grad_norm"] <= 0.01 * math.sqrt(n_params) for r in records)
    assert records[-1]["loss"] < records[0]["loss"]


def test_clip_rate_counts_the_clipped_steps(corpus, tmp_path):
    assert main(tiny(corpus, tmp_path / "tight", "--clip-norm", "1e-6")) == 0
    assert main(tiny(corpus, tmp_path / "loose", "--clip-norm", "1e6")) == 0
    for name, rate in (("tight", 1.0), ("loose", 0.0)):
        records = [r for r in RunDir(tmp_path / name).read_metrics() if "grad_norm" in r]
        assert records and all(r["clip_rate"] == rate for r in records), name


def test_ctrl_c_stops_after_a_checkpoint_and_resumes_exactly(corpus, tmp_path, monkeypatch):
    assert main(tiny(corpus, tmp_path / "whole", "--dropout", "0.1")) == 0
    step = TrainerClass._train_step

    def interrupt_at_12(self, spent):
        step(self, spent)
        if self.step == 12:
            os.kill(os.getpid(), signal.SIGINT)  # the handler asks the loop to stop

    monkeypatch.setattr(TrainerClass, "_train_step", interrupt_at_12)
    assert main(tiny(corpus, tmp_path / "stopped", "--dropout", "0.1")) == 130
    monkeypatch.undo()
    assert RunDir(tmp_path / "stopped").read_metrics()[-1]["step"] == 10
    resume = ["train", "--resume", str(tmp_path / "stopped"), "--quiet", "--sample-tokens", "0"]
    assert main(resume) == 0
    assert losses(tmp_path / "stopped") == losses(tmp_path / "whole")

"""`recur train` as separate processes: killed with SIGKILL then resumed, and DDP under torchrun."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from recur.cli.main import main
from recur.train.checkpoint import load_tensors, unflatten
from recur.train.run import RunDir

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from pydoc_data.topics import topics

    path = tmp_path_factory.mktemp("data") / "small.txt"
    path.write_text("".join(topics[k] for k in sorted(topics))[:20000], encoding="utf-8")
    return path


def losses(run_dir):
    keep = ("step", "loss", "lr", "grad_norm", "valid_loss")
    return [{k: r[k] for k in keep if k in r} for r in RunDir(run_dir).read_metrics()]


def test_kill_9_then_resume_reaches_the_uninterrupted_losses(corpus, tmp_path):
    args = [
        "train", "--data", str(corpus), "--hidden-size", "48", "--batch-size", "8",
        "--bptt", "32", "--max-steps", "150", "--eval-every", "5", "--log-every", "5",
        "--dropout", "0.1", "--quiet", "--sample-tokens", "0",
    ]  # fmt: skip
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "recur", *args, "--run-dir", str(killed)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (killed / "checkpoint.safetensors").exists():
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.005)
        time.sleep(0.1)  # somewhere in the following steps, evaluations or checkpoint writes
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    _, meta = load_tensors(killed / "checkpoint.safetensors")  # intact after the kill
    assert 5 <= int(meta["step"]) < 150, "the process ended before it was killed"

    assert main(["train", "--resume", str(killed), "--quiet", "--sample-tokens", "0"]) == 0
    assert main([*args, "--run-dir", str(tmp_path / "whole")]) == 0
    assert losses(killed) == losses(tmp_path / "whole")


def test_two_processes_match_one_with_the_same_global_batch(corpus, tmp_path):
    args = [
        "train", "--data", str(corpus), "--hidden-size", "32", "--batch-size", "8",
        "--bptt", "16", "--max-steps", "20", "--eval-every", "10", "--log-every", "5",
        "--quiet", "--sample-tokens", "0",
    ]  # fmt: skip
    ddp = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    launcher += ["--standalone", "-m", "recur"]  # a local rendezvous on a free port
    done = subprocess.run(
        [*launcher, *args, "--run-dir", str(ddp)], env=ENV, capture_output=True, timeout=180
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert "2 processes" in done.stderr.decode()
    assert main([*args, "--run-dir", str(tmp_path / "one")]) == 0

    two, one = losses(ddp), losses(tmp_path / "one")
    assert [r["step"] for r in two] == [r["step"] for r in one] and len(one) == 6
    for a, b in zip(two, one):
        for key in set(a) - {"step"}:
            assert a[key] == pytest.approx(b[key], rel=1e-4), key
    # rank 0 alone wrote the run: one record per step, no second writer's lines
    assert sorted(p.name for p in ddp.iterdir()) == sorted(
        p.name for p in (tmp_path / "one").iterdir()
    )
    a, _ = load_tensors(ddp / "model.safetensors")
    b, _ = load_tensors(tmp_path / "one/model.safetensors")
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-4, atol=1e-5)


def test_a_supervised_task_under_two_processes_matches_one(tmp_path):
    """classify's ExampleTask shards each global batch by rows, like the language model."""
    data = tmp_path / "series.ts"
    rows = []
    generator = torch.Generator().manual_seed(0)
    for k in range(64):
        label = k % 2
        values = torch.randn(8, generator=generator) + (1.0 if label else -1.0)
        rows.append(",".join(f"{v:.4f}" for v in values.tolist()) + f":{label}")
    data.write_text("@dimensions 1\n@classLabel true 0 1\n@data\n" + "\n".join(rows) + "\n")
    args = [
        "train", "--task", "classify", "--data", str(data), "--hidden-size", "16",
        "--batch-size", "16", "--max-steps", "12", "--eval-every", "6", "--log-every", "3",
        "--quiet",
    ]  # fmt: skip
    ddp = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    launcher += ["--standalone", "-m", "recur"]
    done = subprocess.run(
        [*launcher, *args, "--run-dir", str(ddp)], env=ENV, capture_output=True, timeout=180
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert main([*args, "--run-dir", str(tmp_path / "one")]) == 0
    two, one = losses(ddp), losses(tmp_path / "one")
    assert [r["step"] for r in two] == [r["step"] for r in one] and len(one) == 6
    for a, b in zip(two, one):
        for key in set(a) - {"step"}:
            assert a[key] == pytest.approx(b[key], rel=1e-4), key
    # the two processes read different halves of each batch: 12 steps x 16 examples in all
    tensors, metadata = load_tensors(ddp / "checkpoint.safetensors")
    counters = unflatten(json.loads(metadata["state"])["counters"], tensors)
    assert counters["tokens"] == 12 * 16

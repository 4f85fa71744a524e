"""`recur train --task clips`: .npz clips, variable lengths, evaluate, predict, bad input,
learning."""

import csv
import json

import numpy as np
import pytest

from recur.cli.main import main
from recur.tasks.clips import read_clips


def moving_dots(n, seed, frames=5, size=8, rank=5):
    """Clips of a 2x2 dot moving one pixel per frame left or right (chance 0.5) over noise,
    each 3..frames frames long (the rest zero padding). Returns (clips, labels, lengths)."""
    rng = np.random.default_rng(seed)
    clips = np.zeros((n, frames, 1, size, size), dtype=np.float32)
    labels = rng.choice(["left", "right"], n)
    lengths = rng.integers(3, frames + 1, n)
    for k in range(n):
        step = 1 if labels[k] == "right" else -1
        x = int(rng.integers(0, size - 2 - (frames - 1))) + (0 if step > 0 else frames - 1)
        y = int(rng.integers(0, size - 1))
        for t in range(lengths[k]):
            clips[k, t, 0] = rng.uniform(0, 0.2, (size, size))
            clips[k, t, 0, y : y + 2, x + step * t : x + step * t + 2] = 1.0
    return (clips[:, :, 0] if rank == 4 else clips), labels, lengths


def write_clips(path, clips, labels=None, lengths=None):
    arrays = {"clips": clips}
    if labels is not None:
        arrays["labels"] = labels
    if lengths is not None:
        arrays["lengths"] = lengths
    np.savez(path, **arrays)
    return path


def train_args(data, run, *extra):
    return ["train", "--task", "clips", "--data", str(data), "--run-dir", str(run),
            "--hidden-size", "16", "--batch-size", "32", "--max-steps", "20",
            "--eval-every", "10", "--lr", "1e-2", "--threads", "1", "--quiet", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def dots_run(tmp_path_factory):
    """The learning run: 120 steps on 300 variable-length clips, a test file beside it."""
    root = tmp_path_factory.mktemp("clips")
    train = write_clips(root / "train.npz", *moving_dots(300, seed=0))
    test = write_clips(root / "test.npz", *moving_dots(80, seed=1))
    run = root / "run"
    args = train_args(train, run, "--test", str(test), "--max-steps", "120", "--eval-every", "60")
    assert main(args) == 0
    return root, run, test


def evaluate(run, capsys, *extra):
    capsys.readouterr()
    assert main(["evaluate", str(run), *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_cnn_lstm_learns_the_direction_of_motion(dots_run, capsys):
    _, run, test = dots_run
    assert (run / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((run / "task.json").read_text())
    assert meta == {"labels": ["left", "right"], "channels": 1, "height": 8, "width": 8}
    result = evaluate(run, capsys, "--data", str(test))
    assert result["count"] == 80 and result["accuracy"] > 0.9, result  # chance 0.5
    assert 0.9 < result["macro_f1"] <= 1.0
    assert evaluate(run, capsys)["count"] == 80  # the run's test split
    assert evaluate(run, capsys, "--split", "valid")["count"] == 30


def test_predict_unlabelled_clips(dots_run, tmp_path, capsys):
    _, run, _ = dots_run
    clips, labels, lengths = moving_dots(20, seed=2)
    write_clips(tmp_path / "new.npz", clips, lengths=lengths)
    out = tmp_path / "labels.csv"
    assert (
        main(["predict", str(run), "--input", str(tmp_path / "new.npz"), "--output", str(out)]) == 0
    )
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["item"] for r in rows] == [str(k) for k in range(1, 21)]
    assert sum(r["label"] == y for r, y in zip(rows, labels)) >= 17
    assert all(0.5 <= float(r["probability"]) <= 1 for r in rows)


def test_uint8_rank4_clips_with_integer_labels(tmp_path, capsys):
    clips, labels, _ = moving_dots(40, seed=3, rank=4)
    data = write_clips(tmp_path / "u8.npz", (clips * 255).astype(np.uint8), labels == "right")
    assert read_clips(data).clips.max() == 1.0
    np.savez(tmp_path / "ints.npz", clips=(clips * 255).astype(np.uint8),
             labels=(labels == "right").astype(np.int64))  # fmt: skip
    run = tmp_path / "run"
    assert (
        main(train_args(tmp_path / "ints.npz", run, "--pooling", "mean", "--max-steps", "5")) == 0
    )
    assert json.loads((run / "task.json").read_text())["labels"] == ["0", "1"]
    assert evaluate(run, capsys, "--data", str(tmp_path / "ints.npz"))["count"] == 40


# ---------------------------------------------------------------- bad input: exit 2, one line
def fails(args, capsys, *needles):
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_bad_npz_files(tmp_path, capsys):
    clips, labels, lengths = moving_dots(6, seed=4)
    nan = clips.copy()
    nan[2, 1, 0, 3, 3] = np.inf
    cases = {
        "keys.npz": dict(frames=clips, labels=labels),
        "rank.npz": dict(clips=clips[:, 0, 0, 0], labels=labels),
        "count.npz": dict(clips=clips, labels=labels[:4]),
        "nan.npz": dict(clips=nan, labels=labels),
        "long.npz": dict(clips=clips, labels=labels, lengths=lengths + 3),
        "zero.npz": dict(clips=clips, labels=labels, lengths=lengths * 0),
        "shape.npz": dict(clips=clips, labels=labels, lengths=lengths[:3]),
        "ragged.npz": dict(clips=np.array([clips[0], clips[1, :2]], dtype=object), labels=labels),
        "tiny.npz": dict(clips=clips[:, :, :, :3, :3], labels=labels),
    }
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
    fails(train_args(tmp_path / "keys.npz", tmp_path / "r"), capsys,
          "keys.npz", "no array 'clips'", "arrays: frames, labels")  # fmt: skip
    fails(train_args(tmp_path / "rank.npz", tmp_path / "r"), capsys,
          "rank.npz", "shape (6, 8)", "expected (N, T, C, H, W)")  # fmt: skip
    fails(train_args(tmp_path / "count.npz", tmp_path / "r"), capsys,
          "count.npz", "'labels' has 4 entries but there are 6 items")  # fmt: skip
    fails(train_args(tmp_path / "nan.npz", tmp_path / "r"), capsys,
          "nan.npz", "non-finite value inf at index (2, 1, 0, 3, 3)")  # fmt: skip
    first_long = int(np.flatnonzero(lengths + 3 > 5)[0]) + 1
    fails(train_args(tmp_path / "long.npz", tmp_path / "r"), capsys,
          f"long.npz clip {first_long}: length", "out of range 1..5")  # fmt: skip
    fails(train_args(tmp_path / "zero.npz", tmp_path / "r"), capsys, "zero.npz clip 1: length 0")
    fails(train_args(tmp_path / "shape.npz", tmp_path / "r"), capsys,
          "shape.npz", "'lengths' has shape (3,)", "expected (6,) integers")  # fmt: skip
    fails(train_args(tmp_path / "ragged.npz", tmp_path / "r"), capsys, "ragged.npz", "object")
    fails(train_args(tmp_path / "tiny.npz", tmp_path / "r"), capsys,
          "tiny.npz clip 1", "3x3 pixels are too small", "at least 4x4")  # fmt: skip
    (tmp_path / "clips.csv").write_text("a,b\n1,2\n")
    fails(train_args(tmp_path / "clips.csv", tmp_path / "r"), capsys, "expected a .npz file")
    fails(train_args(tmp_path / "none.npz", tmp_path / "r"), capsys, "none.npz does not exist")
    assert not (tmp_path / "r").exists()


def test_unseen_label_and_wrong_frames_after_training(dots_run, tmp_path, capsys):
    _, run, _ = dots_run
    clips, labels, _ = moving_dots(4, seed=5)
    labels[2] = "up"
    write_clips(tmp_path / "up.npz", clips, labels)
    fails(["evaluate", str(run), "--data", str(tmp_path / "up.npz")], capsys,
          "up.npz clip 3", "label 'up' was not seen in training")  # fmt: skip
    write_clips(tmp_path / "big.npz", np.zeros((2, 3, 1, 9, 8), np.float32))
    out = tmp_path / "out.jsonl"
    out.write_text("previous")
    fails(["predict", str(run), "--input", str(tmp_path / "big.npz"), "--output", str(out)],
          capsys, "big.npz", "(1, 9, 8) (C, H, W), expected (1, 8, 8)")  # fmt: skip
    assert out.read_text() == "previous"


def test_builtin_moving_digits_demo(tmp_path, capsys):
    run = tmp_path / "demo"
    args = ["train", "--task", "clips", "--run-dir", str(run), "--max-steps", "60",
            "--eval-every", "60", "--threads", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "test (600 clips)" in capsys.readouterr().out
    result = evaluate(run, capsys)
    assert result["count"] == 600 and result["accuracy"] > 0.8  # chance 0.25

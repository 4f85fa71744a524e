"""`recur train --task classify`: texts and .ts series, evaluate, predict, bad input, learning."""

import csv
import json
import random

import pytest

from recur.cli.main import main

POSITIVE = ["good", "great", "fine", "lovely", "superb"]
NEGATIVE = ["bad", "awful", "poor", "dreadful", "terrible"]
FILLER = ["the", "film", "was", "and", "plot", "acting", "quite", "really", "a", "story"]


def reviews(path, n, seed, header=True, label_column="label"):
    """Sentiment-like texts: the label is the polarity of the one opinion word among fillers."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if header:
            writer.writerow(["id", "text", label_column])
        for k in range(n):
            label = rng.choice(["pos", "neg"])
            words = rng.choices(FILLER, k=rng.randint(3, 9))
            words.insert(
                rng.randrange(len(words) + 1), rng.choice(POSITIVE if label == "pos" else NEGATIVE)
            )
            writer.writerow([k, " ".join(words), label])
    return path


def write_ts(path, cases, labels=("a", "b"), dims=2):
    lines = ["@problemName toy", f"@dimensions {dims}", "@equalLength false",
             f"@classLabel true {' '.join(labels)}", "@data", *cases]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def toy_series(n, seed):
    """Label a: rising series, b: falling; 2 dimensions, 5-12 steps."""
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        label = rng.choice("ab")
        length = rng.randint(5, 12)
        sign = 1 if label == "a" else -1
        dims = [",".join(f"{sign * t / length + rng.gauss(0, 0.1):.4f}" for t in range(length))
                for _ in range(2)]  # fmt: skip
        cases.append(":".join(dims) + f":{label}")
    return cases


def train_args(data, run, *extra):
    return ["train", "--task", "classify", "--data", str(data), "--run-dir", str(run),
            "--hidden-size", "16", "--batch-size", "16", "--max-steps", "120", "--eval-every", "40",
            "--lr", "1e-2", "--threads", "1", "--quiet", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cls")
    data = reviews(root / "train.csv", 300, seed=0)
    test = reviews(root / "test.csv", 100, seed=1)
    run = root / "run"
    assert main(train_args(data, run, "--embedding-dim", "16", "--test", str(test))) == 0
    return root, run, test


def test_text_classifier_learns_and_writes_its_run(text_run, capsys):
    root, run, test = text_run
    assert (run / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((run / "task.json").read_text())
    assert meta["labels"] == ["neg", "pos"] and meta["vocab"][:2] == ["<pad>", "<unk>"]
    assert main(["evaluate", str(run), "--data", str(test)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] > 0.9 and result["count"] == 100  # chance is ~0.5
    assert 0.9 < result["macro_f1"] <= 1.0


def test_evaluate_without_data_uses_the_test_split(text_run, capsys):
    _, run, _ = text_run
    assert main(["evaluate", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 100


def test_predict_writes_labels_for_unlabelled_rows(text_run, tmp_path, capsys):
    _, run, _ = text_run
    unlabelled = tmp_path / "new.jsonl"
    unlabelled.write_text('{"text": "a superb film"}\n{"text": "awful acting"}\n')
    out = tmp_path / "labels.csv"
    assert main(["predict", str(run), "--input", str(unlabelled), "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert all(0.5 <= float(r["probability"]) <= 1 for r in rows)


def test_series_from_ts_files(tmp_path, capsys):
    train = write_ts(tmp_path / "train.ts", toy_series(80, 0))
    test = write_ts(tmp_path / "test.ts", toy_series(40, 1))
    run = tmp_path / "run"
    assert main(train_args(train, run, "--test", str(test), "--pooling", "mean")) == 0
    meta = json.loads((run / "task.json").read_text())
    assert meta["input"] == "series" and meta["features"] == 2 and len(meta["mean"]) == 2
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.9
    assert main(["predict", str(run), "--input", str(test)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 40 and {r["label"] for r in records} <= {"a", "b"}


def test_no_header_columns_by_index(tmp_path):
    data = reviews(tmp_path / "plain.csv", 60, seed=2, header=False)
    args = train_args(data, tmp_path / "run", "--no-header", "--text-column", "1",
                      "--label-column", "2", "--max-steps", "5")  # fmt: skip
    assert main(args) == 0


def test_resume_after_a_crash_reaches_the_same_losses(tmp_path, monkeypatch):
    from recur.train.trainer import Trainer

    data = reviews(tmp_path / "d.csv", 120, seed=7)
    args = ("--dropout", "0.2", "--max-steps", "35", "--eval-every", "10", "--log-every", "5")

    def losses(run):
        lines = (run / "metrics.jsonl").read_text().splitlines()
        return [(r["step"], r.get("loss"), r.get("valid_loss")) for r in map(json.loads, lines)]

    assert main(train_args(data, tmp_path / "whole", *args)) == 0
    step = Trainer._train_step

    def crash_at_23(self, spent):
        if self.step == 23:
            raise RuntimeError("simulated crash")
        step(self, spent)

    monkeypatch.setattr(Trainer, "_train_step", crash_at_23)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(train_args(data, tmp_path / "crashed", *args))
    monkeypatch.undo()
    assert main(["train", "--resume", str(tmp_path / "crashed"), "--quiet"]) == 0
    assert losses(tmp_path / "crashed") == losses(tmp_path / "whole")


def test_epochs_set_the_step_budget(tmp_path):
    data = reviews(tmp_path / "d.csv", 100, seed=6)  # 90 training rows, batches of 16: 5 steps
    run = tmp_path / "run"
    args = train_args(data, run, "--epochs", "3", "--max-steps", "none", "--max-time", "none")
    assert main(args) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == 15


# ---------------------------------------------------------------- bad input: exit 2, one line
def fails(args, capsys, *needles):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_bad_tables(tmp_path, capsys):
    good = reviews(tmp_path / "good.csv", 40, seed=3)
    fails(train_args(good, tmp_path / "r1", "--label-column", "stars"), capsys,
          "good.csv", "no column 'stars'", "id, text, label")  # fmt: skip
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    fails(train_args(empty, tmp_path / "r2"), capsys, "empty.csv is empty")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,label\nnice film,pos\nbad,neg,extra\n")
    fails(
        train_args(ragged, tmp_path / "r3"), capsys, "ragged.csv line 3", "3 field(s), expected 2"
    )
    blank = tmp_path / "blank.csv"
    blank.write_text("text,label\nnice film,pos\n  ,neg\n")
    fails(train_args(blank, tmp_path / "r4"), capsys, "blank.csv line 3", "'text' is empty")
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"text": "x", "label": "a"}\n{"text": "y"\n')
    fails(train_args(jsonl, tmp_path / "r5"), capsys, "bad.jsonl line 2", "not valid JSON")
    fails(
        train_args(tmp_path / "missing.csv", tmp_path / "r6"), capsys, "missing.csv does not exist"
    )
    assert not any((tmp_path / f"r{k}").exists() for k in range(1, 7))


def test_bad_ts_files(tmp_path, capsys):
    bad_number = write_ts(tmp_path / "num.ts", ["1,2,x:1,2,3:a"])
    fails(train_args(bad_number, tmp_path / "r"), capsys, "num.ts line 6", "'x' is not a number")
    missing = write_ts(tmp_path / "miss.ts", ["1,?,3:1,2,3:a"])
    fails(train_args(missing, tmp_path / "r"), capsys, "miss.ts line 6", "missing value")
    ragged = write_ts(tmp_path / "ragged.ts", ["1,2,3:1,2:a"])
    fails(train_args(ragged, tmp_path / "r"), capsys, "ragged.ts line 6", "ragged")
    dims = write_ts(tmp_path / "dims.ts", ["1,2:1,2:a", "1,2:b"])
    fails(train_args(dims, tmp_path / "r"), capsys, "dims.ts line 7", "1 dimension(s), expected 2")


def test_unseen_label_and_wrong_kind_at_evaluation(text_run, tmp_path, capsys):
    _, run, _ = text_run
    other = reviews(tmp_path / "other.csv", 5, seed=4)
    rows = other.read_text().splitlines()
    other.write_text("\n".join([*rows[:3], rows[3].rsplit(",", 1)[0] + ",neutral", *rows[4:]]))
    fails(["evaluate", str(run), "--data", str(other)], capsys,
          "other.csv line 4", "label 'neutral' was not seen in training")  # fmt: skip
    series = write_ts(tmp_path / "s.ts", toy_series(3, 0))
    fails(["evaluate", str(run), "--data", str(series)], capsys, "expected a table of texts")


def test_options_of_other_tasks_are_named(tmp_path, capsys):
    data = reviews(tmp_path / "d.csv", 20, seed=5)
    fails(train_args(data, tmp_path / "r", "--bptt", "8"), capsys,
          "data.bptt: unknown key", "--bptt")  # fmt: skip


def test_predict_leaves_no_partial_output(text_run, tmp_path, capsys):
    _, run, _ = text_run
    bad = tmp_path / "bad.csv"
    bad.write_text('text\ngood film\n"unterminated\n')
    out = tmp_path / "out.csv"
    out.write_text("previous")
    assert (
        main(["predict", str(run), "--input", str(tmp_path / "none.csv"), "--output", str(out)])
        == 2
    )
    assert out.read_text() == "previous"
    capsys.readouterr()


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("aeon") is None, reason="aeon (demo data) not installed"
)
def test_builtin_demo_japanese_vowels_beats_the_published_baseline(tmp_path, capsys):
    run = tmp_path / "demo"
    args = ["train", "--task", "classify", "--run-dir", str(run), "--max-steps", "300",
            "--threads", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test (370 examples)" in out
    assert main(["evaluate", str(run)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 370 and result["accuracy"] > 0.93  # 1-NN DTW_D: 0.949

"""`recur train --task tag`: CoNLL files, span scoring, evaluate, predict, bad input, learning."""

import csv
import json

import pytest

from recur.cli.main import main
from recur.data.conll import read_conll
from recur.data.entities import generate_entities
from recur.data.tables import DataError
from recur.tasks.spans import is_bio, scores_by_type, span_scores, spans


def write_conll(path, sentences, docstart=True, pos=True):
    """Sentences as CoNLL-2003 lines: token, a POS-like middle column, tag; -DOCSTART- first."""
    lines = ["-DOCSTART- -X- O", ""] if docstart else []
    for tokens, tags in sentences:
        lines += [f"{t} X {g}" if pos else f"{t}\t{g}" for t, g in zip(tokens, tags)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def train_args(data, run, *extra):
    return ["train", "--task", "tag", "--data", str(data), "--run-dir", str(run),
            "--hidden-size", "32", "--embedding-dim", "32", "--batch-size", "32",
            "--max-steps", "20", "--eval-every", "10", "--lr", "1e-2", "--threads", "1",
            "--quiet", *extra]  # fmt: skip


def fails(args, capsys, *needles):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


# ---------------------------------------------------------------- spans: known answers
@pytest.mark.parametrize(
    "tags, expected",
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),
        (["O", "I-PER", "I-PER"], [(1, 3, "PER")]),  # I after O starts a span (conlleval)
        (["B-PER", "I-LOC"], [(0, 1, "PER"), (1, 2, "LOC")]),  # I of another type: new span
        (["B-PER", "B-PER", "I-PER"], [(0, 1, "PER"), (1, 3, "PER")]),
        (["I-ORG", "I-ORG", "B-ORG"], [(0, 2, "ORG"), (2, 3, "ORG")]),  # IOB1 reads the same
        (["I-PER", "I-LOC", "I-LOC", "O", "O"], [(0, 1, "PER"), (1, 3, "LOC")]),
        (["O", "O"], []),
        (["B-MISC"], [(0, 1, "MISC")]),
    ],
)
def test_spans_follow_conlleval(tags, expected):
    assert spans(tags) == expected


def test_span_scores_need_type_and_both_boundaries():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    assert span_scores(gold, gold) == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0, "correct": 3, "predicted": 3, "gold": 3,
    }  # fmt: skip
    # PER ends too early, LOC right, ORG typed as LOC, one spurious PER
    predicted = [["B-PER", "O", "O", "B-LOC"], ["B-LOC", "B-PER"]]
    scores = span_scores(predicted, gold)
    assert (scores["correct"], scores["predicted"], scores["gold"]) == (1, 4, 3)
    assert scores["precision"] == pytest.approx(0.25) and scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(2 * 0.25 * (1 / 3) / (0.25 + 1 / 3))
    by_type = scores_by_type(predicted, gold)
    assert by_type["LOC"]["precision"] == 0.5 and by_type["LOC"]["recall"] == 1.0
    assert by_type["ORG"]["f1"] == 0.0 and by_type["ORG"]["gold"] == 1
    assert span_scores([["O", "O"]], [["O", "O"]])["f1"] == 0.0  # no spans: 0, as conlleval


def test_bio_detection():
    assert is_bio(["O", "B-PER", "I-PER", "I-LOC"])
    assert not is_bio(["O", "NN", "VB"])  # parts of speech
    assert not is_bio(["B-", "O"]) and not is_bio(["E-PER", "O"])


# ---------------------------------------------------------------- the CoNLL reader
def test_conll_reader(tmp_path):
    path = tmp_path / "a.conll"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects\tVBZ\tB-VP\tO\n\n\n"
        "Peter NNP B-NP B-PER\n-DOCSTART- -X- O\nBlair NNP B-PER\n   \n",
        encoding="utf-8",
    )
    corpus = read_conll(path)
    assert corpus.tokens == [["EU", "rejects"], ["Peter"], ["Blair"]]
    assert corpus.tags == [["B-ORG", "O"], ["B-PER"], ["B-PER"]]
    assert corpus.lines == [[3, 4], [7], [9]]
    untagged = tmp_path / "u.txt"
    untagged.write_text("Hello\nworld\n\nBye B-X\n", encoding="utf-8")
    plain = read_conll(untagged, tagged=False)
    assert plain.tokens == [["Hello", "world"], ["Bye"]] and plain.tags is None


def test_conll_reader_errors(tmp_path):
    one = tmp_path / "one.conll"
    one.write_text("EU B-ORG\nrejects\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"one.conll line 2: one field \('rejects'\)"):
        read_conll(one)
    empty = tmp_path / "empty.conll"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(DataError, match="empty.conll is empty"):
        read_conll(empty)
    docs = tmp_path / "docs.conll"
    docs.write_text("-DOCSTART- O\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="docs.conll has no sentences"):
        read_conll(docs)


# ---------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
    """The learning run: 400 steps on 1,200 generated NER sentences; test names partly unseen."""
    root = tmp_path_factory.mktemp("tag")
    train = write_conll(root / "train.conll", generate_entities(1200, seed=10, unseen=False))
    test = write_conll(root / "test.txt", generate_entities(300, seed=11), pos=False)
    run = root / "run"
    args = train_args(train, run, "--test", str(test), "--max-steps", "400",
                      "--eval-every", "200", "--lr", "5e-3")  # fmt: skip
    assert main(args) == 0
    return root, run, test


def evaluate(run, capsys, *extra):
    capsys.readouterr()
    assert main(["evaluate", str(run), *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_tagger_learns_entities(ner_run, capsys):
    root, run, test = ner_run
    assert (run / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((run / "task.json").read_text())
    assert meta["bio"] and meta["tags"] == [
        "B-LOC",
        "B-ORG",
        "B-PER",
        "I-LOC",
        "I-ORG",
        "I-PER",
        "O",
    ]
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["bidirectional"] is True
    result = evaluate(run, capsys)  # the --test file
    assert result["count"] == 300 and set(result) >= {"accuracy", "precision", "recall", "f1"}
    # always "O" scores accuracy ~0.6 and span F1 0; random tags far less
    assert result["accuracy"] > 0.95 and result["f1"] > 0.9, result
    # names never seen in training (<unk>): tagged from context; the majority tag scores ~0.4
    assert result["unk_tokens"] > 50 and result["unk_accuracy"] > 0.65, result
    again = evaluate(run, capsys, "--data", str(test), "--batch-size", "7")
    assert again["f1"] == pytest.approx(result["f1"])


def test_context_decides_ambiguous_names(ner_run, tmp_path):
    _, run, _ = ner_run
    tokens = tmp_path / "tokens.txt"
    sentences = ["Austin met Paris in Jordan .", "Jordan flew from Austin to Paris last week ."]
    tokens.write_text("\n\n".join(s.replace(" ", "\n") for s in sentences) + "\n")
    out = tmp_path / "tags.csv"
    assert main(["predict", str(run), "--input", str(tokens), "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert set(rows[0]) == {"sentence", "position", "token", "tag", "probability"}
    assert [(r["sentence"], r["position"]) for r in rows[:2]] == [("1", "1"), ("1", "2")]
    tags = {(r["sentence"], r["token"]): r["tag"] for r in rows}
    assert tags["1", "Austin"] == "B-PER" and tags["1", "Jordan"] == "B-LOC"
    assert tags["2", "Jordan"] == "B-PER" and tags["2", "Austin"] == "B-LOC"


def test_non_bio_tags_report_accuracy_only(tmp_path, capsys):
    sentences = [
        (["the", "cat", "sat"], ["DT", "NN", "VB"]),
        (["a", "dog", "ran"], ["DT", "NN", "VB"]),
    ]
    data = write_conll(tmp_path / "pos.conll", sentences * 20, docstart=False)
    run = tmp_path / "run"
    assert main(train_args(data, run, "--unidirectional", "--max-vocab", "5")) == 0
    assert "span" not in capsys.readouterr().out
    meta = json.loads((run / "task.json").read_text())
    assert not meta["bio"] and len(meta["vocab"]) == 5
    assert json.loads((run / "config.json").read_text())["model"]["bidirectional"] is False
    result = evaluate(run, capsys)
    assert "f1" not in result and result["count"] == 4  # 10 % of 40 sentences


def test_builtin_demo_runs(tmp_path, capsys):
    run = tmp_path / "demo"
    args = ["train", "--task", "tag", "--run-dir", str(run), "--max-steps", "3",
            "--hidden-size", "8", "--threads", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test (1000 sentences" in out and "span F1" in out


# ---------------------------------------------------------------- bad input: exit 2, one line
def test_bad_files(tmp_path, capsys):
    one = tmp_path / "one.conll"
    one.write_text("EU B-ORG\n\nrejects\n", encoding="utf-8")
    fails(train_args(one, tmp_path / "r1"), capsys, "one.conll line 3", "one field")
    empty = tmp_path / "empty.conll"
    empty.write_text("")
    fails(train_args(empty, tmp_path / "r2"), capsys, "empty.conll is empty")
    fails(train_args(tmp_path / "none.conll", tmp_path / "r3"), capsys, "does not exist")
    assert not any((tmp_path / f"r{k}").exists() for k in (1, 2, 3))


def test_unseen_tag_at_evaluation_and_no_partial_output(ner_run, tmp_path, capsys):
    _, run, _ = ner_run
    other = tmp_path / "other.conll"
    other.write_text("Ana B-PER\nvisited O\n\nRome B-GPE\n", encoding="utf-8")
    fails(["evaluate", str(run), "--data", str(other)], capsys,
          "other.conll line 4", "label 'B-GPE' was not seen in training")  # fmt: skip
    out = tmp_path / "out.jsonl"
    out.write_text("previous")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    fails(["predict", str(run), "--input", str(empty), "--output", str(out)], capsys, "is empty")
    assert out.read_text() == "previous"

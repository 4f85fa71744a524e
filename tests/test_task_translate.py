"""`recur train --task translate`: files, tables, evaluate, beam, predict, bad input, learning."""

import csv
import json
import random

import pytest

from recur.cli.main import main
from recur.tasks import open_run, parallel
from recur.tasks.translation import scores

LETTERS = "abcdef"


def reversals(n, seed, low=2, high=6):
    """(source, target) pairs: random letters separated by spaces, and the same reversed (spaces
    make each letter a word of sacrebleu's tokenizer, so that BLEU has 4-grams to count)."""
    rng = random.Random(seed)
    letters = [rng.choices(LETTERS, k=rng.randint(low, high)) for _ in range(n)]
    return [(" ".join(w), " ".join(reversed(w))) for w in letters]


def write_files(root, name, pairs):
    source, target = root / f"{name}.src", root / f"{name}.tgt"
    source.write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    target.write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    return source, target


def write_table(path, pairs, columns=("source", "target")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        writer.writerow(["id", *columns])
        writer.writerows([k, s, t] for k, (s, t) in enumerate(pairs))
    return path


def train_args(run, *extra):
    return ["train", "--task", "translate", "--run-dir", str(run), "--hidden-size", "32",
            "--embedding-dim", "16", "--batch-size", "32", "--max-steps", "20",
            "--eval-every", "10", "--lr", "1e-2", "--threads", "1", "--quiet", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def files_run(tmp_path_factory):
    """The learning run: 150 steps of reversing letter strings, from two parallel files."""
    root = tmp_path_factory.mktemp("translate")
    source, target = write_files(root, "train", reversals(800, seed=0))
    valid_source, valid_target = write_files(root, "valid", reversals(100, seed=1))
    run = root / "run"
    args = train_args(run, "--data", str(source), "--target-data", str(target),
                      "--valid", str(valid_source), "--valid-target-data", str(valid_target),
                      "--max-steps", "150", "--eval-every", "75")  # fmt: skip
    assert main(args) == 0
    return root, run


def evaluate(run, capsys, *extra):
    capsys.readouterr()
    assert main(["evaluate", str(run), *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_reversal_is_learnt_from_two_files(files_run, capsys):
    root, run = files_run
    assert (run / "attention.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads((run / "task.json").read_text())
    assert meta["level"] == "char" and meta["max_target"] == 11  # 6 letters, 5 spaces
    assert meta["target_vocab"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert sorted(meta["source_vocab"][2:]) == list(" " + LETTERS)
    result = evaluate(run, capsys)  # no test split: the validation files
    assert result["count"] == 100 and result["beam"] == 1
    assert result["exact_match"] > 0.5, result  # chance: 6^-4 for four letters
    assert result["bleu"] > 50 and result["chrf"] > 50, result
    beam = evaluate(run, capsys, "--beam", "3")
    assert beam["beam"] == 3 and beam["exact_match"] > 0.5, beam


def test_evaluate_on_a_table_and_predict_with_beam(files_run, tmp_path, capsys):
    _, run = files_run
    table = write_table(tmp_path / "more.tsv", reversals(50, seed=2))
    result = evaluate(run, capsys, "--data", str(table))
    assert result["count"] == 50 and set(result) >= {"bleu", "chrf", "exact_match", "loss"}
    source, target = write_files(tmp_path, "pair", reversals(30, seed=5))
    files = evaluate(run, capsys, "--data", str(source), "--target-data", str(target))
    assert files["count"] == 30 and files["exact_match"] > 0.5
    words = tmp_path / "words.txt"
    words.write_text("a b c\n\nf e d c b a\na b z z\n", encoding="utf-8")  # blank; unseen z
    out = tmp_path / "out.csv"
    args = ["predict", str(run), "--input", str(words), "--output", str(out), "--beam", "3"]
    assert main(args) == 0
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert [r["line"] for r in rows] == ["1", "3", "4"]
    assert [r["source"] for r in rows] == ["a b c", "f e d c b a", "a b z z"]
    assert rows[1]["translation"] == "a b c d e f" and all(float(r["score"]) <= 0 for r in rows)
    assert main(["predict", str(run), "--input", str(words)]) == 0  # greedy: no score
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [set(r) for r in records] == [{"line", "source", "translation"}] * 3


def test_table_data_end_to_end(tmp_path, capsys):
    pairs = reversals(120, seed=3)
    data = write_table(tmp_path / "train.tsv", pairs, columns=("de", "en"))
    run = tmp_path / "run"
    args = train_args(run, "--data", str(data), "--source-column", "de", "--target-column", "en",
                      "--attention", "luong", "--context", "every",
                      "--teacher-forcing", "0.5")  # fmt: skip
    assert main(args) == 0
    assert "exact match" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["attention"] == "luong" and config["model"]["context"] == "every"
    result = evaluate(run, capsys)
    assert result["count"] == 12  # valid_fraction 0.1 of 120
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"de": "abc"}\n{"de": "bad"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(run), "--input", str(jsonl), "--output", str(out)]) == 0
    assert [json.loads(x)["source"] for x in out.read_text().splitlines()] == ["abc", "bad"]


def test_word_level_without_attention(tmp_path, capsys):
    source, target = write_files(tmp_path, "w", reversals(60, seed=4))
    run = tmp_path / "run"
    args = train_args(run, "--data", str(source), "--target-data", str(target), "--level",
                      "word", "--attention", "none", "--max-steps", "3")  # fmt: skip
    assert main(args) == 0
    assert "no attention plot" in capsys.readouterr().out
    assert not (run / "attention.png").exists()
    meta = json.loads((run / "task.json").read_text())
    assert sorted(meta["source_vocab"][2:]) == list(LETTERS)  # words: the letters


@pytest.mark.parametrize("attention", ["luong", "bahdanau"])  # sequence and step-wise decoder
def test_layer_options_reach_encoder_and_decoder(tmp_path, attention):
    source, target = write_files(tmp_path, "o", reversals(60, seed=6))
    run = tmp_path / "run"
    options = ("--recurrent-dropout", "0.1", "--zoneout", "0.1", "--weight-drop", "0.2",
               "--init", "orthogonal", "--forget-bias", "1")  # fmt: skip
    args = train_args(run, "--data", str(source), "--target-data", str(target), "--attention",
                      attention, "--max-steps", "3", *options)  # fmt: skip
    assert main(args) == 0
    model = open_run(run).model
    for layer in (model.encoder, model.decoder):
        assert layer.init == "orthogonal" and layer.forget_bias == 1.0
        assert (layer.recurrent_dropout, layer.zoneout, layer.weight_drop) == (0.1, 0.1, 0.2)


def test_long_lines_are_cut_with_a_warning(tmp_path, capsys):
    pairs = reversals(40, seed=5, high=4) + [("a b c d e f", "f e d c b a")]  # 7 and 11 chars
    source, target = write_files(tmp_path, "long", pairs)
    valid_source, valid_target = write_files(tmp_path, "short", reversals(10, seed=6, high=4))
    run = tmp_path / "run"
    args = train_args(run, "--data", str(source), "--target-data", str(target), "--valid",
                      str(valid_source), "--valid-target-data", str(valid_target),
                      "--max-length", "10", "--max-steps", "2")  # fmt: skip
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "long.src line 41: 1 source sentence(s) longer than 10 char tokens were cut" in err
    assert "1 target sentence(s)" in err
    assert json.loads((run / "task.json").read_text())["max_target"] == 10


def test_scores_of_perfect_and_wrong_outputs():
    refs = [list("2026-11-23"), list("1999-01-02")]
    perfect = scores(refs, refs, "char")
    assert perfect == {"bleu": 100.0, "chrf": 100.0, "exact_match": 1.0}
    wrong = scores([list("0000-00-00"), list("1999-01-02")], refs, "char")
    assert wrong["exact_match"] == 0.5 and wrong["bleu"] < 100 and wrong["chrf"] < 100


def test_blank_line_pairs_are_skipped(tmp_path):
    source, target = tmp_path / "a.txt", tmp_path / "b.txt"
    source.write_text("ab\n\nc d\r\n", encoding="utf-8")
    target.write_text("ba\n  \nd c\n", encoding="utf-8")
    sentences = parallel.read_parallel(source, target)
    assert sentences.sources == ["ab", "c d"] and sentences.targets == ["ba", "d c"]
    assert sentences.lines == [1, 3]


# ---------------------------------------------------------------- bad input: exit 2, one line
def fails(args, capsys, *needles):
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_bad_parallel_files(tmp_path, capsys):
    source, target = write_files(tmp_path, "good", reversals(30, seed=6))
    short = tmp_path / "short.tgt"
    short.write_text("".join(t + "\n" for _, t in reversals(29, seed=6)), encoding="utf-8")
    fails(train_args(tmp_path / "r1", "--data", str(source), "--target-data", str(short)), capsys,
          "good.src has 30 line(s) but", "short.tgt has 29")  # fmt: skip
    half = tmp_path / "half.tgt"
    lines = target.read_text().split("\n")
    half.write_text("\n".join(lines[:1] + [""] + lines[2:]), encoding="utf-8")
    fails(train_args(tmp_path / "r2", "--data", str(source), "--target-data", str(half)), capsys,
          "half.tgt line 2: blank line", "good.src is not")  # fmt: skip
    empty = tmp_path / "empty.src"
    empty.write_text("")
    fails(train_args(tmp_path / "r3", "--data", str(empty), "--target-data", str(target)), capsys,
          "empty.src is empty")  # fmt: skip
    fails(train_args(tmp_path / "r4", "--data", str(source)), capsys,
          "good.src: expected --target-data")  # fmt: skip
    fails(train_args(tmp_path / "r5", "--data", str(source), "--target-data", str(target),
                     "--valid-target-data", str(target)), capsys,
          "--valid-target-data needs --valid")  # fmt: skip
    fails(train_args(tmp_path / "r6", "--test", str(source)), capsys,
          "--test needs --data (the demo has its own splits)")  # fmt: skip
    fails(train_args(tmp_path / "r7", "--attention", "cosine"), capsys, "model.attention")
    assert not any((tmp_path / f"r{k}").exists() for k in range(1, 8))


def test_bad_tables(tmp_path, capsys):
    good = write_table(tmp_path / "good.tsv", reversals(30, seed=7))
    fails(train_args(tmp_path / "r1", "--data", str(good), "--target-column", "en"), capsys,
          "good.tsv", "no column 'en'", "id, source, target")  # fmt: skip
    blank = tmp_path / "blank.csv"
    blank.write_text("source,target\nab,ba\ncd, \n", encoding="utf-8")
    fails(train_args(tmp_path / "r2", "--data", str(blank)), capsys,
          "blank.csv line 3", "'target' is empty")  # fmt: skip
    assert not any((tmp_path / f"r{k}").exists() for k in (1, 2))


def test_bad_input_to_a_trained_run(files_run, tmp_path, capsys):
    _, run = files_run
    no_target = tmp_path / "sources.csv"
    no_target.write_text("source\nabc\n", encoding="utf-8")
    fails(["evaluate", str(run), "--data", str(no_target)], capsys, "no column 'target'")
    text = tmp_path / "sources.txt"
    text.write_text("abc\n", encoding="utf-8")
    fails(["evaluate", str(run), "--data", str(text)], capsys,
          "sources.txt: expected a .csv/.tsv/.jsonl table")  # fmt: skip
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    fails(["predict", str(run), "--input", str(empty), "--output", str(out)], capsys,
          "empty.txt is empty")  # fmt: skip
    assert not out.exists()

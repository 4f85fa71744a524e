"""`recur train --task dna`: FASTA and tables, IUPAC one-hot, saliency, bad input, learning."""

import csv
import json

import pytest
import torch

from recur.cli.main import main
from recur.data.fasta import one_hot, read_fasta
from recur.data.motifs import MOTIF, planted_motifs, variants
from recur.data.tables import DataError


def write_fasta(path, sequences, labels=None, width=60):
    """Records ``seq{k}`` wrapped at ``width``, with ``label=...`` headers when labels are given."""
    lines = []
    for k, sequence in enumerate(sequences):
        lines.append(f">seq{k} " + (f"label={labels[k]} " if labels else "") + "source=test")
        lines += [sequence[i : i + width] for i in range(0, len(sequence), width)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_table(path, sequences, labels, columns=("sequence", "label")):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if path.suffix == ".tsv" else ",")
        writer.writerow(["id", *columns])
        writer.writerows([k, s, y] for k, (s, y) in enumerate(zip(sequences, labels)))
    return path


def short_motifs(n, seed, length=(24, 32)):
    """Sequences of 24-32 bases; "motif" ones hold TGACGTCA (at most one mutation)."""
    demo = planted_motifs(n, seed=seed, length=length)
    return demo.sequences, demo.labels


def train_args(data, run, *extra):
    return ["train", "--task", "dna", "--data", str(data), "--run-dir", str(run),
            "--hidden-size", "16", "--batch-size", "16", "--max-steps", "20", "--eval-every", "10",
            "--threads", "1", "--quiet", *extra]  # fmt: skip


def fails(args, capsys, *needles):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def evaluate(run, capsys, *extra):
    capsys.readouterr()
    assert main(["evaluate", str(run), *extra]) == 0
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- FASTA and one-hot
def test_one_hot_iupac_codes():
    x = one_hot("ACGTUNRYacgtnB")
    assert x.shape == (14, 4) and x.dtype == torch.float32
    expected = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1],
                [0.25] * 4, [0.5, 0, 0.5, 0], [0, 0.5, 0, 0.5]]  # fmt: skip
    assert torch.equal(x[:8], torch.tensor(expected))
    assert torch.equal(x[8:13], one_hot("ACGTN"))  # soft-masked = uppercase
    assert torch.allclose(x[13], torch.tensor([0, 1 / 3, 1 / 3, 1 / 3]))
    assert torch.allclose(one_hot("SWKMBDHVN").sum(1), torch.ones(9))


def test_fasta_reader(tmp_path):
    path = tmp_path / "a.fa"
    path.write_text(
        ">r1 label=bound cell=K562\nACGT\nnnRY\n\n>r2 x=1 label=free\nuuGA\n>r3 label=bound\nA\n",
        encoding="utf-8",
    )
    records = read_fasta(path)
    assert records.ids == ["r1", "r2", "r3"] and records.labels == ["bound", "free", "bound"]
    assert records.sequences == ["ACGTnnRY", "uuGA", "A"] and records.lines == [1, 5, 7]
    assert torch.equal(one_hot(records.sequences[1])[:2], torch.tensor([[0.0, 0, 0, 1]] * 2))
    unlabelled = tmp_path / "u.fasta"
    unlabelled.write_text(">x\nACGT\n", encoding="utf-8")
    assert read_fasta(unlabelled, labelled=False).labels is None


@pytest.mark.parametrize(
    "text, message",
    [
        (">r1 label=a\nACGT\nACXT\n", "line 3 (record 'r1'): character 'X' (column 3)"),
        (">r1 label=a\nAC-GT\n", "character '-' (column 3) is not a nucleotide"),
        (">r1 label=a\nAC GT\n", "character ' ' (column 3)"),
        (">r1 label=a\n>r2 label=b\nACGT\n", "line 1: record 'r1' has no sequence"),
        (">r1 label=a\nACGT\n>r2 label=b\n", "line 3: record 'r2' has no sequence"),
        ("ACGT\n>r1 label=a\nACGT\n", "line 1: sequence before the first '>' header"),
        (">r1 label=a\nACGT\n>r2 kind=b\nAC\n", "line 3: record 'r2' has no label"),
        (">r1 label=\nACGT\n", "line 1: record 'r1': 'label=' is empty"),
        ("> label=a\nACGT\n", "line 1: a '>' header line without a record id"),
        ("\n\n", "is empty"),
    ],
)
def test_fasta_errors(tmp_path, text, message):
    path = tmp_path / "bad.fa"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"data: .*bad\.fa") as error:
        read_fasta(path)
    assert message in str(error.value)


def test_demo_data_is_clean():
    demo = planted_motifs(300, seed=5)
    near = variants(MOTIF)  # within 2 mismatches
    for sequence, label, start in zip(demo.sequences, demo.labels, demo.starts):
        windows = [sequence[k : k + 8] for k in range(len(sequence) - 7)]
        hits = [k for k, w in enumerate(windows) if w in near]
        if label == "motif":
            assert start in hits and sum(a != b for a, b in zip(windows[start], MOTIF)) <= 1
        else:
            assert start is None and not hits
    gc = {y: [] for y in ("motif", "background")}
    for sequence, label in zip(demo.sequences, demo.labels):
        gc[label].append(sum(c in "GC" for c in sequence) / len(sequence))
    means = {y: sum(v) / len(v) for y, v in gc.items()}
    assert abs(means["motif"] - means["background"]) < 0.03, means


# ---------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def fasta_run(tmp_path_factory):
    """The learning run: 400 steps on 1,500 short sequences in FASTA (test: 300 in a TSV)."""
    root = tmp_path_factory.mktemp("dna")
    sequences, labels = short_motifs(1500, seed=10)
    train = write_fasta(root / "train.fa", sequences, labels, width=10)
    test = write_table(root / "test.tsv", *short_motifs(300, seed=11))
    run = root / "run"
    args = train_args(train, run, "--test", str(test), "--max-steps", "400",
                      "--eval-every", "200", "--hidden-size", "32", "--batch-size", "32",
                      "--cell", "gru", "--lr", "1e-2")  # fmt: skip
    assert main(args) == 0
    return root, run, test


def test_the_motif_is_found(fasta_run, capsys):
    root, run, test = fasta_run
    for plot in ("confusion.png", "saliency.png"):
        assert (run / plot).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((run / "task.json").read_text()) == {"labels": ["background", "motif"]}
    result = evaluate(run, capsys)  # the --test table
    assert result["count"] == 300 and result["accuracy"] > 0.8, result  # chance: 0.5
    assert 0.8 < result["macro_f1"] <= 1.0


def test_predict_fasta_without_labels(fasta_run, tmp_path):
    _, run, _ = fasta_run
    plain = write_fasta(tmp_path / "new.fasta", ["ACGTTGACGTCAACGTAC", "acgtacgtacgtacgtac"])
    out = tmp_path / "out.jsonl"
    assert main(["predict", str(run), "--input", str(plain), "--output", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in records] == ["seq0", "seq1"]
    assert set(records[0]) == {"item", "id", "label", "probability"}
    assert all(r["label"] in ("background", "motif") for r in records)


def test_table_data_end_to_end(tmp_path, capsys):
    sequences, labels = short_motifs(80, seed=3)
    data = write_table(tmp_path / "train.csv", sequences, labels, columns=("seq", "class"))
    run = tmp_path / "run"
    args = train_args(data, run, "--text-column", "seq", "--label-column", "class",
                      "--pooling", "mean", "--unidirectional", "--max-length", "20")  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "longer than 20 bases were cut" in captured.err and "accuracy" in captured.out
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["pooling"] == "mean" and config["model"]["bidirectional"] is False
    result = evaluate(run, capsys, "--data", str(data))
    assert result["count"] == 80 and set(result) >= {"accuracy", "macro_f1", "loss"}
    out = tmp_path / "out.csv"
    assert main(["predict", str(run), "--input", str(data), "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 80 and set(rows[0]) == {"item", "label", "probability"}


def test_builtin_demo_reports_the_motif_evidence(tmp_path, capsys):
    run = tmp_path / "demo"
    args = ["train", "--task", "dna", "--run-dir", str(run), "--max-steps", "2",
            "--hidden-size", "8", "--threads", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test (1000 sequences)" in out and "saliency peak inside the planted motif" in out
    assert (run / "saliency.png").exists()
    result = evaluate(run, capsys)
    assert 0 <= result["motif_found"] <= 1 and result["count"] == 1000


# ---------------------------------------------------------------- bad input: exit 2, one line
def test_bad_inputs(tmp_path, capsys):
    bad = tmp_path / "bad.fa"
    bad.write_text(">a label=x\nACGT\n>b label=y\nACGZ\n", encoding="utf-8")
    fails(train_args(bad, tmp_path / "r1"), capsys, "bad.fa line 4", "record 'b'", "'Z'")
    table = write_table(tmp_path / "t.csv", ["ACGT", "AC7T"], ["x", "y"])
    fails(train_args(table, tmp_path / "r2"), capsys, "t.csv line 3", "'7' (column 3)")
    fails(train_args(table, tmp_path / "r3", "--text-column", "dna"), capsys, "no column 'dna'")
    blank = write_table(tmp_path / "b.csv", ["ACGT", " "], ["x", "y"])
    fails(train_args(blank, tmp_path / "r4"), capsys, "b.csv line 3", "the sequence is empty")
    empty = tmp_path / "empty.fasta"
    empty.write_text("")
    fails(train_args(empty, tmp_path / "r5"), capsys, "empty.fasta is empty")
    assert not any((tmp_path / f"r{k}").exists() for k in range(1, 6))


def test_unseen_label_at_evaluation_and_no_partial_output(fasta_run, tmp_path, capsys):
    _, run, _ = fasta_run
    other = write_fasta(tmp_path / "o.fa", ["ACGTACGT", "TTGACGTCAA"], ["motif", "enhancer"])
    fails(["evaluate", str(run), "--data", str(other)], capsys,
          "o.fa line 3 (record 'seq1')", "label 'enhancer' was not seen in training")  # fmt: skip
    out = tmp_path / "out.csv"
    out.write_text("previous")
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGU\n>b\nAC.T\n")
    fails(["predict", str(run), "--input", str(bad), "--output", str(out)], capsys, "'.'")
    assert out.read_text() == "previous"

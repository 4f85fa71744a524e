"""Users' files and vocabularies: tables (CSV/TSV/JSONL), the .ts format, tokens and labels."""

import pytest
import torch

from recur.data.tables import DataError, read_table
from recur.data.ts_format import read_ts
from recur.data.vocab import LabelSet, TokenVocab


def test_tsv_with_quotes_blank_lines_and_a_bom(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text('\ufeffa\tb\n"x\ty"\t2\n\n3\t4\n', encoding="utf-8")
    table = read_table(path)
    assert table.columns == ["a", "b"] and table.column("a") == ["x\ty", "3"]
    assert table.lines == [2, 4] and table.numbers("b") == [2.0, 4.0]


def test_numbers_name_the_bad_cell(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("v\n1\nn/a\n")
    with pytest.raises(DataError, match=r"n.csv line 3: column 'v': 'n/a' is not a number"):
        read_table(path).numbers("v")
    path.write_text("v\n1\ninf\n")
    with pytest.raises(DataError, match="not finite"):
        read_table(path).numbers(0)


def test_jsonl_keys_may_be_missing_until_used(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n\n{"a": 2}\n')
    table = read_table(path)
    assert table.column("a") == ["1", "2"]
    with pytest.raises(DataError, match=r"j.jsonl line 3: no value for 'b'"):
        table.column("b")
    path.write_text('{"a": [1]}\n')
    with pytest.raises(DataError, match="nested value"):
        read_table(path)


def test_duplicate_header_and_header_only(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,a\n1,2\n")
    with pytest.raises(DataError, match="duplicate column"):
        read_table(path)
    path.write_text("a,b\n")
    with pytest.raises(DataError, match="no data rows"):
        read_table(path)


def test_ts_unequal_lengths_and_headers(tmp_path):
    path = tmp_path / "x.ts"
    path.write_text("# comment\n@dimensions 1\n@classLabel true 0 1\n@data\n1,2,3:0\n4,5:1\n")
    series, labels = read_ts(path)
    assert [s.shape for s in series] == [(3, 1), (2, 1)] and labels == ["0", "1"]
    assert torch.equal(series[1][:, 0], torch.tensor([4.0, 5.0]))
    path.write_text("@timeStamps true\n@classLabel true 0\n@data\n")
    with pytest.raises(DataError, match="time-stamped"):
        read_ts(path)
    path.write_text("@classLabel true 0\n@data\n")
    with pytest.raises(DataError, match="no cases"):
        read_ts(path)


def test_token_vocab_orders_by_frequency_and_maps_unknowns():
    vocab = TokenVocab.build([["b", "a", "b"], ["c", "b", "a"]], max_size=4)
    assert vocab.tokens == ["<pad>", "<unk>", "b", "a"]
    assert vocab.encode(["a", "zzz"]).tolist() == [3, 1]
    decoder = TokenVocab.build([["x"]], decoder=True)
    assert decoder.decode([decoder.bos, 4, decoder.eos, 4]) == ["x"]
    assert TokenVocab.from_json(vocab.to_json()) == vocab


def test_label_set_sorts_numbers_numerically_and_rejects_unseen():
    labels = LabelSet.build(["10", "2", "1", "2"])
    assert labels.labels == ["1", "2", "10"]
    assert labels.encode(["10", "1"]).tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"row 2: label '3' was not seen in training"):
        labels.encode(["1", "3"], where=["row 1", "row 2"])

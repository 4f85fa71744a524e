import json

from benchmarks import regularisers, rnn


def test_benchmark_reports_every_layer_with_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--shape", "2", "3", "4", "6", "--repeats", "1", "--step-size", "6"]
    rows = rnn.main(args + ["--json", str(out)])
    names = {r["contender"] for r in rows}
    for layer, spec in rnn.SPECS.items():
        assert {f"recur.{layer}", f"naive {layer}", spec.baseline} <= names
    assert {"GEMM bound G=1", "GEMM bound G=3", "GEMM bound G=4"} <= names
    assert {(r["contender"], r["mode"]) for r in rows} == {
        (name, mode) for name in names for mode in ("train", "infer")
    }
    for row in rows:
        assert row["tokens_per_s"] > 0
        if row["kind"] == "recur":
            assert row["vs_torch"] > 0 and row["vs_naive"] > 0 and row["of_bound"] > 0
            assert row["vs_lstm"] > 0
            if row["mode"] == "train":
                assert row["peak_mib"] > 0 and row["memory_vs_lstm"] > 0
    anchor = [r for r in rows if r["contender"] == "torch.nn.LSTM"]
    assert all(r["vs_torch"] == 1.0 and r["vs_lstm"] == 1.0 for r in anchor)
    printed = capsys.readouterr().out
    assert "| (2, 3, 4, 6) | train | recur.LSTM |" in printed
    assert "| recur.LSTM vs torch.nn.LSTM | 6 |" in printed
    saved = json.loads(out.read_text())
    assert saved["meta"]["threads"] > 0 and saved["meta"]["torch"]
    assert len(saved["step_latency"]) == len(rnn.SPECS)


def test_regulariser_costs_are_reported_against_the_plain_layer(capsys):
    rows = regularisers.main(["--shape", "2", "3", "4", "6", "--repeats", "1"])
    assert [(r["layer"], r["regulariser"]) for r in rows] == [
        (layer, setting) for layer in ("LSTM", "GRU") for setting in regularisers.SETTINGS
    ]
    assert all(r["seconds"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    assert [r["cost"] for r in rows if r["regulariser"] == "none"] == [0.0, 0.0]
    assert "| (2, 3, 4, 6) | recur.LSTM | zoneout=0.1 |" in capsys.readouterr().out

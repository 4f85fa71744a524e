from benchmarks import rnn


def test_benchmark_reports_every_contender_with_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    rows = rnn.main(["--shape", "2", "3", "4", "5", "--repeats", "1", "--json", str(out)])
    layers = set(rnn.contenders(4, 5))
    assert {(r["layer"], r["mode"]) for r in rows} == {
        (layer, mode) for layer in layers for mode in ("train", "infer")
    }
    baseline = [r for r in rows if r["layer"] == "torch.nn.LSTM"]
    assert all(r["ratio_to_torch"] == 1.0 for r in baseline)
    assert all(r["tokens_per_s"] > 0 for r in rows)
    assert "| recur.LSTM fused | train |" in capsys.readouterr().out
    assert out.read_text().startswith("{")

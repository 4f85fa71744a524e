from benchmarks import esn


def test_quick_benchmark_reports_both_libraries_side_by_side(tmp_path, capsys):
    out = tmp_path / "esn.json"
    results = esn.main(["--quick", "--blas-threads", "1", "--json", str(out)])
    comparison = results["comparison"]
    assert {(r["library"], r["seed"]) for r in comparison} == {
        (library, seed) for library in ("recur", "reservoirpy") for seed in (0, 1)
    }
    for row in comparison + results["sizes"]:
        assert row["build_s"] > 0 and row["fit_s"] > 0
        assert abs(row["rho"] - 1.25) < 1e-6  # both rescale W to the requested radius here
    for row in comparison + results["tuned"]:
        assert 0 < row["one_step_nrmse"] < 1  # tiny reservoirs, but better than the mean
    assert {r["units"] for r in results["sizes"]} == {60}
    printed = capsys.readouterr().out
    assert "| recur | 0 |" in printed and "| reservoirpy | 1 |" in printed
    assert "Targets:" in printed and "tuned recur <= 1e-4" in printed
    assert out.read_text().startswith("{")

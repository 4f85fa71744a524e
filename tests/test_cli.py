"""The `recur` command in-process: train, generate, evaluate, configuration and bad input."""

import json

import pytest

from recur.cli.main import main
from recur.train.run import RunDir

LM_RUN_FILES = [
    "checkpoint.safetensors", "config.json", "loss.png", "metrics.jsonl", "model.safetensors",
    "vocab.json",
]  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from pydoc_data.topics import topics

    path = tmp_path_factory.mktemp("data") / "small.txt"
    path.write_text("".join(topics[k] for k in sorted(topics))[:6000], encoding="utf-8")
    return path


def tiny(corpus, run_dir, *extra):
    return [
        "train", "--data", str(corpus), "--run-dir", str(run_dir), "--hidden-size", "32",
        "--batch-size", "4", "--bptt", "16", "--max-steps", "30", "--eval-every", "10",
        "--log-every", "5", "--warmup-steps", "5", "--lr", "1e-2", "--quiet", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """One small finished run that the read-only tests share."""
    run = tmp_path_factory.mktemp("runs") / "run"
    assert main(tiny(corpus, run, "--sample-tokens", "0")) == 0
    return run


def test_train_writes_a_complete_run_and_prints_a_sample(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(corpus, run, "--sample-tokens", "40")) == 0
    out, err = capsys.readouterr()
    assert sorted(p.name for p in run.iterdir()) == LM_RUN_FILES
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["cell"] == "lstm" and config["data"]["path"] == str(corpus)
    assert config["optim"]["lr"] == 0.01 and config["train"]["max_steps"] == 30
    records = RunDir(run).read_metrics()
    last = [r for r in records if "valid_loss" in r][-1]
    assert last["step"] == 30 and {"valid_bpc", "valid_perplexity"} <= set(last)
    assert {"loss", "lr", "grad_norm", "tokens_per_s"} <= set(records[0])
    assert f"validation {last['valid_bpc']:.3f} bpc" in out
    assert "--- sample" in out and "step     30 | valid" in err
    assert (run / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_config_file_with_command_line_on_top(corpus, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[model]\ncell = "gru"\nnum_layers = 2\n[optim]\nlr = 0.005\n')
    run = tmp_path / "run"
    assert main([*tiny(corpus, run, "--sample-tokens", "0"), "--config", str(config)]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"]["cell"] == "gru" and saved["model"]["num_layers"] == 2
    assert saved["optim"]["lr"] == 0.01  # the command line wins over the file
    # the saved config.json is itself a valid --config
    again = tmp_path / "again"
    args = ["train", "--config", str(run / "config.json"), "--run-dir", str(again), "--quiet"]
    assert main([*args, "--sample-tokens", "0"]) == 0
    assert json.loads((again / "config.json").read_text()) == saved


def test_word_level_with_weight_tying(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    extra = ("--level", "word", "--tie-weights", "--max-vocab", "100", "--bptt", "8")
    assert main(tiny(corpus, run, *extra, "--sample-tokens", "10")) == 0
    vocab = json.loads((run / "vocab.json").read_text())
    assert vocab["level"] == "word" and len(vocab["tokens"]) == 100
    assert "bits/word" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--data", str(corpus)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"bits_per_word", "perplexity", "tokens"}


def test_generate_streams_deterministically(trained, capsys):
    args = ["generate", str(trained), "--prompt", "The ", "--max-new-tokens", "50", "--seed", "7"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("The ") and len(first) == len("The ") + 50 + 1
    assert main([*args[:-1], "8", "--top-k", "5", "--top-p", "0.9"]) == 0
    assert capsys.readouterr().out != first


def test_evaluate_prints_json_on_stdout_and_words_on_stderr(trained, corpus, capsys):
    assert main(["evaluate", str(trained)]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert set(result) == {"bpc", "perplexity", "tokens"} and result["tokens"] > 100
    assert "bits per character" in err and "test split" in err
    assert main(["evaluate", str(trained), "--data", str(corpus)]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert whole["tokens"] > 5 * result["tokens"]
    assert 0 < whole["bpc"] < 8


def test_regularisers_and_init_reach_the_layer(corpus, tmp_path):
    run = tmp_path / "run"
    extra = ("--sample-tokens", "0", "--recurrent-dropout", "0.1", "--zoneout", "0.1",
             "--weight-drop", "0.2", "--init", "orthogonal", "--forget-bias", "1")  # fmt: skip
    assert main(tiny(corpus, run, *extra)) == 0
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["zoneout"], model["weight_drop"], model["init"]) == (0.1, 0.2, "orthogonal")
    from recur.tasks import open_run

    layer = open_run(run).model.rnn
    assert layer.init == "orthogonal" and layer.forget_bias == 1.0
    assert layer.regularisers.zoneout == 0.1 and layer.regularisers.weight_drop == 0.2


def test_predict_continues_each_line_greedily(trained, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The \n\nfor \n")
    out = tmp_path / "out.jsonl"
    args = ["predict", str(trained), "--input", str(prompts), "--max-new-tokens", "12"]
    assert main([*args, "--output", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["line"], r["prompt"]) for r in records] == [(1, "The "), (3, "for ")]
    assert all(len(r["continuation"]) == 12 for r in records)
    assert main([*args, "--output", str(tmp_path / "again.jsonl")]) == 0  # greedy: repeatable
    assert (tmp_path / "again.jsonl").read_text() == out.read_text()


@pytest.mark.parametrize(
    "command",
    [[], ["train"], ["generate"], ["evaluate"], ["predict"], ["diagnose"], ["experiment"]],
)
def test_help(command, capsys):
    assert main([*command, "--help"]) == 0
    assert "usage: recur" in capsys.readouterr().out


# ---------------------------------------------------------------- bad input: exit 2, one line
def fails(args, capsys, match):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err, err
    assert match in err, err


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--cell", "transformer"], "model.cell: expected one of"),
        (["--hidden-size", "-3"], "model.hidden_size: Input should be greater than or equal to 1"),
        (["--num-layers", "0"], "model.num_layers"),
        (["--batch-size", "0"], "data.batch_size"),
        (["--dropout", "1.5"], "model.dropout"),
        (["--lr", "-1"], "optim.lr"),
        (["--max-steps", "none", "--max-time", "none"], "expected max_steps, max_time or epochs"),
        (["--hidden-size", "big"], "argument --hidden-size: invalid int value: 'big'"),
        (["--bidirectional"], "model.bidirectional: a language model reads left to right"),
        (["--batch-size", "2000"], "fewer than one batch"),
        (["--level", "sentence"], "data.level: Input should be 'char' or 'word'"),
    ],
)
def test_bad_options(corpus, tmp_path, capsys, extra, match):
    fails([*tiny(corpus, tmp_path / "run"), *extra], capsys, match)
    assert not (tmp_path / "run").exists()


def test_bad_config_files(corpus, tmp_path, capsys):
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[model]\nhiden_size = 3\n")
    fails(
        [*tiny(corpus, tmp_path / "r"), "--config", str(unknown)],
        capsys,
        "model.hiden_size: unknown key",
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("[model\n")
    fails([*tiny(corpus, tmp_path / "r"), "--config", str(broken)], capsys, "cannot be parsed")
    fails(
        [*tiny(corpus, tmp_path / "r"), "--config", str(tmp_path / "no.toml")],
        capsys,
        "does not exist",
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (b"text\x00with\x00nul" * 20, "looks binary"),
        ("caf\u00e9 ".encode("latin-1") * 100, "is not valid UTF-8"),
        (b"too short", "fewer than one batch"),
    ],
)
def test_bad_data_files(tmp_path, capsys, content, match):
    data = tmp_path / "data.txt"
    if content is not None:
        data.write_bytes(content)
    fails(tiny(data, tmp_path / "run"), capsys, match)
    assert not (tmp_path / "run").exists()


def test_existing_run_dir_is_not_overwritten(corpus, trained, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in trained.iterdir()}
    fails(tiny(corpus, trained), capsys, "already exists; pass --resume")
    assert {p.name: p.read_bytes() for p in trained.iterdir()} == before
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    fails([*tiny(corpus, foreign), "--overwrite"], capsys, "not a recur run")
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_overwrite_replaces_a_run(corpus, tmp_path):
    run = tmp_path / "run"
    assert main(tiny(corpus, run, "--sample-tokens", "0")) == 0
    assert main(tiny(corpus, run, "--sample-tokens", "0", "--overwrite", "--max-steps", "10")) == 0
    assert RunDir(run).read_metrics()[-1]["step"] == 10


def test_bad_resumes(corpus, trained, tmp_path, capsys):
    before = {p.name: p.read_bytes() for p in trained.iterdir()}
    resume = ["train", "--resume", str(trained), "--quiet"]
    fails([*resume, "--hidden-size", "64"], capsys, "model.hidden_size: 32 -> 64")
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text(encoding="utf-8").upper(), encoding="utf-8")
    fails([*resume, "--data", str(other)], capsys, "data.path")
    fails(["train", "--resume", str(tmp_path)], capsys, "is not a recur run")
    assert {p.name: p.read_bytes() for p in trained.iterdir()} == before

    # same config, different text with the same path: vocabulary or data checks catch it
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in trained.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    config = json.loads((copy / "config.json").read_text())
    config["data"]["path"] = str(other)
    (copy / "config.json").write_text(json.dumps(config))
    fails(["train", "--resume", str(copy)], capsys, "vocab.json differs from the data")
    same_symbols = tmp_path / "shuffled.txt"
    same_symbols.write_text(corpus.read_text(encoding="utf-8")[::-1], encoding="utf-8")
    config["data"]["path"] = str(same_symbols)
    (copy / "config.json").write_text(json.dumps(config))
    fails(["train", "--resume", str(copy)], capsys, "data_sha256 differs")
    vocab = (copy / "vocab.json").read_bytes()
    (copy / "vocab.json").unlink()
    fails(["train", "--resume", str(copy)], capsys, "vocab.json is missing")
    (copy / "vocab.json").write_bytes(vocab)

    # a damaged checkpoint is detected and not loaded
    config["data"]["path"] = str(corpus)
    (copy / "config.json").write_text(json.dumps(config))
    checkpoint = copy / "checkpoint.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:-100])
    fails(["train", "--resume", str(copy), "--max-steps", "40"], capsys, "corrupted or truncated")
    model = copy / "model.safetensors"
    model.write_bytes(model.read_bytes()[:-3] + b"xyz")
    fails(["generate", str(copy)], capsys, "corrupted")


def test_bad_generate_and_evaluate(trained, tmp_path, capsys):
    fails(["generate", str(trained), "--prompt", "\u263a"], capsys, "prompt: 1 symbol(s) outside")
    assert main(["generate", str(trained), "--prompt", "a\u263a", "--unk", "skip"]) == 0
    capsys.readouterr()
    fails(["generate", str(trained), "--temperature", "-1"], capsys, "temperature")
    fails(["generate", str(trained), "--top-p", "2"], capsys, "top_p")
    fails(["generate", str(tmp_path)], capsys, "does not exist; is")
    fails(["generate", str(tmp_path / "nowhere")], capsys, "does not exist")
    strange = tmp_path / "strange.txt"
    strange.write_text("\u263a\u263b" * 50, encoding="utf-8")
    fails(["evaluate", str(trained), "--data", str(strange)], capsys, "outside the vocabulary")
    fails(
        ["evaluate", str(trained), "--data", str(tmp_path / "none.txt")], capsys, "does not exist"
    )

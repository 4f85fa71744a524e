"""`recur train --task caption`: image tables and .npz, evaluate, beam, predict, bad input,
learning."""

import csv
import json

import numpy as np
import pytest
import torch

from recur.cli.main import main
from recur.data.images import read_image
from recur.tasks.captioning import ImageCaptioner, caption_scores

PLACES = ("top left", "top right", "bottom left", "bottom right")


def quadrant_images(n, seed, size=8):
    """Grey (n, size, size) uint8 images with a bright 3x3 patch in one quadrant, and the
    quadrant's name as the caption (chance of an exact caption: 0.25)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 40, (n, size, size)).astype(np.uint8)
    captions, half = [], size // 2
    for k in range(n):
        q = int(rng.integers(0, 4))
        y = (q // 2) * half + int(rng.integers(0, half - 2))
        x = (q % 2) * half + int(rng.integers(0, half - 2))
        images[k, y : y + 3, x : x + 3] = 255
        captions.append(PLACES[q])
    return images, captions


def write_table(root, name, images, captions, header=("image", "caption")):
    """PNG files in root/name/ and a CSV listing them (paths relative to the CSV)."""
    from PIL import Image

    (root / name).mkdir()
    with open(root / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for k, (image, caption) in enumerate(zip(images, captions)):
            Image.fromarray(image).save(root / name / f"{k:03d}.png")
            writer.writerow([f"{name}/{k:03d}.png", caption])
    return root / f"{name}.csv"


def train_args(data, run, *extra):
    return ["train", "--task", "caption", "--data", str(data), "--run-dir", str(run),
            "--hidden-size", "32", "--batch-size", "32", "--max-steps", "20",
            "--eval-every", "10", "--lr", "1e-2", "--threads", "1", "--quiet", *extra]  # fmt: skip


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """The learning run: 150 steps on 240 PNG files listed in a CSV, a test table beside it."""
    root = tmp_path_factory.mktemp("caption")
    train = write_table(root, "train", *quadrant_images(240, seed=0))
    test = write_table(root, "test", *quadrant_images(60, seed=1))
    run = root / "run"
    args = train_args(train, run, "--test", str(test), "--max-steps", "150", "--eval-every", "75")
    assert main(args) == 0
    return root, run, test


def evaluate(run, capsys, *extra):
    capsys.readouterr()
    assert main(["evaluate", str(run), *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_captioner_learns_where_the_patch_is(table_run, capsys):
    _, run, test = table_run
    assert (run / "captions.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((run / "task.json").read_text())
    assert meta["vocab"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (meta["channels"], meta["height"], meta["width"], meta["max_caption"]) == (1, 8, 8, 2)
    result = evaluate(run, capsys, "--data", str(test))
    assert result["count"] == 60 and result["beam"] == 1
    assert result["exact_match"] > 0.8, result  # chance 0.25
    assert result["bleu"] > 70


def test_evaluate_the_test_split_with_beam_search(table_run, capsys):
    _, run, _ = table_run
    greedy = evaluate(run, capsys)
    beam = evaluate(run, capsys, "--beam", "3")
    assert greedy["count"] == beam["count"] == 60 and beam["beam"] == 3
    assert abs(beam["exact_match"] - greedy["exact_match"]) < 0.1
    assert evaluate(run, capsys, "--split", "valid")["count"] == 24  # 10 % of 240


def test_predict_a_folder_a_table_and_an_npz(table_run, tmp_path, capsys):
    root, run, _ = table_run
    out = tmp_path / "captions.csv"
    assert main(["predict", str(run), "--input", str(root / "test"), "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 60 and rows[0]["item"] == "000.png"
    assert sum(r["caption"] in PLACES for r in rows) > 50
    unlabelled = tmp_path / "new.jsonl"
    unlabelled.write_text(f'{{"image": "{root / "test" / "001.png"}"}}\n')
    capsys.readouterr()
    assert main(["predict", str(run), "--input", str(unlabelled)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["item"] == str(root / "test" / "001.png")
    images, captions = quadrant_images(10, seed=2)
    np.savez(tmp_path / "new.npz", images=images)
    assert main(["predict", str(run), "--input", str(tmp_path / "new.npz")]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["item"] for r in records] == [str(k) for k in range(1, 11)]
    assert sum(r["caption"] == c for r, c in zip(records, captions)) >= 7


def test_rgb_npz_with_condition_every(tmp_path, capsys):
    images, captions = quadrant_images(40, seed=3)
    rgb = np.stack([images, images // 2, images], axis=1).astype(np.float32) / 255  # (N, 3, H, W)
    np.savez(tmp_path / "rgb.npz", images=rgb, captions=np.array(captions))
    run = tmp_path / "run"
    args = train_args(tmp_path / "rgb.npz", run, "--channels", "3", "--condition", "every",
                      "--level", "char", "--max-steps", "5")  # fmt: skip
    assert main(args) == 0
    meta = json.loads((run / "task.json").read_text())
    assert meta["channels"] == 3 and meta["level"] == "char" and "t" in meta["vocab"]
    assert evaluate(run, capsys, "--data", str(tmp_path / "rgb.npz"))["count"] == 40


def test_jpeg_and_rgba_files_are_read_as_grey_or_rgb(tmp_path):
    from PIL import Image

    pixels = np.zeros((6, 5, 3), dtype=np.uint8)
    pixels[..., 0] = 255  # pure red
    Image.fromarray(pixels).save(tmp_path / "red.jpg", quality=100)
    Image.fromarray(np.dstack([pixels, np.full((6, 5), 128, np.uint8)])).save(tmp_path / "a.png")
    for name in ("red.jpg", "a.png"):
        rgb = read_image(tmp_path / name, 3, "data: t")
        grey = read_image(tmp_path / name, 1, "data: t")
        assert rgb.shape == (3, 6, 5) and grey.shape == (1, 6, 5)
        assert rgb[0].min() > 0.95 and rgb[1].max() < 0.05
        assert np.allclose(grey, 0.299, atol=0.02)  # BT.601 luma of red


@pytest.mark.parametrize("condition", ["first", "every"])
def test_beam_of_one_is_greedy_and_greedy_is_the_generators(condition):
    torch.manual_seed(0)
    model = ImageCaptioner(1, 9, condition=condition, cell="gru", hidden_size=16).eval()
    images = torch.rand(5, 1, 8, 8)
    greedy = model.decode(images, max_length=6, bos=2, eos=3, pad=0)
    beam1 = model.decode(images, max_length=6, bos=2, eos=3, pad=0, beam=1)
    assert torch.equal(greedy[0], beam1[0]) and torch.equal(greedy[1], beam1[1])
    ids, lengths = model.generator.generate(model.encoder(images), max_len=6, bos=2, eos=3)
    assert torch.equal(lengths, greedy[1])
    for row, n in enumerate(lengths.tolist()):
        assert torch.equal(ids[row, :n], greedy[0][row, :n])
    tokens, counts = model.decode(images, max_length=6, bos=2, eos=3, pad=0, beam=3)
    assert tokens.shape[0] == 5 and bool((counts >= 1).all())


def test_bleu_counts_short_captions():
    exact = caption_scores([["a", "seven"]] * 3, [["a", "seven"]] * 3, "word")
    assert exact == {"bleu": 100.0, "exact_match": 1.0}
    half = caption_scores([["a", "seven"], ["a", "one"]], [["a", "seven"], ["a", "two"]], "word")
    assert half["exact_match"] == 0.5 and 0 < half["bleu"] < 100


# ---------------------------------------------------------------- bad input: exit 2, one line
def fails(args, capsys, *needles):
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    for needle in needles:
        assert needle in err, err


def test_bad_image_tables(tmp_path, capsys):
    from PIL import Image

    images, captions = quadrant_images(4, seed=4)
    table = write_table(tmp_path, "imgs", images, captions)
    Image.fromarray(np.zeros((6, 8), np.uint8)).save(tmp_path / "imgs" / "002.png")
    fails(train_args(table, tmp_path / "r"), capsys,
          "imgs.csv line 4", "002.png", "6x8", "expected 8x8")  # fmt: skip
    (tmp_path / "imgs" / "002.png").unlink()
    fails(train_args(table, tmp_path / "r"), capsys, "imgs.csv line 4", "002.png does not exist")
    (tmp_path / "imgs" / "002.png").write_bytes(b"not a png at all")
    fails(train_args(table, tmp_path / "r"), capsys, "imgs.csv line 4", "cannot read image")
    fails(train_args(table, tmp_path / "r", "--text-column", "text"), capsys,
          "imgs.csv", "no column 'text'", "image, caption")  # fmt: skip
    fails(train_args(table, tmp_path / "r", "--image-column", "file"), capsys, "no column 'file'")
    blank = tmp_path / "blank.csv"
    blank.write_text("image,caption\nimgs/000.png,top left\nimgs/001.png,  \n")
    fails(train_args(blank, tmp_path / "r"), capsys, "blank.csv line 3", "caption is empty")
    fails(train_args(tmp_path / "imgs", tmp_path / "r"), capsys, "is a folder")
    assert not (tmp_path / "r").exists()


def test_bad_npz_files(tmp_path, capsys):
    images, captions = quadrant_images(6, seed=5)
    cases = {
        "keys.npz": dict(pictures=images, captions=np.array(captions)),
        "count.npz": dict(images=images, captions=np.array(captions[:5])),
        "ragged.npz": dict(
            images=np.array([images[0], images[1][:4]], dtype=object),
            captions=np.array(captions[:2]),
        ),  # fmt: skip
        "rank.npz": dict(images=images[0], captions=np.array(captions[:1])),
        "nan.npz": dict(images=np.full((2, 8, 8), np.nan), captions=np.array(captions[:2])),
    }
    for name, arrays in cases.items():
        np.savez(tmp_path / name, **arrays)
    fails(train_args(tmp_path / "keys.npz", tmp_path / "r"), capsys,
          "keys.npz", "no array 'images'", "arrays: pictures, captions")  # fmt: skip
    fails(train_args(tmp_path / "count.npz", tmp_path / "r"), capsys,
          "count.npz", "'captions' has 5 entries but there are 6 items")  # fmt: skip
    fails(train_args(tmp_path / "ragged.npz", tmp_path / "r"), capsys, "ragged.npz", "object")
    fails(train_args(tmp_path / "rank.npz", tmp_path / "r"), capsys, "rank.npz", "(N, H, W)")
    fails(train_args(tmp_path / "nan.npz", tmp_path / "r"), capsys, "nan.npz", "non-finite")
    assert not (tmp_path / "r").exists()


def test_wrong_size_at_prediction_leaves_no_output(table_run, tmp_path, capsys):
    _, run, _ = table_run
    np.savez(tmp_path / "big.npz", images=np.zeros((3, 9, 8), np.uint8))
    out = tmp_path / "out.csv"
    out.write_text("previous")
    fails(["predict", str(run), "--input", str(tmp_path / "big.npz"), "--output", str(out)],
          capsys, "big.npz", "9x8", "expected 8x8")  # fmt: skip
    assert out.read_text() == "previous"
    np.savez(tmp_path / "unlabelled.npz", images=np.zeros((3, 8, 8), np.uint8))
    fails(["evaluate", str(run), "--data", str(tmp_path / "unlabelled.npz")], capsys,
          "no array 'captions'", "arrays: images")  # fmt: skip


def test_builtin_digits_demo_learns_names(tmp_path, capsys):
    run = tmp_path / "demo"
    args = ["train", "--task", "caption", "--run-dir", str(run), "--max-steps", "200",
            "--eval-every", "200", "--threads", "1", "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "test (449 images, greedy)" in capsys.readouterr().out
    result = evaluate(run, capsys)
    assert result["count"] == 449 and result["exact_match"] > 0.6  # chance ~0.1

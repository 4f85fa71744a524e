"""recur.train.checkpoint: atomic writes, verified safetensors, nested training state."""

import os

import pytest
import torch

from recur.models.language_model import LanguageModel
from recur.train import checkpoint
from recur.train.checkpoint import (
    CheckpointError,
    atomic_write,
    flatten,
    load_tensors,
    save_tensors,
    unflatten,
)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as `recur train` uses: two spin-wait badly on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_atomic_write_replaces_whole_files(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write(path, "old")
    atomic_write(path, b"new")
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["f.txt"]


@pytest.mark.parametrize("where", ["write", "replace"])
def test_a_write_that_dies_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, where):
    path = tmp_path / "model.safetensors"
    save_tensors(path, {"w": torch.ones(3)}, {})

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # a signal arriving mid-write

    if where == "replace":
        monkeypatch.setattr(checkpoint.os, "replace", die)
    else:
        monkeypatch.setattr(checkpoint.os, "fsync", die)
    with pytest.raises(KeyboardInterrupt):
        save_tensors(path, {"w": torch.zeros(3)}, {})
    monkeypatch.undo()
    tensors, _ = load_tensors(path)
    assert torch.equal(tensors["w"], torch.ones(3))
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_round_trip_with_metadata_and_tied_weights(tmp_path):
    model = LanguageModel(7, hidden_size=4, tie_weights=True)
    path = tmp_path / "m.safetensors"
    save_tensors(path, model.state_dict(), {"step": "3"})
    tensors, meta = load_tensors(path)
    assert meta["step"] == "3"
    fresh = LanguageModel(7, hidden_size=4, tie_weights=True)
    fresh.load_state_dict(tensors)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], value, rtol=0, atol=0)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_corrupted_or_truncated_files_are_refused(tmp_path, damage):
    path = tmp_path / "c.safetensors"
    save_tensors(path, {"w": torch.arange(100.0), "b": torch.ones(2)}, {})
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 37]
    elif damage == "flip":
        data[-5] ^= 0xFF  # inside the tensor bytes: only the checksum notices
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(b"\xff" * 64)
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_tensors(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_tensors(tmp_path / "missing.safetensors")


def test_optimizer_state_survives_flatten(tmp_path):
    """Int keys, tuples (betas) and tensors come back as they were, and training continues
    exactly as without the round trip."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.8, 0.9))
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(4, 3)).sum().backward()
        opt.step()
    tensors = {}
    skeleton = flatten(opt.state_dict(), "optimizer", tensors)
    save_tensors(tmp_path / "o.safetensors", tensors, {})
    loaded, _ = load_tensors(tmp_path / "o.safetensors")
    state = unflatten(skeleton, loaded)
    assert state["param_groups"][0]["betas"] == (0.8, 0.9)
    assert set(state["state"]) == {0, 1}

    twin = torch.nn.Linear(3, 2)
    twin.load_state_dict(model.state_dict())
    twin_opt = torch.optim.AdamW(twin.parameters(), lr=0.1, betas=(0.8, 0.9))
    twin_opt.load_state_dict(state)
    x = torch.randn(4, 3)
    for m, o in ((model, opt), (twin, twin_opt)):
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    torch.testing.assert_close(twin.weight, model.weight, rtol=0, atol=0)

import math

import pytest
import torch

from recur import demo

# A tiny model and a step budget (not wall time), so the result does not depend on machine load.
TINY = ["--max-steps", "150", "--seconds", "60", "--hidden-size", "64"]
TINY += ["--batch-size", "16", "--bptt", "32", "--lr", "1e-2"]


def test_tiny_demo_learns_past_unigram_and_samples(capsys):
    threads = torch.get_num_threads()
    metrics = demo.main(TINY)
    assert torch.get_num_threads() == threads  # main restores the caller's setting
    assert metrics["steps"] == 150
    assert math.isfinite(metrics["val_bpc"])
    assert 4.0 < metrics["unigram_bpc"] < 5.0  # the help text's character entropy
    assert metrics["val_bpc"] < metrics["unigram_bpc"] - 1.0
    assert len(metrics["sample"]) == demo.SAMPLE_LENGTH and metrics["sample"].strip()
    out = capsys.readouterr().out
    assert f"validation {metrics['val_bpc']:.3f} bits/char" in out
    assert metrics["sample"] in out


def test_unknown_prompt_symbol_is_rejected_before_training():
    with pytest.raises(ValueError, match="prompt"):
        demo.main([*TINY, "--prompt", "\x00"])

"""What every model is held to, and the small training loop of the learning tests."""

from __future__ import annotations

import contextlib
import time

import torch

CELLS = ("rnn", "lstm", "gru", "peephole", "cifg", "lnlstm", "clockwork")


def random_lengths(batch: int, steps: int, seed: int = 0) -> torch.Tensor:
    """Lengths in 1..steps, one of them full (so the padded batch is exactly ``steps`` long)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, steps + 1, (batch,), generator=gen)
    lengths[0] = steps
    return lengths


def assert_padding_invariant(run, inputs, lengths, per_step: bool, atol=1e-5):
    """``run(inputs, lengths)`` on the padded batch equals ``run`` on each sequence alone.

    ``per_step``: outputs are (B, T, ...) and only the valid steps are compared; else (B, ...).
    """
    batched = run(inputs, lengths)
    for b, length in enumerate(lengths.tolist()):
        alone = run(inputs[b : b + 1, :length], None)[0]
        expected = batched[b, :length] if per_step else batched[b]
        torch.testing.assert_close(expected, alone, rtol=0, atol=atol)


def assert_every_parameter_gets_gradient(model, loss):
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"no gradient reaches {name}"
        assert bool(param.grad.abs().sum() > 0), f"zero gradient for {name}"


@contextlib.contextmanager
def single_thread():
    """Tiny recurrent models run fastest on one thread (and far faster on a loaded machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train(model, batch_loss, steps: int, lr: float = 1e-2, evaluate=None, target=None, every=25):
    """Adam on ``batch_loss(step)`` for at most ``steps`` steps, clipping gradients at norm 1.

    With ``evaluate`` (a no-argument score) and ``target``, stops early once the score passes
    the target (checked every ``every`` steps, in eval mode). Returns (score, steps, seconds).
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    score, start = None, time.perf_counter()
    with single_thread():
        for step in range(1, steps + 1):
            model.train()
            loss = batch_loss(step)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            if evaluate is not None and (step % every == 0 or step == steps):
                model.eval()
                with torch.no_grad():
                    score = evaluate()
                if target is not None and score > target:
                    break
    return score, step, time.perf_counter() - start

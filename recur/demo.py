"""Train a small character-level LSTM language model on Python's own help text and sample from it.

The text is the standard library's ``pydoc_data.topics`` (about 465k characters of English and
code), so the demo runs offline on any Python install. Training is truncated BPTT over contiguous
batch columns, the state carried and detached between windows, bounded by wall time::

    python -m recur.demo                      # about 60 s of training, then a sample
    python -m recur.demo --seconds 10 --hidden-size 128

A placeholder until the ``recur train`` command: no checkpoints, no configuration files.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import recur

LOG2E = 1 / math.log(2)  # nats -> bits
VAL_FRACTION = 0.05  # held-out tail of the text
CLIP = 1.0  # max global gradient norm
LOG_EVERY = 5.0  # seconds between progress lines
SAMPLE_LENGTH = 300


def load_text() -> str:
    """The help topics shipped with every Python, as one string."""
    from pydoc_data.topics import topics

    return "".join(topics.values())


def unigram_bits(text: str) -> float:
    """Entropy of the character frequencies in bits: the loss of a model that ignores context."""
    counts = Counter(text).values()
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts)


def batchify(ids: Tensor, batch_size: int) -> Tensor:
    """Cut ``ids`` into ``batch_size`` contiguous columns, time-major: (L, N)."""
    length = ids.numel() // batch_size
    return ids[: length * batch_size].view(batch_size, length).t().contiguous()


class CharLM(nn.Module):
    """Embedding -> recur.LSTM -> linear read-out over the vocabulary."""

    def __init__(self, vocab_size: int, hidden_size: int, embed_size: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = recur.LSTM(embed_size, hidden_size)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: Tensor, state=None):
        """ids (L, N) -> logits (L, N, V) and the final (h, c)."""
        output, state = self.lstm(self.embed(ids), state)
        return self.head(output), state

    def step(self, ids_t: Tensor, state=None):
        """One character per sequence: ids_t (N,) -> logits (N, V) and the new state."""
        y, state = self.lstm.step(self.embed(ids_t), state)
        return self.head(y), state


def train(model: CharLM, data: Tensor, args) -> dict:
    """Truncated BPTT over the columns of ``data`` (L, N) until the time or step budget is spent."""
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    model.train()
    start = last_log = time.perf_counter()
    step, pos, state = 0, 0, None
    loss_sum, loss_count, chars = 0.0, 0, 0
    while step < args.max_steps and time.perf_counter() - start < args.seconds:
        if pos + args.bptt + 1 > data.shape[0]:
            pos, state = 0, None  # next epoch: start the columns again from a zero state
        window = data[pos : pos + args.bptt + 1]
        logits, state = model(window[:-1], state)
        state = tuple(s.detach() for s in state)  # truncated BPTT: keep the values, cut the graph
        loss = F.cross_entropy(logits.flatten(0, 1), window[1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        step, pos = step + 1, pos + args.bptt
        loss_sum, loss_count = loss_sum + loss.item(), loss_count + 1
        chars += window[1:].numel()
        now = time.perf_counter()
        if now - last_log >= LOG_EVERY or step == args.max_steps:
            print(
                f"step {step:5d} | train {loss_sum / loss_count * LOG2E:.3f} bits/char"
                f" | {chars / (now - start):,.0f} chars/s | {now - start:5.1f} s",
                flush=True,
            )
            last_log, loss_sum, loss_count = now, 0.0, 0
    seconds = time.perf_counter() - start
    return {"steps": step, "train_seconds": seconds, "chars_per_s": chars / seconds}


@torch.no_grad()
def evaluate(model: CharLM, data: Tensor, bptt: int) -> float:
    """Bits per character of ``data`` (L, N), the state carried across windows."""
    model.eval()
    total, count, state = 0.0, 0, None
    for pos in range(0, data.shape[0] - 1, bptt):
        window = data[pos : pos + bptt + 1]
        logits, state = model(window[:-1], state)
        total += F.cross_entropy(logits.flatten(0, 1), window[1:].flatten(), reduction="sum")
        count += window[1:].numel()
    return float(total) / count * LOG2E


@torch.no_grad()
def sample(model: CharLM, prompt: Tensor, length: int, temperature: float, gen) -> list[int]:
    """Read the prompt once, then generate ``length`` ids one ``step`` at a time."""
    model.eval()
    logits, state = model(prompt.unsqueeze(1))  # prompt (P,) as one sequence
    logits, out = logits[-1], []
    for _ in range(length):
        probs = torch.softmax(logits / temperature, dim=-1)
        next_id = torch.multinomial(probs, 1, generator=gen).view(1)
        out.append(int(next_id))
        logits, state = model.step(next_id, state)
    return out


def parse_args(argv=None) -> argparse.Namespace:
    """The command line; every option has a default that fits the 60-90 s budget."""
    p = argparse.ArgumentParser(prog="python -m recur.demo", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="wall-time budget of training")
    p.add_argument("--max-steps", type=int, default=100_000, help="step budget of training")
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=32, help="contiguous columns of text")
    p.add_argument("--bptt", type=int, default=64, help="steps per truncated-BPTT window")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--prompt", default="The ")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: robust under load)")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    """Train, evaluate and sample; print progress and return the metrics and the sample."""
    args = parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)  # main() may be called from a longer-lived process


def run(args: argparse.Namespace) -> dict:
    """The demo proper, with parsed arguments."""
    torch.manual_seed(args.seed)
    text = load_text()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    if not args.prompt or set(args.prompt) - set(index):
        raise ValueError(f"prompt: expected non-empty text of known symbols, got {args.prompt!r}")
    ids = torch.tensor([index[ch] for ch in text])
    split = int(len(text) * (1 - VAL_FRACTION))
    train_data = batchify(ids[:split], args.batch_size)
    val_data = batchify(ids[split:], args.batch_size)
    unigram = unigram_bits(text)
    print(
        f"text: {len(text):,} chars of pydoc_data.topics, {len(chars)} symbols, "
        f"unigram entropy {unigram:.3f} bits/char; training on {split:,}, "
        f"validating on the last {len(text) - split:,}"
    )
    model = CharLM(len(chars), args.hidden_size)
    print(
        f"model: embedding -> recur.LSTM({model.lstm.input_size}, {args.hidden_size}) -> linear,"
        f" {sum(p.numel() for p in model.parameters()):,} parameters; batch {args.batch_size}"
        f" x bptt {args.bptt}, budget {args.seconds:g} s"
    )
    metrics = train(model, train_data, args)
    metrics.update(val_bpc=evaluate(model, val_data, args.bptt), unigram_bpc=unigram)
    print(
        f"trained {metrics['steps']} steps in {metrics['train_seconds']:.1f} s; "
        f"validation {metrics['val_bpc']:.3f} bits/char (unigram {unigram:.3f})"
    )
    gen = torch.Generator().manual_seed(args.seed)
    prompt = torch.tensor([index[ch] for ch in args.prompt])
    out = sample(model, prompt, SAMPLE_LENGTH, args.temperature, gen)
    metrics["sample"] = "".join(chars[i] for i in out)
    print(f"--- sample (temperature {args.temperature:g}) ---\n{args.prompt}{metrics['sample']}")
    return metrics


if __name__ == "__main__":
    main()

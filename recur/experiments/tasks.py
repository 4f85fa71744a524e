"""The synthetic tasks of the experiments, each sampled from a seeded generator.

Every task has ``input_size``, ``output_size``, ``chance`` (the metric of the best model that
ignores the relevant input), ``sample(batch, generator) -> (x, y)`` with x time-major
(T, B, input_size), ``loss(out, y)`` for training on the model's (T, B, output_size) output,
and ``metric(out, y)`` with ``higher_is_better``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class AddingTask:
    """The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015).

    Input (T, B, 2): channel 0 values uniform in [0, 1), channel 1 marks two steps, one in each
    half of the sequence. Target: the sum of the two marked values, read at the last step. A
    model that ignores the input predicts 1 and scores var(U1 + U2) = 1/6 ≈ 0.167 (``chance``).
    """

    steps: int
    input_size = 2
    output_size = 1
    chance = 1 / 6
    higher_is_better = False

    def sample(self, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        half = self.steps // 2
        values = torch.rand(self.steps, batch, generator=generator)
        first = torch.randint(0, half, (batch,), generator=generator)
        second = torch.randint(half, self.steps, (batch,), generator=generator)
        marks = torch.zeros(self.steps, batch)
        marks[first, torch.arange(batch)] = 1.0
        marks[second, torch.arange(batch)] = 1.0
        y = (values * marks).sum(0, keepdim=True).t()
        return torch.stack((values, marks), dim=2), y

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(out[-1], y)

    metric = loss


@dataclass(frozen=True)
class CopyTask:
    """Copy memory (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016).

    ``length`` symbols from 1..K, then ``delay`` blanks (0), then a delimiter (K + 1) and
    ``length`` - 1 more blanks, during which the model must output the symbols in order. One-hot
    input of K + 2 classes; output logits over the K symbols, scored at the recall steps only.
    Metric: accuracy of the recalled symbols; ``chance`` = 1/K.
    """

    delay: int
    length: int = 5
    symbols: int = 8
    higher_is_better = True

    @property
    def input_size(self) -> int:
        return self.symbols + 2

    @property
    def output_size(self) -> int:
        return self.symbols

    @property
    def chance(self) -> float:
        return 1 / self.symbols

    @property
    def steps(self) -> int:
        return 2 * self.length + self.delay

    def sample(self, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        data = torch.randint(1, self.symbols + 1, (self.length, batch), generator=generator)
        tokens = torch.zeros(self.steps, batch, dtype=torch.long)
        tokens[: self.length] = data
        tokens[self.length + self.delay] = self.symbols + 1
        return F.one_hot(tokens, self.input_size).float(), data - 1

    def recall(self, out: Tensor) -> Tensor:
        return out[-self.length :]

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(self.recall(out).flatten(0, 1), y.flatten())

    def metric(self, out: Tensor, y: Tensor) -> Tensor:
        return (self.recall(out).argmax(-1) == y).float().mean()


@dataclass(frozen=True)
class FillBlankTask:
    """Fill in the blank (the seeds' "我的手机坏了，我打算____一部新手机").

    ``steps`` tokens from 0..V-1, one of them (at position p, 2 <= p <= T-2) replaced by a blank
    token V. With ``context="both"`` the answer is (x_{p-1} + x_{p+1}) mod V, so it needs the
    word after the blank; with ``context="past"`` it is (x_{p-2} + x_{p-1}) mod V (the control).
    The model tags every position and is scored at the blank. ``chance`` = 1/V.
    """

    steps: int = 16
    vocab: int = 10
    context: str = "both"
    higher_is_better = True

    @property
    def input_size(self) -> int:
        return self.vocab + 1

    @property
    def output_size(self) -> int:
        return self.vocab

    @property
    def chance(self) -> float:
        return 1 / self.vocab

    def sample(self, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        tokens = torch.randint(0, self.vocab, (self.steps, batch), generator=generator)
        blank = torch.randint(2, self.steps - 1, (batch,), generator=generator)
        cols = torch.arange(batch)
        if self.context == "both":
            answer = tokens[blank - 1, cols] + tokens[blank + 1, cols]
        else:
            answer = tokens[blank - 2, cols] + tokens[blank - 1, cols]
        tokens[blank, cols] = self.vocab
        return F.one_hot(tokens, self.input_size).float(), torch.stack((blank, answer % self.vocab))

    def at_blank(self, out: Tensor, y: Tensor) -> Tensor:
        return out[y[0], torch.arange(out.shape[1])]

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(self.at_blank(out, y), y[1])

    def metric(self, out: Tensor, y: Tensor) -> Tensor:
        return (self.at_blank(out, y).argmax(-1) == y[1]).float().mean()


@dataclass(frozen=True)
class WaveTask:
    """Sequence generation (Koutník et al. 2014): produce one fixed waveform from no input.

    The target is a sum of ``components`` sines with periods spread log-uniformly between 4
    steps and the sequence length, random phases and amplitudes (seeded by ``seed``), scaled to
    unit variance. The input is a single zero channel, so the network must keep time itself.
    Metric: normalised MSE (MSE / variance of the target); ``chance`` = 1 (predicting the mean).
    """

    steps: int = 320
    components: int = 5
    seed: int = 0
    input_size = 1
    output_size = 1
    chance = 1.0
    higher_is_better = False

    def target(self) -> Tensor:
        g = torch.Generator().manual_seed(self.seed)
        periods = torch.exp(
            torch.linspace(math.log(4), math.log(self.steps), self.components)
            + 0.1 * torch.randn(self.components, generator=g)
        )
        phases = 2 * math.pi * torch.rand(self.components, generator=g)
        amplitudes = 0.5 + torch.rand(self.components, generator=g)
        t = torch.arange(self.steps, dtype=torch.float32).unsqueeze(1)
        wave = (amplitudes * torch.sin(2 * math.pi * t / periods + phases)).sum(1)
        wave = (wave - wave.mean()) / wave.std()
        return wave.view(self.steps, 1, 1)

    def sample(self, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        y = self.target().expand(-1, batch, -1)
        return torch.zeros(self.steps, batch, 1), y

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(out, y)

    metric = loss  # the target has unit variance, so the MSE is the normalised MSE

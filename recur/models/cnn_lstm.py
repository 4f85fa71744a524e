"""CNN-LSTM: a small CNN encodes every frame of a clip, a recurrent model reads the frames.

Shapes (B clips, T frames, C channels, H x W pixels, F feature_size, K classes):
    clips    (B, T, C, H, W) real; time is folded into the batch for the CNN: (B*T, C, H, W)
    lengths  optional (B,) ints in 1..T: valid frames of each end-padded clip
    logits   (B, K) with head="sequence" (N→1), (B, T, K) with head="frames" (N→N)

Equations: v_t = CNN(frame_t) ∈ R^F;  then :class:`SequenceClassifier` or :class:`SequenceTagger`
over v_1..v_T (real-valued inputs, no projection).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from recur.layers.checks import check_positive_int
from recur.models.checks import check_choice
from recur.models.classifier import SequenceClassifier
from recur.models.tagger import SequenceTagger

HEADS = ("sequence", "frames")


class FrameEncoder(nn.Module):
    """frames (N, C, H, W) → features (N, feature_size).

    One stage per entry of ``channels``: Conv2d(kernel_size, "same" padding) → ReLU →
    MaxPool2d(2). Then AdaptiveAvgPool2d(grid) → flatten → Linear → ReLU. The grid keeps coarse
    positions, which motion between frames needs (a global average would discard them). No batch
    normalisation: padded frames must not influence valid ones.
    """

    def __init__(
        self,
        in_channels: int,
        channels: tuple[int, ...] = (16, 32),
        feature_size: int = 64,
        kernel_size: int = 3,
        grid: int = 4,
    ):
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        if not isinstance(channels, (tuple, list)) or not channels:
            raise ValueError(f"channels: expected a non-empty sequence of ints, got {channels!r}")
        for value in channels:
            check_positive_int("channels", value)
        self.feature_size = check_positive_int("feature_size", feature_size)
        check_positive_int("kernel_size", kernel_size)
        check_positive_int("grid", grid)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd int (same padding), got {kernel_size}")
        stages, previous = [], in_channels
        for out in channels:
            stages += [
                nn.Conv2d(previous, out, kernel_size, padding=kernel_size // 2),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            previous = out
        stages += [nn.AdaptiveAvgPool2d(grid), nn.Flatten()]
        self.convolutions = nn.Sequential(*stages)
        self.project = nn.Linear(previous * grid * grid, feature_size)
        self.min_size = 2 ** len(channels)

    def forward(self, frames: Tensor) -> Tensor:
        return F.relu(self.project(self.convolutions(frames)))


class CNNLSTM(nn.Module):
    """Classifies clips (head="sequence") or each of their frames (head="frames").

    Arguments:
        in_channels: C.
        num_classes: K.
        channels, feature_size: the frame encoder (see :class:`FrameEncoder`).
        head: "sequence" (one label per clip, pooled by ``pooling``: "last", "mean" or "max") or
            "frames" (one label per frame).
        cell, hidden_size, num_layers, bidirectional, dropout, layer_kwargs: the recurrent model.

    Example::

        model = CNNLSTM(1, 4, channels=(8, 16), cell="gru", hidden_size=32)
        logits = model(clips)                          # (B, T, 1, 16, 16) -> (B, 4)
        loss = model.loss(logits, directions)
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        channels: tuple[int, ...] = (16, 32),
        feature_size: int = 64,
        head: str = "sequence",
        pooling: str | None = None,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        **layer_kwargs,
    ):
        super().__init__()
        self.head = check_choice("head", head, HEADS)
        self.encoder = FrameEncoder(in_channels, channels, feature_size)
        recurrent = dict(
            input_size=feature_size,
            cell=cell,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            **layer_kwargs,
        )
        if head == "sequence":
            pooling = "last" if pooling is None else pooling
            self.sequence = SequenceClassifier(num_classes, pooling=pooling, **recurrent)
        else:
            if pooling is not None:
                raise ValueError(
                    f'pooling: only for head="sequence"; expected None, got {pooling!r}'
                )
            self.sequence = SequenceTagger(num_classes, **recurrent)

    def forward(self, clips: Tensor, lengths=None) -> Tensor:
        """Logits (B, K) for head="sequence", (B, T, K) for head="frames"."""
        self._check_clips(clips)
        batch, steps = clips.shape[:2]
        features = self.encoder(clips.flatten(0, 1)).view(batch, steps, -1)
        return self.sequence(features, lengths)

    def loss(self, logits: Tensor, targets: Tensor, lengths=None) -> Tensor:
        """Cross entropy: of clip labels (B,), or of frame labels (B, T) over valid frames."""
        if self.head == "frames":
            return self.sequence.loss(logits, targets, lengths)
        return F.cross_entropy(logits, targets)

    def _check_clips(self, clips: Tensor) -> None:
        ref = self.encoder.project.weight
        channels, size = self.encoder.in_channels, self.encoder.min_size
        if not isinstance(clips, Tensor) or clips.dim() != 5 or clips.shape[2] != channels:
            shape = tuple(clips.shape) if isinstance(clips, Tensor) else type(clips).__name__
            raise ValueError(
                f"clips: expected a (B, T, {channels}, H, W) tensor (in_channels={channels}), "
                f"got {shape}"
            )
        if clips.numel() == 0 or min(clips.shape[3:]) < size:
            raise ValueError(
                f"clips: expected non-empty clips with frames of at least {size}x{size} pixels "
                f"(one 2x pooling per channels entry), got shape {tuple(clips.shape)}"
            )
        if clips.dtype != ref.dtype or clips.device != ref.device:
            raise ValueError(
                f"clips: expected {ref.dtype} on {ref.device} (the model's parameters), "
                f"got {clips.dtype} on {clips.device}"
            )

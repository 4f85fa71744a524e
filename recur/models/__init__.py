"""Whole models built from recur's layers (the seeds' architectures)."""

from recur.models.classifier import SequenceClassifier
from recur.models.cnn_lstm import CNNLSTM, FrameEncoder
from recur.models.conditional_generator import ConditionalGenerator
from recur.models.inputs import InputLayer
from recur.models.language_model import LanguageModel, detach_state
from recur.models.pooling import IGNORE_INDEX, masked_cross_entropy, pool
from recur.models.tagger import SequenceTagger

__all__ = [
    "CNNLSTM",
    "IGNORE_INDEX",
    "ConditionalGenerator",
    "FrameEncoder",
    "InputLayer",
    "LanguageModel",
    "SequenceClassifier",
    "SequenceTagger",
    "detach_state",
    "masked_cross_entropy",
    "pool",
]

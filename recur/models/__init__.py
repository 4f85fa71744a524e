"""Whole models built from recur's layers (the seeds' architectures)."""

from recur.models.attention import AdditiveAttention, MultiplicativeAttention, make_attention
from recur.models.beam_search import Hypotheses, beam_search, greedy_search
from recur.models.classifier import SequenceClassifier
from recur.models.cnn_lstm import CNNLSTM, FrameEncoder
from recur.models.conditional_generator import ConditionalGenerator
from recur.models.inputs import InputLayer
from recur.models.language_model import LanguageModel
from recur.models.pooling import IGNORE_INDEX, masked_cross_entropy, pool
from recur.models.seq2seq import Encoded, Seq2Seq, Seq2SeqOutput
from recur.models.tagger import SequenceTagger
from recur.state import detach_state

__all__ = [
    "CNNLSTM",
    "IGNORE_INDEX",
    "AdditiveAttention",
    "ConditionalGenerator",
    "Encoded",
    "FrameEncoder",
    "Hypotheses",
    "InputLayer",
    "LanguageModel",
    "MultiplicativeAttention",
    "Seq2Seq",
    "Seq2SeqOutput",
    "SequenceClassifier",
    "SequenceTagger",
    "beam_search",
    "detach_state",
    "greedy_search",
    "make_attention",
    "masked_cross_entropy",
    "pool",
]

"""Attention scores against their formulas, masking, and the PNG heatmap."""

import pytest
import torch

from recur.models.attention import (
    AdditiveAttention,
    MultiplicativeAttention,
    make_attention,
    masked_softmax,
)
from recur.plots.attention import save_attention_heatmap

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def inputs(seed=0, query_size=5, memory_size=5):
    g = torch.Generator().manual_seed(seed)
    query = torch.randn(2, 3, query_size, generator=g, dtype=torch.float64)
    memory = torch.randn(2, 4, memory_size, generator=g, dtype=torch.float64)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    return query, memory, mask


def test_masked_softmax_is_zero_on_masked_positions_and_sums_to_one():
    scores = torch.randn(2, 3, 4)
    _, _, mask = inputs()
    weights = masked_softmax(scores, mask)
    assert (weights[1, :, 2:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    torch.testing.assert_close(weights[1, :, :2], scores[1, :, :2].softmax(-1))


def reference(scores_fn, query, memory, mask):
    """The formulas with explicit loops over batch, query and source position."""
    B, T, S = query.shape[0], query.shape[1], memory.shape[1]
    weights = torch.zeros(B, T, S, dtype=query.dtype)
    context = torch.zeros(B, T, memory.shape[2], dtype=query.dtype)
    for b in range(B):
        for i in range(T):
            valid = [j for j in range(S) if mask[b, j]]
            e = torch.stack([scores_fn(query[b, i], memory[b, j]) for j in valid])
            a = torch.exp(e) / torch.exp(e).sum()
            for a_j, j in zip(a, valid):
                weights[b, i, j] = a_j
                context[b, i] += a_j * memory[b, j]
    return context, weights


def test_additive_score_is_bahdanaus_formula():
    attend = AdditiveAttention(5, 6, 7).double()
    query, memory, mask = inputs(memory_size=6)
    W, U, b_U, v = (
        attend.query_proj.weight,
        attend.memory_proj.weight,
        attend.memory_proj.bias,
        attend.v.weight[0],
    )
    expected = reference(lambda q, m: v @ torch.tanh(W @ q + U @ m + b_U), query, memory, mask)
    torch.testing.assert_close(attend(query, attend.keys(memory), memory, mask), expected)


@pytest.mark.parametrize("score", ["dot", "general"])
def test_multiplicative_scores_are_luongs_formulas(score):
    attend = MultiplicativeAttention(5, 5, score).double()
    query, memory, mask = inputs()
    W_a = torch.eye(5, dtype=torch.float64) if score == "dot" else attend.memory_proj.weight
    expected = reference(lambda q, m: q @ (W_a @ m), query, memory, mask)
    torch.testing.assert_close(attend(query, attend.keys(memory), memory, mask), expected)


def test_bad_attention_arguments():
    with pytest.raises(ValueError, match=r"attention: expected one of \(None, 'bahdanau', 'lu"):
        make_attention("additive", 4, 4)
    with pytest.raises(ValueError, match=r"score: expected one of \('dot', 'general'\), got 'c"):
        make_attention("luong", 4, 4, score="concat")
    with pytest.raises(ValueError, match=r"score: 'dot' needs the query size \(4\) to equal"):
        make_attention("luong", 4, 6, score="dot")
    assert make_attention(None, 4, 4) is None


def test_heatmap_is_a_png(tmp_path):
    weights = torch.softmax(torch.randn(4, 6), dim=-1)
    path = save_attention_heatmap(weights, list("23 nov"), list("2026"), tmp_path / "a.png")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    with pytest.raises(ValueError, match=r"source_labels/target_labels: expected 6 and 4 labels"):
        save_attention_heatmap(weights, list("23 no"), list("2026"), tmp_path / "b.png")

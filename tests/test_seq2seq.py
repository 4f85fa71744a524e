"""Seq2Seq: shapes, masking, gradients, step == sequence paths, decoding, and bad input."""

import math

import pytest
import torch

from recur.layers.registry import LAYERS
from recur.models.beam_search import beam_search, greedy_search
from recur.models.seq2seq import Seq2Seq

SRC_VOCAB, TGT_VOCAB = 20, 9  # target: 0 pad, 1 bos, 2 eos, 3..8 tokens
CONFIGS = [(a, c) for a in (None, "bahdanau", "luong") for c in ("init", "every")]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny matrices: one intra-op thread is faster, and two crawl when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(attention=None, context="init", cell="lstm", seed=0, **kwargs):
    torch.manual_seed(seed)
    options = dict(hidden_size=8, embedding_dim=6, bidirectional=True)
    options.update(kwargs)
    model = Seq2Seq(
        SRC_VOCAB, TGT_VOCAB, cell=cell, attention=attention, context=context, **options
    )
    return model.eval()


def batch(seed=0, rows=4, steps=7, target_steps=5):
    g = torch.Generator().manual_seed(seed)
    source = torch.randint(3, SRC_VOCAB, (rows, steps), generator=g)
    lengths = torch.randint(1, steps + 1, (rows,), generator=g)
    lengths[0] = steps
    source[torch.arange(steps) >= lengths.unsqueeze(1)] = 0
    target = torch.randint(3, TGT_VOCAB, (rows, target_steps), generator=g)
    target[:, -1] = 2
    return source, lengths, target


@pytest.mark.parametrize("attention, context", CONFIGS)
def test_shapes(attention, context):
    model = make(attention, context)
    source, lengths, target = batch()
    logits, weights = model(source, target, lengths)
    assert logits.shape == (4, 5, TGT_VOCAB)
    if attention is None:
        assert weights is None
    else:
        assert weights.shape == (4, 5, 7)
        torch.testing.assert_close(weights.sum(-1), torch.ones(4, 5))
    hyp = model.beam_search(source, lengths, beam_size=3, max_length=6)
    assert hyp.tokens.shape[:2] == (4, 3) and hyp.tokens.shape[2] <= 6
    assert hyp.scores.shape == hyp.lengths.shape == (4, 3)
    assert (hyp.attention is None) == (attention is None)


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_every_cell_as_encoder_and_decoder(cell):
    other = "gru" if cell != "gru" else "rnn"
    model = make("luong", cell=cell, decoder_cell=other, num_layers=2)
    source, lengths, target = batch()
    assert model(source, target, lengths).logits.shape == (4, 5, TGT_VOCAB)
    model = make("bahdanau", cell=other, decoder_cell=cell)
    assert model.greedy(source, lengths, max_length=4).tokens.shape[0] == 4


@pytest.mark.parametrize("attention, context", CONFIGS)
def test_gradients_reach_every_parameter(attention, context):
    model = make(attention, context, num_layers=2).train()
    source, lengths, target = batch()
    logits, _ = model(source, target, lengths, teacher_forcing=0.5)
    model.loss(logits, target).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not missing


@pytest.mark.parametrize("attention, context", CONFIGS)
def test_teacher_forced_forward_equals_a_loop_over_decode_step(attention, context):
    # Luong and no attention run the decoder as one sequence call; the loop is the specification.
    model = make(attention, context, cell="gru", num_layers=2).double()
    source, lengths, target = batch()
    logits, weights = model(source, target, lengths)
    encoded = model.encode(source, lengths)
    state, previous = model.initial_state(encoded), torch.full((4,), model.bos_id)
    for t in range(target.shape[1]):
        logits_t, state, weights_t = model.decode_step(previous, state, encoded, t)
        torch.testing.assert_close(logits[:, t], logits_t)
        if attention is not None:
            torch.testing.assert_close(weights[:, t], weights_t)
        previous = target[:, t]


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
def test_padded_source_positions_get_zero_attention(attention):
    model = make(attention)
    source, lengths, target = batch()
    padded = torch.arange(7) >= lengths.unsqueeze(1)
    _, weights = model(source, target, lengths)
    assert (weights.masked_select(padded.unsqueeze(1)) == 0).all()
    hyp = model.beam_search(source, lengths, beam_size=2, max_length=5)
    assert (hyp.attention.masked_select(padded[:, None, None]) == 0).all()


@pytest.mark.parametrize("attention, context", CONFIGS)
def test_padding_content_and_width_never_change_results(attention, context):
    model = make(attention, context, num_layers=2)
    source, lengths, target = batch()
    wider = torch.randint(3, SRC_VOCAB, (4, 10))  # random tokens in every padded position
    valid = torch.arange(7) < lengths.unsqueeze(1)
    wider[:, :7] = torch.where(valid, source, wider[:, :7])
    logits, weights = model(source, target, lengths)
    logits_w, weights_w = model(wider, target, lengths)
    torch.testing.assert_close(logits_w, logits)
    if attention is not None:
        torch.testing.assert_close(weights_w[..., :7], weights)
        assert (weights_w[..., 7:] == 0).all()
    hyp, hyp_w = (model.beam_search(s, lengths, beam_size=3, max_length=6) for s in (source, wider))
    assert torch.equal(hyp.tokens, hyp_w.tokens)
    torch.testing.assert_close(hyp_w.scores, hyp.scores)


def test_each_row_decodes_as_if_alone():
    model = make("bahdanau")
    source, lengths, _ = batch()
    together = model.beam_search(source, lengths, beam_size=3, max_length=6)
    for row in range(4):
        alone = model.beam_search(source[row : row + 1, : lengths[row]], None, 3, 6)
        steps = alone.tokens.shape[2]
        assert torch.equal(together.tokens[row, :, :steps], alone.tokens[0])
        torch.testing.assert_close(together.scores[row], alone.scores[0])


@pytest.mark.parametrize("attention", [None, "bahdanau", "luong"])
def test_beam_size_one_equals_greedy_exactly(attention):
    model = make(attention, cell="gru")
    source, lengths, _ = batch(rows=6)
    greedy = model.greedy(source, lengths, max_length=8)
    beam = model.beam_search(source, lengths, beam_size=1, max_length=8)
    assert torch.equal(beam.tokens[:, 0], greedy.tokens)
    assert torch.equal(beam.lengths[:, 0], greedy.lengths)
    assert torch.equal(beam.log_probs[:, 0], greedy.log_probs)
    if attention is not None:
        assert torch.equal(beam.attention[:, 0], greedy.attention)


def test_zero_teacher_forcing_feeds_back_the_greedy_tokens():
    model = make("bahdanau")
    source, lengths, _ = batch()
    greedy = model.greedy(source, lengths, max_length=5)
    steps = greedy.tokens.shape[1]
    target = torch.full((4, steps), 3)  # gold tokens that are never used
    logits, _ = model(source, target, lengths, teacher_forcing=0.0)
    until_eos = torch.arange(steps) < greedy.lengths.unsqueeze(1)
    assert torch.equal(logits.argmax(-1)[until_eos], greedy.tokens[until_eos])
    forced, _ = model(source, target, lengths, teacher_forcing=1.0)
    assert not torch.allclose(forced, logits)


def test_beam_hypotheses_are_sorted_and_stop_at_eos():
    model = make("luong", cell="gru", seed=3)
    source, lengths, _ = batch(rows=5)
    hyp = model.beam_search(source, lengths, beam_size=4, max_length=6, length_penalty=0.6)
    assert (hyp.scores[:, :-1] >= hyp.scores[:, 1:]).all()
    torch.testing.assert_close(hyp.scores, hyp.log_probs / ((5 + hyp.lengths) / 6) ** 0.6)
    steps = torch.arange(hyp.tokens.shape[2])
    ended = hyp.tokens == model.eos_id
    first_eos = torch.where(ended.any(-1), ended.float().argmax(-1), hyp.tokens.shape[2])
    assert torch.equal(hyp.lengths, torch.where(ended.any(-1), first_eos + 1, first_eos))
    after = steps >= hyp.lengths.unsqueeze(-1)
    assert (hyp.tokens[after] == model.pad_id).all()
    assert (hyp.attention[after] == 0).all()
    assert ended.any()  # the check above is not vacuous


# A scripted decoder over tokens {0 pad, 1 bos, 2 eos, 3 a, 4 b}: greedy takes "a" (0.6) but
# "b eos" (0.4 * 0.9) beats every continuation of "a" (at most 0.6 * 0.35).
# Rows after pad and eos are never used (finished hypotheses ignore them).
SCRIPT = {1: [0, 0, 0, 0.6, 0.4], 3: [0, 0, 0.3, 0.35, 0.35], 4: [0, 0, 0.9, 0.05, 0.05]}
SCRIPT[0] = SCRIPT[2] = [0.2] * 5


def scripted_step(tokens, state, t):
    probs = torch.tensor([SCRIPT[int(k)] for k in tokens]).clamp_min(1e-12)
    return probs.log(), state + 1, None


def run_scripted(search, **kwargs):
    state = torch.zeros(1, kwargs.pop("rows"), 1)
    return search(scripted_step, state, 1, bos_id=1, eos_id=2, pad_id=0, **kwargs)


def test_beam_search_finds_what_greedy_misses_and_finished_hypotheses_stop_growing():
    greedy = run_scripted(greedy_search, rows=1, max_length=4)
    assert greedy.tokens.tolist() == [[3, 3, 3, 3]]  # never reaches EOS: cut at max_length
    assert greedy.lengths.tolist() == [4]
    beam = run_scripted(
        beam_search,
        rows=2,
        beam_size=2,
        max_length=4,
        alpha=0.0,
        reorder=lambda s, i: s.index_select(1, i),
    )
    assert beam.tokens[0, 0].tolist() == [4, 2, 0, 0]  # "b eos", then padding
    assert beam.lengths[0, 0] == 2
    assert math.isclose(beam.log_probs[0, 0].item(), math.log(0.4 * 0.9), rel_tol=1e-6)
    assert beam.tokens[0, 1, 0] == 3 and beam.lengths[0, 1] == 4  # the best of "a ..." so far


def test_length_normalisation_changes_the_ranking():
    # Raw log-probability ranks "b eos" (0.36) above "a b eos" (0.189); a large alpha divides
    # the longer hypothesis' log-probability by a much larger penalty and turns the order round.
    raw = run_scripted(
        beam_search,
        rows=3,
        beam_size=3,
        max_length=3,
        alpha=0.0,
        reorder=lambda s, i: s.index_select(1, i),
    )
    long = run_scripted(
        beam_search,
        rows=3,
        beam_size=3,
        max_length=3,
        alpha=10.0,
        reorder=lambda s, i: s.index_select(1, i),
    )
    assert (raw.log_probs[0, :-1] >= raw.log_probs[0, 1:]).all()
    assert raw.tokens[0, 0].tolist() == [4, 2, 0]
    assert long.tokens[0, 0].tolist() == [3, 4, 2]
    assert (long.scores[0, :-1] >= long.scores[0, 1:]).all()


# ---------------------------------------------------------------------- bad input
def raises(match):
    return pytest.raises(ValueError, match=match)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(cell="lstn"), r"cell: expected one of \['cifg', .*'rnn'\], got 'lstn'"),
        (dict(decoder_cell="transformer"), r"decoder_cell: expected one of \[.*\], got 'trans"),
        (dict(attention="dot"), r"attention: expected one of \(None, 'bahdanau', 'luong'\), got"),
        (dict(attention="luong", score="cosine"), r"score: expected one of \('dot', 'general'\)"),
        (dict(context="first"), r"context: expected one of \('init', 'every'\), got 'first'"),
        (dict(hidden_size=0), r"hidden_size: expected an int >= 1, got 0"),
        (dict(eos_id=9), r"eos_id: expected an id in \[0, 9\) \(target_vocab_size\), got 9"),
        (dict(dropout=2.0), r"dropout: expected a number in \[0, 1\]"),
        (dict(proj_size=4), r"proj_size: set by the model itself"),
        (dict(cell="rnn", decoder_cell="gru", nonlinearity="relu"), r"nonlinearity: not an opt"),
        (dict(zoneout=1.0), r"zoneout: expected a probability in \[0, 1\)"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with raises(match):
        Seq2Seq(SRC_VOCAB, TGT_VOCAB, **kwargs)


def test_bad_call_arguments():
    model = make("bahdanau")
    source, lengths, target = batch()
    with raises(r"source: expected token ids in \[0, 20\) \(vocab_size\), got values from 0 to 20"):
        model(torch.cat([source, torch.full((4, 1), 20)], 1), target)
    with raises(r"target: expected token ids in \[0, 9\) \(vocab_size\), got values from -"):
        model(source, target - 4, lengths)
    with raises(r"source: expected non-empty token ids of shape \(B, T\), got \(4, 0\)"):
        model(source[:, :0], target)
    with raises(r"target: expected non-empty token ids of shape \(B, T\), got \(4, 0\)"):
        model(source, target[:, :0], lengths)
    with raises(r"target: expected batch size 4 \(the source's\), got 3"):
        model(source, target[:3], lengths)
    with raises(r"source_lengths: expected shape \(4,\) \(one per source row\), got \(3,\)"):
        model(source, target, lengths[:3])
    with raises(r"source_lengths: expected every length in 1..7 .* got min 0"):
        model(source, target, torch.tensor([7, 0, 1, 1]))
    with raises(r"teacher_forcing: expected a number in \[0, 1\], got 1.5"):
        model(source, target, lengths, teacher_forcing=1.5)
    with raises(r"source: expected integer token ids, got dtype torch.float32"):
        model.greedy(source.float())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(beam_size=0), r"beam_size: expected an int >= 1, got 0"),
        (dict(beam_size=-2), r"beam_size: expected an int >= 1, got -2"),
        (dict(beam_size=10), r"beam_size: expected at most 9 \(target_vocab_size\), got 10"),
        (dict(max_length=0), r"max_length: expected an int >= 1, got 0"),
        (dict(length_penalty="gnmt"), r"length_penalty: expected a number, got 'gnmt'"),
    ],
)
def test_bad_decoding_arguments(kwargs, match):
    model = make("luong")
    source, lengths, _ = batch()
    with raises(match):
        model.beam_search(source, lengths, **kwargs)

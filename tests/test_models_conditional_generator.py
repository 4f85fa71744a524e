"""ConditionalGenerator (1→N): both condition modes, step-wise generation, errors, captioning."""

import pytest
import torch
from model_checks import (
    CELLS,
    assert_every_parameter_gets_gradient,
    random_lengths,
    single_thread,
    train,
)

from recur.data import (
    CAPTION_BOS,
    CAPTION_EOS,
    CAPTION_TOKENS,
    DIGIT_NAMES,
    decode_caption,
    digit_captions,
)
from recur.models.conditional_generator import CONDITIONS, ConditionalGenerator
from recur.models.pooling import masked_cross_entropy

VOCAB = 12


@pytest.fixture(autouse=True)
def _one_thread():
    with single_thread():
        yield


def tokens(batch=3, steps=5, seed=0):
    return torch.randint(0, VOCAB, (batch, steps), generator=torch.Generator().manual_seed(seed))


def model_for(condition, cell="lstm", **kwargs):
    torch.manual_seed(0)
    return ConditionalGenerator(
        VOCAB, 6, condition=condition, cell=cell, hidden_size=8, embedding_dim=4, **kwargs
    )


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("cell", CELLS)
def test_teacher_forced_logits_for_every_cell(condition, cell):
    model = model_for(condition, cell, num_layers=2)
    logits = model(torch.randn(3, 6), tokens(), torch.tensor([5, 2, 4]))
    assert logits.shape == (3, 5, VOCAB)


def test_first_sets_the_initial_state_of_every_layer():
    model = model_for("first", num_layers=2, proj_size=3)
    h0, c0 = model.initial_state(torch.randn(5, 6))
    assert h0.shape == (2, 5, 3) and c0.shape == (2, 5, 8)
    assert model.layer.input_size == 4  # the embedding only
    assert model_for("first", "gru").initial_state(torch.randn(5, 6)).shape == (1, 5, 8)
    assert model_for("every").initial_state(torch.randn(5, 6)) is None
    assert model_for("every").layer.input_size == 4 + 6  # embedding ; features


@pytest.mark.parametrize("condition", CONDITIONS)
def test_the_features_change_every_step(condition):
    model = model_for(condition)
    a = model(torch.randn(3, 6), tokens())
    b = model(torch.randn(3, 6), tokens())
    assert bool(((a - b).abs().amax(2) > 1e-4).all())


@pytest.mark.parametrize("condition", CONDITIONS)
def test_padding_never_changes_the_valid_steps(condition):
    model = model_for(condition, "gru", num_layers=2)
    features, ids, lengths = torch.randn(4, 6), tokens(4, 6), random_lengths(4, 6)
    batched = model(features, ids, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = model(features[b : b + 1], ids[b : b + 1, :n])
        torch.testing.assert_close(batched[b, :n], alone[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_gradients_reach_every_parameter(condition):
    model = model_for(condition, num_layers=2, dropout=0.1)
    lengths = torch.tensor([5, 3, 1])
    logits = model(torch.randn(3, 6), tokens(), lengths)
    loss = masked_cross_entropy(logits, tokens(seed=1), lengths)
    assert_every_parameter_gets_gradient(model, loss)


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("cell", ["lstm", "clockwork"])
def test_step_by_step_equals_the_sequence_call(condition, cell):
    model = model_for(condition, cell, num_layers=2)
    features, ids = torch.randn(3, 6), tokens(3, 7)
    state, logits = model.initial_state(features), []
    for t in range(7):
        logits_t, state = model.step(features, ids[:, t], state, t)
        logits.append(logits_t)
    torch.testing.assert_close(torch.stack(logits, 1), model(features, ids), rtol=0, atol=1e-5)


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("cell", ["lstm", "clockwork"])
def test_greedy_generation_steps_through_what_teacher_forcing_computes(condition, cell):
    """Feeding the generated ids back as teacher-forced inputs reproduces every greedy choice."""
    model = model_for(condition, cell, num_layers=2).eval()
    features = 3 * torch.randn(16, 6)
    ids, lengths = model.generate(features, max_len=6, bos=1, eos=0)
    assert int(lengths.max()) > 2
    inputs = torch.cat([torch.ones(16, 1, dtype=torch.long), ids[:, :-1]], dim=1)
    forced = model(features, inputs).argmax(2)
    for b, n in enumerate(lengths.tolist()):
        assert forced[b, :n].tolist() == ids[b, :n].tolist()


def test_generation_stops_at_eos_and_pads_with_it():
    model = model_for("first")
    with torch.no_grad():
        model.head.bias.fill_(0.0)
        model.head.bias[3] = 100.0  # every step says 3
    ids, lengths = model.generate(torch.randn(2, 6), max_len=5, bos=1, eos=3)
    assert ids.tolist() == [[3], [3]] and lengths.tolist() == [1, 1]
    ids, lengths = model.generate(torch.randn(2, 6), max_len=4, bos=1, eos=2)
    assert ids.tolist() == [[3] * 4] * 2 and lengths.tolist() == [4, 4]


def test_sampling_is_seeded_and_leaves_the_mode_alone():
    model = model_for("every").train()
    features = torch.randn(8, 6)
    a, _ = model.generate(features, max_len=6, bos=1, eos=2, temperature=1.5, seed=3)
    b, _ = model.generate(features, max_len=6, bos=1, eos=2, temperature=1.5, seed=3)
    c, _ = model.generate(features, max_len=6, bos=1, eos=2, temperature=1.5, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert model.training


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match=r"condition: expected one of \('first', 'every'\)"):
        ConditionalGenerator(VOCAB, 6, condition="init")
    with pytest.raises(ValueError, match=r"cell: expected one of \[.*\], got 'tree'"):
        ConditionalGenerator(VOCAB, 6, cell="tree")
    with pytest.raises(
        ValueError, match=r"bidirectional: set by the model itself; the layer options are"
    ):
        ConditionalGenerator(VOCAB, 6, bidirectional=True)
    model = model_for("first")
    with pytest.raises(ValueError, match=r"tokens: expected token ids in \[0, 12\)"):
        model(torch.randn(3, 6), torch.full((3, 2), VOCAB))
    with pytest.raises(ValueError, match=r"tokens: expected non-empty token ids"):
        model(torch.randn(3, 6), torch.zeros(3, 0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"features: expected shape \(3, 6\) .* got \(2, 6\)"):
        model(torch.randn(2, 6), tokens())
    with pytest.raises(ValueError, match=r"features: expected torch.float32"):
        model(torch.randn(3, 6, dtype=torch.float64), tokens())
    features = torch.randn(3, 6)
    for kwargs, match in [
        (dict(max_len=0), r"max_len: expected an int >= 1, got 0"),
        (dict(bos=VOCAB), r"bos: expected an id in \[0, 12\) \(vocab_size\), got 12"),
        (dict(eos=-1), r"eos: expected an id in \[0, 12\)"),
        (dict(temperature=-1.0), r"temperature: expected a number >= 0 \(0 = greedy\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            model.generate(features, **{"max_len": 4, "bos": 1, "eos": 2, **kwargs})
    with pytest.raises(ValueError, match=r"features: expected shape \(B, 6\)"):
        model.generate(torch.randn(3, 5), max_len=4, bos=1, eos=2)
    with pytest.raises(ValueError, match=r"features: expected a non-empty batch, got 0 rows"):
        model.generate(torch.randn(0, 6), max_len=4, bos=1, eos=2)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_captions_held_out_digits_with_their_names(condition):
    """8x8 digit → its English name, character by character; exact names (chance 0.1)."""
    torch.manual_seed(0)
    data, held_out = digit_captions(seed=0)
    model = ConditionalGenerator(
        len(CAPTION_TOKENS), 64, condition=condition, hidden_size=64, embedding_dim=16
    )
    batches = torch.randint(
        0, len(data.digits), (300, 128), generator=torch.Generator().manual_seed(0)
    )

    def batch_loss(step):
        rows = batches[step - 1]
        captions = data.tokens[rows]
        logits = model(data.features[rows], captions[:, :-1], data.lengths[rows])
        return masked_cross_entropy(logits, captions[:, 1:], data.lengths[rows])

    def exact_names():
        ids, _ = model.generate(held_out.features, max_len=8, bos=CAPTION_BOS, eos=CAPTION_EOS)
        names = [decode_caption(row) for row in ids]
        truth = [DIGIT_NAMES[d] for d in held_out.digits]
        return sum(a == b for a, b in zip(names, truth)) / len(truth)

    score, steps, seconds = train(
        model, batch_loss, 300, evaluate=exact_names, target=0.96, every=50
    )
    print(f"captions ({condition}): exact names {score:.3f} after {steps} steps in {seconds:.1f} s")
    assert score > 0.85

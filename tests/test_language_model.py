"""recur.models.language_model: shapes, carried state, tying, one-step generation, sampling."""

import pytest
import torch

from recur.layers.registry import LAYERS
from recur.models.language_model import LanguageModel, sample
from recur.state import detach_state

V = 11


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as `recur train` uses: two spin-wait badly on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny(cell="lstm", **kwargs):
    torch.manual_seed(0)
    return LanguageModel(V, cell=cell, hidden_size=8, **kwargs)


def test_shapes_and_state():
    model = tiny(num_layers=2, embedding_dim=5)
    logits, (h, c) = model(torch.randint(0, V, (3, 7)))
    assert logits.shape == (3, 7, V)
    assert h.shape == c.shape == (2, 3, 8)


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_carried_state_equals_one_long_call(cell):
    """Reading a text window by window, the state carried, gives the logits of one call."""
    model = tiny(cell, num_layers=2).eval()
    ids = torch.randint(0, V, (2, 16))
    whole, _ = model(ids)
    first, state = model(ids[:, :8])
    second, _ = model(ids[:, 8:], detach_state(state))
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_generation_steps_match_a_full_forward(cell):
    """Each generated token is sampled from the logits a full forward of the prefix would give,
    although the prefix is never re-read (Clockwork included: its schedule follows t)."""
    model = tiny(cell, num_layers=2)
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    seen = []
    model.step = _recording(model.step, seen)
    new = model.generate(prompt, 6, temperature=0)
    assert new.shape == (2, 6)
    assert len(seen) == 5  # one step per token after the first, the prompt read once
    full, _ = model(torch.cat([prompt, new], dim=1))
    torch.testing.assert_close(full[:, 2:-1].argmax(-1), new)


def _recording(step, seen):
    def wrapped(ids_t, state, t):
        seen.append(t)
        return step(ids_t, state, t)

    return wrapped


def test_weight_tying_shares_one_matrix_and_trains():
    model = LanguageModel(V, hidden_size=6, tie_weights=True)
    assert model.head.weight is model.embed.project.weight
    logits, _ = model(torch.randint(0, V, (2, 5)))
    logits.sum().backward()
    assert model.head.weight.grad is not None
    with pytest.raises(ValueError, match="tie_weights: needs embedding_dim"):
        LanguageModel(V, hidden_size=6, embedding_dim=4, tie_weights=True)


def test_gradients_reach_every_parameter():
    model = tiny("gru", num_layers=2, dropout=0.1)
    logits, _ = model(torch.randint(0, V, (2, 5)))
    logits.logsumexp(-1).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_generation_is_deterministic_per_seed_and_streams():
    model = tiny()
    prompt = torch.tensor([1, 2])
    streamed = []
    a = model.generate(prompt, 20, temperature=1.0, seed=3, callback=streamed.append)
    b = model.generate(prompt, 20, temperature=1.0, seed=3)
    c = model.generate(prompt, 20, temperature=1.0, seed=4)
    assert a.shape == (20,) and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.stack(streamed), a)
    assert [int(t) for t in model.stream(prompt, 20, temperature=1.0, seed=3)] == a.tolist()
    assert model.generate(prompt, 0).shape == (0,)


def test_sampling_filters():
    logits = torch.tensor([[0.0, 3.0, 2.9, -1.0]])
    gen = torch.Generator().manual_seed(0)
    draws = {int(sample(logits, 1.0, 2, None, gen)) for _ in range(200)}
    assert draws == {1, 2}  # top-k keeps the two most likely
    draws = {int(sample(logits, 1.0, None, 0.3, gen)) for _ in range(50)}
    assert draws == {1}  # the most likely token alone holds more than 30 %
    assert int(sample(logits, 0, None, None, gen)) == 1  # temperature 0 is greedy


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(prompt_ids=torch.tensor([V])), r"prompt_ids: expected ids in \[0, 11\)"),
        (dict(prompt_ids=torch.tensor([], dtype=torch.long)), r"prompt_ids: expected a non-empty"),
        (dict(prompt_ids=torch.tensor([1.0])), r"prompt_ids: expected integer"),
        (dict(temperature=-1.0), r"temperature: expected a number >= 0"),
        (dict(top_k=0), r"top_k: expected an int >= 1"),
        (dict(top_p=1.5), r"top_p: expected a number in \(0, 1\]"),
        (dict(max_new_tokens=-1), r"max_new_tokens: expected an int >= 0"),
    ],
)
def test_bad_generation_arguments(kwargs, match):
    args = dict(prompt_ids=torch.tensor([1]), max_new_tokens=3) | kwargs
    with pytest.raises(ValueError, match=match):
        tiny().generate(**args)


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="bidirectional: a language model reads left to right"):
        LanguageModel(V, bidirectional=True)
    with pytest.raises(ValueError, match="cell: expected one of"):
        LanguageModel(V, cell="transformer")
    with pytest.raises(ValueError, match="hidden_size: expected an int >= 1"):
        LanguageModel(V, hidden_size=0)
    with pytest.raises(ValueError, match="periods: not an option of the 'lstm' layer"):
        LanguageModel(V, periods=(1, 2))

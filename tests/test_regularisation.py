"""Regularisation inside the recurrence on every engine: fused == reference, gradcheck, native.

The reference engine (autograd through the cell's step and the zoneout blend) is the
specification; the Python fused engine and the native one are held to it in float64 for outputs
and every gradient with the same masks (each run starts from the same seed, see layer_checks),
for every cell, in training and in evaluation. The masks' own behaviour (rates, reproducibility,
evaluation) is in test_regularisation_masks.py.
"""

from __future__ import annotations

import copy

import pytest
import torch
from layer_checks import (
    MASK_SEED,
    as_layer_state,
    assert_fused_matches_reference,
    assert_step_matches_sequence,
    flat_outputs,
    fused_engines,
    gradcheck_layer,
    make_inputs,
    weighted_loss,
)

from recur.engine import native
from recur.layers.registry import LAYERS

DOUBLE = torch.float64
needs_native = pytest.mark.skipif(not native.load(), reason="the native engine did not build")

# Every cell and every option the kernels branch on.
CELLS = [
    ("lstm", {}),
    ("lstm", {"proj_size": 2}),
    ("peephole", {}),
    ("cifg", {}),
    ("lnlstm", {}),
    ("gru", {}),
    ("gru", {"reset_after": False}),
    ("rnn", {}),
    ("rnn", {"nonlinearity": "relu"}),
    ("clockwork", {"periods": (1, 2)}),
]
CELL_IDS = [f"{name}{''.join(f'-{v}' for v in kw.values())}" for name, kw in CELLS]
REGULARISERS = {
    "recurrent_dropout": {"recurrent_dropout": 0.4},
    "zoneout": {"zoneout": 0.3},
    "weight_drop": {"weight_drop": 0.4},
    "all": {"recurrent_dropout": 0.3, "zoneout": 0.2, "weight_drop": 0.3, "dropout": 0.2},
}
# (structure, lengths): unidirectional full length, bidirectional with padded sequences
STRUCTURES = [
    ({"num_layers": 2}, None),
    ({"num_layers": 2, "bidirectional": True}, [5, 3, 1]),
]
STRUCTURE_IDS = ["uni", "bi-lengths"]


def layer_kwargs(name, cell_kwargs, **more):
    return {"layer_cls": LAYERS[name], "input_size": 3, "hidden_size": 4, **cell_kwargs, **more}


@pytest.mark.parametrize(("structure", "lengths"), STRUCTURES, ids=STRUCTURE_IDS)
@pytest.mark.parametrize("regulariser", REGULARISERS)
@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=CELL_IDS)
def test_fused_matches_reference_in_training(name, kwargs, regulariser, structure, lengths):
    options = {**structure, **REGULARISERS[regulariser]}
    assert_fused_matches_reference(
        batch=3, steps=5, lengths=lengths, **layer_kwargs(name, kwargs, **options)
    )


@pytest.mark.parametrize(("structure", "lengths"), STRUCTURES, ids=STRUCTURE_IDS)
@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=CELL_IDS)
def test_fused_matches_reference_in_evaluation(name, kwargs, structure, lengths):
    """Evaluation: zoneout is the blend with p, in every engine; the dropouts are off."""
    options = {**structure, **REGULARISERS["all"]}
    assert_fused_matches_reference(
        batch=3, steps=5, lengths=lengths, training=False, **layer_kwargs(name, kwargs, **options)
    )


# gradcheck: each regulariser alone on the four required cells, all together on the others.
GRADCHECKS = [
    (name, {}, regulariser)
    for name in ("lstm", "gru", "rnn", "clockwork")
    for regulariser in ("recurrent_dropout", "zoneout", "weight_drop")
] + [
    ("lstm", {"proj_size": 2}, "all"),
    ("peephole", {}, "all"),
    ("cifg", {}, "all"),
    ("lnlstm", {}, "all"),
    ("gru", {"reset_after": False}, "all"),
    ("rnn", {"nonlinearity": "relu"}, "all"),
]
GRADCHECK_IDS = [
    f"{name}{''.join(f'-{v}' for v in kw.values())}-{regulariser}"
    for name, kw, regulariser in GRADCHECKS
]


@pytest.mark.parametrize("impl", fused_engines())
@pytest.mark.parametrize(("name", "kwargs", "regulariser"), GRADCHECKS, ids=GRADCHECK_IDS)
def test_gradcheck(name, kwargs, regulariser, impl):
    """Fixed masks (the same seed at every call): gradcheck w.r.t. input, state, parameters."""
    options = REGULARISERS[regulariser]
    gradcheck_layer(lengths=[4, 2], impl=impl, **layer_kwargs(name, kwargs, **options))


@pytest.mark.parametrize("impl", fused_engines())
@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_gradcheck_in_evaluation(name, impl):
    """Evaluation zoneout (the constant blend with p) has its own backward path."""
    options = {"zoneout": 0.3, "recurrent_dropout": 0.5, "weight_drop": 0.5}
    gradcheck_layer(impl=impl, training=False, **layer_kwargs(name, {}, **options))


@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=CELL_IDS)
def test_step_matches_sequence_in_evaluation(name, kwargs):
    """``step`` applies evaluation zoneout exactly as the sequence call does."""
    options = {"num_layers": 2, "zoneout": 0.3, "recurrent_dropout": 0.5, "weight_drop": 0.5}
    assert_step_matches_sequence(training=False, **layer_kwargs(name, kwargs, **options))


@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=CELL_IDS)
def test_step_in_training_draws_masks(name, kwargs):
    """In training ``step`` runs every regulariser (a call is a sequence of one step)."""
    layer = LAYERS[name](3, 4, num_layers=2, **kwargs, **REGULARISERS["all"])
    x = torch.randn(2, 3)
    torch.manual_seed(0)
    y, state = layer.step(x)
    torch.manual_seed(0)
    y_again, _ = layer.step(x)
    assert y.shape == (2, layer.cells[0].output_size)
    torch.testing.assert_close(y, y_again, rtol=0, atol=0)
    torch.manual_seed(1)
    assert not torch.equal(layer.step(x)[0], y)


@needs_native
@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=CELL_IDS)
def test_split_batch_matches_reference(name, kwargs):
    """A batch the native engine splits across threads, padded, every regulariser on."""
    torch.manual_seed(0)
    options = {"recurrent_dropout": 0.3, "zoneout": 0.2, "weight_drop": 0.3}
    native_layer = LAYERS[name](5, 48, dtype=DOUBLE, impl="native", **kwargs, **options)
    reference = copy.deepcopy(native_layer)
    reference.impl = "reference"
    x, state = make_inputs(native_layer, batch=32, steps=24)
    lengths = [24 - (i % 24) for i in range(32)]
    results = []
    for layer in (native_layer, reference):
        torch.manual_seed(MASK_SEED)
        out, final = layer(x, as_layer_state(state), lengths=lengths)
        outputs = flat_outputs(out, final)
        inputs = [x, *state, *layer.parameters()]
        results.append((outputs, torch.autograd.grad(weighted_loss(outputs), inputs)))
    for a, b in zip(*(outputs + grads for outputs, grads in results)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-8)


@pytest.mark.parametrize("impl", fused_engines())
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=CELL_IDS)
def test_inference_equals_training_forward(name, kwargs, training, impl):
    """Without autograd (the native kernels keep two steps of state): the same numbers.

    Bit for bit, except the layer-normalised LSTM on the native engine, whose input side
    inference forms in one fused pass (sums rounded in another order than torch's layer_norm).
    """
    torch.manual_seed(0)
    layer = LAYERS[name](3, 12, num_layers=2, impl=impl, **kwargs, **REGULARISERS["all"])
    layer.train(training)
    x = torch.randn(7, 3, 3, requires_grad=True)
    torch.manual_seed(MASK_SEED)
    trained = flat_outputs(*layer(x, lengths=[7, 4, 1]))
    torch.manual_seed(MASK_SEED)
    with torch.no_grad():
        inferred = flat_outputs(*layer(x, lengths=[7, 4, 1]))
    for a, b in zip(trained, inferred):
        if name == "lnlstm" and impl == "native":
            torch.testing.assert_close(a.detach(), b, rtol=1e-5, atol=1e-6)
        else:
            assert torch.equal(a, b)


@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=CELL_IDS)
def test_float32_matches_reference(name, kwargs):
    """The kernels' float32 instantiation, every regulariser on, against float64 autograd."""
    torch.manual_seed(0)
    options = {**REGULARISERS["all"], "dropout": 0.0}  # torch's dropout draws per dtype
    layer = LAYERS[name](3, 8, num_layers=2, bidirectional=True, **kwargs, **options)
    reference = copy.deepcopy(layer).double()
    reference.impl = "reference"
    x = torch.randn(6, 4, 3, requires_grad=True)
    results = []
    for model, inp in ((layer, x), (reference, x.double())):
        torch.manual_seed(MASK_SEED)
        outputs = [o.double() for o in flat_outputs(*model(inp, lengths=[6, 5, 3, 1]))]
        grads = torch.autograd.grad(weighted_loss(outputs), [x, *model.parameters()])
        results.append([t.double() for t in (*outputs, *grads)])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)  # float32 rounding

"""The native engine's second way to share a step between threads: by hidden units.

Large recurrent matrices run each step split by units (common.h, for_unit_slices: every thread
owns a range of units of every row, a barrier a step); the size rule picks it only for W_hh of
512 KiB to 4 MiB, so here RECUR_STEP_SPLIT=units forces it at small shapes, with 2 threads and
a hidden size (40) that splits unevenly (32 + 8 units). The kernels are held to the reference
engine in float64 (outputs and every gradient), to gradcheck, and to the batch-split path.
"""

from __future__ import annotations

import copy

import pytest
import torch
from layer_checks import (
    as_layer_state,
    assert_fused_matches_reference,
    flat_outputs,
    gradcheck_layer,
    make_inputs,
    weighted_loss,
)

from recur.engine import native
from recur.layers.registry import LAYERS

pytestmark = pytest.mark.skipif(not native.load(), reason="the native engine did not build")

CELLS = ["lstm", "peephole", "cifg"]
HIDDEN = 40
STRUCTURES = [
    ({"num_layers": 2}, None),
    ({"num_layers": 2, "bidirectional": True}, [5, 3, 1]),
]


@pytest.fixture
def split_by_units(monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.setenv("RECUR_STEP_SPLIT", "units")
    yield
    torch.set_num_threads(threads)


def layer_kwargs(name, **more):
    return {"layer_cls": LAYERS[name], "input_size": 3, "hidden_size": HIDDEN, **more}


@pytest.mark.parametrize("zoneout", [0.0, 0.3])
@pytest.mark.parametrize(("structure", "lengths"), STRUCTURES, ids=["uni", "bi-lengths"])
@pytest.mark.parametrize("name", CELLS)
def test_matches_reference(split_by_units, name, structure, lengths, zoneout):
    options = {**structure, "zoneout": zoneout}
    assert_fused_matches_reference(
        batch=3, steps=5, lengths=lengths, **layer_kwargs(name, **options)
    )


@pytest.mark.parametrize("name", CELLS)
def test_matches_reference_in_evaluation_with_zoneout(split_by_units, name):
    assert_fused_matches_reference(
        batch=3, steps=5, lengths=[5, 2, 4], training=False, **layer_kwargs(name, zoneout=0.3)
    )


@pytest.mark.parametrize("name", CELLS)
def test_gradcheck(split_by_units, name):
    gradcheck_layer(batch=2, steps=3, lengths=[3, 2], impl="native", **layer_kwargs(name))


@pytest.mark.parametrize("name", CELLS)
def test_units_equal_batch_slices(monkeypatch, name):
    """Both ways of splitting a step compute the same numbers (to rounding: the GEMMs differ)."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    layer = LAYERS[name](3, HIDDEN, dtype=torch.float64, impl="native")
    x, state = make_inputs(layer, batch=16, steps=6)
    results = []
    for split in ("batch", "units"):
        monkeypatch.setenv("RECUR_STEP_SPLIT", split)
        twin = copy.deepcopy(layer)
        outputs = flat_outputs(*twin(x, as_layer_state(state), lengths=[6, 5] * 8))
        grads = torch.autograd.grad(weighted_loss(outputs), [x, *state, *twin.parameters()])
        results.append(outputs + grads)
    torch.set_num_threads(threads)
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", CELLS)
def test_inference_equals_training(split_by_units, name):
    """Inference keeps two steps of state in rings: the same numbers, bit for bit."""
    torch.manual_seed(0)
    layer = LAYERS[name](3, HIDDEN, impl="native")
    x = torch.randn(7, 3, 3, requires_grad=True)
    trained = flat_outputs(*layer(x, lengths=[7, 4, 1]))
    with torch.no_grad():
        inferred = flat_outputs(*layer(x, lengths=[7, 4, 1]))
    for a, b in zip(trained, inferred):
        assert torch.equal(a, b)


def test_unknown_split_setting_is_named(monkeypatch):
    monkeypatch.setenv("RECUR_STEP_SPLIT", "rows")
    layer = LAYERS["lstm"](3, HIDDEN, impl="native")
    with pytest.raises(
        RuntimeError, match="RECUR_STEP_SPLIT must be auto, batch or units, got 'rows'"
    ):
        layer(torch.randn(2, 2, 3))

import pytest
import torch

import recur
from recur.layers.base import RecurrentLayer
from recur.layers.registry import LAYERS, make_layer


@pytest.mark.parametrize("cell", sorted(LAYERS))
def test_every_cell_builds_by_name_and_runs(cell):
    layer = make_layer(cell, 3, 8, num_layers=2, batch_first=True, bidirectional=True)
    output, _ = layer(torch.randn(2, 5, 3))
    assert output.shape == (2, 5, 16)
    assert type(layer).__name__ in recur.__all__


def test_registry_names_every_public_layer():
    public = {getattr(recur, n) for n in recur.__all__ if isinstance(getattr(recur, n), type)}
    assert set(LAYERS.values()) == {c for c in public if issubclass(c, RecurrentLayer)}


def test_unknown_cell_names_the_choices():
    with pytest.raises(ValueError, match=r"cell: expected one of \['cifg', .*\], got 'lstn'"):
        make_layer("lstn", 3, 4)

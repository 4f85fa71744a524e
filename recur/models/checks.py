"""Checks shared by the models: named choices and the options passed through to a layer."""

from __future__ import annotations

import inspect

from recur.layers.registry import layer_class

# set by the models themselves, so not accepted among the pass-through layer options
_OWNED_BY_MODEL = ("self", "input_size", "hidden_size", "batch_first", "device", "dtype")


def check_choice(name: str, value, choices: tuple) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming ``name`` and the choices."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def check_layer_kwargs(cell: str, layer_kwargs: dict, owned: tuple[str, ...] = ()) -> dict:
    """Keep ``layer_kwargs`` only if the layer of ``cell`` takes them (e.g. ``periods``, ``impl``).

    ``owned`` names further arguments the calling model sets itself (``num_layers`` ...).
    """
    owned = set(_OWNED_BY_MODEL) | set(owned)
    allowed = sorted(_named_arguments(layer_class(cell)) - owned)
    for key in layer_kwargs:
        if key in owned:
            reason = "set by the model itself"
        elif key not in allowed:
            reason = f"not an option of the {cell!r} layer"
        else:
            continue
        raise ValueError(f"{key}: {reason}; the layer options are {allowed}")
    return layer_kwargs


def _named_arguments(cls: type) -> set[str]:
    """The named arguments of ``cls.__init__``, following ``**options`` to the base classes'."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return names
    return names

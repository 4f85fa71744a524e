"""What every layer is held to: fused gradcheck, fused == reference, step == sequence.

Each helper takes a layer class and its keyword arguments, so a cell's test file is a list of
configurations rather than a copy of these loops. The fused checks run on every fused engine
this machine has (:func:`fused_engines`): the native one and the Python one. Every forward call
starts from ``torch.manual_seed(MASK_SEED)``, so the masks of the regularisers (and of
inter-layer dropout) repeat from engine to engine and from call to call.
"""

from __future__ import annotations

import copy

import torch

from recur.engine import native

DOUBLE = torch.float64
MASK_SEED = 1234


def fused_engines() -> tuple[str, ...]:
    """The hand-BPTT engines to hold to the reference: "native" where it builds, and "python"."""
    return ("native", "python") if native.load() else ("python",)


def make_inputs(layer, batch=3, steps=5, lengths=None, seed=0, with_state=True):
    """Random float64 input (batch-first if the layer is) and initial state, requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    shape = (
        (batch, steps, layer.input_size) if layer.batch_first else (steps, batch, layer.input_size)
    )
    x = torch.randn(shape, generator=gen, dtype=DOUBLE, requires_grad=True)
    state = None
    if with_state:
        count = layer.num_layers * layer.num_directions
        state = tuple(
            (0.5 * torch.randn(count, batch, size, generator=gen, dtype=DOUBLE)).requires_grad_()
            for size in layer.cells[0].state_sizes()
        )
    return x, state


def as_layer_state(state):
    return None if state is None else (state[0] if len(state) == 1 else state)


def flat_outputs(output, state):
    return (output,) + (state if isinstance(state, tuple) else (state,))


def weighted_loss(outputs, seed=1):
    """A loss whose gradient is different in every element (a plain sum would hide mistakes)."""
    gen = torch.Generator().manual_seed(seed)
    return sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outputs)


def reference_twin(layer, impl="reference"):
    twin = copy.deepcopy(layer)
    twin.impl = impl
    return twin


def assert_fused_matches_reference(
    layer_cls, batch=3, steps=5, lengths=None, tol=1e-8, training=True, **kwargs
):
    """Outputs and every gradient (input, initial state, each parameter) agree in float64.

    Checked for every engine of :func:`fused_engines` against the reference engine, in training
    mode or, with ``training=False``, in evaluation mode.
    """
    torch.manual_seed(0)
    layer = layer_cls(dtype=DOUBLE, **kwargs).train(training)
    x, state = make_inputs(layer, batch, steps)
    names = ["input"] + [f"state[{i}]" for i in range(len(state))]
    names += [n for n, _ in layer.named_parameters()]

    def run(impl):
        twin = reference_twin(layer, impl)
        torch.manual_seed(MASK_SEED)
        out, final = twin(x, as_layer_state(state), lengths=lengths)
        outputs = flat_outputs(out, final)
        inputs = [x, *state, *twin.parameters()]
        return outputs, torch.autograd.grad(weighted_loss(outputs), inputs, allow_unused=True)

    out_r, grad_r = run("reference")
    for impl in fused_engines():
        out_f, grad_f = run(impl)
        for a, b in zip(out_f, out_r):
            torch.testing.assert_close(a, b, rtol=0, atol=tol, msg=f"{impl} output")
        for name, a, b in zip(names, grad_f, grad_r):
            assert (a is None) == (b is None), name
            if a is not None:
                torch.testing.assert_close(
                    a, b, rtol=0, atol=tol, msg=f"{impl}: gradient of {name}"
                )


def gradcheck_layer(layer_cls, batch=2, steps=4, lengths=None, impl=None, training=True, **kwargs):
    """gradcheck of a fused engine (default: the first of :func:`fused_engines`) with respect to
    input, state and parameters.

    One engine is enough here: :func:`assert_fused_matches_reference` holds every fused engine's
    gradients to autograd's through the reference engine.
    """
    torch.manual_seed(0)
    layer = layer_cls(dtype=DOUBLE, impl=impl or fused_engines()[0], **kwargs).train(training)
    x, state = make_inputs(layer, batch, steps)
    params = list(layer.parameters())
    names = [n for n, _ in layer.named_parameters()]

    def run(x, *rest):
        state, values = rest[: len(state_sizes)], rest[len(state_sizes) :]
        replaced = dict(zip(names, values))
        torch.manual_seed(MASK_SEED)
        out, final = torch.func.functional_call(
            layer, replaced, (x, as_layer_state(state)), {"lengths": lengths}
        )
        return flat_outputs(out, final)

    state_sizes = state
    assert torch.autograd.gradcheck(run, (x, *state, *params), eps=1e-6, atol=1e-5)


def assert_step_matches_sequence(layer_cls, batch=3, steps=6, tol=1e-10, training=True, **kwargs):
    """Calling ``step`` T times gives the same outputs and final state as one sequence call."""
    torch.manual_seed(0)
    layer = layer_cls(dtype=DOUBLE, **kwargs).train(training)
    x, state = make_inputs(layer, batch, steps)
    sequence_out, sequence_final = layer(x, as_layer_state(state))
    time_major = x.transpose(0, 1) if layer.batch_first else x
    current = as_layer_state(state)
    outputs = []
    for t in range(steps):
        y, current = layer.step(time_major[t], current, t=t)
        outputs.append(y)
    stepped = torch.stack(outputs, dim=1 if layer.batch_first else 0)
    torch.testing.assert_close(stepped, sequence_out, rtol=0, atol=tol)
    for a, b in zip(
        flat_outputs(stepped, current)[1:], flat_outputs(sequence_out, sequence_final)[1:]
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=tol)

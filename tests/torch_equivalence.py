"""Ours == torch.nn: load torch's state_dict unchanged, compare outputs and every gradient."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def assert_matches_torch(ours_cls, torch_cls, batch=3, steps=5, packed=False, tol=1e-5, **kwargs):
    """float32: same outputs, final state and gradients of input, state and every parameter."""
    torch.manual_seed(0)
    theirs = torch_cls(**kwargs)
    ours = ours_cls(**kwargs)
    ours.load_state_dict(theirs.state_dict())
    input_size = kwargs["input_size"]
    batch_first = kwargs.get("batch_first", False)
    shape = (batch, steps, input_size) if batch_first else (steps, batch, input_size)
    x = torch.randn(shape, requires_grad=True)
    lengths = torch.tensor([steps] + [max(1, steps - 2 * i - 1) for i in range(1, batch)])
    lengths = lengths[torch.randperm(batch)]  # unsorted, to exercise the packing order
    results = []
    for layer in (theirs, ours):
        inp = pack_padded_sequence(x, lengths, batch_first, enforce_sorted=False) if packed else x
        out, state = layer(inp)
        if packed:
            out = pad_packed_sequence(out, batch_first)[0]
        outputs = (out,) + (state if isinstance(state, tuple) else (state,))
        gen = torch.Generator().manual_seed(1)
        loss = sum((o * torch.randn(o.shape, generator=gen)).sum() for o in outputs)
        grads = torch.autograd.grad(loss, [x, *layer.parameters()])
        results.append((outputs, grads, [n for n, _ in layer.named_parameters()]))
    (out_t, grad_t, names_t), (out_o, grad_o, names_o) = results
    assert names_t == names_o
    for a, b in zip(out_t, out_o):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol)
    for name, a, b in zip(["input", *names_t], grad_t, grad_o):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol, msg=f"gradient of {name}")

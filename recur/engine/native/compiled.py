"""The native engine under torch.compile: its kernels as custom operators Dynamo can trace.

The C++ operators (``torch.ops.recur_native.<family>_forward`` / ``_backward``) return lists with
undefined entries where a buffer is absent (no mask, no projection ...), which a traced graph
cannot hold, and their ``autograd.Function`` keeps Python state on ``ctx``. So while
torch.compile traces (``torch.compiler.is_compiling()``), :func:`recur.engine.native.run_native`
calls two Python custom operators instead, each a thin wrapper over the family's C++ kernel:

    recur::native_forward(family, xp, state0, params, has_param, valid, recurrent_mask,
                          zoneout_seed, zoneout, options, reals, training)
        -> [outputs (T, B, S_0), *final_state, *saved (only when training)]
    recur::native_backward(family, grads, state0, params, has_param, forward, valid,
                           recurrent_mask, zoneout_seed, zoneout, options, reals)
        -> [d_xp (T, B, G*H), *d_state0, *d_params]

where ``params`` holds the present parameters only and ``has_param`` says which of the kernel's
slots they fill (torch.library differentiates a list of tensors, not one holding None), absent
saved buffers are empty (0,) placeholders, each operator has a fake (meta) implementation
giving each output's shape from the inputs' (as the C++ headers document them), and the backward
registered as the forward's gradient (``torch.library.register_autograd``). Eager calls keep the
``autograd.Function`` path, untouched.
"""

from __future__ import annotations

import torch
from torch import Tensor

FORWARD = "recur::native_forward"
BACKWARD = "recur::native_backward"


def _all_params(params: list[Tensor], has_param: list[bool]) -> list[Tensor | None]:
    """The kernel's parameter list, None where ``has_param`` says a parameter is absent."""
    present = iter(params)
    return [next(present) if has else None for has in has_param]


def _saved_present(
    family: str,
    has_param: list[bool],
    valid: Tensor | None,
    recurrent_mask: Tensor | None,
    zoneout: float,
) -> list[bool]:
    """Which of the family's saved buffers the kernel returns (see csrc/<family>.cpp)."""
    masked, dropout, zone = valid is not None, recurrent_mask is not None, zoneout > 0
    if family == "lstm":  # gates, cs, hs, ms (projection), us
        return [True, True, masked, has_param[2], dropout]
    if family == "gru":  # gates, kept, hs, us
        return [True, True, masked, dropout]
    if family == "elman":  # hs, us, h_cand
        return [masked, dropout, zone]
    if family == "lnlstm":  # gates, r_hat, inv_sigma_r, cs, c_hat, inv_sigma_c, hs, us
        return [True] * 6 + [masked, dropout]
    raise ValueError(f"family: no native kernel family {family!r}")


def _saved_shapes(
    family: str, xp: Tensor, state0: list[Tensor], present: list[bool]
) -> list[tuple[int, ...] | None]:
    """Shapes of the saved buffers (None where absent), all over the T steps."""
    steps, batch, gh = xp.shape
    p = state0[0].shape[1]  # the size of h (the projection size with one)
    h = state0[-1].shape[1]  # the hidden size (c's for the LSTM family)
    if family == "lstm":
        shapes = [(gh,), (h,), (p,), (h,), (p,)]
    elif family == "gru":
        shapes = [(gh,), (h,), (h,), (h,)]
    elif family == "elman":
        shapes = [(h,), (h,), (h,)]
    else:
        shapes = [(gh,), (gh,), (), (h,), (h,), (), (h,), (h,)]
    return [(steps, batch, *s) if keep else None for s, keep in zip(shapes, present)]


def _placeholder(like: Tensor) -> Tensor:
    return like.new_empty(0)


@torch.library.custom_op(FORWARD, mutates_args=())
def native_forward(
    family: str,
    xp: Tensor,
    state0: list[Tensor],
    params: list[Tensor],
    has_param: list[bool],
    valid: Tensor | None,
    recurrent_mask: Tensor | None,
    zoneout_seed: Tensor | None,
    zoneout: float,
    options: list[int],
    reals: list[float],
    training: bool,
) -> list[Tensor]:
    kernel = getattr(torch.ops.recur_native, family + "_forward")
    result = kernel(
        xp,
        state0,
        _all_params(params, has_param),
        valid,
        recurrent_mask,
        zoneout_seed,
        zoneout,
        options,
        reals,
        training,
    )
    return [_placeholder(xp) if t is None else t for t in result]


@native_forward.register_fake
def _(family, xp, state0, params, has_param, valid, recurrent_mask, zoneout_seed, zoneout,
      options, reals, training):  # fmt: skip
    steps, batch = xp.shape[0], xp.shape[1]
    out = [xp.new_empty(steps, batch, state0[0].shape[1]), *(s.new_empty(s.shape) for s in state0)]
    if training:
        present = _saved_present(family, has_param, valid, recurrent_mask, zoneout)
        for shape in _saved_shapes(family, xp, state0, present):
            out.append(_placeholder(xp) if shape is None else xp.new_empty(shape))
    return out


@torch.library.custom_op(BACKWARD, mutates_args=())
def native_backward(
    family: str,
    grads: list[Tensor | None],
    state0: list[Tensor],
    params: list[Tensor],
    has_param: list[bool],
    forward: list[Tensor],
    valid: Tensor | None,
    recurrent_mask: Tensor | None,
    zoneout_seed: Tensor | None,
    zoneout: float,
    options: list[int],
    reals: list[float],
) -> list[Tensor]:
    present = _saved_present(family, has_param, valid, recurrent_mask, zoneout)
    forward = [forward[0], *(t if keep else None for t, keep in zip(forward[1:], present))]
    kernel = getattr(torch.ops.recur_native, family + "_backward")
    result = kernel(
        grads, state0, _all_params(params, has_param), forward, valid, recurrent_mask,
        zoneout_seed, zoneout, options, reals,
    )  # fmt: skip
    return [t for t in result if t is not None]  # d_xp, *d_state0, *d_params (present ones)


@native_backward.register_fake
def _(family, grads, state0, params, has_param, forward, valid, recurrent_mask, zoneout_seed,
      zoneout, options, reals):  # fmt: skip
    outputs, weight_hh = forward[0], params[0]
    d_xp = outputs.new_empty(outputs.shape[0], outputs.shape[1], weight_hh.shape[0])
    return [d_xp, *(t.new_empty(t.shape) for t in (*state0, *params))]


def _setup_context(ctx, inputs, output) -> None:
    family, xp, state0, params, has_param, valid, recurrent_mask, zoneout_seed = inputs[:8]
    zoneout, options, reals, training = inputs[8:12]
    n_state = len(state0)
    ctx.save_for_backward(
        *state0, *params, valid, recurrent_mask, zoneout_seed, output[0], *output[1 + n_state :]
    )
    ctx.family, ctx.has_param, ctx.zoneout, ctx.options, ctx.reals = (
        family, has_param, zoneout, options, reals,
    )  # fmt: skip
    ctx.n_state, ctx.n_params, ctx.training = n_state, len(params), training


def _backward(ctx, grads):
    if not ctx.training:
        raise RuntimeError(f"{FORWARD}: called with training=False, it saved nothing for backward")
    n_state, n_params = ctx.n_state, ctx.n_params
    saved = ctx.saved_tensors
    state0, params = list(saved[:n_state]), list(saved[n_state : n_state + n_params])
    valid, recurrent_mask, zoneout_seed = saved[n_state + n_params : n_state + n_params + 3]
    result = native_backward(
        ctx.family,
        list(grads[: 1 + n_state]),
        state0,
        params,
        ctx.has_param,
        list(saved[n_state + n_params + 3 :]),
        valid,
        recurrent_mask,
        zoneout_seed,
        ctx.zoneout,
        ctx.options,
        ctx.reals,
    )
    d_xp, d_state, d_params = result[0], result[1 : 1 + n_state], result[1 + n_state :]
    # One entry per input of native_forward, the non-tensor lists as torch.library flattens
    # them: a non-empty list of non-tensors is one leaf (None), an empty list stays a list.
    return (
        None, d_xp, d_state, d_params, None, None, None, None, None,
        *(None if value else [] for value in (ctx.options, ctx.reals)), None,
    )  # fmt: skip


native_forward.register_autograd(_backward, setup_context=_setup_context)

"""The built-in ops of a program, and how a net meets K samples: both back ends run these.

A built-in op is a function of the model and the tensors it reads whose body is one `return`:
the code generator prints that expression in place, so the op has one source.
"""

from __future__ import annotations

from collections.abc import Callable

from gaespec.errors import GraphError


def per_sample(net, *tensors):
    """`net` on K samples of a batch, (k b ...) → (k b ...): the samples folded into the batch
    (each output of a net that returns several)."""
    k = tensors[0].shape[0]
    # torch's flatten and unflatten, not einops: this runs on every step, several times
    out = net(*(t.flatten(0, 1) for t in tensors))  # (k b ...) -> ((k b) ...)
    if isinstance(out, tuple):
        return tuple(o.unflatten(0, (k, -1)) for o in out)  # ((k b) ...) -> (k b ...)
    return out.unflatten(0, (k, -1))


def rsample(model, q):
    """K reparameterised samples of the posterior q, (k b d), K = the model's `samples`."""
    return q.rsample(model.samples)


def prior_sample(model, like):
    """Samples of the prior, as many and shaped as `like` (k b d)."""
    return (
        model.prior()
        .sample(like[..., 0].numel(), device=like.device, dtype=like.dtype)
        .reshape(like.shape)
    )


def term_mean(model, values):
    """A term from its values for each sample (k b), computed once for it and a term that reads
    them: their mean, as the term's own call gives it."""
    return values.mean()


def differentiable(tensor):
    """`tensor`, or where no gradient reaches it (in evaluation) a copy that gradients start
    from: what a term that differentiates with respect to it needs."""
    return tensor if tensor.requires_grad else tensor.detach().requires_grad_()


BUILTIN_OPS: dict[str, Callable] = {
    "rsample": rsample,
    "prior_sample": prior_sample,
    "term_mean": term_mean,
}


def builtin_op(name: str) -> Callable:
    """The built-in op `name`."""
    if name not in BUILTIN_OPS:
        raise GraphError(f"internal: unknown built-in op '{name}'", choices=BUILTIN_OPS, name=name)
    return BUILTIN_OPS[name]

"""Adam's step without its per-step Python walk: torch's own fused kernel, called directly.

`torch.optim.Adam(fused=True).step()` spends some 90 µs a step on a CPU outside its kernel (the
walk over each weight's lazily made state, the hooks, the profiler record, the grouping by device
and dtype); on a small net that is 3–4% of a training step. `FusedAdamStep` makes the same
calls, `torch._foreach_add_` on the step counts and then `torch._fused_adam_` (or
`_fused_adamw_` for AdamW), with the same tensors and hyperparameters, so the weights and the
moments come out bit-equal (tests/training/test_fused_adam.py). It reads the optimiser's
param_groups and state at every step, so a scheduler's learning rate, a loaded state_dict and a
resumed run are seen as they are.

Wherever anything differs from that plain case it steps the optimiser the usual way, the same
update: another optimiser, amsgrad, capturable or differentiable Adam, a tensor learning rate or
tensor betas, weights on several devices or dtypes, a weight without a (dense) gradient this
step, state not made yet (the first step makes it), a gradient scaler's attributes, or any step
hook.
"""

from __future__ import annotations

import torch
from torch.optim import optimizer as optimizer_module

# the kernel by Adam's weight decay: L2 added to the gradient (Adam) or decoupled (AdamW)
KERNELS = {False: "_fused_adam_", True: "_fused_adamw_"}


def _plain(optimizer: torch.optim.Optimizer) -> bool:
    """Whether each group of `optimizer` is torch's fused Adam or AdamW in its plain form,
    over floating-point weights on one device in one dtype."""
    if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW):
        return False
    for group in optimizer.param_groups:
        params = group["params"]
        if not (
            group.get("fused")
            and not group.get("amsgrad")
            and not group.get("capturable")
            and not group.get("differentiable")
            and not torch.is_tensor(group["lr"])
            and not any(torch.is_tensor(b) for b in group["betas"])
            and hasattr(torch, KERNELS[bool(group.get("decoupled_weight_decay"))])
            and all(p.is_floating_point() and not p.is_complex() for p in params)
            and len({(p.device, p.dtype) for p in params}) <= 1
        ):
            return False
    return True


class FusedAdamStep:
    """`step()` of one optimiser: the fused kernel called directly where the optimiser is plain
    fused Adam or AdamW and nothing asks for more; else `optimizer.step()`."""

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.direct = _plain(optimizer)

    def __call__(self) -> None:
        optimizer = self.optimizer
        calls = self._calls() if self.direct else None
        if calls is None:
            optimizer.step()
            return
        with torch.no_grad():  # as Adam.step: the in-place update is not part of any graph
            for kernel, group, params, grads, exp_avgs, exp_avg_sqs, steps in calls:
                beta1, beta2 = group["betas"]
                torch._foreach_add_(steps, 1)
                kernel(
                    params,
                    grads,
                    exp_avgs,
                    exp_avg_sqs,
                    [],
                    steps,
                    amsgrad=False,
                    lr=group["lr"],
                    beta1=beta1,
                    beta2=beta2,
                    weight_decay=group["weight_decay"],
                    eps=group["eps"],
                    maximize=group["maximize"],
                    grad_scale=None,
                    found_inf=None,
                )

    def _calls(self) -> list[tuple] | None:
        """Each group's kernel and tensors for this step; None where the usual step is needed."""
        optimizer = self.optimizer
        if (
            optimizer._optimizer_step_pre_hooks
            or optimizer._optimizer_step_post_hooks
            or optimizer_module._global_optimizer_pre_hooks
            or optimizer_module._global_optimizer_post_hooks
            or getattr(optimizer, "grad_scale", None) is not None
            or getattr(optimizer, "found_inf", None) is not None
        ):
            return None
        calls = []
        for group in optimizer.param_groups:
            params = group["params"]
            grads = [p.grad for p in params]
            states = [optimizer.state.get(p) for p in params]
            if any(g is None or g.is_sparse for g in grads) or any(
                not s or "step" not in s for s in states
            ):
                return None
            kernel = getattr(torch, KERNELS[bool(group.get("decoupled_weight_decay"))])
            calls.append(
                (
                    kernel,
                    group,
                    params,
                    grads,
                    [s["exp_avg"] for s in states],
                    [s["exp_avg_sq"] for s in states],
                    [s["step"] for s in states],
                )
            )
        return calls

"""Several configs of one architecture at once, for any ``torch.nn.Module``, with torch.func.

The members' parameters and buffers are stacked along a new first axis
(``torch.func.stack_module_state``); one forward of the whole stack is
``vmap(functional_call(...))`` over that axis, and one ``torch.optim`` optimizer steps the
stacked tensors. Adam and SGD act elementwise, so each member's slice moves exactly as
it would alone; the members' penalties, proximal L1 and decoupled decay are per-member
tensors along the same axis (decoupled decay is applied before an Adam step, which is
what ``torch.optim.AdamW`` does, so one optimizer serves members with different decay
rates).

* **Batches**: each member draws its batch order from its own seed, as alone; when the
  orders agree (same seed) one batch serves every member, otherwise each member indexes
  its own rows.
* **Batch norm**: running statistics are stacked buffers; each member's slice is updated
  in place from its own activations (checked against a member trained alone).
* **Early stopping**: a member whose callbacks stop it leaves the stack (its optimizer
  state is sliced away), its callbacks restore its best weights, and the others go on.
* **Dropout** draws with ``vmap(randomness="different")`` from one generator seeded from
  the members' seeds: every member gets its own masks and a seed gives the same numbers
  every time, but the masks are not those of the same member trained alone. Without
  dropout (or any other random layer) a stacked member ends where it would alone, within
  float rounding.

:func:`plan_stacks` decides which members stack (see its docstring for the policy); the
others train one after the other in :mod:`regulab.training._generic`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from regulab.penalties import penalized_weights
from regulab.training._common import (
    Member,
    _finish,
    _MemberRun,
    _seeds,
    end_stack_epoch,
    fit_result,
)
from regulab.training._history import FitResult
from regulab.training._metrics import member_metrics
from regulab.training._progress import Progress
from regulab.training._stack import (
    OptimizerSpec,
    add_coupled_gradient_,
    optimizer_prox_,
    penalty_terms,
)

__all__ = ["StackPlan", "plan_stacks", "module_signature", "train_stacked", "STACK_CHOICES"]

STACK_CHOICES = ("auto", True, False)

#: ``stack="auto"`` on the CPU stacks a group when one member's forward of a batch takes at
#: most this many multiply-adds: the work where per-operation overhead, which stacking
#: shares, still outweighs the arithmetic. From rough timings of 4 members on a busy 2-core
#: machine, one thread (in turn / stacked): 1.5-2.1x at 13k-470k, 0.9-1.0x at 0.98M-1.35M,
#: 0.73x at 1.3M with Dropout2d, 0.95x for the seed MLP (3.5M) and the built-in CNN.
CPU_STACK_MAX_MACS = 500_000


def _plain(value: Any) -> Any:
    """A comparable stand-in for one attribute of a module (identity for other objects)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, torch.Tensor) and value.numel() <= 1024:
        return ("tensor", tuple(value.shape), str(value.dtype), tuple(value.flatten().tolist()))
    return ("object", id(value))


def module_signature(model: nn.Module) -> tuple[Any, ...]:
    """What must agree for modules to share one forward: class, submodules and their plain
    attributes (dropout rates, kernel sizes, batch-norm momentum...), parameter and buffer
    names, shapes and dtypes.

    Examples
    --------
    >>> a, b = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.1)), nn.Linear(2, 3)
    >>> module_signature(a) == module_signature(nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.1)))
    True
    >>> module_signature(a) == module_signature(nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.2)))
    False
    """
    parts: list[Any] = []
    for name, module in model.named_modules():
        attributes = sorted(
            (key, _plain(value))
            for key, value in vars(module).items()
            if not key.startswith("_") and key != "training"
        )
        parts.append((name, type(module), tuple(attributes)))
    parts += [
        (name, tuple(p.shape), p.dtype, p.requires_grad) for name, p in model.named_parameters()
    ]
    parts += [(name, tuple(b.shape), b.dtype) for name, b in model.named_buffers()]
    return tuple(parts)


def _macs(model: nn.Module, sample: torch.Tensor) -> int:
    """Multiply-adds of one forward of one sample: the weights of ``Linear`` layers and the
    weights times output positions of convolutions (hooks on one eval-mode forward)."""
    total = 0

    def count(module: nn.Module, _: Any, output: torch.Tensor) -> None:
        nonlocal total
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and isinstance(output, torch.Tensor):
            if isinstance(module, nn.modules.conv._ConvNd):
                total += weight.numel() * output[0, 0].numel()
            elif isinstance(module, nn.Linear):
                total += weight.numel()

    hooks = [m.register_forward_hook(count) for m in model.modules()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(sample[:1])
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total


@dataclass(frozen=True)
class StackPlan:
    """Which members train together: ``groups`` of member indices, each with whether it
    trains as one torch.func stack and the sentence saying why."""

    groups: list[tuple[list[int], bool, str]]

    @property
    def note(self) -> str:
        """The groups' sentences, joined."""
        return " ".join(reason for _, _, reason in self.groups)


def plan_stacks(
    models: Sequence[nn.Module],
    device: torch.device,
    stack: str | bool,
    sample: torch.Tensor,
    batch_size: int,
) -> StackPlan:
    """Group ``models`` by :func:`module_signature` and decide, per group, stack or in turn.

    The policy is deterministic (no timing probe: dropout masks differ between the two
    paths, so the path must not flip between runs):

    * ``stack=False``: every member in turn. ``stack=True``: every group of two or more
      that runs under ``vmap`` stacks.
    * ``stack="auto"``: on CUDA every such group stacks (one launch per operation for the
      whole group); on the CPU a group stacks when one member's step is small,
      ``batch_size`` times the forward's multiply-adds at most :data:`CPU_STACK_MAX_MACS`,
      since larger steps are dominated by arithmetic that stacking does not save.
    * Either way a group stacks only when its forward runs under ``torch.func.vmap``
      (checked on two rows of ``sample``, on copies: nothing is trained).

    Examples
    --------
    >>> nets = [nn.Linear(4, 2), nn.Linear(4, 2), nn.Linear(4, 3)]
    >>> plan = plan_stacks(nets, torch.device("cpu"), "auto", torch.zeros(8, 4), 32)
    >>> [(indices, stacked) for indices, stacked, _ in plan.groups]
    [([0, 1], True), ([2], False)]
    >>> plan.groups[0][2]
    "2 Linear members train together as one torch.func stack (stack='auto' on cpu)."

    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, model in enumerate(models):
        groups.setdefault(module_signature(model), []).append(index)
    planned = []
    for indices in groups.values():
        stacked, reason = _decide([models[i] for i in indices], device, stack, sample, batch_size)
        planned.append((indices, stacked, reason))
    return StackPlan(planned)


def _decide(
    models: Sequence[nn.Module],
    device: torch.device,
    stack: str | bool,
    sample: torch.Tensor,
    batch_size: int,
) -> tuple[bool, str]:
    name, count = type(models[0]).__name__, len(models)
    alone = f"{count} {name} member{'s' if count > 1 else ''} train one after the other"
    if count == 1:
        return False, f"1 {name} member trains alone (no other of its architecture)."
    if stack is False:
        return False, f"{alone} (stack=False)."
    if stack == "auto" and device.type != "cuda":
        macs = _macs(models[0], sample) * batch_size
        if macs > CPU_STACK_MAX_MACS:
            return False, (
                f"{alone}: on the CPU a step of {macs:,} multiply-adds (batch {batch_size}) is "
                f"above the {CPU_STACK_MAX_MACS:,} up to which stacking pays."
            )
    failure = _vmap_failure(models[0], sample)
    if failure:
        return False, f"{alone}: their forward does not run under torch.func.vmap ({failure})."
    why = "stack=True" if stack is True else f"stack='auto' on {device.type}"
    return True, f"{count} {name} members train together as one torch.func stack ({why})."


def _vmap_failure(model: nn.Module, sample: torch.Tensor) -> str:
    """'' when a two-member stack of copies of ``model`` runs forward and backward under
    ``vmap`` on two rows of ``sample`` per member, else the error's first line."""
    copies = [copy.deepcopy(model) for _ in range(2)]
    params, buffers = stack_module_state(copies)
    base = copy.deepcopy(model).to("meta")
    base.train()
    forward = _forward(base)
    try:
        with torch.random.fork_rng(devices=[sample.device] if sample.is_cuda else []):
            rows = sample[:2].unsqueeze(0).expand(2, *sample[:2].shape)  # a batch per member
            scores = vmap(forward, randomness="different")(params, buffers, rows)
            scores.float().sum().backward()
    except Exception as error:  # the user's forward: any failure means "not under vmap"
        text = str(error).splitlines()[0] if str(error) else ""
        return f"{type(error).__name__}: {text}"
    return ""


def _forward(base: nn.Module) -> Callable[..., torch.Tensor]:
    def forward(
        params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], x: torch.Tensor
    ) -> torch.Tensor:
        return functional_call(base, (params, buffers), (x,))

    return forward


def _stacked_coefficient(values: Sequence[float | torch.Tensor], like: torch.Tensor) -> Any:
    """Per-member coefficients (floats or tensors broadcasting against one member's tensor)
    as one ``(members, ...)`` tensor broadcasting against the stacked tensor ``like``;
    None when every member's is zero."""
    if not any(isinstance(v, torch.Tensor) or v != 0.0 for v in values):
        return None
    ndim = like.ndim - 1
    tensors = [
        torch.as_tensor(v, dtype=like.dtype, device=like.device).reshape(
            (1,) * ndim if not isinstance(v, torch.Tensor) else v.shape
        )
        for v in values
    ]
    shape = torch.broadcast_shapes(*(t.shape for t in tensors))
    return torch.stack([t.expand(shape) for t in tensors])


class _Stack:
    """The stacked parameters, buffers, optimizer and penalty coefficients of the members
    still training."""

    def __init__(
        self, models: Sequence[nn.Module], penalized: Sequence[Any], spec: OptimizerSpec
    ) -> None:
        self.spec = spec
        self.base = copy.deepcopy(models[0]).to("meta")
        self.forward = _forward(self.base)
        params, self.buffers = stack_module_state(list(models))
        trainable = {name: p.requires_grad for name, p in models[0].named_parameters()}
        self.params = {
            name: value.detach().requires_grad_(trainable[name]) for name, value in params.items()
        }
        self.keys = list(models[0].state_dict())
        self.weight_names = [name for name, _ in penalized_weights(models[0])]
        self.grouped: dict[str, list[dict[str, Any]]] = {}  # group-lasso parts per tensor
        self.coefficients: dict[str, dict[str, Any]] = {}
        for name, stacked in self.params.items():
            per_member = [_member_coefficients(p, name, m) for p, m in zip(penalized, models)]
            # one part of coefficients per kind of L1: element-wise (groups None), then one per
            # distinct grouping; members of another part have 0 there
            groupings = dict.fromkeys(c.get("groups") for c in per_member)
            parts = []
            for groups in [None, *(g for g in groupings if g is not None)]:
                own = [c if c.get("groups") == groups else {} for c in per_member]
                part: dict[str, Any] = {
                    kind: _stacked_coefficient([c.get(kind, 0.0) for c in own], stacked)
                    for kind in ("l1", "prox_l1")
                }
                part = {k: v for k, v in part.items() if v is not None}
                parts.append({**part, "groups": groups} if groups is not None and part else part)
            coefs = {
                kind: _stacked_coefficient([c.get(kind, 0.0) for c in per_member], stacked)
                for kind in ("l2", "decay")
            }
            self.coefficients[name] = {
                **parts[0],
                **{k: v for k, v in coefs.items() if v is not None},
            }
            self.grouped[name] = [part for part in parts[1:] if part]
        self.optimizer = self._optimizer()
        self.steps = 0

    def _optimizer(self) -> torch.optim.Optimizer:
        params = [p for p in self.params.values() if p.requires_grad]
        if self.spec.name == "sgd":
            return torch.optim.SGD(params, lr=self.spec.lr, momentum=self.spec.momentum)
        return torch.optim.Adam(params, lr=self.spec.lr, betas=self.spec.betas, eps=self.spec.eps)

    @property
    def members(self) -> int:
        return len(next(iter(self.params.values())))

    def losses(self, xb: torch.Tensor, yb: torch.Tensor, shared: bool, loss: Callable) -> Any:
        """Each member's mean loss on its batch, in training mode: ``(members,)``."""

        def member_loss(params: Any, buffers: Any, x: torch.Tensor, y: torch.Tensor) -> Any:
            return loss(self.forward(params, buffers, x), y)

        axis = None if shared else 0
        return vmap(member_loss, in_dims=(0, 0, axis, axis), randomness="different")(
            self.params, self.buffers, xb, yb
        )

    @torch.no_grad()
    def scores(self, X: torch.Tensor, chunk: int) -> torch.Tensor:
        """Eval-mode scores ``(members, n, outputs)``."""
        self.base.eval()
        forward = vmap(self.forward, in_dims=(0, 0, None))
        rows = range(0, len(X), chunk)
        parts = [forward(self.params, self.buffers, X[i : i + chunk]) for i in rows]
        self.base.train()
        scores = torch.cat(parts, dim=1)
        return scores.reshape(self.members, len(X), -1)

    def step(self, batch_losses: torch.Tensor) -> None:
        """Backward of the summed losses, penalty gradients, decay, optimizer step, prox."""
        self.optimizer.zero_grad()
        batch_losses.sum().backward()
        with torch.no_grad():
            for name, p in self.params.items():
                coefs = self.coefficients[name]
                if "l1" in coefs or "l2" in coefs:
                    add_coupled_gradient_(p, coefs)
                for part in self.grouped[name]:
                    if "l1" in part:
                        add_coupled_gradient_(p, part)
                if "decay" in coefs:
                    p.mul_(1.0 - self.spec.lr * coefs["decay"])
        self.optimizer.step()
        self.steps += 1
        with torch.no_grad():
            for name, p in self.params.items():
                for part in [self.coefficients[name], *self.grouped[name]]:
                    prox = part.get("prox_l1")
                    if prox is not None:
                        groups = part.get("groups")
                        optimizer_prox_(self.optimizer, p, self.spec, self.steps, prox, groups)

    @torch.no_grad()
    def penalty_values(self) -> list[float]:
        """Each member's penalty term, proximal L1 included."""
        total = torch.zeros(self.members, dtype=torch.float64)
        for name, p in self.params.items():
            for part in [self.coefficients[name], *self.grouped[name]]:
                for term in penalty_terms(p, part):
                    total += term.flatten(1).sum(1).double().cpu()
        return total.tolist()

    @torch.no_grad()
    def zero_shares(self) -> list[float]:
        """Each member's share of exactly-zero penalized weights."""
        weights = [self.params[name] for name in self.weight_names]
        count = sum(w[0].numel() for w in weights)
        if not count:
            return [0.0] * self.members
        zeros = sum((w == 0).flatten(1).sum(1) for w in weights)
        return (zeros.double() / count).tolist()  # type: ignore[union-attr]

    def _tensor(self, key: str) -> torch.Tensor:
        return self.params[key] if key in self.params else self.buffers[key]

    def member_state(self, position: int) -> dict[str, Any]:
        """A detached copy of member ``position``'s state dict."""
        return {key: self._tensor(key)[position].detach().clone() for key in self.keys}

    @torch.no_grad()
    def load_member(self, position: int, state: dict[str, Any]) -> None:
        for key in self.keys:
            self._tensor(key)[position].copy_(state[key])

    def keep(self, positions: Sequence[int]) -> None:
        """Drop every member not listed (stopped ones), keeping the others' optimizer state."""
        index = torch.tensor(list(positions), device=next(iter(self.params.values())).device)
        old_state = {name: self.optimizer.state.get(p, {}) for name, p in self.params.items()}
        members = self.members
        self.params = {
            name: p.detach().index_select(0, index).requires_grad_(p.requires_grad)
            for name, p in self.params.items()
        }
        self.buffers = {name: b.index_select(0, index) for name, b in self.buffers.items()}
        parts = [*self.coefficients.values(), *(p for ps in self.grouped.values() for p in ps)]
        for coefs in parts:
            for kind, value in coefs.items():
                if kind != "groups":
                    coefs[kind] = value.index_select(0, index)
        self.optimizer = self._optimizer()
        for name, p in self.params.items():
            if old_state[name]:
                self.optimizer.state[p] = {
                    key: value.index_select(0, index)
                    if isinstance(value, torch.Tensor) and value.ndim and len(value) == members
                    else value
                    for key, value in old_state[name].items()
                }


def _member_coefficients(penalized: Any, name: str, model: nn.Module) -> dict[str, Any]:
    """What the parameter ``name`` of ``model`` receives from its ``_Penalized``."""
    target = dict(model.named_parameters())[name]
    for p, coefs, decay in penalized.entries:
        if p is target:
            return {**coefs, "decay": decay}
    return {}


def train_stacked(
    members: Sequence[Member],
    penalized: Sequence[Any],
    kind: str,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None],
    spec: OptimizerSpec,
    epochs: int,
    batch_size: int,
    device: torch.device,
    verbose: int,
    feature_names: Callable[[nn.Module], Sequence[str] | None],
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    available: list[str],
    chunk: int,
) -> list[FitResult]:
    """Train ``members`` (modules of one signature, already on ``device``) as one stack.

    ``penalized`` holds each member's ``_Penalized``; ``feature_names`` gives the names to
    report sparsity over for a trained model; ``loss`` is one member's batch loss.
    """
    X, y, X_val, y_val = data
    stack = _Stack([m.model for m in members], penalized, spec)
    seeds = [_seeds(member.seed) for member in members]
    shufflers = [torch.Generator().manual_seed(shuffle) for shuffle, _ in seeds]
    dropout_seed = int(np.random.SeedSequence([d for _, d in seeds]).generate_state(1)[0])
    runs = [_MemberRun(available, stack, k) for k in range(len(members))]
    for member, run in zip(members, runs):
        for callback in member.callbacks:
            callback.on_train_begin(run)
    has_norm = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in stack.base.modules())
    active = list(range(len(members)))
    progress = Progress(epochs, len(members), verbose)
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(dropout_seed)
        for epoch in range(1, epochs + 1):
            epoch_start = time.perf_counter()
            perms = [torch.randperm(len(X), generator=shufflers[k]) for k in active]
            shared = all(torch.equal(perms[0], p) for p in perms[1:])
            order = (perms[0] if shared else torch.stack(perms)).to(device)
            batch_losses: list[torch.Tensor] = []
            for start in range(0, len(X), batch_size):
                index = order[..., start : start + batch_size]
                if has_norm and index.shape[-1] < 2:
                    continue  # batch norm needs two samples; PyTorch raises on one
                losses = stack.losses(X[index], y[index], shared, loss)
                stack.step(losses)
                batch_losses.append(losses.detach())
            train_loss = (
                torch.stack(batch_losses).mean(0).tolist()
                if batch_losses
                else [math.nan] * len(active)
            )
            val = None
            if X_val is not None and y_val is not None:
                val = member_metrics(stack.scores(X_val, chunk), y_val, kind)
            penalty, zero_share = stack.penalty_values(), stack.zero_shares()
            seconds = time.perf_counter() - epoch_start
            stopped = end_stack_epoch(
                runs,
                members,
                active,
                epoch,
                epochs,
                (train_loss, val, penalty, zero_share),
                seconds,
            )
            progress.update(
                epoch, [runs[k].history[-1] for k in active], len(active) - len(stopped)
            )
            for k in stopped:
                _finish(runs[k], members[k], epochs)
            active = [k for k in active if k not in stopped]
            if not active:
                break
            if stopped:
                stack.keep([runs[k].position for k in active])
                for position, k in enumerate(active):
                    runs[k].position = position
    progress.close()
    total = time.perf_counter() - started
    results = []
    for member, run in zip(members, runs):
        assert run.final_state is not None
        member.model.load_state_dict(run.final_state)
        member.model.eval()
        results.append(fit_result(run, member, member.model, total, feature_names(member.model)))
    return results

"""Several MLPs of one architecture trained as one stacked model.

All parameters of all members live in one flat buffer; each layer is a view of shape
``(members, ...)`` and is computed with one batched matmul. Gradients land in a second flat
buffer, so zeroing, Adam and SGD are a handful of whole-buffer operations instead of a loop
over tensors. Penalty gradients are added in closed form after the backward pass (no extra
autograd nodes); proximal L1 and decoupled decay are applied after the optimizer step.

Every member keeps its own random streams (shuffle order, dropout masks), so a member
trained inside a stack follows exactly the path it follows alone.

The arithmetic is PyTorch's: layers as ``torch.nn.Linear``, ``BatchNorm1d`` (momentum 0.1,
eps 1e-5, unbiased running variance, ``num_batches_tracked``) and inverted ``Dropout``;
optimizers as ``torch.optim.Adam``, ``AdamW`` (decay on weight matrices only) and ``SGD``
with momentum. ``tests/test_reference.py`` checks each against PyTorch step by step.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.optim.adam import adam as functional_adam

from regulab._groups import FeatureGroups, group_direction, prox_group_l1_
from regulab.models import ACTIVATIONS, MLP, Architecture
from regulab.penalties import LayerCoefficients, prox_l1_

__all__ = [
    "StackedMLP",
    "OptimizerSpec",
    "prox_threshold",
    "add_coupled_gradient_",
    "l1_direction",
    "l1_magnitude",
    "prox_step_",
    "optimizer_prox_",
    "penalty_terms",
]

_BN_EPS = 1e-5
_BN_MOMENTUM = 0.1


@dataclass(frozen=True)
class OptimizerSpec:
    """Optimizer shared by a stack: name (adam, adamw, sgd), learning rate and momentum."""

    name: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


@dataclass
class _Slot:
    name: str  # the MLP state-dict key
    shape: tuple[int, ...]  # per-member shape in the stack layout
    kind: str  # "weight", "bias", "norm"
    layer: int  # linear index for weight/bias, hidden index for norm


@functools.cache
def fused_adam_available(device: torch.device | str) -> bool:
    """Whether torch.optim's fused Adam kernel runs on ``device``'s type (CPU and CUDA in
    current torch); a feature test, so a torch without it falls back to the foreach Adam.

    Examples
    --------
    >>> isinstance(fused_adam_available("cpu"), bool)
    True
    """
    kind = torch.device(device).type
    p, g = torch.zeros(1, device=kind), torch.ones(1, device=kind)
    try:
        functional_adam(
            [p],
            [g],
            [torch.zeros_like(p)],
            [torch.zeros_like(p)],
            [],
            [torch.zeros((), device=kind)],
            fused=True,
            lr=1e-3,
            beta1=0.9,
            beta2=0.999,
            weight_decay=0.0,
            eps=1e-8,
            amsgrad=False,
            maximize=False,
        )
    except (RuntimeError, NotImplementedError):
        return False
    return True


def _member_entry(coefficients: LayerCoefficients, device: torch.device) -> dict[str, Any]:
    """The non-zero coefficients of one member on one tensor: floats, or ``(rows, 1)``
    tensors for per-input factors (the stacked weight layout is ``(inputs, outputs)``)."""
    entry: dict[str, Any] = {}
    for name in ("l1", "l2", "prox_l1", "decay"):
        value = getattr(coefficients, name)
        if isinstance(value, torch.Tensor):
            if bool(value.abs().sum() > 0):
                entry[name] = value.float().reshape(-1, 1).to(device)
        elif value:
            entry[name] = float(value)
    if coefficients.groups is not None and ("l1" in entry or "prox_l1" in entry):
        entry["groups"] = coefficients.groups.to(device)
    return entry


_FEW_OUTPUTS = 16


def l1_direction(p: torch.Tensor, groups: FeatureGroups | None, axis: int = -1) -> torch.Tensor:
    """The L1 subgradient per unit strength: ``sign(w)``, or with ``groups`` (a grouped
    first layer, inputs on ``axis``) the group term's ``sqrt(|g|) * W[h, g] / ||W[h, g]||``.

    Examples
    --------
    >>> l1_direction(torch.tensor([[3.0, -4.0]]), None)
    tensor([[ 1., -1.]])
    >>> l1_direction(torch.tensor([[3.0, -4.0]]), FeatureGroups([0, 0]))
    tensor([[ 0.8485, -1.1314]])
    """
    return p.sign() if groups is None else group_direction(p, groups, axis)


def l1_magnitude(p: torch.Tensor, groups: FeatureGroups | None, axis: int = -1) -> torch.Tensor:
    """What each weight adds to the L1 term per unit strength: ``|w|``, or with ``groups``
    its share ``w * l1_direction`` of its block's ``sqrt(|g|) * ||W[h, g]||``."""
    return p.abs() if groups is None else p * group_direction(p, groups, axis)


def prox_step_(
    p: torch.Tensor,
    threshold: float | torch.Tensor,
    groups: FeatureGroups | None,
    axis: int = -1,
) -> None:
    """The proximal L1 step: :func:`~regulab.penalties.prox_l1_`, or with ``groups`` the
    group soft-threshold :func:`~regulab.penalties.prox_group_l1_` (inputs on ``axis``)."""
    if groups is None:
        prox_l1_(p, threshold)
    else:
        prox_group_l1_(p, threshold, groups, axis)


@torch.no_grad()
def add_coupled_gradient_(p: torch.Tensor, coefs: dict[str, Any]) -> None:
    """Add the closed-form gradient of the coupled penalties in ``coefs`` to ``p.grad``:
    ``l1 * sign(w)`` (the group subgradient :func:`l1_direction` when ``coefs`` holds
    ``groups``: inputs on the last axis) and ``2 * l2 * w`` (strengths a float, or a tensor
    that broadcasts against ``p``: per row, per member). The generic and torch.func paths
    share it.

    Examples
    --------
    >>> w = torch.tensor([-2.0, 0.0, 3.0])
    >>> add_coupled_gradient_(w, {"l1": 0.5, "l2": 0.1})
    >>> [round(g, 4) for g in w.grad.tolist()]
    [-0.9, 0.0, 1.1]
    """
    if p.grad is None:
        p.grad = torch.zeros_like(p)
    if "l1" in coefs:
        p.grad.add_(l1_direction(p, coefs.get("groups")) * coefs["l1"])
    if "l2" in coefs:
        p.grad.add_(p * coefs["l2"], alpha=2.0)


def prox_threshold(
    spec: OptimizerSpec,
    steps: int,
    l1: float | torch.Tensor,
    second_moment: torch.Tensor | None = None,
) -> float | torch.Tensor:
    """The soft-threshold of proximal L1 after optimizer step number ``steps``.

    ``l1`` is in the units of the loss's gradient (loss per unit of ``|w|``), as for the
    subgradient L1; the threshold is in weight units: ``l1`` times the distance the
    optimizer moves a weight per unit of a gradient it has received since the start.

    * SGD with momentum ``mu``: the heavy ball's buffer sums ``1 + mu + ... + mu**(t-1)``
      copies of a constant gradient, so the step is ``lr * (1 - mu**t) / (1 - mu)``
      (``lr`` without momentum, ``lr / (1 - mu)`` in the long run).
    * Adam and AdamW: the step divides by ``sqrt(v_hat) + eps``, per weight, so the
      threshold is ``lr * l1 / (sqrt(v_hat) + eps)``, with ``v_hat`` the bias-corrected
      second moment (``second_moment`` is Adam's uncorrected buffer). A weight that never
      received a gradient is zeroed at once.

    Either way a weight settles at zero exactly where ``|dL/dw| <= l1``, the lasso's
    optimality condition, as with the subgradient method on the same optimizer.

    Examples
    --------
    >>> prox_threshold(OptimizerSpec("sgd", lr=0.1, momentum=0.5), 2, 1e-2)
    0.0015000000000000002
    """
    if spec.name == "sgd":
        mu = spec.momentum
        step = spec.lr * (1.0 - mu**steps) / (1.0 - mu) if mu else spec.lr
        return l1 * step
    assert second_moment is not None, "Adam's threshold needs its second moment"
    bias2_sqrt = math.sqrt(1.0 - spec.betas[1] ** steps)
    scale = second_moment.sqrt().div_(bias2_sqrt).add_(spec.eps)
    return scale.reciprocal_().mul_(l1 * spec.lr)


def optimizer_prox_(
    optimizer: torch.optim.Optimizer,
    p: torch.Tensor,
    spec: OptimizerSpec,
    steps: int,
    l1: float | torch.Tensor,
    groups: FeatureGroups | None,
) -> None:
    """:func:`prox_step_` on ``p``, a parameter of the torch ``optimizer``, after its step
    number ``steps``, by the threshold of :func:`prox_threshold` (Adam's second moment from
    the optimizer's state: zero for a weight that has not had a gradient yet)."""
    moment = None
    if spec.name != "sgd":
        moment = optimizer.state.get(p, {}).get("exp_avg_sq", torch.zeros_like(p))
    prox_step_(p, prox_threshold(spec, steps, l1, moment), groups)


def penalty_terms(p: torch.Tensor, coefs: dict[str, Any]) -> Iterator[torch.Tensor]:
    """Each penalty of ``coefs`` on ``p`` (``l1``, ``l2``, ``prox_l1``), weight by weight:
    ``l2 * w**2`` or ``l1 * l1_magnitude(w)`` (with ``coefs["groups"]``, the group norm's
    share); their sum over the weights is the penalty term.

    Examples
    --------
    >>> [float(t.sum()) for t in penalty_terms(torch.tensor([1.0, -2.0]), {"l2": 0.5, "l1": 1.0})]
    [3.0, 2.5]
    """
    for kind in ("l1", "l2", "prox_l1"):
        if kind in coefs:
            term = p.pow(2) if kind == "l2" else l1_magnitude(p, coefs.get("groups"))
            yield term * coefs[kind]


class _StackedLinear(torch.autograd.Function):
    """``bias + h @ weight`` for every member; the weight gradient goes straight into the
    stack's gradient buffer.

    Writing the weight gradient into ``weight_grad`` (the weight's slot of the flat gradient
    buffer) replaces autograd's allocate-then-accumulate, two passes over every weight per
    step. Autograd's own ``bmm`` backward computes it as ``h^T @ grad``; with few outputs
    and long batches that GEMM is badly shaped (MNIST logistic regression, 8192 x 784 x 10:
    25 ms per step), while ``(grad^T @ h)^T`` gives the same numbers from a well-shaped GEMM
    (3.8 ms there). Landing transposed costs more than it saves on wide layers, so that form
    is used for layers of at most :data:`_FEW_OUTPUTS` outputs only.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        h: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        weight_grad: torch.Tensor,
    ) -> torch.Tensor:
        ctx.save_for_backward(h, weight)
        ctx.has_bias = bias is not None
        ctx.weight_grad = weight_grad
        return torch.bmm(h, weight) if bias is None else torch.baddbmm(bias, h, weight)

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, None, torch.Tensor | None, None]:
        h, weight = ctx.saved_tensors
        grad_h = torch.bmm(grad, weight.transpose(1, 2)) if ctx.needs_input_grad[0] else None
        if weight.shape[2] <= _FEW_OUTPUTS:
            ctx.weight_grad.copy_(torch.bmm(grad.transpose(1, 2), h).transpose(1, 2))
        else:
            torch.bmm(h.transpose(1, 2), grad, out=ctx.weight_grad)
        grad_bias = grad.sum(1, keepdim=True) if ctx.has_bias else None
        return grad_h, None, grad_bias, None


class StackedMLP:
    """K members of one :class:`Architecture` with per-member penalties, rates and seeds."""

    def __init__(
        self,
        architecture: Architecture,
        models: Sequence[MLP],
        coefficients: Sequence[tuple[list[LayerCoefficients], LayerCoefficients]],
        dropout_seeds: Sequence[int],
        optimizer: OptimizerSpec,
        device: torch.device,
    ) -> None:
        self.arch = architecture
        self.device = device
        self.optimizer = optimizer
        self.slots = self._layout()
        self._slot_index = {slot.name: i for i, slot in enumerate(self.slots)}
        members = len(models)
        self.members = members
        self.param_flat = torch.empty(members * self._numel_per_member(), device=device)
        self.grad_flat = torch.zeros_like(self.param_flat)
        self.params = self._views(self.param_flat)
        grads = self._views(self.grad_flat)
        for param, grad in zip(self.params, grads):
            param.requires_grad_(True)
            param.grad = grad
        self.state = [torch.zeros_like(self.param_flat) for _ in range(self._n_state())]
        self.running: dict[int, list[torch.Tensor]] = {}
        self.batches_tracked = [0] * members  # at load, less the batches normalized since
        self.norm_batches = 0  # training batches through batch norm since construction
        for k, model in enumerate(models):
            self.load_member(k, model.state_dict())
        self.steps = 0
        self.step_count = torch.zeros((), device=device)
        self.fused_adam = fused_adam_available(device)
        self._set_dropout_rates([[m.input_dropout, *m.dropout_rates] for m in models])
        self.generators = []
        for seed in dropout_seeds:
            gen = torch.Generator(device=device)
            gen.manual_seed(seed)
            self.generators.append(gen)
        self.member_coefs = [
            [
                _member_entry(layers[slot.layer] if slot.kind == "weight" else others, device)
                for slot in self.slots
            ]
            for layers, others in coefficients
        ]
        self._index_penalties()
        self.activation = ACTIVATIONS[architecture.activation]()

    # -- layout -----------------------------------------------------------------------------
    def _layout(self) -> list[_Slot]:
        sizes = self.arch.sizes
        slots = []
        for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            slots.append(_Slot(f"linears.{layer}.weight", (n_in, n_out), "weight", layer))
            if layer not in self.arch.batchnorm:  # batch norm's shift replaces the bias
                slots.append(_Slot(f"linears.{layer}.bias", (1, n_out), "bias", layer))
        for hidden in self.arch.batchnorm:
            width = sizes[hidden + 1]
            slots.append(_Slot(f"norms.{hidden}.weight", (1, width), "norm", hidden))
            slots.append(_Slot(f"norms.{hidden}.bias", (1, width), "norm", hidden))
        return slots

    def _numel_per_member(self) -> int:
        return sum(math.prod(slot.shape) for slot in self.slots)

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        views, offset = [], 0
        for slot in self.slots:
            count = self.members * math.prod(slot.shape)
            views.append(flat[offset : offset + count].view(self.members, *slot.shape))
            offset += count
        return views

    def _n_state(self) -> int:
        return 2 if self.optimizer.name in ("adam", "adamw") else 1

    def _index_penalties(self) -> None:
        """(slot, member, coefficients) for every penalized member tensor, and views."""
        self.penalized = [
            (slot, k, entry)
            for k, per_slot in enumerate(self.member_coefs)
            for slot, entry in enumerate(per_slot)
            if entry
        ]
        self.grads = self._views(self.grad_flat)
        self.state_views = [self._views(buffer) for buffer in self.state]
        self.decayed = [(slot, k, e["decay"]) for slot, k, e in self.penalized if "decay" in e]
        self.proximal = [
            (slot, k, e["prox_l1"], e.get("groups"))
            for slot, k, e in self.penalized
            if "prox_l1" in e
        ]

    # -- members in and out -----------------------------------------------------------------
    @torch.no_grad()
    def load_member(self, k: int, state: dict[str, torch.Tensor]) -> None:
        """Write an MLP state dict into member ``k``."""
        for slot, param in zip(self.slots, self.params):
            value = state[slot.name].to(self.device, torch.float32)
            param[k].copy_(value.t() if slot.kind == "weight" else value.view(1, -1))
        for hidden in self.arch.batchnorm:
            if hidden not in self.running:
                width = self.arch.sizes[hidden + 1]
                self.running[hidden] = [
                    torch.zeros(self.members, 1, width, device=self.device),
                    torch.ones(self.members, 1, width, device=self.device),
                ]
            mean, var = self.running[hidden]
            mean[k].copy_(state[f"norms.{hidden}.running_mean"].view(1, -1))
            var[k].copy_(state[f"norms.{hidden}.running_var"].view(1, -1))
            tracked = int(state[f"norms.{hidden}.num_batches_tracked"])
            self.batches_tracked[k] = tracked - self.norm_batches

    @torch.no_grad()
    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Detached copy of member ``k`` as an MLP state dict (on the CPU)."""
        state: dict[str, torch.Tensor] = {}
        for slot, param in zip(self.slots, self.params):
            value = param[k].t() if slot.kind == "weight" else param[k].reshape(-1)
            state[slot.name] = value.detach().cpu().clone()
        for hidden, (mean, var) in self.running.items():
            state[f"norms.{hidden}.running_mean"] = mean[k].reshape(-1).cpu().clone()
            state[f"norms.{hidden}.running_var"] = var[k].reshape(-1).cpu().clone()
            tracked = self.batches_tracked[k] + self.norm_batches
            state[f"norms.{hidden}.num_batches_tracked"] = torch.tensor(tracked)
        return state

    @torch.no_grad()
    def optimizer_state(self, k: int) -> list[torch.Tensor]:
        """Copies (on the CPU) of member ``k``'s optimizer buffers: Adam's two moments or
        SGD's momentum, each flattened in slot order."""
        return [
            torch.cat([view[k].reshape(-1) for view in views]).cpu() for views in self.state_views
        ]

    @torch.no_grad()
    def load_optimizer_state(self, k: int, buffers: Sequence[torch.Tensor], steps: int) -> None:
        """Write what :meth:`optimizer_state` returned into member ``k`` and set the step
        count (shared by the stack: members resumed together must have taken as many)."""
        for views, flat in zip(self.state_views, buffers):
            offset = 0
            for view in views:
                count = view[k].numel()
                view[k].copy_(flat[offset : offset + count].view_as(view[k]))
                offset += count
        self.steps = int(steps)
        self.step_count.fill_(float(steps))

    @torch.no_grad()
    def keep(self, members: Sequence[int]) -> None:
        """Drop every member not listed (stopped ones), keeping optimizer state and RNGs."""
        index = torch.tensor(list(members), device=self.device)

        def select(flat: torch.Tensor) -> torch.Tensor:
            return torch.cat([v.index_select(0, index).reshape(-1) for v in self._views(flat)])

        new_params = select(self.param_flat)
        new_state = [select(buffer) for buffer in self.state]
        self.members = len(members)
        self.param_flat = new_params
        self.grad_flat = torch.zeros_like(new_params)
        self.state = new_state
        self.params = self._views(self.param_flat)
        for param, grad in zip(self.params, self._views(self.grad_flat)):
            param.requires_grad_(True)
            param.grad = grad
        for hidden, buffers in self.running.items():
            self.running[hidden] = [b.index_select(0, index) for b in buffers]
        self.batches_tracked = [self.batches_tracked[i] for i in members]
        self._set_dropout_rates([self.member_rates[i] for i in members])
        self.generators = [self.generators[i] for i in members]
        self.member_coefs = [self.member_coefs[i] for i in members]
        self._index_penalties()

    # -- forward ----------------------------------------------------------------------------
    def _set_dropout_rates(self, member_rates: list[list[float]]) -> None:
        """Per member ``[input rate, hidden rates...]``; cache what every step needs."""
        self.member_rates = member_rates
        by_layer = list(zip(*member_rates))  # position 0: inputs, 1..: hidden layers
        self._drop_layers = [any(rate > 0 for rate in rates) for rates in by_layer]
        self._drop_rates = [list(rates) for rates in by_layer]
        self._drop_tensors = [
            (
                torch.tensor(rates, device=self.device).view(-1, 1, 1),
                torch.tensor([1.0 / (1.0 - r) for r in rates], device=self.device).view(-1, 1, 1),
            )
            for rates in by_layer
        ]

    def _dropout(self, h: torch.Tensor, position: int) -> torch.Tensor:
        """Inverted dropout with each member's own rate and random stream.

        One uniform draw per member (4x cheaper than ``bernoulli_`` on CPU); a unit is kept
        where its draw is at least the member's rate, then scaled by ``1 / (1 - rate)``.
        """
        mask = torch.empty_like(h)
        for k, (gen, rate) in enumerate(zip(self.generators, self._drop_rates[position])):
            if rate > 0.0:
                mask[k].uniform_(generator=gen)
            else:
                mask[k].fill_(1.0)
        rates, scales = self._drop_tensors[position]
        return h * mask.ge_(rates).mul_(scales)

    def _batchnorm(
        self, hidden: int, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, train: bool
    ) -> torch.Tensor:
        running_mean, running_var = self.running[hidden]
        if train:
            mean = h.mean(1, keepdim=True)
            var = h.var(1, unbiased=False, keepdim=True)
            with torch.no_grad():
                n = h.shape[1]
                running_mean.lerp_(mean, _BN_MOMENTUM)
                running_var.lerp_(var * (n / max(n - 1, 1)), _BN_MOMENTUM)
        else:
            mean, var = running_mean, running_var
        return (h - mean) * torch.rsqrt(var + _BN_EPS) * weight + bias

    def forward(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        """Scores (K, B, outputs) for inputs (B, features) shared by all, or (K, B, features)."""
        h = x if x.dim() == 3 else x.unsqueeze(0).expand(self.members, *x.shape)
        if train and self._drop_layers[0]:
            h = self._dropout(h, 0)
        if train and self.running:
            self.norm_batches += 1
        index, params = self._slot_index, self.params
        last = len(self.arch.sizes) - 2
        for layer in range(last + 1):
            w = index[f"linears.{layer}.weight"]
            b = index.get(f"linears.{layer}.bias")
            bias = None if b is None else params[b]
            h = _StackedLinear.apply(h, params[w], bias, self.grads[w])
            if layer == last:
                break
            if layer in self.running:
                h = self._batchnorm(
                    layer,
                    h,
                    params[index[f"norms.{layer}.weight"]],
                    params[index[f"norms.{layer}.bias"]],
                    train,
                )
            h = self.activation(h)
            if train and self._drop_layers[layer + 1]:
                h = self._dropout(h, layer + 1)
        return h

    @torch.no_grad()
    def predict(self, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
        """Eval-mode scores (K, N, outputs), in chunks of rows."""
        parts = [self.forward(x[i : i + chunk], train=False) for i in range(0, len(x), chunk)]
        return torch.cat(parts, dim=1)

    # -- penalties and optimizer ------------------------------------------------------------
    @torch.no_grad()
    def add_penalty_gradients(self) -> None:
        """Add the closed-form gradient of the coupled L1/L2 terms, member by member (only
        penalized members pay for it); a grouped first layer gets the group subgradient."""
        for slot, k, entry in self.penalized:
            weight, grad = self.params[slot][k], self.grads[slot][k]
            l1, l2 = entry.get("l1"), entry.get("l2")
            if l1 is not None:  # weights are (inputs, outputs) here: inputs on axis 0
                direction = l1_direction(weight, entry.get("groups"), axis=0)
                if isinstance(l1, torch.Tensor):  # per-input factors: (inputs, 1)
                    grad.addcmul_(direction, l1)
                else:
                    grad.add_(direction, alpha=l1)
            if l2 is not None:
                if isinstance(l2, torch.Tensor):
                    grad.addcmul_(weight, l2, value=2.0)
                else:
                    grad.add_(weight, alpha=2.0 * l2)

    def _adam(self) -> None:
        spec = self.optimizer
        beta1, beta2 = spec.betas
        exp_avg, exp_avg_sq = self.state
        # torch.optim's public functional Adam on the one flat buffer: one fused kernel for
        # every member where the device has it, the multi-tensor (foreach) loop elsewhere. It
        # advances ``step_count`` itself.
        functional_adam(
            [self.param_flat],
            [self.grad_flat],
            [exp_avg],
            [exp_avg_sq],
            [],
            [self.step_count],
            foreach=not self.fused_adam,
            fused=self.fused_adam,
            lr=spec.lr,
            beta1=beta1,
            beta2=beta2,
            weight_decay=0.0,
            eps=spec.eps,
            amsgrad=False,
            maximize=False,
        )

    @torch.no_grad()
    def optimizer_step(self) -> None:
        """Decoupled decay, one optimizer step on the flat buffer, then proximal L1.

        Decay comes first, as in ``torch.optim.AdamW``; Adam runs as one fused kernel over
        all members. The proximal threshold is :func:`prox_threshold`'s: the L1 strength
        times the optimizer's step per unit of gradient, so a proximal L1 strength selects
        the same weights as the same subgradient L1 would, whatever the optimizer.
        """
        spec = self.optimizer
        for slot, k, decay in self.decayed:
            self.params[slot][k].mul_(1.0 - spec.lr * decay)
        self.steps += 1
        adam = spec.name in ("adam", "adamw")
        if adam:
            self._adam()
        else:
            (momentum_buffer,) = self.state
            if self.steps == 1:
                momentum_buffer.copy_(self.grad_flat)
            else:
                momentum_buffer.mul_(spec.momentum).add_(self.grad_flat)
            self.param_flat.add_(momentum_buffer, alpha=-spec.lr)
        for slot, k, l1, groups in self.proximal:
            second = self.state_views[1][slot][k] if adam else None
            threshold = prox_threshold(spec, self.steps, l1, second)
            prox_step_(self.params[slot][k], threshold, groups, axis=0)

    @torch.no_grad()
    def penalty_values(self) -> torch.Tensor:
        """The penalty term of each member (K,), proximal L1 included."""
        total = torch.zeros(self.members, device=self.device)
        for slot, k, entry in self.penalized:
            weight = self.params[slot][k]
            for name, power in (("l1", 1), ("prox_l1", 1), ("l2", 2)):
                if name in entry:
                    groups = entry.get("groups")
                    term = l1_magnitude(weight, groups, 0) if power == 1 else weight.pow(2)
                    total[k] += (term * entry[name]).sum()
        return total

    @torch.no_grad()
    def weight_sparsity(self) -> torch.Tensor:
        """Share of exactly-zero weight-matrix entries per member (K,)."""
        zeros = torch.zeros(self.members, device=self.device)
        count = 0
        for slot, param in zip(self.slots, self.params):
            if slot.kind == "weight":
                zeros += (param == 0).flatten(1).sum(1)
                count += math.prod(slot.shape)
        return zeros / count

    def zero_grad(self) -> None:
        """Clear the gradient buffer."""
        self.grad_flat.zero_()

"""The convex problem in Regulab's semantics: data loss, penalty, gradients and KKT violation.

A linear model has weights ``W`` of shape ``(K, p)`` (``nn.Linear``'s layout) and intercepts
``b`` of shape ``(K,)``; scores are ``X @ W.T + b``. The objective is the trainer's mean data
loss plus ``l1 * sum(|W|) + l2 * sum(W ** 2)``; intercepts are not penalized:

============== ===== ====================================================================
task           K     mean data loss
============== ===== ====================================================================
multiclass     C     cross-entropy of the softmax over the C scores (``F.cross_entropy``)
binary         1     ``F.binary_cross_entropy_with_logits`` on one logit, labels 0/1
regression     C     squared error averaged over rows and target columns (``F.mse_loss``)
============== ===== ====================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F

from regulab._groups import FeatureGroups, group_term
from regulab.errors import DataError, InvalidParameterError
from regulab.solvers._groups import block_violation, column_excess, scaled_max

TASKS = ("multiclass", "binary", "regression")


def check_task(task: str) -> str:
    """Return ``task`` if it is one of :data:`TASKS`."""
    if task not in TASKS:
        raise InvalidParameterError(
            f"The 'task' parameter of the linear solvers must be one of {', '.join(TASKS)}. "
            f"Got {task!r} instead."
        )
    return task


class Standardized(NamedTuple):
    """The columns of ``X`` centered and divided by their standard deviation: ``Z``, with
    ``mean`` and ``scale`` (0 for a constant column, whose ``Z`` column is zero)."""

    Z: torch.Tensor
    mean: torch.Tensor
    scale: torch.Tensor

    def columns(self, keep: torch.Tensor) -> Standardized:
        return Standardized(self.Z[:, keep], self.mean[keep], self.scale[keep])


@dataclass
class Problem:
    """Data and strengths of one fit, as tensors on one device and dtype.

    ``targets`` holds class indices (multiclass), 0/1 floats (binary) or an ``(n, K)`` float
    table (regression). ``col_mean`` and ``col_scale`` (length ``p``, optional) say the
    columns of ``X`` were centered by ``col_mean`` and divided by ``col_scale``, so a weight here
    is ``col_scale`` times the original one: the penalties are ``l1 * |W / col_scale|`` and
    ``l2 * (W / col_scale) ** 2``, and :meth:`violation` measures the KKT conditions of the
    original problem (the intercepts are unpenalized, so the two problems are one).
    ``groups`` (optional) turns the L1 term into the group lasso of :mod:`._groups`; group
    problems are never rescaled (a column's scale is not a change of variables there).
    ``standard`` caches :meth:`standardized` (a path standardizes once, not at every step).
    """

    X: torch.Tensor
    targets: torch.Tensor
    task: str
    n_outputs: int
    l1: float = 0.0
    l2: float = 0.0
    col_mean: torch.Tensor | None = None
    col_scale: torch.Tensor | None = None
    groups: FeatureGroups | None = None
    standard: Standardized | None = field(default=None, repr=False, compare=False)

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def size(self) -> int:
        """Number of unknowns: ``K * p`` weights and ``K`` intercepts."""
        return self.n_outputs * (self.n_features + 1)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Views ``(W, b)`` of a flat parameter vector."""
        cut = self.n_outputs * self.n_features
        return x[:cut].view(self.n_outputs, self.n_features), x[cut:]

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        W, b = self.split(x)
        return torch.addmm(b, self.X, W.T)

    def loss_and_residual(self, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean data loss and its gradient with respect to the scores."""
        n = scores.shape[0]
        if self.task == "multiclass":
            log_p = torch.log_softmax(scores, dim=1)
            picked = log_p.gather(1, self.targets.unsqueeze(1))
            residual = log_p.exp_().scatter_add_(
                1, self.targets.unsqueeze(1), -torch.ones_like(picked)
            )
            return -picked.mean(), residual / n
        if self.task == "binary":
            z = scores[:, 0]
            loss = F.binary_cross_entropy_with_logits(z, self.targets)
            return loss, ((torch.sigmoid(z) - self.targets) / n).unsqueeze(1)
        diff = scores - self.targets
        return diff.pow(2).mean(), diff * (2.0 / diff.numel())

    def original_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The weights ``W`` in the original units (``W / col_scale``)."""
        W = self.split(x)[0]
        return W if self.col_scale is None else W / self.col_scale

    def smooth(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Data loss plus the L2 term, and its gradient (flat, like ``x``)."""
        loss, residual = self.loss_and_residual(self.scores(x))
        grad_W = residual.T @ self.X
        if self.l2:
            W = self.original_weights(x)
            scaled = W if self.col_scale is None else W / self.col_scale
            grad_W = grad_W + (2.0 * self.l2) * scaled
            loss = loss + self.l2 * W.pow(2).sum()
        return float(loss), torch.cat([grad_W.reshape(-1), residual.sum(0)])

    def l1_term(self, x: torch.Tensor) -> float:
        if not self.l1:
            return 0.0
        W = self.original_weights(x)
        total = W.abs().sum() if self.groups is None else group_term(W, 1.0, self.groups, 1)
        return self.l1 * float(total)

    def objective(self, x: torch.Tensor) -> float:
        """The full objective: mean data loss + L1 + L2."""
        return self.smooth(x)[0] + self.l1_term(x)

    def pseudo_gradient(self, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """Minimum-norm subgradient of the objective (zero exactly at the optimum)."""
        if not self.l1:
            return grad
        cut = self.n_outputs * self.n_features
        return torch.cat([_shrink(x[:cut], grad[:cut], self.weight_l1()), grad[cut:]])

    def weight_l1(self, dtype: torch.dtype | None = None) -> torch.Tensor | float:
        """The L1 strength of each weight here, flat like ``W``: ``l1``, or ``l1 / col_scale``
        of the weight's column on rescaled columns (computed in ``dtype``, default the
        problem's)."""
        if self.col_scale is None:
            return self.l1
        return (self.l1 / self.col_scale.to(dtype)).repeat(self.n_outputs)

    def violation(self, x: torch.Tensor, grad: torch.Tensor) -> float:
        """Largest KKT violation of the original problem at ``x``, whose gradient is ``grad``
        (per weight, or per block with groups: see :mod:`._groups`)."""
        cut = self.n_outputs * self.n_features
        g_b = grad[cut:]
        g_W = grad[:cut].view(self.n_outputs, self.n_features)
        if self.col_scale is not None:
            g_W = g_W * self.col_scale
        if self.col_mean is not None:
            g_W = g_W + torch.outer(g_b, self.col_mean)  # the gradient in the original columns
        W = self.original_weights(x)
        if self.groups is not None:
            pg = block_violation(W, g_W, self.l1, self.groups)
        else:
            pg = _shrink(W, g_W, self.l1) if self.l1 else g_W
        return float(torch.cat([pg.reshape(-1), g_b]).abs().max())

    def excess(self, grad_W: torch.Tensor, level: float) -> torch.Tensor:
        """Per column: how far its (block) gradient exceeds ``level`` (times ``sqrt|g|``),
        the largest over the outputs; positive where zero weights break the KKT conditions
        at ``l1 = level``."""
        if self.groups is None:
            return (grad_W.abs() - level).max(0).values
        return column_excess(grad_W, level, self.groups)

    def l1_max(self) -> float:
        """The smallest ``l1`` whose optimum has every weight zero."""
        grad_W = self.split(self.smooth(self.intercept_only())[1])[0]
        if self.groups is None:
            return float(grad_W.abs().max())
        return scaled_max(grad_W, self.groups)

    def columns(self, keep: torch.Tensor) -> Problem:
        """The same problem on the columns ``keep`` (unscaled problems only)."""
        groups = None if self.groups is None else self.groups.columns(keep)
        standard = None if self.standard is None else self.standard.columns(keep)
        return replace(self, X=self.X[:, keep], groups=groups, standard=standard)

    def rows(self, index: torch.Tensor) -> Problem:
        """The same problem on the rows ``index``."""
        return replace(self, X=self.X[index], targets=self.targets[index], standard=None)

    def standardized(self) -> Standardized:
        """``X``'s columns centered and scaled, computed once per problem (and kept by
        :meth:`columns`)."""
        if self.standard is None:
            mean = self.X.mean(0)
            scale = self.X.std(0, correction=0)
            Z = (self.X - mean) / torch.where(scale > 0, scale, 1.0)
            self.standard = Standardized(Z, mean, scale)
        return self.standard

    def kkt(self, x: torch.Tensor) -> float:
        """Largest KKT violation: ``max |pseudo-gradient|`` in gradient units."""
        return self.violation(x, self.smooth(x)[1])

    def intercept_only(self) -> torch.Tensor:
        """The flat parameters of the best intercept-only model (all weights zero)."""
        x = torch.zeros(self.size, dtype=self.X.dtype, device=self.X.device)
        _, b = self.split(x)
        if self.task == "multiclass":
            counts = torch.bincount(self.targets, minlength=self.n_outputs).to(self.X.dtype)
            logp = torch.log(torch.clamp(counts / counts.sum(), min=1e-12))
            b.copy_(logp - logp.mean())
        elif self.task == "binary":
            p = torch.clamp(self.targets.mean(), 1e-12, 1 - 1e-12)
            b.fill_(float(torch.log(p / (1 - p))))
        else:
            b.copy_(self.targets.mean(0))
        return x


def _shrink(w: torch.Tensor, g: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """Minimum-norm subgradient of ``g . w + lam * |w|`` (elementwise)."""
    shrunk = torch.sign(g) * torch.clamp(g.abs() - lam, min=0.0)
    return torch.where(w == 0, shrunk, g + lam * torch.sign(w))


def make_problem(
    X: object,
    y: object,
    task: str,
    n_classes: int | None,
    device: str | torch.device,
    dtype: torch.dtype,
) -> Problem:
    """Validate ``X``/``y`` and place them on ``device`` as ``dtype`` tensors."""
    task = check_task(task)
    X_t = torch.as_tensor(X, dtype=dtype, device=device)
    y_t = torch.as_tensor(y, device=device)
    if X_t.ndim != 2 or len(X_t) == 0:
        raise DataError(f"X must be a non-empty 2-D table; got shape {tuple(X_t.shape)}.")
    if len(y_t) != len(X_t):
        raise DataError(f"X has {len(X_t)} rows but y has {len(y_t)}.")
    if not bool(torch.isfinite(X_t).all()):
        raise DataError("X contains NaN or infinite values.")
    if task == "regression":
        targets = y_t.to(dtype).reshape(len(y_t), -1)
        return Problem(X_t, targets, task, int(targets.shape[1]))
    labels = y_t.reshape(-1).long()
    if task == "binary":
        if bool(((labels != 0) & (labels != 1)).any()):
            raise DataError("Binary labels must be 0 or 1.")
        return Problem(X_t, labels.to(dtype), task, 1)
    k = int(n_classes) if n_classes is not None else int(labels.max()) + 1
    if k < 2 or int(labels.min()) < 0 or int(labels.max()) >= k:
        raise DataError(f"Multiclass labels must be integers in [0, {k}); n_classes={k}.")
    return Problem(X_t, labels, task, k)

# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Actor improvement: advantage-weighted flow matching (AWFM).

``L(theta) = (1/B) sum_b w_b * L_FM(theta; s_b, a_b)``, ``w_b = min(exp(A_b / beta), w_max)``
with the weights computed without gradient. Every chunk in the store takes part, human chunks
included; chunks the critic rates above the current policy's value are imitated more strongly.
"""

import torch


def advantage_weights(adv: torch.Tensor, beta: float, w_max: float) -> torch.Tensor:
    """``w = min(exp(A / beta), w_max)`` (stop-gradient). Clamped before exp to avoid overflow."""
    a = adv.detach() / beta
    return torch.exp(a.clamp(max=float(torch.log(torch.tensor(w_max))))).clamp(max=w_max)


def effective_sample_size(w: torch.Tensor) -> float:
    """Normalised ESS ``(sum w)^2 / (B sum w^2)`` in (0, 1]; 1 = uniform weights."""
    w = w.detach().double()
    denom = w.numel() * (w * w).sum()
    return float((w.sum() ** 2 / denom).item()) if denom > 0 else 0.0


def weighted_flow_loss(per_sample_loss: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(1/B) sum_b w_b L_b``."""
    return (weights.detach() * per_sample_loss).mean()

# Copyright 2026 aloe_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Actor improvement: advantage-weighted flow matching (AWFM).

``L(theta) = sum_b w_b * L_FM(theta; s_b, a_b) / sum_b w_b`` (or ``/ B`` without
``actor.normalize_weights``), ``w_b = min(exp(A_b / beta), w_max)``, weights without gradient.

What keeps the step stable (each one a config switch, ablated in bench/bench_learning.py):

- ``actor.adv_norm``: advantages are standardised per batch, ``z = (A - mean A) / std A``, so
  ``beta`` is in units of the batch's advantage spread instead of the critic's (drifting) scale.
- ``actor.target_ess``: beta is raised per batch, never lowered, until the normalised effective
  sample size ``(sum w)^2 / (B sum w^2)`` reaches the target: a batch whose advantages are skewed
  cannot concentrate the whole update on a few chunks.
- ``actor.normalize_weights``: the loss is divided by ``sum w`` (self-normalised), so the step
  size does not change with how large the weights happen to be.
- ``actor.learn_from``: which executed steps the actor imitates: ``all`` (every stored chunk,
  policy and human, weighted by its advantage) or ``human`` (only human steps, weighted).
"""

import math
from typing import Tuple

import torch


def _weights(a: torch.Tensor, beta: float, w_max: float) -> torch.Tensor:
    return torch.exp((a / beta).clamp(max=math.log(w_max))).clamp(max=w_max)


def advantage_weights(adv: torch.Tensor, beta: float, w_max: float) -> torch.Tensor:
    """``w = min(exp(A / beta), w_max)`` (stop-gradient). Clamped before exp to avoid overflow."""
    return _weights(adv.detach().float(), float(beta), float(w_max))


def effective_sample_size(w: torch.Tensor) -> float:
    """Normalised ESS ``(sum w)^2 / (B sum w^2)`` in (0, 1]; 1 = uniform weights."""
    w = w.detach().double()
    denom = w.numel() * (w * w).sum()
    return float((w.sum() ** 2 / denom).item()) if denom > 0 else 0.0


def normalize_advantages(adv: torch.Tensor) -> torch.Tensor:
    """Return ``(A - mean) / std`` over the batch (stop-gradient); zeros if it has no spread."""
    a = adv.detach().float()
    if a.numel() < 2:
        return torch.zeros_like(a)
    std = a.std(unbiased=False)
    return (a - a.mean()) / std if float(std) > 1e-8 else torch.zeros_like(a)


def ess_weights(adv: torch.Tensor, beta: float, w_max: float, target_ess: float = 0.0,
                max_doublings: int = 30) -> Tuple[torch.Tensor, float]:
    """
    Weights ``min(exp(A / beta'), w_max)``, least ``beta' >= beta`` with ESS >= ``target_ess``.

    ESS grows monotonically with beta' (uniform weights as beta' -> inf), so beta' is found by
    doubling and then bisection on log beta'. ``target_ess = 0`` keeps beta. Returns
    (weights, beta').
    """
    a = adv.detach().float()
    w = _weights(a, beta, w_max)
    if target_ess <= 0 or effective_sample_size(w) >= target_ess:
        return w, float(beta)
    lo, hi = float(beta), float(beta)
    for _ in range(max_doublings):
        hi *= 2.0
        if effective_sample_size(_weights(a, hi, w_max)) >= target_ess:
            break
    else:
        return _weights(a, hi, w_max), hi
    for _ in range(20):
        mid = math.sqrt(lo * hi)
        if effective_sample_size(_weights(a, mid, w_max)) >= target_ess:
            hi = mid
        else:
            lo = mid
    return _weights(a, hi, w_max), hi


def weighted_flow_loss(per_sample_loss: torch.Tensor, weights: torch.Tensor,
                       normalize: bool = False) -> torch.Tensor:
    """``(1/B) sum_b w_b L_b``, or ``sum_b w_b L_b / sum_b w_b`` with ``normalize``."""
    w = weights.detach()
    if normalize:
        return (w * per_sample_loss).sum() / w.sum().clamp_min(1e-12)
    return (w * per_sample_loss).mean()

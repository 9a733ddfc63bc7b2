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
ALOE critic math: conservative aggregation, chunked TD target, value and advantage.

The critic evaluates the *current* policy pi_theta from off-policy data (policy, human and mixed
chunks): the bootstrap action a' is always drawn from pi_theta, never taken from the data.
"""

from typing import Callable, Dict, Optional

import torch

from .config import CriticConfig
from .models import QEnsemble

# sample(obs, n) -> (n * B, H, D) chunks from pi_theta, sample-major.
SampleFn = Callable[[Dict[str, object], int], torch.Tensor]


def aggregate(q_heads: torch.Tensor, cfg: CriticConfig,
              generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """
    Conservative ensemble aggregation ``agg_i Q_i``: (K, B) -> (B,).

    - ``min``:        ``min_i Q_i``
    - ``mean``:       ``mean_i Q_i`` (not conservative; for evaluation studies)
    - ``mean_std``:   ``mean_i Q_i - k * std_i Q_i`` with k = ``std_coef``
    - ``subset_min``: ``min_{i in S} Q_i``, S a random subset of ``subset_size`` heads (REDQ-style)
    """
    if cfg.aggregation == 'min':
        return q_heads.min(0).values
    if cfg.aggregation == 'mean':
        return q_heads.mean(0)
    if cfg.aggregation == 'mean_std':
        std = q_heads.std(0,
                          unbiased=False) if q_heads.shape[0] > 1 else torch.zeros_like(q_heads[0])
        return q_heads.mean(0) - cfg.std_coef * std
    if cfg.aggregation == 'subset_min':
        idx = torch.randperm(q_heads.shape[0], generator=generator)[:cfg.subset_size]
        return q_heads[idx.to(q_heads.device)].min(0).values
    raise ValueError(f'critic.aggregation: unknown {cfg.aggregation!r}')


def td_target(ret: torch.Tensor, boot: torch.Tensor, q_next: torch.Tensor) -> torch.Tensor:
    """
    Chunked TD target.

    ``y = sum_{k<n} gamma^k r_{t+k} + gamma^n (1 - done) agg_i Qbar_i(s_{t+n}, a')``
    with ``ret`` = the discounted reward sum over the n real steps and ``boot = gamma^n (1 -
    done)``
    (both precomputed by ``transitions.build_transitions``; n = H except at episode ends).
    """
    return ret + boot * q_next


@torch.no_grad()
def polyak_update(online: torch.nn.Module, target: torch.nn.Module, tau: float) -> None:
    """``theta_bar <- (1 - tau) theta_bar + tau theta`` for parameters; buffers are copied."""
    for p_t, p in zip(target.parameters(), online.parameters()):
        p_t.lerp_(p, tau)
    for b_t, b in zip(target.buffers(), online.buffers()):
        b_t.copy_(b)


def critic_loss(critic: QEnsemble, target: QEnsemble, batch, sample_next: SampleFn,
                cfg: CriticConfig,
                generator: Optional[torch.Generator] = None):
    """
    Mean-squared TD error of every head against the shared chunked TD target.

    ``L = mean_i mean_b (Q_i(s_t, a_{t:t+Hc}) - y)^2``, y from the Polyak target ensemble at
    ``s_{t+n}`` with ``a' ~ pi_theta(. | s_{t+n})``. Returns (loss, q_heads (K, B), y (B,)).
    """
    with torch.no_grad():
        n = max(1, int(cfg.target_samples))
        if n == 1:
            a_next = sample_next(batch.next_obs, 1)
            q_next = aggregate(target(batch.next_obs, a_next), cfg, generator)
        else:   # expected TD target: mean over n chunks a' ~ pi (sample-major rows)
            feat = target.encoder(batch.next_obs)
            a_next = sample_next(batch.next_obs, n)
            q_next = aggregate(target(None, a_next, feat=feat.repeat(n, 1)), cfg,
                               generator).view(n, -1).mean(0)
        y = td_target(batch.ret, batch.boot, q_next)
    q = critic(batch.obs, batch.actions, batch.crit_mask)
    loss = (q - y[None, :]).pow(2).mean()
    return loss, q.detach(), y


@torch.no_grad()
def state_value(critic: QEnsemble, obs, sample: SampleFn, cfg: CriticConfig, num_samples: int,
                generator: Optional[torch.Generator] = None,
                feat: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``V(s) = mean_j agg_i Q_i(s, a'_j)``, ``a'_j ~ pi_theta(. | s)``, j < N: returns (B,)."""
    if feat is None:
        feat = critic.encoder(obs)
    b = feat.shape[0]
    actions = sample(obs, num_samples)
    q = aggregate(critic(None, actions, feat=feat.repeat(num_samples, 1)), cfg, generator)
    return q.view(num_samples, b).mean(0)


@torch.no_grad()
def advantage(critic: QEnsemble, obs, actions: torch.Tensor, mask: torch.Tensor, sample: SampleFn,
              cfg: CriticConfig, num_samples: int, generator: Optional[torch.Generator] = None):
    """``A(s, a) = agg_i Q_i(s, a) - V(s)``; returns (A, q_heads (K, B), q (B,), v (B,))."""
    feat = critic.encoder(obs)
    q_heads = critic(obs, actions, mask, feat=feat)
    q = aggregate(q_heads, cfg, generator)
    v = state_value(critic, obs, sample, cfg, num_samples, generator, feat=feat)
    return q - v, q_heads, q, v


@torch.no_grad()
def select_chunk(critic: QEnsemble, obs, sample: SampleFn, cfg: CriticConfig, n: int,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """
    Return the best of ``n`` chunks of pi_theta by ``agg_i Q_i(s, a)``, shape (1, H, D).

    One observation (batch 1); ``n`` = 1 returns the sample as drawn.
    """
    chunks = sample(obs, n)
    if n == 1:
        return chunks
    feat = critic.encoder(obs)
    if feat.shape[0] != 1:
        raise ValueError(f'select_chunk takes one observation, got a batch of {feat.shape[0]}')
    q = aggregate(critic(None, chunks, feat=feat.expand(n, -1)), cfg, generator)
    return chunks[int(torch.argmax(q))][None]

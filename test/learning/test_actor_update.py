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

"""Advantage-weighted flow matching moves a 1-D toy policy toward high-advantage chunks."""

import math

import torch

from aloe_ros.learning.actor_update import (advantage_weights, effective_sample_size,
                                            weighted_flow_loss)
from aloe_ros.learning.models import FlowMatchingPolicy

from learning_helpers import tiny_config


def test_weights_are_clipped_exponentials_and_ess():
    w = advantage_weights(torch.tensor([0.0, 1.0, 10.0, -2.0]), beta=1.0, w_max=5.0)
    assert torch.allclose(w, torch.tensor([1.0, math.e, 5.0, math.exp(-2.0)]))
    assert effective_sample_size(torch.ones(8)) == 1.0
    assert abs(effective_sample_size(torch.tensor([1.0, 0, 0, 0])) - 0.25) < 1e-9
    adv = torch.tensor([1.0], requires_grad=True)
    assert not advantage_weights(adv, 1.0, 5.0).requires_grad


def _train(weighted: bool) -> float:
    torch.manual_seed(0)
    cfg = tiny_config(**{'model.cameras': [], 'model.proprio_dim': 1, 'model.action_dim': 1,
                         'model.horizon': 1, 'model.flow_steps': 8, 'data.h_exec': 1})
    policy = FlowMatchingPolicy(cfg.model)
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    b = 128
    obs = {'images': {}, 'proprio': torch.zeros(b, 1), 'task': torch.zeros(b, dtype=torch.long)}
    for _ in range(300):
        # Data: half the chunks are a = -1 (advantage -1), half a = +1 (advantage +1).
        a = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
        adv = a.clone()
        w = advantage_weights(adv, beta=0.5, w_max=20.0) if weighted else torch.ones(b)
        flow = policy.flow_loss(obs, a[:, None, None], torch.ones(b, 1), generator=gen)
        loss = weighted_flow_loss(flow, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        samples = policy.sample(obs, generator=gen, num_samples=4)
    return float((samples > 0).float().mean())


def test_advantage_weighting_moves_policy_toward_high_advantage_chunks():
    frac_plain = _train(weighted=False)
    frac_weighted = _train(weighted=True)
    # Plain flow matching reproduces the 50/50 data; weights e^2 vs e^-2 give ~98% of the mass to
    # +1.
    assert 0.3 < frac_plain < 0.7
    assert frac_weighted > 0.85

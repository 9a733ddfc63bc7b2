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

"""Ensemble aggregation, value and advantage on hand-set numbers."""

import pytest
import torch

from aloe_ros.learning.critic import aggregate, polyak_update
from aloe_ros.learning.models import FlowMatchingPolicy, Policy, QEnsemble

from learning_helpers import tiny_config


def _critic_cfg(**kw):
    return tiny_config(**{f'critic.{k}': v for k, v in kw.items()}).critic


def test_aggregations():
    q = torch.tensor([[1.0, 4.0], [3.0, 0.0], [2.0, 2.0]])  # K=3 heads, B=2
    assert aggregate(q, _critic_cfg(aggregation='min')).tolist() == [1.0, 0.0]
    assert aggregate(q, _critic_cfg(aggregation='mean')).tolist() == [2.0, 2.0]
    std = q.std(0, unbiased=False)
    got = aggregate(q, _critic_cfg(aggregation='mean_std', std_coef=0.5))
    assert torch.allclose(got, torch.tensor([2.0, 2.0]) - 0.5 * std)
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        out = aggregate(q, _critic_cfg(aggregation='subset_min', subset_size=2), gen)
        seen.add(tuple(out.tolist()))
        assert all(v in (1.0, 2.0, 0.0) for v in out.tolist())
    assert len(seen) > 1  # the subset really is random
    assert aggregate(q, _critic_cfg(aggregation='subset_min', subset_size=3),
                     gen).tolist() == [1.0, 0.0]


def test_polyak_moves_target_by_tau():
    cfg = tiny_config()
    online, target = QEnsemble(cfg.model, 4), QEnsemble(cfg.model, 4)
    p_on, p_t = next(online.parameters()), next(target.parameters())
    expected = 0.9 * p_t.detach().clone() + 0.1 * p_on.detach()
    polyak_update(online, target, 0.1)
    assert torch.allclose(p_t, expected, atol=1e-6)


def test_flow_policy_satisfies_policy_protocol_and_is_seeded():
    cfg = tiny_config(**{'model.cameras': []})
    pol = FlowMatchingPolicy(cfg.model)
    assert isinstance(pol, Policy)
    obs = {'images': {}, 'proprio': torch.zeros(2, 3), 'task': torch.zeros(2, dtype=torch.long)}
    a = pol.sample(obs, torch.Generator().manual_seed(3), num_samples=5)
    b = pol.sample(obs, torch.Generator().manual_seed(3), num_samples=5)
    assert a.shape == (10, 4, 3) and torch.equal(a, b)


@pytest.mark.parametrize('steps', [1, 7])
def test_sampler_step_count_is_configurable(steps):
    cfg = tiny_config(**{'model.cameras': [], 'model.flow_steps': steps})
    pol = FlowMatchingPolicy(cfg.model)
    calls = []
    pol.velocity_net.register_forward_hook(lambda *a: calls.append(1))
    pol.sample({'images': {}, 'proprio': torch.zeros(1, 3),
                'task': torch.zeros(1, dtype=torch.long)})
    assert len(calls) == steps


def test_critic_layer_norm_normalises_each_head_with_its_own_gain():
    from aloe_ros.learning.models import EnsembleLayerNorm
    cfg = tiny_config(**{'critic.layer_norm': True})
    q = QEnsemble(cfg.model, cfg.critic_horizon, layer_norm=cfg.critic.layer_norm)
    norms = [m for m in q.heads if isinstance(m, EnsembleLayerNorm)]
    assert len(norms) == cfg.model.critic_layers
    ln = norms[0]
    x = torch.randn(cfg.model.num_q_heads, 5, cfg.model.critic_hidden) * 7.0 + 3.0
    y = ln(x)
    assert torch.allclose(y.mean(-1), torch.zeros(y.shape[:2]), atol=1e-5)
    with torch.no_grad():
        ln.weight[1].mul_(2.0)                       # head 1's gain only
    y2 = ln(x)
    assert torch.allclose(y2[0], y[0]) and torch.allclose(y2[1], 2.0 * y[1], atol=1e-5)
    plain = QEnsemble(cfg.model, cfg.critic_horizon)
    assert not any(isinstance(m, EnsembleLayerNorm) for m in plain.heads)


def test_td_target_averages_target_samples_chunks_of_pi():
    from types import SimpleNamespace

    from aloe_ros.learning.critic import critic_loss, td_target
    cfg = tiny_config(**{'critic.target_samples': 3, 'critic.aggregation': 'mean'})
    m = cfg.model
    torch.manual_seed(0)
    target = QEnsemble(m, cfg.critic_horizon)
    b, h = 4, cfg.critic_horizon
    obs = {'images': {c: torch.randint(0, 255, (b, *m.image_size, 3), dtype=torch.uint8)
                      for c in m.cameras},
           'proprio': torch.randn(b, m.proprio_dim), 'task': torch.zeros(b, dtype=torch.long)}
    chunks = [torch.randn(b, m.horizon, m.action_dim) for _ in range(3)]

    def sample_next(o, n):          # sample-major rows: j * B + i is sample j of obs i
        assert n == 3
        return torch.cat(chunks, 0)
    batch = SimpleNamespace(obs=obs, next_obs=obs, actions=chunks[0],
                            crit_mask=torch.ones(b, h), ret=torch.rand(b),
                            boot=torch.full((b,), 0.9))
    _, _, y = critic_loss(target, target, batch, sample_next, cfg.critic)
    with torch.no_grad():
        q = torch.stack([aggregate(target(obs, c), cfg.critic) for c in chunks]).mean(0)
    assert torch.allclose(y, td_target(batch.ret, batch.boot, q), atol=1e-6)


def test_select_chunk_executes_the_sample_with_the_highest_conservative_q():
    from aloe_ros.learning.critic import select_chunk
    cfg = tiny_config(**{'critic.aggregation': 'min'})
    m = cfg.model
    torch.manual_seed(0)
    critic = QEnsemble(m, cfg.critic_horizon)
    obs = {'images': {c: torch.randint(0, 255, (1, *m.image_size, 3), dtype=torch.uint8)
                      for c in m.cameras},
           'proprio': torch.randn(1, m.proprio_dim), 'task': torch.zeros(1, dtype=torch.long)}
    chunks = torch.randn(6, m.horizon, m.action_dim)
    asked = []

    def sample(o, n):
        asked.append(n)
        return chunks[:n]
    with torch.no_grad():
        q = torch.stack([aggregate(critic(obs, c[None]), cfg.critic)[0] for c in chunks])
    best = select_chunk(critic, obs, sample, cfg.critic, 6)
    assert best.shape == (1, m.horizon, m.action_dim) and asked == [6]
    assert torch.equal(best[0], chunks[int(torch.argmax(q))])
    assert int(torch.argmax(q)) != 0 or torch.equal(best[0], chunks[0])
    assert torch.equal(select_chunk(critic, obs, sample, cfg.critic, 1)[0], chunks[0])
    two = {k: (v if k != 'images' else {c: x.repeat(2, 1, 1, 1) for c, x in v.items()})
           for k, v in obs.items()}
    two['proprio'], two['task'] = obs['proprio'].repeat(2, 1), obs['task'].repeat(2)
    with pytest.raises(ValueError, match='one observation'):
        select_chunk(critic, two, sample, cfg.critic, 3)

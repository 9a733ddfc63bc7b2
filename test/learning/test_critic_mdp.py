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
Off-policy evaluation on a small MDP with exactly known values.

States: x in {0, 1, 2} times a time parity bit; actions -1 / +1; chunk length H = 2, stride 2, so
chunks start at parity 0 and the episode can only terminate at the end of a chunk (parity 1).
Data come from a behaviour mixture: a "policy" source and a "human" source, each step's source
drawn at random, so human segments of varying length sit inside chunks. Episodes end by termination
(a 201-step cap is never reached in practice, so Monte-Carlo returns are unbiased).

The chunked-TD critic (real ReplayBuffer, QEnsemble, critic_loss, Polyak target) trained with
bootstrap chunks from a different target chunk policy pi must converge to Q^pi; a Monte-Carlo
value fitted to the same data (the RECAP value net) converges to the mixture's value V^mu.
"""

import numpy as np
import torch

from aloe_ros.learning.critic import aggregate, critic_loss, polyak_update
from aloe_ros.learning.episode import SOURCE_HUMAN, SOURCE_POLICY, Episode, InMemoryEpisodeSource
from aloe_ros.learning.models import QEnsemble
from aloe_ros.learning.replay import ReplayBuffer

from learning_helpers import tiny_config

S, GAMMA = 3, 0.9
MAX_STEPS = 201
ACTIONS = np.array([-1.0, 1.0])
CHUNKS = [(0, 0), (0, 1), (1, 0), (1, 1)]


def _mdp():
    rng = np.random.default_rng(3)
    reward = rng.uniform(0.0, 1.0, size=(S, 2))
    reward[:, 1] += 0.5
    trans = rng.dirichlet(np.ones(S), size=(S, 2))           # P(x' | x, a)
    p_term = rng.uniform(0.05, 0.15, size=(S, 2))              # termination from parity-1 states
    pi = rng.dirichlet(np.ones(4) * 0.5, size=S)             # target chunk policy pi(a0, a1 | x)
    pi[:, 3] += 1.5                                           # mostly (+1, +1)
    pi /= pi.sum(1, keepdims=True)
    mu_policy = np.tile([0.8, 0.2], (S, 1))                   # behaviour sources favour -1
    mu_human = np.tile([0.4, 0.6], (S, 1))
    return reward, trans, p_term, pi, mu_policy, mu_human


def _exact_q_pi(reward, trans, p_term, pi):
    """Q^pi(x, a0, a1) for chunks starting at parity 0, by fixed-point iteration."""
    v = np.zeros(S)
    for _ in range(2000):
        q = np.zeros((S, 4))
        for j, (a0, a1) in enumerate(CHUNKS):
            second = reward[:, a1] + GAMMA * (1 - p_term[:, a1]) * (trans[:, a1] @ v)   # from x1
            q[:, j] = reward[:, a0] + GAMMA * (trans[:, a0] @ second)
        v = (pi * q).sum(1)
    return q, v


def _exact_v_mixture(reward, trans, p_term, mu):
    """V^mu at parity-0 states for the per-step behaviour mixture mu(a | x)."""
    v0, v1 = np.zeros(S), np.zeros(S)
    for _ in range(2000):
        v1 = (mu * (reward + GAMMA * (1 - p_term) * np.einsum('xay,y->xa', trans, v0))).sum(1)
        v0 = (mu * (reward + GAMMA * np.einsum('xay,y->xa', trans, v1))).sum(1)
    return v0


def _obs_vec(x, parity):
    v = np.zeros(S + 1, np.float32)
    v[x] = 1.0
    v[S] = parity
    return v


def _episodes(n, p_human, seed):
    reward, trans, p_term, _pi, mu_p, mu_h = _mdp()
    rng = np.random.default_rng(seed)
    eps = []
    for i in range(n):
        x, obs, acts, srcs, rews = int(rng.integers(S)), [], [], [], []
        terminated = False
        for t in range(MAX_STEPS):
            human = rng.random() < p_human
            a = int(rng.random() < (mu_h if human else mu_p)[x, 1])
            obs.append(_obs_vec(x, t % 2))
            acts.append([ACTIONS[a]])
            srcs.append(SOURCE_HUMAN if human else SOURCE_POLICY)
            rews.append(reward[x, a])
            if t % 2 == 1 and rng.random() < p_term[x, a]:
                terminated = True
                break
            x = int(rng.choice(S, p=trans[x, a]))
        T = len(acts)
        src = np.array(srcs, np.uint8)
        eps.append(Episode(
            episode_id=f'ep{i}', task='mdp', instruction='', images={},
            proprio=np.array(obs, np.float32), actions=np.array(acts, np.float32), sources=src,
            policy_versions=np.zeros(T, np.uint32), interventions=src == SOURCE_HUMAN,
            rewards=np.array(rews, np.float32), terminated=terminated, truncated=not terminated))
    return eps


def _config(aggregation='mean'):
    return tiny_config(**{
        'model.cameras': [], 'model.proprio_dim': S + 1, 'model.action_dim': 1, 'model.horizon': 2,
        'model.obs_dim': 64, 'model.critic_hidden': 64, 'model.num_q_heads': 2,
        'critic.aggregation': aggregation, 'critic.gamma': GAMMA, 'critic.tau': 0.05,
        'critic.lr': 2e-3,
        'data.h_exec': 2, 'data.batch_size': 256})


def _pi_sampler(pi, generator):
    table = torch.tensor([[ACTIONS[a0], ACTIONS[a1]] for a0, a1 in CHUNKS], dtype=torch.float32)
    pi_t = torch.tensor(pi, dtype=torch.float32)

    def sample(obs, n):
        x = obs['proprio'][:, :S].argmax(1).repeat(n)
        j = torch.multinomial(pi_t[x], 1, generator=generator).squeeze(1)
        return table[j][:, :, None]
    return sample


def _all_chunks_obs(cfg):
    proprio = torch.tensor(np.stack([_obs_vec(x, 0) for x in range(S) for _ in CHUNKS]))
    actions = torch.tensor([[[ACTIONS[a0]], [ACTIONS[a1]]] for _ in range(S) for a0, a1 in CHUNKS],
                           dtype=torch.float32)
    obs = {'images': {}, 'proprio': proprio, 'task': torch.zeros(len(proprio), dtype=torch.long)}
    return obs, actions


def test_chunked_td_critic_converges_to_q_pi_and_mc_value_to_mixture():
    torch.manual_seed(0)
    reward, trans, p_term, pi, mu_p, mu_h = _mdp()
    p_human = 0.4
    q_pi, v_pi = _exact_q_pi(reward, trans, p_term, pi)
    v_mu = _exact_v_mixture(reward, trans, p_term, (1 - p_human) * mu_p + p_human * mu_h)
    assert np.min(np.abs(v_pi - v_mu)) > 1.0, 'test MDP must separate the two values'

    cfg = _config()
    replay = ReplayBuffer(cfg, InMemoryEpisodeSource(_episodes(600, p_human, seed=1)),
                          lambda xs: torch.zeros(len(xs), dtype=torch.long))
    replay.refresh()
    assert {'policy', 'human', 'mixed'} <= set(replay.source_counts())
    gen = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    sample_pi = _pi_sampler(pi, gen)

    critic = QEnsemble(cfg.model, cfg.critic_horizon)
    target = QEnsemble(cfg.model, cfg.critic_horizon)
    target.load_state_dict(critic.state_dict())
    value = QEnsemble(cfg.model, cfg.critic_horizon, use_action=False)
    opt_q = torch.optim.Adam(critic.parameters(), lr=cfg.critic.lr)
    opt_v = torch.optim.Adam(value.parameters(), lr=cfg.critic.lr)
    for step in range(1200):
        if step == 800:
            for opt in (opt_q, opt_v):
                opt.param_groups[0]['lr'] = 3e-4
        batch = replay.sample(cfg.data.batch_size, rng)
        loss, _, _ = critic_loss(critic, target, batch, sample_pi, cfg.critic, gen)
        opt_q.zero_grad()
        loss.backward()
        opt_q.step()
        polyak_update(critic, target, cfg.critic.tau)
        v_loss = (value(batch.obs) - batch.mc_return[None]).pow(2).mean()
        opt_v.zero_grad()
        v_loss.backward()
        opt_v.step()

    obs, actions = _all_chunks_obs(cfg)
    with torch.no_grad():
        q_hat = aggregate(critic(obs, actions), cfg.critic).numpy().reshape(S, 4)
        v_mc = aggregate(value(obs), cfg.critic).numpy().reshape(S, 4)[:, 0]
    v_hat = (pi * q_hat).sum(1)
    # Tolerance (values are 3.4-5.5; V^pi - V^mu > 1): 0.35 on each of the 12 chunk values, 0.25 on
    # state values. Sampling noise of 600 episodes alone is ~0.2 on the rarest chunk (tabular
    # check).
    assert np.max(np.abs(q_hat - q_pi)) < 0.35, (q_hat, q_pi)
    assert np.max(np.abs(v_hat - v_pi)) < 0.25, (v_hat, v_pi)
    assert np.max(np.abs(v_mc - v_mu)) < 0.25, (v_mc, v_mu)
    assert np.all(np.abs(v_hat - v_pi) < 0.3 * np.abs(v_hat - v_mu))
    assert np.all(np.abs(v_mc - v_mu) < 0.3 * np.abs(v_mc - v_pi))

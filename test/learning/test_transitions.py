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

"""Transition building and the TD target on hand-computed examples."""

import numpy as np
import pytest
import torch

from aloe_ros.learning.critic import td_target
from aloe_ros.learning.episode import SOURCE_HUMAN, SOURCE_POLICY, InMemoryEpisodeSource
from aloe_ros.learning.replay import ReplayBuffer
from aloe_ros.learning.transitions import SOURCE_MIXED, build_transitions, chunk_actions

from learning_helpers import make_episode, tiny_config


def _episode(terminated, truncated):
    ep = make_episode('e', steps=5, terminated=terminated, truncated=truncated, human=(2, 3))
    ep.rewards = np.array([1, 2, 3, 4, 5], np.float32)
    return ep


def test_terminated_episode_end_is_done_and_discounted_over_real_steps():
    tr = build_transitions(_episode(True, False), horizon=3, critic_horizon=3, stride=2, gamma=0.5)
    assert tr.t.tolist() == [0, 2, 4]
    # t=0: full window, y = 1 + 0.5*2 + 0.25*3 + 0.125 * Q(s_3)
    assert tr.ret[0] == pytest.approx(2.75) and tr.boot[0] == pytest.approx(0.125)
    assert tr.next_t[0] == 3 and not tr.done[0]
    # t=2: window crosses the terminal step: 3 + 0.5*4 + 0.25*5, no bootstrap
    assert tr.ret[1] == pytest.approx(6.25) and tr.boot[1] == 0.0 and tr.done[1]
    # t=4: one real step left
    assert tr.n_act[2] == 1 and tr.n_rew[2] == 1 and tr.ret[2] == pytest.approx(5.0) and tr.done[2]
    # Monte-Carlo return from t=2: 3 + 2 + 1.25
    assert tr.mc_return[1] == pytest.approx(6.25)


def test_truncated_episode_end_bootstraps_from_last_observation():
    tr = build_transitions(_episode(False, True), horizon=3, critic_horizon=3, stride=2, gamma=0.5)
    # t=4 has no later observation to bootstrap from: dropped.
    assert tr.t.tolist() == [0, 2]
    assert not tr.done.any()
    assert tr.truncated.tolist() == [False, True]
    # t=2: shortened to n = T-1-t = 2 steps: y = 3 + 0.5*4 + 0.25 * Q(s_4)
    assert tr.n_rew[1] == 2 and tr.next_t[1] == 4
    assert tr.ret[1] == pytest.approx(5.0) and tr.boot[1] == pytest.approx(0.25)
    assert tr.n_act[1] == 3


def test_td_target_hand_computed():
    ret = torch.tensor([2.75, 6.25, 5.0])
    boot = torch.tensor([0.125, 0.0, 0.25])
    q_next = torch.tensor([8.0, 100.0, -4.0])
    assert torch.allclose(td_target(ret, boot, q_next), torch.tensor([3.75, 6.25, 4.0]))


def test_step_penalty_subtracts_from_every_step():
    tr = build_transitions(_episode(True, False), horizon=2, critic_horizon=2, stride=2, gamma=1.0,
                           step_penalty=0.5)
    assert tr.ret[0] == pytest.approx(0.5 + 1.5)


def test_chunk_source_label_and_padding():
    ep = _episode(True, False)  # human at step 2 only
    tr = build_transitions(ep, horizon=2, critic_horizon=2, stride=1, gamma=0.9)
    assert tr.source.tolist() == [SOURCE_POLICY, SOURCE_MIXED, SOURCE_MIXED, SOURCE_POLICY,
                                  SOURCE_POLICY]
    assert tr.human_frac.tolist() == [0.0, 0.5, 0.5, 0.0, 0.0]
    ep.sources[:] = SOURCE_HUMAN
    assert (build_transitions(ep, 2, 2, 1, 0.9).source == SOURCE_HUMAN).all()
    acts, mask = chunk_actions(ep, 4, 3)
    assert mask.tolist() == [True, False, False]
    assert np.array_equal(acts[1], ep.actions[4]) and np.array_equal(acts[2], ep.actions[4])


def test_critic_horizon_one_for_td1():
    tr = build_transitions(_episode(True, False), horizon=3, critic_horizon=1, stride=1, gamma=0.5)
    assert tr.n_rew.tolist() == [1, 1, 1, 1, 1]
    assert tr.next_t.tolist()[:4] == [1, 2, 3, 4] and tr.done.tolist() == [False] * 4 + [True]
    assert tr.ret.tolist() == [1, 2, 3, 4, 5]


def test_replay_batch_masks_and_incremental_refresh():
    cfg = tiny_config(**{'data.h_exec': 1})
    src = InMemoryEpisodeSource([make_episode('a', steps=6, cfg=cfg, truncated=True,
                                              terminated=False)])
    rb = ReplayBuffer(cfg, src, lambda xs: torch.zeros(len(xs), dtype=torch.long))
    assert rb.refresh() == 1 and len(rb) == 5
    b = rb.batch(np.arange(len(rb)))
    # last transition (t=4): 2 real actions, window shortened to 1 reward step
    assert b.act_mask[4].tolist() == [1, 1, 0, 0] and b.crit_mask[4].tolist() == [1, 0, 0, 0]
    assert b.boot[4].item() == pytest.approx(0.99)
    assert torch.equal(b.next_obs['proprio'][4],
                       torch.from_numpy(src.load_episode('a').proprio[5]))
    src.add(make_episode('b', steps=3, cfg=cfg, seed=1))
    assert rb.refresh() == 1 and rb.refresh() == 0 and len(rb) == 8
    b = rb.batch(np.array([7]))
    # terminated window: full critic mask (termination is not an input), padded actor mask
    assert b.done[0] == 1 and b.crit_mask[0].tolist() == [1, 1, 1, 1]
    assert b.act_mask[0].tolist() == [1, 0, 0, 0]


def test_balanced_sampling_equalises_sources():
    cfg = tiny_config(**{'data.h_exec': 1, 'data.balance_sources': True, 'model.horizon': 1})
    src = InMemoryEpisodeSource([make_episode('a', steps=20, cfg=cfg, human=(0, 2))])
    rb = ReplayBuffer(cfg, src, lambda xs: torch.zeros(len(xs), dtype=torch.long))
    rb.refresh()
    assert rb.source_counts() == {'policy': 18, 'human': 2}
    b = rb.sample(4000, np.random.default_rng(0))
    frac_human = (b.source == SOURCE_HUMAN).float().mean().item()
    assert abs(frac_human - 0.5) < 0.05


def test_intervention_penalty_lands_on_the_last_policy_step_before_each_takeover():
    from aloe_ros.learning.transitions import episode_rewards, takeover_ticks
    # policy 0-2, human 3-5, policy 6-11, success at 11
    ep = make_episode('e', steps=12, human=(3, 6))
    ep.sources[8:10] = 1                             # a second takeover at tick 8 (human 8-9)
    assert list(takeover_ticks(ep)) == [2, 7]
    r = episode_rewards(ep, 0.0, 0.5)
    assert r[2] == -0.5 and r[7] == -0.5 and r[11] == 1.0
    assert np.count_nonzero(r) == 3
    assert np.array_equal(episode_rewards(ep, 0.0), ep.rewards.astype(np.float64))
    tr = build_transitions(ep, 4, 4, 1, 0.9, intervention_penalty=0.5)
    assert abs(tr.ret[0] - (-0.5 * 0.9 ** 2)) < 1e-6   # chunk 0-3 sees the takeover at tick 2


def test_rejected_steps_are_the_policy_steps_just_before_each_takeover():
    from aloe_ros.learning.transitions import rejected_steps
    # policy 0-2, human 3-5, policy 6-7, human 8-9, policy 10-11
    ep = make_episode('e', steps=12, human=(3, 6))
    ep.sources[8:10] = SOURCE_HUMAN
    assert np.flatnonzero(rejected_steps(ep, 2)).tolist() == [1, 2, 6, 7]
    # the window never reaches back across a human segment
    assert np.flatnonzero(rejected_steps(ep, 10)).tolist() == [0, 1, 2, 6, 7]
    assert not rejected_steps(ep, 0).any()


def test_replay_does_not_imitate_rejected_steps_but_keeps_them_for_the_critic():
    cfg = tiny_config()
    cfg.data.reject_before_takeover = 2
    ep = make_episode('e', steps=12, cfg=cfg, human=(5, 8))     # takeover tick 4: 3, 4 rejected
    enc = lambda xs: torch.zeros(len(xs), dtype=torch.long)    # noqa: E731
    rb = ReplayBuffer(cfg, InMemoryEpisodeSource([ep]), enc)
    rb.refresh()
    rows = np.arange(len(rb))
    b = rb.batch(rows)
    t = rb._cols['t'].view()[rows]
    H = cfg.model.horizon
    for i, t0 in enumerate(t):
        ticks = t0 + np.arange(H)
        want = (ticks < 12) & ~np.isin(ticks, [3, 4])
        assert b.act_mask[i].bool().numpy().tolist() == want.tolist()
    # the critic's window is unchanged: the rejected steps still teach it what they led to
    cfg0 = tiny_config()
    rb0 = ReplayBuffer(cfg0, InMemoryEpisodeSource([make_episode('e', steps=12, cfg=cfg0,
                                                                 human=(5, 8))]), enc)
    rb0.refresh()
    assert torch.equal(rb0.batch(rows).crit_mask, b.crit_mask)
    assert torch.equal(rb0.batch(rows).human_step, b.human_step)

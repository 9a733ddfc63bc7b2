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

"""AloeTrainer across methods and observation layouts."""

import math

import numpy as np
import pytest

from aloe_ros.learning.episode import InMemoryEpisodeSource
from aloe_ros.learning.runtime import load_actor
from aloe_ros.learning.trainer import AloeTrainer

from learning_helpers import make_episode, tiny_config


@pytest.mark.parametrize('method', ['aloe', 'td1', 'recap', 'hg_dagger'])
def test_every_method_trains_and_reports(method):
    cfg = tiny_config(method=method)
    src = InMemoryEpisodeSource([make_episode(f'e{i}', steps=9, cfg=cfg, seed=i)
                                 for i in range(2)])
    tr = AloeTrainer(cfg, src)
    assert tr.refresh() == 2
    calls = []
    m = tr.train(2, 2, progress=lambda phase, i, n: calls.append((phase, i, n)))
    assert m['actor_updates'] == 2 and math.isfinite(m['actor_loss'])
    if method == 'hg_dagger':
        assert 'critic_loss' not in m and calls == [('actor', 1, 2), ('actor', 2, 2)]
        with pytest.raises(RuntimeError, match='no critic'):
            tr.evaluate({}, np.zeros((4, 3)))
        return
    assert m['critic_updates'] == 2 and math.isfinite(m['critic_loss'])
    assert 0 < m['ess'] <= 1 and math.isfinite(m['mean_v'])
    assert calls[0] == ('critic', 1, 2) and calls[-1] == ('actor', 2, 2)
    ep = src.load_episode('e0')
    obs = {'images': {'cam_high': ep.images['cam_high'][0]}, 'proprio': ep.proprio[0],
           'instruction': 'pick'}
    out = tr.evaluate(obs, ep.actions[:4])
    assert len(out['q_heads']) == cfg.model.num_q_heads
    assert out['adv'] == pytest.approx(out['q'] - out['v'])
    if method == 'aloe':
        assert out['q'] == pytest.approx(min(out['q_heads']))


def test_td1_critic_sees_one_step():
    cfg = tiny_config(method='td1')
    tr = AloeTrainer(cfg, InMemoryEpisodeSource([make_episode('e', steps=6, cfg=cfg)]))
    tr.refresh()
    assert tr.critic.critic_horizon == 1
    assert tr.replay.sample(4, np.random.default_rng(0)).crit_mask.shape == (4, 1)


def test_proprio_only_with_extra_state_and_learned_instructions(tmp_path):
    cfg = tiny_config(**{'model.cameras': [], 'model.extra_state_dim': 2,
                         'model.instructions': ['pick', 'place']})
    src = InMemoryEpisodeSource([make_episode('a', steps=7, cfg=cfg, instruction='pick'),
                                 make_episode('b', steps=7, cfg=cfg, seed=1, instruction='place')])
    tr = AloeTrainer(cfg, src)
    tr.refresh()
    assert tr.replay.instructions == ['pick', 'place']
    tr.train(1, 1)
    info = tr.export(str(tmp_path))
    actor = load_actor(info.path, info.sha256)
    chunk = actor.act({'images': {}, 'proprio': np.zeros(3), 'instruction': 'place',
                       'state': np.ones(2)})
    assert chunk.shape == (4, 3) and np.isfinite(chunk).all()
    with pytest.raises(KeyError, match='push'):
        actor.act({'images': {}, 'proprio': np.zeros(3), 'instruction': 'push',
                   'state': np.ones(2)})
    with pytest.raises(ValueError, match="obs\\['state'\\]"):
        actor.act({'images': {}, 'proprio': np.zeros(3), 'instruction': 'pick',
                   'state': np.ones(5)})


def test_wrong_image_size_names_episode_and_camera():
    cfg = tiny_config()
    ep = make_episode('e', steps=5, cfg=tiny_config(**{'model.image_size': [20, 20]}))
    tr = AloeTrainer(cfg, InMemoryEpisodeSource([ep]))
    with pytest.raises(ValueError, match=r'episode e: images\[cam_high\]'):
        tr.refresh()


def test_normalisation_fitted_once_from_data():
    cfg = tiny_config()
    ep = make_episode('e', steps=40, cfg=cfg)
    ep.actions = ep.actions * 5.0 + 2.0
    tr = AloeTrainer(cfg, InMemoryEpisodeSource([ep]))
    tr.refresh()
    assert np.allclose(tr.policy.action_norm.mean.numpy(), ep.actions.mean(0), atol=1e-4)
    assert np.allclose(tr.critic.action_norm.std.numpy(), ep.actions.std(0), atol=1e-4)

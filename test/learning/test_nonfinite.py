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

"""NaN/Inf handling: skip-and-count (default) or a clear error naming episode and step."""

import logging

import numpy as np
import pytest
import torch

from aloe_ros.learning.episode import InMemoryEpisodeSource
from aloe_ros.learning.replay import NonFiniteDataError
from aloe_ros.learning.trainer import AloeTrainer

from learning_helpers import make_episode, tiny_config


class UncheckedSource:
    """An EpisodeSource that does not validate (as a corrupted store could)."""

    def __init__(self, episodes):
        self._eps = {e.episode_id: e for e in episodes}

    def episode_ids(self):
        return list(self._eps)

    def load_episode(self, episode_id):
        return self._eps[episode_id]


def _bad_episode(cfg):
    ep = make_episode('bad', steps=8, cfg=cfg, seed=5)
    ep.actions[6, 1] = np.nan
    return ep


def test_nonfinite_episode_is_skipped_and_counted(caplog):
    cfg = tiny_config()
    src = UncheckedSource([make_episode('good', steps=8, cfg=cfg), _bad_episode(cfg)])
    tr = AloeTrainer(cfg, src)
    with caplog.at_level(logging.WARNING):
        assert tr.refresh() == 1
    assert tr.replay.episode_ids == ['good']
    assert tr.replay.skipped_episodes == {'bad': 'episode bad: non-finite actions at step 6'}
    assert 'episode bad: non-finite actions at step 6' in caplog.text
    assert tr.refresh() == 0 and len(caplog.records) == 1
    assert np.isfinite(tr.train(1, 1)['critic_loss'])


def test_nonfinite_episode_error_mode_names_episode_and_step():
    cfg = tiny_config(**{'data.on_nonfinite': 'error'})
    tr = AloeTrainer(cfg, UncheckedSource([_bad_episode(cfg)]))
    with pytest.raises(NonFiniteDataError, match='episode bad: non-finite actions at step 6'):
        tr.refresh()


def test_diverged_update_is_skipped_or_raised():
    cfg = tiny_config()
    tr = AloeTrainer(cfg, InMemoryEpisodeSource([make_episode('e', steps=8, cfg=cfg)]))
    tr.refresh()
    with torch.no_grad():
        next(tr.critic.heads.parameters()).fill_(float('inf'))
    before = [p.clone() for p in tr.critic.parameters()]
    m = tr.train(1, 0)
    assert m['skipped_updates'] == 1 and tr.critic_updates == 0
    assert all(torch.equal(a, b) or torch.isinf(a).any() for a,
               b in zip(before, tr.critic.parameters()))
    tr.cfg.data.on_nonfinite = 'error'
    with pytest.raises(FloatingPointError, match='non-finite critic loss .*episode e step'):
        tr.train(1, 0)

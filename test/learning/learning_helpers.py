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

"""Helpers of the learning tests: tiny configs and synthetic episodes."""

import numpy as np
import torch

from aloe_ros.learning.config import config_from_dict
from aloe_ros.learning.episode import SOURCE_HUMAN, SOURCE_POLICY, Episode

torch.set_num_threads(1)


def tiny_config(**overrides):
    """Return a small valid LearnerConfig (one 16x16 camera, H=4, D=3) with dotted overrides."""
    data = {
        'method': 'aloe', 'seed': 0,
        'model': {'cameras': ['cam_high'], 'image_size': [16, 16], 'proprio_dim': 3,
                  'action_dim': 3,
                  'horizon': 4, 'task_dim': 4, 'cnn_channels': [4, 8], 'image_feature_dim': 16,
                  'obs_dim': 32, 'flow_hidden': 32, 'flow_layers': 2, 'flow_steps': 3,
                  'time_embed_dim': 8, 'critic_hidden': 32, 'num_q_heads': 3},
        'data': {'h_exec': 2, 'batch_size': 8},
    }
    for key, value in overrides.items():
        node = data
        parts = key.split('.')
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return config_from_dict(data)


def make_episode(episode_id, steps=10, cfg=None, seed=0, terminated=True, truncated=False,
                 human=(3, 6),
                 instruction='pick'):
    """Return a random episode fitting ``cfg`` with a human segment [human[0], human[1])."""
    cfg = cfg or tiny_config()
    m = cfg.model
    rng = np.random.default_rng(seed)
    sources = np.full(steps, SOURCE_POLICY, np.uint8)
    sources[human[0]:human[1]] = SOURCE_HUMAN
    rewards = np.zeros(steps, np.float32)
    if terminated:
        rewards[-1] = 1.0
    extra = {}
    if m.extra_state_dim:
        extra['state'] = rng.normal(size=(steps, m.extra_state_dim)).astype(np.float32)
    return Episode(
        episode_id=episode_id, task='t', instruction=instruction,
        images={c: rng.integers(0, 256, (steps, m.image_size[0], m.image_size[1], 3),
                                dtype=np.uint8)
                for c in m.cameras},
        proprio=rng.normal(size=(steps, m.proprio_dim)).astype(np.float32),
        actions=rng.normal(size=(steps, m.action_dim)).astype(np.float32),
        sources=sources, policy_versions=np.zeros(steps, np.uint32),
        interventions=sources == SOURCE_HUMAN,
        rewards=rewards, terminated=terminated, truncated=truncated, extra=extra)

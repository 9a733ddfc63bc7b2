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

"""Shared fixtures of the storage tests: small synthetic episodes."""

import numpy as np
import pytest

from aloe_ros.learning.episode import OUTCOME_SUCCESS, SOURCE_HUMAN, SOURCE_POLICY
from aloe_ros.storage import make_episode


def synthetic_episode(episode_id, steps=12, outcome=OUTCOME_SUCCESS, seed=0, cams=('cam_high',),
                      size=(8, 10), step_penalty=0.0):
    """Return a small episode: policy steps, a human segment in the middle, random images."""
    rng = np.random.default_rng(seed)
    sources = np.full(steps, SOURCE_POLICY, np.uint8)
    sources[steps // 3: 2 * steps // 3] = SOURCE_HUMAN
    versions = np.where(sources == SOURCE_POLICY, 1 + np.arange(steps) // (steps // 2 + 1), 0)
    return make_episode(
        episode_id, actions=rng.normal(size=(steps, 14)), proprio=rng.normal(size=(steps, 14)),
        sources=sources, policy_versions=versions,
        images={c: rng.integers(0, 256, (steps, *size, 3), dtype=np.uint8) for c in cams},
        outcome=outcome, task='handover', instruction='hand the cube over', seed=seed,
        step_penalty=step_penalty)


@pytest.fixture
def episode_factory():
    """Return :func:`synthetic_episode`."""
    return synthetic_episode

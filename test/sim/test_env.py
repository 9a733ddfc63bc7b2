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

"""BimanualEnv: observation layout, determinism, exact save/restore, input checks, rendering."""

import numpy as np
import pytest

from aloe_ros.sim import robot
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.sim.expert import ScriptedExpert


def _rollout(env, expert, n):
    out = []
    for _ in range(n):
        obs, *_ = env.step(expert.act())
        out.append(np.concatenate([obs['proprio'], obs['state']]))
    return np.stack(out)


def test_observation_layout():
    env = BimanualEnv('handover', image_size=(32, 48), seed=0)
    obs = env.reset(0)
    assert set(obs['images']) == set(robot.CAMERAS)
    for img in obs['images'].values():
        assert img.shape == (32, 48, 3) and img.dtype == np.uint8
        assert img.std() > 5, 'camera image is blank'
    assert obs['proprio'].shape == (14,) and obs['proprio'].dtype == np.float32
    np.testing.assert_allclose(obs['proprio'], robot.home_action(), atol=1e-6)
    assert obs['state'].shape == (7 + 2,) and obs['state'].dtype == np.float32
    assert len(robot.JOINT_NAMES) == 14 and robot.JOINT_NAMES[6] == 'left_gripper'
    env.close()


def test_seeds_randomise_and_are_deterministic():
    env = BimanualEnv('sort', cameras=())
    s1 = env.reset(1)['state']
    s2 = env.reset(2)['state']
    assert np.linalg.norm(s1 - s2) > 0.01
    ex = ScriptedExpert(env)
    env.reset(5)
    a = _rollout(env, ex, 60)
    env2 = BimanualEnv('sort', cameras=(), seed=5)
    b = _rollout(env2, ScriptedExpert(env2), 60)
    np.testing.assert_array_equal(a, b)


def test_save_restore_is_exact():
    env = BimanualEnv('handover', cameras=())
    ex = ScriptedExpert(env)
    env.reset(3)
    _rollout(env, ex, 40)
    saved = env.get_state()
    first = _rollout(env, ex, 50)
    env.reset(7)
    _rollout(env, ex, 10)
    env.set_state(saved)
    assert env.step_count == 40
    np.testing.assert_array_equal(_rollout(env, ex, 50), first)


def test_plan_chunk_leaves_state_untouched_and_matches_execution():
    env = BimanualEnv('handover', cameras=())
    ex = ScriptedExpert(env)
    env.reset(4)
    before = env.get_state()
    chunk = ex.plan_chunk(20)
    np.testing.assert_array_equal(env.get_state().physics, before.physics)
    for k in range(20):
        np.testing.assert_allclose(ex.act(), chunk[k], atol=1e-12)
        env.step(chunk[k])


def test_bad_actions_rejected_and_limits_clipped():
    env = BimanualEnv('handover', cameras=())
    with pytest.raises(ValueError, match='14 values'):
        env.step(np.zeros(7))
    bad = np.asarray(robot.home_action())
    bad[3] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        env.step(bad)
    far = np.asarray(robot.home_action())
    far[0] = 10.0
    env.step(far)
    assert env.last_action[0] == pytest.approx(robot.ARM_CHAIN[0].upper)


def test_unknown_task_and_camera():
    with pytest.raises(ValueError, match='unknown task'):
        BimanualEnv('juggle')
    with pytest.raises(ValueError, match='unknown camera'):
        BimanualEnv('handover', cameras=('cam_low',))


def test_block_dropped_from_height_falls_and_success_needs_zone():
    env = BimanualEnv('handover', cameras=())
    env.reset(0)
    assert not env.success()
    home = robot.home_action()
    for _ in range(20):
        env.step(home)
    assert env.object_pos('block')[2] == pytest.approx(0.015, abs=2e-3)
    assert not env.success()

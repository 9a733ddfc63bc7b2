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

"""Arm command checks and trajectory playback used by the sim node."""

import math

import numpy as np
import pytest

from aloe_ros.sim import robot
from aloe_ros.sim.commands import CommandRejected, TrajectoryPlayer, check_positions

NAMES = robot.SIDE_JOINT_NAMES['left']
HOME = list(robot.HOME_ARM) + [1.0]


@pytest.mark.parametrize('values, reason', [
    (HOME[:6], 'wrong_count'),
    (HOME[:2] + [math.nan] + HOME[3:], 'non_finite'),
    (HOME[:6] + [math.inf], 'non_finite'),
    ([4.0] + HOME[1:], 'beyond_limits'),
    (HOME[:6] + [1.5], 'beyond_limits'),
])
def test_bad_positions_rejected_with_reason(values, reason):
    with pytest.raises(CommandRejected) as err:
        check_positions('left', values)
    assert err.value.reason == reason
    assert 'left arm' in str(err.value)


def test_trajectory_reordered_interpolated_and_held():
    start = np.asarray(HOME)
    goal = start.copy()
    goal[0] = 0.5
    names = list(reversed(NAMES))
    player = TrajectoryPlayer.from_points('left', 10.0, start, names,
                                          [(1.0, list(reversed(goal.tolist())))])
    np.testing.assert_allclose(player.sample(10.0), start)
    assert player.sample(10.5)[0] == pytest.approx(0.25)
    np.testing.assert_allclose(player.sample(12.0), goal)


def test_trajectory_unknown_names_and_bad_times_rejected():
    with pytest.raises(CommandRejected, match='unknown joint') as err:
        TrajectoryPlayer.from_points('left', 0.0, np.zeros(7), list(NAMES[:6]) + ['right_gripper'],
                                     [(1.0, HOME)])
    assert err.value.reason == 'unknown_joint'
    with pytest.raises(CommandRejected) as err:
        TrajectoryPlayer.from_points('left', 0.0, np.zeros(7), NAMES, [(1.0, HOME), (0.5, HOME)])
    assert err.value.reason == 'bad_time'
    with pytest.raises(CommandRejected) as err:
        TrajectoryPlayer.from_points('left', 0.0, np.zeros(7), NAMES, [])
    assert err.value.reason == 'empty'

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

"""Teleop core: takeover/handback, alignment, no jump, device silence, buttons, keys (no ROS)."""

import numpy as np
import pytest

from aloe_ros.station import teleop_core as tc
from aloe_ros.station.executor_core import DEFAULT_JOINT_NAMES

ARM = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate', 'gripper']
DT = 0.02


def make(**kw):
    cfg = dict(joint_names=DEFAULT_JOINT_NAMES, blend_ticks=4, align_tolerance=0.05,
               device_timeout=0.1)
    cfg.update(kw)
    return tc.TeleopCore(tc.TeleopConfig(**cfg))


def set_arms(core, leader=None, follower=None, now=0.0):
    for k, arm in enumerate(('left', 'right')):
        if leader is not None:
            core.on_leader(arm, ARM, np.asarray(leader, float)[k * 7:(k + 1) * 7], now)
        if follower is not None:
            core.on_follower(arm, [f'{arm}_{n}' for n in ARM],
                             np.asarray(follower, float)[k * 7:(k + 1) * 7])


def test_button_takeover_aligns_then_blends_without_jump():
    core = make()
    follower = np.full(14, 0.2)
    set_arms(core, leader=np.zeros(14), follower=follower)
    core.on_joy([1, 0, 0, 0], [], 0.0)
    out = core.tick(0.0)
    assert out.intervention_changed and core.active and core.aligning
    assert out.command is None  # executor holds while aligning
    # operator moves the leader towards the follower; still too far
    set_arms(core, leader=np.full(14, 0.1), now=DT)
    assert core.tick(DT).command is None and core.aligning
    # within tolerance: blend from the follower pose to the leader over blend_ticks
    set_arms(core, leader=np.full(14, 0.17), now=2 * DT)
    cmds = []
    for i in range(6):
        set_arms(core, leader=np.full(14, 0.17), now=(2 + i) * DT)
        cmds.append(core.tick((2 + i) * DT).command[0])
    assert not core.aligning and core.state == tc.ACTIVE
    np.testing.assert_allclose(cmds, [0.1925, 0.185, 0.1775, 0.17, 0.17, 0.17])
    assert abs(cmds[0] - follower[0]) <= 0.05  # first command is at the follower's pose (no jump)


def test_handback_by_toggle_and_outcome_buttons():
    # the button map, not the debounce, is tested here
    core = make(command_device='joy', end_debounce=0.0)
    set_arms(core, follower=np.zeros(14))
    core.on_joy([1, 0, 0, 0], [], 0.0)
    assert core.tick(0.0).command is not None and core.state == tc.ACTIVE
    core.on_joy([1, 0, 0, 0], [], DT)  # held, not a new press
    assert core.active
    core.on_joy([0, 0, 0, 0], [], 2 * DT)
    core.on_joy([1, 0, 0, 0], [], 3 * DT)
    out = core.tick(3 * DT)
    assert not core.active and out.intervention_changed and out.command is None
    core.on_joy([0, 1, 0, 0], [], 4 * DT)
    core.on_joy([0, 0, 1, 1], [], 5 * DT)
    assert core.tick(5 * DT).outcomes == [tc.OUTCOME_SUCCESS, tc.OUTCOME_FAILURE,
                                          tc.OUTCOME_ABORTED]


def test_end_episode_buttons_one_request_per_press_under_a_flood():
    core = make(command_device='joy', end_debounce=1.0)
    t = 0.0
    # A flood alternating pressed / released / malformed messages, 1000 messages in 2 s.
    for k in range(1000):
        t = k * 0.002
        msg = ([0, 1, 0, 0], [0, 0, 0, 0], [], [0, 1])[k % 4]
        core.on_joy(msg, [], t)
    outcomes = core.tick(t).outcomes
    # at t = 0 and the first press after 1 s
    assert outcomes == [tc.OUTCOME_SUCCESS, tc.OUTCOME_SUCCESS]
    assert core.debounced > 100
    # A message that leaves the button out, or an invalid one, releases nothing: no new press.
    core = make(command_device='joy', end_debounce=0.0)
    core.on_joy([0, 1, 0, 0], [], 0.0)
    core.on_joy([], [], 0.1)
    with pytest.raises(FloatingPointError):
        core.on_joy([0, 0, 0, 0], [float('nan')], 0.2)
    core.on_joy([0, 1, 0, 0], [], 0.3)
    assert core.tick(0.3).outcomes == [tc.OUTCOME_SUCCESS]
    # Keyboard: every key message is a press, debounced the same way.
    core = make(end_debounce=1.0)
    for k in range(100):
        core.on_key('s', k * 0.005)
    core.on_key('f', 2.0)
    assert core.tick(2.0).outcomes == [tc.OUTCOME_SUCCESS, tc.OUTCOME_FAILURE]


def test_joy_axes_move_targets_incrementally_from_follower():
    core = make(command_device='joy', axis_joints=['left_waist', '', 'right_gripper'],
                axis_scales=[1.0, 1.0, -0.5])
    follower = np.linspace(0, 1, 14)
    set_arms(core, follower=follower)
    core.on_key('t', 0.0)
    first = core.tick(0.0).command
    np.testing.assert_allclose(first, follower)  # no jump at takeover
    core.on_joy([0, 0, 0, 0], [0.5, 1.0, 1.0], DT)
    cmd = core.tick(DT).command
    assert cmd[0] == pytest.approx(follower[0] + 0.5 * DT)
    assert cmd[1] == follower[1]  # unmapped axis
    assert cmd[13] == pytest.approx(follower[13] - 0.5 * DT)
    core.on_joy([0, 0, 0, 0], [0.05, 0.0, 0.0], 2 * DT)  # inside the deadzone
    assert core.tick(2 * DT).command[0] == pytest.approx(cmd[0])


def test_deviation_takeover_is_armed_and_blends():
    core = make(deviation_threshold=0.3)
    set_arms(core, leader=np.full(14, 1.0), follower=np.zeros(14))
    core.tick(0.0)
    assert not core.active  # leader parked far away: not armed
    set_arms(core, leader=np.zeros(14) + 0.01, now=DT)
    core.tick(DT)
    set_arms(core, leader=np.full(14, 0.4), now=2 * DT)
    out = core.tick(2 * DT)
    assert core.active and core.trigger == tc.TRIGGER_LEADER_DEVIATION and not core.aligning
    assert out.command[0] == pytest.approx(0.1)  # blend step 1/4 from follower 0 to leader 0.4


def test_device_silent_stops_commands_and_realigns():
    core = make(align_tolerance=0.5)
    set_arms(core, leader=np.zeros(14), follower=np.zeros(14))
    core.on_key(' ', 0.0)
    for i in range(6):
        set_arms(core, leader=np.zeros(14), now=i * DT)
        core.tick(i * DT)
    assert core.state == tc.ACTIVE
    out = core.tick(1.0)
    assert out.command is None and core.silent and out.intervention_changed
    assert [n.kind for n in out.notes] == [tc.KIND_STALE_INPUT]
    assert core.tick(1.02).notes == []  # once
    set_arms(core, leader=np.zeros(14), now=1.04)
    out = core.tick(1.04)
    assert not core.silent and [n.kind for n in out.notes] == [tc.KIND_RESUMED]
    assert core.state in (tc.ALIGNING, tc.BLENDING)


def test_alignment_timeout_cancels_takeover():
    core = make(align_timeout=0.1, device_timeout=10)
    set_arms(core, leader=np.ones(14), follower=np.zeros(14))
    core.on_key('t', 0.0)
    core.tick(0.0)
    out = core.tick(0.2)
    assert not core.active and out.notes and 'takeover cancelled' in out.notes[0].message


def test_takeover_refused_without_follower_and_bad_input_rejected():
    core = make()
    core.on_key('t', 0.0)
    out = core.tick(0.0)
    assert not core.active and out.notes[0].kind == tc.KIND_REJECTED_INPUT
    with pytest.raises(ValueError, match='unknown joints'):
        core.on_leader('left', ARM[:-1] + ['thumb'], np.zeros(7), 0.0)
    with pytest.raises(FloatingPointError):
        core.on_leader('left', ARM, [np.nan] * 7, 0.0)
    with pytest.raises(ValueError):
        tc.TeleopCore(tc.TeleopConfig(DEFAULT_JOINT_NAMES, axis_joints=['elbow9'],
                                      axis_scales=[1.0]))

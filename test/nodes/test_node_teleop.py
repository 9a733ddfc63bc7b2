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

"""The teleop node as a real process over DDS: takeover, alignment, silence, outcome buttons."""

from aloe_msgs.msg import InterventionState, SafetyEvent
from aloe_msgs.srv import EndEpisode
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from sensor_msgs.msg import JointState, Joy

from aloe_ros.nodes.common import (COMMANDS, DIAGNOSTICS, EVENTS, LATCHED, SENSOR_DATA,
                                   diagnostic_values, stamp_to_sec)

pytestmark = pytest.mark.ros
ARM = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate', 'gripper']


def test_teleop_process(ros, start_node):
    proc = start_node('aloe_ros.nodes.teleop', {
        'align_tolerance': 0.05, 'blend_ticks': 3, 'device_timeout': 0.3})
    node = ros.node
    states = ros.collect(InterventionState, '/aloe/intervention', LATCHED)
    commands = ros.collect(JointState, '/aloe/teleop_command', COMMANDS)
    events = ros.collect(SafetyEvent, '/aloe/safety_event', EVENTS)
    diags = ros.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    ended = []

    def end_episode(request, response):
        ended.append(request.outcome)
        response.success = True
        response.episode_id = 'e1'
        return response
    node.create_service(EndEpisode, '/aloe/end_episode', end_episode)
    followers = {a: node.create_publisher(JointState, f'/follower_{a}/joint_states', SENSOR_DATA)
                 for a in ('left', 'right')}
    leaders = {a: node.create_publisher(JointState, f'/teleop/leader_{a}/joint_states',
                                        SENSOR_DATA)
               for a in ('left', 'right')}
    joy = node.create_publisher(Joy, '/teleop/joy', COMMANDS)
    pose = {'leader': 0.5, 'send_leader': True, 'bad': False}

    def feed():
        for a in ('left', 'right'):
            followers[a].publish(JointState(name=[f'{a}_{n}' for n in ARM], position=[0.2] * 7))
            if pose['send_leader']:
                leaders[a].publish(JointState(name=ARM, position=[pose['leader']] * 7))
            if pose['bad']:
                leaders[a].publish(JointState(name=ARM[:-1] + ['thumb'], position=[0.2] * 7))

    # Latched initial state: nobody intervenes.
    # Generous deadlines (free when on time): a node's start-up has taken 75 s under a CPU hog.
    assert ros.spin_until(lambda: states, timeout=300, every=feed), proc.output()
    assert not states[-1].active
    assert ros.wait_matched(joy, *followers.values(), *leaders.values())

    def deviation_reported():
        # the node has both poses (leader 0.5, follower 0.2) once it reports their deviation;
        # waiting on that replaces a fixed pause that a loaded machine can overrun
        return any(abs(float(diagnostic_values(d, 'teleop').get('leader_deviation', -1)) - 0.3)
                   < 1e-3 for d in diags)
    assert ros.spin_until(deviation_reported, timeout=60, every=feed), proc.output()

    # Takeover by Joy button 0: aligning while the leader is far from the follower, no commands.
    joy.publish(Joy(buttons=[1, 0, 0, 0]))
    assert ros.spin_until(lambda: states[-1].active, timeout=60, every=feed)
    assert states[-1].aligning and states[-1].trigger == InterventionState.TRIGGER_BUTTON
    ros.spin_until(lambda: False, timeout=0.5, every=feed)
    assert not commands and states[-1].leader_deviation == pytest.approx(0.3, abs=1e-6)

    # Leader brought to the follower: aligned, commands follow with no jump.
    joy.publish(Joy(buttons=[0, 0, 0, 0]))
    pose['leader'] = 0.23
    assert ros.spin_until(lambda: len(commands) > 10, timeout=60, every=feed)
    assert not states[-1].aligning
    assert len(commands[0].name) == 14 and commands[0].name[0] == 'left_waist'
    assert abs(commands[0].position[0] - 0.2) <= 0.05
    assert commands[-1].position[0] == pytest.approx(0.23)

    # Bad leader input is rejected and counted; the node keeps running.
    pose['bad'] = True

    def rejected():
        return any(int(diagnostic_values(d, 'teleop').get('rejected', '0')) > 0 for d in diags)
    assert ros.spin_until(rejected, timeout=30, every=feed)
    pose['bad'] = False

    # Leader goes silent: commands stop, a safety event tells the executor to hold. Only states
    # from here on count: under load a stalled process can find the leader silent earlier too
    # (then resume), and commands after such a spell are right.
    before = len(states)
    pose['send_leader'] = False
    assert ros.spin_until(lambda: any(e.kind == SafetyEvent.KIND_STALE_INPUT for e in events),
                          timeout=60,
                          every=feed)
    assert ros.spin_until(lambda: any(s.active and s.aligning and 'silent' in s.reason
                                      for s in states[before:]), timeout=30, every=feed)
    # the state the node published when it found the leader silent (the latest state alone may
    # be an older one: none is published when the alignment completes)
    silent = [s for s in states[before:] if s.active and s.aligning and 'silent' in s.reason]
    assert silent, [(s.aligning, s.reason) for s in states]
    silent_since = stamp_to_sec(silent[0].header.stamp)
    ros.spin_until(lambda: False, timeout=0.4, every=feed)
    # No command was sent after the node said so. Judged by the commands' stamps (the node's
    # clock), not by counting arrivals: a command sent just before may still be in flight under
    # load.
    late = [stamp_to_sec(c.header.stamp) - silent_since for c in commands
            if stamp_to_sec(c.header.stamp) > silent_since]
    assert not late, late

    # Success button ends the episode through the service and hands back.
    pose['send_leader'] = True
    joy.publish(Joy(buttons=[0, 1, 0, 0]))
    assert ros.spin_until(lambda: ended and not states[-1].active, timeout=60,
                          every=feed), proc.output()
    assert ended == [EndEpisode.Request.OUTCOME_SUCCESS]
    assert proc.alive()
    code = proc.stop()
    assert code == 0, (code, proc.output())
    assert np.isfinite(commands[-1].position).all()

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

"""Observation -> executor <- teleop as three real processes against a fake robot (slow)."""

from aloe_msgs.msg import ActionChunk, ExecutedStep
import numpy as np
import pytest
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String

from aloe_ros.station.conversions import numpy_to_image
from aloe_ros.station.executor_core import DEFAULT_JOINT_NAMES
from aloe_ros.nodes.common import COMMANDS, SENSOR_DATA, reliable

pytestmark = [pytest.mark.ros, pytest.mark.slow]
ARM = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate', 'gripper']
CAMS = ['cam_high']


def test_policy_then_human_through_the_real_graph(ros, start_node):
    start_node('aloe_ros.nodes.observation', {'camera_names': CAMS, 'slop': 0.05,
                                              'staleness_limit': 0.5})
    start_node('aloe_ros.nodes.chunk_executor', {'observation_timeout': 0.5, 'blend_steps': 0,
                                                 'command_interface': 'forward'})
    start_node('aloe_ros.nodes.teleop', {'align_tolerance': 0.05, 'blend_ticks': 2,
                                         'device_timeout': 0.5})
    node = ros.node
    steps = ros.collect(ExecutedStep, '/aloe/executed_step', reliable(200))
    forward = ros.collect(Float64MultiArray, '/right_arm_controller/commands', COMMANDS)
    cam = node.create_publisher(Image, '/cam_high/image_raw', SENSOR_DATA)
    followers = {a: node.create_publisher(JointState, f'/follower_{a}/joint_states', SENSOR_DATA)
                 for a in ('left', 'right')}
    leaders = {a: node.create_publisher(JointState, f'/teleop/leader_{a}/joint_states',
                                        SENSOR_DATA)
               for a in ('left', 'right')}
    chunk_pub = node.create_publisher(ActionChunk, '/aloe/action_chunk', reliable(5))
    keyboard = node.create_publisher(String, '/teleop/keyboard', COMMANDS)
    frame = numpy_to_image(np.zeros((48, 64, 3), np.uint8), 'rgb8')

    def robot():
        stamp = node.get_clock().now().to_msg()
        frame.header.stamp = stamp
        cam.publish(frame)
        for a in ('left', 'right'):
            js = JointState(name=[f'{a}_{n}' for n in ARM], position=[0.1] * 6 + [0.7])
            js.header.stamp = stamp
            followers[a].publish(js)
            leaders[a].publish(JointState(name=ARM, position=[0.12] * 6 + [0.7]))

    # Generous deadlines (free when on time): three nodes start at once, which has taken minutes
    # under a CPU hog.
    assert ros.spin_until(lambda: len(steps) > 3, timeout=300, every=robot, period=0.02)
    assert steps[-1].source == ExecutedStep.SOURCE_HOLD
    np.testing.assert_allclose(steps[-1].observed_position, ([0.1] * 6 + [0.7]) * 2)

    assert ros.wait_matched(chunk_pub, keyboard)
    chunk = ActionChunk(chunk_id=1, policy_version=2, horizon=200, action_dim=14,
                        joint_names=list(DEFAULT_JOINT_NAMES), dt=0.02,
                        actions=np.full(200 * 14, 0.11, np.float32).tolist())
    chunk.header.stamp = node.get_clock().now().to_msg()
    chunk_pub.publish(chunk)
    assert ros.spin_until(lambda: steps[-1].source == ExecutedStep.SOURCE_POLICY, timeout=60,
                          every=robot)
    assert steps[-1].policy_version == 2
    assert ros.spin_until(lambda: forward and forward[-1].data[0] == pytest.approx(0.11, abs=1e-6),
                          timeout=60,
                          every=robot)
    assert len(forward[-1].data) == 7

    keyboard.publish(String(data='t'))
    assert ros.spin_until(lambda: steps[-1].source == ExecutedStep.SOURCE_HUMAN, timeout=60,
                          every=robot)
    assert steps[-1].intervention
    # blend from the follower's pose to the leader's, then follow the leader
    assert ros.spin_until(lambda: abs(steps[-1].action[0] - 0.12) < 1e-6
                          and sum(s.source == ExecutedStep.SOURCE_HUMAN for s in steps) >= 5,
                          timeout=60, every=robot)
    # No jump from the last step before the takeover on. (Under load the executor may hear the
    # intervention after the teleop node finished its blend: its first human step is then the
    # leader's pose, one 0.01 step from the chunk's; judged across the hand-over, not only among
    # human steps, of which there may be just one.)
    first_human = next(i for i, s in enumerate(steps) if s.source == ExecutedStep.SOURCE_HUMAN)
    around = [s.action[0] for s in steps[max(first_human - 1, 0):]]
    assert max(np.abs(np.diff(around))) <= 0.01 + 1e-6, around[:10]
    keyboard.publish(String(data='t'))
    assert ros.spin_until(lambda: not steps[-1].intervention, timeout=60, every=robot)

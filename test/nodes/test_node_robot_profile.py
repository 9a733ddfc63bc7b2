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

"""
A split arm/gripper robot profile through real processes: executor, observation, /joint_states.

The executor commands fake controllers (this test's subscriptions) in robot units: a
joint_trajectory arm and a joint_trajectory gripper in metres on the left, a
forward_command arm and a forward_command gripper with an inverted range on the right.
"""

import importlib.util

from aloe_msgs.msg import ActionChunk, ExecutedStep, InterventionState, Observation
import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory
import yaml

from aloe_ros.nodes.common import COMMANDS, LATCHED, latched, SENSOR_DATA, reliable
from aloe_ros.station.command_mapping import DEFAULT_ACTION_NAMES
from aloe_ros.station.conversions import numpy_to_image

pytestmark = pytest.mark.ros
ARM = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate']
NAMES = list(DEFAULT_ACTION_NAMES)
#: Left finger travel [m]: action 0 (closed) -> 0.02, 1 (open) -> 0.06; limits 0.025 .. 0.06.
CLOSED, OPEN, LOWER = 0.02, 0.06, 0.025
#: Right gripper joint [rad], inverted: action 0 -> 1.5, action 1 -> -0.5.
R_CLOSED, R_OPEN = 1.5, -0.5


def _joints(side, lower=-2.0, upper=2.0):
    return [{'action': f'{side}_{j}', 'joint': j, 'lower': lower, 'upper': upper,
             'max_velocity': 3.0} for j in ARM]


def split_profile(gripper_type='joint_trajectory'):
    """Return the split layout, under /t18 so no other test's topics mix in."""
    left_gripper = {'name': 'left_gripper', 'type': gripper_type,
                    'topic': '/t18/left_gripper_controller/' + (
                        'joint_trajectory' if gripper_type == 'joint_trajectory'
                        else 'gripper_cmd'),
                    'joints': [{'action': 'left_gripper', 'joint': 'left_finger',
                                'action_range': [0.0, 1.0], 'robot_range': [CLOSED, OPEN],
                                'lower': LOWER, 'upper': OPEN, 'max_velocity': 0.08}]}
    return {
        'robot': 'split_test',
        'command_groups': [
            {'name': 'left_arm', 'type': 'joint_trajectory',
             'topic': '/t18/left_arm_controller/joint_trajectory', 'joints': _joints('left')},
            left_gripper,
            {'name': 'right_arm', 'type': 'forward_command',
             'topic': '/t18/right_arm_controller/commands', 'joints': _joints('right')},
            {'name': 'right_gripper', 'type': 'forward_command',
             'topic': '/t18/right_gripper_controller/commands',
             'joints': [{'action': 'right_gripper', 'joint': 'gripper',
                         'action_range': [0.0, 1.0], 'robot_range': [R_CLOSED, R_OPEN],
                         'lower': R_OPEN, 'upper': R_CLOSED, 'max_velocity': 4.0}]},
        ],
        'joint_states': [
            {'topic': '/t18/follower_left/joint_states', 'arm': 'left', 'urdf_prefix': 'left_'},
            {'topic': '/t18/follower_right/joint_states', 'arm': 'right',
             'urdf_prefix': 'right_'},
        ],
        'cameras': {'cam_high': '/t18/cam_high/camera/color/image_rect_raw'},
    }


def _write(tmp_path, data, name='profile.yaml'):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _observation(node, gripper=(0.5, 0.5)):
    arm = [n for n in NAMES if 'gripper' not in n]
    msg = Observation(joint_names=arm, position=[0.0] * 12, velocity=[0.0] * 12,
                      gripper=list(gripper))
    msg.header.stamp = node.get_clock().now().to_msg()
    return msg


def _split_executor(ros, start_node, tmp_path):
    """Start an executor on the split profile; collect its steps and the four controllers'."""
    proc = start_node('aloe_ros.nodes.chunk_executor', {
        'robot_profile': _write(tmp_path, split_profile()), 'observation_timeout': 0.5,
        'blend_steps': 0})
    node = ros.node
    steps = ros.collect(ExecutedStep, '/aloe/executed_step', reliable(200))
    left_arm = ros.collect(JointTrajectory, '/t18/left_arm_controller/joint_trajectory',
                           COMMANDS)
    left_grip = ros.collect(JointTrajectory, '/t18/left_gripper_controller/joint_trajectory',
                            COMMANDS)
    right_arm = ros.collect(Float64MultiArray, '/t18/right_arm_controller/commands', COMMANDS)
    right_grip = ros.collect(Float64MultiArray, '/t18/right_gripper_controller/commands',
                             COMMANDS)
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    chunk_pub = node.create_publisher(ActionChunk, '/aloe/action_chunk', reliable(5))
    feed = lambda: obs_pub.publish(_observation(node))  # noqa: E731
    return proc, node, steps, left_arm, left_grip, right_arm, right_grip, chunk_pub, feed


def test_executor_commands_split_controllers_in_robot_units(ros, start_node, tmp_path):
    proc, node, steps, left_arm, left_grip, right_arm, right_grip, chunk_pub, feed = \
        _split_executor(ros, start_node, tmp_path)

    # Holding at the observed pose: gripper 0.5 is 0.04 m on the left, 0.5 rad on the right.
    # The ExecutedStep of a tick may arrive after its commands: wait for both (CI under load).
    assert ros.spin_until(lambda: left_grip and right_grip and left_arm and right_arm and steps,
                          timeout=60, every=feed), proc.output()
    assert left_arm[-1].joint_names == ARM
    assert left_grip[-1].joint_names == ['left_finger']
    assert left_grip[-1].points[0].positions[0] == pytest.approx(0.04)
    assert right_grip[-1].data[0] == pytest.approx(0.5)
    assert len(right_arm[-1].data) == 6
    assert steps[-1].action[6] == pytest.approx(0.5)

    # A chunk that closes both grippers fully (action 0) and moves the arms to 0.1: the left
    # gripper stops at its robot limit 0.025 m (action 0.125), the right one reaches 1.5 rad.
    target = [0.1] * 6 + [0.0] + [0.1] * 6 + [0.0]
    chunk = ActionChunk(chunk_id=1, policy_version=3, horizon=200, action_dim=14,
                        joint_names=NAMES, dt=0.02,
                        actions=np.tile(np.asarray(target, np.float32), 200).tolist())
    assert ros.wait_matched(chunk_pub)
    chunk.header.stamp = node.get_clock().now().to_msg()
    chunk_pub.publish(chunk)

    def settled():
        # Commands and executed steps arrive on separate topics: wait for both to show it.
        return (left_grip and right_grip and left_arm and right_arm and steps
                and abs(left_grip[-1].points[0].positions[0] - LOWER) < 1e-6
                and abs(right_grip[-1].data[0] - R_CLOSED) < 1e-6
                and np.allclose(left_arm[-1].points[0].positions, [0.1] * 6, atol=1e-6)
                and np.allclose(right_arm[-1].data, [0.1] * 6, atol=1e-6)
                # Executed steps stay in action units: the clamp shows as 0.125.
                and abs(steps[-1].action[6] - 0.125) < 1e-6
                and abs(steps[-1].action[13]) < 1e-6
                and steps[-1].source == ExecutedStep.SOURCE_POLICY)
    assert ros.spin_until(settled, timeout=20, every=feed), (
        left_grip[-1].points[0].positions, right_grip[-1].data, left_arm[-1].points[0].positions,
        right_arm[-1].data, steps[-1].action, proc.output())
    # Never outside the robot limits, at any tick, and never faster than 0.08 m/s (2/s in action
    # units: 0.04 per tick between consecutive steps).
    fingers = [m.points[0].positions[0] for m in left_grip]
    assert min(fingers) >= LOWER - 1e-9 and max(fingers) <= OPEN + 1e-9
    moves = [abs(b.action[6] - a.action[6]) for a, b in zip(steps, steps[1:])
             if b.step_index == a.step_index + 1]
    assert moves and max(moves) <= 0.04 + 1e-6
    assert proc.alive()


def test_split_profile_executor_holds_on_faults_in_robot_units(ros, start_node, tmp_path):
    """
    A NaN chunk, then silence on /aloe/observation: each controller holds the last safe target.

    Each in its own units (the left finger in metres, the right gripper in inverted radians),
    and the executed steps say HOLD.
    """
    proc, node, steps, left_arm, left_grip, right_arm, right_grip, chunk_pub, feed = \
        _split_executor(ros, start_node, tmp_path)
    target = [0.1] * 6 + [0.25] + [-0.1] * 6 + [0.75]
    good = ActionChunk(chunk_id=1, policy_version=1, horizon=400, action_dim=14,
                       joint_names=NAMES, dt=0.02,
                       actions=np.tile(np.asarray(target, np.float32), 400).tolist())
    assert ros.spin_until(lambda: len(steps) > 3, timeout=60, every=feed), proc.output()
    assert ros.wait_matched(chunk_pub)
    good.header.stamp = node.get_clock().now().to_msg()
    chunk_pub.publish(good)
    # action 0.25 on the left: 0.02 + 0.25 * 0.04 = 0.03 m; 0.75 on the right: 1.5 - 0.75 * 2
    want_left, want_right = CLOSED + 0.25 * (OPEN - CLOSED), R_CLOSED + 0.75 * (R_OPEN - R_CLOSED)

    def at_target():
        return (left_grip and right_grip and left_arm and right_arm and steps
                and abs(left_grip[-1].points[0].positions[0] - want_left) < 1e-6
                and abs(right_grip[-1].data[0] - want_right) < 1e-6
                and np.allclose(left_arm[-1].points[0].positions, [0.1] * 6, atol=1e-6)
                and np.allclose(right_arm[-1].data, [-0.1] * 6, atol=1e-6)
                and steps[-1].source == ExecutedStep.SOURCE_POLICY)
    assert ros.spin_until(at_target, timeout=60, every=feed), proc.output()

    def holding_at_target(n_before):
        new = steps[n_before:]
        return (len(new) > 5 and all(s.source == ExecutedStep.SOURCE_HOLD for s in new[-5:])
                and abs(left_grip[-1].points[0].positions[0] - want_left) < 1e-6
                and abs(right_grip[-1].data[0] - want_right) < 1e-6
                and np.allclose(left_arm[-1].points[0].positions, [0.1] * 6, atol=1e-6)
                and np.allclose(right_arm[-1].data, [-0.1] * 6, atol=1e-6))

    # A NaN chunk (newer than the running one): refused, the executor holds its last target.
    bad = ActionChunk(chunk_id=2, policy_version=1, horizon=10, action_dim=14,
                      joint_names=NAMES, dt=0.02, actions=[float('nan')] * 140)
    bad.header.stamp = node.get_clock().now().to_msg()
    n = len(steps)
    chunk_pub.publish(bad)
    assert ros.spin_until(lambda: holding_at_target(n), timeout=60, every=feed), (
        [s.source for s in steps[n:][-5:]], proc.output())
    # Observations stop (stale after 0.5 s): still the same targets, in robot units.
    good.chunk_id = 3
    good.header.stamp = node.get_clock().now().to_msg()
    chunk_pub.publish(good)
    assert ros.spin_until(lambda: steps[-1].source == ExecutedStep.SOURCE_POLICY, timeout=60,
                          every=feed), proc.output()
    n = len(steps)
    assert ros.spin_until(lambda: holding_at_target(n), timeout=60), (
        [s.source for s in steps[n:][-5:]], proc.output())
    assert proc.alive()


def test_dry_run_logs_what_it_would_send_and_sends_nothing(ros, start_node, tmp_path):
    proc = start_node('aloe_ros.nodes.chunk_executor', {
        'robot_profile': _write(tmp_path, split_profile()), 'observation_timeout': 0.5,
        'dry_run': True})
    node = ros.node
    steps = ros.collect(ExecutedStep, '/aloe/executed_step', reliable(200))
    left_grip = ros.collect(JointTrajectory, '/t18/left_gripper_controller/joint_trajectory',
                            COMMANDS)
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    expected = ('dry run, would send: left_arm: trajectory_msgs/JointTrajectory -> '
                '/t18/left_arm_controller/joint_trajectory: waist=0')
    assert ros.spin_until(lambda: expected in proc.output(), timeout=20,
                          every=lambda: obs_pub.publish(_observation(node))), proc.output()
    assert 'left_gripper: trajectory_msgs/JointTrajectory -> ' \
           '/t18/left_gripper_controller/joint_trajectory: left_finger=0.04' in proc.output()
    # Nothing ran, so nothing is reported as executed either.
    assert not steps and not left_grip
    assert node.count_subscribers('/t18/left_gripper_controller/joint_trajectory') >= 1
    assert node.count_publishers('/t18/left_gripper_controller/joint_trajectory') == 0


def test_profile_mistakes_stop_the_executor_naming_the_key(start_node, tmp_path):
    wrong_count = split_profile()
    wrong_count['command_groups'][1]['type'] = 'gripper_action'
    wrong_count['command_groups'][1]['joints'].append(
        dict(wrong_count['command_groups'][1]['joints'][0], joint='right_finger'))
    unknown = split_profile()
    unknown['command_groups'][0]['type'] = 'velocity_controller'
    cases = [
        ({'robot_profile': _write(tmp_path, wrong_count, 'count.yaml')},
         'command_groups[1].joints: gripper_action commands exactly one joint, got 2'),
        ({'robot_profile': _write(tmp_path, unknown, 'unknown.yaml')},
         "command_groups[0].type: unknown controller type 'velocity_controller'"),
        ({'robot_profile': _write(tmp_path, split_profile(), 'both.yaml'),
          'max_velocities': [1.0] * 14},
         "the profile replaces ['max_velocities']"),
    ]
    # One at a time: every process of a module logs to the same file.
    for params, expected in cases:
        proc = start_node('aloe_ros.nodes.chunk_executor', params)
        assert proc.proc.wait(timeout=60) != 0
        assert expected in proc.output(), proc.output()


@pytest.mark.skipif(importlib.util.find_spec('control_msgs') is not None,
                    reason='control_msgs is importable here: no missing-package message')
def test_gripper_action_without_control_msgs_names_the_package(start_node, tmp_path):
    proc = start_node('aloe_ros.nodes.chunk_executor', {
        'robot_profile': _write(tmp_path, split_profile('gripper_action'))})
    assert proc.proc.wait(timeout=60) != 0
    out = proc.output()
    assert 'command_groups[1].type: gripper_action needs the ROS message package ' \
           'control_msgs' in out, out
    assert 'ros-$ROS_DISTRO-control-msgs' in out


def test_station_joint_states_and_observation_read_the_robot(ros, start_node, tmp_path):
    """Robot names and units -> /joint_states (URDF names) and Observation (action units)."""
    path = _write(tmp_path, split_profile())
    merger = start_node('aloe_ros.nodes.station_joint_states', {'robot_profile': path})
    observation = start_node('aloe_ros.nodes.observation', {
        'robot_profile': path, 'camera_names': ['cam_high'], 'image_height': 8,
        'image_width': 8, 'slop': 0.05, 'staleness_limit': 0.5})
    node = ros.node
    combined = ros.collect(JointState, '/joint_states', reliable(10))
    out = ros.collect(Observation, '/aloe/observation', SENSOR_DATA)
    cam = node.create_publisher(Image, '/t18/cam_high/camera/color/image_rect_raw', SENSOR_DATA)
    left = node.create_publisher(JointState, '/t18/follower_left/joint_states', SENSOR_DATA)
    right = node.create_publisher(JointState, '/t18/follower_right/joint_states', SENSOR_DATA)
    image = np.zeros((8, 8, 3), np.uint8)

    def feed():
        stamp = node.get_clock().now().to_msg()
        img = numpy_to_image(image, 'rgb8')
        img.header.stamp = stamp
        cam.publish(img)
        # Interbotix-style: arm joints, the gripper joint, both fingers, robot units.
        msg = JointState(name=ARM + ['gripper', 'left_finger', 'right_finger'],
                         position=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9, 0.05, -0.05])
        msg.header.stamp = stamp
        left.publish(msg)
        msg = JointState(name=['gripper'] + ARM, position=[1.0, -0.1, -0.2, -0.3, -0.4, -0.5,
                                                           -0.6])
        msg.header.stamp = stamp
        right.publish(msg)

    assert ros.spin_until(lambda: combined and out, timeout=30, every=feed, period=0.03), (
        merger.output(), observation.output())
    js = combined[-1]
    left_names = [f'left_{j}' for j in ARM + ['gripper', 'left_finger', 'right_finger']]
    assert js.name == left_names + ['right_gripper'] + [f'right_{j}' for j in ARM]
    assert js.position[7] == pytest.approx(0.05) and js.header.stamp.sec > 0
    obs = out[-1]
    assert obs.joint_names == [n for n in NAMES if 'gripper' not in n]
    np.testing.assert_allclose(obs.position, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6,
                                              -0.1, -0.2, -0.3, -0.4, -0.5, -0.6], atol=1e-9)
    # Left: 0.05 m of finger travel is action 0.75; right: 1.0 rad is action 0.25 (inverted).
    np.testing.assert_allclose(obs.gripper, [0.75, 0.25], atol=1e-9)
    assert merger.alive() and observation.alive()


def test_observation_passes_each_cameras_calibration_on_for_the_policy_image(ros, start_node,
                                                                             tmp_path):
    """The CameraInfo next to the profile's image topic gives the resized image's calibration."""
    path = _write(tmp_path, split_profile())
    observation = start_node('aloe_ros.nodes.observation', {
        'robot_profile': path, 'camera_names': ['cam_high'], 'image_height': 6,
        'image_width': 8, 'slop': 0.05, 'staleness_limit': 0.5})
    node = ros.node
    scaled = ros.collect(CameraInfo, '/aloe/observation/cam_high/camera_info', latched(1))
    out = ros.collect(Observation, '/aloe/observation', SENSOR_DATA)
    cam = node.create_publisher(Image, '/t18/cam_high/camera/color/image_rect_raw', SENSOR_DATA)
    info_pub = node.create_publisher(CameraInfo, '/t18/cam_high/camera/color/camera_info',
                                     SENSOR_DATA)
    left = node.create_publisher(JointState, '/t18/follower_left/joint_states', SENSOR_DATA)
    right = node.create_publisher(JointState, '/t18/follower_right/joint_states', SENSOR_DATA)
    # A 40x30 camera; the policy sees it at 8x6 (a fifth).
    info = CameraInfo(width=40, height=30, distortion_model='plumb_bob', d=[0.1, 0, 0, 0, 0],
                      k=[50.0, 0, 19.5, 0, 50.0, 14.5, 0, 0, 1],
                      r=[1.0, 0, 0, 0, 1, 0, 0, 0, 1],
                      p=[50.0, 0, 19.5, 0, 0, 50.0, 14.5, 0, 0, 0, 1, 0])
    info.header.frame_id = 'cam_high_optical_frame'

    def feed(calibration=info):
        stamp = node.get_clock().now().to_msg()
        img = numpy_to_image(np.zeros((30, 40, 3), np.uint8), 'rgb8')
        img.header.stamp = stamp
        img.header.frame_id = 'cam_high_optical_frame'
        cam.publish(img)
        calibration.header.stamp = stamp
        info_pub.publish(calibration)
        msg = JointState(name=ARM + ['left_finger'], position=[0.0] * 6 + [0.04])
        msg.header.stamp = stamp
        left.publish(msg)
        msg = JointState(name=ARM + ['gripper'], position=[0.0] * 7)
        msg.header.stamp = stamp
        right.publish(msg)

    assert ros.spin_until(lambda: scaled and out, timeout=60, every=feed, period=0.03), \
        observation.output()
    got = scaled[-1]
    assert (got.width, got.height) == (8, 6)
    assert got.header.frame_id == 'cam_high_optical_frame' == out[-1].images[0].header.frame_id
    # fx' = fx / 5, cx' = (cx + 0.5) / 5 - 0.5: the same rays through the resized pixels.
    assert list(got.k) == pytest.approx([10.0, 0, 3.5, 0, 10.0, 2.5, 0, 0, 1])
    assert list(got.p) == pytest.approx([10.0, 0, 3.5, 0, 0, 10.0, 2.5, 0, 0, 0, 1, 0])
    assert list(got.d) == pytest.approx([0.1, 0, 0, 0, 0])
    # The same calibration again is not sent again; one for another image size is refused.
    ros.spin_for(0.5)
    count = len(scaled)
    wrong = CameraInfo(width=640, height=480, k=[600.0, 0, 320, 0, 600, 240, 0, 0, 1],
                       p=[600.0, 0, 320, 0, 0, 600, 240, 0, 0, 0, 1, 0])
    assert ros.spin_until(lambda: 'CameraInfo for 640x480 images, the camera sends 40x30'
                          in observation.output(), timeout=60,
                          every=lambda: feed(wrong)), observation.output()
    assert len(scaled) == count and observation.alive()


def test_teleop_reads_leaders_and_followers_through_the_profile(ros, start_node, tmp_path):
    """Leader and follower arms in robot units and names -> teleop commands in action units."""
    data = split_profile()
    # Leaders: the arm joints as on the followers; the left leader's finger travels 0.01..0.03 m.
    data['leaders'] = [
        {'topic': '/t18/leader_left/joint_states', 'arm': 'left',
         'joints': [{'action': f'left_{j}', 'joint': j} for j in ARM]
         + [{'action': 'left_gripper', 'joint': 'left_finger', 'action_range': [0.0, 1.0],
             'robot_range': [0.01, 0.03]}]},
        {'topic': '/t18/leader_right/joint_states', 'arm': 'right',
         'joints': [{'action': f'right_{j}', 'joint': j} for j in ARM]
         + [{'action': 'right_gripper', 'joint': 'gripper', 'action_range': [0.0, 1.0],
             'robot_range': [R_CLOSED, R_OPEN]}]},
    ]
    proc = start_node('aloe_ros.nodes.teleop', {
        'robot_profile': _write(tmp_path, data), 'align_tolerance': 0.05, 'blend_ticks': 1})
    node = ros.node
    states = ros.collect(InterventionState, '/aloe/intervention', LATCHED)
    commands = ros.collect(JointState, '/aloe/teleop_command', COMMANDS)
    keys = node.create_publisher(String, '/teleop/keyboard', COMMANDS)
    pubs = {name: node.create_publisher(JointState, f'/t18/{name}/joint_states', SENSOR_DATA)
            for name in ('follower_left', 'follower_right', 'leader_left', 'leader_right')}
    # Both followers and leaders half open: 0.04 m, 0.02 m and 0.5 rad (both right grippers).
    pose = {'leader_finger': 0.02, 'leader_right': 0.5}

    def feed():
        pubs['follower_left'].publish(JointState(name=ARM + ['left_finger', 'right_finger'],
                                                 position=[0.2] * 6 + [0.04, -0.04]))
        pubs['follower_right'].publish(JointState(name=['gripper'] + ARM,
                                                  position=[0.5] + [0.2] * 6))
        pubs['leader_left'].publish(JointState(name=ARM + ['left_finger'],
                                               position=[0.2] * 6 + [pose['leader_finger']]))
        pubs['leader_right'].publish(JointState(name=ARM + ['gripper'],
                                                position=[0.2] * 6 + [pose['leader_right']]))

    assert ros.spin_until(lambda: states, timeout=300, every=feed), proc.output()
    assert ros.wait_matched(keys, *pubs.values())
    # Read in action units, leader and follower agree (deviation 0): takeover aligns at once.
    ros.spin_until(lambda: False, timeout=1.0, every=feed)
    keys.publish(String(data='t'))
    assert ros.spin_until(lambda: commands and states[-1].active and not states[-1].aligning,
                          timeout=60, every=feed), proc.output()
    assert commands[-1].name == NAMES
    np.testing.assert_allclose(commands[-1].position, [0.2] * 6 + [0.5] + [0.2] * 6 + [0.5],
                               atol=1e-9)
    # Leader grippers fully open: 0.03 m on the left, -0.5 rad on the right are action 1.0.
    pose.update(leader_finger=0.03, leader_right=R_OPEN)
    assert ros.spin_until(lambda: np.allclose([commands[-1].position[6],
                                               commands[-1].position[13]], [1.0, 1.0]),
                          timeout=60, every=feed), commands[-1].position
    assert proc.alive()


def test_teleop_refuses_follower_topics_with_a_profile(start_node, tmp_path):
    proc = start_node('aloe_ros.nodes.teleop', {
        'robot_profile': _write(tmp_path, split_profile()),
        'follower_topics': ['/a/joint_states', '/b/joint_states']})
    assert proc.proc.wait(timeout=60) != 0
    assert "the profile replaces ['follower_topics']" in proc.output(), proc.output()

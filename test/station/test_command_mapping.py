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

"""Robot profiles without a ROS graph: unit conversion both ways, limits, validation errors."""

import copy
import os

import numpy as np
import pytest
import yaml

from aloe_ros.sim import robot
from aloe_ros.station import command_mapping as cm
from aloe_ros.station.joint_state_merge import JointStateMerger

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ROBOTS = os.path.join(ROOT, 'config', 'robots')
ARM = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate')
#: Finger travel of the split-gripper profile below [m]: 0 -> closed (0.02), 1 -> open (0.06).
CLOSED, OPEN = 0.02, 0.06


def split_profile():
    """Per arm: a joint_trajectory arm (robot names unprefixed) and a metres gripper."""
    groups, sources = [], []
    for side in ('left', 'right'):
        groups.append({'name': f'{side}_arm', 'type': 'joint_trajectory',
                       'topic': f'/{side}/arm_controller/joint_trajectory',
                       'joints': [{'action': f'{side}_{j}', 'joint': j, 'lower': -2.0,
                                   'upper': 2.0, 'max_velocity': 3.0} for j in ARM]})
        groups.append({'name': f'{side}_gripper', 'type': 'gripper_action',
                       'topic': f'/{side}/gripper_controller/gripper_cmd',
                       'joints': [{'action': f'{side}_gripper', 'joint': 'left_finger',
                                   'action_range': [0.0, 1.0], 'robot_range': [CLOSED, OPEN],
                                   'lower': 0.025, 'upper': OPEN, 'max_velocity': 0.08}]})
        sources.append({'topic': f'/{side}/joint_states', 'arm': side,
                        'urdf_prefix': f'{side}_'})
    return {'robot': 'split', 'command_groups': groups, 'joint_states': sources}


def error_key(data):
    with pytest.raises(cm.ProfileError) as info:
        cm.profile_from_dict(data, 'test.yaml')
    assert str(info.value).startswith('robot profile test.yaml: ' + info.value.key + ': ')
    return info.value.key, str(info.value)


def test_round_trip_and_units():
    profile = cm.profile_from_dict(split_profile())
    assert profile.action_names == list(cm.DEFAULT_ACTION_NAMES)
    action = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.75,
                       1.1, -1.2, 1.3, -1.4, 1.5, -1.6, 0.5])
    commands = {g.name: (g, v) for g, v in profile.commands(action)}
    group, values = commands['left_arm']
    assert group.joint_names == list(ARM)
    np.testing.assert_allclose(values, action[:6])
    group, values = commands['right_gripper']
    assert group.type == 'gripper_action' and group.joint_names == ['left_finger']
    np.testing.assert_allclose(values, [CLOSED + 0.5 * (OPEN - CLOSED)])
    np.testing.assert_allclose(commands['left_gripper'][1], [CLOSED + 0.75 * (OPEN - CLOSED)])

    # The robot's joint state (with joints the policy does not read) comes back in action units.
    left = commands['left_arm'][1].tolist() + commands['left_gripper'][1].tolist()
    names = ['right_finger'] + list(ARM) + ['left_finger']
    position = [-0.03] + left
    velocity = [0.0] + [0.5] * 6 + [0.004]
    out_names, pos, vel = profile.state_to_action(profile.source_for_arm('left'), names,
                                                  position, velocity)
    assert out_names == list(cm.DEFAULT_ACTION_NAMES[:7])
    np.testing.assert_allclose(pos, action[:7])
    np.testing.assert_allclose(vel, [0.5] * 6 + [0.004 / (OPEN - CLOSED)])
    with pytest.raises(ValueError, match=r"missing joints \['left_finger'\]"):
        profile.state_to_action(0, list(ARM), left[:6], [])


def test_limits_in_both_units():
    profile = cm.profile_from_dict(split_profile())
    lower, upper, vmax = profile.action_limits()
    # Gripper: robot [0.025, 0.06] m -> action [0.125, 1.0]; 0.08 m/s -> 2/s.
    np.testing.assert_allclose([lower[6], upper[6], vmax[6]], [0.125, 1.0, 2.0])
    np.testing.assert_allclose([lower[0], upper[0], vmax[0]], [-2.0, 2.0, 3.0])
    # A target outside the limits leaves the mapping clipped into the robot-unit limits.
    action = np.zeros(14)
    action[6], action[0] = -1.0, 9.0
    commands = {g.name: v for g, v in profile.commands(action)}
    assert commands['left_gripper'][0] == pytest.approx(0.025)
    assert commands['left_arm'][0] == pytest.approx(2.0)
    # A negative scale (robot closes at the high end) swaps the bounds in action units.
    data = split_profile()
    data['command_groups'][1]['joints'][0].update(robot_range=[OPEN, CLOSED])
    lower, upper, _ = cm.profile_from_dict(data).action_limits()
    np.testing.assert_allclose([lower[6], upper[6]], [0.0, 0.875])
    with pytest.raises(ValueError, match='13 values'):
        profile.commands(np.zeros(13))


def test_validation_names_the_key():
    data = split_profile()
    data['command_groups'][3]['joints'].append(copy.deepcopy(
        data['command_groups'][3]['joints'][0]))
    key, message = error_key(data)
    assert key == 'command_groups[3].joints'
    assert 'gripper_action commands exactly one joint, got 2' in message

    data = split_profile()
    data['command_groups'][0]['type'] = 'effort_controller'
    key, message = error_key(data)
    assert key == 'command_groups[0].type' and 'unknown controller type' in message
    assert 'joint_trajectory' in message

    data = split_profile()
    del data['command_groups'][2]['joints'][4]['upper']
    assert error_key(data)[0] == 'command_groups[2].joints[4].upper'

    data = split_profile()
    data['command_groups'][0]['joints'][1]['lower'] = 5.0
    assert error_key(data)[0] == 'command_groups[0].joints[1].lower'

    data = split_profile()
    data['command_groups'][1]['joints'][0]['robot_range'] = [0.02, 0.02]
    assert error_key(data)[0] == 'command_groups[1].joints[0].robot_range'

    data = split_profile()
    del data['command_groups'][1]['joints'][0]['action_range']
    assert error_key(data)[0] == 'command_groups[1].joints[0].action_range'

    data = split_profile()
    data['command_groups'][1]['joints'][0]['action'] = 'left_elbow'
    key, message = error_key(data)
    assert key == 'command_groups[1].joints[0].action'
    assert 'already commanded by command_groups[0]' in message

    data = split_profile()
    del data['command_groups'][3]
    key, message = error_key(data)
    assert key == 'command_groups' and "['right_gripper']" in message

    data = split_profile()
    data['command_groups'][0]['joints'][0]['max_velocity'] = 0
    assert error_key(data)[0] == 'command_groups[0].joints[0].max_velocity'

    data = split_profile()
    data['command_groups'][0]['joints'][0]['lowr'] = 0
    assert error_key(data)[0] == 'command_groups[0].joints[0].lowr'

    data = split_profile()
    data['joint_states'][1]['arm'] = 'left'
    assert error_key(data)[0] == 'joint_states[1].arm'

    data = split_profile()
    del data['joint_states'][1]
    key, message = error_key(data)
    assert key == 'joint_states' and 'right_gripper' in message

    data = split_profile()
    data['command_groups'].append({'name': 'x', 'type': 'interbotix_group', 'topic': '/x',
                                   'joints': data['command_groups'][0]['joints']})
    assert error_key(data)[0] == 'command_groups[4].interbotix_name'

    data = split_profile()
    data['command_groups'][1]['max_effort'] = -1.0
    assert error_key(data)[0] == 'command_groups[1].max_effort'

    data = split_profile()
    data['cameras'] = {'cam_high': ''}
    assert error_key(data)[0] == 'cameras.cam_high'

    data = split_profile()
    data['cameras'] = {'cam_high': {'info': '/cam_high/camera_info'}}
    assert error_key(data)[0] == 'cameras.cam_high.image'

    data = split_profile()
    data['cameras'] = {'cam_high': {'image': '/a/image_raw', 'calibration': '/a/info'}}
    assert error_key(data)[0] == 'cameras.cam_high.calibration'

    data = split_profile()
    data['joint_state'] = data.pop('joint_states')
    assert error_key(data)[0] == 'joint_state'


def test_load_reports_the_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('command_groups: [\n')
    with pytest.raises(cm.ProfileError, match=r'bad.yaml: \(file\): not valid YAML'):
        cm.load_profile(str(path))
    with pytest.raises(cm.ProfileError, match='cannot read'):
        cm.load_profile(str(tmp_path / 'missing.yaml'))


def test_sim_station_profile_is_the_sim():
    """The shipped sim profile: one 7-joint trajectory group per arm, the sim's own limits."""
    profile = cm.load_profile(os.path.join(ROBOTS, 'aloe_sim_station.yaml'))
    lower, upper, vmax = profile.action_limits()
    sim_lower, sim_upper = robot.joint_limits()
    np.testing.assert_allclose(lower, sim_lower, atol=1e-4)
    np.testing.assert_allclose(upper, sim_upper, atol=1e-4)
    np.testing.assert_allclose(vmax, [20.0] * 6 + [50.0] + [20.0] * 6 + [50.0])
    # relative names: the sim's own topics in whatever namespace the station runs
    assert [(g.type, g.topic, g.joint_names) for g in profile.groups] == [
        ('joint_trajectory', f'{s}_arm_controller/joint_trajectory',
         list(robot.SIDE_JOINT_NAMES[s])) for s in robot.SIDES]
    action = np.array(robot.home_action())
    for group, values in profile.commands(action):
        np.testing.assert_array_equal(values, action[group.action_index])
    assert [s.topic for s in profile.sources] == ['follower_left/joint_states',
                                                  'follower_right/joint_states']


def test_sim_station_forward_profile_differs_only_in_the_command_type():
    plain = cm.load_profile(os.path.join(ROBOTS, 'aloe_sim_station.yaml'))
    forward = cm.load_profile(os.path.join(ROBOTS, 'aloe_sim_station_forward.yaml'))
    assert [(g.type, g.topic) for g in forward.groups] == [
        ('forward_command', f'{s}_arm_controller/commands') for s in robot.SIDES]
    for a, b in zip(plain.action_limits(), forward.action_limits()):
        np.testing.assert_array_equal(a, b)
    assert [g.joint_names for g in forward.groups] == [g.joint_names for g in plain.groups]


def test_aloha_profiles():
    profile = cm.load_profile(os.path.join(ROBOTS, 'aloha.yaml'))
    assert [g.type for g in profile.groups] == ['joint_trajectory', 'gripper_action'] * 2
    assert profile.required_packages() == ['trajectory_msgs', 'control_msgs']
    arm, gripper = profile.groups[:2]
    assert arm.joint_names == list(ARM) and gripper.joint_names == ['left_finger']
    assert profile.cameras['cam_high'] == 'cam_high/camera/color/image_rect_raw'
    # realsense2_camera publishes the calibration next to the image.
    assert profile.camera_info['cam_high'] == 'cam_high/camera/color/camera_info'
    closed = {g.name: v for g, v in profile.commands(np.zeros(14))}
    assert closed['left_gripper'][0] == pytest.approx(0.01844)
    lower, upper, _ = profile.action_limits()
    assert (lower[6], upper[6]) == (pytest.approx(0.0), pytest.approx(1.0))
    interbotix = cm.load_profile(os.path.join(ROBOTS, 'aloha_interbotix.yaml'))
    assert interbotix.required_packages() == ['interbotix_xs_msgs']
    assert interbotix.groups[0].options['interbotix_name'] == 'arm'
    gazebo = cm.load_profile(os.path.join(ROBOTS, 'aloe_gazebo.yaml'))
    assert gazebo.groups[0].joint_names == list(robot.SIDE_JOINT_NAMES['left'])


def test_legacy_parameters_profile():
    names = list(cm.DEFAULT_ACTION_NAMES)
    profile = cm.legacy_profile(names, ['left', 'right'], ['la', 'ra'], 'forward',
                                [-1.0] * 14, [1.0] * 14, [2.0] * 14)
    assert [(g.type, g.topic) for g in profile.groups] == [
        ('forward_command', 'la/commands'), ('forward_command', 'ra/commands')]
    assert profile.groups[1].joint_names == names[7:]
    with pytest.raises(cm.ProfileError, match="no joint in joint_names starts with 'top_'"):
        cm.legacy_profile(names, ['top'], ['c'], 'trajectory', [0] * 14, [1] * 14, [1] * 14)


def test_dry_run_cli(capsys):
    assert cm.main([os.path.join(ROBOTS, 'aloha.yaml'),
                    '--action', ','.join(['0'] * 6 + ['1'] + ['0'] * 7)]) == 0
    out = capsys.readouterr().out
    assert 'left_gripper: control_msgs/action/GripperCommand -> ' \
           'follower_left/gripper_controller/gripper_cmd: left_finger=0.058' in out
    assert 'right_gripper: control_msgs/action/GripperCommand -> ' \
           'follower_right/gripper_controller/gripper_cmd: left_finger=0.01844' in out
    assert 'left_gripper -> left_gripper/left_finger: robot [0.01844, 0.058]' in out


def test_merger_combines_under_urdf_names():
    profile = cm.profile_from_dict(split_profile())
    merger = JointStateMerger(profile)
    merger.add(0, list(ARM) + ['left_finger'], [0.0] * 7, [0.1] * 7, [], 1.0)
    assert merger.combined() is None and merger.waiting_for() == ['/right/joint_states']
    merger.add(1, ['waist', 'left_finger'], [0.5, 0.03], [], [], 1.5)
    combined = merger.combined()
    assert combined.name == [f'left_{j}' for j in ARM] + ['left_left_finger', 'right_waist',
                                                          'right_left_finger']
    assert combined.stamp == 1.5 and combined.position[-2:] == [0.5, 0.03]
    assert combined.velocity == [] and combined.effort == []
    assert merger.combined() is None  # nothing new
    with pytest.raises(ValueError, match='2 names but 1 positions'):
        merger.add(1, ['waist', 'left_finger'], [0.5], [], [], 2.0)
    with pytest.raises(ValueError, match='before the previous'):
        merger.add(1, ['waist', 'left_finger'], [0.5, 0.03], [], [], 1.0)

    data = split_profile()
    data['joint_states'][1]['urdf_prefix'] = 'left_'
    merger = JointStateMerger(cm.profile_from_dict(data))
    merger.add(0, ['waist', 'left_finger'] + list(ARM[1:]), [0.0] * 7, [], [], 1.0)
    merger.add(1, list(ARM) + ['left_finger'], [0.0] * 7, [], [], 1.0)
    with pytest.raises(ValueError, match='more than one source'):
        merger.combined()
    data['joint_states'][1]['topic'] = '/left/joint_states'
    with pytest.raises(ValueError, match=r'joint_states\[1\].topic'):
        JointStateMerger(cm.profile_from_dict(data))


def test_shipped_profiles_are_yaml_data():
    """Every file in config/robots/ is either a profile or a ROS parameter file, and loads."""
    for name in sorted(os.listdir(ROBOTS)):
        with open(os.path.join(ROBOTS, name)) as f:
            data = yaml.safe_load(f)
        if 'command_groups' in data:
            cm.load_profile(os.path.join(ROBOTS, name))
        else:
            assert 'ros__parameters' in data['/**/chunk_executor'], name


def test_camera_info_topics():
    """The CameraInfo topic is next to the image (image_transport's) unless the profile says."""
    assert cm.camera_info_topic('/cam_high/image_raw') == '/cam_high/camera_info'
    assert cm.camera_info_topic('/cam/camera/color/image_rect_raw') == \
        '/cam/camera/color/camera_info'
    data = split_profile()
    data['cameras'] = {'cam_high': '/top/color/image_raw',
                       'cam_left_wrist': {'image': '/lw/image_rect', 'info': '/lw/calib'},
                       'cam_right_wrist': {'image': '/rw/image_rect'}}
    profile = cm.profile_from_dict(data)
    assert profile.cameras == {'cam_high': '/top/color/image_raw',
                               'cam_left_wrist': '/lw/image_rect',
                               'cam_right_wrist': '/rw/image_rect'}
    assert profile.camera_info == {'cam_high': '/top/color/camera_info',
                                   'cam_left_wrist': '/lw/calib',
                                   'cam_right_wrist': '/rw/camera_info'}
    sim = cm.load_profile(os.path.join(ROBOTS, 'aloe_sim_station.yaml'))
    assert sim.camera_info == {c: f'{c}/camera_info' for c in robot.CAMERAS}


def test_leaders_read_through_their_own_map():
    """The teleop node's view: ALOHA's smaller leader gripper reads as the same 0..1 opening."""
    profile = cm.load_profile(os.path.join(ROBOTS, 'aloha.yaml'))
    names = list(ARM) + ['gripper', 'left_finger', 'right_finger']
    # Leader finger half open (0.01244 .. 0.02417 m), follower finger half open (0.01844 .. 0.058).
    leader = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, -1.0, (0.01244 + 0.02417) / 2, -0.02]
    out, pos = profile.leader_to_action('left', names, leader)
    assert out == [f'left_{j}' for j in ARM] + ['left_gripper']
    np.testing.assert_allclose(pos, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.5])
    follower = leader[:7] + [(0.01844 + 0.058) / 2, -0.03]
    _, fpos, _ = profile.state_to_action(profile.source_for_arm('left'), names, follower, [])
    np.testing.assert_allclose(fpos, pos)
    with pytest.raises(ValueError, match=r"missing joints \['left_finger'\] \(profile leaders"):
        profile.leader_to_action('left', names[:7], leader[:7])
    # Without leaders a leader arm reads like its follower.
    data = split_profile()
    plain = cm.profile_from_dict(data)
    _, pos = plain.leader_to_action('right', list(ARM) + ['left_finger'], [0.0] * 6 + [OPEN])
    assert pos[-1] == pytest.approx(1.0)
    # The leaders section is validated like joint_states, naming its own key.
    data['leaders'] = [{'topic': '/l/joint_states', 'arm': 'left'}]
    key, message = error_key(data)
    assert key == 'leaders' and 'right_waist' in message
    data['leaders'] = [{'topic': '/l', 'arm': 'left', 'joints': [{'action': 'left_waist'}]}]
    assert error_key(data)[0] == 'leaders[0].joints[0].joint'

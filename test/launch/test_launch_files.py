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
Every shipped launch file parses and references only things that exist.

Checked per launch file and per argument branch: the package and executable of every node
(ours: a console script in setup.py; others: only in the allowed list of ROS packages users
install), every parameter file, and every parameter name against what the node declares.
"""

import ast
import importlib
import os

import pytest
import yaml

from aloe_ros.launch_tools import PackageResolver, validate_launch_file
from aloe_ros.station.command_mapping import load_profile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAUNCH_DIR = os.path.join(ROOT, 'launch')
EXTERNAL_EXECUTABLES = {'robot_state_publisher': 'robot_state_publisher', 'rviz2': 'rviz2',
                        'joy': 'joy_node',
                        'ros_gz_sim': 'create', 'ros_gz_bridge': 'parameter_bridge',
                        'controller_manager': 'spawner'}
EXTERNAL = sorted(EXTERNAL_EXECUTABLES)

# Launch file -> argument sets to validate (each selects a branch). `use_rsp:=false` skips the
# robot_state_publisher include, whose `$(command ...)` substitution only real ros2 launch
# evaluates.
BRANCHES = {
    'sim_train.launch.yaml': [{}],
    'sim.launch.yaml': [{'use_rsp': 'false'}, {'use_rsp': 'false', 'managed': 'true'}],
    'bimanual_robot.launch.yaml': [{'use_rsp': 'false'},
                                   {'use_rsp': 'false', 'with_learner': 'false'},
                                   {'use_rsp': 'false', 'managed': 'true'}],
    'learner_only.launch.yaml': [{'store_root': '/tmp/store', 'weights_dir': '/tmp/weights'}],
    'teleop_rviz.launch.yaml': [{'station': 'sim'}, {'station': 'robot'}],
    'gazebo.launch.yaml': [],
    'description.launch.yaml': [],
}


def console_scripts():
    """Return {executable: module} from setup.py."""
    tree = ast.parse(open(os.path.join(ROOT, 'setup.py')).read())
    for node in ast.walk(tree):
        if isinstance(node,
                      ast.Assign) and getattr(node.targets[0], 'id', '') == 'CONSOLE_SCRIPTS':
            entries = [ast.literal_eval(e) for e in node.value.elts]
            return {e.split('=')[0].strip(): e.split('=')[1].strip().split(':')[0]
                    for e in entries}
    raise AssertionError('no CONSOLE_SCRIPTS in setup.py')


def known_executables():
    """Map each of our node executables to the parameter names its module declares."""
    known = {}
    for exe, module in console_scripts().items():
        mod = importlib.import_module(module)
        known[exe] = set(mod.PARAMETERS) if hasattr(mod, 'PARAMETERS') else None
    for pkg in EXTERNAL:
        known[f'{pkg}/{EXTERNAL_EXECUTABLES[pkg]}'] = None
    return known


def test_every_launch_file_is_covered():
    files = sorted(f for f in os.listdir(LAUNCH_DIR) if f.endswith('.launch.yaml'))
    assert files and set(files) == set(BRANCHES), 'add new launch files to BRANCHES'


@pytest.mark.parametrize('name', sorted(BRANCHES))
def test_launch_file_is_ros2_yaml_launch(name):
    """Plain YAML, a top-level `launch:` list of one-key tag mappings (what launch_ros reads)."""
    with open(os.path.join(LAUNCH_DIR, name)) as f:
        data = yaml.safe_load(f)
    assert list(data) == ['launch'] and isinstance(data['launch'], list)
    tags = {'arg', 'let', 'node', 'include', 'group', 'executable', 'set_env'}
    for entry in data['launch']:
        assert isinstance(entry, dict) and len(entry) == 1 and next(iter(entry)) in tags, entry
    entries = list(data['launch'])
    for entry in entries:  # a group's children are checked like top-level entries
        if isinstance(entry.get('group'), list):
            entries += entry['group']
            assert all(isinstance(e, dict) and len(e) == 1 for e in entry['group']), entry
    for entry in entries:
        node = entry.get('node')
        if node and node['pkg'] == 'aloe_ros':
            assert node['exec'] in console_scripts(), f'{name}: unknown executable {node["exec"]}'


@pytest.mark.parametrize('name,arguments', [(n, a) for n, branches in sorted(BRANCHES.items())
                                            for a in branches])
def test_launch_file_references_exist(name, arguments):
    resolver = PackageResolver(source_trees={'aloe_ros': ROOT})
    errors = validate_launch_file(os.path.join(LAUNCH_DIR, name), known_executables(),
                                  arguments=arguments,
                                  resolver=resolver, external_packages=EXTERNAL)
    assert errors == [], '\n'.join(errors)


def test_a_misspelled_parameter_is_caught(tmp_path):
    """Guard: the validator really checks names against the node's declarations."""
    bad = tmp_path / 'bad.launch.yaml'
    bad.write_text('launch:\n- node: {pkg: aloe_ros, exec: aloe_chunk_executor, name: '
                   'chunk_executor,\n'
                   '    param: [{name: max_velocity, value: 1.0}]}\n')
    resolver = PackageResolver(source_trees={'aloe_ros': ROOT})
    errors = validate_launch_file(str(bad), known_executables(), resolver=resolver)
    assert any('max_velocity' in e for e in errors), errors


def test_param_files_name_declared_parameters():
    """
    Every key in config/{nodes,robots,sim}/ and config/recorder.yaml is declared by its node.

    Robot profiles in config/robots/ are not parameter files: they must load as profiles.
    """
    by_node = {'chunk_executor': 'aloe_ros.nodes.chunk_executor',
               'observation': 'aloe_ros.nodes.observation',
               'teleop': 'aloe_ros.nodes.teleop', 'aloe_recorder': 'aloe_ros.nodes.recorder',
               'aloe_sim': 'aloe_ros.nodes.sim_node'}
    paths = [os.path.join(ROOT, 'config', 'recorder.yaml')]
    for sub in ('nodes', 'robots', 'sim'):
        folder = os.path.join(ROOT, 'config', sub)
        paths += [os.path.join(folder, f) for f in sorted(os.listdir(folder))
                  if f.endswith('.yaml')]
    for path in paths:
        data = yaml.safe_load(open(path))
        if 'command_groups' in data:
            # A robot profile: data for aloe_ros.station.command_mapping, not ROS parameters.
            load_profile(path)
            continue
        for node_name, section in data.items():
            # '/**/<node>': the file applies to the node under any namespace (a station's)
            assert node_name.startswith('/**/'), f'{path}: {node_name} applies at / only'
            node_name = node_name[len('/**/'):]
            declared = set(importlib.import_module(by_node[node_name]).PARAMETERS)
            flat = []
            for key, value in section['ros__parameters'].items():
                flat += [f'{key}.{k}' for k in value] if isinstance(value, dict) else [key]
            unknown = sorted(set(flat) - declared)
            assert not unknown, (f'{os.path.relpath(path, ROOT)}: {node_name} does not declare '
                                 f'{unknown}')


def test_rviz_config_shows_what_the_operator_needs():
    """The RViz config has the robot model, three cameras and the aloe markers on their topics."""
    data = yaml.safe_load(open(os.path.join(ROOT, 'rviz', 'aloe.rviz')))
    displays = data['Visualization Manager']['Displays']
    topics = {d.get('Topic', {}).get('Value') for d in displays
              if isinstance(d.get('Topic'), dict)}
    assert {'/cam_high/image_raw', '/cam_left_wrist/image_raw', '/cam_right_wrist/image_raw',
            '/aloe/viz/markers'} <= topics
    assert any(d['Class'] == 'rviz_default_plugins/RobotModel' for d in displays)
    assert data['Visualization Manager']['Global Options']['Fixed Frame'] == 'world'


def test_description_launch_points_at_the_shipped_urdf():
    """robot_state_publisher gets our URDF (static check: `$(command)` runs in ros2 launch)."""
    text = open(os.path.join(LAUNCH_DIR, 'description.launch.yaml')).read()
    assert '$(find-pkg-share aloe_ros)/urdf/aloe_bimanual.urdf' in text
    assert os.path.isfile(os.path.join(ROOT, 'urdf', 'aloe_bimanual.urdf'))


def test_parameter_reference_is_up_to_date():
    """docs/PARAMETERS.md is what `python -m aloe_ros.param_docs` generates from the nodes now."""
    from aloe_ros.param_docs import render

    with open(os.path.join(ROOT, 'docs', 'PARAMETERS.md')) as f:
        assert f.read() == render(), ('regenerate: python -m aloe_ros.param_docs > '
                                      'docs/PARAMETERS.md')

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
Namespaced stations: ``namespace:=station_a`` puts a station's every node under it.

Static (the resolved launch plans, no process): the default keeps today's absolute names, a
namespace moves every node, the sim's clock and /tf follow into the namespace, parameter files
still apply, and no node names an absolute aloe topic (only relative names are namespaced).
"""

import ast
import os
import re

import pytest

from aloe_ros.launch_tools import PackageResolver, load_launch
from aloe_ros.launch_tools.plan import _node_key_matches, effective_parameters

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAUNCH = os.path.join(ROOT, 'launch')
STATION_FILES = {'sim_train.launch.yaml': {}, 'sim.launch.yaml': {'use_rsp': 'false'},
                 'bimanual_robot.launch.yaml': {'use_rsp': 'false'},
                 'teleop_rviz.launch.yaml': {'station': 'sim', 'use_rsp': 'false', 'joy': 'false',
                                             'rviz': 'false'}}


def _plan(name, **arguments):
    resolver = PackageResolver(source_trees={'aloe_ros': ROOT})
    return load_launch(os.path.join(LAUNCH, name), arguments, resolver)


@pytest.mark.parametrize('name', sorted(STATION_FILES))
def test_the_default_namespace_is_the_root(name):
    plan = _plan(name, **STATION_FILES[name])
    nodes = [p for p in plan.processes if p.kind == 'node']
    assert nodes and {p.namespace for p in nodes} == {'/'}
    assert '/aloe_recorder' in {p.fully_qualified_name for p in nodes}


@pytest.mark.parametrize('name', sorted(STATION_FILES))
def test_a_namespace_moves_every_node_of_the_station(name):
    plan = _plan(name, namespace='station_a', **STATION_FILES[name])
    nodes = [p for p in plan.processes if p.kind == 'node']
    assert {p.namespace for p in nodes} == {'/station_a'}, [p.fully_qualified_name for p in nodes]
    for p in nodes:
        args = p.ros_arguments()
        assert args[args.index('__ns:=/station_a') - 1] == '-r'
        # the shipped parameter files apply there too ('/**/<node>' sections)
        for path in p.param_files:
            assert effective_parameters(p.fully_qualified_name, [('file', path)]), (p.name, path)
    recorder = next(p for p in nodes if p.name == 'aloe_recorder')
    assert ('/tf', 'tf') in recorder.remaps and ('/tf_static', 'tf_static') in recorder.remaps


@pytest.mark.parametrize('name', ['sim_train.launch.yaml', 'sim.launch.yaml'])
def test_a_sim_station_follows_its_own_clock(name):
    plan = _plan(name, namespace='station_b', **STATION_FILES.get(name, {}))
    for p in plan.processes:
        if p.effective_parameters().get('use_sim_time') is True:
            assert ('/clock', 'clock') in p.remaps, p.name   # /station_b/clock, the sim's
    observation = next(p for p in plan.processes if p.name == 'observation')
    assert observation.effective_parameters()['task_state_topic'] == 'sim/task_state'


def test_the_learner_serves_the_listed_stations():
    plan = _plan('learner_only.launch.yaml', stations='[station_a, station_b]')
    learner = next(p for p in plan.processes if p.name == 'learner')
    params = learner.effective_parameters()
    assert params['stations'] == ['station_a', 'station_b'] and params['pull_from'] == ['']
    assert learner.namespace == '/'
    default = next(p for p in _plan('learner_only.launch.yaml').processes if p.name == 'learner')
    assert default.effective_parameters()['stations'] == ['/']   # the station at the root


def test_parameter_file_sections_match_as_rcl_does():
    """'/**/x' matches x in any namespace, the root included (checked against rclpy here)."""
    assert _node_key_matches('/**/policy', '/policy')
    assert _node_key_matches('/**/policy', '/station_a/policy')
    assert _node_key_matches('/**/policy', '/a/b/policy')
    assert not _node_key_matches('/**/policy', '/station_a/policy2')
    assert not _node_key_matches('policy', '/station_a/policy')
    assert _node_key_matches('policy', '/policy')
    assert _node_key_matches('/**', '/station_a/policy')
    assert _node_key_matches('/*/policy', '/station_a/policy')
    assert not _node_key_matches('/*/policy', '/policy')


@pytest.mark.parametrize('name', ['sim.launch.yaml', 'bimanual_robot.launch.yaml'])
def test_managed_bring_up_manages_the_station_s_own_nodes(name):
    """managed:=true: a manager in the station's namespace names nodes that wait for it."""
    from aloe_ros.nodes.lifecycle_manager import DEFAULT_NODES
    managed = {'aloe_recorder', 'policy', 'chunk_executor'}
    plan = _plan(name, namespace='station_a', managed='true', **STATION_FILES[name])
    nodes = {p.name: p for p in plan.processes if p.kind == 'node'}
    manager = nodes['lifecycle_manager']
    assert manager.namespace == '/station_a'
    names = manager.effective_parameters().get('node_names', DEFAULT_NODES)
    # the executor last: it commands only once the policy and the recorder are active
    assert set(names) == managed and names[-1] == 'chunk_executor'
    for node in names:
        assert nodes[node].namespace == '/station_a'
        assert nodes[node].effective_parameters()['autostart'] is False, node
    default = {p.name: p for p in _plan(name, **STATION_FILES[name]).processes}
    assert 'lifecycle_manager' not in default
    assert all(default[n].effective_parameters()['autostart'] is True for n in managed)


NODE_MODULES = ['chunk_executor', 'learner', 'lifecycle_manager', 'observation', 'policy',
                'recorder', 'sim_node', 'sim_operator', 'station_joint_states', 'teleop', 'viz',
                'transfer']
# Global by convention (one per domain, names fully qualified or remapped by the launch files).
GLOBAL = {'/diagnostics', '/tf', '/tf_static', '/clock'}


@pytest.mark.parametrize('module', NODE_MODULES)
def test_no_node_names_an_absolute_station_topic(module):
    """Every name a node passes to create_* (literally) is relative: a namespace applies."""
    path = os.path.join(ROOT, 'src', 'aloe_ros', 'nodes', module + '.py')
    tree = ast.parse(open(path).read())
    creators = {'create_publisher', 'create_subscription', 'create_service', 'create_client',
                'ActionServer', 'ActionClient'}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
            node.func, 'id', '')
        if func not in creators:
            continue
        for arg in node.args:
            text = None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                text = arg.value
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(
                    arg.values[0], ast.Constant):
                text = arg.values[0].value
            if text and re.match(r'/[a-z]', text) and text not in GLOBAL:
                found.append(text)
    assert not found, f'{module}: absolute names {found}'


def test_station_names_are_read_as_namespaces():
    from aloe_ros.nodes.transfer import recorder_of, station_namespaces
    assert station_namespaces(['station_a', '/station_b/', '', 'station_a', '/']) == [
        '/station_a', '/station_b', '/']
    recorders = [recorder_of(ns) for ns in ('/station_a', '/')]
    assert recorders == ['/station_a/aloe/recorder', '/aloe/recorder']
    for bad in ('station a', '1st', 'a//b', 'a-b'):
        with pytest.raises(ValueError, match='not a ROS namespace'):
            station_namespaces([bad])

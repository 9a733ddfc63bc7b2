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
Every shipped launch file means the same to the real ROS 2 Jazzy launch and to ``aloe launch``.

For each launch file and argument set the docs show, the process plan of the real launch
(``launch.LaunchService``, as ``ros2 launch`` runs it; processes recorded, not spawned) must
equal ``aloe launch --dry-run --json``: executable and arguments, node name and namespace,
remaps, every parameter file in order with its content (inline parameters included), the
parameter values in effect, and which processes take the launch down on exit.

Runs where the real launch is importable: a ROS 2 install, or CI, which installs it from
../shared/ros2-launch-jazzy (scripts/install_jazzy_launch.sh); skipped elsewhere, saying so.
"""

import importlib.util
import json
import os
import stat
import subprocess
import sys

import pytest
import yaml

from aloe_ros.launch_tools.cli import main as aloe_launch_main
from aloe_ros.launch_tools.packages import PackageResolver
from aloe_ros.launch_tools.plan import effective_parameters

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
HARNESS = os.path.join(os.path.dirname(__file__), 'jazzy_plan.py')
INSTALL = os.path.join(ROOT, 'install')
EXTERNAL = {'robot_state_publisher': 'robot_state_publisher', 'rviz2': 'rviz2', 'joy': 'joy_node',
            'ros_gz_sim': 'create', 'ros_gz_bridge': 'parameter_bridge',
            'controller_manager': 'spawner'}

# Every argument combination the launch files' headers, README and docs/LAUNCH.md show.
CASES = [
    ('sim.launch.yaml', {}),
    ('sim.launch.yaml', {'use_rsp': 'false'}),
    ('sim.launch.yaml', {'operator': 'false', 'task': 'sort'}),
    ('sim_train.launch.yaml', {}),
    ('sim_train.launch.yaml', {'initial_weights': '/tmp/w/actor_v0001.safetensors',
                               'initial_sha256': 'ab' * 32, 'initial_version': '1'}),
    ('bimanual_robot.launch.yaml', {}),
    ('bimanual_robot.launch.yaml', {'use_rsp': 'false', 'with_learner': 'false'}),
    ('bimanual_robot.launch.yaml',
     {'robot_profile': os.path.join(ROOT, 'config', 'robots', 'aloe_sim_station.yaml')}),
    ('learner_only.launch.yaml', {'store_root': '/tmp/store', 'weights_dir': '/tmp/weights'}),
    ('teleop_rviz.launch.yaml', {}),
    ('teleop_rviz.launch.yaml', {'station': 'sim'}),
    ('teleop_rviz.launch.yaml', {'station': 'robot', 'joy': 'false'}),
    ('sim.launch.yaml', {'namespace': 'station_a'}),
    ('sim.launch.yaml', {'namespace': 'station_b', 'use_rsp': 'false', 'with_learner': 'false'}),
    ('sim_train.launch.yaml', {'namespace': 'station_a'}),
    ('bimanual_robot.launch.yaml', {'namespace': 'station_a', 'with_learner': 'false'}),
    ('learner_only.launch.yaml', {'stations': '[station_a, station_b]'}),
    ('learner_only.launch.yaml', {'stations': "['']", 'episode_source': '/aloe/recorder'}),
    ('teleop_rviz.launch.yaml', {'station': 'sim', 'namespace': 'station_a'}),
    ('gazebo.launch.yaml', {}),
    ('description.launch.yaml', {}),
    ('description.launch.yaml', {'use_sim_time': 'true'}),
    # What `aloe train-sim` (the main job) passes: forward commands with their profile.
    ('sim_train.launch.yaml',
     {'store_root': '/tmp/run/store', 'weights_dir': '/tmp/run/weights',
      'learner_config': os.path.join(ROOT, 'config', 'learner', 'sim_train.yaml'),
      'initial_weights': '/tmp/run/weights/policy_v000001.safetensors',
      'initial_sha256': 'cd' * 32, 'initial_version': '1', 'task': 'handover',
      'max_episode_steps': '400', 'image_height': '64', 'image_width': '64',
      'model_image_height': '64', 'model_image_width': '64', 'cameras': '[cam_high]',
      'camera_rate_hz': '50.0', 'real_time_factor': '1.0', 'command_interface': 'forward',
      'robot_profile': os.path.join(ROOT, 'config', 'robots', 'aloe_sim_station_forward.yaml'),
      'replan_period': '0.200'}),
    ('sim.launch.yaml', {'use_rsp': 'false', 'namespace': 'station_a',
                         'store_root': '~/a/store', 'weights_dir': '~/a/weights'}),
    ('gazebo.launch.yaml', {'robot_urdf': os.path.join(ROOT, 'urdf', 'aloe_bimanual.urdf')}),
    ('learner_only.launch.yaml',
     {'learner_config': os.path.join(ROOT, 'config', 'learner', 'aloe_default.yaml'),
      'store_root': '/tmp/store'}),
    ('bimanual_robot.launch.yaml',
     {'robot_config': os.path.join(ROOT, 'config', 'robots', 'aloha_real.yaml')}),
    # Managed bring-up (docs/LAUNCH.md): a lifecycle manager, the managed nodes not autostarting.
    ('sim.launch.yaml', {'managed': 'true'}),
    ('sim.launch.yaml', {'managed': 'true', 'namespace': 'station_a', 'use_rsp': 'false'}),
    ('bimanual_robot.launch.yaml', {'managed': 'true', 'with_learner': 'false'}),
    ('gazebo.launch.yaml', {'managed': 'true'}),
]


def _prefix_path():
    """Return this checkout's install space first, then the environment's AMENT_PREFIX_PATH."""
    own = []
    if os.path.isdir(INSTALL):
        own = [os.path.join(INSTALL, p) for p in sorted(os.listdir(INSTALL))
               if os.path.isdir(os.path.join(INSTALL, p, 'share'))]
    return own + [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]


def _real_launch_missing():
    for module in ('launch', 'launch_yaml', 'launch_ros'):
        if importlib.util.find_spec(module) is None:
            return (f"the real ROS 2 launch is not installed ('{module}' not importable): source "
                    "a "
                    f'ROS 2 Jazzy install, or run scripts/install_jazzy_launch.sh with '
                    f'../shared/ros2-launch-jazzy present')
    if not PackageResolver(os.pathsep.join(_prefix_path())).has_package('aloe_ros'):
        return 'aloe_ros is not installed (run scripts/setup.sh, or source your workspace)'
    return None


pytestmark = pytest.mark.skipif(_real_launch_missing() is not None,
                                reason=_real_launch_missing() or '')


@pytest.fixture(scope='module')
def launch_env(tmp_path_factory):
    """Environment for both launchers: the install space plus stand-ins for external packages."""
    prefix = tmp_path_factory.mktemp('external_prefix')
    index = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    for pkg, exe in EXTERNAL.items():
        (index / pkg).write_text('')
        (prefix / 'share' / pkg).mkdir(parents=True)
        lib = prefix / 'lib' / pkg
        lib.mkdir(parents=True)
        (lib / exe).write_text('#!/bin/sh\nexit 0\n')
        (lib / exe).chmod((lib / exe).stat().st_mode | stat.S_IXUSR)
    env = dict(os.environ)
    paths = _prefix_path()
    env['AMENT_PREFIX_PATH'] = os.pathsep.join(paths[:1] + [str(prefix)] + paths[1:])
    env['HOME'] = str(tmp_path_factory.mktemp('home'))
    return env


def _canonical(cmd, param_documents, required, respawn):
    """Command with parameter-file paths blanked, plus the parameter files' content."""
    argv = list(cmd)
    for i in range(len(argv) - 1):
        if argv[i] == '--params-file':
            argv[i + 1] = '<params>'
    fqn = None
    if '__node:=' in ' '.join(argv):
        name = next(a.split(':=', 1)[1] for a in argv if a.startswith('__node:='))
        ns = next((a.split(':=', 1)[1] for a in argv if a.startswith('__ns:=')), '/')
        fqn = ns.rstrip('/') + '/' + name
    docs = [_normalise(d) for d in param_documents]
    effective = effective_parameters(fqn, [('doc', d) for d in docs]) if fqn else None
    return {'argv': argv, 'param_documents': docs, 'effective_parameters': effective,
            'on_exit_shutdown': required, 'respawn': respawn}


def _normalise(value):
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


def _real_plan(path, arguments, env):
    argv = [f'{k}:={v}' for k, v in arguments.items()]
    proc = subprocess.run([sys.executable, HARNESS, path, *argv], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, (f'the real ros2 launch rejected {os.path.basename(path)} '
                                  f'{argv}:\n{proc.stderr[-3000:]}')
    records = json.loads(proc.stdout.strip().splitlines()[-1])
    return [_canonical(r['cmd'], r['param_documents'], r['on_exit_shutdown'], r['respawn'])
            for r in records]


def _aloe_plan(name, arguments, env, monkeypatch, capsys):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    argv = ['aloe_ros', name, *[f'{k}:={v}' for k, v in arguments.items()], '--dry-run', '--json']
    status = aloe_launch_main(argv)
    out, err = capsys.readouterr()
    assert status == 0, f'aloe launch rejected {name} {arguments}: {err}'
    plan = json.loads(out)
    result = []
    for proc in plan['processes']:
        docs = []
        for kind, item in proc['param_entries']:
            if kind == 'file':
                with open(item, encoding='utf-8') as stream:
                    docs.append(yaml.safe_load(stream))
            else:
                docs.append(item)
        result.append(_canonical(proc['command'], docs, proc['required'], proc['respawn']))
    return result, plan


@pytest.mark.parametrize('name,arguments', CASES,
                         ids=[f'{n}-{"_".join(f"{k}={v}" for k, v in a.items()) or "defaults"}'
                              for n, a in CASES])
def test_real_launch_and_aloe_launch_agree(name, arguments, launch_env, monkeypatch, capsys):
    share = PackageResolver(launch_env['AMENT_PREFIX_PATH']).share_dir('aloe_ros')
    real = _real_plan(os.path.join(share, 'launch', name), arguments, launch_env)
    ours, plan = _aloe_plan(name, arguments, launch_env, monkeypatch, capsys)
    assert real, f'{name}: the real launch started nothing'
    assert len(ours) == len(real), (
        f'{name}: aloe launch plans {len(ours)} processes, ros2 launch {len(real)}:\n'
        + '\n'.join(' '.join(p['argv'][:1]) for p in real))
    for mine, theirs, proc in zip(ours, real, plan['processes']):
        who = proc['fully_qualified_name'] or proc['command'][0]
        assert mine == theirs, f'{name}: {who} differs'


def test_required_nodes_take_the_launch_down_under_real_launch(launch_env):
    """The station's nodes carry on_exit: shutdown, which only the real launch can confirm."""
    share = PackageResolver(launch_env['AMENT_PREFIX_PATH']).share_dir('aloe_ros')
    real = _real_plan(os.path.join(share, 'launch', 'sim_train.launch.yaml'), {}, launch_env)
    assert len(real) == 7 and all(p['on_exit_shutdown'] for p in real)


def _station_processes(plan):
    """Select the aloe nodes and robot_state_publisher of a plan (by executable path)."""
    return [p for p in plan if p['effective_parameters'] is not None
            and (os.sep + os.path.join('lib', 'aloe_ros') + os.sep in p['argv'][0]
                 or p['argv'][0].endswith(os.sep + 'robot_state_publisher'))]


GAZEBO_STATION = sorted(['aloe_observation', 'aloe_policy', 'aloe_chunk_executor', 'aloe_teleop',
                         'aloe_recorder', 'aloe_learner', 'robot_state_publisher'])


@pytest.mark.parametrize('arguments', [a for n, a in CASES if n == 'gazebo.launch.yaml'])
def test_gazebo_station_runs_on_sim_time(arguments, launch_env, monkeypatch, capsys):
    """
    Under Gazebo every station node reads /clock: use_sim_time True in effect, in both plans.

    The gz spawn, bridge and controller spawner are infrastructure and get none.
    """
    share = PackageResolver(launch_env['AMENT_PREFIX_PATH']).share_dir('aloe_ros')
    real = _real_plan(os.path.join(share, 'launch', 'gazebo.launch.yaml'), arguments, launch_env)
    ours, _plan = _aloe_plan('gazebo.launch.yaml', arguments, launch_env, monkeypatch, capsys)
    expected = sorted(GAZEBO_STATION + (['aloe_lifecycle_manager']
                                        if arguments.get('managed') == 'true' else []))
    for who, plan in (('ros2 launch', real), ('aloe launch', ours)):
        station = _station_processes(plan)
        # The bimanual station (joint states come from Gazebo's broadcaster) and the TF publisher.
        assert sorted(os.path.basename(p['argv'][0]) for p in station) == expected, (
            who, [p['argv'][0] for p in plan])
        wall = [p['argv'][0] for p in station
                if p['effective_parameters'].get('use_sim_time') is not True]
        assert not wall, f'{who}: on wall time under Gazebo: {wall}'

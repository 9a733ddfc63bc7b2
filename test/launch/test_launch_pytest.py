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
A launch_pytest test of ``sim.launch.yaml`` (test/launch_pytest/sim_launch_case.py), run here.

launch_pytest's plugin needs pytest < 9, so the case runs in its own pytest process with the
pytest 8.3.5, launch_testing and launch_pytest that scripts/install_jazzy_launch.sh puts in
``.launch-pytest/`` (CI: .ci/run); on a ROS 2 machine with launch_pytest installed it runs with
that. Skipped, saying why, where neither the real launch nor launch_pytest is there.
"""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CASE = os.path.join(ROOT, 'test', 'launch_pytest', 'sim_launch_case.py')
SITE = os.path.join(ROOT, '.launch-pytest')


def _missing():
    for module in ('launch', 'launch_yaml', 'launch_ros'):
        if importlib.util.find_spec(module) is None:
            return (f"the real ROS 2 launch is not installed ('{module}' not importable): run "
                    'scripts/install_jazzy_launch.sh with ../shared/ros2-launch-jazzy present')
    if not os.path.isdir(os.path.join(SITE, 'launch_pytest')) and (
            importlib.util.find_spec('launch_pytest') is None):
        return ('launch_pytest is not installed (scripts/install_jazzy_launch.sh puts it in '
                '.launch-pytest/)')
    if not os.path.isdir(os.path.join(ROOT, 'install', 'aloe_ros')):
        return 'no colcon install tree (run scripts/setup.sh)'
    return None


@pytest.mark.slow
@pytest.mark.skipif(_missing() is not None, reason=_missing() or '')
def test_sim_launch_under_launch_pytest(tmp_path):
    env = dict(os.environ)
    if os.path.isdir(SITE):
        env['PYTHONPATH'] = os.pathsep.join([SITE] + [p for p in env.get('PYTHONPATH', '').split(
            os.pathsep) if p])
    # Its own DDS domain: the launched graph must not meet other tests' nodes.
    env['ROS_DOMAIN_ID'] = str((int(env.get('ROS_DOMAIN_ID', '0')) + 37) % 100 + 1)
    cmd = [sys.executable, '-m', 'pytest', CASE, '-q', '-p', 'no:cacheprovider', '--noconftest',
           '--rootdir', str(tmp_path), '-W', 'ignore::DeprecationWarning']
    proc = subprocess.run(cmd, env=env, cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=1200)
    out = proc.stdout[-8000:] + proc.stderr[-4000:]
    assert proc.returncode == 0, out
    assert '1 passed' in proc.stdout, out

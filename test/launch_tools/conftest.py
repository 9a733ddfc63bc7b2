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

"""Fixtures for the launch tool tests: a fake install prefix with a package of test executables."""

import os
import pathlib
import stat
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures'
if str(ROOT / 'src') not in sys.path:
    sys.path.insert(0, str(ROOT / 'src'))


@pytest.fixture
def fake_prefix(tmp_path):
    """Return a prefix holding package fake_pkg with executables talker, listener and worker."""
    prefix = tmp_path / 'install'
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages').mkdir(parents=True)
    (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'fake_pkg').write_text('')
    (prefix / 'share' / 'fake_pkg' / 'launch').mkdir(parents=True)
    lib = prefix / 'lib' / 'fake_pkg'
    lib.mkdir(parents=True)
    for name in ('talker', 'listener', 'worker'):
        script = lib / name
        script.write_text(f'#!/bin/sh\nexec {sys.executable} {FIXTURES / "worker.py"} "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return prefix


@pytest.fixture
def resolver(fake_prefix):
    """Return a PackageResolver over the fake prefix only."""
    from aloe_ros.launch_tools.packages import PackageResolver
    return PackageResolver(ament_prefix_path=str(fake_prefix))


@pytest.fixture
def launch_env(fake_prefix):
    """Return the environment to run ``python -m aloe_ros.launch_tools.cli`` as a subprocess."""
    env = dict(os.environ)
    env['AMENT_PREFIX_PATH'] = str(fake_prefix)
    env['PYTHONPATH'] = str(ROOT / 'src') + os.pathsep + env.get('PYTHONPATH', '')
    env['PYTHON_FOR_TESTS'] = sys.executable
    env['PYTHONUNBUFFERED'] = '1'
    return env

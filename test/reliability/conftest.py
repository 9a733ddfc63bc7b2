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

"""Fixtures of the reliability tests: node processes, a driver node, an isolated ROS domain."""

import os
import random
import sys

import pytest

# The root conftest sets this; keep these tests isolated when run on their own too.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 100)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from reliability_harness import Driver, NodeProcess  # noqa: E402


@pytest.fixture
def driver():
    """Yield a Driver (test-side rclpy node)."""
    d = Driver()
    yield d
    d.close()


@pytest.fixture
def start_node(tmp_path):
    """
    Yield a function that starts a node process and returns its NodeProcess.

    Its arguments are ``(module, params, name, namespace, remaps)``. Every process it started
    is stopped at teardown.
    """
    started = []

    def factory(module, params=None, name=None, namespace=None, remaps=None):
        log = str(tmp_path / f'{name or module.rsplit(".", 1)[-1]}.log')
        proc = NodeProcess(module, params, log_path=log, namespace=namespace, remaps=remaps)
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop()

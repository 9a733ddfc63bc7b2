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

"""Session-wide test set-up: an isolated ROS domain and headless rendering; shared fixtures."""

import os
import random

import pytest

# Each pytest session gets its own DDS domain so concurrent runs on one machine never cross-talk.
# Set before any test module imports rclpy; subprocesses inherit it through os.environ.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 100)))
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('PYTHONUNBUFFERED', '1')


def _processes_mentioning(text):
    """Return pids (other than this one) whose command line contains ``text``."""
    pids = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                if text.encode() in f.read():
                    pids.append(int(pid))
        except OSError:
            continue
    return pids


@pytest.fixture(scope='session')
def processes_mentioning():
    """Orphan check: a function returning the pids whose command line contains a given text."""
    return _processes_mentioning

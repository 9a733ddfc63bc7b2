# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
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
    """Yield ``start_node(module, params) -> NodeProcess``; every process is stopped at teardown."""
    started = []

    def factory(module, params=None, name=None):
        log = str(tmp_path / f'{name or module.rsplit(".", 1)[-1]}.log')
        proc = NodeProcess(module, params, log_path=log)
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop()

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

"""Helpers for node tests: start a node as a real process, drive it from an rclpy test node."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

# The root conftest normally sets this; keep node tests isolated even when run on their own.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 100)))


def _param(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_param(v) for v in value) + ']'
    if isinstance(value, str):
        return value
    return repr(value)


class NodeProcess:
    """A node started with ``python -m <module> --ros-args [-r a:=b ...] -p name:=value ...``."""

    def __init__(self, module, params=None, log_path=None, remaps=None):
        """Start the process; stdout and stderr go to ``log_path``."""
        args = [sys.executable, '-m', module, '--ros-args']
        for src, dst in (remaps or {}).items():  # '__ns' and '__node' too
            args += ['-r', f'{src}:={dst}']
        for key, value in (params or {}).items():
            args += ['-p', f'{key}:={_param(value)}']
        self.log_path = log_path
        self._log = open(log_path, 'w')
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ))

    def alive(self):
        """Return whether the process is still running."""
        return self.proc.poll() is None

    def output(self):
        """Return everything the process printed so far."""
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=60.0):
        """
        Send ``sig`` and return the exit code.

        The process is killed after ``timeout``, which is generous: a clean shutdown has taken
        more than 15 s on a loaded machine.
        """
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class RosHarness:
    """A test-side rclpy node in its own context, with spin helpers."""

    def __init__(self):
        """Init a private context and node."""
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f'test_harness_{os.getpid()}', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_for(self, seconds):
        """Process callbacks for ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)

    def spin_until(self, predicate, timeout=10.0, every=None, period=0.02):
        """Spin until ``predicate()`` is true, calling ``every()`` each ``period`` s; return it."""
        end = time.monotonic() + timeout
        next_call = 0.0
        while time.monotonic() < end:
            if every is not None and time.monotonic() >= next_call:
                every()
                next_call = time.monotonic() + period
            self.executor.spin_once(timeout_sec=0.005)
            if predicate():
                return True
        return bool(predicate())

    def wait_matched(self, *publishers, timeout=60.0):
        """Spin until every publisher has a subscriber (so one-shot messages are not lost)."""
        return self.spin_until(lambda: all(p.get_subscription_count() > 0 for p in publishers),
                               timeout)

    def collect(self, msg_type, topic, qos):
        """Subscribe and return the list every received message is appended to."""
        received = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def close(self):
        """Destroy the node and shut the context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


@pytest.fixture
def ros():
    """Yield a RosHarness."""
    harness = RosHarness()
    yield harness
    harness.close()


@pytest.fixture
def start_node(tmp_path):
    """Yield a factory that starts a node process (module, params, remaps, log name)."""
    started = []

    def factory(module, params=None, remaps=None, name=None):
        proc = NodeProcess(module, params, remaps=remaps,
                           log_path=str(tmp_path / f'{name or module.rsplit(".", 1)[-1]}.log'))
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop()

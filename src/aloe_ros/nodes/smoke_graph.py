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
Smoke graph: every aloe_msgs message, service and action across two real processes.

``smoke_graph --role echo`` runs a node that echoes every message type back, answers every
service with a deterministic response and serves the action. ``smoke_graph --role probe`` publishes
one populated instance of every message type, waits for each to come back unchanged, calls every
service and the action, and exits 0 only when everything round-tripped. ``--role both`` starts the
echo side as a child process and runs the probe (the quick check that a workspace works).
"""

import argparse
import importlib
import os
import subprocess
import sys
import time
from typing import Any, Dict, List

import rclpy
from rclpy.action import ActionClient, ActionServer
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

MSG_TYPES = ['Observation', 'ActionChunk', 'ExecutedStep', 'InterventionState', 'EpisodeEvent',
             'EpisodeSummary', 'PolicyUpdate', 'LearnerStatus', 'SafetyEvent', 'Metric',
             'ChunkValue', 'TaskState', 'EpisodeEntry']
SRV_TYPES = ['StartEpisode', 'EndEpisode', 'ResetScene', 'LoadPolicy', 'EvaluateChunk', 'SetMode',
             'ReadChunk', 'ListEpisodes']
ACTION_TYPES = ['TrainIteration']

# Reliable and transient-local so a late-joining echo still sees what the probe sent.
RELIABLE_LATCHED = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL)

_PRIMITIVE_SAMPLES = {
    'boolean': lambda i: bool(i % 2), 'octet': lambda i: bytes([i % 256]), 'char': lambda i: i
    % 128,
    'float': lambda i: 0.5 * i + 0.25, 'double': lambda i: 1.5 * i - 0.125,
    'int8': lambda i: -(i % 100), 'uint8': lambda i: i % 200, 'int16': lambda i: -i,
    'uint16': lambda i: i,
    'int32': lambda i: -7 * i, 'uint32': lambda i: 7 * i, 'int64': lambda i: -(2 ** 40) - i,
    'uint64': lambda i: 2 ** 40 + i, 'string': lambda i: f'text-{i}-\u00e9',
    'wstring': lambda i: f'w{i}',
}


def _resolve(type_name: str):
    """Return the class for a rosidl type string like 'sensor_msgs/Image'."""
    pkg, name = type_name.split('/')
    return getattr(importlib.import_module(f'{pkg}.msg'), name)


def _sample_value(type_str: str, seed: int) -> Any:
    if type_str.startswith('sequence<'):
        inner = type_str[len('sequence<'):-1].split(',')[0]
        return [_sample_value(inner, seed + k) for k in range(3)]
    if type_str.endswith(']') and '[' in type_str:
        inner, count = type_str[:-1].split('[')
        return [_sample_value(inner, seed + k) for k in range(int(count))]
    base = type_str.split('<')[0]
    if base in _PRIMITIVE_SAMPLES:
        return _PRIMITIVE_SAMPLES[base](seed)
    return sample_message(_resolve(type_str), seed)


def sample_message(cls, seed: int = 1):
    """Build an instance of cls with every field set to a deterministic non-default value."""
    msg = cls()
    for i, (field, type_str) in enumerate(cls.get_fields_and_field_types().items()):
        value = _sample_value(type_str, seed + i)
        if type_str.startswith('sequence<float') or type_str.startswith('sequence<double'):
            value = [float(v) for v in value]
        setattr(msg, field, value)
    return msg


def messages_equal(a, b) -> bool:
    """Compare two rosidl messages field by field (arrays compared element-wise)."""
    if type(a) is not type(b):
        return False
    for field in type(a).get_fields_and_field_types():
        va, vb = getattr(a, field), getattr(b, field)
        if hasattr(va, 'get_fields_and_field_types'):
            if not messages_equal(va, vb):
                return False
        elif isinstance(va, (list, tuple)) or hasattr(va, 'tolist'):
            la, lb = list(va), list(vb)
            if len(la) != len(lb):
                return False
            for x, y in zip(la, lb):
                same = messages_equal(x, y) if hasattr(x, 'get_fields_and_field_types') else x == y
                if not same:
                    return False
        elif va != vb:
            return False
    return True


def _msg_cls(name):
    return getattr(importlib.import_module('aloe_msgs.msg'), name)


def _srv_cls(name):
    return getattr(importlib.import_module('aloe_msgs.srv'), name)


def _action_cls(name):
    return getattr(importlib.import_module('aloe_msgs.action'), name)


class EchoNode(Node):
    """Echoes every aloe_msgs message, answers every service and serves every action."""

    def __init__(self):
        super().__init__('aloe_smoke_echo')
        self._keep: List[Any] = []
        for name in MSG_TYPES:
            cls = _msg_cls(name)
            pub = self.create_publisher(cls, f'/aloe_smoke/echo/{name}', RELIABLE_LATCHED)
            self._keep.append(pub)
            self._keep.append(self.create_subscription(
                cls, f'/aloe_smoke/msg/{name}', lambda m, p=pub: p.publish(m), RELIABLE_LATCHED))
        for name in SRV_TYPES:
            cls = _srv_cls(name)
            self._keep.append(self.create_service(
                cls, f'/aloe_smoke/srv/{name}', lambda req, resp, c=cls: self._answer(c, req)))
        for name in ACTION_TYPES:
            cls = _action_cls(name)
            self._keep.append(ActionServer(self, cls, f'/aloe_smoke/action/{name}',
                                           lambda handle, c=cls: self._execute(c, handle)))

    def _answer(self, cls, request):
        """Reply with the deterministic sample response when the request is the expected sample."""
        if not messages_equal(request, sample_message(cls.Request, 3)):
            self.get_logger().error(f'{cls.__name__}: request differs from the sample')
            return cls.Response()
        return sample_message(cls.Response, 5)

    def _execute(self, cls, handle):
        """Send one sample feedback, then succeed with the sample result."""
        if not messages_equal(handle.request, sample_message(cls.Goal, 7)):
            handle.abort()
            return cls.Result()
        handle.publish_feedback(sample_message(cls.Feedback, 9))
        handle.succeed()
        return sample_message(cls.Result, 11)


class ProbeNode(Node):
    """Sends one sample of everything and records which ones came back intact."""

    def __init__(self):
        super().__init__('aloe_smoke_probe')
        self.received: Dict[str, bool] = {}
        self._keep: List[Any] = []
        self._pubs = {}
        for name in MSG_TYPES:
            cls = _msg_cls(name)
            self._pubs[name] = self.create_publisher(cls, f'/aloe_smoke/msg/{name}',
                                                     RELIABLE_LATCHED)
            self._keep.append(self.create_subscription(
                cls, f'/aloe_smoke/echo/{name}', lambda m, n=name, c=cls: self._on_echo(n, c, m),
                RELIABLE_LATCHED))

    def _on_echo(self, name, cls, msg):
        self.received[name] = messages_equal(msg, sample_message(cls, 1))

    def publish_all(self):
        """Publish one sample of every message type."""
        for name, pub in self._pubs.items():
            pub.publish(sample_message(_msg_cls(name), 1))


def _spin_until(executor, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        executor.spin_once(timeout_sec=0.05)
    return predicate()


def run_probe(timeout: float) -> int:
    """Run the probe side; return the process exit code (0 when everything round-tripped)."""
    node = ProbeNode()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    failures = []
    start = time.monotonic()
    _spin_until(executor, lambda: all(node.count_subscribers(f'/aloe_smoke/msg/{n}') > 0
                                      for n in MSG_TYPES), timeout)
    node.publish_all()
    if not _spin_until(executor, lambda: len(node.received) == len(MSG_TYPES), timeout):
        failures += [f'msg {n}: no echo' for n in MSG_TYPES if n not in node.received]
    failures += [f'msg {n}: echo differs' for n, ok in node.received.items() if not ok]
    for name in SRV_TYPES:
        cls = _srv_cls(name)
        client = node.create_client(cls, f'/aloe_smoke/srv/{name}')
        if not client.wait_for_service(timeout_sec=timeout):
            failures.append(f'srv {name}: no server')
            continue
        future = client.call_async(sample_message(cls.Request, 3))
        _spin_until(executor, future.done, timeout)
        expected = sample_message(cls.Response, 5)
        if not future.done() or not messages_equal(future.result(), expected):
            failures.append(f'srv {name}: wrong or no response')
    for name in ACTION_TYPES:
        cls = _action_cls(name)
        client = ActionClient(node, cls, f'/aloe_smoke/action/{name}')
        feedback = []
        if not client.wait_for_server(timeout_sec=timeout):
            failures.append(f'action {name}: no server')
            continue
        goal_future = client.send_goal_async(
            sample_message(cls.Goal, 7), feedback_callback=lambda f: feedback.append(f.feedback))
        _spin_until(executor, goal_future.done, timeout)
        result_future = goal_future.result().get_result_async()
        _spin_until(executor, result_future.done, timeout)
        if not result_future.done() or not messages_equal(result_future.result().result,
                                                          sample_message(cls.Result, 11)):
            failures.append(f'action {name}: wrong or no result')
        if not feedback or not messages_equal(feedback[0], sample_message(cls.Feedback, 9)):
            failures.append(f'action {name}: wrong or no feedback')
    total = len(MSG_TYPES) + len(SRV_TYPES) + len(ACTION_TYPES)
    elapsed = time.monotonic() - start
    for failure in failures:
        print(f'FAIL {failure}', flush=True)
    print(f'smoke graph: {total - len(failures)}/{total} interface round trips OK in '
          f'{elapsed:.1f} s',
          flush=True)
    node.destroy_node()
    return 0 if not failures else 1


def main(argv=None) -> int:
    """Entry point: smoke_graph --role {echo,probe,both} [--timeout S]."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--role', choices=['echo', 'probe', 'both'], default='both')
    parser.add_argument('--timeout', type=float, default=20.0,
                        help='seconds to wait for each step')
    args, ros_args = parser.parse_known_args(argv)
    if args.role == 'both':
        echo = subprocess.Popen([sys.executable, '-m', 'aloe_ros.nodes.smoke_graph', '--role',
                                 'echo'],
                                env=os.environ.copy())
        try:
            return main(['--role', 'probe', '--timeout', str(args.timeout)])
        finally:
            echo.terminate()
            echo.wait(timeout=10)
    rclpy.init(args=ros_args)
    try:
        if args.role == 'probe':
            return run_probe(args.timeout)
        node = EchoNode()
        rclpy.spin(node, executor=MultiThreadedExecutor())
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == '__main__':
    sys.exit(main())

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
``aloe launch ... bimanual_robot.launch.yaml managed:=true``: a managed station end to end.

The real station launch file, run by ``aloe launch`` in a namespace: the recorder, the policy
(with verified initial weights) and the chunk executor start unconfigured, the launched
lifecycle manager brings them up (its order is tested in test/nodes), the station takes an
episode only once it is active, and the manager's pause and resume services deactivate and
reactivate every node.
"""

import os
import sys
import time

from aloe_msgs.srv import StartEpisode
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
import pytest
from std_srvs.srv import Trigger

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the helper module beside this one
from launched_station import LaunchedStation  # noqa: E402


NS = '/managed_station'
MANAGED = ('aloe_recorder', 'policy', 'chunk_executor')
# Generous: five nodes (the policy imports torch) start at once; minutes under a CPU hog.
START = 600.0
CALL = 120.0


@pytest.fixture
def ros():
    """Yield a test node in its own context, spun by the test."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('managed_launch_probe', context=context)
    node.executor_for_test = SingleThreadedExecutor(context=context)
    node.executor_for_test.add_node(node)
    yield node
    node.executor_for_test.shutdown()
    node.destroy_node()
    rclpy.try_shutdown(context=context)


def _call(node, client, request, timeout=CALL):
    end = time.monotonic() + timeout
    while not client.service_is_ready() and time.monotonic() < end:
        node.executor_for_test.spin_once(timeout_sec=0.2)
    assert client.service_is_ready(), f'{client.srv_name} never appeared'
    future = client.call_async(request)
    while not future.done() and time.monotonic() < end:
        node.executor_for_test.spin_once(timeout_sec=0.2)
    assert future.done(), f'{client.srv_name}: no answer in {timeout} s'
    return future.result()


def _states(node, clients, timeout=CALL):
    return {name: _call(node, client, GetState.Request(), timeout).current_state.id
            for name, client in clients.items()}


@pytest.mark.slow
def test_a_managed_station_is_brought_up_paused_and_resumed_by_its_manager(ros, tmp_path):
    station = LaunchedStation(tmp_path, dict(os.environ, PYTHONUNBUFFERED='1'),
                              'managed:=true', f'namespace:={NS[1:]}')
    proc = station.proc
    output = lambda: station.output()[-6000:]  # noqa: E731
    try:
        clients = {name: ros.create_client(GetState, f'{NS}/{name}/get_state')
                   for name in MANAGED}
        # Brought up by the manager (nothing else in this graph sends a transition).
        end = time.monotonic() + START
        states = {}
        while time.monotonic() < end and proc.poll() is None:
            states = _states(ros, clients, timeout=START)
            if all(s == State.PRIMARY_STATE_ACTIVE for s in states.values()):
                break
            time.sleep(1.0)
        assert proc.poll() is None, output()
        assert all(s == State.PRIMARY_STATE_ACTIVE for s in states.values()), (states, output())

        start = ros.create_client(StartEpisode, f'{NS}/aloe/start_episode')
        pause = ros.create_client(Trigger, f'{NS}/aloe/lifecycle/pause')
        resume = ros.create_client(Trigger, f'{NS}/aloe/lifecycle/resume')

        paused = _call(ros, pause, Trigger.Request())
        assert paused.success, paused.message
        assert set(_states(ros, clients).values()) == {State.PRIMARY_STATE_INACTIVE}
        refused = _call(ros, start, StartEpisode.Request(task='handover'))
        assert not refused.success and 'inactive' in refused.message

        resumed = _call(ros, resume, Trigger.Request())
        assert resumed.success, resumed.message
        assert set(_states(ros, clients).values()) == {State.PRIMARY_STATE_ACTIVE}
        opened = _call(ros, start, StartEpisode.Request(task='handover'))
        assert opened.success, opened.message
        assert proc.poll() is None, output()
    finally:
        station.stop()

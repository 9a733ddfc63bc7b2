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

"""The lifecycle manager as a real process over DDS, managing stand-in lifecycle nodes."""

import os
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
import pytest
from std_msgs.msg import String
from std_srvs.srv import Trigger

from aloe_ros.nodes.common import DIAGNOSTICS, latched

pytestmark = pytest.mark.ros
HERE = os.path.dirname(os.path.abspath(__file__))
NS = '/station_t'
NAMES = ['a', 'b', 'c']
ACTIVE = State.PRIMARY_STATE_ACTIVE
INACTIVE = State.PRIMARY_STATE_INACTIVE
UNCONFIGURED = State.PRIMARY_STATE_UNCONFIGURED
# Generous deadlines (free when on time): a node's start-up has taken 75 s under a CPU hog.
START = 300.0
CALL = 180.0


class Managed:
    """The manager's Trigger operations and the managed nodes' states, seen from the test."""

    def __init__(self, ros, ns, names, output):
        """Clients for ``names`` in namespace ``ns``; ``output()`` explains a failed wait."""
        self.ros = ros
        self.ns = ns
        self.output = output
        self.clients = {n: ros.node.create_client(GetState, f'{ns}/{n}/get_state')
                        for n in names}

    def call(self, operation):
        """Call ``aloe/lifecycle/<operation>``; return its Trigger response."""
        client = self.ros.node.create_client(Trigger, f'{self.ns}/aloe/lifecycle/{operation}')
        assert self.ros.spin_until(client.service_is_ready, START), self.output()
        future = client.call_async(Trigger.Request())
        assert self.ros.spin_until(future.done, CALL), self.output()
        return future.result()

    def states(self, must_answer=True):
        """
        Return {node: state id}.

        ``must_answer``: each get_state is waited for and must answer (asserted); otherwise
        None is returned while one is not there or does not answer in time (for polling).
        """
        out = {}
        for n, client in self.clients.items():
            ready = self.ros.spin_until(client.service_is_ready, START) if must_answer \
                else client.service_is_ready()
            assert ready or not must_answer, self.output()
            if not ready:
                return None
            future = client.call_async(GetState.Request())
            answered = self.ros.spin_until(future.done, CALL)
            assert answered or not must_answer, self.output()
            if not answered:
                return None
            out[n] = future.result().current_state.id
        return out


def test_manager_brings_nodes_up_in_order_and_undoes_a_failure(ros, start_node, monkeypatch):
    """
    Three stand-ins in a namespace, managed by name: a, b, c.

    c fails its first two configures, b its first activation. Autostart and the first startup
    stop at c's configure with nothing active; the second stops at b's activation and
    deactivates a again; the third brings all up in order. Pause, resume, shutdown follow.
    """
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        [HERE] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    events = ros.collect(String, f'{NS}/lifecycle_events', latched(50))
    diags = ros.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    fails = {'a': {}, 'b': {'fail_activate': 1}, 'c': {'fail_configure': 2}}
    procs = [start_node('lifecycle_standin', fails[n], remaps={'__ns': NS, '__node': n}, name=n)
             for n in NAMES]
    manager = start_node('aloe_ros.nodes.lifecycle_manager',
                         {'node_names': NAMES, 'service_timeout': 60.0}, remaps={'__ns': NS})
    procs.append(manager)

    def output():
        return '\n'.join(p.output()[-3000:] for p in procs)

    def parsed():
        """Return (node, transition, ok|failed) of every event, in the order they happened."""
        rows = sorted((m.data.split() for m in events), key=lambda r: int(r[3]))
        return [tuple(r[:3]) for r in rows]

    managed = Managed(ros, NS, NAMES, output)
    call, states = managed.call, managed.states

    # Autostart: once every stand-in's services exist, startup; c's configure fails.
    assert ros.spin_until(lambda: len(parsed()) >= 3, START), output()
    assert parsed() == [('a', 'configure', 'ok'), ('b', 'configure', 'ok'),
                        ('c', 'configure', 'failed')]
    assert states() == {'a': INACTIVE, 'b': INACTIVE, 'c': UNCONFIGURED}

    def manager_status():
        for d in reversed(diags):
            for s in d.status:
                if s.name == f'{NS}/lifecycle_manager':
                    return s
        return None
    assert ros.spin_until(lambda: manager_status() is not None and manager_status().level
                          == DiagnosticStatus.ERROR, 60), output()
    assert 'c configure failed' in manager_status().message

    # A failing configure: the response names the node and the transition, nothing is active.
    res = call('startup')
    assert not res.success
    assert 'c configure failed: the node refused it (now unconfigured)' in res.message, res.message
    assert 'nothing was activated' in res.message
    assert ACTIVE not in states().values()
    assert ros.spin_until(lambda: parsed().count(('c', 'configure', 'failed')) == 2, 60)

    # A failing activation: what this startup activated (a) is deactivated again.
    del events[:]
    res = call('startup')
    assert not res.success and 'b activate failed' in res.message, res.message
    assert 'undone: a deactivated' in res.message
    assert ros.spin_until(lambda: len(parsed()) >= 4, 60), parsed()
    assert parsed() == [('c', 'configure', 'ok'), ('a', 'activate', 'ok'),
                        ('b', 'activate', 'failed'), ('a', 'deactivate', 'ok')]
    assert states() == {'a': INACTIVE, 'b': INACTIVE, 'c': INACTIVE}

    # Startup: activated in order, the last one last.
    del events[:]
    res = call('startup')
    assert res.success, res.message
    assert res.message.startswith('startup: activated a, b, c'), res.message
    assert ros.spin_until(lambda: len(parsed()) >= 3, 60), parsed()
    assert parsed() == [('a', 'activate', 'ok'), ('b', 'activate', 'ok'),
                        ('c', 'activate', 'ok')]
    assert states() == {n: ACTIVE for n in NAMES}
    assert ros.spin_until(lambda: manager_status().level == DiagnosticStatus.OK, 60)
    values = {kv.key: kv.value for kv in manager_status().values}
    assert {values[f'state.{n}'] for n in NAMES} == {'active'}, values

    # Pause: deactivated in reverse order; resume: activated in order again.
    del events[:]
    res = call('pause')
    assert res.success, res.message
    assert ros.spin_until(lambda: len(parsed()) >= 3, 60), parsed()
    assert parsed() == [('c', 'deactivate', 'ok'), ('b', 'deactivate', 'ok'),
                        ('a', 'deactivate', 'ok')]
    assert states() == {n: INACTIVE for n in NAMES}
    res = call('resume')
    assert res.success, res.message
    assert states() == {n: ACTIVE for n in NAMES}

    # Shutdown: deactivated, then cleaned up, in reverse order.
    res = call('shutdown')
    assert res.success, res.message
    assert states() == {n: UNCONFIGURED for n in NAMES}
    assert manager.alive(), output()


def test_a_node_that_does_not_answer_fails_the_operation_in_time(ros, start_node, monkeypatch):
    """A managed node whose services never appear: startup fails after service_timeout, named."""
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        [HERE] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    stand_in = start_node('lifecycle_standin', {}, remaps={'__ns': '/station_u', '__node': 'a'},
                          name='a')
    # An absolute name reaches into another namespace; 'ghost' resolves in /station_v.
    manager = start_node('aloe_ros.nodes.lifecycle_manager',
                         {'node_names': ['/station_u/a', 'ghost'], 'autostart': False,
                          'service_timeout': 2.0}, remaps={'__ns': '/station_v'})
    client = ros.node.create_client(Trigger, '/station_v/aloe/lifecycle/startup')
    assert ros.spin_until(client.service_is_ready, START), manager.output()
    future = client.call_async(Trigger.Request())
    assert ros.spin_until(future.done, CALL), manager.output()
    res = future.result()
    assert not res.success
    assert ('ghost configure failed: its state could not be read (service ghost/get_state not '
            'available within 2 s)') in res.message, res.message
    assert 'nothing was activated' in res.message
    assert '/station_u/a configured' in manager.output(), manager.output()
    assert stand_in.alive() and manager.alive()


def test_node_names_are_checked():
    from aloe_ros.nodes.common import ConfigError
    from aloe_ros.nodes.lifecycle_manager import PARAMS
    spec = next(s for s in PARAMS if s.name == 'node_names')
    assert spec.validate(['aloe_recorder', 'policy', '/station_a/chunk_executor'])
    with pytest.raises(ConfigError, match='not node names'):
        spec.validate(['policy', '2nd_policy'])
    with pytest.raises(ConfigError, match='listed twice'):
        spec.validate(['policy', 'policy'])
    with pytest.raises(ConfigError, match='must not be empty'):
        spec.validate([])


def test_manager_brings_up_the_real_recorder_and_executor(ros, start_node, tmp_path):
    """The shipped nodes with autostart false, in a namespace, as managed:=true starts them."""
    ns = '/station_m'
    names = ['aloe_recorder', 'chunk_executor']
    procs = [start_node('aloe_ros.nodes.recorder',
                        {'autostart': False, 'storage_root': str(tmp_path / 'store')},
                        remaps={'__ns': ns}),
             start_node('aloe_ros.nodes.chunk_executor',
                        {'autostart': False, 'observation_timeout': 0.5,
                         'command_interface': 'trajectory'}, remaps={'__ns': ns}),
             start_node('aloe_ros.nodes.lifecycle_manager', {'node_names': names},
                        remaps={'__ns': ns})]

    def output():
        return '\n'.join(p.output()[-3000:] for p in procs)

    managed = Managed(ros, ns, names, output)
    call = managed.call

    def states():
        return managed.states(must_answer=False)

    # Autostart: both configured (the recorder opens its store, the executor loads its
    # parameters), then activated, the executor last.
    deadline = time.monotonic() + START
    while states() != {n: ACTIVE for n in names} and time.monotonic() < deadline:
        ros.spin_for(0.5)
    assert states() == {n: ACTIVE for n in names}, output()
    log = procs[2].output()
    assert log.index('aloe_recorder activated') < log.index('chunk_executor activated'), log

    res = call('pause')
    assert res.success, res.message
    assert states() == {n: INACTIVE for n in names}
    res = call('shutdown')
    assert res.success, res.message
    assert states() == {n: UNCONFIGURED for n in names}
    assert all(p.alive() for p in procs), output()

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

"""Managed bring-up sequencing (ROS-free): plans, valid transitions, failures and their undo."""

import pytest

from aloe_ros.station import lifecycle as lc
from aloe_ros.station.lifecycle import (ACTIVATE, ACTIVE, CLEANUP, CONFIGURE, DEACTIVATE,
                                        FINALIZED, INACTIVE, Sequencer, ServiceFailure, Step,
                                        UNCONFIGURED, UNKNOWN)

NODES = ['recorder', 'policy', 'chunk_executor']


class FakeNode:
    """A lifecycle node as rclpy runs one: refuses a failing callback, ignores invalid requests."""

    def __init__(self, name, calls, state=UNCONFIGURED):
        self.name = name
        self.state = state
        self.calls = calls
        self.refuse = set()      # transitions whose callback returns FAILURE
        self.error = set()       # transitions whose callback raises (-> unconfigured)
        self.silent = set()      # transitions that get no answer (after taking effect)
        self.unreadable = False

    def get_state(self):
        if self.unreadable:
            raise ServiceFailure(f'{self.name}/get_state did not answer within 1 s')
        return self.state

    def change_state(self, transition):
        rule = lc.RULES[transition]
        if self.state != rule.start:
            # rclpy sends no reply to a transition that is invalid from the current state
            raise ServiceFailure(f'{self.name}/change_state did not answer within 1 s')
        self.calls.append((self.name, rule.label))
        if transition in self.refuse:
            return False
        if transition in self.error:
            self.state = UNCONFIGURED
            return False
        self.state = {CONFIGURE: INACTIVE, ACTIVATE: ACTIVE, DEACTIVATE: INACTIVE,
                      CLEANUP: UNCONFIGURED}[transition]
        if transition in self.silent:
            raise TimeoutError(f'{self.name}/change_state did not answer within 1 s')
        return True


def station(states=None):
    calls = []
    nodes = {n: FakeNode(n, calls, (states or {}).get(n, UNCONFIGURED)) for n in NODES}
    logs = []
    seq = Sequencer(NODES, lambda n: nodes[n].get_state(),
                    lambda n, t: nodes[n].change_state(t),
                    logs.append)
    return seq, nodes, calls, logs


def test_ids_are_those_of_lifecycle_msgs():
    msg = pytest.importorskip('lifecycle_msgs.msg')
    assert (lc.UNKNOWN, UNCONFIGURED, INACTIVE, ACTIVE, FINALIZED) == (
        msg.State.PRIMARY_STATE_UNKNOWN, msg.State.PRIMARY_STATE_UNCONFIGURED,
        msg.State.PRIMARY_STATE_INACTIVE, msg.State.PRIMARY_STATE_ACTIVE,
        msg.State.PRIMARY_STATE_FINALIZED)
    assert (lc.CONFIGURING, lc.ACTIVATING, lc.ERRORPROCESSING) == (
        msg.State.TRANSITION_STATE_CONFIGURING, msg.State.TRANSITION_STATE_ACTIVATING,
        msg.State.TRANSITION_STATE_ERRORPROCESSING)
    assert (CONFIGURE, CLEANUP, ACTIVATE, DEACTIVATE) == (
        msg.Transition.TRANSITION_CONFIGURE, msg.Transition.TRANSITION_CLEANUP,
        msg.Transition.TRANSITION_ACTIVATE, msg.Transition.TRANSITION_DEACTIVATE)


def test_plans_bring_up_in_order_and_stop_in_reverse():
    def of(operation):
        return [(s.node, s.label) for s in lc.plan(operation, NODES)]
    assert of('startup') == [('recorder', 'configure'), ('policy', 'configure'),
                             ('chunk_executor', 'configure'), ('recorder', 'activate'),
                             ('policy', 'activate'), ('chunk_executor', 'activate')]
    assert of('pause') == [('chunk_executor', 'deactivate'), ('policy', 'deactivate'),
                           ('recorder', 'deactivate')]
    assert of('resume') == [('recorder', 'activate'), ('policy', 'activate'),
                            ('chunk_executor', 'activate')]
    assert of('shutdown') == of('pause') + [('chunk_executor', 'cleanup'),
                                            ('policy', 'cleanup'), ('recorder', 'cleanup')]
    with pytest.raises(ValueError, match='unknown operation'):
        lc.plan('reboot', NODES)


@pytest.mark.parametrize('transition,state,action', [
    (CONFIGURE, UNCONFIGURED, 'call'), (CONFIGURE, INACTIVE, 'skip'), (CONFIGURE, ACTIVE, 'skip'),
    (CONFIGURE, FINALIZED, None), (CONFIGURE, lc.CONFIGURING, None),
    (ACTIVATE, INACTIVE, 'call'), (ACTIVATE, ACTIVE, 'skip'), (ACTIVATE, UNCONFIGURED, None),
    (DEACTIVATE, ACTIVE, 'call'), (DEACTIVATE, INACTIVE, 'skip'),
    (DEACTIVATE, UNCONFIGURED, 'skip'), (DEACTIVATE, lc.ACTIVATING, None),
    (CLEANUP, INACTIVE, 'call'), (CLEANUP, UNCONFIGURED, 'skip'), (CLEANUP, ACTIVE, None),
    (ACTIVATE, UNKNOWN, None),
])
def test_a_transition_is_asked_only_from_its_start_state(transition, state, action):
    assert lc.decide(Step('policy', transition), state) == action


def test_startup_pause_resume_shutdown():
    seq, nodes, calls, logs = station()
    report = seq.run('startup')
    assert report.ok, report.message
    assert calls == [(n, 'configure') for n in NODES] + [(n, 'activate') for n in NODES]
    assert report.states == {n: ACTIVE for n in NODES}
    assert report.message.startswith('startup: configured recorder, policy, chunk_executor; '
                                     'activated recorder, policy, chunk_executor')
    assert 'startup: policy activated: now active' in logs

    del calls[:]
    assert seq.run('pause').ok
    assert calls == [(n, 'deactivate') for n in reversed(NODES)]
    assert all(node.state == INACTIVE for node in nodes.values())

    del calls[:]
    assert seq.run('resume').ok
    assert calls == [(n, 'activate') for n in NODES]

    del calls[:]
    report = seq.run('shutdown')
    assert report.ok and report.states == {n: UNCONFIGURED for n in NODES}
    assert calls == ([(n, 'deactivate') for n in reversed(NODES)]
                     + [(n, 'cleanup') for n in reversed(NODES)])


def test_nodes_already_there_are_skipped():
    seq, nodes, calls, _logs = station({'recorder': ACTIVE, 'policy': INACTIVE})
    report = seq.run('startup')
    assert report.ok
    assert calls == [('chunk_executor', 'configure'), ('policy', 'activate'),
                     ('chunk_executor', 'activate')]
    del calls[:]
    report = seq.run('startup')
    assert report.ok and calls == []
    assert report.message == ('startup: nothing to do, every node already recorder active, '
                              'policy active, chunk_executor active')


def test_a_failing_configure_stops_before_anything_is_active():
    seq, nodes, calls, logs = station()
    nodes['policy'].refuse.add(CONFIGURE)
    report = seq.run('startup')
    assert not report.ok and report.failed == Step('policy', CONFIGURE)
    assert calls == [('recorder', 'configure'), ('policy', 'configure')]
    assert 'policy configure failed: the node refused it (now unconfigured)' in report.message
    assert 'nothing was activated' in report.message
    assert all(node.state != ACTIVE for node in nodes.values())
    assert report.states['recorder'] == INACTIVE and report.states['chunk_executor'] == UNKNOWN
    assert logs == ['startup: recorder configured: now inactive']


def test_a_failing_activation_deactivates_what_this_operation_activated():
    seq, nodes, calls, _logs = station()
    nodes['chunk_executor'].error.add(ACTIVATE)
    report = seq.run('startup')
    assert not report.ok and report.failed == Step('chunk_executor', ACTIVATE)
    assert calls[-3:] == [('chunk_executor', 'activate'), ('policy', 'deactivate'),
                          ('recorder', 'deactivate')]
    assert [s.node for s in report.undone] == ['policy', 'recorder']
    assert 'undone: policy deactivated, recorder deactivated' in report.message
    assert {n: node.state for n, node in nodes.items()} == {
        'recorder': INACTIVE, 'policy': INACTIVE, 'chunk_executor': UNCONFIGURED}


def test_an_activation_without_answer_is_undone_too():
    """The call may have gone through: the node is read again and deactivated if active."""
    seq, nodes, calls, _logs = station({n: INACTIVE for n in NODES})
    nodes['policy'].silent.add(ACTIVATE)
    report = seq.run('resume')
    assert not report.ok and 'policy activate failed: no answer' in report.message
    assert calls == [('recorder', 'activate'), ('policy', 'activate'),
                     ('policy', 'deactivate'), ('recorder', 'deactivate')]
    assert all(node.state == INACTIVE for node in nodes.values())


def test_resume_of_an_unconfigured_node_is_refused_without_asking():
    seq, nodes, calls, _logs = station({'recorder': INACTIVE, 'policy': UNCONFIGURED,
                                        'chunk_executor': INACTIVE})
    report = seq.run('resume')
    assert not report.ok
    assert 'policy activate failed: it is unconfigured, not inactive (nothing asked)' \
        in report.message
    assert calls == [('recorder', 'activate'), ('recorder', 'deactivate')]
    assert nodes['chunk_executor'].state == INACTIVE


def test_an_unreadable_node_stops_the_sequence():
    seq, nodes, calls, _logs = station({n: ACTIVE for n in NODES})
    nodes['policy'].unreadable = True
    report = seq.run('pause')
    assert not report.ok and report.failed == Step('policy', DEACTIVATE)
    assert "policy deactivate failed: its state could not be read" in report.message
    # the executor, first to stop, holds already
    assert calls == [('chunk_executor', 'deactivate')]
    assert report.states['policy'] == UNKNOWN


def test_the_node_list_is_checked():
    with pytest.raises(ValueError, match='no nodes'):
        Sequencer([], int, bool)
    with pytest.raises(ValueError, match='listed twice'):
        Sequencer(['a', 'b', 'a'], int, bool)

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
Managed bring-up of a station's lifecycle nodes (ROS-free): which transitions, in which order.

Nodes are listed in bring-up order, the one that commands the robot last (recorder, policy,
chunk executor): it starts commanding only once everything it depends on is active, and it is
the first to stop.

- ``startup``: configure every node in order, then activate every node in order.
- ``pause``: deactivate every node in reverse order (the robot holds, nothing is unconfigured).
- ``resume``: activate every node in order.
- ``shutdown``: deactivate every node in reverse order, then clean every node up in reverse order.

Before each transition the node's current state is read: a node already where the step leads is
skipped (a second ``startup`` does nothing), a node in a state the transition does not start from
stops the sequence (rclpy does not answer a transition that is invalid from the current state).
The first step that fails stops the sequence, and every node this sequence activated (the failed
one too, when the failure was an activation: its call may have gone through after all) is
deactivated again, in reverse order, so the robot holds. The report names the node and the
transition that failed and what was undone.

State and transition ids are those of ``lifecycle_msgs/msg/State`` and ``Transition``.
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Sequence

# lifecycle_msgs/msg/State: primary states, then the transition states a node passes through.
UNKNOWN, UNCONFIGURED, INACTIVE, ACTIVE, FINALIZED = 0, 1, 2, 3, 4
CONFIGURING, CLEANINGUP, SHUTTINGDOWN, ACTIVATING, DEACTIVATING, ERRORPROCESSING = range(10, 16)
STATE_LABELS = {
    UNKNOWN: 'unknown', UNCONFIGURED: 'unconfigured', INACTIVE: 'inactive', ACTIVE: 'active',
    FINALIZED: 'finalized', CONFIGURING: 'configuring', CLEANINGUP: 'cleaningup',
    SHUTTINGDOWN: 'shuttingdown', ACTIVATING: 'activating', DEACTIVATING: 'deactivating',
    ERRORPROCESSING: 'errorprocessing',
}

# lifecycle_msgs/msg/Transition ids of the four transitions a manager asks for.
CONFIGURE, CLEANUP, ACTIVATE, DEACTIVATE = 1, 2, 3, 4

OPERATIONS = ('startup', 'pause', 'resume', 'shutdown')


@dataclass(frozen=True)
class TransitionRule:
    """A transition: its names, the state it starts from and the states that mean it is done."""

    label: str
    past: str
    start: int
    done: FrozenSet[int]


#: What each transition starts from and which states make it unnecessary. ``deactivate`` is done
#: in any state but active (an unconfigured node commands nothing either); ``configure`` is done
#: once a node is configured, active included.
RULES: Dict[int, TransitionRule] = {
    CONFIGURE: TransitionRule('configure', 'configured', UNCONFIGURED,
                              frozenset({INACTIVE, ACTIVE})),
    ACTIVATE: TransitionRule('activate', 'activated', INACTIVE, frozenset({ACTIVE})),
    DEACTIVATE: TransitionRule('deactivate', 'deactivated', ACTIVE,
                               frozenset({UNCONFIGURED, INACTIVE, FINALIZED})),
    CLEANUP: TransitionRule('cleanup', 'cleaned up', INACTIVE,
                            frozenset({UNCONFIGURED, FINALIZED})),
}


def state_label(state: int) -> str:
    """Return the lifecycle state's name (``'state 42'`` for an id lifecycle_msgs lacks)."""
    return STATE_LABELS.get(state, f'state {state}')


@dataclass(frozen=True)
class Step:
    """One transition of one node."""

    node: str
    transition: int

    @property
    def label(self) -> str:
        """Return the transition's name (configure, activate, deactivate, cleanup)."""
        return RULES[self.transition].label

    @property
    def past(self) -> str:
        """Return what a node did when the step succeeded (configured, ..., cleaned up)."""
        return RULES[self.transition].past


def plan(operation: str, nodes: Sequence[str]) -> List[Step]:
    """
    Return the steps of ``operation`` for ``nodes`` (bring-up order).

    Raises ValueError for an operation not in ``OPERATIONS``.
    """
    nodes = list(nodes)
    back = nodes[::-1]
    if operation == 'startup':
        return [Step(n, CONFIGURE) for n in nodes] + [Step(n, ACTIVATE) for n in nodes]
    if operation == 'pause':
        return [Step(n, DEACTIVATE) for n in back]
    if operation == 'resume':
        return [Step(n, ACTIVATE) for n in nodes]
    if operation == 'shutdown':
        return [Step(n, DEACTIVATE) for n in back] + [Step(n, CLEANUP) for n in back]
    raise ValueError(f'unknown operation {operation!r} (one of {", ".join(OPERATIONS)})')


def decide(step: Step, state: int) -> Optional[str]:
    """
    Return what to do with ``step`` for a node in ``state``: ``'skip'``, ``'call'``, or None.

    None means the transition cannot start from ``state`` (the sequence must stop).
    """
    rule = RULES[step.transition]
    if state in rule.done:
        return 'skip'
    if state == rule.start:
        return 'call'
    return None


class ServiceFailure(RuntimeError):
    """A lifecycle service did not answer (not there, or no reply within its timeout)."""


@dataclass
class Report:
    """What one operation did: success, a one-line message and the last state seen per node."""

    operation: str
    ok: bool
    message: str
    failed: Optional[Step] = None
    states: Dict[str, int] = field(default_factory=dict)
    done: List[Step] = field(default_factory=list)
    undone: List[Step] = field(default_factory=list)


class Sequencer:
    """
    Runs an operation's steps against two calls a node shell provides.

    ``get_state(node) -> int`` returns the node's state id; ``change_state(node, transition) ->
    bool`` asks for a transition and returns whether the node reports success. Both may raise
    ``ServiceFailure`` (or ``TimeoutError``) saying what did not answer. ``log(message)``
    receives one line per transition made; a failure is said once, in the returned report.
    """

    def __init__(self, nodes: Sequence[str], get_state: Callable[[str], int],
                 change_state: Callable[[str, int], bool],
                 log: Callable[[str], None] = lambda message: None):
        """Manage ``nodes`` (bring-up order, at least one, each once)."""
        nodes = list(nodes)
        if not nodes:
            raise ValueError('no nodes to manage')
        if len(set(nodes)) != len(nodes):
            raise ValueError(f'a node is listed twice: {nodes}')
        self.nodes = nodes
        self._get_state = get_state
        self._change_state = change_state
        self._log = log
        #: Last state seen per node (UNKNOWN until read, and after a read that got no answer).
        self.states: Dict[str, int] = {n: UNKNOWN for n in nodes}

    def run(self, operation: str) -> Report:
        """Run ``operation`` (see ``plan``); on a failure undo its activations; report."""
        steps = plan(operation, self.nodes)
        report = Report(operation, True, '')
        for step in steps:
            problem = self._apply(step, report)
            if problem is not None:
                report.ok = False
                report.failed = step
                undo = self._undo(report)
                report.message = (f'{operation} failed: {step.node} {step.label} failed: '
                                  f'{problem}; {undo}')
                break
        else:
            report.message = f'{operation}: {self._summary(report.done)}'
        report.states = dict(self.states)
        return report

    def _apply(self, step: Step, report: Report) -> Optional[str]:
        """Run one step; return None when the node is where the step leads, else the problem."""
        try:
            state = self._read(step.node)
        except (ServiceFailure, TimeoutError) as exc:
            return f'its state could not be read ({exc})'
        action = decide(step, state)
        if action == 'skip':
            return None
        if action is None:
            return (f'it is {state_label(state)}, not {state_label(RULES[step.transition].start)}'
                    ' (nothing asked)')
        try:
            accepted = self._change_state(step.node, step.transition)
        except (ServiceFailure, TimeoutError) as exc:
            self.states[step.node] = UNKNOWN
            return f'no answer ({exc})'
        now = self._read_after(step.node)
        if not accepted:
            return f'the node refused it (now {state_label(now)})'
        report.done.append(step)
        self._log(f'{report.operation}: {step.node} {step.past}: now {state_label(now)}')
        return None

    def _read(self, node: str) -> int:
        try:
            state = int(self._get_state(node))
        except (ServiceFailure, TimeoutError):
            self.states[node] = UNKNOWN
            raise
        self.states[node] = state
        return state

    def _read_after(self, node: str) -> int:
        """Return the state after a transition (UNKNOWN, not an exception, when unreadable)."""
        try:
            return self._read(node)
        except (ServiceFailure, TimeoutError):
            return UNKNOWN

    def _undo(self, report: Report) -> str:
        """Deactivate, in reverse order, what this operation activated (or may have); say what."""
        targets = [s.node for s in report.done if s.transition == ACTIVATE]
        failed = report.failed
        if failed is not None and failed.transition == ACTIVATE and failed.node not in targets:
            targets.append(failed.node)  # an activation without answer may still have happened
        if not targets:
            return 'nothing was activated, nothing undone'
        said = []
        for node in reversed(targets):
            step = Step(node, DEACTIVATE)
            try:
                state = self._read(node)
            except (ServiceFailure, TimeoutError) as exc:
                said.append(f'{node}: state unreadable ({exc}), not deactivated')
                continue
            if decide(step, state) == 'skip':
                continue
            try:
                accepted = self._change_state(node, DEACTIVATE)
            except (ServiceFailure, TimeoutError) as exc:
                said.append(f'{node}: deactivate got no answer ({exc})')
                continue
            now = self._read_after(node)
            if accepted:
                report.undone.append(step)
                self._log(f'{report.operation}: undo: {node} deactivated: now {state_label(now)}')
                said.append(f'{node} deactivated')
            else:
                said.append(f'{node}: deactivate refused (now {state_label(now)})')
        return 'undone: ' + ', '.join(said) if said else 'nothing left active to undo'

    def _summary(self, done: List[Step]) -> str:
        if not done:
            return 'nothing to do, every node already ' + self._where()
        by_past: Dict[str, List[str]] = {}
        for step in done:
            by_past.setdefault(step.past, []).append(step.node)
        parts = [f'{past} {", ".join(nodes)}' for past, nodes in by_past.items()]
        return '; '.join(parts) + '; now ' + self._where()

    def _where(self) -> str:
        return ', '.join(f'{n} {state_label(self.states[n])}' for n in self.nodes)

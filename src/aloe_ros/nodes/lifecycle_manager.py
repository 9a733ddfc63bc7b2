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
Lifecycle manager node: configures and activates a station's managed nodes, in order.

Thin shell around ``aloe_ros.station.lifecycle.Sequencer`` (the order, which transition from
which state, what a failure undoes). ``node_names`` lists the managed nodes in bring-up order;
names are relative, so a manager in ``/station_a`` manages ``/station_a/aloe_recorder`` and so on.
Every node's state is read (``<node>/get_state``) before a transition is asked
(``<node>/change_state``): rclpy does not answer a transition that is invalid from the current
state. Every call has ``service_timeout``.

With ``autostart`` the manager runs ``startup`` once every managed node's two services exist
(an operation requested before then replaces it). All operations run one at a time on a worker
thread; a request waits for its result in its own callback group while the executor's other
threads carry the lifecycle calls' answers and the diagnostics.

Services (std_srvs/Trigger; the response says what was done, or which node failed which
transition and what was undone): ``aloe/lifecycle/startup`` (configure all in order, then
activate all in order), ``aloe/lifecycle/pause`` (deactivate all in reverse order: the executor
first, so the robot holds), ``aloe/lifecycle/resume`` (activate all in order),
``aloe/lifecycle/shutdown`` (deactivate, then clean up, all in reverse order).

Publishes: ``/diagnostics`` at 1 Hz: each managed node's state (``state.<node>``, read again
every second while idle), the last operation's report, transitions and failures counted; WARN
while waiting for the nodes' services, ERROR after a failed operation, until one succeeds.
"""

import queue
import re
import sys
import threading
from typing import Optional

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_srvs.srv import Trigger

from aloe_ros.nodes.common import (DiagnosticsPublisher, OncePerCause, ParamSpec,
                                   declare_parameters, run_node)
from aloe_ros.nodes.transfer import ServiceCaller
from aloe_ros.station import lifecycle
from aloe_ros.station.lifecycle import Report, Sequencer, state_label

#: The station's managed nodes in bring-up order: the executor last, so it starts commanding
#: only once the policy and the recorder are active.
DEFAULT_NODES = ['aloe_recorder', 'policy', 'chunk_executor']
#: Service namespace of the operations (relative: in the manager's namespace).
SERVICES = 'aloe/lifecycle'
#: Seconds between state reads while no operation runs, and their own timeout.
POLL_PERIOD = 1.0
_NODE_NAME = re.compile(r'/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*')


def _check_names(names) -> Optional[str]:
    bad = [n for n in names if not _NODE_NAME.fullmatch(n)]
    if bad:
        return (f'{bad} are not node names (tokens of letters, digits and _, not starting with '
                'a digit)')
    if len(set(names)) != len(names):
        return f'a node is listed twice: {list(names)}'
    return None


PARAMS = [
    ParamSpec('node_names', list(DEFAULT_NODES),
              'Managed lifecycle nodes in bring-up order (configured and activated in this order, '
              'deactivated in reverse); relative names resolve in the manager\'s namespace',
              read_only=True, allow_empty=False, check=_check_names),
    ParamSpec('autostart', True, 'Run startup once every managed node\'s lifecycle services '
              'exist (false: wait for aloe/lifecycle/startup)', read_only=True),
    ParamSpec('service_timeout', 60.0, 'Seconds each lifecycle call (get_state, change_state) '
              'may take, waiting for its service included, before it counts as failed '
              '(configure loads weights: be generous)', min=0.1, max=3600.0, read_only=True),
]
PARAMETERS = {'use_sim_time': False, **{spec.name: spec.default for spec in PARAMS}}


class _Job:
    """One requested operation and, once run, its report."""

    def __init__(self, operation: str):
        self.operation = operation
        self.report: Optional[Report] = None
        self.done = threading.Event()


class LifecycleManagerNode(Node):
    """Brings the managed nodes up, pauses, resumes and shuts them down on request."""

    def __init__(self, **kwargs):
        """Declare parameters, create the lifecycle clients and services, start the worker."""
        super().__init__('lifecycle_manager', **kwargs)
        self.p = declare_parameters(self, PARAMS)
        self.node_names = list(self.p['node_names'])
        timeout = self.p['service_timeout']
        self._get = {n: ServiceCaller(self, GetState, f'{n}/get_state', timeout)
                     for n in self.node_names}
        self._poll = {n: ServiceCaller(self, GetState, f'{n}/get_state',
                                       min(timeout, POLL_PERIOD)) for n in self.node_names}
        self._change = {n: ServiceCaller(self, ChangeState, f'{n}/change_state', timeout)
                        for n in self.node_names}
        self.sequencer = Sequencer(self.node_names, self._get_state, self._change_state,
                                   self._on_transition)
        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('transitions', 'failures')
        self._publish_states()
        self._jobs: 'queue.Queue[_Job]' = queue.Queue()
        self._stop = threading.Event()
        self._errors = OncePerCause(self.get_logger())
        group = MutuallyExclusiveCallbackGroup()  # one request waits on the worker at a time
        for operation in lifecycle.OPERATIONS:
            self.create_service(Trigger, f'{SERVICES}/{operation}',
                                lambda req, res, op=operation: self._on_request(op, res),
                                callback_group=group)
        self._worker = threading.Thread(target=self._loop, name='lifecycle-manager',
                                        daemon=True)
        self._worker.start()
        self.get_logger().info(
            f'managing {self.node_names} (bring-up in this order); '
            + ('startup once their lifecycle services exist' if self.p['autostart']
               else f'waiting for {SERVICES}/startup'))

    # ------------------------------------------------------------------ lifecycle calls

    def _get_state(self, node: str) -> int:
        return int(self._get[node](GetState.Request()).current_state.id)

    def _change_state(self, node: str, transition: int) -> bool:
        response = self._change[node](ChangeState.Request(transition=Transition(id=transition)))
        return bool(response.success)

    def _on_transition(self, message: str) -> None:
        self.diag.count('transitions')
        self.get_logger().info(message)

    # ------------------------------------------------------------------ requests and worker

    def _on_request(self, operation: str, response: Trigger.Response) -> Trigger.Response:
        job = _Job(operation)
        self._jobs.put(job)
        # Every lifecycle call the job makes has a timeout, so it ends; a manager going down
        # answers the waiting request instead.
        while not job.done.wait(0.5):
            if self._stop.is_set():
                response.success = False
                response.message = f'{operation} not run: the lifecycle manager is shutting down'
                return response
        response.success = job.report is not None and job.report.ok
        response.message = (job.report.message if job.report is not None
                            else f'{operation} not run: the lifecycle manager is shutting down')
        return response

    def _loop(self) -> None:
        pending_autostart = bool(self.p['autostart'])
        waiting_said = ''
        while not self._stop.is_set():
            try:
                job = self._jobs.get(timeout=POLL_PERIOD)
            except queue.Empty:
                job = None
            try:
                if job is not None:
                    if pending_autostart:
                        self.get_logger().info(f'{job.operation} requested before autostart '
                                               'ran: autostart dropped')
                        pending_autostart = False
                    job.report = self._run(job.operation)
                    continue
                missing = [n for n in self.node_names
                           if not (self._get[n].ready() and self._change[n].ready())]
                if pending_autostart and not missing:
                    pending_autostart = False
                    self._run('startup')
                elif pending_autostart:
                    said = f'waiting for the lifecycle services of {missing}'
                    if said != waiting_said:
                        self.get_logger().info(f'autostart {said}')
                        waiting_said = said
                    self.diag.set_status(DiagnosticsPublisher.WARN, said)
                else:
                    self._refresh_states(missing)
            except Exception as exc:  # rclpy raises RCLError and others once its context is gone
                message = f'{type(exc).__name__}: {exc}'
                if job is not None:
                    job.report = Report(job.operation, False,
                                        f'{job.operation} not completed: {message}')
                if self._stop.is_set() or not self.context.ok():
                    return
                self._errors.emit('worker', 'error', f'lifecycle manager worker: {message}; '
                                                     'it carries on')
            finally:
                if job is not None:
                    job.done.set()

    def _run(self, operation: str) -> Report:
        self.get_logger().info(f'{operation}: {self.node_names}')
        report = self.sequencer.run(operation)
        self.diag.set('last_operation', report.message)
        if report.ok:
            self.get_logger().info(report.message)
            self.diag.set_status(DiagnosticsPublisher.OK, report.message)
        else:
            self.diag.count('failures')
            self.get_logger().error(report.message)
            self.diag.set_status(DiagnosticsPublisher.ERROR, report.message)
        self._publish_states()
        return report

    def _refresh_states(self, missing) -> None:
        """Read every node's state again (a node may change by itself, or go away)."""
        for node in self.node_names:
            if node in missing:
                self.sequencer.states[node] = lifecycle.UNKNOWN
                continue
            try:
                self.sequencer.states[node] = int(
                    self._poll[node](GetState.Request()).current_state.id)
            except TimeoutError:
                self.sequencer.states[node] = lifecycle.UNKNOWN
        self._publish_states()

    def _publish_states(self) -> None:
        for node, state in self.sequencer.states.items():
            self.diag.set(f'state.{node}', state_label(state))

    def destroy_node(self):
        """Stop the worker (after the call in progress) before the node goes."""
        self._stop.set()
        if self._worker.is_alive():
            self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args=None):
    """Run the lifecycle manager node."""
    sys.exit(run_node(LifecycleManagerNode, args, threads=4))


if __name__ == '__main__':
    main()

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
Managed (lifecycle) nodes: the chunk executor, the policy and the recorder.

``ManagedNode`` is an ``rclpy.lifecycle.LifecycleNode`` whose subclass splits its start into
four steps, each run by the standard lifecycle transition of the same meaning:

- ``configure()`` (configure): read and validate the parameters, load what the node needs
  (robot profile, weights, the episode store) and create its topics, services and timers. A
  ``ConfigError`` (or any exception) fails the transition with one error log naming the cause;
  everything created so far is released and the node stays unconfigured, so the parameter can
  be fixed (``ros2 param set``) and configure asked again.
- ``activate()`` (activate): start doing the node's job (commanding, planning, recording).
- ``deactivate()`` (deactivate): stop it so that the robot holds.
- ``release()`` (cleanup, shutdown, and a failed configure): let go of what ``configure``
  loaded (threads, files); the topics, services and timers it made are destroyed here.

Parameters are declared (with their descriptors) when the node is built, so they can be set
while it is unconfigured; they are validated at configure. ``autostart`` (default true)
configures and activates the node at start, which is how every node ran before and how the
launch files run it unless ``managed:=true``: an invalid parameter then stops the process with
exit code 2 as before. With ``autostart: false`` a lifecycle manager (``aloe_lifecycle_manager``)
or ``ros2 lifecycle set`` drives it.

rclpy answers a ``change_state`` request whose transition is invalid in the current state with
no response at all (the exception escapes the service callback); here it gets
``success: false`` and a warning naming the state.
"""

import traceback
from typing import Iterable, List

from lifecycle_msgs.msg import Transition
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from aloe_ros.nodes.common import ConfigError, ParamSpec

AUTOSTART = ParamSpec(
    'autostart', True,
    'configure and activate this node at start (false: it starts unconfigured and waits for '
    'the lifecycle transitions, from aloe_lifecycle_manager or `ros2 lifecycle set`)',
    read_only=True)

_TRANSITION_NAMES = {
    Transition.TRANSITION_CONFIGURE: 'configure', Transition.TRANSITION_CLEANUP: 'cleanup',
    Transition.TRANSITION_ACTIVATE: 'activate', Transition.TRANSITION_DEACTIVATE: 'deactivate',
    Transition.TRANSITION_UNCONFIGURED_SHUTDOWN: 'shutdown',
    Transition.TRANSITION_INACTIVE_SHUTDOWN: 'shutdown',
    Transition.TRANSITION_ACTIVE_SHUTDOWN: 'shutdown'}


def _entities(node) -> List[object]:
    return [*node.publishers, *node.subscriptions, *node.clients, *node.services, *node.timers,
            *node.guards, *node.waitables]


class ManagedNode(LifecycleNode):
    """
    Lifecycle node with an ``autostart`` parameter; subclasses implement the four steps.

    ``self.active`` is true between activate and deactivate: callbacks that command, plan or
    record check it. Call ``declare_specs`` (parameters, unvalidated) in the subclass
    ``__init__`` and ``bring_up()`` at its end.
    """

    def __init__(self, node_name: str, specs: Iterable[ParamSpec], **kwargs):
        """Create the lifecycle node and declare ``specs`` plus ``autostart``."""
        super().__init__(node_name, **kwargs)
        self.active = False
        self.configured = False
        self.config_error = None  # the last failed configure's exception
        self._made = set()        # ids of the entities configure() created
        self._parameter_callbacks = []  # filled by declare_parameters, removed at cleanup
        from aloe_ros.nodes.common import declare_only
        declare_only(self, [*specs, AUTOSTART])
        self._answer_invalid_transitions()

    # ------------------------------------------------------------------ subclass steps

    def configure(self) -> None:
        """Read and validate parameters, load, create interfaces (raise ConfigError if bad)."""

    def activate(self) -> None:
        """Start commanding / planning / recording."""

    def deactivate(self) -> None:
        """Stop so that the robot holds."""

    def release(self) -> None:
        """Let go of what configure loaded (may run after a configure that failed midway)."""

    # ------------------------------------------------------------------ start

    def bring_up(self) -> None:
        """
        Configure and activate now when ``autostart`` is true; otherwise say what to do.

        Raises the ConfigError of a failed configure (run_node reports it and exits with 2).
        """
        if not self.get_parameter('autostart').value:
            self.get_logger().info(
                'unconfigured (autostart: false): waiting for configure and activate from '
                'aloe_lifecycle_manager or `ros2 lifecycle set '
                f'{self.get_fully_qualified_name()} configure`')
            return
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            exc = self.config_error
            if isinstance(exc, ConfigError):
                raise exc
            raise ConfigError('autostart', f'configure failed: {exc}')
        if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            raise ConfigError('autostart', f'activate failed: {self.config_error}')

    # ------------------------------------------------------------------ transitions

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Run ``configure``; on failure release everything it made and stay unconfigured."""
        before = {id(e) for e in _entities(self)}
        try:
            self.configure()
        except Exception as exc:  # ConfigError included: the node stays unconfigured
            self.config_error = exc
            detail = (f'invalid configuration: {exc}' if isinstance(exc, ConfigError)
                      else f'{type(exc).__name__}: {exc}\n{traceback.format_exc()}')
            self.get_logger().error(f'configure failed: {detail}; staying unconfigured')
            self._made = {id(e) for e in _entities(self)} - before
            self._release_all()
            return TransitionCallbackReturn.FAILURE
        self._made = {id(e) for e in _entities(self)} - before
        self.config_error = None
        self.configured = True
        self.get_logger().info('configured')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Run ``activate``; ``self.active`` is set once it returned."""
        try:
            self.activate()
        except Exception as exc:
            self.config_error = exc
            self.get_logger().error(f'activate failed: {type(exc).__name__}: {exc}; staying '
                                    'inactive')
            return TransitionCallbackReturn.FAILURE
        self.active = True
        self.get_logger().info('active')
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Clear ``self.active`` first (callbacks stop at once), then run ``deactivate``."""
        self.active = False
        self.deactivate()
        self.get_logger().info('inactive')
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release what configure loaded and made; back to unconfigured."""
        self._release_all()
        self.get_logger().info('cleaned up: unconfigured')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Deactivate if active and release (the interfaces go with the node)."""
        if self.active:
            self.active = False
            self.deactivate()
        if self.configured:
            self.release()
            self.configured = False
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop and release after a transition raised; back to unconfigured."""
        self.get_logger().error(f'lifecycle error from state {state.label!r}: releasing')
        self.active = False
        self._release_all()
        return TransitionCallbackReturn.SUCCESS

    # ------------------------------------------------------------------ internals

    def _release_all(self) -> None:
        try:
            self.release()
        finally:
            self.configured = False
            for callback in self._parameter_callbacks:
                self.remove_on_set_parameters_callback(callback)
            self._parameter_callbacks = []
            self._destroy_made()

    def _destroy_made(self) -> None:
        destroy = {'publishers': self.destroy_publisher,
                   'subscriptions': self.destroy_subscription, 'clients': self.destroy_client,
                   'services': self.destroy_service, 'timers': self.destroy_timer,
                   'guards': self.destroy_guard_condition}
        for kind, destroyer in destroy.items():
            for entity in list(getattr(self, kind)):
                # The TimeSource's /clock subscription is the node's own, remade by guard_clock.
                if id(entity) in self._made and getattr(entity, 'topic_name', '') != '/clock':
                    destroyer(entity)
        for waitable in list(self.waitables):
            if id(waitable) in self._made:
                self.remove_waitable(waitable)
                waitable.destroy()
        self._made = set()

    def _answer_invalid_transitions(self) -> None:
        service = getattr(self, '_service_change_state', None)
        if service is None:
            return
        answer = service.callback

        def change_state(request, response):
            try:
                return answer(request, response)
            except Exception as exc:  # rclpy's state machine refuses the transition
                name = (request.transition.label
                        or _TRANSITION_NAMES.get(request.transition.id,
                                                 str(request.transition.id)))
                self.get_logger().warning(
                    f'transition {name!r} refused in state '
                    f'{self._state_machine.current_state[1]!r}: {exc}')
                response.success = False
                return response

        service.callback = change_state

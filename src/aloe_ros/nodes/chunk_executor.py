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
Chunk executor node: plays action chunks at a fixed rate, arbitrates policy vs human.

Thin shell around ``aloe_ros.station.executor_core.ExecutorCore`` (all rules live there).

Subscribes: ``/aloe/observation`` (Observation, sensor data), ``/aloe/action_chunk`` (ActionChunk,
reliable 5), ``/aloe/intervention`` (InterventionState, latched), ``/aloe/teleop_command``
(JointState, 14 names), ``/aloe/episode_event`` (EpisodeEvent, latched).
Publishes: per command group of the robot profile (``robot_profile``,
``aloe_ros.station.command_mapping``) its controller's message in robot units: JointTrajectory,
Float64MultiArray, GripperCommand goals (control_msgs) or Interbotix JointGroupCommand /
JointSingleCommand; without a profile, per arm ``/<controller>/joint_trajectory``
(JointTrajectory) or ``/<controller>/commands`` (Float64MultiArray) by ``command_interface``.
Limits are enforced in action units, converted from the profile's robot-unit limits, and every
command is clipped into the robot-unit limits again after conversion. ``dry_run`` publishes no
command (and no executed step) and logs what it would send once per second.
``/aloe/executed_step`` (ExecutedStep, reliable 200, action units) every tick;
``/aloe/safety_event`` (SafetyEvent) once per cause; ``/diagnostics`` at 1 Hz.
Service: ``/aloe/executor/set_mode`` (SetMode: RUN/HOLD/ESTOP).

Threads: the control loop runs on its own thread (``ExecutorCore``'s ``ControlLoop``), ticking at
absolute deadlines ``t0 + k / rate`` on the monotonic clock (on ROS time under ``use_sim_time``),
so
message handling, diagnostics and services on the ROS executor's thread never delay a tick. It can
be pinned to CPUs (``cpu_affinity``) and run at a SCHED_FIFO priority (``thread_priority``); a
setting
that is not permitted is reported once with the reason and the loop runs without it. One lock
guards the core and the node's state, shared by the two threads. At activation every object alive
is frozen out of Python's garbage collector (``GcPauses``): a full collection of the whole process
(~20 ms) could otherwise start in either thread and hold the interpreter through a tick; the
longest collection pause and the count of full collections are in ``/diagnostics``.

Faults: no message or request stops this node. A ``/clock`` sample that is invalid or jumps
(``ClockGuard``) is not applied; the executor holds (SafetyEvent) until the clock has been sane
for ``clock_recover_after`` s. Invalid observations, chunks, teleop commands and episode events
are rejected and counted; an exception in any input callback is logged, counted and the input
dropped. Fatal (exit code 1, the launch file's required-node rule then stops the graph, the
controllers keep their last target): an exception in the control tick itself, since a loop that
keeps running without deciding commands would hide a dead controller; and ``MemoryError``.
Reports (log lines and SafetyEvents) are sent once per cause and at most ``report_burst`` per
cause per ``report_window`` s, with the number suppressed.

Episode labels: executed steps carry the id of the episode the recorder announced
(EVENT_STARTED). The label only ever changes to a new EVENT_STARTED's id, never mid-episode:
while an episode is being labelled, an EVENT_STARTED with another id is ignored and reported
once (the recorder never starts an episode while one is open, so such an event is forged or
stale and following it would make the recorder refuse the real episode's steps). EVENT_ENDED
for the labelled episode does not clear the label; it only lets the next EVENT_STARTED be
followed. A forged EVENT_ENDED (the id is public: the latched EVENT_STARTED carries it)
therefore costs no step, and steps labelled with an episode the recorder has closed are
dropped by the recorder. A second EVENT_ENDED for the same episode is reported once.
A forged pair (EVENT_ENDED for the open episode, then EVENT_STARTED with another id) is
indistinguishable here from a real end and start, so the label follows it; the recorder, the
only node that opens episodes, records steps with a label it never issued (or any other label
once it has seen this executor follow its episode) into its open episode, so the pair costs no
step either. The real EVENT_ENDED of the split episode then lets the next start be followed
(reported once). An episode is never reopened: an EVENT_STARTED naming an id this executor
labelled and saw end is ignored and reported once (between a real end and the next start it
would label the next episode's steps with a closed id and hide the real start). Should one it
never saw end be followed that way, the recorder records the steps into its open episode and
the EVENT_ENDED of that episode (whose start was ignored) lets the next start be followed.
"""

import collections
import sys
import threading
import time

from aloe_msgs.msg import ActionChunk, EpisodeEvent, ExecutedStep, InterventionState, Observation
from aloe_msgs.msg import SafetyEvent
from aloe_msgs.srv import SetMode
from builtin_interfaces.msg import Duration
import numpy as np
from rclpy.clock import JumpThreshold
from rclpy.duration import Duration as RosDuration
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from aloe_ros.station import command_mapping as cm
from aloe_ros.station import executor_core as ec
from aloe_ros.learning.episode import SOURCE_HOLD, SOURCE_HUMAN, SOURCE_POLICY
from aloe_ros.nodes.managed import AUTOSTART, ManagedNode
from aloe_ros.nodes.common import (ClockGuard, COMMANDS, ConfigError, DiagnosticsPublisher, EVENTS,
                                   FatalNodeError, guard_clock, LATCHED, load_robot_profile,
                                   OncePerCause, ParamSpec, SENSOR_DATA, SMALL_MESSAGE_BYTES,
                                   declare_parameters, oversized_refusal, reliable, run_node,
                                   stamp_to_sec, subscribe_bounded)

#: Bytes of an ActionChunk beyond its actions (header, joint names) accepted before deserializing.
CHUNK_OVERHEAD_BYTES = 64 * 1024
#: Parameters a robot profile replaces (setting one of them with ``robot_profile`` is refused).
PROFILE_REPLACES = ('joint_names', 'lower_limits', 'upper_limits', 'max_velocities',
                    'command_interface', 'arms', 'controllers')
#: GIL switch interval of the executor process [s]: how long the control thread can wait for the
#: interpreter while the ROS thread runs Python code (CPython's default is 5 ms, a quarter period).
GIL_SWITCH_INTERVAL = 0.0005
#: Longest wait for ROS time to move before the control thread re-checks for shutdown [s].
ROS_TIME_POLL = 0.05
#: Ended episode ids remembered (never followed again): days of episodes, ~100 kB.
CLOSED_IDS_KEPT = 4096

# ALOHA (ViperX 300 s) joint limits [rad], gripper normalised [0, 1]; override per robot in YAML.
_ARM_LOWER = [-3.14, -1.85, -1.76, -3.14, -1.87, -3.14, 0.0]
_ARM_UPPER = [3.14, 1.26, 1.61, 3.14, 2.23, 3.14, 1.0]
_ARM_VMAX = [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0]


def parameter_specs():
    """Return the executor's parameters (also used by tests and docs)."""
    return [
        ParamSpec('rate', 50.0, 'control loop rate [Hz]', min=1.0, max=1000.0, read_only=True),
        ParamSpec('joint_names', list(ec.DEFAULT_JOINT_NAMES), 'action dimensions in order',
                  read_only=True, allow_empty=False),
        ParamSpec('lower_limits', _ARM_LOWER * 2, 'lower position limit per joint [rad | 0..1]',
                  length_of='joint_names', read_only=True),
        ParamSpec('upper_limits', _ARM_UPPER * 2, 'upper position limit per joint [rad | 0..1]',
                  length_of='joint_names', read_only=True),
        ParamSpec('max_velocities', _ARM_VMAX * 2, 'max velocity per joint [rad/s | 1/s]',
                  length_of='joint_names', min=1e-6, read_only=True),
        ParamSpec('blend_steps', 5,
                  'ticks over which a new chunk is blended into the running plan',
                  min=0, max=1000),
        ParamSpec('skip_past_steps', True,
                  'skip chunk steps whose time (stamp + k*dt) has passed'),
        ParamSpec('observation_timeout', 0.2, 'hold when no observation arrived for this long [s]',
                  min=0.001, max=10.0),
        ParamSpec('teleop_timeout', 0.2,
                  'hold during an intervention when no teleop command arrived '
                  'for this long [s]', min=0.001, max=10.0),
        ParamSpec('command_interface', 'trajectory', 'trajectory: JointTrajectory to '
                  '<controller>/joint_trajectory; forward: Float64MultiArray to '
                  '<controller>/commands',
                  choices=['trajectory', 'forward'], read_only=True),
        ParamSpec('arms', ['left', 'right'], 'arm prefixes: joints named <arm>_* go to that arm',
                  read_only=True, allow_empty=False),
        ParamSpec('controllers', ['left_arm_controller', 'right_arm_controller'],
                  'controller namespace per arm', length_of='arms', read_only=True),
        ParamSpec('trajectory_time_from_start', 0.0,
                  'time_from_start of the trajectory point [s]; '
                  '0 = one control period', min=0.0, max=5.0),
        ParamSpec('robot_profile', '',
                  'robot profile YAML (config/robots/): controller groups, joint names, unit '
                  'conversion and limits; replaces joint_names, the limits, command_interface, '
                  'arms and controllers (empty: those parameters describe one 7-joint group per '
                  'arm)', read_only=True),
        ParamSpec('dry_run', False,
                  'publish no command and no executed step: log once per second what would be '
                  'sent to each controller (verify a profile on the robot before the first run)',
                  read_only=True),
        ParamSpec('start_mode', 'RUN', 'mode at start-up', choices=['RUN', 'HOLD'],
                  read_only=True),
        ParamSpec('clock_max_backward', 0.5,
                  '/clock samples going back more than this are rejected [s]',
                  min=0.0, max=3600.0, read_only=True),
        ParamSpec('clock_max_forward', 10.0,
                  '/clock samples jumping forward more than this are rejected [s]',
                  min=0.001, max=1e6, read_only=True),
        ParamSpec('clock_recover_after', 0.5, 'hold until /clock has been sane this long [wall s]',
                  min=0.0, max=60.0, read_only=True),
        ParamSpec('max_observation_bytes', 64 * 1024 * 1024,
                  'largest serialized Observation read; larger ones are refused unread '
                  '[bytes]', min=1024, max=2 ** 40, read_only=True),
        ParamSpec('max_horizon', ec.DEFAULT_MAX_HORIZON,
                  'longest chunk accepted [steps]; longer ones are '
                  'refused before their data is read', min=1, max=1_000_000, read_only=True),
        ParamSpec('report_window', 5.0, 'window of the per-cause report budget [s]', min=0.1,
                  max=3600.0,
                  read_only=True),
        ParamSpec('report_burst', 3, 'reports (log + SafetyEvent) per cause per window', min=1,
                  max=1000,
                  read_only=True),
        ParamSpec('cpu_affinity', [],
                  'CPUs the control thread may run on (empty: any); keep other '
                  'processes off them for a quiet core', kind='int_array', min=0, max=4095,
                  read_only=True),
        ParamSpec('thread_priority', 0,
                  'SCHED_FIFO priority of the control thread, 1-99 (0: normal '
                  'scheduling); needs CAP_SYS_NICE or an rtprio limit, else a warning and normal '
                  'priority',
                  min=0, max=99, read_only=True),
    ]


#: Parameter name -> default, for static launch-file checks (``use_sim_time`` comes from rclpy).
PARAMETERS = {'use_sim_time': False, AUTOSTART.name: AUTOSTART.default,
              **{spec.name: spec.default for spec in parameter_specs()}}
#: Managed (lifecycle) node: ``autostart`` is declared by ManagedNode (param_docs lists it).
MANAGED = True


class ChunkExecutorNode(ManagedNode):
    """
    ROS shell of ExecutorCore: converts messages, runs the control thread, publishes.

    Managed (``ManagedNode``): configure loads the robot profile, builds the core and creates
    the interfaces; activate starts the control thread in ``start_mode``; deactivate puts the
    core in HOLD, lets one more tick send the hold command (when the clock moves within a
    second) and stops the thread, so no command is sent while inactive; set_mode is refused
    then.
    """

    def __init__(self, **kwargs):
        """Declare parameters; configure and activate unless ``autostart`` is false."""
        super().__init__('chunk_executor', parameter_specs(), **kwargs)
        # Callbacks (ROS executor thread) and ticks (control thread) share the core under this
        # lock.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.core = None
        self.gc_pauses = ec.GcPauses()
        self.bring_up()

    def configure(self) -> None:
        """Validate parameters, load the robot profile, build the core, create interfaces."""
        p = declare_parameters(self, parameter_specs(), on_change=self._on_param)
        self.p = p
        self.dt = 1.0 / p['rate']
        self.profile = load_executor_profile(p)
        self.joint_names = list(self.profile.action_names)
        limits = ec.JointLimits(*self.profile.action_limits())
        self.core = ec.ExecutorCore(ec.ExecutorConfig(
            limits=limits, joint_names=self.joint_names, dt=self.dt, blend_steps=p['blend_steps'],
            observation_timeout=p['observation_timeout'], teleop_timeout=p['teleop_timeout'],
            skip_past_steps=p['skip_past_steps']))
        if p['start_mode'] == 'HOLD':
            self.core.set_mode(ec.MODE_HOLD, 'start_mode')

        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('ticks', 'missed_ticks', 'chunks_received', 'chunks_rejected',
                          'chunks_ignored',
                          'observations_rejected', 'teleop_rejected', 'policy_steps',
                          'human_steps',
                          'hold_steps', 'clamped_steps', 'clock_rejected',
                          'episode_events_rejected',
                          'reports_suppressed', 'gc_full_collections')
        self.once = OncePerCause(self.get_logger(), on_event=self._publish_cause_event,
                                 window=p['report_window'], burst=p['report_burst'])
        self._note_kind = {}
        self.notes = OncePerCause(self.get_logger(), on_event=self._publish_note,
                                  window=p['report_window'], burst=p['report_burst'])
        self.clock_guard = guard_clock(self, self.once, self._on_clock_fault, ClockGuard(
            max_backward=p['clock_max_backward'], max_forward=p['clock_max_forward'],
            recover_after=p['clock_recover_after']))
        self.loop = ec.LoopStats(self.dt)
        self.episode_id = ''
        self.episode_ended = False  # EVENT_ENDED seen for episode_id: the next start is followed
        self._followed = collections.deque(maxlen=16)  # ids labelled before the current one
        # Ids labelled here and then ended: the recorder never reopens one, so an EVENT_STARTED
        # naming one is forged or replayed (bounded; only ids this executor followed enter).
        self._closed = collections.OrderedDict()
        self._refused = collections.deque(maxlen=16)  # EVENT_STARTED ids ignored while labelling
        self.step_index = 0

        self.safety_pub = self.create_publisher(SafetyEvent, 'aloe/safety_event', EVENTS)
        self.step_pub = self.create_publisher(ExecutedStep, 'aloe/executed_step', reliable(200))
        # Every message module the profile needs is imported before anything is created (in a
        # dry run too), so a missing package stops the node at start with its name, never at the
        # first command.
        types = [message_types(self.profile, group) for group in self.profile.groups]
        self.senders = [] if p['dry_run'] else [
            make_sender(self, group, msg_type)
            for group, msg_type in zip(self.profile.groups, types)]
        self._dry_run_every = max(1, int(round(p['rate'])))
        # Sizes are checked on the serialized bytes, before any conversion.
        subscribe_bounded(self, Observation, 'aloe/observation', self._on_observation,
                          SENSOR_DATA, p['max_observation_bytes'],
                          self._oversized('observation', 'observations_rejected'))
        # Chunks arrive serialized: an oversized one is refused on its byte count, never
        # deserialized.
        self._max_chunk_bytes = p['max_horizon'] * len(self.joint_names) * 4 + CHUNK_OVERHEAD_BYTES
        self.create_subscription(ActionChunk, 'aloe/action_chunk', self._on_chunk_data,
                                 reliable(5),
                                 raw=True)
        subscribe_bounded(self, InterventionState, 'aloe/intervention', self._on_intervention,
                          LATCHED, SMALL_MESSAGE_BYTES, self._oversized('intervention'))
        subscribe_bounded(self, JointState, 'aloe/teleop_command', self._on_teleop, COMMANDS,
                          SMALL_MESSAGE_BYTES, self._oversized('teleop', 'teleop_rejected'))
        subscribe_bounded(self, EpisodeEvent, 'aloe/episode_event', self._on_episode, LATCHED,
                          SMALL_MESSAGE_BYTES,
                          self._oversized('episode_event', 'episode_events_rejected'))
        self.create_service(SetMode, 'aloe/executor/set_mode', self._on_set_mode)
        self._fatal = None
        self._fatal_guard = self.create_guard_condition(self._raise_fatal)
        self._sim_time = bool(self.get_parameter('use_sim_time').value)
        if self._sim_time:
            self._time_moved = threading.Event()
            # Woken on every ROS time update; the handle must live as long as the loop.
            self._jump_handle = self.get_clock().create_jump_callback(
                JumpThreshold(min_forward=RosDuration(nanoseconds=1),
                              min_backward=RosDuration(nanoseconds=-1), on_clock_change=True),
                post_callback=lambda _jump: self._time_moved.set())
            self.control = ec.ControlLoop(self.dt, self._tick, self._now, self._wait_ros_time,
                                          self.loop)
        else:
            self.control = ec.ControlLoop(self.dt, self._tick, time.monotonic,
                                          self._wait_monotonic,
                                          self.loop)
        self.realtime = ec.RealtimeSettings(cpu_affinity=list(p['cpu_affinity']),
                                            priority=p['thread_priority'])
        self.get_logger().info(
            f'chunk executor at {p["rate"]:.0f} Hz on its own thread '
            f'({"ROS time" if self._sim_time else "monotonic clock"}'
            f'{", CPUs " + str(self.realtime.cpu_affinity) if self.realtime.cpu_affinity else ""}'
            f'{", SCHED_FIFO " + str(self.realtime.priority) if self.realtime.priority else ""}), '
            f'{len(self.joint_names)} joints, robot profile {self.profile.name!r}: '
            + ', '.join(f'{g.name} ({g.type}) -> {g.topic}' for g in self.profile.groups)
            + ('; DRY RUN: no command is published' if p['dry_run'] else ''))

    def activate(self) -> None:
        """Start the control thread in ``start_mode`` (holding until the first observation)."""
        with self._lock:
            start = ec.MODE_HOLD if self.p['start_mode'] == 'HOLD' else ec.MODE_RUN
            if self.core.mode != start and self.core.mode != ec.MODE_ESTOP:
                self.core.set_mode(start, 'activated', now=self._now())
        self._stop.clear()
        self.loop.pause()
        # Everything built so far is exempt from the collector, so a collection never walks it
        # while the control thread waits for the interpreter (GcPauses); pauses are reported.
        self.gc_pauses.install()
        self.gc_pauses.freeze()
        self._thread = threading.Thread(target=self._run_control, name='aloe_control',
                                        daemon=True)
        self._thread.start()
        self.get_logger().info('commanding: holding until the first observation')

    def deactivate(self) -> None:
        """HOLD, one more tick to send it (1 s at most), then stop the control thread."""
        with self._lock:
            if self.core.mode != ec.MODE_ESTOP:
                self.core.set_mode(ec.MODE_HOLD, 'deactivated', now=self._now())
            ticks = self.loop.ticks
        deadline = time.monotonic() + 1.0
        while self.loop.ticks <= ticks + 1 and time.monotonic() < deadline \
                and self._thread is not None and self._thread.is_alive():
            self._stop.wait(self.dt / 4)
        self._stop_thread()
        self.get_logger().info('holding: the last command sent holds the observed position; '
                               'no command until activated again')

    def release(self) -> None:
        """Stop the control thread; drop the core (the interfaces go with the node's cleanup)."""
        self._stop_thread()
        self.gc_pauses.uninstall()
        self.core = None

    def _stop_thread(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive() \
                and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        self._thread = None

    # ------------------------------------------------------------------ control thread

    def _wait_monotonic(self, deadline: float) -> bool:
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0.0:
                return True
            self._stop.wait(remaining)
        return False

    def _wait_ros_time(self, deadline: float) -> bool:
        while not self._stop.is_set():
            self._time_moved.clear()
            now = self._now()
            # Time that went back (a sim reset) ticks now; the schedule then restarts from there.
            if now >= deadline or now < deadline - 2 * self.dt:
                return True
            self._time_moved.wait(ROS_TIME_POLL)
        return False

    def _run_control(self) -> None:
        for warning in ec.apply_realtime(self.realtime):
            self.get_logger().warning(warning)
        try:
            self.control.run()
        except Exception as exc:  # MemoryError included: the loop cannot decide commands any more
            if self._stop.is_set() or not self.context.ok():
                return  # shutting down: publishers go away under the last tick
            self._fatal = exc
            self._fatal_guard.trigger()

    def _raise_fatal(self) -> None:
        exc = self._fatal
        raise FatalNodeError(f'control tick failed ({type(exc).__name__}: {exc}); the loop cannot '
                             'decide commands any more') from exc

    def destroy_node(self):
        """Stop the control thread (it finishes its tick) before the publishers go."""
        self._stop_thread()
        return super().destroy_node()

    # ------------------------------------------------------------------ helpers

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_param(self, name, value):
        with self._lock:
            self._apply_param(name, value)

    def _apply_param(self, name, value):
        if name == 'blend_steps':
            self.core.config.blend_steps = int(value)
        elif name == 'skip_past_steps':
            self.core.config.skip_past_steps = bool(value)
        elif name == 'observation_timeout':
            self.core.config.observation_timeout = float(value)
        elif name == 'teleop_timeout':
            self.core.config.teleop_timeout = float(value)

    def _publish_safety(self, level: int, kind: int, message: str) -> None:
        msg = SafetyEvent(level=level, kind=kind, node=self.get_fully_qualified_name(),
                          message=message)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.safety_pub.publish(msg)

    def _on_clock_fault(self, fault: bool, message: str) -> None:
        if self.core is None:
            return  # cleaned up: the guard outlives the core
        if fault:
            self.diag.count('clock_rejected')
        with self._lock:
            self.core.set_clock_fault(message if fault else '')

    def _publish_note(self, level: str, cause: str, message: str) -> None:
        lvl = {'info': ec.LEVEL_INFO, 'error': ec.LEVEL_ERROR}.get(level, ec.LEVEL_WARN)
        self._publish_safety(lvl, self._note_kind.get(cause, ec.KIND_HOLD), message)

    def _publish_cause_event(self, level: str, cause: str, message: str) -> None:
        lvl = {'info': SafetyEvent.LEVEL_INFO,
               'error': SafetyEvent.LEVEL_ERROR}.get(level, SafetyEvent.LEVEL_WARN)
        kind = SafetyEvent.KIND_RESUMED if level == 'info' else SafetyEvent.KIND_REJECTED_INPUT
        self._publish_safety(lvl, kind, message)

    def _reorder(self, names, values, what: str) -> np.ndarray:
        if len(names) != len(values):
            raise ValueError(f'{what}: {len(names)} names but {len(values)} values')
        by_name = dict(zip(names, values))
        missing = [n for n in self.joint_names if n not in by_name]
        unknown = [n for n in names if n not in self.joint_names]
        if missing or unknown:
            raise ValueError(f'{what}: unknown joints {unknown}, missing joints {missing}')
        return np.array([by_name[n] for n in self.joint_names], dtype=float)

    # ------------------------------------------------------------------ callbacks

    def _on_observation(self, msg: Observation) -> None:
        try:
            observed = ec.observation_to_action_vector(self.joint_names, list(msg.joint_names),
                                                       list(msg.position), list(msg.gripper))
            with self._lock:
                self.core.on_observation(self._now(), observed, stale=msg.stale)
        except (ValueError, FloatingPointError) as exc:
            self.diag.count('observations_rejected')
            self.once.report('observation',
                             f'observation rejected: {exc}; holding if no valid one follows')
            return
        self.once.clear('observation', 'observations valid again')

    def _on_chunk_data(self, data: bytes) -> None:
        if len(data) > self._max_chunk_bytes:
            self.diag.count('chunks_received')
            self.diag.count('chunks_rejected')
            reason = (f'chunk of {len(data)} bytes above the maximum {self._max_chunk_bytes} '
                      f'(max_horizon {self.p["max_horizon"]})')
            with self._lock:
                self.core.on_bad_chunk(reason, nan=False)
            return
        self._on_chunk(deserialize_message(data, ActionChunk))

    def _on_chunk(self, msg: ActionChunk) -> None:
        self.diag.count('chunks_received')
        try:
            chunk = ec.chunk_from_fields(stamp_to_sec(msg.header.stamp), msg.chunk_id,
                                         msg.policy_version,
                                         msg.horizon, msg.action_dim, msg.joint_names, msg.dt,
                                         msg.actions, self.joint_names, self.dt,
                                         self.p['max_horizon'])
        except (FloatingPointError, ValueError) as exc:
            self.diag.count('chunks_rejected')
            with self._lock:
                self.core.on_bad_chunk(str(exc), nan=isinstance(exc, FloatingPointError))
            return
        with self._lock:
            used = self.core.on_chunk(chunk)
        if not used:
            self.diag.count('chunks_ignored')

    def _on_intervention(self, msg: InterventionState) -> None:
        with self._lock:
            self.core.on_intervention(msg.active, msg.aligning)

    def _on_teleop(self, msg: JointState) -> None:
        try:
            target = self._reorder(list(msg.name), list(msg.position), 'teleop command')
            with self._lock:
                self.core.on_teleop(self._now(), target)
        except (ValueError, FloatingPointError) as exc:
            self.diag.count('teleop_rejected')
            self.once.report('teleop',
                             f'teleop command rejected: {exc}; holding if no valid one follows')
            return
        self.once.clear('teleop', 'teleop commands valid again')

    def _oversized(self, kind: str, counter: str = ''):
        """Return the refusal of a ``kind`` message above its byte limit (never deserialized)."""
        return oversized_refusal(self.diag, self.once, kind, counter)

    def _on_episode(self, msg: EpisodeEvent) -> None:
        with self._lock:
            self._apply_episode_event(msg)

    def _apply_episode_event(self, msg: EpisodeEvent) -> None:
        if (msg.event == EpisodeEvent.EVENT_STARTED and msg.episode_id
                and msg.episode_id != self.episode_id):
            if msg.episode_id in self._closed:
                # Between a real end and the next start this would relabel the next episode's
                # steps with a closed id, which the recorder drops.
                self.diag.count('episode_events_rejected')
                self.once.report(f'episode_event:{msg.episode_id}',
                                 f'EVENT_STARTED for {msg.episode_id!r}, an episode that has '
                                 'ended: ignored (forged or replayed); episodes are never '
                                 'reopened')
                return
            if self.episode_id and not self.episode_ended:
                self.diag.count('episode_events_rejected')
                self.once.report(f'episode_event:{msg.episode_id}',
                                 f'EVENT_STARTED for {msg.episode_id!r} while episode '
                                 f'{self.episode_id!r} is '
                                 'open: ignored (forged or stale); steps stay labelled '
                                 f'{self.episode_id!r}')
                self._refused.append(msg.episode_id)
                return
            if self.episode_id:
                self._followed.append(self.episode_id)
            if msg.episode_id in self._refused:
                self._refused.remove(msg.episode_id)
            self.episode_id = msg.episode_id
            self.episode_ended = False
            self.step_index = 0
        elif (msg.event == EpisodeEvent.EVENT_ENDED and msg.episode_id in self._followed
              and msg.episode_id != self.episode_id and not self.episode_ended):
            # The end of an episode labelled before the current label: either a forged
            # EVENT_ENDED + EVENT_STARTED pair split that episode (the recorder records the steps
            # labelled since then into its open episode) and this is its real end, or an old end
            # is replayed. Either way the next EVENT_STARTED is followed, so a forged label does
            # not outlive the recorder's episode.
            self.diag.count('episode_events_rejected')
            self.once.report(f'episode_relabelled:{self.episode_id}',
                             f'EVENT_ENDED for {msg.episode_id!r} while steps are labelled '
                             f'{self.episode_id!r}: that label came from a forged EVENT_STARTED '
                             '(or this end is replayed); the next EVENT_STARTED is followed')
            self._followed.remove(msg.episode_id)
            self._close(msg.episode_id)
            self.episode_ended = True
        elif (msg.event == EpisodeEvent.EVENT_ENDED and msg.episode_id in self._refused
              and not self.episode_ended):
            # An episode whose start was ignored ran and ended: the label came from a forged
            # EVENT_STARTED (the recorder recorded the steps into its episode anyway). Follow the
            # next start, so a forged label does not outlive the episode it hid.
            self.diag.count('episode_events_rejected')
            self.once.report(f'episode_relabelled:{self.episode_id}',
                             f'EVENT_ENDED for {msg.episode_id!r}, whose start was ignored while '
                             f'steps were labelled {self.episode_id!r}: that label came from a '
                             'forged EVENT_STARTED; the next EVENT_STARTED is followed')
            self._refused.remove(msg.episode_id)
            self._close(self.episode_id)
            self.episode_ended = True
        elif msg.event == EpisodeEvent.EVENT_ENDED and msg.episode_id \
                and msg.episode_id == self.episode_id:
            if self.episode_ended:
                # The recorder ends an episode once: one of the two was forged (or replayed).
                self.diag.count('episode_events_rejected')
                self.once.report(f'episode_ended:{msg.episode_id}',
                                 f'EVENT_ENDED for {msg.episode_id!r} received twice: one was '
                                 'forged or replayed')
                return
            for cause in [c for c in self.once.active if c.startswith('episode_event:')]:
                self.once.clear(cause)
            # The label stays (a forged end would otherwise unlabel the real episode's steps);
            # the recorder drops steps of an episode it has closed.
            self._close(msg.episode_id)
            self.episode_ended = True

    def _close(self, episode_id: str) -> None:
        """Remember that ``episode_id`` (labelled here) has ended; it is never followed again."""
        self._closed[episode_id] = None
        while len(self._closed) > CLOSED_IDS_KEPT:
            self._closed.popitem(last=False)

    def _on_set_mode(self, request: SetMode.Request, response: SetMode.Response):
        with self._lock:
            if not self.active:
                response.success = False
                response.message = 'inactive: no mode change until the executor is activated'
                response.mode = self.core.mode
                self.get_logger().warning(f'set_mode refused: {response.message}')
                return response
            try:
                response.message = self.core.set_mode(request.mode, request.reason,
                                                      now=self._now())
                response.success = True
            except ValueError as exc:
                response.success = False
                response.message = str(exc)
            response.mode = self.core.mode
        self.get_logger().info(f'set_mode: {response.message}')
        return response

    # ------------------------------------------------------------------ control tick

    def _tick(self, _loop_time: float) -> None:
        """One control tick on the control thread (ControlLoop has recorded its timing)."""
        with self._lock:
            self._control_tick()

    def _control_tick(self) -> None:
        now_msg = self.get_clock().now()
        result = self.core.tick(now_msg.nanoseconds * 1e-9)
        self.diag.count('ticks')
        if result is None:
            return
        stamp = now_msg.to_msg()
        self._publish_command(result.command, stamp)
        step = ExecutedStep(episode_id=self.episode_id, step_index=self.step_index,
                            source=result.source,
                            policy_version=result.policy_version, chunk_id=result.chunk_id,
                            index_in_chunk=result.index_in_chunk, intervention=result.intervention,
                            joint_names=self.joint_names, action=result.command.tolist(),
                            observed_position=self.core.observed.tolist())
        step.header.stamp = stamp
        if not self.p['dry_run']:  # nothing ran: no step for the recorder to store
            self.step_pub.publish(step)
        self.step_index += 1
        self.diag.count({SOURCE_POLICY: 'policy_steps', SOURCE_HUMAN: 'human_steps'}.get(
            result.source, 'hold_steps'))
        if result.clamped_joints:
            self.diag.count('clamped_steps')
        for note in result.notes:
            self._note_kind[note.cause] = note.kind
            level = {ec.LEVEL_INFO: 'info', ec.LEVEL_ERROR: 'error'}.get(note.level, 'warn')
            self.notes.emit(note.cause, level, note.message)
        self.notes.flush()
        self.once.flush()
        if self.loop.ticks % 50 == 0:
            self.diag.set('period_error_p99_ms', self.loop.period_error(99.0) * 1e3)
            suppressed = self.notes.suppressed + self.once.suppressed
            self.diag.count('reports_suppressed', suppressed
                            - self.diag.counter('reports_suppressed'))
            self.diag.count('missed_ticks', self.loop.missed_ticks
                            - self.diag.counter('missed_ticks'))
            gc_pause, gc_full = self.gc_pauses.take()
            self.diag.set('gc_pause_max_ms', gc_pause * 1e3)
            self.diag.count('gc_full_collections', gc_full)
            self.diag.set('mode', ec.MODE_NAMES[self.core.mode])
            self.diag.set('hold_reason', result.hold_reason or '-')
            self.diag.set('source', {SOURCE_HOLD: 'hold',
                                     SOURCE_HUMAN: 'human'}.get(result.source, 'policy'))
            if self.core.mode == ec.MODE_ESTOP:
                self.diag.set_status(DiagnosticsPublisher.ERROR, 'e-stop: holding')
            elif result.hold_reason in ('stale observation', 'no teleop command', 'chunk ran out',
                                        'clock rejected'):
                self.diag.set_status(DiagnosticsPublisher.WARN, f'holding: {result.hold_reason}')
            else:
                self.diag.set_status(DiagnosticsPublisher.OK, f'{ec.MODE_NAMES[self.core.mode]}, '
                                     f'{result.hold_reason or "running"}')

    def _publish_command(self, command: np.ndarray, stamp) -> None:
        if self.p['dry_run']:
            if self.loop.ticks % self._dry_run_every == 1 or self._dry_run_every == 1:
                self.get_logger().info('dry run, would send: '
                                       + '; '.join(self.profile.dry_run(command)))
            return
        time_from_start = self.p['trajectory_time_from_start'] or self.dt
        for sender, (_group, values) in zip(self.senders, self.profile.commands(command)):
            sender(values, time_from_start)


def load_executor_profile(p) -> cm.RobotProfile:
    """
    Return the profile of ``robot_profile``, or the one the per-joint parameters describe.

    A profile replaces the per-joint parameters (PROFILE_REPLACES); setting both is refused.
    """
    profile = load_robot_profile(p, parameter_specs(), PROFILE_REPLACES)
    if profile is not None:
        return profile
    try:
        return cm.legacy_profile(p['joint_names'], p['arms'], p['controllers'],
                                 p['command_interface'], p['lower_limits'], p['upper_limits'],
                                 p['max_velocities'])
    except cm.ProfileError as exc:
        raise ConfigError('arms', exc.problem) from exc


def message_types(profile: cm.RobotProfile, group: cm.CommandGroup):
    """Return the ROS type a group sends; ConfigError names a message package not importable."""
    if group.type == 'joint_trajectory':
        return JointTrajectory
    if group.type == 'forward_command':
        return Float64MultiArray
    package = cm.GROUP_TYPES[group.type][1]
    key = f'command_groups[{profile.groups.index(group)}].type'
    try:
        if group.type == 'gripper_action':
            from control_msgs.action import GripperCommand
            return GripperCommand
        from interbotix_xs_msgs.msg import JointGroupCommand, JointSingleCommand
        return JointGroupCommand if group.type == 'interbotix_group' else JointSingleCommand
    except ImportError as exc:
        raise ConfigError('robot_profile', f'{profile.path}: {key}: {group.type} needs the ROS '
                                           f'message package {package}, which is not '
                                           f'importable here ({exc}); install it '
                                           f'(apt install ros-$ROS_DISTRO-'
                                           f'{package.replace("_", "-")}) and source its setup, '
                                           'or use another controller type') from exc


def make_sender(node: Node, group: cm.CommandGroup, msg_type):
    """Return ``send(values, time_from_start)`` publishing one group's command (robot units)."""
    if group.type == 'joint_trajectory':
        pub = node.create_publisher(msg_type, group.topic, COMMANDS)
        names = group.joint_names
        own_tfs = group.options.get('time_from_start', 0.0)

        def send_trajectory(values, time_from_start):
            tfs = own_tfs or time_from_start
            sec = int(tfs)
            # header.stamp stays 0: "start now" for joint_trajectory_controller, immune to clock
            # offsets
            msg = JointTrajectory(joint_names=names)
            msg.points = [JointTrajectoryPoint(positions=values.tolist(), time_from_start=Duration(
                sec=sec, nanosec=int(round((tfs - sec) * 1e9))))]
            pub.publish(msg)
        return send_trajectory
    if group.type == 'forward_command':
        pub = node.create_publisher(msg_type, group.topic, COMMANDS)
        return lambda values, _tfs: pub.publish(Float64MultiArray(data=values.tolist()))
    if group.type == 'interbotix_group':
        pub = node.create_publisher(msg_type, group.topic, COMMANDS)
        name = group.options['interbotix_name']
        return lambda values, _tfs: pub.publish(msg_type(name=name, cmd=values.tolist()))
    if group.type == 'interbotix_single':
        pub = node.create_publisher(msg_type, group.topic, COMMANDS)
        joint = group.joint_names[0]
        return lambda values, _tfs: pub.publish(msg_type(name=joint, cmd=float(values[0])))
    return GripperGoalSender(node, group, msg_type)


class GripperGoalSender:
    """
    Sends a gripper's target as GripperCommand goals when it moves by more than a deadband.

    A goal per tick would make gripper_action_controller preempt its own goal 50 times a second;
    a new goal is sent only when the target moved by more than ``goal_deadband`` (robot units)
    since the last one. Without an action server the goal is not sent and the node says so once.
    """

    def __init__(self, node: Node, group: cm.CommandGroup, action_type):
        """Create the action client of ``group``."""
        from rclpy.action import ActionClient
        self.node = node
        self.group = group
        self.action_type = action_type
        self.client = ActionClient(node, action_type, group.topic)
        self.deadband = group.options.get('goal_deadband', 1e-4)
        self.max_effort = group.options.get('max_effort', 0.0)
        self.last = None
        self.warned = False

    def __call__(self, values, _time_from_start) -> None:
        """Send a goal for ``values[0]`` if it moved past the deadband and a server is there."""
        target = float(values[0])
        if self.last is not None and abs(target - self.last) <= self.deadband:
            return
        if not self.client.server_is_ready():
            if not self.warned:
                self.warned = True
                self.node.get_logger().warning(
                    f'{self.group.name}: no GripperCommand action server on {self.group.topic}: '
                    'gripper goals are not sent until one appears')
            return
        if self.warned:
            self.warned = False
            self.node.get_logger().info(f'{self.group.name}: action server on '
                                        f'{self.group.topic} found: sending gripper goals')
        goal = self.action_type.Goal()
        goal.command.position = target
        goal.command.max_effort = self.max_effort
        self.client.send_goal_async(goal)
        self.last = target


def main(args=None):
    """Run the chunk executor node."""
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    sys.exit(run_node(ChunkExecutorNode, args))


if __name__ == '__main__':
    main()

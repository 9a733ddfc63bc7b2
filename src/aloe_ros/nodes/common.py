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
rclpy helpers shared by every aloe node.

- QoS profiles named by intent (``SENSOR_DATA``, ``COMMANDS``, ``LATCHED``, ``EVENTS``).
- ``ParamSpec`` / ``declare_parameters``: parameters declared with descriptors (description,
  range, read-only) and validated; an invalid value raises ``ConfigError`` naming the parameter.
- ``load_robot_profile``: a node's ``robot_profile`` parameter, refused together with the
  parameters the profile replaces.
- ``DiagnosticsPublisher``: counters, rates and values -> ``/diagnostics`` at 1 Hz.
- ``OncePerCause``: every failure is logged once (what was wrong, what was done) until it clears,
  and at most a few times per window when input alternates between bad and good.
- ``ClockGuard`` / ``guard_clock``: ``/clock`` samples are validated before they set ROS time.
- ``run_node``: the standard main idiom (init, spin, clean shutdown on Ctrl-C / SIGTERM); no
  callback exception ends the process unless it is fatal (``FatalNodeError``, ``MemoryError``).
"""

from dataclasses import dataclass
import math
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                SetParametersResult)
import rclpy
from rclpy.exceptions import ParameterUninitializedException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from rclpy.signals import SignalHandlerOptions

from aloe_ros.station import command_mapping

# --------------------------------------------------------------------------- QoS by intent

#: Camera frames, joint states, observations: newest sample wins, losing one is fine.
SENSOR_DATA = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2,
                         reliability=ReliabilityPolicy.BEST_EFFORT,
                         durability=DurabilityPolicy.VOLATILE)
#: Commands to controllers, chunks, teleop targets: every message must arrive.
COMMANDS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)
#: State that late joiners need (intervention state, episode events, weights): transient local.
LATCHED = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                     reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
#: Discrete events (safety events): reliable with a deep queue so bursts are not lost.
EVENTS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)
#: Diagnostics: reliable depth 10 (docs/INTERFACES.md).
DIAGNOSTICS = COMMANDS


def reliable(depth: int) -> QoSProfile:
    """Return a reliable, volatile profile of the given depth (e.g. executed steps, depth 200)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latched(depth: int = 1) -> QoSProfile:
    """Return a reliable, transient-local profile of the given depth (e.g. policy updates: 1)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


# --------------------------------------------------------------------------- parameters


#: Bytes accepted for a small control or state message (JointState, CameraInfo, TaskState,
#: EpisodeEvent, InterventionState): hundreds of times a real one, far below what would cost
#: memory to deserialize.
SMALL_MESSAGE_BYTES = 1024 * 1024


def subscribe_bounded(node: Node, msg_type: Any, topic: str, callback: Callable[[Any], None],
                      qos: QoSProfile, max_bytes: int,
                      on_oversized: Callable[[int], None], **kwargs: Any):
    """
    Subscribe to ``topic`` serialized and pass ``callback`` only messages of <= max_bytes.

    A larger one is refused on its byte count before any conversion (``on_oversized(nbytes)``):
    it is never deserialized into Python objects or numpy arrays. What stays in memory after an
    oversized message is the DDS reader's own (its queue's sample buffers, bounded by the QoS
    depth), not this process's Python heap.
    """
    def receive(data: bytes) -> None:
        if len(data) > max_bytes:
            on_oversized(len(data))
            return
        callback(deserialize_message(data, msg_type))
    return node.create_subscription(msg_type, topic, receive, qos, raw=True, **kwargs)


def oversized_refusal(diag: 'DiagnosticsPublisher', once: 'OncePerCause', kind: str,
                      counter: str = '') -> Callable[[int], None]:
    """
    Return ``subscribe_bounded``'s ``on_oversized`` for ``kind`` messages.

    It counts ``counter`` (when given) and reports once per kind, until the cause is cleared.
    """
    def refuse(nbytes: int) -> None:
        if counter:
            diag.count(counter)
        once.report(f'oversized:{kind}', f'{kind} message of {nbytes} bytes above the maximum: '
                    'refused unread')
    return refuse


class ConfigError(ValueError):
    """An invalid node configuration; the message names the parameter and what is wrong."""

    def __init__(self, parameter: str, problem: str):
        """Build the error for ``parameter`` with a human-readable ``problem``."""
        super().__init__(f"parameter '{parameter}': {problem}")
        self.parameter = parameter
        self.problem = problem


_TYPE_BY_KIND = {
    'bool': Parameter.Type.BOOL, 'int': Parameter.Type.INTEGER, 'double': Parameter.Type.DOUBLE,
    'string': Parameter.Type.STRING, 'bool_array': Parameter.Type.BOOL_ARRAY,
    'int_array': Parameter.Type.INTEGER_ARRAY, 'double_array': Parameter.Type.DOUBLE_ARRAY,
    'string_array': Parameter.Type.STRING_ARRAY,
}


@dataclass
class ParamSpec:
    """
    One parameter: name, default, description and constraints.

    ``kind`` is inferred from the default unless given ('bool', 'int', 'double', 'string' and
    their '_array' forms; needed for empty-list defaults). ``min``/``max`` become a descriptor
    range for scalars and are checked element-wise for arrays. ``choices`` restricts strings,
    ``length`` fixes an array's length (``length_of`` names another array parameter whose length
    it must match), ``check`` is an extra validator returning an error string or None.
    """

    name: str
    default: Any
    description: str
    min: Optional[float] = None
    max: Optional[float] = None
    read_only: bool = False
    kind: Optional[str] = None
    choices: Optional[Sequence[str]] = None
    length: Optional[int] = None
    length_of: Optional[str] = None
    allow_empty: bool = True
    check: Optional[Callable[[Any], Optional[str]]] = None

    def resolved_kind(self) -> str:
        """Return the parameter kind, inferred from the default when not given."""
        if self.kind is not None:
            return self.kind
        d = self.default
        if isinstance(d, bool):
            return 'bool'
        if isinstance(d, int):
            return 'int'
        if isinstance(d, float):
            return 'double'
        if isinstance(d, str):
            return 'string'
        if isinstance(d, (list, tuple)) and d:
            inner = ParamSpec(self.name, d[0], '').resolved_kind()
            if inner == 'int' and any(isinstance(v, float) for v in d):
                inner = 'double'
            return inner + '_array'
        raise ConfigError(self.name, 'cannot infer the type of an empty default; give kind=')

    def descriptor(self) -> ParameterDescriptor:
        """Return the ParameterDescriptor (type, description, range, read-only)."""
        kind = self.resolved_kind()
        desc = ParameterDescriptor(name=self.name, type=_TYPE_BY_KIND[kind].value,
                                   description=self.description, read_only=self.read_only)
        constraints = []
        if self.choices:
            constraints.append('one of ' + ', '.join(self.choices))
        if self.length is not None:
            constraints.append(f'length {self.length}')
        if self.length_of:
            constraints.append(f"same length as '{self.length_of}'")
        if constraints:
            desc.additional_constraints = '; '.join(constraints)
        if kind == 'double' and (self.min is not None or self.max is not None):
            desc.floating_point_range = [FloatingPointRange(
                from_value=float(self.min if self.min is not None else -sys.float_info.max),
                to_value=float(self.max if self.max is not None else sys.float_info.max),
                step=0.0)]
        elif kind == 'int' and (self.min is not None or self.max is not None):
            desc.integer_range = [IntegerRange(
                from_value=int(self.min if self.min is not None else -2 ** 63),
                to_value=int(self.max if self.max is not None else 2 ** 63 - 1), step=0)]
        return desc

    def validate(self, value: Any, values: Optional[Dict[str, Any]] = None) -> Any:
        """Return ``value`` normalised (lists, floats) or raise ConfigError saying why."""
        kind = self.resolved_kind()
        if value is None:
            if kind.endswith('_array'):
                value = []
            else:
                raise ConfigError(self.name, 'is not set')
        if kind.endswith('_array'):
            value = list(value)
            if not value and not self.allow_empty:
                raise ConfigError(self.name, 'must not be empty')
            if self.length is not None and len(value) != self.length:
                raise ConfigError(self.name, f'has {len(value)} entries, expected {self.length}')
            if self.length_of and values is not None and self.length_of in values:
                expected = len(values[self.length_of])
                if len(value) != expected:
                    raise ConfigError(self.name, f"has {len(value)} entries, expected {expected} "
                                                 f"(one per entry of '{self.length_of}')")
            items = value
        else:
            items = [value]
        if kind.startswith('double'):
            items = [float(v) for v in items]
            for v in items:
                if not math.isfinite(v):
                    raise ConfigError(self.name, f'must be finite, got {v}')
            value = items if kind.endswith('_array') else items[0]
        for v in items:
            if self.min is not None and v < self.min:
                raise ConfigError(self.name, f'{v} is below the minimum {self.min}')
            if self.max is not None and v > self.max:
                raise ConfigError(self.name, f'{v} is above the maximum {self.max}')
            if self.choices is not None and v not in self.choices:
                raise ConfigError(self.name, f"'{v}' is not one of {list(self.choices)}")
            if kind.startswith('string') and not self.allow_empty and not v:
                raise ConfigError(self.name, 'must not be empty')
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ConfigError(self.name, problem)
        return value


def declare_parameters(node: Node, specs: Iterable[ParamSpec],
                       on_change: Optional[Callable[[str, Any], None]] = None) -> Dict[str, Any]:
    """
    Declare ``specs`` on ``node`` with descriptors, validate them, return ``{name: value}``.

    Raises ConfigError for the first invalid parameter. Later ``ros2 param set`` calls on
    writable parameters are validated the same way and refused with the reason when invalid;
    accepted changes are passed to ``on_change(name, value)``.
    """
    specs = list(specs)
    by_name = {s.name: s for s in specs}
    values: Dict[str, Any] = {}
    declare_only(node, specs)
    for spec in specs:
        try:
            values[spec.name] = node.get_parameter(spec.name).value
        except ParameterUninitializedException:
            values[spec.name] = None
    for spec in specs:
        values[spec.name] = spec.validate(values[spec.name], values)

    def _on_set(params: List[Parameter]) -> SetParametersResult:
        for p in params:
            spec = by_name.get(p.name)
            if spec is None:
                continue
            try:
                value = spec.validate(p.value, values)
            except ConfigError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            values[p.name] = value
            if on_change is not None:
                on_change(p.name, value)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(_on_set)
    # A managed node removes it at cleanup (a later configure adds a new one).
    registered = getattr(node, '_parameter_callbacks', None)
    if isinstance(registered, list):
        registered.append(_on_set)
    return values


def declare_only(node: Node, specs: Iterable[ParamSpec]) -> None:
    """
    Declare ``specs`` on ``node`` with their descriptors, without validating the values.

    Names already declared are skipped, so a managed node declares its parameters when it is
    built and validates them at each configure (``declare_parameters``). Raises ConfigError
    for a value rclpy itself refuses (type or range).
    """
    for spec in specs:
        if node.has_parameter(spec.name):
            continue
        kind = spec.resolved_kind()
        default = spec.default
        try:
            if kind.endswith('_array') and not default:
                node.declare_parameter(spec.name, _TYPE_BY_KIND[kind], spec.descriptor())
            else:
                node.declare_parameter(spec.name, default, spec.descriptor())
        except Exception as exc:  # rclpy raises several types for range/type violations
            raise ConfigError(spec.name, f'{type(exc).__name__}: {exc}') from exc


def load_robot_profile(p: Dict[str, Any], specs: Iterable[ParamSpec],
                       replaces: Sequence[str]) -> Optional[command_mapping.RobotProfile]:
    """
    Return the robot profile of ``p['robot_profile']`` (None when empty), validated.

    A profile replaces the node's parameters named in ``replaces``: one of them set away from
    its default (``specs``) together with a profile is refused, naming them, so no one believes
    the node reads a value it ignores. Every mistake in the profile is a ConfigError on
    ``robot_profile`` that names the key in the file.
    """
    path = p['robot_profile']
    if not path:
        return None
    defaults = {spec.name: spec.default for spec in specs}
    both = [name for name in replaces if differs_from_default(p[name], defaults[name])]
    if both:
        raise ConfigError('robot_profile', f'the profile replaces {both}: set them in the profile '
                                           f'{path}, not as parameters')
    try:
        return command_mapping.load_profile(path)
    except command_mapping.ProfileError as exc:
        raise ConfigError('robot_profile', str(exc)) from exc


def differs_from_default(value: Any, default: Any) -> bool:
    """
    Return True when a parameter's ``value`` is not its ``default``.

    Arrays are compared entry by entry; numbers within float rounding (a limit written as
    ``3.14`` in one file and computed in another is the same limit); anything else exactly.
    """
    if isinstance(default, (list, tuple)):
        value = list(value)
        return len(value) != len(default) or any(
            differs_from_default(v, d) for v, d in zip(value, default))
    if isinstance(default, (int, float)) and not isinstance(default, bool) \
            and isinstance(value, (int, float)) and not isinstance(value, bool):
        return not math.isclose(value, default, rel_tol=1e-9, abs_tol=1e-12)
    return value != default


# --------------------------------------------------------------------------- log once per cause


class OncePerCause:
    """
    Report each failure cause once until it clears, never more than ``burst`` per ``window``.

    ``report(cause, message)`` logs (and calls ``on_event``) only when ``cause`` was not already
    active; ``clear(cause, message)`` logs the recovery once. Input that alternates between bad and
    good would make that a report and a recovery per message, so every cause also has a budget:
    at most ``burst`` reports (failure or recovery) per ``window`` seconds. Reports over budget are
    suppressed and counted; the latest one is sent when the budget allows again (on the next call,
    or on ``flush()``), saying how many were suppressed, so the last word always tells the current
    state. ``emit(key, level, message)`` sends one report under the same budget (for changes that
    are not a cause being set or cleared). ``logger`` needs ``warning``, ``info`` and ``error``
    methods (an rclpy logger or a ``logging.Logger``). No rclpy needed. Thread-safe.
    """

    def __init__(self, logger, on_event: Optional[Callable[[str, str, str], None]] = None,
                 window: float = 5.0, burst: int = 3, clock: Callable[[], float] = time.monotonic):
        """Use ``logger``; ``on_event(level, cause, message)`` is called on each report sent."""
        self._logger = logger
        self._on_event = on_event
        self._window = float(window)
        self._burst = int(burst)
        self._clock = clock
        self._active: Dict[str, str] = {}
        self._sent: Dict[str, List[float]] = {}
        self._held: Dict[str, List[Any]] = {}  # key -> [level, message, number suppressed]
        #: Reports suppressed so far (all causes).
        self.suppressed = 0
        # Reentrant: report() sends through emit() and flush(); a node may report from two threads.
        self._lock = threading.RLock()

    @property
    def active(self) -> Dict[str, str]:
        """Return the active causes and their messages."""
        with self._lock:
            return dict(self._active)

    def is_active(self, cause: str) -> bool:
        """Return whether ``cause`` has been reported and not cleared."""
        return cause in self._active

    def report(self, cause: str, message: str, level: str = 'warn') -> bool:
        """Report ``message`` if ``cause`` is new; return True when it was sent now."""
        with self._lock:
            if cause in self._active:
                self.flush()
                return False
            self._active[cause] = message
            return self.emit(cause, level, message)

    def clear(self, cause: str, message: Optional[str] = None) -> bool:
        """Mark ``cause`` resolved and report ``message`` (info); return True if it was active."""
        with self._lock:
            if cause not in self._active:
                self.flush()
                return False
            del self._active[cause]
            if message:
                self.emit(cause, 'info', message)
            else:
                self._held.pop(cause, None)  # a suppressed failure report that no longer holds
            return True

    def emit(self, key: str, level: str, message: str) -> bool:
        """Send ``message`` unless ``key`` is over budget (then hold it); return True if sent."""
        with self._lock:
            now = self._clock()
            self.flush(now)
            if not self._has_budget(key, now):
                held = self._held.setdefault(key, [level, message, 0])
                held[0], held[1], held[2] = level, message, held[2] + 1
                self.suppressed += 1
                return False
            self._send(key, level, message, now)
            return True

    def flush(self, now: Optional[float] = None) -> None:
        """Send each held (suppressed) report whose cause has budget again."""
        if not self._held:
            return
        with self._lock:
            now = self._clock() if now is None else now
            for key in [k for k in self._held if self._has_budget(k, now)]:
                level, message, _n = self._held[key]
                self._send(key, level, message, now)

    def _has_budget(self, key: str, now: float) -> bool:
        sent = [t for t in self._sent.get(key, []) if now - t < self._window]
        self._sent[key] = sent
        return len(sent) < self._burst

    def _send(self, key: str, level: str, message: str, now: float) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            # The held report was itself one of the suppressed ones; the latest one is sent now.
            others = held[2] - 1 if held[1] == message and held[0] == level else held[2]
            if others > 0:
                message = (f'{message} ({others} more reports of this suppressed in '
                           f'{self._window:g} s)')
        self._sent.setdefault(key, []).append(now)
        self._log(level, message)
        if self._on_event is not None:
            self._on_event(level, key, message)

    def _log(self, level: str, message: str) -> None:
        if level == 'error':
            self._logger.error(message)
        elif level == 'info':
            self._logger.info(message)
        else:
            self._logger.warning(message)


# --------------------------------------------------------------------------- diagnostics


class DiagnosticsPublisher:
    """
    Counters, rates and values of one node, published as DiagnosticArray at ``period`` s.

    ``count(key)`` increments a counter (published as ``key`` and ``key_rate`` [1/s] over the
    last period); ``set(key, value)`` publishes a value as is; ``set_status(level, message)``
    sets the status level (DiagnosticStatus.OK/WARN/ERROR). A node's status is named after
    the node, hardware_id defaults to the node name. Safe to use from several threads (the chunk
    executor counts on its control thread while the report is built on the ROS executor's).
    """

    OK = DiagnosticStatus.OK
    WARN = DiagnosticStatus.WARN
    ERROR = DiagnosticStatus.ERROR

    def __init__(self, node: Node, period: float = 1.0, topic: str = '/diagnostics',
                 hardware_id: str = ''):
        """Create the publisher and its timer on ``node``."""
        self._node = node
        self._pub = node.create_publisher(DiagnosticArray, topic, DIAGNOSTICS)
        self._counters: Dict[str, int] = {}
        self._last_counters: Dict[str, int] = {}
        self._values: Dict[str, str] = {}
        self._level = DiagnosticStatus.OK
        self._message = 'ok'
        self._hardware_id = hardware_id or node.get_name()
        self._last_time = time.monotonic()
        self._lock = threading.Lock()
        self._timer = node.create_timer(period, self.publish)

    def count(self, key: str, n: int = 1) -> None:
        """Increment counter ``key`` by ``n``."""
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + n

    def declare(self, *keys: str) -> None:
        """Publish counters ``keys`` as 0 before they first count."""
        with self._lock:
            for key in keys:
                self._counters.setdefault(key, 0)

    def counter(self, key: str) -> int:
        """Return the current value of counter ``key``."""
        return self._counters.get(key, 0)

    def set(self, key: str, value: Any) -> None:
        """Publish ``value`` under ``key`` (floats with 6 significant digits)."""
        text = f'{value:.6g}' if isinstance(value, float) else str(value)
        with self._lock:
            self._values[key] = text

    def set_status(self, level, message: str) -> None:
        """Set the status level (OK/WARN/ERROR, bytes or int) and message of the next report."""
        with self._lock:
            self._level = bytes([level]) if isinstance(level, int) else level
            self._message = message

    def build(self) -> DiagnosticArray:
        """Return the DiagnosticArray of the current state and reset the rate window."""
        with self._lock:
            return self._build()

    def _build(self) -> DiagnosticArray:
        now = time.monotonic()
        elapsed = max(now - self._last_time, 1e-6)
        values = []
        for key in sorted(self._counters):
            count = self._counters[key]
            rate = (count - self._last_counters.get(key, 0)) / elapsed
            values.append(KeyValue(key=key, value=str(count)))
            values.append(KeyValue(key=key + '_rate', value=f'{rate:.3f}'))
        for key in sorted(self._values):
            values.append(KeyValue(key=key, value=self._values[key]))
        self._last_counters = dict(self._counters)
        self._last_time = now
        status = DiagnosticStatus(level=self._level, name=self._node.get_fully_qualified_name(),
                                  message=self._message, hardware_id=self._hardware_id,
                                  values=values)
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self._node.get_clock().now().to_msg()
        return msg

    def publish(self) -> None:
        """Publish one report now (the timer calls this every period)."""
        self._pub.publish(self.build())


def diagnostic_values(msg: DiagnosticArray, name_contains: str) -> Dict[str, str]:
    """Return the key/values of the first status in ``msg`` whose name has ``name_contains``."""
    for status in msg.status:
        if name_contains in status.name:
            return {kv.key: kv.value for kv in status.values}
    return {}


# --------------------------------------------------------------------------- /clock guard


class ClockGuard:
    """
    Decides whether a ``/clock`` sample may set a node's ROS time (ROS-free).

    rclpy applies every ``/clock`` message as it comes; one with a negative ``sec`` raises
    inside rclpy's callback and ends the process, and a forged jump moves every timer. A sample
    is rejected when it is invalid (``sec < 0`` or ``nanosec >= 1e9``), goes back by more than
    ``max_backward`` seconds, or jumps forward by more than ``max_forward`` seconds from the last
    accepted one. Backward steps within ``max_backward`` are dropped quietly (ROS time never runs
    back here). Rejected samples that form a consistent timeline of their own for ``resync_after``
    wall seconds (a restarted simulator) are adopted. The guard is ``faulty`` from a rejection
    until the clock has been sane for ``recover_after`` wall seconds.
    """

    ACCEPT, DROP, REJECT = 'accept', 'drop', 'reject'

    def __init__(self, max_backward: float = 0.5, max_forward: float = 10.0,
                 recover_after: float = 0.5, resync_after: float = 2.0):
        """Set the limits [s]."""
        self.max_backward = max_backward
        self.max_forward = max_forward
        self.recover_after = recover_after
        self.resync_after = resync_after
        self.last: Optional[int] = None  # last accepted time [ns]
        self.rejected = 0
        self.faulty = False
        self._last_bad_wall = -math.inf
        # [first wall time, last ns] of a rejected timeline
        self._other: Optional[List[float]] = None

    def check(self, sec: int, nanosec: int, wall: float) -> tuple:
        """Return ``(verdict, reason)`` for a sample at wall time ``wall`` (monotonic seconds)."""
        if sec < 0 or not 0 <= nanosec < 1_000_000_000:
            return self._reject(wall, f'invalid time sec={sec} nanosec={nanosec}')
        t = int(sec) * 1_000_000_000 + int(nanosec)
        if self.last is None:
            return self._accept(t, wall)
        delta = (t - self.last) * 1e-9
        if -self.max_backward <= delta < 0:
            return self.DROP, ''
        if delta < -self.max_backward or delta > self.max_forward:
            other = self._other
            if other is not None and 0 <= (t - other[1]) * 1e-9 <= self.max_forward:
                other[1] = t
                if wall - other[0] >= self.resync_after:
                    self._other = None
                    self.last = t
                    return self.ACCEPT, f'clock re-synchronised to {t * 1e-9:.3f} s after ' \
                                        f'{self.resync_after:g} s of a consistent new timeline'
            else:
                self._other = [wall, t]
            direction = 'back' if delta < 0 else 'forward'
            return self._reject(wall,
                                f'time jumps {direction} by {abs(delta):.3f} s (limits: back '
                                f'{self.max_backward:g} s, forward {self.max_forward:g} s)')
        return self._accept(t, wall)

    def _accept(self, t: int, wall: float) -> tuple:
        self.last = t
        self._other = None
        return self.ACCEPT, ''

    def _reject(self, wall: float, reason: str) -> tuple:
        self.rejected += 1
        self.faulty = True
        self._last_bad_wall = wall
        return self.REJECT, reason

    def recovered(self, wall: float) -> bool:
        """Return True once (clearing ``faulty``) when the clock was sane ``recover_after`` s."""
        if self.faulty and wall - self._last_bad_wall >= self.recover_after:
            self.faulty = False
            return True
        return False


def guard_clock(node: Node, reporter: Optional['OncePerCause'] = None,
                on_change: Optional[Callable[[bool, str], None]] = None,
                guard: Optional[ClockGuard] = None) -> ClockGuard:
    """
    Put a ClockGuard between ``/clock`` and ``node``'s ROS time; return the guard.

    rclpy offers no hook to validate ``/clock`` before its TimeSource applies it, so the
    TimeSource's callback is replaced (then its subscription re-made, if sim time is active) by
    one that applies only accepted samples. Rejections are counted (``node.clock_rejected``),
    reported through ``reporter`` (cause ``clock``) and ``on_change(True, reason)``; recovery
    calls ``on_change(False, message)``.
    """
    guard = guard or ClockGuard()
    reporter = reporter or OncePerCause(node.get_logger())
    source = node._time_source  # no public API: the TimeSource the node made for itself
    # Guarding again (a managed node configured after run_node guarded it) replaces the guard,
    # never stacks one guard on another.
    apply = getattr(source, '_aloe_unguarded_callback', None) or source.clock_callback
    source._aloe_unguarded_callback = apply

    def on_clock(msg) -> None:
        wall = time.monotonic()
        verdict, reason = guard.check(int(msg.clock.sec), int(msg.clock.nanosec), wall)
        if verdict == ClockGuard.REJECT:
            message = f'/clock rejected: {reason}; ROS time keeps its last good value'
            reporter.report('clock', message)
            if on_change is not None:
                on_change(True, message)
            return
        if verdict == ClockGuard.ACCEPT:
            if reason:
                node.get_logger().warning(reason)
            apply(msg)
        if guard.recovered(wall):
            message = (f'/clock sane again for {guard.recover_after:g} s ({guard.rejected} '
                       'samples '
                       'rejected so far)')
            reporter.clear('clock', message)
            if on_change is not None:
                on_change(False, message)

    active = source.ros_time_is_active
    source.ros_time_is_active = False   # drops rclpy's own /clock subscription, if any
    source.clock_callback = on_clock
    source.ros_time_is_active = active  # re-subscribes, now through on_clock
    return guard


# --------------------------------------------------------------------------- main idiom


class FatalNodeError(RuntimeError):
    """Raised by a callback for a fault the node must not survive (see each node's docstring)."""


#: Longest wait of a clean-stop spin loop before it checks for a stop signal [s].
STOP_POLL = 0.1


class _StopSignals:
    """
    SIGINT/SIGTERM as a stop request: the spin loop ends, the context stays valid.

    rclpy's own handlers shut the context down inside the signal handler, so a node's clean-up
    (the recorder closing its open episode) could then neither publish nor log to /rosout. Here
    the first signal only asks the loop to stop; the node is destroyed with the context intact,
    then rclpy is shut down. A second signal while still spinning raises KeyboardInterrupt; one
    during clean-up is reported and ignored (the clean-up finishes; SIGKILL still ends it).
    """

    def __init__(self):
        self.requested = 0
        self.cleaning_up = False
        self._previous = {}

    def install(self) -> None:
        import signal
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        import signal
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum, _frame) -> None:
        if self.cleaning_up:
            print(f'signal {signum} during clean-up: finishing it first (SIGKILL aborts it)',
                  file=sys.stderr)
            return
        if self.requested:
            raise KeyboardInterrupt
        self.requested = signum


def run_node(node_factory: Callable[[], Node], args: Optional[List[str]] = None,
             threads: int = 0, clean_stop: bool = False) -> int:
    """
    Init rclpy, build the node, spin until Ctrl-C/SIGTERM, clean up; return the exit code.

    A ConfigError while building the node is printed (naming the parameter) and returns 2.
    ``threads > 0`` spins a MultiThreadedExecutor with that many threads (nodes whose slow
    callbacks sit in their own callback groups). Use as ``def main(): sys.exit(run_node(MyNode))``.
    ``clean_stop``: SIGINT/SIGTERM stop the spin loop but leave the context valid while the node
    is destroyed (``_StopSignals``), for a node whose ``destroy_node`` still publishes or logs
    (the recorder announces the episode it closes); otherwise rclpy's handlers shut the context
    down at once.

    No single message or request ends the process: ``/clock`` passes a ClockGuard (unless the
    node installed its own as ``node.clock_guard``), and an exception escaping any callback,
    rclpy's own included, is logged with its traceback (at most a few per window), counted
    (``node.callback_errors``) and the node keeps spinning. Fatal, with exit code 1 and an error
    log saying why: ``FatalNodeError`` (raised by a node for what it must not survive) and
    ``MemoryError``.
    """
    stop = _StopSignals() if clean_stop else None
    rclpy.init(args=args if args is not None else sys.argv,
               signal_handler_options=(SignalHandlerOptions.NO if clean_stop
                                       else SignalHandlerOptions.ALL))
    if stop is not None:
        stop.install()
    node = None
    code = 0
    try:
        node = node_factory()
        if getattr(node, 'clock_guard', None) is None:
            node.clock_guard = guard_clock(node)
        code = _spin(node, threads, stop)
    except ConfigError as exc:
        print(f'[{getattr(node_factory, "__name__", "node")}] invalid configuration: {exc}; '
              'not starting', file=sys.stderr)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # A callback that was running when SIGTERM/SIGINT shut the context down fails on its
        # next publish; that is a clean shutdown. Anything else is a real error.
        if rclpy.ok():
            raise
    finally:
        if stop is not None:
            stop.cleaning_up = True
        try:
            if node is not None:
                node.destroy_node()
        finally:
            rclpy.try_shutdown()
            if stop is not None:
                stop.restore()
    return code


def _spin(node: Node, threads: int, stop: Optional[_StopSignals] = None) -> int:
    """
    Spin ``node`` until shutdown; survive callback exceptions (see ``run_node``).

    With ``stop`` the loop also ends once a stop signal arrived; it then waits at most
    ``STOP_POLL`` s at a time, so a signal is seen without any callback becoming ready.
    """
    import traceback
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
    executor = (MultiThreadedExecutor(num_threads=threads) if threads > 0
                else SingleThreadedExecutor())
    executor.add_node(node)
    errors = OncePerCause(node.get_logger(), window=10.0, burst=5)
    node.callback_errors = 0
    try:
        while rclpy.ok() and not (stop is not None and stop.requested):
            try:
                executor.spin_once(timeout_sec=None if stop is None else STOP_POLL)
            except (KeyboardInterrupt, ExternalShutdownException):
                raise
            except (FatalNodeError, MemoryError) as exc:
                node.get_logger().fatal(f'fatal: {type(exc).__name__}: {exc}; exiting (code 1)\n'
                                        + traceback.format_exc())
                return 1
            except Exception as exc:
                if not rclpy.ok():
                    break  # a callback cut short by shutdown
                node.callback_errors += 1
                where = traceback.extract_tb(exc.__traceback__)[-1]
                cause = f'{type(exc).__name__}@{where.filename}:{where.lineno}'
                errors.emit(cause, 'error',
                            f'callback raised {type(exc).__name__}: {exc}; input dropped, '
                            f'node keeps running ({node.callback_errors} so far)\n'
                            + traceback.format_exc())
    finally:
        executor.shutdown(timeout_sec=1.0)
    return 0


def stamp_to_sec(stamp) -> float:
    """Return a builtin_interfaces/Time as float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def sec_to_stamp(t: float):
    """Return float seconds as builtin_interfaces/Time."""
    from builtin_interfaces.msg import Time
    t = max(float(t), 0.0)
    sec = int(math.floor(t))
    nanosec = int(round((t - sec) * 1e9))
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Time(sec=sec, nanosec=nanosec)

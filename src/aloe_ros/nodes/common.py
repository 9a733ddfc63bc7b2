# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""rclpy helpers shared by every aloe node.

- QoS profiles named by intent (``SENSOR_DATA``, ``COMMANDS``, ``LATCHED``, ``EVENTS``).
- ``ParamSpec`` / ``declare_parameters``: parameters declared with descriptors (description,
  range, read-only) and validated; an invalid value raises ``ConfigError`` naming the parameter.
- ``DiagnosticsPublisher``: counters, rates and values -> ``/diagnostics`` at 1 Hz.
- ``OncePerCause``: every failure is logged once (what was wrong, what was done) until it clears.
- ``run_node``: the standard main idiom (init, spin, clean shutdown on Ctrl-C / SIGTERM).
"""

from dataclasses import dataclass
import math
import sys
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
from rclpy.signals import SignalHandlerOptions

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
    """Return a reliable, volatile profile with the given depth (e.g. executed steps, depth 200)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def latched(depth: int = 1) -> QoSProfile:
    """Return a reliable, transient-local profile with the given depth (e.g. policy updates, depth 1)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


# --------------------------------------------------------------------------- parameters


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
    """One parameter: name, default, description and constraints.

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
                to_value=float(self.max if self.max is not None else sys.float_info.max), step=0.0)]
        elif kind == 'int' and (self.min is not None or self.max is not None):
            desc.integer_range = [IntegerRange(
                from_value=int(self.min if self.min is not None else -2 ** 63),
                to_value=int(self.max if self.max is not None else 2 ** 63 - 1), step=0)]
        return desc

    def validate(self, value: Any, values: Optional[Dict[str, Any]] = None) -> Any:
        """Return ``value`` normalised (lists, floats) or raise ConfigError saying what is wrong."""
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
    """Declare ``specs`` on ``node`` with descriptors, validate them, return ``{name: value}``.

    Raises ConfigError for the first invalid parameter. Later ``ros2 param set`` calls on
    writable parameters are validated the same way and refused with the reason when invalid;
    accepted changes are passed to ``on_change(name, value)``.
    """
    specs = list(specs)
    by_name = {s.name: s for s in specs}
    values: Dict[str, Any] = {}
    for spec in specs:
        kind = spec.resolved_kind()
        default = spec.default
        try:
            if kind.endswith('_array') and not default:
                node.declare_parameter(spec.name, _TYPE_BY_KIND[kind], spec.descriptor())
            else:
                node.declare_parameter(spec.name, default, spec.descriptor())
        except Exception as exc:  # rclpy raises several types for range/type violations
            raise ConfigError(spec.name, f'{type(exc).__name__}: {exc}') from exc
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
    return values


# --------------------------------------------------------------------------- log once per cause


class OncePerCause:
    """Report each failure cause once until it clears, instead of once per tick.

    ``report(cause, message)`` logs (and calls ``on_event``) only when ``cause`` was not already
    active; ``clear(cause, message)`` logs the recovery once. ``logger`` needs ``warning``,
    ``info`` and ``error`` methods (an rclpy logger or a ``logging.Logger``). No rclpy needed.
    """

    def __init__(self, logger, on_event: Optional[Callable[[str, str, str], None]] = None):
        """Use ``logger``; ``on_event(level, cause, message)`` is called on each logged change."""
        self._logger = logger
        self._on_event = on_event
        self._active: Dict[str, str] = {}

    @property
    def active(self) -> Dict[str, str]:
        """Return the active causes and their messages."""
        return dict(self._active)

    def is_active(self, cause: str) -> bool:
        """Return whether ``cause`` has been reported and not cleared."""
        return cause in self._active

    def report(self, cause: str, message: str, level: str = 'warn') -> bool:
        """Log ``message`` if ``cause`` is new; return True when it was logged."""
        if cause in self._active:
            return False
        self._active[cause] = message
        self._log(level, message)
        if self._on_event is not None:
            self._on_event(level, cause, message)
        return True

    def clear(self, cause: str, message: Optional[str] = None) -> bool:
        """Mark ``cause`` resolved; log ``message`` (info) if it was active. Return True then."""
        if cause not in self._active:
            return False
        del self._active[cause]
        if message:
            self._log('info', message)
            if self._on_event is not None:
                self._on_event('info', cause, message)
        return True

    def _log(self, level: str, message: str) -> None:
        if level == 'error':
            self._logger.error(message)
        elif level == 'info':
            self._logger.info(message)
        else:
            self._logger.warning(message)


# --------------------------------------------------------------------------- diagnostics


class DiagnosticsPublisher:
    """Counters, rates and values of one node, published as DiagnosticArray at ``period`` s.

    ``count(key)`` increments a counter (published as ``key`` and ``key_rate`` [1/s] over the
    last period); ``set(key, value)`` publishes a value as is; ``set_status(level, message)``
    sets the status level (DiagnosticStatus.OK/WARN/ERROR). A node's status is named after
    the node, hardware_id defaults to the node name.
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
        self._timer = node.create_timer(period, self.publish)

    def count(self, key: str, n: int = 1) -> None:
        """Increment counter ``key`` by ``n``."""
        self._counters[key] = self._counters.get(key, 0) + n

    def declare(self, *keys: str) -> None:
        """Publish counters ``keys`` as 0 before they first count."""
        for key in keys:
            self._counters.setdefault(key, 0)

    def counter(self, key: str) -> int:
        """Return the current value of counter ``key``."""
        return self._counters.get(key, 0)

    def set(self, key: str, value: Any) -> None:
        """Publish ``value`` under ``key`` (floats with 6 significant digits)."""
        self._values[key] = f'{value:.6g}' if isinstance(value, float) else str(value)

    def set_status(self, level, message: str) -> None:
        """Set the status level (OK/WARN/ERROR, bytes or int) and message of the next report."""
        self._level = bytes([level]) if isinstance(level, int) else level
        self._message = message

    def build(self) -> DiagnosticArray:
        """Return the DiagnosticArray of the current state and reset the rate window."""
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
    """Return the key/values of the first status in ``msg`` whose name contains ``name_contains``."""
    for status in msg.status:
        if name_contains in status.name:
            return {kv.key: kv.value for kv in status.values}
    return {}


# --------------------------------------------------------------------------- main idiom


def run_node(node_factory: Callable[[], Node], args: Optional[List[str]] = None, threads: int = 0) -> int:
    """Init rclpy, build the node, spin until Ctrl-C/SIGTERM, clean up; return the exit code.

    A ConfigError while building the node is printed (naming the parameter) and returns 2.
    ``threads > 0`` spins a MultiThreadedExecutor with that many threads (nodes whose slow
    callbacks sit in their own callback groups). Use as ``def main(): sys.exit(run_node(MyNode))``.
    """
    rclpy.init(args=args if args is not None else sys.argv,
               signal_handler_options=SignalHandlerOptions.ALL)
    node = None
    code = 0
    try:
        node = node_factory()
        if threads > 0:
            from rclpy.executors import MultiThreadedExecutor
            executor = MultiThreadedExecutor(num_threads=threads)
            executor.add_node(node)
            executor.spin()
        else:
            rclpy.spin(node)
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
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


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

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
Chunk executor logic, ROS-free: what target to send at each control tick, and why.

The executor plays action chunks (H x D joint targets) at a fixed rate and arbitrates between
the policy, a human operator and holding still:

1. Before the first valid observation nothing is commanded; the first target is the observed
   position (clipped into the limits), so the robot never starts with a jump.
2. ``HOLD``/``ESTOP`` mode, a rejected ``/clock`` (until it is sane again), a stale observation,
   a NaN chunk, or a chunk that ran out:
   hold, i.e. repeat the last commanded (safe) target. ``ESTOP`` latches until ``RUN``/``HOLD``
   and drops the running chunk.
3. Intervention active: forward the teleop command (hold while the operator's leader is still
   aligning, or when teleop commands stop arriving).
4. Otherwise play the policy chunk. Step ``k`` of a chunk is meant for ``stamp + k * dt``: the
   first tick after a chunk arrives starts at ``k = round((now - stamp) / dt)`` (steps already
   in the past are skipped) and each tick advances one step. A new chunk, or the policy taking
   over from a human/hold, is blended in over ``blend_steps`` ticks:
   ``target = (1 - a) * previous_plan + a * new_chunk``, ``a = i / (blend_steps + 1)`` at blend
   tick i.

Timing: ``ControlLoop`` runs ticks at absolute deadlines ``t0 + k * dt`` (``DeadlineSchedule``;
late
ticks never accumulate into drift, overrun deadlines are skipped, not run in a burst) on whatever
clock and wait function it is given, so the node runs it on a dedicated thread and tests on a
simulated clock; ``apply_realtime`` sets that thread's CPU affinity and SCHED_FIFO priority.

Every target passes ``JointLimits.apply``: velocity limit relative to the previous command
(``|x_t - x_{t-1}| <= v_max * dt``) then position clip into ``[lower, upper]``. Nothing else
writes the command, so no emitted command is outside the position limits. The one exception to
the velocity limit is a resync: ``RUN`` after the robot was moved while holding restarts from
the measured pose (clipped), so the first command after it lies within ``v_max * dt`` of the
position observed at that tick (the pose the executed step reports), not of the hold target.
"""

from dataclasses import dataclass, field
import math
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from aloe_ros.learning.episode import SOURCE_HOLD, SOURCE_HUMAN, SOURCE_POLICY

#: Default action order (docs/INTERFACES.md): left arm + gripper, then right arm + gripper.
ARM_JOINTS = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate',
              'gripper')
DEFAULT_JOINT_NAMES = tuple(f'{side}_{j}' for side in ('left', 'right') for j in ARM_JOINTS)

#: Smallest chunk step period accepted [s]; ActionChunk.dt = 0 means the executor's period.
MIN_CHUNK_DT = 1e-6
#: Longest chunk accepted by default (steps); larger ones are refused before their data is read.
DEFAULT_MAX_HORIZON = 1000

MODE_RUN = 0
MODE_HOLD = 1
MODE_ESTOP = 2
MODE_NAMES = {MODE_RUN: 'RUN', MODE_HOLD: 'HOLD', MODE_ESTOP: 'ESTOP'}

# aloe_msgs/SafetyEvent values (kept here so this module needs no ROS)
LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR = 0, 1, 2
(KIND_HOLD, KIND_LIMIT_CLAMP, KIND_REJECTED_INPUT, KIND_ESTOP, KIND_STALE_INPUT,
 KIND_RESUMED) = range(6)


@dataclass
class SafetyNote:
    """
    A safety-relevant change to report once: SafetyEvent level/kind, a message and its cause.

    Notes of one ``cause`` (a hold reason and its clearing share one) are rate-limited together.
    """

    level: int
    kind: int
    message: str
    cause: str = ''


@dataclass
class JointLimits:
    """Per-joint position and velocity limits, in action order."""

    lower: np.ndarray
    upper: np.ndarray
    max_velocity: np.ndarray

    def __post_init__(self):
        """Convert to float arrays and check consistency."""
        self.lower = np.asarray(self.lower, dtype=float)
        self.upper = np.asarray(self.upper, dtype=float)
        self.max_velocity = np.asarray(self.max_velocity, dtype=float)
        n = self.lower.shape[0]
        if self.upper.shape != (n,) or self.max_velocity.shape != (n,) or self.lower.shape != (n,):
            raise ValueError('lower, upper and max_velocity must have one entry per joint')
        if not (np.all(np.isfinite(self.lower)) and np.all(np.isfinite(self.upper))
                and np.all(np.isfinite(self.max_velocity))):
            raise ValueError('limits must be finite')
        if np.any(self.lower > self.upper):
            raise ValueError('lower limit above upper limit')
        if np.any(self.max_velocity <= 0):
            raise ValueError('max velocity must be > 0')

    def apply(self, previous: np.ndarray, target: np.ndarray,
              dt: float) -> Tuple[np.ndarray, np.ndarray]:
        """Return (command, clamped mask): ``target`` rate-limited from ``previous``, clipped."""
        max_step = self.max_velocity * dt
        stepped = np.clip(target, previous - max_step, previous + max_step)
        command = np.clip(stepped, self.lower, self.upper)
        clamped = np.abs(command - target) > 1e-9
        return command, clamped


@dataclass
class Chunk:
    """One action chunk as the executor needs it (ROS-free copy of aloe_msgs/ActionChunk)."""

    stamp: float
    chunk_id: int
    policy_version: int
    dt: float
    actions: np.ndarray  # (H, D) in the executor's joint order
    start_index: Optional[int] = None  # set on the first tick that plays the chunk

    @property
    def horizon(self) -> int:
        """Return the number of steps H."""
        return int(self.actions.shape[0])


@dataclass
class ExecutorConfig:
    """Executor settings (the node fills them from parameters)."""

    limits: JointLimits
    joint_names: Sequence[str] = DEFAULT_JOINT_NAMES
    dt: float = 0.02
    blend_steps: int = 5
    observation_timeout: float = 0.2
    teleop_timeout: float = 0.2
    skip_past_steps: bool = True


@dataclass
class TickResult:
    """What one control tick decided."""

    command: np.ndarray
    source: int
    policy_version: int = 0
    chunk_id: int = 0
    index_in_chunk: int = 0
    intervention: bool = False
    hold_reason: str = ''
    clamped_joints: List[str] = field(default_factory=list)
    notes: List[SafetyNote] = field(default_factory=list)


# : RUN resumes from the measured pose when it is this far [rad] from the hold target (see
# set_mode).
RESYNC_THRESHOLD = 0.1
#: After a resync, chunks stamped more than this before the switch to RUN are refused [s]: they
#: were planned from an observation taken before the robot was moved (a reset scene).
RESYNC_CHUNK_GRACE = 0.05


def chunk_from_fields(stamp: float, chunk_id: int, policy_version: int, horizon: int,
                      action_dim: int,
                      joint_names: Sequence[str], dt: float, actions: Sequence[float],
                      executor_joint_names: Sequence[str], default_dt: float,
                      max_horizon: int = DEFAULT_MAX_HORIZON) -> Chunk:
    """
    Validate ActionChunk fields and return a Chunk in the executor's joint order.

    Raises ValueError saying what is wrong: sizes that do not match, unknown or missing joint
    names, non-finite values, a non-positive dt. Sizes (horizon, action_dim, number of actions
    and names) are checked first, in O(1), so an oversized chunk is refused before its data is
    read.
    """
    d = len(executor_joint_names)
    if horizon <= 0:
        raise ValueError(f'chunk {chunk_id}: horizon {horizon} must be > 0')
    if horizon > max_horizon:
        raise ValueError(f'chunk {chunk_id}: horizon {horizon} above the maximum {max_horizon}')
    if len(actions) != horizon * action_dim:
        raise ValueError(f'chunk {chunk_id}: {len(actions)} actions, expected horizon*action_dim '
                         f'= {horizon}*{action_dim}')
    if action_dim != d or len(joint_names) not in (0, d):
        raise ValueError(f'chunk {chunk_id}: action_dim {action_dim} with {len(joint_names)} '
                         'joint names, '
                         f'expected {d} (the executor\'s joints)')
    table = np.asarray(actions, dtype=float).reshape(horizon, action_dim)
    names = list(joint_names)
    if names:
        unknown = [n for n in names if n not in executor_joint_names]
        missing = [n for n in executor_joint_names if n not in names]
        if unknown or missing:
            raise ValueError(f'chunk {chunk_id}: unknown joints {unknown}, missing joints '
                             f'{missing}')
        index = [names.index(n) for n in executor_joint_names]
        table = table[:, index]
    if not np.all(np.isfinite(table)):
        bad = sorted({int(k) for k in np.argwhere(~np.isfinite(table))[:, 0]})
        raise FloatingPointError(f'chunk {chunk_id}: NaN/inf at steps {bad[:5]}')
    # A tiny positive dt would make (now - stamp) / dt overflow in the control tick.
    if not math.isfinite(dt) or dt < 0 or 0 < dt < MIN_CHUNK_DT:
        raise ValueError(f'chunk {chunk_id}: dt {dt} must be 0 (the control period) or >= '
                         f'{MIN_CHUNK_DT}')
    return Chunk(stamp=float(stamp), chunk_id=int(chunk_id), policy_version=int(policy_version),
                 dt=float(dt) if dt > 0 else default_dt, actions=table)


def sized_chunk(actions: Sequence[float], horizon: int, action_dim: int, max_horizon: int,
                expected_dim: int, what: str = 'chunk') -> np.ndarray:
    """
    Return ``actions`` as an (horizon, action_dim) float array after O(1) size checks.

    The sizes (``horizon <= max_horizon``, ``action_dim == expected_dim``, ``len(actions) ==
    horizon * action_dim``) are checked before any per-element work, so an oversized message is
    refused without touching its data. Raises ValueError saying what is wrong.
    """
    if not 0 < horizon <= max_horizon:
        raise ValueError(f'{what}: horizon {horizon} outside [1, {max_horizon}]')
    if action_dim != expected_dim:
        raise ValueError(f'{what}: action_dim {action_dim}, expected {expected_dim}')
    if len(actions) != horizon * action_dim:
        raise ValueError(f'{what}: {len(actions)} actions, expected horizon*action_dim '
                         f'= {horizon}*{action_dim}')
    return np.asarray(actions, dtype=float).reshape(horizon, action_dim)


def check_limits(table: np.ndarray, lower: np.ndarray, upper: np.ndarray, tolerance: float,
                 what: str = 'chunk') -> Tuple[np.ndarray, int]:
    """
    Return (table clipped into ``[lower, upper]``, number of values clipped).

    Raises FloatingPointError on NaN/inf and ValueError when a value lies more than ``tolerance``
    outside the limits: a target the robot could not be commanded to.
    """
    if not np.all(np.isfinite(table)):
        raise FloatingPointError(f'{what}: NaN/inf actions')
    below = table < lower - tolerance
    above = table > upper + tolerance
    if below.any() or above.any():
        step, joint = (int(v) for v in np.argwhere(below | above)[0])
        raise ValueError(f'{what}: action {table[step, joint]:.6g} at step {step}, joint {joint} '
                         'is outside '
                         f'the joint limits [{lower[joint]:.6g}, {upper[joint]:.6g}] (+- '
                         f'{tolerance:g})')
    clipped = np.clip(table, lower, upper)
    return clipped, int(np.count_nonzero(clipped != table))


def observation_to_action_vector(action_names: Sequence[str], obs_names: Sequence[str],
                                 position: Sequence[float],
                                 gripper: Sequence[float]) -> np.ndarray:
    """
    Return the observed state in action order from Observation fields.

    Arm joints are looked up by name in ``obs_names``; gripper dimensions (action names with
    'gripper' not in ``obs_names``) take ``gripper`` in order (left then right). Raises
    ValueError when a joint is missing or sizes disagree.
    """
    if len(obs_names) != len(position):
        raise ValueError(f'{len(obs_names)} joint names but {len(position)} positions')
    by_name = dict(zip(obs_names, position))
    out = np.empty(len(action_names))
    g = 0
    for i, name in enumerate(action_names):
        if name in by_name:
            out[i] = by_name[name]
        elif 'gripper' in name:
            if g >= len(gripper):
                raise ValueError(f'no gripper value for {name} ({len(gripper)} given)')
            out[i] = gripper[g]
            g += 1
        else:
            raise ValueError(f'observation has no joint {name}')
    return out


class ExecutorCore:
    """Decides the command at every tick; see the module docstring for the rules."""

    def __init__(self, config: ExecutorConfig):
        """Start in RUN mode, with nothing observed and no chunk."""
        self.config = config
        self.joint_names = list(config.joint_names)
        if config.limits.lower.shape[0] != len(self.joint_names):
            raise ValueError(f'limits have {config.limits.lower.shape[0]} joints, '
                             f'joint_names {len(self.joint_names)}')
        self.mode = MODE_RUN
        self._chunk: Optional[Chunk] = None
        self._blend_from_chunk: Optional[Chunk] = None
        self._blend_from_target: Optional[np.ndarray] = None
        self._blend_tick = 0
        self._last_command: Optional[np.ndarray] = None
        self._observed: Optional[np.ndarray] = None
        self._obs_time = -math.inf
        self._obs_stale = False
        self._teleop: Optional[np.ndarray] = None
        self._teleop_time = -math.inf
        self.intervention = False
        self.aligning = False
        self._last_source: Optional[int] = None
        self._hold_reason = ''
        self._was_clamping = False
        self._pending: List[SafetyNote] = []
        self._bad_chunk_reported = False
        self._clock_fault = ''
        self._chunks_not_before: Optional[float] = None
        self._resync_pending = False

    # ---------------------------------------------------------------- inputs

    @property
    def observed(self) -> Optional[np.ndarray]:
        """Return the latest observed position in action order (None before the first)."""
        return None if self._observed is None else self._observed.copy()

    @property
    def last_command(self) -> Optional[np.ndarray]:
        """Return the last commanded target (None before the first tick with an observation)."""
        return None if self._last_command is None else self._last_command.copy()

    def _joint_vector(self, values, what: str) -> np.ndarray:
        """One finite float per joint; ValueError / FloatingPointError naming ``what``."""
        vec = np.asarray(values, dtype=float)
        if vec.shape != (len(self.joint_names),):
            raise ValueError(f'{what} has {vec.shape[0]} values, expected {len(self.joint_names)}')
        if not np.all(np.isfinite(vec)):
            raise FloatingPointError(f'{what} contains NaN/inf')
        return vec

    def on_observation(self, now: float, position: np.ndarray, stale: bool = False) -> None:
        """Record an observation (action order) received at ``now``; ValueError if invalid."""
        self._observed = self._joint_vector(position, 'observation')
        self._obs_time = now
        self._obs_stale = bool(stale)

    def on_chunk(self, chunk: Chunk) -> bool:
        """
        Start playing ``chunk`` (already validated), blending from the running plan.

        Return False when it is ignored: a repeat of the running chunk, or one planned before the
        robot was moved while holding (see :meth:`set_mode`).
        """
        if self._chunk is not None and chunk.chunk_id == self._chunk.chunk_id \
                and chunk.policy_version == self._chunk.policy_version:
            return False
        if self._chunks_not_before is not None:
            if chunk.stamp < self._chunks_not_before:
                return False
            self._chunks_not_before = None
        self._bad_chunk_reported = False
        self._begin_blend()
        self._chunk = chunk
        return True

    def on_bad_chunk(self, reason: str, nan: bool) -> None:
        """Record a rejected chunk; a NaN chunk also drops the running one (the executor holds)."""
        if not self._bad_chunk_reported:  # once per cause: until a valid chunk arrives again
            self._bad_chunk_reported = True
            self._pending.append(SafetyNote(LEVEL_WARN, KIND_REJECTED_INPUT,
                                            f'{reason}: chunk rejected'
                                            + ('; holding last target' if nan
                                               else '; kept running chunk'),
                                            'chunk'))
        if nan:
            self._chunk = None
            self._blend_from_chunk = None

    def on_teleop(self, now: float, target: np.ndarray) -> None:
        """Record a teleop target (action order); ValueError/FloatingPointError if invalid."""
        self._teleop = self._joint_vector(target, 'teleop command')
        self._teleop_time = now

    def on_intervention(self, active: bool, aligning: bool = False) -> None:
        """Record the operator's intervention state."""
        if self.intervention and not active:
            # Handback: the old chunk was planned before the human moved the robot.
            self._chunk = None
            self._blend_from_chunk = None
        self.intervention = bool(active)
        self.aligning = bool(aligning)

    def set_clock_fault(self, reason: str) -> None:
        """Hold while the node's clock is untrusted (``reason`` set); ``''`` when sane again."""
        self._clock_fault = reason

    def set_mode(self, mode: int, reason: str = '', now: Optional[float] = None) -> str:
        """
        Switch RUN/HOLD/ESTOP at time ``now``; return a message. ESTOP drops the running chunk.

        RUN after the robot was moved while holding (a reset scene) resumes from the measured
        pose and drops the running chunk; chunks stamped more than ``RESYNC_CHUNK_GRACE`` before
        ``now`` are refused until a newer one arrives, since they were planned from the old
        scene. The executor holds until then.
        """
        if mode not in MODE_NAMES:
            raise ValueError(f'unknown mode {mode}')
        previous = self.mode
        self.mode = mode
        why = f' ({reason})' if reason else ''
        if mode != MODE_RUN:
            self._resync_pending = False   # a resync not yet made is dropped with the RUN
        if mode == MODE_ESTOP:
            self._chunk = None
            self._blend_from_chunk = None
            self._pending.append(SafetyNote(LEVEL_ERROR, KIND_ESTOP,
                                            f'e-stop{why}: holding last target',
                                            'mode'))
        elif previous != mode:
            self._pending.append(SafetyNote(LEVEL_INFO, KIND_RESUMED if mode == MODE_RUN
                                            else KIND_HOLD,
                                            f'mode {MODE_NAMES[previous]} -> '
                                            f'{MODE_NAMES[mode]}{why}',
                                            'mode'))
        if mode == MODE_RUN and previous != MODE_RUN and self._observed is not None \
                and self._last_command is not None:
            # Resume from where the robot is: while holding, the scene may have been reset (a sim
            # teleport, arms homed by hand). Blending from the old hold target would drive the arms
            # back to it; commanding the measured pose moves nothing, and the velocity limit
            # applies
            # from there on.
            moved = float(np.max(np.abs(self._measured_target() - self._last_command)))
            if moved > RESYNC_THRESHOLD:   # below it: tracking error, keep the hold target
                self._pending.append(SafetyNote(
                    LEVEL_INFO, KIND_RESUMED,
                    f'resuming from the measured pose, {moved:.2f} from the hold '
                    'target (the robot was moved while holding); waiting for a chunk planned '
                    'after the move', 'mode'))
                # the jump to the measured pose is made at the next tick, from the observation
                # current then (the command published with it then matches the reported pose)
                self._resync_pending = True
                self._chunk = None
                self._blend_from_chunk = None
                if now is not None:
                    self._chunks_not_before = now - RESYNC_CHUNK_GRACE
        return f'mode {MODE_NAMES[mode]}{why}'

    # ---------------------------------------------------------------- tick

    def tick(self, now: float) -> Optional[TickResult]:
        """Return the command for the tick at time ``now`` (None until the first observation)."""
        if self._observed is None:
            return None
        if self._last_command is None or self._resync_pending:
            # the first target, and a resync, start from the measured pose
            self._last_command = self._measured_target()
            self._resync_pending = False
        result = self._decide(now)
        command, clamped = self.config.limits.apply(self._last_command, result.command,
                                                    self.config.dt)
        result.command = command
        result.clamped_joints = [n for n, c in zip(self.joint_names, clamped) if c]
        self._last_command = command
        self._note_changes(result)
        result.notes = self._pending
        self._pending = []
        self._last_source = result.source
        return result

    def _measured_target(self) -> np.ndarray:
        """Return the last observed position clipped into the position limits."""
        return np.clip(self._observed, self.config.limits.lower, self.config.limits.upper)

    def _hold(self, reason: str) -> TickResult:
        return TickResult(command=self._last_command, source=SOURCE_HOLD, hold_reason=reason,
                          intervention=self.intervention)

    def _decide(self, now: float) -> TickResult:
        cfg = self.config
        if self.mode == MODE_ESTOP:
            return self._hold('e-stop')
        if self.mode == MODE_HOLD:
            return self._hold('hold mode')
        if self._clock_fault:
            return self._hold('clock rejected')
        if self._obs_stale or now - self._obs_time > cfg.observation_timeout:
            return self._hold('stale observation')
        if self.intervention:
            if self.aligning:
                return self._hold('operator aligning leader')
            if self._teleop is None or now - self._teleop_time > cfg.teleop_timeout:
                return self._hold('no teleop command')
            return TickResult(command=self._teleop.copy(), source=SOURCE_HUMAN, intervention=True)
        chunk = self._chunk
        if chunk is None:
            return self._hold('no chunk')
        if self._last_source != SOURCE_POLICY and self._blend_from_target is None \
                and self._blend_from_chunk is None:
            self._begin_blend(from_running_chunk=False)
        index = self._advance(chunk, now)
        if index >= chunk.horizon:
            self._chunk = None
            return self._hold('chunk ran out')
        target = chunk.actions[index].copy()
        if self._blend_tick < cfg.blend_steps and (self._blend_from_chunk is not None
                                                   or self._blend_from_target is not None):
            self._blend_tick += 1
            alpha = self._blend_tick / (cfg.blend_steps + 1)
            previous = self._previous_plan(now)
            target = (1.0 - alpha) * previous + alpha * target
        else:
            self._blend_from_chunk = None
            self._blend_from_target = None
        return TickResult(command=target, source=SOURCE_POLICY,
                          policy_version=chunk.policy_version,
                          chunk_id=chunk.chunk_id, index_in_chunk=index)

    def _advance(self, chunk: Chunk, now: float) -> int:
        """Return this tick's chunk step: one past the last played, or later if time says so."""
        index = 0 if chunk.start_index is None else chunk.start_index + 1
        if self.config.skip_past_steps:
            index = max(index, int(round((now - chunk.stamp) / chunk.dt)))
        chunk.start_index = index
        return index

    def _begin_blend(self, from_running_chunk: bool = True) -> None:
        """Blend the next policy targets in from what runs now (a chunk, or the last command)."""
        self._blend_tick = 0
        running = self._chunk
        if from_running_chunk and running is not None and running.start_index is not None \
                and running.start_index + 1 < running.horizon:
            self._blend_from_chunk = running
            self._blend_from_target = None
        else:
            self._blend_from_chunk = None
            self._blend_from_target = (None if self._last_command is None
                                       else self._last_command.copy())

    def _previous_plan(self, now: float) -> np.ndarray:
        old = self._blend_from_chunk
        if old is not None:
            k = old.start_index + self._blend_tick
            if k < old.horizon:
                return old.actions[k]
            self._blend_from_target = old.actions[-1].copy()
            self._blend_from_chunk = None
        if self._blend_from_target is None:
            self._blend_from_target = self._last_command.copy()
        return self._blend_from_target

    def _note_changes(self, result: TickResult) -> None:
        reason = result.hold_reason
        if reason != self._hold_reason:
            if reason and reason != 'e-stop':
                kind = KIND_STALE_INPUT if reason == 'stale observation' else KIND_HOLD
                level = LEVEL_INFO if reason in ('no chunk', 'hold mode',
                                                 'operator aligning leader') \
                    else LEVEL_WARN
                self._pending.append(SafetyNote(level, kind, f'{reason}: holding last target',
                                                reason))
            elif not reason and self._hold_reason:
                who = 'human' if result.source == SOURCE_HUMAN else 'policy'
                self._pending.append(SafetyNote(LEVEL_INFO, KIND_RESUMED,
                                                f'{self._hold_reason} cleared: {who} resumed',
                                                self._hold_reason))
            self._hold_reason = reason
        clamping = bool(result.clamped_joints)
        if clamping and not self._was_clamping:
            self._pending.append(SafetyNote(
                LEVEL_WARN, KIND_LIMIT_CLAMP,
                f'target outside position/velocity limits for {result.clamped_joints}: clamped',
                'clamp'))
        self._was_clamping = clamping


class LoopStats:
    """Control-loop timing: period error and missed ticks (for diagnostics)."""

    def __init__(self, period: float, window: int = 500):
        """Track ticks expected every ``period`` s, keeping the last ``window`` errors."""
        self.period = period
        self._errors = np.zeros(window)
        self._n = 0
        self._last: Optional[float] = None
        self.ticks = 0
        self.missed_ticks = 0

    def tick(self, t: float) -> None:
        """Record a tick at monotonic time ``t``."""
        self.ticks += 1
        if self._last is not None:
            elapsed = t - self._last
            self._errors[self._n % self._errors.shape[0]] = abs(elapsed - self.period)
            self._n += 1
            missed = int(round(elapsed / self.period)) - 1
            if missed > 0:
                self.missed_ticks += missed
        self._last = t

    def pause(self) -> None:
        """Forget the last tick: a loop stopped on purpose (deactivated) missed no tick."""
        self._last = None

    def period_error(self, percentile: float = 99.0) -> float:
        """Return the given percentile of |period - nominal| [s] over the window (0 if unknown)."""
        n = min(self._n, self._errors.shape[0])
        return float(np.percentile(self._errors[:n], percentile)) if n else 0.0


class DeadlineSchedule:
    """
    Absolute tick deadlines ``t_0 + k * period``: lateness never accumulates into drift.

    After each tick ``advance(now)`` moves to the next deadline; deadlines that already passed
    are skipped (never run in a burst: a late tick decides with the current time anyway) and
    returned as missed. A clock that went backwards (simulation reset) restarts the schedule.
    """

    def __init__(self, period: float, start: float):
        """First deadline at ``start``."""
        if not period > 0:
            raise ValueError(f'period must be > 0, got {period}')
        self.period = float(period)
        self.deadline = float(start)

    def advance(self, now: float) -> int:
        """Move to the next deadline after the tick run at ``now``; return deadlines skipped."""
        if now < self.deadline - self.period:
            self.deadline = now + self.period
            return 0
        self.deadline += self.period
        if now < self.deadline:
            return 0
        skipped = int(math.floor((now - self.deadline) / self.period)) + 1
        self.deadline += skipped * self.period
        return skipped


@dataclass
class RealtimeSettings:
    """Scheduling of the control thread: CPU affinity and SCHED_FIFO priority (0: normal)."""

    cpu_affinity: Sequence[int] = ()
    priority: int = 0


def apply_realtime(settings: RealtimeSettings, os_api=None) -> List[str]:
    """
    Apply ``settings`` to the calling thread; return one warning per setting that failed.

    Linux applies affinity and scheduling policy per thread when given pid 0. Like ros2_control's
    controller manager, a setting that is not permitted (no CAP_SYS_NICE, no rtprio limit) or not
    available is reported with its reason and the loop runs on without it.
    """
    import os
    os_api = os_api or os
    warnings = []
    if settings.cpu_affinity:
        cpus = sorted({int(c) for c in settings.cpu_affinity})
        try:
            os_api.sched_setaffinity(0, cpus)
        except (OSError, ValueError, AttributeError) as exc:
            warnings.append(f'cannot pin the control thread to CPUs {cpus}: {exc}; it runs on any '
                            'CPU')
    if settings.priority > 0:
        try:
            os_api.sched_setscheduler(0, os_api.SCHED_FIFO,
                                      os_api.sched_param(int(settings.priority)))
        except PermissionError as exc:
            warnings.append('cannot run the control thread at SCHED_FIFO priority '
                            f'{settings.priority}: '
                            f'{exc} (needs CAP_SYS_NICE or an rtprio limit, e.g. "@realtime - '
                            'rtprio 99" in '
                            '/etc/security/limits.conf); it runs at normal priority')
        except (OSError, ValueError, AttributeError) as exc:
            warnings.append('cannot run the control thread at SCHED_FIFO priority '
                            f'{settings.priority}: '
                            f'{exc}; it runs at normal priority')
    return warnings


class GcPauses:
    """
    Keep Python's cyclic garbage collector from stalling the control thread, and measure it.

    A full collection walks every tracked object of the process while holding the interpreter
    lock: with rclpy, numpy and the node loaded that is ~20 ms, a whole missed tick, and it can
    start in any thread that allocates. ``freeze()`` (called once the node is built) moves every
    object alive at that moment out of the collector's reach (``gc.freeze``), so later
    collections walk only what was created since (a frozen object is still freed when its last
    reference goes; only frozen reference cycles dropped later, e.g. by a cleanup, stay until
    exit). ``install()`` times every collection
    (``gc.callbacks``); ``take()`` returns and resets the longest pause and the count of full
    (generation 2) collections since the last call.
    """

    def __init__(self, gc_api=None, clock=None):
        """Measure with ``gc_api`` (default: the ``gc`` module) and ``clock`` (perf_counter)."""
        import gc
        import time
        self._gc = gc_api or gc
        self._clock = clock or time.perf_counter
        self._started: Optional[float] = None
        self.max_pause = 0.0
        self.full_collections = 0
        self.installed = False

    def install(self) -> None:
        """Start timing collections (idempotent)."""
        if not self.installed:
            self._gc.callbacks.append(self._on_gc)
            self.installed = True

    def uninstall(self) -> None:
        """Stop timing collections."""
        if self.installed:
            self._gc.callbacks.remove(self._on_gc)
            self.installed = False

    def freeze(self) -> None:
        """Collect once, then exempt every surviving object from later collections."""
        self._gc.collect()
        self._gc.freeze()

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == 'start':
            self._started = self._clock()
        elif self._started is not None:
            self.max_pause = max(self.max_pause, self._clock() - self._started)
            self._started = None
            if info.get('generation') == 2:
                self.full_collections += 1

    def take(self) -> Tuple[float, int]:
        """Return (longest pause [s], full collections) since the last call, and reset them."""
        out = (self.max_pause, self.full_collections)
        self.max_pause, self.full_collections = 0.0, 0
        return out


class ControlLoop:
    """
    The fixed-rate loop body, free of threads and clocks (tests drive it with a fake clock).

    ``now()`` reads the loop's clock; ``wait_until(t)`` blocks until that clock reaches ``t`` and
    returns False when the loop must stop; ``tick(t)`` runs one control tick. ``run()`` ticks at
    every deadline of a DeadlineSchedule until ``wait_until`` returns False; ``stats`` (LoopStats)
    records each tick's time, so period error and missed ticks are measured on the ticks that ran.
    """

    def __init__(self, period: float, tick: Callable[[float], None], now: Callable[[], float],
                 wait_until: Callable[[float], bool], stats: Optional['LoopStats'] = None):
        """Loop every ``period`` s on the clock of ``now``/``wait_until``."""
        self.period = float(period)
        self._tick = tick
        self._now = now
        self._wait_until = wait_until
        self.stats = stats or LoopStats(period)
        self.schedule: Optional[DeadlineSchedule] = None

    def run(self, max_ticks: Optional[int] = None) -> None:
        """Tick at absolute deadlines until stopped (or ``max_ticks`` ticks ran)."""
        self.schedule = DeadlineSchedule(self.period, self._now() + self.period)
        ran = 0
        while max_ticks is None or ran < max_ticks:
            if not self._wait_until(self.schedule.deadline):
                return
            t = self._now()
            self.stats.tick(t)
            self._tick(t)
            ran += 1
            self.schedule.advance(self._now())

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
Teleop / intervention capture logic, ROS-free.

States: ``IDLE`` (policy drives) -> ``ALIGNING`` -> ``BLENDING`` -> ``ACTIVE`` (human drives) ->
``IDLE``.

No jump at takeover (the choice made here, for leader arms): a takeover request (Joy button,
pedal, key) enters ``ALIGNING``: the intervention is announced with ``aligning = true`` so the
executor keeps holding, and the operator brings the leader to the follower's pose (the
InterventionState carries ``leader_deviation`` as feedback). Once ``max|leader - follower| <
align_tolerance`` the command blends over ``blend_ticks`` from the follower's pose to the
leader's (removing the residual offset), then follows the leader. A takeover triggered by the
leader deviating from the follower (``deviation_threshold`` > 0; armed only after the leader
has tracked the follower within half the threshold) skips ``ALIGNING`` and blends directly.
With ``command_device = joy`` the target starts at the follower's pose and axes move it
incrementally (``target += axis * scale * dt``), so there is nothing to align.

Handback (toggle again, or an episode outcome button) returns to ``IDLE``; the executor blends
the policy in from the last human target, so handback has no jump either.

Episode-end buttons and keys act on a press, not on a message: a Joy button counts when it goes
from released to pressed (a message with fewer buttons, or an invalid one, releases nothing), and
one end-episode request is accepted per ``end_debounce`` seconds; the rest are counted in
``debounced``. So a bouncing contact or a flood of Joy/keyboard messages makes one request.

Device silent mid-intervention (no leader/joy message within ``device_timeout``): no command
is produced (the executor holds) and a safety note is raised once; when the leader comes back
it has to align again.
"""

from dataclasses import dataclass, field
import math
from typing import Dict, List, Optional, Sequence

import numpy as np

IDLE, ALIGNING, BLENDING, ACTIVE = 'idle', 'aligning', 'blending', 'active'

# aloe_msgs/InterventionState triggers and EndEpisode outcomes (kept here: no ROS import)
TRIGGER_NONE, TRIGGER_BUTTON, TRIGGER_PEDAL, TRIGGER_LEADER_DEVIATION, TRIGGER_KEYBOARD = range(5)
OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_ABORTED = 1, 2, 3
LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR = 0, 1, 2
KIND_HOLD, KIND_REJECTED_INPUT, KIND_STALE_INPUT, KIND_RESUMED = 0, 2, 4, 5


@dataclass
class TeleopConfig:
    """Teleop settings (the node fills them from parameters)."""

    joint_names: Sequence[str]
    arms: Sequence[str] = ('left', 'right')
    command_device: str = 'leader'         # 'leader' or 'joy'
    dt: float = 0.02
    align_tolerance: float = 0.1
    align_timeout: float = 20.0
    blend_ticks: int = 10
    deviation_threshold: float = 0.0       # 0 disables deviation takeover
    device_timeout: float = 0.5
    takeover_button: int = 0
    success_button: int = 1
    failure_button: int = 2
    abort_button: int = 3
    pedal_button: int = -1
    axis_joints: Sequence[str] = ()
    axis_scales: Sequence[float] = ()
    axis_deadzone: float = 0.1
    takeover_keys: Sequence[str] = ('t', ' ')
    success_keys: Sequence[str] = ('s',)
    failure_keys: Sequence[str] = ('f',)
    abort_keys: Sequence[str] = ('a', 'q')
    end_debounce: float = 1.0


@dataclass
class Note:
    """Something to log and publish as SafetyEvent (level, kind, message)."""

    level: int
    kind: int
    message: str


@dataclass
class TeleopOutput:
    """Result of one tick."""

    command: Optional[np.ndarray]          # target in joint_names order, None: publish nothing
    state: str
    intervention_changed: bool
    notes: List[Note] = field(default_factory=list)
    outcomes: List[int] = field(default_factory=list)


class TeleopCore:
    """Takeover/handback state machine and the human's joint targets."""

    def __init__(self, config: TeleopConfig):
        """Check the configuration and start ``IDLE``."""
        if config.command_device not in ('leader', 'joy'):
            raise ValueError(f"command_device '{config.command_device}' is not 'leader' or 'joy'")
        self.config = config
        self.joint_names = list(config.joint_names)
        self.arm_joints: Dict[str, List[int]] = {}
        for arm in config.arms:
            idx = [i for i, n in enumerate(self.joint_names) if n.startswith(arm + '_')]
            if not idx:
                raise ValueError(f"no joint name starts with '{arm}_'")
            self.arm_joints[arm] = idx
        unknown = [n for n in config.axis_joints if n and n not in self.joint_names]
        if unknown:
            raise ValueError(f'axis_joints name unknown joints {unknown}')
        if len(config.axis_scales) != len(config.axis_joints):
            raise ValueError('axis_scales needs one entry per axis_joints entry')
        n = len(self.joint_names)
        self.leader = np.full(n, np.nan)
        self.follower = np.full(n, np.nan)
        self.state = IDLE
        self.trigger = TRIGGER_NONE
        self.device = ''
        self.reason = ''
        self.silent = False
        self._leader_time = {a: -math.inf for a in config.arms}
        self._joy_time = -math.inf
        self._buttons: List[int] = []
        self._axes = np.zeros(0)
        self._target: Optional[np.ndarray] = None
        self._blend_from: Optional[np.ndarray] = None
        self._blend_k = 0
        self._align_start = 0.0
        self._takeover_time = -math.inf
        self._deviation_armed = False
        self._last_end = -math.inf
        # : End-episode presses ignored because one was accepted less than ``end_debounce`` s
        # before.
        self.debounced = 0
        self._changed = False
        self._notes: List[Note] = []
        self._outcomes: List[int] = []

    # ---------------------------------------------------------------- inputs

    def _arm_vector(self, arm: str, names: Sequence[str], position: Sequence[float], what: str):
        if arm not in self.arm_joints:
            raise ValueError(f'{what}: unknown arm {arm}')
        idx = self.arm_joints[arm]
        expected = [self.joint_names[i] for i in idx]
        if len(names) != len(position):
            raise ValueError(f'{what} {arm}: {len(names)} names but {len(position)} positions')
        full = [m if m in expected else f'{arm}_{m}' for m in names]
        unknown = [m for m, f in zip(names, full) if f not in expected]
        missing = [m for m in expected if m not in full]
        if unknown or missing:
            raise ValueError(f'{what} {arm}: unknown joints {unknown}, missing joints {missing}')
        values = np.asarray(position, dtype=float)
        if not np.all(np.isfinite(values)):
            raise FloatingPointError(f'{what} {arm}: NaN/inf position')
        return idx, values[[full.index(m) for m in expected]]

    def on_leader(self, arm: str, names: Sequence[str], position: Sequence[float],
                  now: float) -> None:
        """Record a leader arm's JointState; raises ValueError/FloatingPointError when invalid."""
        idx, values = self._arm_vector(arm, names, position, 'leader')
        self.leader[idx] = values
        self._leader_time[arm] = now

    def on_follower(self, arm: str, names: Sequence[str], position: Sequence[float]) -> None:
        """Record a follower arm's JointState; ValueError/FloatingPointError when invalid."""
        idx, values = self._arm_vector(arm, names, position, 'follower')
        self.follower[idx] = values

    def on_joy(self, buttons: Sequence[int], axes: Sequence[float], now: float) -> None:
        """Handle a Joy message: rising edges of mapped buttons, axes for incremental targets."""
        cfg = self.config
        axes = np.asarray(axes, dtype=float)
        if not np.all(np.isfinite(axes)):
            self._axes = np.zeros(0)
            raise FloatingPointError('joy: NaN/inf axis')
        self._axes = axes
        previous = self._buttons
        # Buttons a message leaves out keep their state: a short message releases nothing.
        self._buttons = [int(bool(buttons[i])) if i < len(buttons) else previous[i]
                         for i in range(max(len(buttons), len(previous)))]
        self._joy_time = now

        def pressed(i):
            return 0 <= i < len(buttons) and buttons[i] and not (i < len(previous) and previous[i])
        if pressed(cfg.takeover_button):
            self.toggle(TRIGGER_BUTTON, 'joy', now)
        if pressed(cfg.pedal_button):
            self.toggle(TRIGGER_PEDAL, 'pedal', now)
        for button, outcome in ((cfg.success_button, OUTCOME_SUCCESS),
                                (cfg.failure_button, OUTCOME_FAILURE),
                                (cfg.abort_button, OUTCOME_ABORTED)):
            if pressed(button):
                self.end_episode(outcome, 'joy', now)

    def on_key(self, key: str, now: float) -> None:
        """Handle one keyboard key."""
        cfg = self.config
        if key in cfg.takeover_keys:
            self.toggle(TRIGGER_KEYBOARD, 'keyboard', now)
        elif key in cfg.success_keys:
            self.end_episode(OUTCOME_SUCCESS, 'keyboard', now)
        elif key in cfg.failure_keys:
            self.end_episode(OUTCOME_FAILURE, 'keyboard', now)
        elif key in cfg.abort_keys:
            self.end_episode(OUTCOME_ABORTED, 'keyboard', now)

    # ---------------------------------------------------------------- transitions

    def deviation(self) -> float:
        """Return max |leader - follower| over all joints (inf while either is unknown)."""
        diff = np.abs(self.leader - self.follower)
        return float(np.max(diff)) if np.all(np.isfinite(diff)) else math.inf

    def toggle(self, trigger: int, device: str, now: float) -> None:
        """Take over when idle, hand back otherwise."""
        if self.state == IDLE:
            self.takeover(trigger, device, now)
        else:
            self.handback(trigger, device, 'operator handback')

    def takeover(self, trigger: int, device: str, now: float,
                 reason: str = 'operator takeover') -> bool:
        """Start an intervention; False (with a note) when the follower pose is still unknown."""
        if self.state != IDLE:
            return False
        if not np.all(np.isfinite(self.follower)):
            self._notes.append(Note(LEVEL_WARN, KIND_REJECTED_INPUT,
                                    'takeover refused: follower pose unknown (no follower joint '
                                    'states)'))
            return False
        self.trigger, self.device, self.reason = trigger, device, reason
        self.silent = False
        self._changed = True
        self._takeover_time = now
        if self.config.command_device == 'joy':
            self._target = self.follower.copy()
            self.state = ACTIVE
        elif trigger == TRIGGER_LEADER_DEVIATION:
            self._start_blend()
        else:
            self.state = ALIGNING
            self._align_start = now
        return True

    def handback(self, trigger: int, device: str, reason: str) -> None:
        """End the intervention."""
        if self.state == IDLE:
            return
        self.state = IDLE
        self.trigger, self.device, self.reason = trigger, device, reason
        self.silent = False
        self._deviation_armed = False
        self._changed = True

    def end_episode(self, outcome: int, device: str, now: float = math.inf) -> bool:
        """Request an episode end (an intervention is handed back first); False if debounced."""
        if now - self._last_end < self.config.end_debounce:
            self.debounced += 1
            return False
        self._last_end = now
        self.handback(TRIGGER_BUTTON if device == 'joy' else TRIGGER_KEYBOARD, device,
                      f'episode ended ({ {1: "success", 2: "failure", 3: "aborted"}[outcome]})')
        self._outcomes.append(outcome)
        return True

    def _start_blend(self) -> None:
        self.state = BLENDING
        self._blend_from = self.follower.copy()
        self._blend_k = 0
        self._changed = True

    # ---------------------------------------------------------------- tick

    def _device_alive(self, now: float) -> bool:
        # The takeover itself starts the silence window: a keyboard takeover gives the device time.
        timeout = self.config.device_timeout
        if self.config.command_device == 'joy':
            return now - max(self._joy_time, self._takeover_time) <= timeout
        return all(now - max(t, self._takeover_time) <= timeout
                   for t in self._leader_time.values())

    def tick(self, now: float) -> TeleopOutput:
        """Advance the state machine at time ``now`` and return the command to publish (if any)."""
        cfg = self.config
        command = None
        if self.state == IDLE and cfg.deviation_threshold > 0 and cfg.command_device == 'leader' \
                and self._device_alive(now):
            dev = self.deviation()
            if dev < 0.5 * cfg.deviation_threshold:
                self._deviation_armed = True
            elif self._deviation_armed and math.isfinite(dev) and dev > cfg.deviation_threshold:
                self.takeover(TRIGGER_LEADER_DEVIATION, 'leader_arms', now,
                              f'leader deviated {dev:.3f} rad from follower')
        if self.state != IDLE:
            alive = self._device_alive(now)
            if not alive and not self.silent:
                self.silent = True
                self._changed = True
                self.reason = 'teleop device silent'
                self._notes.append(Note(LEVEL_ERROR, KIND_STALE_INPUT,
                                        f'{cfg.command_device} silent for more than '
                                        f'{cfg.device_timeout} s '
                                        'during an intervention: teleop commands stopped, '
                                        'executor holds'))
            elif alive and self.silent:
                self.silent = False
                self._changed = True
                self.reason = 'teleop device back'
                again = '; align the leader again' if cfg.command_device == 'leader' else ''
                self._notes.append(Note(LEVEL_INFO, KIND_RESUMED,
                                        f'{cfg.command_device} back{again}'))
                if cfg.command_device == 'leader':
                    self.state = ALIGNING
                    self._align_start = now
            if not self.silent:
                command = self._command(now)
        out = TeleopOutput(command=command, state=self.state, intervention_changed=self._changed,
                           notes=self._notes, outcomes=self._outcomes)
        self._changed = False
        self._notes, self._outcomes = [], []
        return out

    def _command(self, now: float) -> Optional[np.ndarray]:
        cfg = self.config
        if self.state == ALIGNING:
            if self.deviation() < cfg.align_tolerance:
                self._start_blend()
            elif now - self._align_start > cfg.align_timeout:
                self._notes.append(Note(LEVEL_WARN, KIND_HOLD, f'leader not aligned within '
                                        f'{cfg.align_timeout} s (deviation {self.deviation():.3f} '
                                        'rad): '
                                        'takeover cancelled'))
                self.handback(self.trigger, self.device, 'alignment timed out')
                return None
            else:
                return None
        if self.state == BLENDING:
            self._blend_k += 1
            alpha = min(1.0, self._blend_k / max(cfg.blend_ticks, 1))
            if alpha >= 1.0:
                self.state = ACTIVE
                self._changed = True
            return (1.0 - alpha) * self._blend_from + alpha * self.leader
        if cfg.command_device == 'joy':
            for i, (name, scale) in enumerate(zip(cfg.axis_joints, cfg.axis_scales)):
                if name and i < self._axes.shape[0] and abs(self._axes[i]) > cfg.axis_deadzone:
                    self._target[self.joint_names.index(name)] += self._axes[i] * scale * cfg.dt
            return self._target.copy()
        return self.leader.copy()

    # ---------------------------------------------------------------- state for InterventionState

    @property
    def active(self) -> bool:
        """Return whether an intervention is on (aligning included)."""
        return self.state != IDLE

    @property
    def aligning(self) -> bool:
        """Return whether the leader is still being aligned (the executor keeps holding)."""
        return self.state == ALIGNING

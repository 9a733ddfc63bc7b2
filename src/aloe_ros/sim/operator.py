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
Simulated operator: supervises a policy as a human would, takes over, hands back, ends episodes.

Call :meth:`SimulatedOperator.observe` once per control tick, after the env stepped, with the
action
that was executed. It returns an :class:`OperatorDecision`: whether the operator is in control, the
command to execute next when it is (the scripted expert's action), and, when the episode is over,
its outcome (``OUTCOME_*`` of :mod:`aloe_ros.learning.episode`).

Takeover triggers (while the policy drives), defaults in :class:`OperatorConfig`:

- **dropped**: an object that a gripper held firmly in the previous tick is held by nobody now and
  is not resting in its zone (immediate).
- **stall**: the expert's task progress (phase + closeness to the phase's sub-goal, see
  :meth:`ScriptedExpert.progress`) has not improved by ``stall_eps`` (0.03) in the last
  ``stall_steps`` (30 ticks = 0.6 s).
- **deviation**: the executed arm joint targets differ from the expert's action by more than
  ``deviation_rad`` (0.35 rad, any joint) or a gripper by more than ``gripper_dev`` (0.6), for
  ``deviation_steps`` (15) consecutive ticks: the policy is clearly not following a plan the
  expert would.

While in control the operator drives with the expert and hands back once the task progressed past
the phase it took over in (or reached the same phase's sub-goal within ``handback_dist`` m) and it
has driven at least ``min_takeover_steps`` (20) ticks times the number of takeovers so far (a
human trusts a policy less each time it had to step in). After ``max_takeovers`` (4) takeovers it
keeps control to the end.

With ``intervene = False`` the operator only watches: it never takes over and still labels the end
(operator-free evaluation episodes).

Episode end: ``success`` when :meth:`BimanualEnv.success` holds; ``failure`` when an object fell
off the table; ``timeout`` after ``max_steps`` ticks (default: the task's episode length).
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from aloe_ros.learning.episode import OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_TIMEOUT
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.sim.expert import ScriptedExpert


@dataclass
class OperatorConfig:
    """Thresholds of the simulated operator (see the module docstring)."""

    stall_steps: int = 30
    stall_eps: float = 0.03
    deviation_rad: float = 0.35
    gripper_dev: float = 0.6
    deviation_steps: int = 15
    min_takeover_steps: int = 20
    handback_dist: float = 0.02
    max_takeovers: int = 4
    max_steps: Optional[int] = None
    intervene: bool = True


@dataclass
class OperatorDecision:
    """What the operator does after one tick."""

    takeover: bool
    command: Optional[np.ndarray]
    end: Optional[int]
    reason: str


class SimulatedOperator:
    """Watches a policy drive ``env`` and intervenes with ``expert``; see the module docstring."""

    def __init__(self, env: BimanualEnv, expert: ScriptedExpert,
                 cfg: Optional[OperatorConfig] = None):
        self.env = env
        self.expert = expert
        self.cfg = cfg or OperatorConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the last episode (call after ``env.reset``)."""
        self.in_control = False
        self.takeovers = 0
        self.ticks = 0
        self._takeover_tick = 0
        self._takeover_phase = (0, 0.0)
        self._best_progress = self.expert.progress()
        self._best_tick = 0
        self._deviating = 0
        self._held = self._held_now()
        self._expected: Optional[np.ndarray] = self.expert.act()

    def _held_now(self):
        return {o.name: any(self.expert._held(s, o.name) for s in ('left', 'right'))
                for o in self.env.task.objects}

    def observe(self, obs: dict, executed_action) -> OperatorDecision:
        """Judge the tick just run (``executed_action`` led to ``obs``); return the decision."""
        cfg = self.cfg
        self.ticks += 1
        executed = np.asarray(executed_action, dtype=np.float64)
        max_steps = cfg.max_steps or self.env.max_steps
        if self.env.success():
            return self._end(OUTCOME_SUCCESS, 'task succeeded')
        if self.env.failure():
            return self._end(OUTCOME_FAILURE, 'object fell off the table')
        if self.ticks >= max_steps:
            return self._end(OUTCOME_TIMEOUT, f'no success after {max_steps} ticks')

        progress = self.expert.progress()
        if progress > self._best_progress + cfg.stall_eps:
            self._best_progress, self._best_tick = progress, self.ticks
        held = self._held_now()
        dropped = [n for n, was in self._held.items()
                   if was and not held[n] and not self.expert._placed(n)]
        self._held = held
        expected = self._expected
        self._expected = self.expert.act()

        if self.in_control:
            phase = self.expert.phase()
            recovered = (phase[0] > self._takeover_phase[0]
                         or (phase[0] == self._takeover_phase[0] and phase[1] < cfg.handback_dist))
            driven = self.ticks - self._takeover_tick
            if (recovered and driven >= cfg.min_takeover_steps * self.takeovers
                    and self.takeovers < cfg.max_takeovers):
                self.in_control = False
                self._best_progress, self._best_tick = progress, self.ticks
                self._deviating = 0
                return OperatorDecision(False, None, None,
                                        f'handback: recovered to phase {phase[0]}')
            return OperatorDecision(True, self._expected.copy(), None, 'operator driving')

        reason = ''
        if not cfg.intervene:
            return OperatorDecision(False, None, None, 'policy driving (operator watching only)')
        if dropped:
            reason = f'dropped {dropped[0]}'
        elif self.ticks - self._best_tick >= cfg.stall_steps:
            reason = f'stall: no progress for {self.ticks - self._best_tick} ticks'
        else:
            if expected is not None and self._deviates(executed, expected):
                self._deviating += 1
            else:
                self._deviating = 0
            if self._deviating >= cfg.deviation_steps:
                reason = f'deviation from the expert plan for {self._deviating} ticks'
        if reason:
            self.in_control = True
            self.takeovers += 1
            self._takeover_tick = self.ticks
            self._takeover_phase = self.expert.phase()
            return OperatorDecision(True, self._expected.copy(), None, f'takeover: {reason}')
        return OperatorDecision(False, None, None, 'policy driving')

    def _deviates(self, executed: np.ndarray, expected: np.ndarray) -> bool:
        arm = np.r_[0:6, 7:13]
        grip = [6, 13]
        return bool(np.max(np.abs(executed[arm] - expected[arm])) > self.cfg.deviation_rad
                    or np.max(np.abs(executed[grip] - expected[grip])) > self.cfg.gripper_dev)

    def _end(self, outcome: int, reason: str) -> OperatorDecision:
        return OperatorDecision(self.in_control, None, outcome, reason)

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
Scripted expert in joint space: closed-loop task logic + DLS IK (:mod:`aloe_ros.sim.ik`).

The expert keeps no episode memory: every call reads the scene (privileged object poses, which
gripper holds what) and decides each arm's intent afresh, so it recovers from any state an operator
takes over in (dropped block, half-done handover, block on the wrong side). Each arm's intent is a
tool goal (position, finger-closing axis) or its home pose, and a gripper command; the tool moves
toward the goal at a bounded Cartesian speed, IK turns that into joint targets, and joint steps are
bounded too.

``phase()`` / ``progress()`` expose how far the task has come (used by the simulated operator).
"""

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from aloe_ros.sim import robot
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.sim.ik import ArmIK

#: Tool point height above an object's centre when grasping (pads clear the table).
GRASP_DZ = 0.008
PREGRASP_DZ = 0.08
#: Handover: block centre here, left grasps -HANDOVER_OFFSET along the block, right +.
HANDOVER_POINT = np.array([0.0, 0.0, 0.17])
HANDOVER_OFFSET = 0.03
CARRY_HEIGHT = 0.10
#: Max tool displacement per control step (m) and max joint step (rad).
FAST_STEP = 0.018
SLOW_STEP = 0.008
JOINT_STEP = 0.06


@dataclass
class ArmIntent:
    """What one arm does this step: tool goal (None: go home), closing axis, gripper, speed."""

    pos: Optional[np.ndarray]
    axis: Optional[np.ndarray]
    grip: float
    step: float = FAST_STEP


def _flat(v: np.ndarray) -> np.ndarray:
    v = np.array([v[0], v[1], 0.0])
    n = np.linalg.norm(v)
    return v / n if n > 1e-9 else np.array([1.0, 0.0, 0.0])


class ScriptedExpert:
    """Closed-loop scripted expert bound to one :class:`BimanualEnv`."""

    def __init__(self, env: BimanualEnv):
        self.env = env
        self.ik = ArmIK(env.model)

    # --- public API ------------------------------------------------------------------------

    def act(self, obs: Optional[dict] = None, command: Optional[np.ndarray] = None,
            lead_tolerance: float = 0.15) -> np.ndarray:
        """
        Return the next 14-vector action from the env's current state (``obs`` is not needed).

        Each arm steps from ``command`` (default: the env's last executed action; the position loop
        lags it) unless the measured pose is ``lead_tolerance`` rad or more away from it (the arm
        is
        blocked), then from the measured pose. An operator whose commands reach the robot with a
        delay passes its own last command and a larger tolerance: it keeps moving its leader arm
        smoothly instead of waiting for the robot to catch up.
        """
        intents = self._intents()
        q = self.env.proprio(np.float64)
        cmd = self.env.last_action if command is None else np.asarray(command, dtype=np.float64)
        for i in range(2):
            sl = slice(7 * i, 7 * i + 6)
            if np.max(np.abs(cmd[sl] - q[sl])) < lead_tolerance:
                q[sl] = cmd[sl]
        action = np.empty(14)
        for i, side in enumerate(robot.SIDES):
            action[7 * i:7 * i + 6] = self._arm_targets(side, intents[side], q[7 * i:7 * i + 6])
            action[7 * i + 6] = intents[side].grip
        return np.clip(action, self.env.action_low, self.env.action_high)

    def plan_chunk(self, horizon: int) -> np.ndarray:
        """Return the expert's next ``horizon`` actions (H, 14): roll the sim ahead, restore it."""
        saved = self.env.get_state()
        cams = self.env.cameras
        self.env.cameras = ()
        out = np.empty((horizon, 14))
        try:
            for k in range(horizon):
                out[k] = self.act()
                self.env.step(out[k])
        finally:
            self.env.cameras = cams
            self.env.set_state(saved)
        return out

    def phase(self) -> Tuple[int, float]:
        """Return (phase index, distance to its sub-goal in m); a higher phase is further along."""
        return self._phase_handover() if self.env.task.name == 'handover' else self._phase_sort()

    def progress(self) -> float:
        """Return a scalar that grows as the task advances (phase + closeness to its sub-goal)."""
        ph, dist = self.phase()
        return ph + 1.0 - min(dist / 0.3, 1.0)

    # --- geometry helpers ------------------------------------------------------------------

    def _tool_rot(self, side: str, axis: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Tool pointing down, fingers closing across ``axis``, turned the way the arm faces."""
        bx, by, _, _ = robot.ARM_BASES[side]
        psi = math.atan2(at[1] - by, at[0] - bx)
        natural_y = np.array([-math.sin(psi), math.cos(psi), 0.0])
        a = _flat(axis)
        y = np.array([-a[1], a[0], 0.0])
        if y @ natural_y < 0:
            y = -y
        x = np.array([0.0, 0.0, -1.0])
        return np.column_stack([x, y, np.cross(x, y)])

    def _arm_targets(self, side: str, intent: ArmIntent, q: np.ndarray) -> np.ndarray:
        if intent.pos is None:
            goal_q = np.asarray(robot.HOME_ARM)
        else:
            tcp, _ = self.ik.forward(self.env.data.qpos, side, q)
            delta = intent.pos - tcp
            n = np.linalg.norm(delta)
            target = intent.pos if n <= intent.step else tcp + delta * (intent.step / n)
            rot = self._tool_rot(side, intent.axis, intent.pos)
            goal_q = self.ik.solve(self.ik.data.qpos, side, target, rot)
        return q + np.clip(goal_q - q, -JOINT_STEP, JOINT_STEP)

    def _gripper(self, side: str) -> float:
        return float(np.mean(self.env.finger_positions(side)) / robot.FINGER_TRAVEL)

    def _block_axis(self, obj: str) -> np.ndarray:
        a = _flat(self.env.object_mat(obj)[:, 0])
        return a if a[0] >= 0 else -a

    def _cube_axis(self, obj: str, side: str) -> np.ndarray:
        """Cube face axis closest to the arm's radial direction (smallest wrist turn)."""
        mat = self.env.object_mat(obj)
        p = self.env.object_pos(obj)
        bx, by, _, _ = robot.ARM_BASES[side]
        radial = _flat(p - np.array([bx, by, 0.0]))
        cands = [_flat(mat[:, 0]), _flat(mat[:, 1])]
        return max(cands, key=lambda c: abs(c @ radial))

    def _held(self, side: str, obj: str) -> bool:
        """Held firmly: both pads touch and the fingers stopped closing."""
        if not self.env.held_by(side, obj):
            return False
        return self.env.data.ctrl[self.env._finger_act[side][0]] < 0.5 * robot.FINGER_TRAVEL

    def _placed(self, obj: str) -> bool:
        spec = next(o for o in self.env.task.objects if o.name == obj)
        p = self.env.object_pos(obj)
        zone = self.env.zone_center(spec.zone)
        return bool(np.linalg.norm(p[:2] - zone) < 0.6 * self.env.task.zone_radius(spec.zone)
                    and p[2] < self.env.task.rest_height)

    def _pick(self, side: str, grasp: np.ndarray, axis: np.ndarray) -> ArmIntent:
        """Approach from above, descend, close; back off and re-open after a missed grasp."""
        tcp = self.env.tcp_pos(side)
        pre = grasp + np.array([0.0, 0.0, PREGRASP_DZ])
        horiz = np.linalg.norm(tcp[:2] - grasp[:2])
        opening = self._gripper(side)
        if np.linalg.norm(tcp - grasp) < 0.012:
            if opening < 0.12:
                return ArmIntent(pre, axis, 1.0, SLOW_STEP)
            return ArmIntent(grasp, axis, 0.0, SLOW_STEP)
        if horiz < 0.01 and opening > 0.8:
            return ArmIntent(grasp, axis, 1.0, SLOW_STEP)
        if horiz > 0.03 and tcp[2] < pre[2] - 0.03:
            return ArmIntent(np.array([tcp[0], tcp[1], pre[2]]), axis, 1.0, FAST_STEP)
        return ArmIntent(pre, axis, 1.0, FAST_STEP)

    def _place(self, side: str, obj: str, goal_xy: np.ndarray, axis: np.ndarray) -> ArmIntent:
        """Carry ``obj`` above ``goal_xy``, lower it onto the table, open."""
        p = self.env.object_pos(obj)
        tcp = self.env.tcp_pos(side)
        halves = np.asarray(next(o.half for o in self.env.task.objects if o.name == obj))
        half = halves[2]
        # Lowest corner of the (possibly tilted in the grasp) object above the table.
        bottom = p[2] - float(np.abs(self.env.object_mat(obj)[2, :]) @ halves)
        off = tcp - p
        if np.linalg.norm(p[:2] - goal_xy) > 0.008:
            want = np.array([goal_xy[0], goal_xy[1], max(CARRY_HEIGHT, p[2])])
            if p[2] < CARRY_HEIGHT - 0.03 and np.linalg.norm(p[:2] - goal_xy) > 0.03:
                want = np.array([p[0], p[1], CARRY_HEIGHT])
            return ArmIntent(want + off, axis, 0.0, FAST_STEP)
        if p[2] > half + 0.006 and bottom > 0.004:
            return ArmIntent(np.array([goal_xy[0], goal_xy[1], half + 0.003]) + off, axis, 0.0,
                             SLOW_STEP)
        return ArmIntent(tcp, axis, 1.0, SLOW_STEP)

    def _retreat(self, side: str, obj_pos: np.ndarray) -> ArmIntent:
        tcp = self.env.tcp_pos(side)
        if np.linalg.norm(tcp[:2] - obj_pos[:2]) < 0.08 and tcp[2] < obj_pos[2] + 0.08:
            return ArmIntent(tcp + np.array([0.0, 0.0, 0.05]), _flat(self._tool_y(side)), 1.0,
                             FAST_STEP)
        return ArmIntent(None, None, 1.0)

    def _tool_y(self, side: str) -> np.ndarray:
        mat = self.env.data.site_xmat[self.env.tcp_site[side]].reshape(3, 3)
        y = mat[:, 1]
        return np.array([y[1], -y[0], 0.0])

    # --- task logic ------------------------------------------------------------------------

    def _intents(self):
        if self.env.task.name == 'handover':
            return self._intents_handover()
        return self._intents_sort()

    def _intents_handover(self):
        env = self.env
        p = env.object_pos('block')
        a = self._block_axis('block')
        zone = env.zone_center('zone')
        hl, hr = self._held('left', 'block'), self._held('right', 'block')
        ready_right = ArmIntent(np.array([0.14, 0.0, 0.26]), np.array([1.0, 0.0, 0.0]), 1.0)
        if self._placed('block') and not hl and not hr:
            return {'left': self._retreat('left', p), 'right': self._retreat('right', p)}
        if hl and hr:
            return {'left': ArmIntent(env.tcp_pos('left'), self._tool_y('left'), 1.0, SLOW_STEP),
                    'right': ArmIntent(env.tcp_pos('right'), self._tool_y('right'), 0.0,
                                       SLOW_STEP)}
        if hr:
            left = self._retreat('left', p)
            if np.linalg.norm(env.tcp_pos('left') - p) < 0.06:
                right = ArmIntent(env.tcp_pos('right'), self._tool_y('right'), 0.0, SLOW_STEP)
            else:
                right = self._place('right', 'block', zone, a)
            return {'left': left, 'right': right}
        if hl:
            off = env.tcp_pos('left') - p
            at_handover = np.linalg.norm(p - HANDOVER_POINT) < 0.02
            left = ArmIntent(HANDOVER_POINT + off, np.array([1.0, 0.0, 0.0]), 0.0,
                             SLOW_STEP if np.linalg.norm(p - HANDOVER_POINT) < 0.05 else FAST_STEP)
            if at_handover:
                grasp = p + HANDOVER_OFFSET * a + np.array([0.0, 0.0, GRASP_DZ])
                right = self._pick('right', grasp, a)
            else:
                right = ready_right
            return {'left': left, 'right': right}
        if p[0] < 0.0:
            grasp = p - HANDOVER_OFFSET * a + np.array([0.0, 0.0, GRASP_DZ])
            return {'left': self._pick('left', grasp, a), 'right': ready_right}
        grasp = p + np.array([0.0, 0.0, GRASP_DZ])
        return {'left': self._retreat('left', p), 'right': self._pick('right', grasp, a)}

    def _intents_sort(self):
        out = {}
        for side, obj in (('left', 'cube_red'), ('right', 'cube_blue')):
            p = self.env.object_pos(obj)
            zone = self.env.zone_center(next(o.zone for o in self.env.task.objects
                                             if o.name == obj))
            axis = self._cube_axis(obj, side)
            if self._held(side, obj):
                out[side] = self._place(side, obj, zone, axis)
            elif self._placed(obj):
                out[side] = self._retreat(side, p)
            else:
                out[side] = self._pick(side, p + np.array([0.0, 0.0, GRASP_DZ]), axis)
        return out

    def _phase_handover(self):
        env = self.env
        p = env.object_pos('block')
        hl, hr = self._held('left', 'block'), self._held('right', 'block')
        zone = env.zone_center('zone')
        if self._placed('block') and not hl and not hr:
            return 5, 0.0
        if hr and not hl:
            goal = np.array([zone[0], zone[1], 0.015])
            return 4, float(np.linalg.norm(p - goal))
        if hl and hr:
            return 3, float(1.0 - min(self._gripper('left'), 1.0)) * 0.1
        if hl:
            a = self._block_axis('block')
            if np.linalg.norm(p - HANDOVER_POINT) < 0.02:
                grasp = p + HANDOVER_OFFSET * a + np.array([0.0, 0.0, GRASP_DZ])
                return 2, float(np.linalg.norm(env.tcp_pos('right') - grasp))
            return 1, float(np.linalg.norm(p - HANDOVER_POINT))
        side = 'left' if p[0] < 0.0 else 'right'
        return 0, float(np.linalg.norm(env.tcp_pos(side) - p))

    def _phase_sort(self):
        total, dist = 0, 0.0
        for side, obj in (('left', 'cube_red'), ('right', 'cube_blue')):
            p = self.env.object_pos(obj)
            zone = self.env.zone_center(next(o.zone for o in self.env.task.objects
                                             if o.name == obj))
            if self._placed(obj) and not self._held(side, obj):
                total += 2
            elif self._held(side, obj):
                total += 1
                dist += float(np.linalg.norm(p - np.array([zone[0], zone[1], 0.0175])))
            else:
                dist += float(np.linalg.norm(self.env.tcp_pos(side) - p))
        return total, dist

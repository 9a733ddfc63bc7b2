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
The simulated operator's ROS side: a human supervisor's hands on the teleop devices.

A real operator watches the robot and, when it goes wrong, presses the takeover button (Joy/pedal),
drives with the leader arms and presses success/failure at the end. The simulated operator
(:class:`aloe_ros.sim.operator.SimulatedOperator`: stall, drop and deviation rules, scripted
expert) does exactly that through the same topics a human's devices publish:

- ``/teleop/leader_left/joint_states``, ``/teleop/leader_right/joint_states``: the leader arms.
  Outside an intervention they rest at the follower's pose (like gravity-compensated leaders
  kept near the follower); while in control they carry the expert's joint targets.
- ``/teleop/joy``: button ``takeover`` toggles takeover/handback, ``success``/``failure`` end
  the episode (the teleop node calls ``/aloe/end_episode``). Buttons are pressed for one message
  and released on the next, so the teleop node sees one rising edge per press.

It watches the true world state, so it lives in the sim process next to the physics: the sim
node calls :meth:`SimOperatorBridge.after_step` after every control step. It acts only while an
episode is open (``/aloe/episode_event``); a timeout is left to the recorder's
``max_episode_steps``.
"""

import dataclasses
from typing import Optional

import numpy as np
from sensor_msgs.msg import Joy, JointState

from aloe_msgs.msg import EpisodeEvent, InterventionState
from aloe_ros.learning.episode import OUTCOME_FAILURE, OUTCOME_NAMES, OUTCOME_SUCCESS
from aloe_ros.nodes.common import SENSOR_DATA, latched, reliable, sec_to_stamp
from aloe_ros.sim import robot
from aloe_ros.sim.expert import ScriptedExpert
from aloe_ros.sim.operator import OperatorConfig, SimulatedOperator


class SimOperatorBridge:
    """Publishes a simulated operator's device messages from inside the sim node."""

    def __init__(self, node, buttons=(0, 1, 2), cfg: Optional[OperatorConfig] = None,
                 lead_tolerance: float = 0.5):
        """
        Attach to ``node`` (the sim node); ``buttons``: Joy takeover, success, failure indices.

        ``lead_tolerance`` [rad]: how far the operator's leader arms may run ahead of the follower.
        A command needs a few ticks to go leader -> teleop -> executor -> robot. An expert that
        steps from the robot's last executed command waits for that command to come back each tick,
        and one that finds the arm lagging by more than its blocked-arm threshold (0.15 rad) steps
        from the measured pose again and again: through the graph it deadlocked, leader and arm at
        rest 0.06-0.16 rad apart, and every episode it took over timed out. Like a human, this
        operator moves its own leader arms smoothly (each command steps from its previous one) and
        treats the arm as blocked only when it lags by ``lead_tolerance`` or more. Measured without
        ROS on a delay line: operator success 1.00 at 3 and 5 ticks of delay (16 episodes each),
        against 0.88 / 0.94 for the former plan-ahead operator.
        """
        self.node = node
        self.takeover_button, self.success_button, self.failure_button = (int(b) for b in buttons)
        self.n_buttons = max(buttons) + 1
        self.lead_tolerance = float(lead_tolerance)
        self._leader: Optional[np.ndarray] = None
        # Through the graph a takeover costs alignment, blending and a few ticks of latency, so
        # this
        # operator hands back less eagerly than the in-process default and, after two takeovers,
        # finishes the episode itself (its success label is what gives the critic a reward).
        self.cfg = cfg or OperatorConfig(max_steps=2 ** 31, max_takeovers=2, min_takeover_steps=40)
        self.leader_pubs = {s: node.create_publisher(JointState, f'teleop/leader_{s}/joint_states',
                                                     SENSOR_DATA) for s in robot.SIDES}
        self.joy_pub = node.create_publisher(Joy, 'teleop/joy', reliable(10))
        node.create_subscription(EpisodeEvent, 'aloe/episode_event', self._on_event, latched(10))
        # Like a human looking at the intervention indicator: press takeover only when the teleop
        # node's state differs from what the operator wants (a toggle never gets out of step).
        node.create_subscription(InterventionState, 'aloe/intervention', self._on_intervention,
                                 latched(10))
        self.teleop_active = False
        self.teleop_aligning = False
        self._last_press_time = -1.0
        self.operator: Optional[SimulatedOperator] = None
        self.episode_id = ''
        self.in_control = False
        self.takeovers = 0
        self._pressed: Optional[int] = None

    def _on_intervention(self, msg: InterventionState) -> None:
        self.teleop_active = bool(msg.active)
        self.teleop_aligning = bool(msg.aligning)

    def _on_event(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_STARTED and msg.episode_id != self.episode_id:
            env = self.node.env
            intervene = bool(self.node.p.get('operator_intervenes', True))
            self.operator = SimulatedOperator(env, ScriptedExpert(env),
                                              dataclasses.replace(self.cfg, intervene=intervene))
            self.episode_id = msg.episode_id
            self.in_control = False
            self.takeovers = 0
            self.node.get_logger().info(f'sim operator watching episode {msg.episode_id}'
                                        + ('' if intervene
                                           else ' (operator-free: it will not take over)'))
        elif msg.event == EpisodeEvent.EVENT_ENDED and msg.episode_id == self.episode_id:
            self.operator = None
            self.in_control = False

    def _joy(self, stamp, button: Optional[int]) -> None:
        buttons = [0] * self.n_buttons
        if button is not None:
            buttons[button] = 1
        msg = Joy(buttons=buttons, axes=[])
        msg.header.stamp = stamp
        self.joy_pub.publish(msg)

    def _leaders(self, stamp, q: np.ndarray) -> None:
        for i, side in enumerate(robot.SIDES):
            msg = JointState(name=list(robot.SIDE_JOINT_NAMES[side]),
                             position=[float(v) for v in q[7 * i:7 * i + 7]])
            msg.header.stamp = stamp
            self.leader_pubs[side].publish(msg)

    def _press(self, stamp, sim_time: float, button: int) -> None:
        self._joy(stamp, button)
        self._pressed = button
        self._last_press_time = sim_time

    def after_step(self, sim_time: float, executed_action: np.ndarray) -> None:
        """Watch one control step and publish what the operator's hands do."""
        stamp = sec_to_stamp(sim_time)
        if self._pressed is not None:  # release last tick's button: one rising edge per press
            self._joy(stamp, None)
            self._pressed = None
        env = self.node.env
        op = self.operator
        decision = op.observe(env.observe(), executed_action) if op is not None else None
        want_control = bool(decision is not None and decision.takeover
                            and decision.command is not None
                            and decision.end is None)
        if want_control and not self.in_control:
            self.takeovers += 1
            self.node.get_logger().info(f'sim operator takes over: {decision.reason}')
        elif (self.in_control and not want_control and decision is not None
              and decision.end is None):
            self.node.get_logger().info(f'sim operator hands back: {decision.reason}')
        self.in_control = want_control
        # Leader arms: at the follower's pose unless driving (no jump at takeover), always
        # published.
        if want_control and self.teleop_active and not self.teleop_aligning:
            start = self._leader if self._leader is not None else env.proprio(np.float64)
            self._leader = op.expert.act(command=start, lead_tolerance=self.lead_tolerance)
            self._leaders(stamp, self._leader)
        else:
            self._leader = None
            self._leaders(stamp, env.proprio(np.float64))
        # let the teleop state catch up between presses
        settle = sim_time - self._last_press_time > 0.5
        if self._pressed is None and settle and want_control != self.teleop_active:
            self._press(stamp, sim_time, self.takeover_button)
        if decision is not None and decision.end is not None and self._pressed is None:
            buttons = {OUTCOME_SUCCESS: self.success_button, OUTCOME_FAILURE: self.failure_button}
            button = buttons.get(decision.end)
            if button is not None:
                self._press(stamp, sim_time, button)
                self.node.get_logger().info('sim operator ends the episode: '
                                            f'{OUTCOME_NAMES[decision.end]} '
                                            f'({decision.reason})')
                self.operator = None

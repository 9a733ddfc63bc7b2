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
Teleop node: maps leader arms / Joy / keyboard to interventions and human joint targets.

Thin shell around ``aloe_ros.station.teleop_core.TeleopCore`` (takeover, alignment, blending,
handback
and device-silence rules are documented there).

Subscribes: ``leader_topics`` (JointState per arm, sensor data), ``follower_topics`` (JointState
per arm, sensor data), ``/teleop/joy`` (Joy), ``/teleop/keyboard`` (std_msgs/String, one key).
Publishes: ``/aloe/intervention`` (InterventionState, latched) on every change and every
``feedback_period`` while aligning (leader_deviation feedback); ``/aloe/teleop_command``
(JointState, all joints, positions) every tick while the human drives; ``/aloe/safety_event``
once per cause; ``/diagnostics``.
Calls: ``/aloe/end_episode`` (EndEpisode) asynchronously on the success/failure/abort buttons/keys.

With ``robot_profile`` (``aloe_ros.station.command_mapping``) the arms are read as the executor
and the observation node read them: the profile gives the joint names, arms and follower topics
(its ``joint_states``), and each follower JointState is converted from the robot's joint names
and units into action names and units (the inverse of the command map); leader arms are read
through the profile's ``leaders`` (their topics and their own map, e.g. a smaller gripper), or,
when it has none, from ``leader_topics`` through their follower's map. Alignment tolerances,
deviation thresholds and the published commands are then in action units.
"""

import math
import sys
import time

from aloe_msgs.msg import InterventionState, SafetyEvent
from aloe_msgs.srv import EndEpisode
from rclpy.node import Node
from sensor_msgs.msg import JointState, Joy
from std_msgs.msg import String

from aloe_ros.station import teleop_core as tc
from aloe_ros.station.executor_core import DEFAULT_JOINT_NAMES
from aloe_ros.nodes.common import (COMMANDS, ConfigError, DiagnosticsPublisher, EVENTS, LATCHED,
                                   load_robot_profile, OncePerCause, ParamSpec, SENSOR_DATA,
                                   declare_parameters, differs_from_default, run_node)

#: Parameters a robot profile replaces (setting one of them with ``robot_profile`` is refused);
#: ``leader_topics`` too when the profile has ``leaders``.
PROFILE_REPLACES = ('joint_names', 'arms', 'follower_topics')
#: A pending EndEpisode request blocks new ones for at most this long [s] (a lost reply).
END_EPISODE_TIMEOUT = 5.0
_OUTCOME_NAMES = {tc.OUTCOME_SUCCESS: 'success', tc.OUTCOME_FAILURE: 'failure',
                  tc.OUTCOME_ABORTED: 'aborted'}


def parameter_specs():
    """Return the teleop node's parameters."""
    return [
        ParamSpec('rate', 50.0, 'command publish rate [Hz]', min=1.0, max=1000.0, read_only=True),
        ParamSpec('joint_names', list(DEFAULT_JOINT_NAMES),
                  'joints of both arms, named <arm>_<joint>',
                  read_only=True, allow_empty=False),
        ParamSpec('arms', ['left', 'right'], 'arm prefixes', read_only=True, allow_empty=False),
        ParamSpec('leader_topics', ['teleop/leader_left/joint_states',
                                    'teleop/leader_right/joint_states'],
                  'leader arm JointState topic per arm', length_of='arms', read_only=True),
        ParamSpec('follower_topics', ['follower_left/joint_states',
                                      'follower_right/joint_states'],
                  'follower arm JointState topic per arm', length_of='arms', read_only=True),
        ParamSpec('robot_profile', '',
                  'robot profile YAML (config/robots/): follower (joint_states) and leader '
                  '(leaders) topics, joint names and unit conversion per arm; replaces '
                  'joint_names, arms, follower_topics and, when the profile has leaders, '
                  'leader_topics (empty: those parameters, arms in action units)',
                  read_only=True),
        ParamSpec('joy_topic', 'teleop/joy', 'sensor_msgs/Joy topic (gamepad, SpaceMouse, pedal)',
                  read_only=True),
        ParamSpec('keyboard_topic', 'teleop/keyboard',
                  'std_msgs/String topic, one key per message',
                  read_only=True),
        ParamSpec('command_device', 'leader', 'leader: follow the leader arms; joy: Joy axes move '
                  'targets incrementally', choices=['leader', 'joy'], read_only=True),
        ParamSpec('align_tolerance', 0.1,
                  'takeover completes when max|leader - follower| is below [rad]',
                  min=0.001, max=3.0),
        ParamSpec('align_timeout', 20.0, 'cancel a takeover not aligned within [s]', min=0.1,
                  max=600.0),
        ParamSpec('blend_ticks', 10,
                  'ticks to blend from the follower pose to the leader after aligning',
                  min=1, max=1000),
        ParamSpec('deviation_threshold', 0.0,
                  'take over when the tracking leader deviates from the '
                  'follower by more than this [rad]; 0 disables', min=0.0, max=3.0),
        ParamSpec('device_timeout', 0.5,
                  'device silent for this long during an intervention stops '
                  'commands [s]', min=0.01, max=10.0),
        ParamSpec('buttons.takeover', 0, 'Joy button: takeover/handback toggle (-1 none)', min=-1,
                  max=255),
        ParamSpec('buttons.success', 1, 'Joy button: end episode with success (-1 none)', min=-1,
                  max=255),
        ParamSpec('buttons.failure', 2, 'Joy button: end episode with failure (-1 none)', min=-1,
                  max=255),
        ParamSpec('buttons.abort', 3, 'Joy button: abort episode (-1 none)', min=-1, max=255),
        ParamSpec('buttons.pedal', -1,
                  'Joy button of a foot pedal: takeover/handback toggle (-1 none)',
                  min=-1, max=255),
        ParamSpec('axes.joints', [], "joint moved by each Joy axis ('' = unused)",
                  kind='string_array'),
        ParamSpec('axes.scales', [], 'velocity per unit axis deflection [rad/s]',
                  kind='double_array',
                  length_of='axes.joints'),
        ParamSpec('axes.deadzone', 0.1, 'axis deflections below are ignored', min=0.0, max=1.0),
        ParamSpec('keys.takeover', ['t', ' '], 'keys that toggle takeover', kind='string_array'),
        ParamSpec('keys.success', ['s'], 'keys that end the episode with success',
                  kind='string_array'),
        ParamSpec('keys.failure', ['f'], 'keys that end the episode with failure',
                  kind='string_array'),
        ParamSpec('keys.abort', ['a', 'q'], 'keys that abort the episode', kind='string_array'),
        ParamSpec('feedback_period', 0.1, 'InterventionState period while aligning [s]', min=0.01,
                  max=10.0),
        ParamSpec('end_episode_service', 'aloe/end_episode', 'EndEpisode service',
                  read_only=True),
        ParamSpec('end_debounce', 1.0,
                  'at most one end-episode request per this many seconds; more '
                  'presses are counted and ignored', min=0.0, max=60.0, read_only=True),
    ]


#: Parameter name -> default, for static launch-file checks (``use_sim_time`` comes from rclpy).
PARAMETERS = {'use_sim_time': False, **{spec.name: spec.default for spec in parameter_specs()}}


class TeleopNode(Node):
    """ROS shell of TeleopCore."""

    def __init__(self, **kwargs):
        """Declare parameters, build the core, create interfaces and the tick timer."""
        super().__init__('teleop', **kwargs)
        p = declare_parameters(self, parameter_specs(), on_change=self._on_param)
        self.p = p
        self.dt = 1.0 / p['rate']
        self.profile = load_robot_profile(p, parameter_specs(), PROFILE_REPLACES)
        if self.profile is not None:
            self._apply_profile(p)
        try:
            self.core = tc.TeleopCore(tc.TeleopConfig(
                joint_names=p['joint_names'], arms=p['arms'], command_device=p['command_device'],
                dt=self.dt, align_tolerance=p['align_tolerance'], align_timeout=p['align_timeout'],
                blend_ticks=p['blend_ticks'], deviation_threshold=p['deviation_threshold'],
                device_timeout=p['device_timeout'], takeover_button=p['buttons.takeover'],
                success_button=p['buttons.success'], failure_button=p['buttons.failure'],
                abort_button=p['buttons.abort'], pedal_button=p['buttons.pedal'],
                axis_joints=p['axes.joints'], axis_scales=p['axes.scales'],
                axis_deadzone=p['axes.deadzone'], takeover_keys=p['keys.takeover'],
                success_keys=p['keys.success'], failure_keys=p['keys.failure'],
                abort_keys=p['keys.abort'],
                end_debounce=p['end_debounce']))
        except ValueError as exc:
            raise ConfigError('axes.joints' if 'axis' in str(exc) else 'arms', str(exc)) from exc
        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('rejected', 'takeovers', 'handbacks', 'commands', 'end_episode_calls',
                          'end_episode_failed', 'end_episode_debounced', 'device_silent')
        self._end_in_flight = False
        self._end_sent = -math.inf
        self.once = OncePerCause(self.get_logger())
        self.intervention_pub = self.create_publisher(InterventionState, 'aloe/intervention',
                                                      LATCHED)
        self.command_pub = self.create_publisher(JointState, 'aloe/teleop_command', COMMANDS)
        self.safety_pub = self.create_publisher(SafetyEvent, 'aloe/safety_event', EVENTS)
        for arm, topic in zip(p['arms'], p['leader_topics']):
            self.create_subscription(JointState, topic, lambda m, a=arm: self._on_leader(a, m),
                                     SENSOR_DATA)
        for arm, topic in zip(p['arms'], p['follower_topics']):
            self.create_subscription(JointState, topic, lambda m, a=arm: self._on_follower(a, m),
                                     SENSOR_DATA)
        self.create_subscription(Joy, p['joy_topic'], self._on_joy, COMMANDS)
        self.create_subscription(String, p['keyboard_topic'], self._on_key, COMMANDS)
        self.end_client = self.create_client(EndEpisode, p['end_episode_service'])
        self._last_feedback = 0.0
        self._was_active = False
        self._publish_intervention()  # late joiners learn that nobody intervenes
        self.timer = self.create_timer(self.dt, self._tick)
        self.get_logger().info(
            f'teleop: device {p["command_device"]}, takeover by Joy button '
            f'{p["buttons.takeover"]}, pedal '
            f'{p["buttons.pedal"]}, keys {list(p["keys.takeover"])}'
            + (f', leader deviation > {p["deviation_threshold"]} rad'
               if p['deviation_threshold'] > 0 else '')
            + ('; no jump: takeover waits until the leader is aligned, then blends'
               if p['command_device'] == 'leader' else '; joy targets start at the follower pose'))

    def _apply_profile(self, p) -> None:
        """Take the arms, joint names and topics from the profile (see the module docstring)."""
        profile = self.profile
        if profile.leaders:
            default = next(s.default for s in parameter_specs() if s.name == 'leader_topics')
            if differs_from_default(p['leader_topics'], default):
                raise ConfigError('robot_profile', 'the profile has leaders, so it replaces '
                                                   "['leader_topics']: set them in the profile "
                                                   f'{p["robot_profile"]}, not as parameters')
            p['leader_topics'] = [next(s.topic for s in profile.leaders if s.arm == a)
                                  for a in profile.arms]
        elif len(p['leader_topics']) != len(profile.arms):
            raise ConfigError('leader_topics', f'{len(p["leader_topics"])} topics for the '
                                               f'profile\'s {len(profile.arms)} arms')
        p.update(joint_names=profile.action_names, arms=profile.arms,
                 follower_topics=[profile.sources[profile.source_for_arm(a)].topic
                                  for a in profile.arms])

    def _leader_fields(self, arm: str, msg: JointState):
        """Return a leader JointState's (names, positions) in action names and units."""
        if self.profile is None:
            return list(msg.name), msg.position
        return self.profile.leader_to_action(arm, list(msg.name), msg.position)

    def _follower_fields(self, arm: str, msg: JointState):
        """Return a follower JointState's (names, positions) in action names and units."""
        if self.profile is None:
            return list(msg.name), msg.position
        names, position, _ = self.profile.state_to_action(self.profile.source_for_arm(arm),
                                                          list(msg.name), msg.position, ())
        return names, position

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_param(self, name, value):
        attr = {'align_tolerance': 'align_tolerance', 'align_timeout': 'align_timeout',
                'blend_ticks': 'blend_ticks', 'deviation_threshold': 'deviation_threshold',
                'device_timeout': 'device_timeout', 'axes.deadzone': 'axis_deadzone'}.get(name)
        if attr is not None:
            setattr(self.core.config, attr, value)

    def _guard(self, source: str, fn) -> None:
        try:
            fn()
        except (ValueError, FloatingPointError) as exc:
            self.diag.count('rejected')
            self.diag.count(f'rejected_{source}')
            if self.once.report(source, f'{exc}: rejected (logged once per source)'):
                self._safety(SafetyEvent.LEVEL_WARN, SafetyEvent.KIND_REJECTED_INPUT,
                             f'{exc}: rejected')

    def _on_leader(self, arm: str, msg: JointState) -> None:
        self._guard(f'leader_{arm}',
                    lambda: self.core.on_leader(arm, *self._leader_fields(arm, msg), self._now()))

    def _on_follower(self, arm: str, msg: JointState) -> None:
        self._guard(f'follower_{arm}',
                    lambda: self.core.on_follower(arm, *self._follower_fields(arm, msg)))

    def _on_joy(self, msg: Joy) -> None:
        self._guard('joy',
                    lambda: self.core.on_joy(list(msg.buttons), list(msg.axes), self._now()))

    def _on_key(self, msg: String) -> None:
        self.core.on_key(msg.data, self._now())

    def _safety(self, level: int, kind: int, message: str) -> None:
        msg = SafetyEvent(level=level, kind=kind, node=self.get_fully_qualified_name(),
                          message=message)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.safety_pub.publish(msg)

    def _publish_intervention(self) -> None:
        core = self.core
        deviation = core.deviation()
        msg = InterventionState(active=core.active, trigger=core.trigger, device=core.device,
                                reason=core.reason, aligning=core.aligning or core.silent,
                                leader_deviation=deviation if deviation != float('inf') else -1.0)
        msg.header.stamp = self.get_clock().now().to_msg()
        self.intervention_pub.publish(msg)

    def _end_episode(self, outcome: int) -> None:
        name = _OUTCOME_NAMES[outcome]
        if self._end_in_flight and time.monotonic() - self._end_sent < END_EPISODE_TIMEOUT:
            # One request at a time: the press that made the pending one is being answered.
            self.diag.count('end_episode_debounced')
            return
        if not self.end_client.service_is_ready():
            self.diag.count('end_episode_failed')
            service = self.p['end_episode_service']
            self.get_logger().warning(f'operator ended the episode ({name}) but {service} is not '
                                      'available: '
                                      'not recorded')
            return
        self.diag.count('end_episode_calls')
        future = self.end_client.call_async(
            EndEpisode.Request(outcome=outcome, reason=f'operator: {name}'))
        self._end_in_flight, self._end_sent = True, time.monotonic()
        future.add_done_callback(lambda f, n=name: self._on_end_done(f, n))
        self.get_logger().info(f'operator ended the episode: {name}')

    def _on_end_done(self, future, name: str) -> None:
        self._end_in_flight = False
        result = future.result()
        if result is None or not result.success:
            self.diag.count('end_episode_failed')
            why = 'no response' if result is None else result.message
            self.once.emit('end_episode', 'warn', f'end_episode ({name}) refused: {why}')
        else:
            self.get_logger().info(f'episode {result.episode_id} ended ({name}), '
                                   f'{result.num_steps} steps')

    def _tick(self) -> None:
        now = self._now()
        out = self.core.tick(now)
        for note in out.notes:
            if note.level == tc.LEVEL_ERROR:
                self.get_logger().error(note.message)
                self.diag.count('device_silent')
            elif note.level == tc.LEVEL_WARN:
                self.get_logger().warning(note.message)
            else:
                self.get_logger().info(note.message)
            self._safety(note.level, note.kind, note.message)
        if out.intervention_changed:
            if self.core.active and not self._was_active:
                self.diag.count('takeovers')
                self.get_logger().info(f'intervention started by {self.core.device}: '
                                       f'{self.core.reason}')
            elif not self.core.active and self._was_active:
                self.diag.count('handbacks')
                self.get_logger().info(f'intervention ended: {self.core.reason}')
            self._was_active = self.core.active
            self._publish_intervention()
            self._last_feedback = now
        elif self.core.aligning and now - self._last_feedback >= self.p['feedback_period']:
            self._publish_intervention()
            self._last_feedback = now
        if out.command is not None:
            msg = JointState(name=self.core.joint_names, position=out.command.tolist())
            msg.header.stamp = self.get_clock().now().to_msg()
            self.command_pub.publish(msg)
            self.diag.count('commands')
        for outcome in out.outcomes:
            self._end_episode(outcome)
        self.diag.set('end_presses_debounced', self.core.debounced)
        self.diag.set('state', out.state + (' (device silent)' if self.core.silent else ''))
        dev = self.core.deviation()
        self.diag.set('leader_deviation', dev if dev != float('inf') else -1.0)


def main(args=None):
    """Run the teleop node."""
    sys.exit(run_node(TeleopNode, args))


if __name__ == '__main__':
    main()

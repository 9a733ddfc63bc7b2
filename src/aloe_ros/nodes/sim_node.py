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
aloe_sim: the MuJoCo bimanual station as a ROS 2 node (thin shell over :mod:`aloe_ros.sim`).

Publishes what the real robot's drivers publish, stamped with the simulation's own time:
``/follower_{left,right}/joint_states`` (7 names, gripper normalised), ``/joint_states`` (all URDF
joints, finger joints in m), ``/<cam>/image_raw`` (rgb8, at ``camera_rate_hz`` of sim time)
with ``/<cam>/camera_info`` (CameraInfo of the rendering pinhole camera, same stamp and URDF
optical frame),
``/clock``, ``/sim/success``, ``/sim/object_poses`` (world frame, task object order),
``/sim/task_state`` (aloe_msgs/TaskState: object poses and zone centres, the state a tracker would
give; the observation node's ``task_state_topic``), and
``/diagnostics`` at 1 Hz (sim time, measured real-time factor and rates, rejected commands by
cause).

Takes the real robot's commands, by ``command_interface``: ``trajectory`` ->
``/{left,right}_arm_controller/joint_trajectory`` (JointTrajectory, played from arrival,
``time_from_start`` relative to it); ``forward`` -> ``/{left,right}_arm_controller/commands``
(Float64MultiArray, 7 values). A command with a wrong joint count, unknown joint names, NaN/Inf
or values beyond the joint limits is rejected (one log line per cause until a good command
arrives, counted in diagnostics) and the arm keeps its last accepted target.

Service ``/sim/reset`` (aloe_msgs/ResetScene): new seed (or the next of the sequence) and task.
A reset while an episode is open (EVENT_STARTED without EVENT_ENDED on ``/aloe/episode_event``)
is refused: end the episode first, so no episode spans two scenes. The loaded task is published
on ``/sim/task`` (std_msgs/String, latched) at start and after every reset, and with it the
task's language instruction on ``/sim/task_instruction`` (diagnostic_msgs/KeyValue, latched: key
the task name, value its instruction); the recorder labels episodes with both.
The sim advances ``real_time_factor`` times faster than the wall clock (catching up at most
``max_catchup_steps`` per timer tick, so an overloaded machine slows the sim down instead of
bursting).
"""

import sys
import time
from typing import Dict, Optional

from aloe_msgs.msg import EpisodeEvent, TaskState
from aloe_msgs.srv import ResetScene
from diagnostic_msgs.msg import KeyValue
from geometry_msgs.msg import Pose, PoseArray
import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory

from aloe_ros.nodes.common import (COMMANDS, DiagnosticsPublisher, LATCHED, latched, OncePerCause,
                                   ParamSpec,
                                   SENSOR_DATA, declare_parameters, reliable, run_node,
                                   sec_to_stamp)
from aloe_ros.sim import robot
from aloe_ros.sim.commands import CommandRejected, TrajectoryPlayer, check_positions
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.sim.tasks import task_names
from aloe_ros.station import camera_info

PARAMS = (
    ParamSpec('task', 'handover', 'Task loaded at start (a /sim/reset may change it).',
              choices=tuple(task_names())),
    ParamSpec('seed', 0,
              'Seed of the first episode; later resets without a seed count up from it.',
              min=0, max=2 ** 31 - 1),
    ParamSpec('real_time_factor', 1.0, 'Sim seconds per wall-clock second.', min=0.01, max=100.0),
    ParamSpec('camera_rate_hz', 30.0, 'Camera publishing rate in sim time (0 = no images).',
              min=0.0, max=50.0),
    ParamSpec('image_height', 480, 'Published image height (px).', min=8, max=2160,
              read_only=True),
    ParamSpec('image_width', 640, 'Published image width (px).', min=8, max=3840, read_only=True),
    ParamSpec('cameras', list(robot.CAMERAS), 'Cameras to render and publish.', read_only=True,
              check=lambda v: None if set(v) <= set(robot.CAMERAS) else
              f'unknown camera in {v}; known: {list(robot.CAMERAS)}'),
    ParamSpec('command_interface', 'trajectory',
              'Command topics to accept: trajectory (joint_trajectory_controller) or forward '
              '(forward_command_controller).', choices=('trajectory', 'forward'), read_only=True),
    ParamSpec('limit_tolerance', 1e-3,
              'Allowed excess over a joint limit before a command is rejected '
              '(rad, or normalised gripper).', min=0.0, max=0.1),
    ParamSpec('max_catchup_steps', 5, 'Most control steps run in one timer tick when behind.',
              min=1, max=100),
    ParamSpec('fast_render', True, 'Render without shadows and reflections (much cheaper on CPU).',
              read_only=True),
    ParamSpec('operator', False,
              'Run the simulated operator: it watches each episode and drives the '
              'teleop topics (leader arms, Joy) like a human supervisor.', read_only=True),
    ParamSpec('operator_buttons', [0, 1, 2], 'Joy button indices the simulated operator presses: '
              'takeover toggle, success, failure (match the teleop node\'s buttons.*).',
              read_only=True,
              length=3, min=0, max=63),
    ParamSpec('operator_intervenes', True,
              'Whether the simulated operator takes over when the policy goes '
              'wrong; false = it only watches and labels the outcome (operator-free evaluation '
              'episodes). '
              'Read at each episode start.'),
    ParamSpec('operator_lead_tolerance', 0.5,
              'How far [rad] the simulated operator\'s leader arms may run '
              'ahead of the follower before it treats an arm as blocked (it steps its leader from '
              'its own '
              'last command, so teleop latency does not stall it).', min=0.05, max=3.0,
              read_only=True),
)
PARAMETERS = {'use_sim_time': False, **{spec.name: spec.default for spec in PARAMS}}


class SimNode(Node):
    """The simulated station; see the module docstring."""

    def __init__(self):
        super().__init__('aloe_sim')
        self.p = declare_parameters(self, PARAMS)
        self.log_once = OncePerCause(self.get_logger())
        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('control_steps', 'images_published', 'rejected_commands')
        self._next_seed = int(self.p['seed'])
        self.env: Optional[BimanualEnv] = None
        # The published clock never goes back: each reset continues from the previous episode's
        # time,
        # so stamp-checking nodes (observation, executor) see a monotonic sim time across episodes.
        self._t_offset = 0.0
        self._last_accepted: Dict[str, np.ndarray] = {}   # last accepted target per arm
        self._load(self.p['task'], self._take_seed(-1))
        self.pub_side = {
            s: self.create_publisher(JointState, f'follower_{s}/joint_states', SENSOR_DATA)
            for s in robot.SIDES}
        self.pub_joints = self.create_publisher(JointState, 'joint_states', reliable(10))
        self.pub_images = {c: self.create_publisher(Image, f'{c}/image_raw', SENSOR_DATA)
                           for c in self.p['cameras']}
        self._frame_ids = {c: robot.camera_frame_id(c) for c in self.p['cameras']}
        self.pub_infos = {c: self.create_publisher(CameraInfo, f'{c}/camera_info', SENSOR_DATA)
                          for c in self.p['cameras']}
        self._infos = {c: camera_info.fill_msg(camera_info.pinhole_from_fovy(
            self.p['image_width'], self.p['image_height'], robot.CAMERA_FOVY_DEG[c]),
            CameraInfo(), self._frame_ids[c]) for c in self.p['cameras']}
        self.pub_clock = self.create_publisher(Clock, 'clock', reliable(10))
        self.pub_success = self.create_publisher(Bool, 'sim/success', reliable(10))
        self.pub_poses = self.create_publisher(PoseArray, 'sim/object_poses', reliable(1))
        self.pub_task_state = self.create_publisher(TaskState, 'sim/task_state', SENSOR_DATA)
        for side in robot.SIDES:
            if self.p['command_interface'] == 'trajectory':
                self.create_subscription(JointTrajectory,
                                         f'{side}_arm_controller/joint_trajectory',
                                         lambda m, s=side: self._on_trajectory(s, m), COMMANDS)
            else:
                self.create_subscription(Float64MultiArray, f'{side}_arm_controller/commands',
                                         lambda m, s=side: self._on_forward(s, m), COMMANDS)
        self.pub_task = self.create_publisher(String, 'sim/task', latched(1))
        self.pub_instruction = self.create_publisher(KeyValue, 'sim/task_instruction', latched(1))
        self._publish_task()
        self._open_episode = ''
        self.create_subscription(EpisodeEvent, 'aloe/episode_event', self._on_episode, LATCHED)
        self.create_service(ResetScene, 'sim/reset', self._on_reset)
        self.operator = None
        if self.p['operator']:
            from aloe_ros.nodes.sim_operator import SimOperatorBridge
            self.operator = SimOperatorBridge(self, buttons=tuple(self.p['operator_buttons']),
                                              lead_tolerance=self.p['operator_lead_tolerance'])
        self._wall0 = time.monotonic()
        self._steps_since_start = 0
        self._rtf_window = (time.monotonic(), 0)
        period = max(self.env.control_dt / self.p['real_time_factor'], 0.002)
        self.create_timer(period, self._tick)
        self.create_timer(1.0, self._update_diagnostics)
        self.get_logger().info(
            f"sim up: task {self.env.task.name}, seed {self.env.seed}, "
            f"x{self.p['real_time_factor']:g} real "
            f"time, {self.p['command_interface']} commands, cameras {self.p['cameras']} at "
            f"{self.p['camera_rate_hz']:g} Hz ({self.p['image_height']}x{self.p['image_width']})")

    # --- scene ------------------------------------------------------------------------------

    def _take_seed(self, seed: int) -> int:
        if seed < 0:
            seed = self._next_seed
        self._next_seed = seed + 1
        return seed

    def sim_time(self) -> float:
        """Return the published (monotonic) sim time [s]."""
        return self._t_offset + self.env.data.time

    def _load(self, task: str, seed: int) -> None:
        if self.env is not None:
            self._t_offset += self.env.data.time + self.env.control_dt
        if self.env is None or self.env.task.name != task:
            if self.env is not None:
                self.env.close()
            self.env = BimanualEnv(task,
                                   image_size=(self.p['image_height'], self.p['image_width']),
                                   cameras=(), seed=seed, max_steps=2 ** 62,
                                   fast_render=self.p['fast_render'])
        self.env.reset(seed)
        self._task_state_names = self.env.privileged_state_names()
        self.target = np.asarray(robot.home_action(), dtype=np.float64)
        self.players: Dict[str, Optional[TrajectoryPlayer]] = {s: None for s in robot.SIDES}
        self._stale_after_reset: Dict[str, Optional[np.ndarray]] = {s: None for s in robot.SIDES}
        self._next_image_time = self.env.data.time

    def _on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_STARTED:
            self._open_episode = msg.episode_id
        elif msg.event == EpisodeEvent.EVENT_ENDED and msg.episode_id == self._open_episode:
            self._open_episode = ''

    def _publish_task(self) -> None:
        """Publish the loaded task's name and, paired with it, its language instruction."""
        task = self.env.task
        # Instruction first: whoever sees the new name already has its instruction.
        self.pub_instruction.publish(KeyValue(key=task.name, value=task.instruction))
        self.pub_task.publish(String(data=task.name))

    def _on_reset(self, request, response):
        if self._open_episode:
            response.success = False
            response.message = (f'episode {self._open_episode} is open: end it '
                                '(/aloe/end_episode) before '
                                'resetting the scene')
            response.seed = -1
            self.diag.count('resets_refused')
            self.get_logger().warning(f'/sim/reset refused: {response.message}')
            return response
        task = request.task or self.env.task.name
        if task not in task_names():
            response.success = False
            response.message = f'unknown task {task!r}; known: {task_names()}'
            response.seed = -1
            self.get_logger().warning(f'/sim/reset refused: {response.message}')
            return response
        seed = self._take_seed(int(request.seed))
        self._load(task, seed)
        # The executor keeps publishing its hold target (the last episode's end pose) until the
        # next
        # episode starts; that stale target would pull the teleported arms straight back.
        self._stale_after_reset = {s: self._last_accepted.get(s) for s in robot.SIDES}
        self._publish_task()
        response.success = True
        response.seed = seed
        response.message = f'task {task}, seed {seed}'
        self.get_logger().info(f'reset: {response.message}')
        return response

    # --- commands ---------------------------------------------------------------------------

    def _reject(self, side: str, exc: CommandRejected) -> None:
        self.diag.count('rejected_commands')
        self.diag.count(f'rejected_{exc.reason}')
        self.log_once.report(f'{side}:{exc.reason}',
                             f'rejected command: {exc}; {side} arm holds its last '
                             'accepted target')

    def _accepted(self, side: str) -> None:
        for cause in [c for c in self.log_once.active if c.startswith(f'{side}:')]:
            self.log_once.clear(cause, f'{side} arm: commands accepted again')

    def _synced(self, side: str, first: np.ndarray, last: np.ndarray) -> bool:
        """After a reset: ignore the arm's pre-reset target, repeated, until a new one comes."""
        stale = self._stale_after_reset.get(side)
        if stale is not None and float(np.max(np.abs(
                np.asarray(first, dtype=np.float64) - stale))) < 1e-6:
            self.diag.count('ignored_after_reset')
            self.log_once.report(f'{side}:after_reset',
                                 f'{side} arm: ignoring its pre-reset target, '
                                 'held by the executor, until a new command arrives')
            return False
        self._stale_after_reset[side] = None
        self._last_accepted[side] = np.asarray(last, dtype=np.float64).copy()
        return True

    def _on_forward(self, side: str, msg: Float64MultiArray) -> None:
        try:
            values = check_positions(side, list(msg.data), self.p['limit_tolerance'])
        except CommandRejected as exc:
            self._reject(side, exc)
            return
        if not self._synced(side, values, values):
            return
        i = robot.SIDES.index(side)
        self.players[side] = None
        self.target[7 * i:7 * i + 7] = values
        self._accepted(side)

    def _on_trajectory(self, side: str, msg: JointTrajectory) -> None:
        i = robot.SIDES.index(side)
        points = [(p.time_from_start.sec + p.time_from_start.nanosec * 1e-9, list(p.positions))
                  for p in msg.points]
        try:
            player = TrajectoryPlayer.from_points(
                side, self.env.data.time, self.target[7 * i:7 * i + 7], list(msg.joint_names),
                points, self.p['limit_tolerance'])
        except CommandRejected as exc:
            self._reject(side, exc)
            return
        if not self._synced(side, player.points[1], player.points[-1]):
            return
        self.players[side] = player
        self._accepted(side)

    # --- stepping and publishing ------------------------------------------------------------

    def _tick(self) -> None:
        try:
            self._advance()
        except Exception:
            # SIGINT/SIGTERM shut the context down under a running tick: publishing then fails,
            # and the node is going away anyway. Anything else is a real error.
            if self.context.ok():
                raise

    def _advance(self) -> None:
        """Step the sim as far as the wall clock (times the real-time factor) asks, and publish."""
        env = self.env
        owed = int((time.monotonic() - self._wall0) * self.p['real_time_factor'] / env.control_dt)
        n = min(owed - self._steps_since_start, self.p['max_catchup_steps'])
        if owed - self._steps_since_start > self.p['max_catchup_steps']:
            # Too far behind to catch up: slow the sim down rather than burst.
            self._wall0 = time.monotonic() - (self._steps_since_start + n) * env.control_dt \
                / self.p['real_time_factor']
        for _ in range(max(n, 0)):
            for i, side in enumerate(robot.SIDES):
                player = self.players[side]
                if player is not None:
                    self.target[7 * i:7 * i + 7] = player.sample(env.data.time)
            env.step(self.target)
            if self.operator is not None:
                self.operator.after_step(self.sim_time(), self.target.copy())
            self._steps_since_start += 1
            self.diag.count('control_steps')
            self._publish_state()
        rate = self.p['camera_rate_hz']
        due = env.data.time + 1e-9 >= self._next_image_time
        if n > 0 and rate > 0.0 and self.pub_images and due:
            self._next_image_time = max(self._next_image_time + 1.0 / rate, env.data.time)
            self._publish_images()

    def _publish_state(self) -> None:
        env = self.env
        stamp = sec_to_stamp(self.sim_time())
        self.pub_clock.publish(Clock(clock=stamp))
        q = env.proprio(np.float64)
        names, pos, vel = [], [], []
        for i, side in enumerate(robot.SIDES):
            msg = JointState()
            msg.header.stamp = stamp
            msg.name = list(robot.SIDE_JOINT_NAMES[side])
            msg.position = q[7 * i:7 * i + 7].tolist()
            arm_vel = env.arm_velocities(side).tolist()
            finger_vel = env.finger_velocities(side)
            msg.velocity = arm_vel + [float(np.mean(finger_vel)) / robot.FINGER_TRAVEL]
            self.pub_side[side].publish(msg)
            fingers = env.finger_positions(side)
            names += list(robot.ARM_JOINT_NAMES[side]) + list(robot.FINGER_JOINT_NAMES[side])
            pos += q[7 * i:7 * i + 6].tolist() + fingers.tolist()
            vel += arm_vel + finger_vel.tolist()
        joints = JointState(name=names, position=pos, velocity=vel)
        joints.header.stamp = stamp
        self.pub_joints.publish(joints)
        self.pub_success.publish(Bool(data=bool(env.success())))
        poses = PoseArray()
        poses.header.stamp = stamp
        poses.header.frame_id = 'world'
        for o in env.task.objects:
            p, qt = env.object_pos(o.name), env.object_quat(o.name)
            pose = Pose()
            pose.position.x, pose.position.y, pose.position.z = (float(v) for v in p)
            pose.orientation.w, pose.orientation.x, pose.orientation.y, pose.orientation.z = \
                (float(v) for v in qt)
            poses.poses.append(pose)
        self.pub_poses.publish(poses)
        state = TaskState(names=self._task_state_names,
                          values=env.privileged_state().astype(np.float64).tolist())
        state.header.stamp = stamp
        state.header.frame_id = 'world'
        self.pub_task_state.publish(state)

    def _publish_images(self) -> None:
        env = self.env
        stamp = sec_to_stamp(self.sim_time())
        h, w = self.p['image_height'], self.p['image_width']
        for cam, pub in self.pub_images.items():
            img = env.render(cam, h, w)
            msg = Image(height=h, width=w, encoding='rgb8', is_bigendian=0, step=w * 3)
            msg.header.stamp = stamp
            msg.header.frame_id = self._frame_ids[cam]
            msg.data = img.tobytes()
            pub.publish(msg)
            info = self._infos[cam]
            info.header.stamp = stamp
            self.pub_infos[cam].publish(info)
            self.diag.count('images_published')

    def _update_diagnostics(self) -> None:
        now = time.monotonic()
        t_prev, steps_prev = self._rtf_window
        rtf = (self._steps_since_start
               - steps_prev) * self.env.control_dt / max(now - t_prev, 1e-6)
        self._rtf_window = (now, self._steps_since_start)
        d = self.diag
        d.set('sim_time', float(self.sim_time()))
        d.set('real_time_factor_target', float(self.p['real_time_factor']))
        d.set('real_time_factor', float(rtf))
        d.set('task', self.env.task.name)
        d.set('seed', self.env.seed)
        d.set('success', bool(self.env.success()))
        d.set('command_interface', self.p['command_interface'])
        if rtf < 0.8 * self.p['real_time_factor']:
            d.set_status(d.WARN, f'sim runs at x{rtf:.2f} real time, below the '
                                 f'x{self.p["real_time_factor"]:g} asked (machine too slow: lower '
                                 'camera_rate_hz or image size)')
        elif self.log_once.active:
            d.set_status(d.WARN, 'rejecting commands: ' + '; '.join(self.log_once.active.values()))
        else:
            d.set_status(d.OK, 'running')


def main(args=None) -> None:
    """Run the sim node until Ctrl-C / SIGTERM; exit 2 on invalid parameters."""
    sys.exit(run_node(SimNode, args))


if __name__ == '__main__':
    main()

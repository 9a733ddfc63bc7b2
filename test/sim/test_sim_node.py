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

"""The real sim node in a subprocess: publishes, moves on good commands, survives bad ones."""

import math
import os
import signal
import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy')

from aloe_msgs.msg import TaskState  # noqa: E402
from builtin_interfaces.msg import Duration  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from aloe_ros.nodes.common import COMMANDS, SENSOR_DATA, diagnostic_values  # noqa: E402
from aloe_ros.sim import robot  # noqa: E402

pytestmark = pytest.mark.ros


def _start(*params):
    env = dict(os.environ, MUJOCO_GL='egl', ROS_DOMAIN_ID=str(40 + os.getpid() % 50))
    args = [sys.executable, '-m', 'aloe_ros.nodes.sim_node', '--ros-args',
            '-p', 'image_height:=24', '-p', 'image_width:=32', '-p', 'camera_rate_hz:=10.0']
    for p in params:
        args += ['-p', p]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


class _Probe:
    def __init__(self):
        os.environ['ROS_DOMAIN_ID'] = str(40 + os.getpid() % 50)
        rclpy.init()
        self.node = Node('sim_node_probe')
        self.diag = {}
        self.left = None
        self.images = 0
        self.image_stamps = {}
        self.infos = []
        self.task_state = None
        self.node.create_subscription(CameraInfo, '/cam_high/camera_info', self.infos.append,
                                      SENSOR_DATA)
        self.node.create_subscription(TaskState, '/sim/task_state',
                                      lambda m: setattr(self, 'task_state', m), SENSOR_DATA)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        self.node.create_subscription(JointState, '/follower_left/joint_states',
                                      lambda m: setattr(self, 'left', m), SENSOR_DATA)
        self.node.create_subscription(Image, '/cam_high/image_raw', self._on_image, SENSOR_DATA)
        self.traj = self.node.create_publisher(JointTrajectory,
                                               '/left_arm_controller/joint_trajectory',
                                               COMMANDS)
        self.fwd = self.node.create_publisher(Float64MultiArray, '/right_arm_controller/commands',
                                              COMMANDS)

    def _on_diag(self, msg):
        values = diagnostic_values(msg, 'aloe_sim')
        if values:
            self.diag = values

    def _on_image(self, msg):
        assert msg.encoding == 'rgb8' and msg.height == 24 and msg.width == 32
        self.images += 1
        self.image_stamps[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg.header.frame_id

    def spin(self, seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if until is not None and until():
                return True
        return False

    def matched(self, publisher, seconds=60.0):
        """Spin until the sim subscribes to ``publisher``: a command sent before is lost."""
        return self.spin(seconds, lambda: publisher.get_subscription_count() > 0)

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown()


def _trajectory(names, positions, t=0.5):
    msg = JointTrajectory(joint_names=list(names))
    msg.points = [JointTrajectoryPoint(positions=[float(v) for v in positions],
                                       time_from_start=Duration(sec=int(t),
                                                                nanosec=int((t % 1) * 1e9)))]
    return msg


def test_node_publishes_moves_and_rejects_bad_commands():
    proc = _start()
    probe = _Probe()
    try:
        # Generous deadlines (free when on time): a node's start-up has taken 75 s under a CPU
        # hog.
        assert probe.spin(300.0, lambda: probe.left is not None
                          and probe.diag), 'node never published'
        assert probe.spin(60.0, lambda: probe.images > 0)
        # Each frame comes with its calibration: same stamp and optical frame, the pinhole model
        # MuJoCo renders (60 deg vertical field of view of cam_high, 24 px high).
        assert probe.spin(60.0, lambda: any(
            (i.header.stamp.sec, i.header.stamp.nanosec) in probe.image_stamps
            for i in probe.infos))
        info = next(i for i in probe.infos
                    if (i.header.stamp.sec, i.header.stamp.nanosec) in probe.image_stamps)
        assert info.header.frame_id == 'cam_high_optical_frame' == probe.image_stamps[
            (info.header.stamp.sec, info.header.stamp.nanosec)]
        assert (info.width, info.height, info.distortion_model) == (32, 24, 'plumb_bob')
        f = 12.0 / math.tan(math.radians(30.0))
        assert list(info.k) == pytest.approx([f, 0, 15.5, 0, f, 11.5, 0, 0, 1])
        assert list(info.p) == pytest.approx([f, 0, 15.5, 0, 0, f, 11.5, 0, 0, 0, 1, 0])
        # The object state a tracker would give, stamped with the joint states' sim time.
        assert probe.spin(60.0, lambda: probe.task_state is not None)
        assert list(probe.task_state.names[:3]) == ['block_x', 'block_y', 'block_z']
        assert len(probe.task_state.values) == len(probe.task_state.names) == 9
        assert all(math.isfinite(v) for v in probe.task_state.values)
        assert probe.matched(probe.traj)
        names = robot.SIDE_JOINT_NAMES['left']
        good = list(robot.HOME_ARM) + [0.5]
        good[0] = 0.3
        probe.traj.publish(_trajectory(names, good))
        assert probe.spin(60.0, lambda: abs(probe.left.position[0]
                                            - 0.3) < 0.01), 'arm did not follow'
        bad = [
            _trajectory(names[:6], good[:6]),                       # wrong joint count
            _trajectory(names[:6] + ('left_pinky',), good),          # unknown joint
            _trajectory(names, good[:3] + [math.nan] + good[4:]),    # NaN
            _trajectory(names, [5.0] + good[1:]),                   # beyond limits
        ]
        for msg in bad:
            probe.traj.publish(msg)
        assert probe.spin(60.0,
                          lambda: int(probe.diag.get('rejected_commands', 0)) >= 4), probe.diag
        assert int(probe.diag['rejected_unknown_joint']) == 1
        assert int(probe.diag['rejected_non_finite']) == 1
        probe.spin(0.5)
        assert abs(probe.left.position[0] - 0.3) < 0.01, 'arm left its last safe target'
        assert proc.poll() is None, 'node died on bad input'
    finally:
        probe.close()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert out.count('rejected command') >= 4, out
    assert 'Traceback' not in out, out


def test_forward_interface_and_bad_config_exits_nonzero():
    bad = _start('real_time_factor:=-1.0')
    out, _ = bad.communicate(timeout=300)  # start-up is slow on a loaded machine
    assert bad.returncode != 0 and 'real_time_factor' in out, out
    proc = _start('command_interface:=forward', 'real_time_factor:=2.0')
    probe = _Probe()
    try:
        assert probe.spin(300.0, lambda: bool(probe.diag))
        assert probe.matched(probe.fwd)
        probe.fwd.publish(Float64MultiArray(data=[0.0] * 8))
        probe.fwd.publish(Float64MultiArray(data=list(robot.HOME_ARM) + [math.inf]))
        assert probe.spin(60.0,
                          lambda: int(probe.diag.get('rejected_commands', 0)) >= 2), probe.diag
        assert float(probe.diag['real_time_factor_target']) == 2.0
        assert proc.poll() is None
    finally:
        probe.close()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out


def test_after_reset_an_arm_ignores_the_old_hold_target_until_a_new_command():
    """An executor holding the last episode's target must not pull the teleported arms back."""
    from aloe_msgs.srv import ResetScene
    proc = _start()
    probe = _Probe()
    try:
        assert probe.spin(300.0, lambda: probe.left is not None
                          and probe.diag), 'node never published'
        assert probe.matched(probe.traj)
        names = robot.SIDE_JOINT_NAMES['left']
        old = list(robot.HOME_ARM) + [0.0]
        old[0] = 0.6                                   # last episode's end pose, gripper closed
        probe.traj.publish(_trajectory(names, old, t=0.1))
        assert probe.spin(30.0, lambda: abs(probe.left.position[0]
                                            - 0.6) < 0.02), 'arm did not follow'
        reset = probe.node.create_client(ResetScene, '/sim/reset')
        assert reset.wait_for_service(timeout_sec=60.0)
        future = reset.call_async(ResetScene.Request(seed=5, task=''))
        assert probe.spin(60.0, lambda: future.done()) and future.result().success
        assert probe.spin(30.0,
                          lambda: abs(probe.left.position[0]) < 0.02), 'reset did not home the arm'
        for _ in range(5):                             # the stale hold target keeps coming
            probe.traj.publish(_trajectory(names, old, t=0.02))
            probe.spin(0.1)
        assert probe.spin(30.0,
                          lambda: int(probe.diag.get('ignored_after_reset', 0)) >= 1), probe.diag
        assert abs(probe.left.position[0]) < 0.02, 'the old target pulled the arm back'
        new = list(robot.HOME_ARM) + [1.0]
        # a new command (the executor resumed): followed
        new[0] = 0.3
        probe.traj.publish(_trajectory(names, new, t=0.1))
        assert probe.spin(30.0, lambda: abs(probe.left.position[0]
                                            - 0.3) < 0.01), 'new command ignored'
        # from then on every command is followed
        probe.traj.publish(_trajectory(names, old, t=0.5))
        assert probe.spin(30.0, lambda: abs(probe.left.position[0] - 0.6) < 0.02)
    finally:
        probe.close()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert 'ignoring its pre-reset target' in out, out

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
Robot facts of the simulated ALOHA-like bimanual station: the one place they live.

The MuJoCo scene (:mod:`aloe_ros.sim.scene`), the URDF generator (:mod:`aloe_ros.sim.urdf`,
which writes ``urdf/aloe_bimanual.urdf``), the sim node and the tests all read joint names,
limits and link geometry from here, so the URDF and the simulation cannot drift apart.

Frames: world x points from the left arm to the right arm, z up, the table top is z = 0.
Each arm's base frame has x pointing towards the workspace centre. In an arm's zero pose the upper
arm is vertical and the forearm horizontal; the tool frame (site ``<side>_tcp``, between the finger
pads) has x along the approach direction and y along the finger closing direction.
"""

import math
from dataclasses import dataclass
from typing import Dict, List, Tuple

SIDES = ('left', 'right')
ARM_JOINTS = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate')
CAMERAS = ('cam_high', 'cam_left_wrist', 'cam_right_wrist')


def camera_frame_id(camera: str) -> str:
    """Return the URDF optical frame (z forward, x right, y down) stamped on a camera's images."""
    return f'{camera}_optical_frame'


#: The 14-vector order of actions and proprio (docs/INTERFACES.md).
JOINT_NAMES: Tuple[str, ...] = tuple(f'{s}_{j}' for s in SIDES for j in ARM_JOINTS + ('gripper',))
ARM_JOINT_NAMES: Dict[str, Tuple[str, ...]] = {s: tuple(f'{s}_{j}' for j in ARM_JOINTS)
                                               for s in SIDES}
#: Per-arm command / JointState order (7 names).
SIDE_JOINT_NAMES: Dict[str, Tuple[str, ...]] = {s: ARM_JOINT_NAMES[s] + (f'{s}_gripper',)
                                                for s in SIDES}
#: URDF / MuJoCo finger joints (prismatic, metres of travel per finger from closed).
FINGER_JOINT_NAMES: Dict[str, Tuple[str, str]] = {s: (f'{s}_left_finger', f'{s}_right_finger')
                                                  for s in SIDES}

#: Travel of each finger in metres at gripper = 1 (fully open): 8 cm between the pads.
FINGER_TRAVEL = 0.04
CONTROL_HZ = 50.0


@dataclass(frozen=True)
class JointSpec:
    """One revolute arm joint: its origin in the parent link frame, axis and limits."""

    name: str
    origin: Tuple[float, float, float]
    axis: Tuple[float, float, float]
    lower: float
    upper: float
    velocity: float
    effort: float


#: The chain of one arm, from its base frame outwards (same for both arms).
ARM_CHAIN: Tuple[JointSpec, ...] = (
    JointSpec('waist', (0.0, 0.0, 0.05), (0.0, 0.0, 1.0), -math.pi / 2, math.pi / 2, 3.0, 10.0),
    JointSpec('shoulder', (0.0, 0.0, 0.07), (0.0, 1.0, 0.0), -1.85, 1.6, 3.0, 20.0),
    JointSpec('elbow', (0.05, 0.0, 0.30), (0.0, 1.0, 0.0), -1.76, 2.2, 3.0, 15.0),
    JointSpec('forearm_roll', (0.20, 0.0, 0.0), (1.0, 0.0, 0.0), -math.pi, math.pi, 3.0, 5.0),
    JointSpec('wrist_angle', (0.10, 0.0, 0.0), (0.0, 1.0, 0.0), -1.87, 2.23, 3.0, 5.0),
    JointSpec('wrist_rotate', (0.07, 0.0, 0.0), (1.0, 0.0, 0.0), -math.pi, math.pi, 3.0, 5.0),
)
#: Link masses (kg) of the bodies moved by each joint, gravity-compensated in the sim.
LINK_MASSES = (0.6, 0.5, 0.4, 0.3, 0.2, 0.2)
#: Finger body origin in the wrist_rotate link (both fingers), and tool point between the pads.
FINGER_ORIGIN = (0.085, 0.0, 0.0)
TCP_OFFSET = (0.085, 0.0, 0.0)
FINGER_HALF = (0.02, 0.005, 0.012)

#: Arm base poses in world: (x, y, z, yaw). The right arm faces the left one.
ARM_BASES: Dict[str, Tuple[float, float, float, float]] = {
    'left': (-0.40, 0.0, 0.0, 0.0),
    'right': (0.40, 0.0, 0.0, math.pi),
}

#: Wrist camera pose in the wrist_rotate link: position and MuJoCo xyaxes (camera looks along -z),
#: looking forward and down at the fingers.
WRIST_CAM_POS = (-0.02, 0.0, 0.075)
WRIST_CAM_XYAXES = (0.0, -1.0, 0.0, 0.447214, 0.0, 0.894427)
#: Top camera in world.
HIGH_CAM_POS = (0.0, -0.42, 0.72)
HIGH_CAM_XYAXES = (1.0, 0.0, 0.0, 0.0, 0.866025, 0.5)
CAMERA_FOVY_DEG = {'cam_high': 60.0, 'cam_left_wrist': 75.0, 'cam_right_wrist': 75.0}

#: Home pose of one arm (rad), gripper open: above the table, tool pointing forward-down.
HOME_ARM = (0.0, -0.4, 0.9, 0.0, 1.0, 0.0)


def joint_limits() -> Tuple[List[float], List[float]]:
    """Return (lower, upper) bounds of the 14-vector (grippers in [0, 1])."""
    lower: List[float] = []
    upper: List[float] = []
    for _ in SIDES:
        lower += [j.lower for j in ARM_CHAIN] + [0.0]
        upper += [j.upper for j in ARM_CHAIN] + [1.0]
    return lower, upper


def home_action() -> List[float]:
    """Return the 14-vector home pose with both grippers open."""
    return list(HOME_ARM) + [1.0] + list(HOME_ARM) + [1.0]

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
MJCF of the bimanual station, generated from :mod:`aloe_ros.sim.robot`.

Two 6-DoF arms with parallel grippers on a table, a top camera and one camera per wrist. Arms are
position controlled (one actuator per joint, two per gripper) and gravity compensated. Arm geoms
collide with the table and objects but not with each other. Tasks add their objects (free bodies)
and target zones (mocap bodies with visual-only geoms, so a zone's pose is part of the sim state).
"""

import math
from typing import Sequence

from aloe_ros.sim import robot

_RGBA_ARM = '0.25 0.25 0.28 1'
_RGBA_LINK = '0.75 0.75 0.78 1'
_RGBA_FINGER = '0.15 0.15 0.15 1'
# contype/conaffinity: arms (2/1) touch the world (1/3) but never each other.
_ARM_COLLIDE = 'contype="2" conaffinity="1"'


def _fmt(values: Sequence[float]) -> str:
    return ' '.join(f'{v:.6g}' for v in values)


def _arm_xml(side: str) -> str:
    bx, by, bz, yaw = robot.ARM_BASES[side]
    quat = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
    out = [f'<body name="{side}_base_link" pos="{_fmt((bx, by, bz))}" quat="{_fmt(quat)}">',
           f'<geom type="cylinder" size="0.05 0.025" pos="0 0 0.025" rgba="{_RGBA_ARM}" '
           f'{_ARM_COLLIDE}/>']
    depth = 1
    for i, js in enumerate(robot.ARM_CHAIN):
        nxt = robot.ARM_CHAIN[i + 1].origin if i + 1 < len(robot.ARM_CHAIN) else None
        out.append(f'<body name="{side}_{js.name}_link" pos="{_fmt(js.origin)}" gravcomp="1">')
        out.append(f'<joint name="{side}_{js.name}" axis="{_fmt(js.axis)}" '
                   f'range="{js.lower:.6g} {js.upper:.6g}"/>')
        out.append(f'<inertial pos="0 0 0" mass="{robot.LINK_MASSES[i]}" diaginertia="0.002 0.002 '
                   '0.002"/>')
        if nxt is not None and any(abs(v) > 1e-9 for v in nxt):
            out.append(f'<geom type="capsule" fromto="0 0 0 {_fmt(nxt)}" size="0.022" '
                       f'rgba="{_RGBA_LINK}" {_ARM_COLLIDE}/>')
        depth += 1
    # Gripper: palm on the wrist_rotate link, two fingers sliding along +-y.
    fx, fy, fz = robot.FINGER_ORIGIN
    hx, hy, hz = robot.FINGER_HALF
    out.append(f'<geom type="box" pos="0.045 0 0" size="0.02 0.05 0.016" rgba="{_RGBA_ARM}" '
               f'{_ARM_COLLIDE}/>')
    out.append(f'<site name="{side}_tcp" pos="{_fmt(robot.TCP_OFFSET)}" size="0.005" rgba="1 0 0 '
               '0.5" '
               'group="4"/>')
    fovy = robot.CAMERA_FOVY_DEG[f'cam_{side}_wrist']
    out.append(f'<camera name="cam_{side}_wrist" pos="{_fmt(robot.WRIST_CAM_POS)}" '
               f'xyaxes="{_fmt(robot.WRIST_CAM_XYAXES)}" fovy="{fovy}"/>')
    for fname, sign in zip(robot.FINGER_JOINT_NAMES[side], (1.0, -1.0)):
        out.append(f'<body name="{fname}_link" pos="{_fmt((fx, fy, fz))}" gravcomp="1">')
        out.append(f'<joint name="{fname}" type="slide" axis="0 {sign:g} 0" '
                   f'range="0 {robot.FINGER_TRAVEL}"/>')
        out.append('<inertial pos="0 0 0" mass="0.03" diaginertia="1e-5 1e-5 1e-5"/>')
        out.append(f'<geom name="{fname}_pad" type="box" pos="0 {sign * hy:g} 0" '
                   f'size="{_fmt((hx, hy, hz))}" '
                   f'friction="1.5 0.02 0.002" rgba="{_RGBA_FINGER}" {_ARM_COLLIDE}/>')
        out.append('</body>')
    out.append('</body>' * depth)
    return '\n'.join(out)


def _actuators(side: str) -> str:
    out = []
    for js in robot.ARM_CHAIN:
        out.append(f'<position name="{side}_{js.name}" joint="{side}_{js.name}" '
                   f'kp="{8 * js.effort:g}" '
                   f'dampratio="1" ctrlrange="{js.lower:.6g} {js.upper:.6g}" '
                   f'forcerange="{-js.effort:g} {js.effort:g}"/>')
    for fname in robot.FINGER_JOINT_NAMES[side]:
        out.append(f'<position name="{fname}" joint="{fname}" kp="300" dampratio="1" '
                   f'ctrlrange="0 {robot.FINGER_TRAVEL}" forcerange="-6 6"/>')
    return '\n'.join(out)


def build_mjcf(objects_xml: str = '', zones_xml: str = '', timestep: float = 0.002) -> str:
    """Return the scene MJCF with the task's object bodies and zone (mocap) bodies inserted."""
    hcam = robot.HIGH_CAM_POS
    return f"""<mujoco model="aloe_bimanual">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{timestep}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <visual>
    <global offwidth="640" offheight="480"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.5 0.5 0.5" specular="0 0 0"/>
  </visual>
  <default>
    <joint damping="0.5" armature="0.05"/>
    <geom solref="0.005 1" friction="1 0.01 0.001"/>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.55 0.45 0.35" rgb2="0.5 0.4 0.3"
             width="64" height="64"/>
    <material name="table" texture="grid" texrepeat="8 8"/>
  </asset>
  <worldbody>
    <light pos="0 0 2" dir="0 0 -1" directional="true" castshadow="false"/>
    <geom name="table" type="box" pos="0 0 -0.02" size="0.6 0.4 0.02" material="table"
          contype="1" conaffinity="3"/>
    <geom name="floor" type="plane" pos="0 0 -0.75" size="2 2 0.1" rgba="0.3 0.3 0.3 1"
          contype="1" conaffinity="3"/>
    <camera name="cam_high" pos="{_fmt(hcam)}" xyaxes="{_fmt(robot.HIGH_CAM_XYAXES)}"
            fovy="{robot.CAMERA_FOVY_DEG['cam_high']}"/>
    {_arm_xml('left')}
    {_arm_xml('right')}
    {zones_xml}
    {objects_xml}
  </worldbody>
  <actuator>
    {_actuators('left')}
    {_actuators('right')}
  </actuator>
</mujoco>
"""


def box_object_xml(name: str, half: Sequence[float], rgba: str, mass: float = 0.05) -> str:
    """Return a free-floating box body (colliding with everything, grippable)."""
    return (f'<body name="{name}" pos="0 0 {half[2]:g}"><freejoint name="{name}_joint"/>'
            f'<geom name="{name}_geom" type="box" size="{_fmt(half)}" mass="{mass:g}" '
            f'rgba="{rgba}" '
            f'friction="1.2 0.02 0.002" contype="1" conaffinity="3"/></body>')


def zone_xml(name: str, radius: float, rgba: str) -> str:
    """Return a mocap target zone: a flat visual-only disc on the table."""
    return (f'<body name="{name}" mocap="true" pos="0 0 0.0005">'
            f'<geom name="{name}_geom" type="cylinder" size="{radius:g} 0.0005" rgba="{rgba}" '
            f'contype="0" conaffinity="0"/></body>')

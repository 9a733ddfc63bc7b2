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

"""URDF vs MuJoCo: same joints and limits, same forward kinematics within 1e-5 m / 1e-5 rad."""

import os

import mujoco
import numpy as np
import pytest

from aloe_ros.sim import robot
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.sim.urdf import generate_urdf

pin = pytest.importorskip('pinocchio')

URDF = os.path.join(os.path.dirname(__file__), '..', '..', 'urdf', 'aloe_bimanual.urdf')
POS_TOL = 1e-5   # m (asked: 1 mm; both come from the same numbers, URDF printed to 6 digits)
ROT_TOL = 1e-5   # rotation matrix entries


def test_committed_urdf_is_generated_from_robot_facts():
    with open(URDF) as f:
        assert f.read() == generate_urdf(), ('run: python -m aloe_ros.sim.urdf '
                                             'urdf/aloe_bimanual.urdf')


def test_urdf_joints_and_limits_match_the_sim():
    model = pin.buildModelFromUrdf(URDF)
    env = BimanualEnv('handover', cameras=())
    for side in robot.SIDES:
        for name in robot.ARM_JOINT_NAMES[side] + robot.FINGER_JOINT_NAMES[side]:
            jid = model.getJointId(name)
            assert jid < model.njoints, f'{name} missing from the URDF'
            iq = model.joints[jid].idx_q
            lo, hi = env.model.joint(name).range
            assert model.lowerPositionLimit[iq] == pytest.approx(lo, abs=1e-6)
            assert model.upperPositionLimit[iq] == pytest.approx(hi, abs=1e-6)


def test_forward_kinematics_agree_for_random_configurations():
    model = pin.buildModelFromUrdf(URDF)
    data = model.createData()
    env = BimanualEnv('handover', cameras=())
    m, d = env.model, env.data
    rng = np.random.default_rng(0)
    frames = []
    for side in robot.SIDES:
        frames += [(f'{side}_{j.name}_link', 'body') for j in robot.ARM_CHAIN]
        frames += [(f'{n}_link', 'body') for n in robot.FINGER_JOINT_NAMES[side]]
        frames += [(f'{side}_tcp', 'site'), (f'cam_{side}_wrist', 'camera')]
    frames.append(('cam_high', 'camera'))
    worst = 0.0
    for _ in range(20):
        q = np.zeros(model.nq)
        for side in robot.SIDES:
            for name in robot.ARM_JOINT_NAMES[side] + robot.FINGER_JOINT_NAMES[side]:
                lo, hi = m.joint(name).range
                value = rng.uniform(lo, hi)
                q[model.joints[model.getJointId(name)].idx_q] = value
                d.qpos[m.jnt_qposadr[m.joint(name).id]] = value
        mujoco.mj_kinematics(m, d)
        mujoco.mj_camlight(m, d)
        pin.framesForwardKinematics(model, data, q)
        for name, kind in frames:
            placement = data.oMf[model.getFrameId(name)]
            if kind == 'body':
                pos, rot = d.body(name).xpos, d.body(name).xmat.reshape(3, 3)
            elif kind == 'site':
                pos, rot = d.site(name).xpos, d.site(name).xmat.reshape(3, 3)
            else:
                pos, rot = d.cam(name).xpos, d.cam(name).xmat.reshape(3, 3)
            err = np.linalg.norm(placement.translation - pos)
            worst = max(worst, err)
            assert err < POS_TOL, f'{name}: position differs by {err:.3g} m'
            assert np.abs(placement.rotation - rot).max() < ROT_TOL, f'{name}: rotation differs'
    assert worst < POS_TOL

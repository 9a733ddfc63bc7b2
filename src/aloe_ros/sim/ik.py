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
Damped-least-squares inverse kinematics of one arm on MuJoCo Jacobians.

Solves for the 6 arm joints that put the tool site ``<side>_tcp`` at a world position and
rotation, starting from the current configuration, on a scratch ``MjData`` so the simulation
itself is never touched:

    e = [p* - p ; w_rot * 0.5 * sum_i R[:, i] x R*[:, i]]
    dq = J^T (J J^T + lambda^2 I)^-1 e,  J = [J_p ; w_rot * J_r] restricted to the arm's dofs.
"""

from typing import Sequence

import mujoco
import numpy as np

from aloe_ros.sim import robot


class ArmIK:
    """DLS IK for the arms of one MuJoCo model."""

    def __init__(self, model: mujoco.MjModel, damping: float = 0.03, rot_weight: float = 0.3):
        self.model = model
        self.data = mujoco.MjData(model)
        self.damping = damping
        self.rot_weight = rot_weight
        m = model
        self._qadr = {s: np.array([m.jnt_qposadr[m.joint(n).id] for n in robot.ARM_JOINT_NAMES[s]])
                      for s in robot.SIDES}
        self._dadr = {s: np.array([m.jnt_dofadr[m.joint(n).id] for n in robot.ARM_JOINT_NAMES[s]])
                      for s in robot.SIDES}
        self._site = {s: m.site(f'{s}_tcp').id for s in robot.SIDES}
        self._lo = np.array([j.lower for j in robot.ARM_CHAIN])
        self._hi = np.array([j.upper for j in robot.ARM_CHAIN])
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))

    def forward(self, qpos: np.ndarray, side: str, q_arm: Sequence[float]):
        """Return the tool (position, rotation matrix) for arm joints ``q_arm`` in ``qpos``."""
        d = self.data
        d.qpos[:] = qpos
        d.qpos[self._qadr[side]] = q_arm
        mujoco.mj_kinematics(self.model, d)
        site = self._site[side]
        return d.site_xpos[site].copy(), d.site_xmat[site].reshape(3, 3).copy()

    def solve(self, qpos: np.ndarray, side: str, target_pos: np.ndarray, target_rot: np.ndarray,
              iters: int = 20, tol: float = 1e-4) -> np.ndarray:
        """Return arm joints (6,) reaching the target as closely as the limits allow."""
        m, d = self.model, self.data
        d.qpos[:] = qpos
        qa, da, sid = self._qadr[side], self._dadr[side], self._site[side]
        q = d.qpos[qa].copy()
        eye = np.eye(6) * self.damping ** 2
        for _ in range(iters):
            d.qpos[qa] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            p = d.site_xpos[sid]
            r = d.site_xmat[sid].reshape(3, 3)
            e_rot = 0.5 * (np.cross(r[:, 0], target_rot[:, 0])
                           + np.cross(r[:, 1], target_rot[:, 1])
                           + np.cross(r[:, 2], target_rot[:, 2]))
            err = np.concatenate([target_pos - p, self.rot_weight * e_rot])
            if np.linalg.norm(err) < tol:
                break
            mujoco.mj_jacSite(m, d, self._jacp, self._jacr, sid)
            jac = np.vstack([self._jacp[:, da], self.rot_weight * self._jacr[:, da]])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + eye, err)
            q = np.clip(q + dq, self._lo, self._hi)
        return q

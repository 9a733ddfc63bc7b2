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
ROS-free helpers for showing a joint-space action chunk in Cartesian space (RViz markers).

``ChunkFK(urdf)`` loads the bimanual URDF with pinocchio and maps a chunk (H x 14, the action
vector of docs/INTERFACES.md) to the tool-point path of each arm, in the URDF's root frame
(``world``). Gripper entries are normalised openings and are turned into finger travel.
"""

from typing import Dict, Sequence

import numpy as np

ARM_JOINTS = ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate')
SIDES = ('left', 'right')
FINGER_TRAVEL = 0.04  # m per finger at opening 1.0 (aloe_ros.sim.robot.FINGER_TRAVEL)


class ChunkFK:
    """Forward kinematics of the bimanual URDF for whole action chunks."""

    def __init__(self, urdf_path: str):
        """Load ``urdf_path``; raises FileNotFoundError or ValueError naming what is missing."""
        import pinocchio as pin
        self._pin = pin
        self.model = pin.buildModelFromUrdf(urdf_path)
        self.data = self.model.createData()
        self._q_index: Dict[str, int] = {}
        for side in SIDES:
            for j in ARM_JOINTS:
                self._q_index[f'{side}_{j}'] = self._joint_q(f'{side}_{j}')
        self._fingers = {side: [self._joint_q(f'{side}_{f}_finger') for f in ('left', 'right')
                                if self.model.existJointName(f'{side}_{f}_finger')]
                         for side in SIDES}
        self._tcp = {}
        for side in SIDES:
            frame = f'{side}_tcp'
            if not self.model.existFrame(frame):
                raise ValueError(f'{urdf_path}: no frame {frame!r}')
            self._tcp[side] = self.model.getFrameId(frame)

    def _joint_q(self, name: str) -> int:
        if not self.model.existJointName(name):
            raise ValueError(f'URDF has no joint {name!r}')
        return int(self.model.joints[self.model.getJointId(name)].idx_q)

    def configuration(self, action: Sequence[float]) -> np.ndarray:
        """Return the pinocchio configuration of one 14-vector action."""
        a = np.asarray(action, dtype=float).reshape(-1)
        if a.shape != (14,):
            raise ValueError(f'expected 14 values (6 arm joints + gripper per arm), got {a.size}')
        q = self._pin.neutral(self.model)
        for i, side in enumerate(SIDES):
            for k, j in enumerate(ARM_JOINTS):
                q[self._q_index[f'{side}_{j}']] = a[7 * i + k]
            for idx in self._fingers[side]:
                q[idx] = float(np.clip(a[7 * i + 6], 0.0, 1.0)) * FINGER_TRAVEL
        return q

    def tcp_paths(self, chunk: np.ndarray) -> Dict[str, np.ndarray]:
        """Return {side: (H, 3)} tool-point positions [m] along the chunk."""
        chunk = np.asarray(chunk, dtype=float)
        if chunk.ndim != 2 or chunk.shape[1] != 14:
            raise ValueError(f'chunk must be (H, 14), got {chunk.shape}')
        paths = {side: np.zeros((chunk.shape[0], 3)) for side in SIDES}
        for h, action in enumerate(chunk):
            q = self.configuration(action)
            self._pin.framesForwardKinematics(self.model, self.data, q)
            for side in SIDES:
                paths[side][h] = self.data.oMf[self._tcp[side]].translation
        return paths

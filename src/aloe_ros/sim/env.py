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
Gym-like MuJoCo environment of the bimanual station (no ROS).

``BimanualEnv(task, image_size, cameras, seed)``; ``reset(seed) -> obs``;
``step(action14) -> (obs, reward, terminated, truncated, info)``. Control runs at 50 Hz with
``substeps`` physics steps (2 ms) per control step. The action is the 14-vector of joint targets
(docs/INTERFACES.md; grippers normalised, 0 closed, 1 open), clipped to the joint limits.

Observation dict:

- ``images``: {camera: uint8 (h, w, 3)} for each camera in ``cameras`` (empty when ``cameras=()``).
- ``proprio``: float32 (14,) measured joint positions, grippers normalised.
- ``state``: float32 privileged state: per object (task order) position (3) and quaternion
  (w, x, y, z, 4), then per zone its centre (x, y).

Reward is sparse: 1 on the step that reaches success (terminated), else 0. An object off the table
terminates with reward 0 (``info['failure']``). ``max_steps`` truncates.

``get_state()`` / ``set_state()`` snapshot everything the future depends on (MuJoCo's full
integration state incl. warm start, controls and mocap zones, the last commanded action, the step
counter and the seed), so a
rollout from a restored state is bit-identical to the original one.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import mujoco
import numpy as np

from aloe_ros.sim import robot
from aloe_ros.sim.tasks import Task, make_task

_STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


@dataclass
class SimState:
    """An exact snapshot of the environment (see the module docstring)."""

    physics: np.ndarray
    step_count: int
    seed: int
    task: str
    last_action: np.ndarray


class BimanualEnv:
    """The bimanual station with one task; see the module docstring."""

    def __init__(self, task: str = 'handover', image_size: Tuple[int, int] = (64, 64),
                 cameras: Sequence[str] = robot.CAMERAS, seed: int = 0,
                 max_steps: Optional[int] = None, substeps: int = 10, fast_render: bool = True):
        self.task: Task = make_task(task)
        for cam in cameras:
            if cam not in robot.CAMERAS:
                raise ValueError(f'unknown camera {cam!r}; known: {robot.CAMERAS}')
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.cameras = tuple(cameras)
        self.max_steps = int(max_steps or self.task.max_steps)
        self.substeps = int(substeps)
        self.fast_render = fast_render
        self.model = mujoco.MjModel.from_xml_string(self.task.mjcf())
        self.data = mujoco.MjData(self.model)
        self.control_dt = self.model.opt.timestep * self.substeps
        self._renderers: Dict[Tuple[int, int], mujoco.Renderer] = {}
        lower, upper = robot.joint_limits()
        self.action_low = np.asarray(lower)
        self.action_high = np.asarray(upper)
        m = self.model
        self._arm_qadr = {s: np.array([m.jnt_qposadr[m.joint(n).id]
                                       for n in robot.ARM_JOINT_NAMES[s]])
                          for s in robot.SIDES}
        self._arm_dadr = {s: np.array([m.jnt_dofadr[m.joint(n).id]
                                       for n in robot.ARM_JOINT_NAMES[s]])
                          for s in robot.SIDES}
        self._finger_qadr = {s: np.array([m.jnt_qposadr[m.joint(n).id]
                                          for n in robot.FINGER_JOINT_NAMES[s]])
                             for s in robot.SIDES}
        self._finger_dadr = {s: np.array([m.jnt_dofadr[m.joint(n).id]
                                          for n in robot.FINGER_JOINT_NAMES[s]])
                             for s in robot.SIDES}
        self._arm_act = {s: np.array([m.actuator(n).id for n in robot.ARM_JOINT_NAMES[s]])
                         for s in robot.SIDES}
        self._finger_act = {s: np.array([m.actuator(n).id for n in robot.FINGER_JOINT_NAMES[s]])
                            for s in robot.SIDES}
        self._finger_geoms = {s: tuple(m.geom(f'{n}_pad').id for n in robot.FINGER_JOINT_NAMES[s])
                              for s in robot.SIDES}
        self._obj_body = {o.name: m.body(o.name).id for o in self.task.objects}
        self._obj_geom = {o.name: m.geom(f'{o.name}_geom').id for o in self.task.objects}
        self._obj_qadr = {o.name: m.jnt_qposadr[m.joint(f'{o.name}_joint').id]
                          for o in self.task.objects}
        self._zone_mocap = {z.name: m.body_mocapid[m.body(z.name).id] for z in self.task.zones}
        self.tcp_site = {s: m.site(f'{s}_tcp').id for s in robot.SIDES}
        self.seed = int(seed)
        self.step_count = 0
        self.last_action = np.asarray(robot.home_action())
        self.reset(seed)

    # --- lifecycle -------------------------------------------------------------------------

    def reset(self, seed: Optional[int] = None) -> dict:
        """Put the arms home and the objects at poses drawn from ``seed``; return the obs."""
        if seed is not None:
            self.seed = int(seed)
        rng = np.random.default_rng(self.seed)
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        home = np.asarray(robot.home_action())
        for i, s in enumerate(robot.SIDES):
            d.qpos[self._arm_qadr[s]] = home[7 * i:7 * i + 6]
            d.qpos[self._finger_qadr[s]] = home[7 * i + 6] * robot.FINGER_TRAVEL
        objs, zones = self.task.sample(rng)
        for o in self.task.objects:
            x, y, yaw = objs[o.name]
            a = self._obj_qadr[o.name]
            d.qpos[a:a + 3] = (x, y, o.half[2])
            d.qpos[a + 3:a + 7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        for z in self.task.zones:
            d.mocap_pos[self._zone_mocap[z.name]] = (*zones[z.name], 0.0005)
        self._apply_action(home)
        mujoco.mj_forward(m, d)
        self.step_count = 0
        return self.observe()

    def step(self, action) -> Tuple[dict, float, bool, bool, dict]:
        """
        Apply ``action`` (14,) for a control period; return obs, reward, done flags, info.

        Raises ValueError on a wrong length or NaN/Inf; out-of-limit values are clipped.
        """
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (14,):
            raise ValueError(f'action must have 14 values, got {action.shape[0]}')
        if not np.all(np.isfinite(action)):
            raise ValueError('action contains NaN or Inf')
        self._apply_action(action)
        mujoco.mj_step(self.model, self.data, nstep=self.substeps)
        # mj_step leaves positions/contacts of the state before its last integration; recompute
        # them
        # so observations (and a restored state) describe the current configuration.
        mujoco.mj_forward(self.model, self.data)
        self.step_count += 1
        success = self.success()
        failure = (not success) and self.failure()
        terminated = success or failure
        truncated = (not terminated) and self.step_count >= self.max_steps
        info = {'success': success, 'failure': failure, 'step': self.step_count}
        return self.observe(), float(success), terminated, truncated, info

    def _apply_action(self, action: np.ndarray) -> None:
        action = np.clip(action, self.action_low, self.action_high)
        self.last_action = action.copy()
        for i, s in enumerate(robot.SIDES):
            self.data.ctrl[self._arm_act[s]] = action[7 * i:7 * i + 6]
            self.data.ctrl[self._finger_act[s]] = action[7 * i + 6] * robot.FINGER_TRAVEL

    # --- state -----------------------------------------------------------------------------

    def get_state(self) -> SimState:
        """Return an exact snapshot (see the module docstring)."""
        size = mujoco.mj_stateSize(self.model, _STATE_SPEC)
        buf = np.empty(size)
        mujoco.mj_getState(self.model, self.data, buf, _STATE_SPEC)
        return SimState(buf, self.step_count, self.seed, self.task.name, self.last_action.copy())

    def set_state(self, state: SimState) -> None:
        """Restore a snapshot taken by :meth:`get_state` on an env of the same task."""
        if state.task != self.task.name:
            raise ValueError(f'state is for task {state.task!r}, env runs {self.task.name!r}')
        mujoco.mj_setState(self.model, self.data, np.asarray(state.physics), _STATE_SPEC)
        mujoco.mj_forward(self.model, self.data)
        self.step_count = state.step_count
        self.seed = state.seed
        self.last_action = np.array(state.last_action, dtype=np.float64)

    # --- observation -----------------------------------------------------------------------

    def proprio(self, dtype=np.float32) -> np.ndarray:
        """Return the measured 14-vector (arm joints in rad, grippers normalised)."""
        out = np.empty(14, dtype=dtype)
        for i, s in enumerate(robot.SIDES):
            out[7 * i:7 * i + 6] = self.data.qpos[self._arm_qadr[s]]
            out[7 * i + 6] = np.mean(self.data.qpos[self._finger_qadr[s]]) / robot.FINGER_TRAVEL
        return out

    def arm_velocities(self, side: str) -> np.ndarray:
        """Return the 6 arm joint velocities (rad/s) of one arm."""
        return self.data.qvel[self._arm_dadr[side]].copy()

    def finger_velocities(self, side: str) -> np.ndarray:
        """Return the two finger joint velocities (m/s) of one arm."""
        return self.data.qvel[self._finger_dadr[side]].copy()

    def finger_positions(self, side: str) -> np.ndarray:
        """Return the two finger joint positions (m) of one arm (URDF finger joints)."""
        return self.data.qpos[self._finger_qadr[side]].copy()

    def privileged_state_names(self) -> List[str]:
        """Return one name per value of :meth:`privileged_state`, e.g. ``block_x``, ``zone_y``."""
        names = [f'{o.name}_{k}' for o in self.task.objects
                 for k in ('x', 'y', 'z', 'qw', 'qx', 'qy', 'qz')]
        return names + [f'{z.name}_{k}' for z in self.task.zones for k in ('x', 'y')]

    def privileged_state(self) -> np.ndarray:
        """Return the objects' poses (position, quaternion wxyz) and the zones' centres (x, y)."""
        parts = [np.concatenate([self.object_pos(o.name), self.object_quat(o.name)])
                 for o in self.task.objects]
        parts += [self.zone_center(z.name) for z in self.task.zones]
        return np.concatenate(parts).astype(np.float32)

    def observe(self) -> dict:
        """Return the observation dict (see the module docstring)."""
        h, w = self.image_size
        return {'images': {c: self.render(c, h, w) for c in self.cameras},
                'proprio': self.proprio(), 'state': self.privileged_state()}

    def render(self, cam: str, h: Optional[int] = None, w: Optional[int] = None) -> np.ndarray:
        """Render camera ``cam`` at (h, w) (default ``image_size``) as uint8 (h, w, 3) RGB."""
        h = int(h or self.image_size[0])
        w = int(w or self.image_size[1])
        key = (h, w)
        if key not in self._renderers:
            if w > self.model.vis.global_.offwidth or h > self.model.vis.global_.offheight:
                self.model.vis.global_.offwidth = max(w, self.model.vis.global_.offwidth)
                self.model.vis.global_.offheight = max(h, self.model.vis.global_.offheight)
            r = mujoco.Renderer(self.model, h, w)
            if self.fast_render:
                r.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
                r.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
                r.scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
            self._renderers[key] = r
        r = self._renderers[key]
        r.update_scene(self.data, camera=cam)
        return r.render()

    def close(self) -> None:
        """Release the renderers (GL contexts)."""
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()

    # --- task geometry ---------------------------------------------------------------------

    def object_pos(self, name: str) -> np.ndarray:
        return self.data.xpos[self._obj_body[name]].copy()

    def object_quat(self, name: str) -> np.ndarray:
        return self.data.xquat[self._obj_body[name]].copy()

    def object_mat(self, name: str) -> np.ndarray:
        return self.data.xmat[self._obj_body[name]].reshape(3, 3).copy()

    def object_speed(self, name: str) -> float:
        a = self.model.jnt_dofadr[self.model.body_jntadr[self._obj_body[name]]]
        return float(np.linalg.norm(self.data.qvel[a:a + 3]))

    def zone_center(self, name: str) -> np.ndarray:
        return self.data.mocap_pos[self._zone_mocap[name]][:2].copy()

    def tcp_pos(self, side: str) -> np.ndarray:
        return self.data.site_xpos[self.tcp_site[side]].copy()

    def held_by(self, side: str, obj: str) -> bool:
        """Return True when both finger pads of ``side`` touch object ``obj``."""
        g = self._obj_geom[obj]
        touched = set()
        for c in self.data.contact[:self.data.ncon]:
            pair = (c.geom1, c.geom2)
            if g in pair:
                other = pair[1] if pair[0] == g else pair[0]
                if other in self._finger_geoms[side]:
                    touched.add(other)
        return len(touched) == 2

    def touched_by_fingers(self, obj: str) -> bool:
        g = self._obj_geom[obj]
        fingers = set(self._finger_geoms['left'] + self._finger_geoms['right'])
        for c in self.data.contact[:self.data.ncon]:
            if (c.geom1 == g and c.geom2 in fingers) or (c.geom2 == g and c.geom1 in fingers):
                return True
        return False

    def object_in_zone(self, obj: str) -> bool:
        """Return True when ``obj`` rests in its zone: centre in the disc, on the table, free."""
        spec = next(o for o in self.task.objects if o.name == obj)
        p = self.object_pos(obj)
        inside = np.linalg.norm(p[:2]
                                - self.zone_center(spec.zone)) < self.task.zone_radius(spec.zone)
        return bool(inside and p[2] < self.task.rest_height and not self.touched_by_fingers(obj))

    def success(self) -> bool:
        """Sparse task success: every object rests in its zone, released."""
        return all(self.object_in_zone(o.name) for o in self.task.objects)

    def failure(self) -> bool:
        """Return True when an object fell off the table (centre below z = -0.05 m)."""
        return any(self.object_pos(o.name)[2] < -0.05 for o in self.task.objects)

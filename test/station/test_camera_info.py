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

"""Camera calibration without ROS: the sim's pinhole model, and calibration after a resize."""

from types import SimpleNamespace

import mujoco
import numpy as np
import pytest

from aloe_ros.sim import robot
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.station import camera_info as ci
from aloe_ros.station.conversions import resize


def test_pinhole_matches_what_mujoco_renders():
    """Each sim camera's calibration projects the task block's corners onto its outline."""
    h, w = 240, 320
    env = BimanualEnv('handover', image_size=(h, w), seed=0)
    env.reset(0)
    renderer = mujoco.Renderer(env.model, h, w)
    renderer.enable_segmentation_rendering()
    seen = []
    try:
        for camera in robot.CAMERAS:
            info = ci.pinhole_from_fovy(w, h, robot.CAMERA_FOVY_DEG[camera])
            assert info.k[0] == info.k[4] and (info.k[2], info.k[5]) == ((w - 1) / 2, (h - 1) / 2)
            renderer.update_scene(env.data, camera=camera)
            seg = renderer.render()
            cam = env.model.camera(camera).id
            rot = env.data.cam_xmat[cam].reshape(3, 3)
            for obj in env.task.objects:
                geom = env.model.geom(f'{obj.name}_geom').id
                if env.model.geom_type[geom] != mujoco.mjtGeom.mjGEOM_BOX:
                    continue
                mask = (seg[:, :, 0] == geom) & (seg[:, :, 1] == mujoco.mjtObj.mjOBJ_GEOM)
                if mask.sum() < 50:
                    continue  # out of this camera's view
                corners = []
                for signs in np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T:
                    world = env.data.geom_xpos[geom] + env.data.geom_xmat[geom].reshape(3, 3) @ (
                        signs * env.model.geom_size[geom])
                    # MuJoCo's camera looks down its -z with y up; optical: z forward, y down.
                    local = rot.T @ (world - env.data.cam_xpos[cam])
                    corners.append(info.project(np.array([local[0], -local[1], -local[2]])))
                corners = np.array(corners)
                rows, cols = np.nonzero(mask)
                # Pixel i covers [i - 0.5, i + 0.5]; the bottom corners touch the table (z-fight).
                np.testing.assert_allclose(
                    [cols.min(), rows.min(), cols.max(), rows.max()],
                    [*corners.min(axis=0), *corners.max(axis=0)], atol=1.5,
                    err_msg=f'{camera}: {obj.name}')
                seen.append(camera)
    finally:
        renderer.close()
        env.close()
    assert 'cam_high' in seen and len(seen) >= 2, seen


def test_scaled_calibration_follows_the_resize():
    """A point's dot, resized as the observation node resizes, sits at the scaled projection."""
    info = ci.Intrinsics(640, 480, (600.0, 0.0, 330.0, 0.0, 610.0, 250.0, 0.0, 0.0, 1.0),
                         (600.0, 0.0, 330.0, -30.0, 0.0, 610.0, 250.0, 0.0, 0.0, 0.0, 1.0, 0.0),
                         distortion_model='plumb_bob', d=(0.1, -0.05, 0.0, 0.0, 0.0))
    small = ci.scaled(info, 64, 48)
    assert (small.width, small.height) == (64, 48)
    assert small.d == info.d and small.distortion_model == 'plumb_bob'
    assert small.p[3] == pytest.approx(-3.0)  # the baseline term scales with fx
    rows, cols = np.mgrid[0:48, 0:64]
    for top, left, z in ((100, 200, 1.0), (300, 420, 1.5), (235, 325, 2.0)):
        # A 10x10 dot at rows top..top+9: its centre is the pixel coordinate top + 4.5.
        u, v = left + 4.5, top + 4.5
        point = np.array([(u - 330.0) / 600.0 * z, (v - 250.0) / 610.0 * z, z])
        assert info.project(point) == pytest.approx((u, v))
        image = np.zeros((480, 640), np.float32)
        image[top:top + 10, left:left + 10] = 1.0
        out = resize(image, 48, 64)
        centroid = ((out * cols).sum() / out.sum(), (out * rows).sum() / out.sum())
        assert tuple(small.project(point)) == pytest.approx(centroid, abs=0.02)
    assert ci.scaled(info, 640, 480) is info


def _msg(**fields):
    base = dict(width=640, height=480, binning_x=0, binning_y=0,
                roi=SimpleNamespace(x_offset=0, y_offset=0, width=0, height=0),
                k=[600.0, 0, 320.0, 0, 600.0, 240.0, 0, 0, 1], r=list(ci.IDENTITY),
                p=[600.0, 0, 320.0, 0, 0, 600.0, 240.0, 0, 0, 0, 1, 0],
                distortion_model='plumb_bob', d=[0.0] * 5)
    base.update(fields)
    return SimpleNamespace(**base)


def test_from_msg_refuses_what_cannot_describe_whole_images():
    assert ci.from_msg(_msg()).k[2] == 320.0
    full = SimpleNamespace(x_offset=0, y_offset=0, width=640, height=480)
    assert ci.from_msg(_msg(roi=full)).width == 640
    for fields, problem in (({'width': 0}, 'size'), ({'binning_x': 2}, 'binning'),
                            ({'roi': SimpleNamespace(x_offset=10, y_offset=0, width=100,
                                                     height=100)}, 'region of interest'),
                            ({'k': [0.0] * 9}, 'uncalibrated'),
                            ({'p': [float('nan')] * 12}, 'not finite')):
        with pytest.raises(ValueError, match=problem):
            ci.from_msg(_msg(**fields))
    with pytest.raises(ValueError):
        ci.pinhole_from_fovy(640, 480, 0.0)

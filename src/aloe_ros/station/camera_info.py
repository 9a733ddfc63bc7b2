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
Camera calibration as ``sensor_msgs/CameraInfo`` carries it, without ROS.

:class:`Intrinsics` holds a CameraInfo's calibration fields (image size, distortion model and
coefficients, ``k``, ``r``, ``p``, row-major as in the message). Two producers and one
transformation:

- :func:`pinhole_from_fovy`: the ideal pinhole camera MuJoCo renders (square pixels, the
  optical axis through the image centre, no distortion) from its vertical field of view;
- :func:`from_msg`: a driver's CameraInfo (anything with the message's field names);
- :func:`scaled`: the calibration of the same camera after its image is resized to another size
  (the observation node's policy images), for the pixel-centre convention OpenCV's ``resize``
  and ROS share (pixel ``i`` covers ``[i - 0.5, i + 0.5]``):
  ``u' = sx * (u + 0.5) - 0.5`` with ``sx = width' / width``, so ``fx' = sx * fx`` and
  ``cx' = sx * (cx + 0.5) - 0.5`` (``y`` alike); distortion coefficients act on normalised
  coordinates and do not change.
"""

from dataclasses import dataclass, replace
import math
from typing import Any, Optional, Tuple

import numpy as np

IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True)
class Intrinsics:
    """A CameraInfo's calibration: size [px], distortion, ``k`` (3x3), ``r`` (3x3), ``p`` (3x4)."""

    width: int
    height: int
    k: Tuple[float, ...]
    p: Tuple[float, ...]
    r: Tuple[float, ...] = IDENTITY
    distortion_model: str = 'plumb_bob'
    d: Tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def project(self, point: np.ndarray) -> np.ndarray:
        """Return the pixel (u, v) of a point in the optical frame (z forward), undistorted."""
        x, y, z = (float(v) for v in point)
        k = self.k
        return np.array([k[0] * x / z + k[1] * y / z + k[2], k[4] * y / z + k[5]])


def pinhole_from_fovy(width: int, height: int, fovy_deg: float) -> Intrinsics:
    """
    Return the calibration of an ideal pinhole camera with vertical field of view ``fovy_deg``.

    The image's top and bottom edges (``v = -0.5`` and ``height - 0.5``) lie at +-fovy/2, as in
    MuJoCo's renderer; pixels are square.
    """
    if width <= 0 or height <= 0 or not 0.0 < fovy_deg < 180.0:
        raise ValueError(f'invalid camera: {width}x{height}, fovy {fovy_deg} deg')
    f = height / (2.0 * math.tan(math.radians(fovy_deg) / 2.0))
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return Intrinsics(int(width), int(height), (f, 0.0, cx, 0.0, f, cy, 0.0, 0.0, 1.0),
                      (f, 0.0, cx, 0.0, 0.0, f, cy, 0.0, 0.0, 0.0, 1.0, 0.0))


def from_msg(msg: Any) -> Intrinsics:
    """
    Return a CameraInfo's calibration; ValueError when it cannot describe whole images.

    A calibration with binning or a region of interest describes only part of the sensor's
    images; one with ``k`` all zero is an uncalibrated camera. Neither is passed on.
    """
    width, height = int(msg.width), int(msg.height)
    if width <= 0 or height <= 0:
        raise ValueError(f'CameraInfo size {width}x{height}')
    if int(msg.binning_x) > 1 or int(msg.binning_y) > 1:
        raise ValueError(f'CameraInfo with binning {msg.binning_x}x{msg.binning_y} '
                         '(not supported)')
    roi = msg.roi
    if int(roi.width) or int(roi.height) or int(roi.x_offset) or int(roi.y_offset):
        if (int(roi.x_offset), int(roi.y_offset), int(roi.width), int(roi.height)) != \
                (0, 0, width, height):
            raise ValueError('CameraInfo with a region of interest (not supported)')
    k = tuple(float(v) for v in msg.k)
    p = tuple(float(v) for v in msg.p)
    if len(k) != 9 or len(p) != 12 or not all(math.isfinite(v) for v in k + p):
        raise ValueError('CameraInfo k or p not finite')
    if k[0] <= 0.0 or k[4] <= 0.0:
        raise ValueError('CameraInfo k has no focal length (uncalibrated camera)')
    return Intrinsics(width, height, k, p, tuple(float(v) for v in msg.r),
                      str(msg.distortion_model), tuple(float(v) for v in msg.d))


def scaled(info: Intrinsics, width: int, height: int) -> Intrinsics:
    """Return ``info`` for the camera's images resized (stretched) to ``width`` x ``height``."""
    if width == info.width and height == info.height:
        return info
    sx, sy = width / info.width, height / info.height
    s = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
    k = s @ np.asarray(info.k).reshape(3, 3)
    p = s @ np.asarray(info.p).reshape(3, 4)
    return replace(info, width=int(width), height=int(height), k=tuple(k.ravel().tolist()),
                   p=tuple(p.ravel().tolist()))


def fill_msg(info: Intrinsics, msg: Any, frame_id: Optional[str] = None) -> Any:
    """Write ``info`` into a CameraInfo message (binning and ROI cleared); return ``msg``."""
    msg.width, msg.height = info.width, info.height
    msg.distortion_model = info.distortion_model
    msg.d = list(info.d)
    msg.k, msg.r, msg.p = list(info.k), list(info.r), list(info.p)
    msg.binning_x = msg.binning_y = 0
    msg.roi.x_offset = msg.roi.y_offset = msg.roi.width = msg.roi.height = 0
    if frame_id is not None:
        msg.header.frame_id = frame_id
    return msg

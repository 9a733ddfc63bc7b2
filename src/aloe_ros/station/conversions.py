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
sensor_msgs/Image <-> numpy without rclpy (duck-typed on the message's fields).

Supported encodings: rgb8, bgr8, rgba8, mono8 (uint8) and 16UC1 (uint16, depth in mm).
Row padding (``step`` larger than ``width * channels * itemsize``) and big-endian 16-bit data
are handled; every size inconsistency raises ``ImageError`` naming what is wrong.

ROS 2 ``cv_bridge`` is used for decoding when it is importable (after our own checks);
otherwise our decoder is used. ``IMAGE_BACKEND`` says which, and it is logged once on import.
"""

import logging
from typing import Any, Callable, Optional, Tuple

import cv2
import numpy as np

_LOG = logging.getLogger(__name__)

#: encoding -> (numpy dtype, channels)
ENCODINGS = {
    'rgb8': (np.uint8, 3),
    'bgr8': (np.uint8, 3),
    'rgba8': (np.uint8, 4),
    'mono8': (np.uint8, 1),
    '16UC1': (np.uint16, 1),
    'mono16': (np.uint16, 1),
}

#: Refuse images larger than this many bytes of data by default (4K RGBA is ~33 MB).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

try:  # ROS 2 cv_bridge is optional; it is not installable on every machine.
    from cv_bridge import CvBridge as _CvBridge  # type: ignore

    _BRIDGE = _CvBridge()
    IMAGE_BACKEND = 'cv_bridge'
except Exception:  # ImportError, or the ROS 1 PyPI copy failing against numpy/OpenCV
    _BRIDGE = None
    IMAGE_BACKEND = 'aloe_ros.station.conversions'
_LOG.info('image conversion backend: %s', IMAGE_BACKEND)


class ImageError(ValueError):
    """An image message that cannot be decoded; the message says what is wrong."""


def _data_bytes(data: Any):
    """Return the message data as a flat byte buffer, without copying when it has one."""
    if isinstance(data, np.ndarray):
        return memoryview(np.ascontiguousarray(data)).cast('B')
    # rclpy gives array.array('B') (buffer protocol) for uint8[]; plain lists need a copy
    try:
        return memoryview(data).cast('B')
    except TypeError:
        return memoryview(bytes(bytearray(data)))


def image_to_numpy(msg: Any, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """
    Decode an Image-like message to an array of shape (H, W) or (H, W, C).

    The result is a fresh array in the message's own encoding (no colour conversion).
    Raises ImageError on an unknown encoding, zero or oversized dimensions, a ``step`` too
    small for the width, or too little data.
    """
    encoding = str(msg.encoding)
    if encoding not in ENCODINGS:
        raise ImageError(f"unsupported encoding '{encoding}' (supported: {sorted(ENCODINGS)})")
    dtype, channels = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageError(f'empty image {width}x{height}')
    itemsize = np.dtype(dtype).itemsize
    row_bytes = width * channels * itemsize
    if step < row_bytes:
        raise ImageError(f'step {step} < width*channels*bytes {row_bytes} ({width}x{height} '
                         f'{encoding})')
    needed = step * (height - 1) + row_bytes
    if needed > max_bytes or step * height > max_bytes:
        raise ImageError(f'image of {step * height} bytes exceeds the limit of {max_bytes} bytes')
    data = _data_bytes(msg.data)
    if len(data) < needed:
        raise ImageError(f'data has {len(data)} bytes, {width}x{height} {encoding} with step '
                         f'{step} '
                         f'needs {step * height}')
    if _BRIDGE is not None:
        try:
            return np.array(_BRIDGE.imgmsg_to_cv2(msg, desired_encoding='passthrough'), copy=True)
        except Exception as exc:  # fall through to our decoder, which we trust for these encodings
            _LOG.debug('cv_bridge failed (%s); using aloe_ros.station.conversions', exc)
    buf = np.frombuffer(data, dtype=np.uint8, count=len(data))
    if len(data) < step * height:  # the last row may omit its padding
        buf = np.concatenate([buf, np.zeros(step * height - len(data), np.uint8)])
    rows = buf[:step * height].reshape(height, step)[:, :row_bytes]
    shape = (height, width, channels) if channels > 1 else (height, width)
    if itemsize == 1:
        return np.array(rows, copy=True).reshape(shape)  # one copy, drops the row padding
    big_endian = bool(getattr(msg, 'is_bigendian', 0))
    wire = np.dtype(dtype).newbyteorder('>' if big_endian else '<')
    return np.ascontiguousarray(rows).view(wire).astype(dtype).reshape(shape)


def to_rgb8(msg: Any, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """
    Decode an Image-like message to an (H, W, 3) uint8 RGB array.

    mono8 is replicated to three channels; 16UC1 is scaled by 1/256 (depth shown as grey).
    """
    arr = image_to_numpy(msg, max_bytes=max_bytes)
    encoding = str(msg.encoding)
    if encoding == 'rgb8':
        return arr
    if encoding == 'bgr8':
        return np.ascontiguousarray(arr[:, :, ::-1])
    if encoding == 'rgba8':
        return np.ascontiguousarray(arr[:, :, :3])
    if encoding == 'mono8':
        return np.repeat(arr[:, :, None], 3, axis=2)
    grey = (arr >> 8).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def resize(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize (H, W[, C]) to (height, width[, C]); area interpolation when shrinking."""
    if height <= 0 or width <= 0:
        raise ImageError(f'invalid target size {width}x{height}')
    if arr.shape[0] == height and arr.shape[1] == width:
        return arr
    shrinking = height < arr.shape[0] and width < arr.shape[1]
    out = cv2.resize(arr, (width, height),
                     interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if arr.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


def decode_resize_rgb8(msg: Any, height: int, width: int,
                       max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Decode any supported Image-like message to RGB and resize it to (height, width, 3)."""
    return resize(to_rgb8(msg, max_bytes=max_bytes), height, width)


def fill_image(msg: Any, arr: np.ndarray, encoding: str) -> Any:
    """
    Fill an Image-like message's size/encoding/data fields from ``arr`` and return it.

    ``arr`` must be (H, W) for one channel or (H, W, C) matching ``encoding``.
    Header (stamp, frame_id) is left to the caller.
    """
    if encoding not in ENCODINGS:
        raise ImageError(f"unsupported encoding '{encoding}' (supported: {sorted(ENCODINGS)})")
    dtype, channels = ENCODINGS[encoding]
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] != channels:
        raise ImageError(f'array of shape {arr.shape} does not fit {encoding} ({channels} '
                         'channels)')
    if arr.dtype != dtype:
        raise ImageError(f'array dtype {arr.dtype} does not fit {encoding} '
                         f'({np.dtype(dtype).name})')
    arr = np.ascontiguousarray(arr.astype(np.dtype(dtype).newbyteorder('<'), copy=False))
    msg.height, msg.width = int(arr.shape[0]), int(arr.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(arr.shape[1] * channels * np.dtype(dtype).itemsize)
    msg.data = arr.tobytes()
    return msg


def numpy_to_image(arr: np.ndarray, encoding: str,
                   msg_factory: Optional[Callable[[], Any]] = None) -> Any:
    """Return a new Image (``msg_factory()``, default sensor_msgs/Image) holding ``arr``."""
    if msg_factory is None:
        from sensor_msgs.msg import Image  # imported lazily: this module needs no ROS
        msg_factory = Image
    return fill_image(msg_factory(), arr, encoding)


def image_shape(msg: Any) -> Tuple[int, int]:
    """Return (height, width) of an Image-like message."""
    return int(msg.height), int(msg.width)

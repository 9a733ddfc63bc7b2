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
Raw camera frames in the episode bag: kept as they arrive, or transcoded to JPEG / PNG.

The recorder stores every camera message at its native resolution. ``sensor_msgs/Image`` can
be kept as it is (``keep``), transcoded to ``sensor_msgs/CompressedImage`` (``jpeg`` or
``png``, recorded on ``<topic>/compressed`` as image_transport names it), or not recorded
(``skip``); ``CompressedImage`` topics are always kept as they arrive. Functions here take and
return serialized CDR, so the node never deserializes into Python objects on its hot path.
"""

from typing import Tuple

import numpy as np

from aloe_ros.storage.episode_file import decode, encode

IMAGE_TYPE = 'sensor_msgs/msg/Image'
COMPRESSED_TYPE = 'sensor_msgs/msg/CompressedImage'
TRANSCODE_MODES = ('keep', 'jpeg', 'png', 'skip')

# encoding -> (channels, numpy dtype, cv2 colour conversion to BGR or None)
_ENCODINGS = {
    'rgb8': (3, np.uint8, 'rgb'), 'bgr8': (3, np.uint8, None), 'mono8': (1, np.uint8, None),
    'rgba8': (4, np.uint8, 'rgba'), 'bgra8': (4, np.uint8, 'bgra'), 'mono16': (1, np.uint16, None),
    '16UC1': (1, np.uint16, None), '8UC1': (1, np.uint8, None), '8UC3': (3, np.uint8, None),
}


def compressed_topic(topic: str) -> str:
    """Return the image_transport ``compressed`` topic of a raw image topic."""
    return topic.rstrip('/') + '/compressed'


def image_array(msg) -> Tuple[np.ndarray, bool]:
    """Return a decoded Image's pixels as cv2 expects them (BGR order) and whether it is 16-bit."""
    spec = _ENCODINGS.get(msg.encoding)
    if spec is None:
        raise ValueError(f'cannot transcode encoding {msg.encoding!r} '
                         f'(supported: {", ".join(sorted(_ENCODINGS))})')
    channels, dtype, order = spec
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    itemsize = np.dtype(dtype).itemsize
    buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if h <= 0 or w <= 0 or step < w * channels * itemsize or buf.size < h * step:
        raise ValueError(f'image {w}x{h} {msg.encoding}: {buf.size} bytes with step {step} '
                         'do not hold it')
    rows = buf[:h * step].reshape(h, step)[:, :w * channels * itemsize]
    big = bool(msg.is_bigendian)
    arr = rows.copy().view(np.dtype(dtype).newbyteorder('>' if big else '<')).astype(dtype)
    arr = arr.reshape(h, w, channels) if channels > 1 else arr.reshape(h, w)
    if order == 'rgb':
        arr = arr[:, :, ::-1]
    elif order == 'rgba':
        arr = arr[:, :, [2, 1, 0]]
    elif order == 'bgra':
        arr = arr[:, :, :3]
    return np.ascontiguousarray(arr), itemsize == 2


def transcode(image_cdr: bytes, mode: str, jpeg_quality: int = 90) -> bytes:
    """
    Return a CompressedImage (CDR) holding an Image (CDR) encoded as ``jpeg`` or ``png``.

    Header (stamp, frame_id) is kept. The ``format`` field follows image_transport's
    compressed plugin (``"<encoding>; jpeg compressed bgr8"``). 16-bit images only go to PNG.
    Raises ValueError for an encoding or size that cannot be transcoded.
    """
    import cv2
    if mode not in ('jpeg', 'png'):
        raise ValueError(f'transcode mode must be jpeg or png, not {mode!r}')
    msg = decode(IMAGE_TYPE, image_cdr)
    arr, wide = image_array(msg)
    if wide and mode == 'jpeg':
        raise ValueError(f'{msg.encoding} is 16-bit: JPEG would lose it, use png')
    if mode == 'jpeg':
        ok, data = cv2.imencode('.jpg', arr, [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)])
    else:
        ok, data = cv2.imencode('.png', arr, [int(cv2.IMWRITE_PNG_COMPRESSION), 1])
    if not ok:
        raise ValueError(f'cv2 could not encode a {msg.width}x{msg.height} {msg.encoding} image')
    target = 'bgr8' if arr.ndim == 3 else ('mono16' if wide else 'mono8')
    out = {'header': {'stamp': {'sec': int(msg.header.stamp.sec),
                                'nanosec': int(msg.header.stamp.nanosec)},
                      'frame_id': msg.header.frame_id},
           'format': f'{msg.encoding}; {mode} compressed {target}',
           'data': data.tobytes()}
    return encode(COMPRESSED_TYPE, out)


def decode_compressed(compressed_cdr: bytes) -> np.ndarray:
    """Decode a CompressedImage (CDR) to uint8 (h, w, 3) RGB (or uint16 (h, w) for mono16 PNG)."""
    import cv2
    msg = decode(COMPRESSED_TYPE, compressed_cdr)
    arr = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ValueError(f'CompressedImage ({msg.format!r}) holds no decodable image')
    if arr.ndim == 3:
        return np.ascontiguousarray(arr[:, :, 2::-1])
    return arr

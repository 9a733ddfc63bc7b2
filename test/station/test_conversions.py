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

"""sensor_msgs/Image <-> numpy conversions (ROS-free, duck-typed messages)."""

from types import SimpleNamespace

import numpy as np
import pytest

from aloe_ros.station import conversions as conv


def _msg(arr, encoding, pad=0, bigendian=False):
    arr = np.asarray(arr)
    h, w = arr.shape[:2]
    row = arr.reshape(h, -1)
    if bigendian:
        row = row.astype(row.dtype.newbyteorder('>'))
    raw = row.view(np.uint8).reshape(h, -1)
    padded = np.concatenate([raw, np.full((h, pad), 0xAB, np.uint8)], axis=1)
    return SimpleNamespace(height=h, width=w, encoding=encoding, is_bigendian=int(bigendian),
                           step=raw.shape[1] + pad, data=padded.tobytes())


@pytest.mark.parametrize('encoding,channels,dtype', [
    ('rgb8', 3, np.uint8), ('bgr8', 3, np.uint8), ('rgba8', 4, np.uint8),
    ('mono8', 1, np.uint8), ('16UC1', 1, np.uint16)])
@pytest.mark.parametrize('pad', [0, 5])
def test_decode_roundtrip_with_padding(encoding, channels, dtype, pad):
    rng = np.random.default_rng(0)
    shape = (7, 9, channels) if channels > 1 else (7, 9)
    arr = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)
    out = conv.image_to_numpy(_msg(arr, encoding, pad=pad))
    assert out.dtype == dtype and out.shape == shape
    np.testing.assert_array_equal(out, arr)


def test_big_endian_16uc1():
    arr = np.array([[1, 256, 65535]], np.uint16)
    np.testing.assert_array_equal(conv.image_to_numpy(_msg(arr, '16UC1', bigendian=True)), arr)


def test_fill_image_roundtrip_and_real_message():
    from sensor_msgs.msg import Image
    arr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    msg = conv.numpy_to_image(arr, 'rgb8')
    assert isinstance(msg, Image) and msg.step == 18 and msg.width == 6 and msg.height == 4
    np.testing.assert_array_equal(conv.image_to_numpy(msg), arr)
    depth = np.array([[0, 1000], [2000, 65535]], np.uint16)
    np.testing.assert_array_equal(conv.image_to_numpy(conv.numpy_to_image(depth, '16UC1')), depth)


def test_colour_conversions_to_rgb():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 200  # red
    bgr = rgb[..., ::-1].copy()
    np.testing.assert_array_equal(conv.to_rgb8(_msg(bgr, 'bgr8')), rgb)
    rgba = np.concatenate([rgb, np.full((2, 2, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(conv.to_rgb8(_msg(rgba, 'rgba8')), rgb)
    mono = np.full((2, 2), 9, np.uint8)
    assert (conv.to_rgb8(_msg(mono, 'mono8')) == 9).all()
    depth = np.full((2, 2), 0x1234, np.uint16)
    assert (conv.to_rgb8(_msg(depth, '16UC1')) == 0x12).all()


def test_resize_to_policy_size():
    arr = np.zeros((480, 640, 3), np.uint8)
    arr[:240] = 255
    out = conv.decode_resize_rgb8(_msg(arr, 'rgb8'), 64, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out[:31].min() == 255 and out[33:].max() == 0
    assert conv.resize(np.zeros((10, 10), np.uint8), 4, 5).shape == (4, 5)


@pytest.mark.parametrize('mutate,match', [
    (lambda m: setattr(m, 'encoding', 'yuv422'), 'unsupported encoding'),
    (lambda m: setattr(m, 'step', 3), 'step'),
    (lambda m: setattr(m, 'data', m.data[:-10]), 'data has'),
    (lambda m: setattr(m, 'width', 0), 'empty image'),
    (lambda m: setattr(m, 'height', 100000), 'exceeds the limit|data has'),
])
def test_bad_images_rejected_with_reason(mutate, match):
    msg = _msg(np.zeros((4, 4, 3), np.uint8), 'rgb8')
    mutate(msg)
    with pytest.raises(conv.ImageError, match=match):
        conv.image_to_numpy(msg)


def test_oversized_image_rejected():
    msg = _msg(np.zeros((100, 100, 3), np.uint8), 'rgb8')
    with pytest.raises(conv.ImageError, match='exceeds the limit'):
        conv.image_to_numpy(msg, max_bytes=1000)


def test_fill_rejects_mismatched_array():
    with pytest.raises(conv.ImageError):
        conv.numpy_to_image(np.zeros((2, 2, 3), np.float32), 'rgb8', msg_factory=SimpleNamespace)
    with pytest.raises(conv.ImageError):
        conv.numpy_to_image(np.zeros((2, 2, 4), np.uint8), 'rgb8', msg_factory=SimpleNamespace)


def test_backend_is_reported():
    assert conv.IMAGE_BACKEND in ('cv_bridge', 'aloe_ros.station.conversions')

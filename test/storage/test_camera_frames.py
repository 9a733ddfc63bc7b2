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

"""Raw camera frames: JPEG / PNG transcoding of recorded Images; sim frame ids."""

import os
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from aloe_ros.sim.robot import CAMERAS, camera_frame_id
from aloe_ros.storage.camera_frames import compressed_topic, decode_compressed, transcode
from aloe_ros.storage.convert import image_message
from aloe_ros.storage.episode_file import decode, encode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _image(arr, encoding='rgb8', stamp_ns=1_500_000_123, frame='cam_high_optical_frame'):
    msg = image_message(arr if arr.ndim == 3 else np.repeat(arr[..., None], 3, 2), stamp_ns, frame)
    if encoding == 'bgr8':
        msg['data'] = np.ascontiguousarray(arr[:, :, ::-1]).tobytes()
    elif encoding == 'mono8':
        msg.update(data=arr.tobytes(), step=arr.shape[1])
    elif encoding == 'mono16':
        msg.update(data=arr.astype('<u2').tobytes(), step=arr.shape[1] * 2)
    msg['encoding'] = encoding
    return encode('sensor_msgs/msg/Image', msg)


def _scene(h=48, w=64):
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([np.clip(3 * x, 0, 255), np.clip(4 * y, 0, 255), np.full((h, w), 90)], -1)
    return arr.astype(np.uint8)


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8'])
def test_png_transcode_is_lossless_and_keeps_the_header(encoding):
    arr = _scene()
    out = transcode(_image(arr, encoding), 'png')
    msg = decode('sensor_msgs/msg/CompressedImage', out)
    assert msg.header.frame_id == 'cam_high_optical_frame'
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1, 500_000_123)
    assert msg.format == f'{encoding}; png compressed bgr8'
    np.testing.assert_array_equal(decode_compressed(out), arr)


def test_jpeg_transcode_is_close_and_smaller():
    arr = _scene(240, 320)
    raw = _image(arr)
    out = transcode(raw, 'jpeg', jpeg_quality=90)
    assert len(out) < len(raw) / 5
    assert np.abs(decode_compressed(out).astype(int) - arr.astype(int)).mean() < 3


def test_mono16_goes_to_png_only():
    depth = (np.arange(48 * 64).reshape(48, 64) * 7).astype(np.uint16)
    out = transcode(_image(depth, 'mono16'), 'png')
    np.testing.assert_array_equal(decode_compressed(out), depth)
    with pytest.raises(ValueError, match='16-bit'):
        transcode(_image(depth, 'mono16'), 'jpeg')


@pytest.mark.parametrize('mutate, message', [
    (lambda m: m.update(encoding='yuv422'), 'cannot transcode encoding'),
    (lambda m: m.update(data=m['data'][:100]), 'do not hold it'),
    (lambda m: m.update(step=3), 'do not hold it'),
])
def test_malformed_images_are_refused(mutate, message):
    msg = image_message(_scene(), 0, 'f')
    mutate(msg)
    with pytest.raises(ValueError, match=message):
        transcode(encode('sensor_msgs/msg/Image', msg), 'jpeg')


def test_compressed_topic_follows_image_transport():
    assert compressed_topic('/cam_high/image_raw') == '/cam_high/image_raw/compressed'


def test_sim_cameras_are_stamped_with_the_urdf_optical_frames():
    links = {link.get('name')
             for link in ET.parse(os.path.join(ROOT, 'urdf', 'aloe_bimanual.urdf'))
             .getroot().iter('link')}
    for cam in CAMERAS:
        assert camera_frame_id(cam) in links

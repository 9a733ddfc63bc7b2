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

"""The recorder keeps the station's topics: raw, transcoded or compressed cameras, joint states."""

import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState  # noqa: E402

from aloe_ros.learning.episode import OUTCOME_SUCCESS  # noqa: E402
from aloe_ros.storage.bag import read_bag_metadata  # noqa: E402
from aloe_ros.storage.camera_frames import decode_compressed  # noqa: E402
from aloe_ros.storage.episode_file import iter_messages  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the helper module beside this one
from test_recorder_node import Driver  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(101, 200)))
SENSOR = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)


def _diag(driver, key):
    best = 0
    for msg in driver.diagnostics:
        for status in msg.status:
            if 'aloe_recorder' in status.name:
                for kv in status.values:
                    if kv.key == key:
                        best = max(best, int(float(kv.value)))
    return best


def test_station_topics_recorded_with_jpeg_transcoding(tmp_path):
    root = str(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'aloe_ros.nodes.recorder', '--ros-args', '-p',
         f'storage_root:={root}',
         '-p', 'camera_transcode:=jpeg', '-p',
         "compressed_camera_topics:=['/wrist/image/compressed']"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    driver = Driver(proc, root)
    try:
        n = driver.node
        cam = n.create_publisher(Image, '/cam_high/image_raw', SENSOR)
        odd = n.create_publisher(Image, '/cam_left_wrist/image_raw', SENSOR)
        wrist = n.create_publisher(CompressedImage, '/wrist/image/compressed', SENSOR)
        arm = n.create_publisher(JointState, '/follower_left/joint_states', SENSOR)
        y, x = np.mgrid[0:48, 0:64]
        frame = np.stack([3 * x, 4 * y, np.full_like(x, 90)], -1).astype(np.uint8)
        import cv2
        jpeg = cv2.imencode('.jpg', frame[:, :, ::-1])[1].tobytes()
        res = driver.start()
        assert res.success, res.message
        eid = res.episode_id

        def publish():
            img = Image(height=48, width=64, encoding='rgb8', step=192, data=frame.tobytes())
            img.header.frame_id = 'cam_high_optical_frame'
            cam.publish(img)
            odd.publish(Image(height=2, width=2, encoding='yuv422', step=4, data=bytes(8)))
            wrist.publish(CompressedImage(format='jpeg', data=jpeg))
            arm.publish(JointState(name=['a', 'b'], position=[0.1, 0.2]))
            driver.spin(0.05)

        keys = ('msgs_cam_high_image_raw_compressed', 'msgs_cam_left_wrist_image_raw',
                'msgs_wrist_image_compressed', 'msgs_follower_left_joint_states')

        def enough():
            publish()
            return all(_diag(driver, k) >= 3 for k in keys)
        assert driver.wait_for(enough, 120.0), {k: _diag(driver, k) for k in keys}
        res = driver.end(OUTCOME_SUCCESS)
        assert res.success, res.message
        assert driver.wait_for(lambda: driver.summaries, 60.0)
        bag = driver.summaries[-1].uri[len('file://'):]
        info = read_bag_metadata(bag)
        topics = {t['topic_metadata']['name']: t for t in info['topics_with_message_count']}
        count = {k: t['message_count'] for k, t in topics.items()}
        assert count['/cam_high/image_raw/compressed'] >= 3
        assert topics['/cam_high/image_raw/compressed']['topic_metadata']['type'] == \
            'sensor_msgs/msg/CompressedImage'
        # Not transcodable: kept raw on its own topic, nothing lost.
        assert count['/cam_left_wrist/image_raw'] >= 3
        assert count['/wrist/image/compressed'] >= 3 and count['/follower_left/joint_states'] >= 3
        assert '/cam_high/image_raw' not in count
        # registered, never published
        assert count.get('/cam_right_wrist/image_raw/compressed') == 0
        mcap = os.path.join(bag, info['relative_file_paths'][0])
        first = next(iter_messages(mcap, ['/cam_high/image_raw/compressed']))[2]
        assert first.header.frame_id == 'cam_high_optical_frame'
        from aloe_ros.storage.episode_file import encode
        pixels = decode_compressed(encode('sensor_msgs/msg/CompressedImage', first))
        assert pixels.shape == frame.shape and np.abs(pixels.astype(int) - frame).mean() < 4
        assert _diag(driver, 'transcode_errors') >= 3
        assert eid in bag
    finally:
        driver.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(proc.stdout.read())


def test_robot_profile_topics_recorded_with_camera_calibration(tmp_path):
    """With the ALOHA profile: RealSense image and CameraInfo topics, the arms' joint states."""
    root = str(tmp_path)
    profile = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'config',
                           'robots', 'aloha.yaml')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'aloe_ros.nodes.recorder', '--ros-args', '-p',
         f'storage_root:={root}', '-p', f'robot_profile:={profile}'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    driver = Driver(proc, root)
    try:
        n = driver.node
        cam = n.create_publisher(Image, '/cam_high/camera/color/image_rect_raw', SENSOR)
        info_pub = n.create_publisher(CameraInfo, '/cam_high/camera/color/camera_info', SENSOR)
        arm = n.create_publisher(JointState, '/follower_left/joint_states', SENSOR)
        info = CameraInfo(width=4, height=2, distortion_model='plumb_bob',
                          k=[3.0, 0, 1.5, 0, 3.0, 0.5, 0, 0, 1])
        info.header.frame_id = 'cam_high_color_optical_frame'
        res = driver.start()
        assert res.success, res.message

        def enough():
            cam.publish(Image(height=2, width=4, encoding='rgb8', step=12, data=bytes(24)))
            info_pub.publish(info)
            arm.publish(JointState(name=['waist'], position=[0.1]))
            driver.spin(0.05)
            return all(_diag(driver, k) >= 3 for k in (
                'msgs_cam_high_camera_color_image_rect_raw',
                'msgs_cam_high_camera_color_camera_info', 'msgs_follower_left_joint_states'))
        assert driver.wait_for(enough, 120.0)
        res = driver.end(OUTCOME_SUCCESS)
        assert res.success, res.message
        assert driver.wait_for(lambda: driver.summaries, 60.0)
        bag = driver.summaries[-1].uri[len('file://'):]
        meta = read_bag_metadata(bag)
        topics = {t['topic_metadata']['name']: t for t in meta['topics_with_message_count']}
        assert topics['/cam_high/camera/color/camera_info']['topic_metadata']['type'] == \
            'sensor_msgs/msg/CameraInfo'
        assert topics['/cam_high/camera/color/camera_info']['message_count'] >= 3
        assert topics['/cam_high/camera/color/image_rect_raw']['message_count'] >= 3
        # The profile's other cameras and /joint_states are registered; the defaults are not.
        assert '/cam_right_wrist/camera/color/camera_info' in topics and '/joint_states' in topics
        assert '/cam_high/image_raw' not in topics and '/cam_high/camera_info' not in topics
        mcap = os.path.join(bag, meta['relative_file_paths'][0])
        recorded = next(iter_messages(mcap, ['/cam_high/camera/color/camera_info']))[2]
        assert recorded.header.frame_id == 'cam_high_color_optical_frame'
        assert list(recorded.k) == [3.0, 0, 1.5, 0, 3.0, 0.5, 0, 0, 1]
    finally:
        driver.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(proc.stdout.read())

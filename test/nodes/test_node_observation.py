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

"""The observation node as a real process over DDS: aligned output, bad input refused, stale."""

from aloe_msgs.msg import EpisodeEvent, Observation
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from sensor_msgs.msg import Image, JointState

from aloe_ros.station.conversions import image_to_numpy, numpy_to_image
from aloe_ros.nodes.common import DIAGNOSTICS, LATCHED, SENSOR_DATA, diagnostic_values

pytestmark = pytest.mark.ros
CAMS = ['cam_high', 'cam_left_wrist']
ARM = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate', 'gripper']


def test_observation_process(ros, start_node):
    proc = start_node('aloe_ros.nodes.observation', {
        'camera_names': CAMS, 'image_height': 32, 'image_width': 40, 'slop': 0.05,
        'staleness_limit': 0.5, 'task_instruction': 'pick the cube', 'max_image_bytes': 200000})
    node = ros.node
    out = ros.collect(Observation, '/aloe/observation', SENSOR_DATA)
    diags = ros.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    cam_pubs = {c: node.create_publisher(Image, f'/{c}/image_raw', SENSOR_DATA) for c in CAMS}
    arm_pubs = {a: node.create_publisher(JointState, f'/follower_{a}/joint_states', SENSOR_DATA)
                for a in ('left', 'right')}
    event_pub = node.create_publisher(EpisodeEvent, '/aloe/episode_event', LATCHED)
    red = np.zeros((120, 160, 3), np.uint8)
    red[..., 2] = 255  # red in bgr8
    state = {'bad': None}

    def feed():
        stamp = node.get_clock().now().to_msg()
        for c, pub in cam_pubs.items():
            img = numpy_to_image(red, 'bgr8')
            img.header.stamp = stamp
            img.header.frame_id = c + '_optical'
            pub.publish(img)
        for a, pub in arm_pubs.items():
            js = JointState(name=ARM, position=[0.1 * i for i in range(6)] + [0.25], velocity=[0.0]
                            * 7)
            js.header.stamp = stamp
            pub.publish(js)
        if state['bad'] is not None:
            state['bad'](stamp)

    # Generous deadlines (free when on time): a node's start-up has taken 75 s under a CPU hog.
    assert ros.spin_until(lambda: len(out) > 3, timeout=300, every=feed, period=0.03), \
        proc.output()
    obs = out[-1]
    assert obs.camera_names == CAMS and obs.task_instruction == 'pick the cube'
    assert obs.joint_names[0] == 'left_waist' and len(obs.position) == 12
    np.testing.assert_allclose(obs.gripper, [0.25, 0.25])
    img = image_to_numpy(obs.images[0])
    assert obs.images[0].encoding == 'rgb8' and img.shape == (32, 40, 3)
    assert img[..., 0].min() == 255 and img[..., 2].max() == 0  # converted to RGB
    assert obs.images[1].header.frame_id == 'cam_left_wrist_optical'
    assert not obs.stale

    # Episode event carries a new instruction.
    assert ros.wait_matched(event_pub)
    event_pub.publish(EpisodeEvent(episode_id='e1', event=EpisodeEvent.EVENT_STARTED,
                                   task_instruction='hand over the cube'))
    assert ros.spin_until(lambda: out[-1].task_instruction == 'hand over the cube', timeout=60,
                          every=feed,
                          period=0.03)

    # Bad input on every feed: unknown joints, NaN, oversized image. Rejected, counted, still
    # running.
    def bad(stamp):
        js = JointState(name=ARM[:-1] + ['thumb'], position=[0.0] * 7)
        js.header.stamp = stamp
        arm_pubs['left'].publish(js)
        js = JointState(name=ARM, position=[float('nan')] * 7)
        js.header.stamp = stamp
        arm_pubs['right'].publish(js)
        big = numpy_to_image(np.zeros((300, 300, 3), np.uint8), 'rgb8')
        big.header.stamp = stamp
        cam_pubs['cam_high'].publish(big)
    state['bad'] = bad

    def rejected():
        vals = [diagnostic_values(d, 'observation') for d in diags]
        return any(int(v.get('rejected_unknown_joint', 0)) > 0
                   and int(v.get('rejected_nan', 0)) > 0
                   and int(v.get('rejected_oversized_image', 0)) > 0 for v in vals)
    assert ros.spin_until(rejected, timeout=60, every=feed, period=0.03), proc.output()
    assert proc.alive()
    n = len(out)
    state['bad'] = None
    assert ros.spin_until(lambda: len(out) > n + 3, timeout=60, every=feed, period=0.03)
    log = proc.output()
    assert log.count("unknown joints ['thumb']") == 1  # once per cause, not per message

    # Inputs stop: observations keep coming, flagged stale.
    assert ros.spin_until(lambda: out[-1].stale, timeout=60)
    assert proc.stop() == 0, proc.output()


def test_oversized_image_refused_on_its_byte_count_unread(ros):
    from rclpy.parameter import Parameter

    from aloe_ros.nodes.observation import IMAGE_OVERHEAD_BYTES, ObservationNode
    node = ObservationNode(context=ros.context,
                           parameter_overrides=[Parameter('max_image_bytes', value=1024)])
    try:
        def never(camera, msg):
            raise AssertionError('an oversized image message was deserialized and handled')
        node._on_data('cam_high', bytes(1024 + IMAGE_OVERHEAD_BYTES + 1), Image, never)
        assert node.diag.counter('rejected_oversized_image') == 1
        assert node.diag.counter('rejected') == 1
    finally:
        node.destroy_node()


def test_arrival_publishes_each_completed_set_at_once(ros, start_node):
    """With publish_on arrival a 1 Hz timer does not pace observations: every set is published."""
    proc = start_node('aloe_ros.nodes.observation', {
        'camera_names': CAMS, 'image_height': 16, 'image_width': 16, 'slop': 0.05,
        'staleness_limit': 1.0, 'rate': 1.0, 'keepalive_period': 10.0})
    node = ros.node
    out = ros.collect(Observation, '/aloe/observation', SENSOR_DATA)
    cam_pubs = {c: node.create_publisher(Image, f'/{c}/image_raw', SENSOR_DATA) for c in CAMS}
    arm_pubs = {a: node.create_publisher(JointState, f'/follower_{a}/joint_states', SENSOR_DATA)
                for a in ('left', 'right')}
    fed = []

    def feed():
        stamp = node.get_clock().now().to_msg()
        fed.append((stamp.sec, stamp.nanosec))
        for pub in cam_pubs.values():
            img = numpy_to_image(np.zeros((24, 32, 3), np.uint8), 'rgb8')
            img.header.stamp = stamp
            pub.publish(img)
        for pub in arm_pubs.values():
            js = JointState(name=ARM, position=[0.0] * 7)
            js.header.stamp = stamp
            pub.publish(js)

    def stamps():
        return {(o.header.stamp.sec, o.header.stamp.nanosec) for o in out}
    # Start-up under a CPU hog can take a minute: wait for the first observation first.
    assert ros.spin_until(lambda: out, timeout=300, every=feed, period=0.1), proc.output()
    first = len(stamps())
    start = node.get_clock().now().nanoseconds * 1e-9
    assert ros.spin_until(lambda: len(stamps()) >= first + 10, timeout=120, every=feed,
                          period=0.1), proc.output()
    elapsed = node.get_clock().now().nanoseconds * 1e-9 - start
    # A 1 Hz timer would need >= 9 s for 10 new observations; arrival takes ~1 s of feeding.
    assert elapsed < 6.0, f'10 observations took {elapsed:.1f} s: paced by the timer?'
    # Each observation is one fed set, stamped with that set's stamp (to the float seconds'
    # precision the node computes in).
    fed_s = np.array([sec + nsec * 1e-9 for sec, nsec in fed])
    assert all(np.abs(fed_s - (sec + nsec * 1e-9)).min() < 1e-5 for sec, nsec in stamps())
    assert proc.stop() == 0, proc.output()

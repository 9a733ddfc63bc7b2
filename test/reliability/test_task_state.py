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

"""Task state through real processes: TaskState -> observation node -> Observation -> policy."""

import os

from aloe_msgs.msg import ActionChunk, Observation, TaskState
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import UInt32

from aloe_ros.nodes.common import (DIAGNOSTICS, SENSOR_DATA, diagnostic_values, latched,
                                   reliable)
from aloe_ros.station.conversions import numpy_to_image
from reliability_harness import TINY_CONFIG, observation_msg, synthetic_episode

pytestmark = pytest.mark.ros
ARM = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate', 'gripper']
NAMES = [f'block_{k}' for k in ('x', 'y', 'z', 'qw', 'qx', 'qy', 'qz')] + ['zone_x', 'zone_y']


def test_observation_node_aligns_task_state_and_rejects_bad_values(driver, start_node):
    proc = start_node('aloe_ros.nodes.observation', {
        'camera_names': ['cam_high'], 'image_height': 16, 'image_width': 16, 'slop': 0.05,
        'staleness_limit': 0.5, 'task_state_topic': '/sim/task_state'})
    node = driver.node
    out = driver.collect(Observation, '/aloe/observation', SENSOR_DATA)
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    cam = node.create_publisher(Image, '/cam_high/image_raw', SENSOR_DATA)
    arms = {a: node.create_publisher(JointState, f'/follower_{a}/joint_states', SENSOR_DATA)
            for a in ('left', 'right')}
    state_pub = node.create_publisher(TaskState, '/sim/task_state', SENSOR_DATA)
    mode = {'state': 'none'}

    def feed():
        stamp = driver.stamp()
        img = numpy_to_image(np.zeros((16, 16, 3), np.uint8), 'rgb8')
        img.header.stamp = stamp
        cam.publish(img)
        for a, pub in arms.items():
            js = JointState(name=ARM, position=[0.0] * 7)
            js.header.stamp = stamp
            pub.publish(js)
        if mode['state'] != 'none':
            values = [float(i) for i in range(9)]
            if mode['state'] == 'nan':
                values[3] = float('nan')
            msg = TaskState(names=NAMES, values=values)
            msg.header.stamp = stamp
            state_pub.publish(msg)

    # The task state is a source like the others: no observation before it arrives.
    driver.spin_for(1.0, feed, 0.05)
    assert not out, 'published an observation without the configured task state'
    mode['state'] = 'good'
    assert driver.spin_until(lambda: out, 20.0, feed, 0.05), proc.output()
    assert list(out[-1].task_state_names) == NAMES
    np.testing.assert_allclose(out[-1].task_state, np.arange(9.0))

    mode['state'] = 'nan'

    def counted():
        return any(int(diagnostic_values(d, 'observation').get('rejected_nan', 0)) > 0
                   for d in diags)
    assert driver.spin_until(counted, 20.0, feed, 0.05), proc.output()
    assert proc.alive()
    assert 'NaN/inf in task state' in proc.output()
    assert proc.stop() == 0, proc.output()


@pytest.fixture
def state_model(tmp_path):
    """Build a tiny model that reads 9 task-state values, with exported weights."""
    import yaml

    from aloe_ros.learning.config import load_config
    from aloe_ros.learning.episode import InMemoryEpisodeSource
    from aloe_ros.learning.trainer import AloeTrainer
    with open(TINY_CONFIG) as f:
        cfg = yaml.safe_load(f)
    cfg['model']['extra_state_dim'] = 9
    path = str(tmp_path / 'state_model.yaml')
    with open(path, 'w') as f:
        yaml.safe_dump(cfg, f)
    ep = synthetic_episode('w0')
    ep.extra['state'] = np.zeros((len(ep), 9), np.float32)
    trainer = AloeTrainer(load_config(path), InMemoryEpisodeSource([ep]))
    trainer.refresh()
    weights = str(tmp_path / 'weights')
    os.makedirs(weights)
    return path, weights, trainer.export(weights)


def test_policy_with_a_state_model_plans_only_from_observations_with_task_state(
        driver, start_node, state_model):
    config, weights, info = state_model
    proc = start_node('aloe_ros.nodes.policy', {
        'learner_config': config, 'weights_dir': weights, 'initial_weights': info.path,
        'initial_sha256': info.sha256, 'initial_version': 1, 'replan_period': 0.1,
        'max_observation_age': 1.0})
    node = driver.node
    chunks = driver.collect(ActionChunk, '/aloe/action_chunk', reliable(5))
    versions = driver.collect(UInt32, '/aloe/policy/version', latched(1))
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    assert driver.spin_until(lambda: versions and obs_pub.get_subscription_count() > 0,
                             120), proc.output()

    # Without a task state: refused with a message that says what to set, no chunk.
    assert driver.spin_until(lambda: 'task_state_topic' in proc.output(), 20.0,
                             lambda: obs_pub.publish(observation_msg(driver)), 0.1)
    assert not chunks and proc.alive()

    def with_state():
        msg = observation_msg(driver)
        msg.task_state_names = NAMES
        msg.task_state = [0.1] * 9
        obs_pub.publish(msg)
    assert driver.spin_until(lambda: chunks, 20.0, with_state, 0.1), proc.output()
    assert len(chunks[-1].actions) > 0
    assert proc.stop() == 0, proc.output()

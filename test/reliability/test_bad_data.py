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

"""Bad data on disk must not stop learning: recorder -> store -> learner, real processes."""

from aloe_msgs.msg import ExecutedStep, LearnerStatus, Observation
from aloe_msgs.srv import EndEpisode, StartEpisode
import pytest
from reliability_harness import TINY_CONFIG, synthetic_episode, wait_recorded
from sensor_msgs.msg import Image

from aloe_ros.learning.episode import OUTCOME_SUCCESS, SOURCE_POLICY
from aloe_ros.nodes.common import SENSOR_DATA, reliable

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_unreadable_episode_is_skipped_and_learning_goes_on(driver, start_node, tmp_path):
    from aloe_ros.storage import EpisodeStore
    root, weights = str(tmp_path / 'store'), str(tmp_path / 'weights')
    store = EpisodeStore(root, mode='w')
    store.add_episode(synthetic_episode('good0'))
    store.close()
    # The recorder stores observations as received: one with an undecodable image lands in an
    # episode.
    recorder = start_node('aloe_ros.nodes.recorder', {'storage_root': root})
    node = driver.node
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    step_pub = node.create_publisher(ExecutedStep, '/aloe/executed_step', reliable(200))
    start = driver.call(node.create_client(StartEpisode, '/aloe/start_episode'),
                        StartEpisode.Request(), 300)
    assert start is not None and start.success, recorder.output()
    for k in range(12):
        obs = Observation(camera_names=['cam_high'], joint_names=[f'j{i}' for i in range(12)],
                          position=[0.0] * 12, gripper=[0.5, 0.5])
        obs.images = [Image(height=4, width=4, encoding='bogus', step=12, data=bytes(48))]
        obs.header.stamp = driver.stamp()
        obs_pub.publish(obs)
        driver.spin_for(0.01)
        step = ExecutedStep(episode_id=start.episode_id, step_index=k, source=SOURCE_POLICY,
                            policy_version=1,
                            action=[0.0] * 14, observed_position=[0.0] * 14)
        step.header.stamp = driver.stamp()
        step_pub.publish(step)
        driver.spin_for(0.02)
    # Every step on disk before the end (a fixed pause was overrun under load).
    assert wait_recorded(driver, root, start.episode_id, 12), recorder.output()
    end = driver.call(node.create_client(EndEpisode, '/aloe/end_episode'),
                      EndEpisode.Request(outcome=OUTCOME_SUCCESS), 30)
    assert end is not None and end.success and end.num_steps == 12, (end, recorder.output())
    assert recorder.stop() == 0

    statuses = driver.collect(LearnerStatus, '/aloe/learner_status', reliable(10))
    learner = start_node('aloe_ros.nodes.learner', {
        'learner_config': TINY_CONFIG, 'store_root': root, 'weights_dir': weights,
        'episodes_per_iteration': 1, 'critic_steps': 10, 'actor_steps': 10, 'poll_period': 0.2,
        'status_period': 0.2})
    # The learner's start-up (torch) has taken minutes under a CPU hog.
    assert driver.spin_until(lambda: statuses and statuses[-1].policy_version >= 1, 600), \
        [(s.state, s.message) for s in statuses[-3:]] + [learner.output()]
    assert learner.alive()
    # The good episode was used, the unreadable one skipped (not retried on every poll).
    assert statuses[-1].num_episodes == 1 and statuses[-1].state != LearnerStatus.STATE_ERROR

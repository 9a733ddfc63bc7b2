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

"""The policy node as a real process re-plans on observation arrival, not on a free timer."""

import time

from aloe_msgs.msg import ActionChunk, Observation
import pytest
from std_msgs.msg import UInt32

from aloe_ros.nodes.common import SENSOR_DATA, latched, reliable, stamp_to_sec
from reliability_harness import TINY_CONFIG, make_weights, observation_msg

pytestmark = pytest.mark.ros
PERIOD = 10.0  # the longest replan_period: a timer-driven node would plan at most every 10 s


def test_policy_plans_from_each_due_observation_as_it_arrives(driver, start_node, tmp_path):
    weights = str(tmp_path / 'weights')
    info = make_weights(weights, TINY_CONFIG)
    proc = start_node('aloe_ros.nodes.policy', {
        'learner_config': TINY_CONFIG, 'weights_dir': weights, 'initial_weights': info.path,
        'initial_sha256': info.sha256, 'initial_version': 1, 'replan_period': PERIOD,
        'max_observation_age': 1.0})
    node = driver.node
    chunks = driver.collect(ActionChunk, '/aloe/action_chunk', reliable(5))
    versions = driver.collect(UInt32, '/aloe/policy/version', latched(1))
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    assert driver.spin_until(lambda: versions and versions[-1].data == 1
                             and obs_pub.get_subscription_count() > 0, 120), proc.output()
    driver.spin_for(0.5)

    # One observation and nothing else. The first one is always due: a chunk computed from it comes
    # at once. (A timer-driven node plans at its next tick, up to 10 s later, when this observation
    # is older than max_observation_age: no chunk.)
    first = observation_msg(driver)
    obs_pub.publish(first)
    assert driver.spin_until(lambda: chunks, 8.0), proc.output()
    assert stamp_to_sec(chunks[0].header.stamp) == stamp_to_sec(first.header.stamp)
    t_first = time.monotonic()

    # Observations keep coming; the next chunk is computed from the first one that arrives once the
    # re-plan is due, PERIOD after the first, and is stamped with that observation's time.
    published = []

    def feed():
        msg = observation_msg(driver)
        published.append((time.monotonic(), stamp_to_sec(msg.header.stamp)))
        obs_pub.publish(msg)

    assert driver.spin_until(lambda: len(chunks) >= 2, PERIOD + 20.0, feed, 0.2), proc.output()
    assert len(chunks) == 2
    # The schedule runs on arrival times: stamps may differ from them by the transport delay of the
    # first observation (tens of ms on a loaded machine), hence the margin below.
    gap = stamp_to_sec(chunks[1].header.stamp) - stamp_to_sec(chunks[0].header.stamp)
    assert PERIOD - 0.5 <= gap <= PERIOD + 3.0, gap
    assert stamp_to_sec(chunks[1].header.stamp) in {s for _, s in published}
    assert time.monotonic() - t_first >= PERIOD - 0.5

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

"""StationClient, the public scripting API, against real recorder and executor processes."""

import pytest

from aloe_ros.learning.episode import OUTCOME_FAILURE, OUTCOME_SUCCESS

pytestmark = pytest.mark.ros


@pytest.fixture
def station_client():
    """A StationClient in rclpy's default context (as a user's script has it)."""
    import rclpy
    from aloe_ros.station import StationClient
    context_was_up = rclpy.ok()
    if not context_was_up:
        rclpy.init()
    client = StationClient('test_station_client')
    yield client
    client.destroy_node()
    if not context_was_up:
        rclpy.shutdown()


def test_station_client_drives_episodes_and_modes(station_client, start_node, tmp_path):
    recorder = start_node('aloe_ros.nodes.recorder', {'storage_root': str(tmp_path / 'store')})
    executor = start_node('aloe_ros.nodes.chunk_executor', {})
    station = station_client
    # generous: a recorder has taken 84 s to start on the loaded 2-core machine
    station.wait_until_ready(timeout=300, sim=False, need_learner=False, policy_version=0)

    first = station.start_episode(task='handover', seed=7)
    with pytest.raises(RuntimeError, match='start_episode refused'):
        station.start_episode(task='handover')          # one is open: the station says so
    station.set_mode(station.MODE_RUN, 'test')
    station.set_mode(station.MODE_HOLD, 'test')
    res = station.end_episode(station.SUCCESS, 'scripted')
    assert res.episode_id == first
    summary = station.wait_for_summary(first, timeout=60)
    assert summary.outcome == OUTCOME_SUCCESS and summary.task == 'handover'

    second = station.start_episode(task='handover', seed=8)
    assert second != first
    station.end_episode(station.FAILURE)
    assert station.wait_for_summary(timeout=60).episode_id == second
    assert station.summaries[second].outcome == OUTCOME_FAILURE
    assert station.ended[second].outcome == OUTCOME_FAILURE
    with pytest.raises(RuntimeError, match='no episode is open'):
        station.end_episode(station.ABORTED)
    with pytest.raises(TimeoutError, match='train_iteration'):
        station.wait_until_ready(timeout=1, sim=False, need_learner=True, policy_version=0)
    assert recorder.alive() and executor.alive()

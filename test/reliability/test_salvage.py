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
A recorder killed with kill -9 mid-episode, and ``aloe salvage`` (real processes).

The quarantined partial is readable up to its last flush, and ``aloe salvage`` turns it into a
truncated episode the learner can use.
"""

from fault_scenarios import kill_and_salvage
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_recorder_kill9_partial_episode_readable_and_salvaged(driver, tmp_path):
    result = kill_and_salvage(driver, str(tmp_path / 'store'), str(tmp_path / 'recorder.log'))
    # Every step that had been on disk before the kill is back, in order, as a truncated episode.
    assert result['status'] == 'complete' and result['truncated'], result
    assert result['durable_steps'] <= result['salvaged_steps'] <= result['published_steps'], result
    assert result['loaded_steps'] == result['salvaged_steps'], result
    assert 'salvaged as episode' in result['salvage_output'], result

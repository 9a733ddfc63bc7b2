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

"""Episode storage: a rosbag2 bag directory per episode, a SQLite catalog, exports (no rclpy)."""

from aloe_ros.storage.catalog import Catalog, EpisodeRecord
from aloe_ros.storage.convert import check_executed_step, make_episode, outcome_flags
from aloe_ros.storage.episode_file import EpisodeFileWriter, TOPIC_TYPES
from aloe_ros.storage.export import export_npz, load_npz
from aloe_ros.storage.schema import message_definition
from aloe_ros.storage.store import EpisodeRecording, EpisodeStore, RewardConfig, StoreLockedError

__all__ = [
    'Catalog', 'EpisodeRecord', 'EpisodeFileWriter', 'EpisodeRecording', 'EpisodeStore',
    'RewardConfig', 'StoreLockedError', 'TOPIC_TYPES', 'check_executed_step', 'export_npz',
    'load_npz', 'make_episode', 'message_definition', 'outcome_flags']

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

"""The Foxglove layout for recorded episodes names recorded topics and fields that exist."""

import json
import os

import pytest

pytest.importorskip('rclpy')
from aloe_ros.nodes.recorder import PARAMS as RECORDER_PARAMS, recorded_name  # noqa: E402
from aloe_ros.storage.episode_file import TOPIC_TYPES  # noqa: E402
from aloe_ros.storage.schema import message_definition  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_foxglove_layout_names_recorded_topics_and_real_fields():
    with open(os.path.join(ROOT, 'config', 'foxglove', 'aloe_episode.json')) as f:
        layout = json.load(f)
    panels = set(layout['configById'])

    def leaves(node):
        return [node] if isinstance(node, str) else leaves(node['first']) + leaves(node['second'])

    assert sorted(leaves(layout['layout'])) == sorted(panels)
    defaults = {p.name: p.default for p in RECORDER_PARAMS}
    # The recorder subscribes to relative names and records them as at the root (recorded_name).
    recorded = {recorded_name(t): 'sensor_msgs/msg/Image' for t in defaults['camera_topics']}
    recorded.update({recorded_name(t): 'sensor_msgs/msg/JointState'
                     for t in defaults['joint_state_topics']})
    recorded.update({t: v[0] for t, v in TOPIC_TYPES.items()})
    paths = []
    for config in layout['configById'].values():
        if 'imageMode' in config and config['imageMode'].get('imageTopic'):
            assert config['imageMode']['imageTopic'] in recorded
        paths += [p['value'] for p in config.get('paths', [])]
        if 'topicPath' in config:
            assert config['topicPath'] in recorded
    assert paths
    for path in paths:
        topic, field = path.split('.', 1)
        field = field.split('[')[0]
        assert topic in recorded, path
        own = message_definition(recorded[topic]).split('=' * 80)[0]
        assert any(line.split()[1:2] == [field] for line in own.splitlines() if line.strip()), path

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

"""A fresh machine: the policy creates its missing weights_dir and says so, once."""

import pytest

from aloe_ros.cli import SUBCOMMANDS
from aloe_ros.learning.checkpoint import actor_filename
from aloe_ros.nodes.common import ConfigError
from aloe_ros.nodes.policy import FIRST_RUN_HINT, ensure_weights_dir


def test_missing_weights_dir_is_created_with_one_log_line(tmp_path):
    lines = []
    target = tmp_path / 'aloe_data' / 'sim_weights'
    ensure_weights_dir(str(target), lines.append)
    assert target.is_dir() and not any(target.iterdir())
    assert len(lines) == 1 and 'did not exist: created it' in lines[0] and str(target) in lines[0]
    # The one line names what to run first and the arguments that take its result.
    assert 'run `aloe train-sim` first' in lines[0]
    assert 'initial_weights:=' in lines[0] and 'initial_sha256:=' in lines[0]
    assert f'/weights/{actor_filename(1)}' in lines[0], 'the BC start of the main job is v1'
    assert '\n' not in lines[0]
    ensure_weights_dir(str(target), lines.append)
    assert len(lines) == 1, 'an existing directory is used silently'


def test_the_hint_names_a_real_aloe_command():
    command = FIRST_RUN_HINT.split('`')[1].split()
    assert command[0] == 'aloe' and command[1] in SUBCOMMANDS, command
    assert SUBCOMMANDS[command[1]][2].startswith('the main job'), 'the README\'s main job'


def test_a_file_in_the_way_is_refused(tmp_path):
    blocker = tmp_path / 'weights'
    blocker.write_text('not a directory')
    with pytest.raises(ConfigError, match='exists and is not a directory'):
        ensure_weights_dir(str(blocker), print)

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

"""The shipped parameter files of the robot-side nodes name only declared, valid parameters."""

import glob
import os

import pytest
import yaml

from aloe_ros.nodes import chunk_executor, observation, teleop
from aloe_ros.nodes.common import ConfigError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULES = {'chunk_executor': chunk_executor, 'observation': observation, 'teleop': teleop}


def _flatten(d, prefix=''):
    for key, value in d.items():
        if isinstance(value, dict):
            yield from _flatten(value, f'{prefix}{key}.')
        else:
            yield f'{prefix}{key}', value


@pytest.mark.parametrize('path',
                         sorted(glob.glob(os.path.join(ROOT, 'config', 'nodes', '*.yaml'))))
def test_param_file_names_declared_parameters_with_valid_values(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    assert doc, path
    for key, section in doc.items():
        # Keyed /**/<node> so the file reaches the node in any namespace (a plain key does not).
        assert key.startswith('/**/'), (path, key)
        module = MODULES[key[len('/**/'):]]
        specs = {s.name: s for s in module.parameter_specs()}
        values = dict(_flatten(section['ros__parameters']))
        assert set(values) <= set(module.PARAMETERS), set(values) - set(module.PARAMETERS)
        merged = {name: spec.default for name, spec in specs.items()}
        merged.update(values)
        for name, value in values.items():
            specs[name].validate(value, merged)


def test_invalid_values_name_the_parameter():
    specs = {s.name: s for s in chunk_executor.parameter_specs()}
    with pytest.raises(ConfigError, match="'command_interface'"):
        specs['command_interface'].validate('effort')
    with pytest.raises(ConfigError, match="'max_velocities'.*expected 14"):
        specs['max_velocities'].validate([1.0] * 3, {'joint_names': list(range(14))})
    with pytest.raises(ConfigError, match='below the minimum'):
        specs['max_velocities'].validate([0.0] * 14, {'joint_names': list(range(14))})

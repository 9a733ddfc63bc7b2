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

"""Static validation of launch files against declared executables and parameters."""

import pathlib
import textwrap

from aloe_ros.launch_tools.validate import validate_launch_file

FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures'


def test_consistent_file_has_no_errors(resolver):
    known = {'fake_pkg/talker': {'rate', 'period', 'label', 'joints', 'filter.alpha'},
             'fake_pkg/listener': None}
    assert validate_launch_file(FIXTURES / 'basic.launch.yaml', known, resolver=resolver) == []


def test_reports_undeclared_params_unknown_exec_package_and_missing_file(tmp_path, resolver):
    path = tmp_path / 'v.launch.yaml'
    path.write_text(textwrap.dedent(f"""
        launch:
          - node: {{pkg: aloe_ros, exec: chunk_executor, param: [{{name: rte, value: 1}}]}}
          - node: {{pkg: aloe_ros, exec: ghost_node}}
          - node: {{pkg: nobody_pkg, exec: x}}
          - node: {{pkg: robot_state_publisher, exec: robot_state_publisher}}
          - node: {{pkg: aloe_ros, exec: chunk_executor, name: ex2,
                    param: [{{from: {tmp_path}/none.yaml}}]}}
          - node: {{pkg: aloe_ros, exec: chunk_executor, name: ex3,
                    param: [{{from: {FIXTURES}/params.yaml}}]}}
        """))
    errors = validate_launch_file(path, {'chunk_executor': {'rate'}}, resolver=resolver,
                                  external_packages=['robot_state_publisher'])
    assert len(errors) == 5, errors
    assert "parameter 'rte' is not declared by chunk_executor" in errors[0]
    assert "unknown executable 'ghost_node' of aloe_ros; known: chunk_executor" in errors[1]
    assert "unknown package 'nobody_pkg'" in errors[2]
    assert 'parameter file not found' in errors[3]
    assert "parameter 'filter.alpha' in" in errors[4]


def test_load_errors_are_returned(resolver):
    errors = validate_launch_file(FIXTURES / 'run.launch.yaml', {}, resolver=resolver)
    assert len(errors) == 1 and "missing required launch argument 'pid_dir'" in errors[0]

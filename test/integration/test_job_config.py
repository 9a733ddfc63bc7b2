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

"""The main job's YAML: defaults, --long overrides and errors that name the key (no graph)."""

import os

import pytest

from aloe_ros.train_sim import JobConfigError, load_job, package_config_dir

JOB = os.path.join(package_config_dir(), 'jobs', 'sim_train.yaml')


def _write(tmp_path, text):
    path = tmp_path / 'job.yaml'
    path.write_text('learner_config: '
                    f'{os.path.join(package_config_dir(), "learner", "sim_train.yaml")}\n'
                    + text)
    return str(path)


def test_shipped_job_loads_and_long_applies():
    job = load_job(JOB, False)
    long = load_job(JOB, True)
    assert job['eval_every'] >= 1 and job['eval_episodes'] >= 1
    assert long['iterations'] > job['iterations']


def test_eval_every_must_be_positive(tmp_path):
    with pytest.raises(JobConfigError, match='eval_every'):
        load_job(_write(tmp_path, 'eval_every: 0\n'), False)
    with pytest.raises(JobConfigError, match='eval_every'):
        load_job(_write(tmp_path, 'eval_every: two\n'), False)
    assert load_job(_write(tmp_path, 'eval_every: 3\n'), False)['eval_every'] == 3


def test_unknown_long_key_is_named(tmp_path):
    with pytest.raises(JobConfigError, match='long'):
        load_job(_write(tmp_path, 'long:\n  itterations: 3\n'), False)


def test_command_interface_is_checked_and_the_camera_job_loads(tmp_path):
    with pytest.raises(JobConfigError, match='sim.command_interface'):
        load_job(_write(tmp_path, 'sim:\n  command_interface: position\n'), False)
    assert load_job(JOB, False)['sim']['command_interface'] == 'forward'
    camera = load_job(os.path.join(package_config_dir(), 'jobs', 'sim_train_camera.yaml'), False)
    assert camera['learner_config'].endswith('sim_train_camera.yaml')

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
``bimanual_robot.launch.yaml`` run by ``aloe launch`` as a subprocess, for the slow launch tests.

The station without a learner or robot_state_publisher, with verified tiny initial weights and
the sim's robot profile, so it starts on any machine; stopped like Ctrl-C.
"""

import os
import signal
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


class LaunchedStation:
    """The launch process, its log and the weights it was given."""

    def __init__(self, tmp_path, env, *arguments):
        """Start the launch with ``arguments`` (``name:=value``) in ``env``; log in tmp_path."""
        sys.path.insert(0, os.path.join(ROOT, 'test', 'reliability'))
        from reliability_harness import TINY_CONFIG, make_weights
        # Initial weights given: an empty initial_weights:= does not pass rcl's command-line
        # parser.
        info = make_weights(str(tmp_path / 'weights'), TINY_CONFIG)
        cmd = [sys.executable, '-m', 'aloe_ros.launch_tools.cli', '--source-tree', ROOT,
               'aloe_ros', 'bimanual_robot.launch.yaml', *arguments, 'use_rsp:=false',
               'with_learner:=false', f'store_root:={tmp_path / "store"}',
               f'weights_dir:={tmp_path / "weights"}', f'learner_config:={TINY_CONFIG}',
               f'initial_weights:={info.path}', f'initial_sha256:={info.sha256}',
               # The default ALOHA profile's gripper_action groups need control_msgs, which
               # this machine may lack; the sim's profile needs only trajectory_msgs.
               'robot_profile:='
               + os.path.join(ROOT, 'config', 'robots', 'aloe_sim_station.yaml')]
        self.log_path = tmp_path / 'launch.log'
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=str(tmp_path))

    def output(self) -> str:
        """Return everything the launch printed so far."""
        with open(self.log_path) as f:
            return f.read()

    def stop(self) -> None:
        """SIGINT (as Ctrl-C), SIGKILL after 60 s; close the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

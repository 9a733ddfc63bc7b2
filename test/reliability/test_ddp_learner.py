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
The learner node under torchrun: rank 0 is the ROS node, rank 1 trains with it (gloo, CPU).

Rank 1 runs no ROS node: it follows rank 0's commands over the process group and reads rank 0's
store read-only. A TrainIteration goal on rank 0's action server exports version 1; the training
steps (3 slices: 10 + 2 critic, 8 actor) are collectives, so they complete only with rank 1
taking part; on Ctrl-C rank 0 releases
rank 1, which reports the updates it made and exits.
"""

import os
import signal
import subprocess
import sys

from aloe_msgs.action import TrainIteration
import pytest
from rclpy.action import ActionClient
from reliability_harness import _param, NodeProcess, synthetic_episode, TINY_CONFIG

pytestmark = [pytest.mark.ros, pytest.mark.slow]


class TorchrunNode(NodeProcess):
    """``python -m torch.distributed.run --standalone --nproc_per_node 2 -m <module> ...``."""

    def start(self):
        """Start torchrun (it picks a free rendezvous port) with the node's ROS arguments."""
        args = [sys.executable, '-m', 'torch.distributed.run', '--standalone',
                '--nproc_per_node', '2', '-m', self.module, '--ros-args']
        args += [a for key, value in self.params.items()
                 for a in ('-p', f'{key}:={_param(value)}')]
        self._log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, ALOE_DIST_BACKEND='gloo',
                                              OMP_NUM_THREADS='1'))


def test_learner_trains_data_parallel_under_torchrun(driver, tmp_path):
    from aloe_ros.storage import EpisodeStore
    store = EpisodeStore(str(tmp_path / 'store'), mode='w')
    for k in range(3):
        store.add_episode(synthetic_episode(f'ep{k}', steps=30, seed=k))
    store.close()
    learner = TorchrunNode('aloe_ros.nodes.learner', {
        'learner_config': TINY_CONFIG, 'store_root': str(tmp_path / 'store'),
        'weights_dir': str(tmp_path / 'weights'), 'trigger': 'action', 'min_episodes': 3,
        'evaluate_running_chunks': False, 'poll_period': 0.2},
        log_path=str(tmp_path / 'torchrun.log'))
    try:
        client = ActionClient(driver.node, TrainIteration, '/aloe/train_iteration')
        assert driver.spin_until(client.server_is_ready, timeout=600), learner.output()
        sent = client.send_goal_async(TrainIteration.Goal(critic_steps=12, actor_steps=8))
        assert driver.spin_until(sent.done, timeout=120), learner.output()
        result = sent.result().get_result_async()
        assert driver.spin_until(result.done, timeout=600), learner.output()
        res = result.result().result
        assert res.success and res.policy_version == 1, (res.message, learner.output())
        assert os.path.exists(tmp_path / 'weights' / 'policy_v000001.safetensors')
        assert 'data-parallel: rank 0 of 2 (gloo), global batch 8' in learner.output(100000)
    finally:
        code = learner.stop(sig=signal.SIGINT, timeout=120)
    with open(learner.log_path) as f:  # stop() closed the log
        out = f.read()
    assert 'rank 1 of 2: 6 commands from rank 0 served, 20 updates; exiting' in out, out
    # torchrun itself exits 1 on Ctrl-C, with its SignalException traceback; no rank failed
    assert code is not None and out.count('Traceback') == 1, out
    assert 'SignalException: Process' in out and 'ChildFailedError' not in out, out

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

"""After a hand-back the sim rollout makes a chunked policy re-plan from the operator's state."""

import os
import sys

import numpy as np

from aloe_ros.learning.episode import SOURCE_HUMAN, SOURCE_POLICY
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.sim.operator import OperatorDecision
from aloe_ros.sim.rollout import run_episode

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'bench'))


class ScriptedTakeover:
    """Takes over on ticks [10, 30), hands back, ends the episode at tick 60."""

    def __init__(self, env):
        self.env = env
        self.tick = 0

    def reset(self):
        self.tick = 0

    def observe(self, obs, action):
        self.tick += 1
        human = 10 <= self.tick < 30
        end = 0 if self.tick >= 60 else None
        command = self.env.proprio().astype(np.float64) if human else None
        return OperatorDecision(takeover=human, command=command, end=end,
                                reason="takeover: test" if human else "ok")


class CountingChunks:
    """A chunked policy stub that records at which call it (re-)planned."""

    execute = 25

    def __init__(self, env):
        self.env = env
        self.calls = 0
        self.k = self.execute
        self.plans = []

    def reset(self):
        self.k = self.execute

    def __call__(self, obs):
        if self.k >= self.execute:
            self.plans.append(self.calls)
            self.k = 0
        self.k += 1
        self.calls += 1
        return self.env.proprio().astype(np.float64)


def test_hand_back_forces_a_replan():
    env = BimanualEnv('handover', cameras=())
    policy = CountingChunks(env)
    ep = run_episode(env, policy, ScriptedTakeover(env), seed=0)
    # Ticks 0..10 policy (11 calls, operator sees tick 10 and takes over), then human, then policy
    # again.
    assert ep.sources[0] == SOURCE_POLICY and (ep.sources == SOURCE_HUMAN).sum() == 20
    first_after = int(np.argmax(ep.sources[11:] == SOURCE_POLICY)) + 11
    assert ep.sources[first_after - 1] == SOURCE_HUMAN
    # Plans: at call 0, then at the first call after the hand-back (call 10), not 25 calls after
    # the first.
    assert policy.plans[:2] == [0, 10], policy.plans


def test_bench_chunked_policy_replans_after_reset():
    import _common as C
    import torch
    from aloe_ros.learning.models import FlowMatchingPolicy
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'learning'))
    from learning_helpers import tiny_config
    cfg = tiny_config(**{'model.cameras': [], 'model.proprio_dim': 14, 'model.action_dim': 14,
                         'model.horizon': 4})
    runner = C.ChunkedPolicy(FlowMatchingPolicy(cfg.model).eval(), cfg, execute=4, seed=0)
    obs = {'proprio': np.zeros(14), 'images': {}}
    first = runner(obs)
    runner(obs)
    runner.reset()
    torch.manual_seed(0)
    third = runner(obs)   # a fresh chunk: its first action, not the old chunk's third
    assert runner._k == 1 and first.shape == third.shape == (14,)

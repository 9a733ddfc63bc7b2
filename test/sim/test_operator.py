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

"""Simulated operator: takes over bad policies, hands back, labels the outcome."""

import numpy as np

from aloe_ros.learning.episode import (OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_TIMEOUT,
                                       SOURCE_HUMAN,
                                       SOURCE_POLICY)
from aloe_ros.sim import robot
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.sim.expert import ScriptedExpert
from aloe_ros.sim.operator import OperatorConfig, SimulatedOperator
from aloe_ros.sim.rollout import run_episode


def _setup(cfg=None):
    env = BimanualEnv('handover', cameras=('cam_high',), image_size=(16, 16))
    expert = ScriptedExpert(env)
    return env, expert, SimulatedOperator(env, expert, cfg)


def test_good_policy_is_never_interrupted():
    env, expert, op = _setup()
    ep = run_episode(env, lambda obs: expert.act(), op, seed=2)
    assert ep.outcome == OUTCOME_SUCCESS and ep.terminated
    assert not ep.interventions.any()
    ep.validate()


def test_stalling_policy_is_taken_over_then_handed_back():
    env, expert, op = _setup()
    home = np.asarray(robot.home_action())
    ep = run_episode(env, lambda obs: home, op, seed=2)
    events = list(ep.extra['operator_events'])
    assert events[0].startswith(f'{op.cfg.stall_steps}: takeover: stall')
    assert any('handback' in e for e in events)
    assert ep.interventions.any() and not ep.interventions[:op.cfg.stall_steps].any()
    assert set(ep.sources[ep.interventions]) == {SOURCE_HUMAN}
    assert set(ep.sources[~ep.interventions]) == {SOURCE_POLICY}
    assert ep.outcome == OUTCOME_SUCCESS, 'the operator finishes the task in the end'
    assert ep.images['cam_high'].shape == (len(ep), 16, 16, 3)


def test_dropping_policy_triggers_takeover_at_the_drop():
    env, expert, op = _setup()

    def dropper(obs):
        a = expert.act()
        if expert._held('left', 'block') and env.object_pos('block')[2] > 0.08:
            a[6] = 1.0
        return a
    ep = run_episode(env, dropper, op, seed=3)
    events = list(ep.extra['operator_events'])
    assert 'takeover: dropped block' in events[0]
    assert ep.outcome == OUTCOME_SUCCESS


def test_deviating_policy_taken_over_and_timeout_without_help():
    env, expert, op = _setup(OperatorConfig(max_steps=60, stall_steps=1000))
    rng = np.random.default_rng(0)
    ep = run_episode(env, lambda obs: expert.act() + rng.normal(0.0, 0.6, 14), op, seed=4)
    assert 'deviation' in ep.extra['operator_events'][0]
    assert ep.outcome == OUTCOME_TIMEOUT and ep.truncated and not ep.terminated
    assert len(ep) == 60


def test_object_off_the_table_ends_as_failure():
    env, expert, op = _setup()
    env.reset(0)
    op.reset()
    adr = env.model.jnt_qposadr[env.model.joint('block_joint').id]
    env.data.qpos[adr:adr + 3] = (0.0, 0.6, 0.3)
    for _ in range(25):
        obs, _, terminated, _, info = env.step(robot.home_action())
        decision = op.observe(obs, robot.home_action())
        if decision.end is not None:
            break
    assert decision.end == OUTCOME_FAILURE and info['failure'] and terminated


def test_watch_only_operator_never_takes_over_and_labels_the_end():
    """``intervene=False`` (operator-free evaluation): a stalling policy runs into the timeout."""
    env, expert, op = _setup(OperatorConfig(intervene=False, max_steps=120))
    home = np.asarray(robot.home_action())
    ep = run_episode(env, lambda obs: home, op, seed=2)
    assert not ep.interventions.any()
    assert ep.outcome == OUTCOME_TIMEOUT and len(ep) == 120
    env, expert, op = _setup(OperatorConfig(intervene=False))
    ep = run_episode(env, lambda obs: expert.act(), op, seed=2)
    assert ep.outcome == OUTCOME_SUCCESS and not ep.interventions.any()


def _drive_through_delay(env, expert, seed: int, delay: int, leader_mode: bool, ticks: int = 400):
    """Run the expert alone whose commands reach the robot ``delay`` ticks late; return success."""
    from collections import deque
    env.reset(seed)
    queue = deque()
    leader = env.proprio(np.float64)
    executed = leader.copy()
    for _ in range(ticks):
        # the graph operator: steps its own leader arms, tolerates a lagging follower
        if leader_mode:
            leader = expert.act(command=leader, lead_tolerance=0.5)
        else:             # steps from the robot's last executed command
            leader = expert.act()
        queue.append(leader)
        if len(queue) > delay:
            executed = queue.popleft()
        env.step(executed)
        if env.success():
            return True
    return False


def test_operator_leading_its_own_leader_arms_finishes_through_teleop_latency():
    """
    An operator's command reaches the robot ~3-5 ticks late; the operator still finishes.

    It does so by stepping from its own last leader command
    (``act(command=..., lead_tolerance=...)``), as through the graph.
    """
    env = BimanualEnv('handover', cameras=())
    expert = ScriptedExpert(env)
    for seed in (11, 12, 13):
        assert _drive_through_delay(env, expert, seed, delay=5, leader_mode=True), f'seed {seed}'


def test_act_from_a_given_command_steps_from_it():
    env = BimanualEnv('handover', cameras=())
    expert = ScriptedExpert(env)
    env.reset(3)
    q = env.proprio(np.float64)
    lead = q.copy()
    lead[:6] += 0.1    # leader 0.1 rad ahead of the follower on the left arm
    a_default = expert.act()
    a_lead = expert.act(command=lead, lead_tolerance=0.5)
    a_blocked = expert.act(command=lead, lead_tolerance=0.05)   # 0.1 >= tolerance: measured pose
    assert not np.allclose(a_lead[:6], a_default[:6])
    assert np.max(np.abs(a_lead[:6]
                         - lead[:6])) <= 0.06 + 1e-9, 'a step from the leader, at most JOINT_STEP'
    np.testing.assert_allclose(a_blocked, a_default)

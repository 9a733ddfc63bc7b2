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
Run one supervised episode in the sim and return it as an ``Episode`` (learning.episode).

The policy is any callable ``policy(obs) -> action14`` (chunking is the caller's business); when it
has a ``reset()`` method, it is called at every hand-back, so a chunked policy re-plans from the
state
the operator left instead of resuming the chunk it planned before the takeover. Each
tick the executed action is the policy's, or the simulated operator's command while it is in
control; steps are labelled ``SOURCE_POLICY`` / ``SOURCE_HUMAN`` accordingly. ``extra['state']``
holds the privileged state of each tick's observation (float32 (T, S)), for
``model.extra_state_dim``.
"""

from typing import Callable, Optional

import numpy as np

from aloe_ros.learning.episode import (Episode, OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_TIMEOUT,
                                       SOURCE_HUMAN, SOURCE_POLICY)
from aloe_ros.sim.env import BimanualEnv
from aloe_ros.sim.operator import SimulatedOperator


def run_episode(env: BimanualEnv, policy: Callable[[dict], np.ndarray],
                operator: SimulatedOperator,
                seed: int, policy_version: int = 1, episode_id: Optional[str] = None) -> Episode:
    """Reset ``env`` to ``seed``, run the policy under ``operator`` until the operator ends it."""
    obs = env.reset(seed)
    operator.reset()
    images = {c: [] for c in env.cameras}
    proprio, states, actions, sources = [], [], [], []
    versions, interv, rewards, reasons = [], [], [], []
    command = None
    outcome = OUTCOME_TIMEOUT
    was_human = False
    replan = getattr(policy, 'reset', None)
    while True:
        human = command is not None
        if was_human and not human and replan is not None:
            # hand-back: the chunk planned before the takeover is stale (the executor drops it too)
            replan()
        was_human = human
        action = np.asarray(command if human else policy(obs), dtype=np.float64)
        for c in env.cameras:
            images[c].append(obs['images'][c])
        proprio.append(obs['proprio'])
        states.append(obs['state'])
        obs, reward, terminated, truncated, _ = env.step(action)
        actions.append(action.astype(np.float32))
        sources.append(SOURCE_HUMAN if human else SOURCE_POLICY)
        versions.append(0 if human else policy_version)
        interv.append(human)
        rewards.append(reward)
        decision = operator.observe(obs, action)
        if decision.reason.startswith(('takeover', 'handback')):
            reasons.append(f'{len(actions)}: {decision.reason}')
        command = decision.command if decision.takeover else None
        if decision.end is not None:
            outcome = decision.end
            break
        if terminated or truncated:
            outcome = OUTCOME_SUCCESS if env.success() else (
                OUTCOME_FAILURE if terminated else OUTCOME_TIMEOUT)
            break
    return Episode(
        episode_id=episode_id or f'{env.task.name}-{seed}', task=env.task.name,
        instruction=env.task.instruction,
        images={c: np.stack(v) for c, v in images.items()},
        proprio=np.stack(proprio).astype(np.float32), actions=np.stack(actions),
        sources=np.asarray(sources, dtype=np.uint8),
        policy_versions=np.asarray(versions, dtype=np.uint32),
        interventions=np.asarray(interv, dtype=bool),
        rewards=np.asarray(rewards, dtype=np.float32),
        outcome=outcome, terminated=outcome in (OUTCOME_SUCCESS, OUTCOME_FAILURE),
        truncated=outcome == OUTCOME_TIMEOUT, seed=seed,
        extra={'operator_events': np.asarray(reasons, dtype=object),
               'state': np.stack(states).astype(np.float32)})

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
Cut chunk transitions from executed steps of mixed sources.

A transition starting at tick t of an episode of length T is
``(s_t, a_{t:t+H}, r_{t:t+Hc}, s_{t+n}, done, truncated, source)`` where H is the actor chunk
length,
Hc the critic horizon (H for ALOE, 1 for 1-step TD) and n <= Hc the number of real reward steps.
Starts are ``t = 0, s, 2 s, ...`` with s = ``data.chunk_stride`` (default 1: a chunk starts at
every
tick, so 10 demonstrations of ~120 steps give ~1,200 chunks instead of ~120 at the executed
stride).

Episode ends (rules, tested in test/learning/test_transitions.py):

- Actions: ``a_{t:t+H}`` past the end are padded with the last executed action and masked out
  (``act_mask``); the actor's flow loss and the critic input ignore padded steps.
- Window fully inside (t + Hc < T): n = Hc, bootstrap state s_{t+Hc}, discount gamma^Hc.
- Window reaches the end of a *terminated* episode: n = T - t, ``done`` = True, no bootstrap.
- Window reaches the end of a *truncated* (timeout/abort) or cut episode: the episode holds no
  observation after its last action, so the window is shortened to end at the last recorded
  observation: n = T - 1 - t, bootstrap from s_{T-1} with gamma^n; ``truncated`` = True for a
  truncated episode. A start with n = 0 (t = T - 1) has nothing to learn from and is dropped.
  The reward of the very last step of a truncated episode is therefore not used (sparse rewards
  only pay on termination, so this loses only a step penalty).

The critic sees a padded chunk with a full mask when the window ends in termination (padding
repeats the last action, i.e. "hold"; revealing the cut would leak the outcome into the input),
and a mask over the n real steps when a truncation shortened the window.

Discounting is over real steps only: ``ret = sum_{k<n} gamma^k r_{t+k}``, ``boot = gamma^n (1 -
done)``.

Source label of a chunk (over its real executed steps ``a_{t:t+n_act}``): the common ``SOURCE_*``
value when every step has the same source, else ``SOURCE_MIXED`` (an intervention boundary lies
inside the chunk); ``human_frac`` keeps the share of human steps for analysis and balancing.
"""

from dataclasses import dataclass
from typing import Dict

import numpy as np

from .episode import SOURCE_HUMAN, SOURCE_NAMES, Episode

SOURCE_MIXED = 255
CHUNK_SOURCE_NAMES = {**SOURCE_NAMES, SOURCE_MIXED: 'mixed'}


@dataclass
class ChunkTransitions:
    """Index-level transitions of one episode (all arrays length N)."""

    t: np.ndarray             # int64 start tick
    n_act: np.ndarray         # int64 real actions in a_{t:t+H}
    n_rew: np.ndarray         # int64 real reward steps n in the critic window
    next_t: np.ndarray        # int64 bootstrap tick t + n (unused where done)
    done: np.ndarray          # bool true termination inside the window
    truncated: np.ndarray     # bool window reaches the end of a truncated episode
    ret: np.ndarray           # float32 sum_{k<n} gamma^k r_{t+k}
    boot: np.ndarray          # float32 gamma^n (1 - done)
    mc_return: np.ndarray     # float32 sum_{k<T-t} gamma^k r_{t+k} (Monte-Carlo, no bootstrap)
    source: np.ndarray        # uint8 SOURCE_* or SOURCE_MIXED
    human_frac: np.ndarray    # float32 share of human steps among the real actions

    def __len__(self) -> int:
        return int(self.t.shape[0])


def takeover_ticks(episode: Episode) -> np.ndarray:
    """Ticks whose step was the policy's and whose next step is a human's (operator took over)."""
    human = episode.sources == SOURCE_HUMAN
    return np.flatnonzero(~human[:-1] & human[1:])


def rejected_steps(episode: Episode, window: int) -> np.ndarray:
    """
    Return a bool mask (T,) of the policy steps the operator rejected by taking over.

    A step is rejected when the policy executed it at most ``window`` - 1 ticks before a takeover
    tick (the takeover tick included) and no human step lies between them: the actions that led
    the operator to step in. ``window`` = 0 rejects nothing.
    """
    T = len(episode)
    out = np.zeros(T, dtype=bool)
    if window <= 0 or T < 2:
        return out
    human = episode.sources == SOURCE_HUMAN
    for k in takeover_ticks(episode):
        t = int(k)
        while t >= 0 and t > k - window and not human[t]:
            out[t] = True
            t -= 1
    return out


def episode_rewards(episode: Episode, step_penalty: float,
                    intervention_penalty: float = 0.0) -> np.ndarray:
    """
    Return float64 rewards: recorded, minus the step penalty, minus the takeover penalty.

    ``step_penalty`` is subtracted at every step and ``intervention_penalty`` at each takeover tick
    (the last policy step before a human segment). The takeover penalty tells the critic what the
    operator's decision means: the policy was going wrong there. Without it an episode the operator
    rescued pays the same success reward as one the policy finished alone, only later.
    """
    r = episode.rewards.astype(np.float64) - float(step_penalty)
    if intervention_penalty and len(episode) > 1:
        r[takeover_ticks(episode)] -= float(intervention_penalty)
    return r


def build_transitions(episode: Episode, horizon: int, critic_horizon: int, stride: int,
                      gamma: float,
                      step_penalty: float = 0.0,
                      intervention_penalty: float = 0.0) -> ChunkTransitions:
    """Cut one episode into chunk transitions (module docstring: end-of-episode rules)."""
    if not 1 <= critic_horizon <= horizon:
        raise ValueError(f'critic_horizon {critic_horizon} must be in [1, horizon={horizon}]')
    if stride < 1:
        raise ValueError(f'stride must be >= 1, got {stride}')
    T = len(episode)
    r = episode_rewards(episode, step_penalty, intervention_penalty)
    # mc[t] = sum_{k >= 0} gamma^k r_{t+k}, computed backwards.
    mc = np.zeros(T + 1)
    for t in range(T - 1, -1, -1):
        mc[t] = r[t] + gamma * mc[t + 1]
    rows: Dict[str, list] = {k: [] for k in ChunkTransitions.__dataclass_fields__}
    for t in range(0, T, stride):
        n_act = min(horizon, T - t)
        n = min(critic_horizon, T - t)
        done = truncated = False
        if t + n >= T:
            if episode.terminated:
                done = True
            else:
                n = T - 1 - t
                truncated = bool(episode.truncated)
                if n == 0:
                    continue
        ret = float(np.sum(r[t:t + n] * gamma ** np.arange(n)))
        src = episode.sources[t:t + n_act]
        source = int(src[0]) if np.all(src == src[0]) else SOURCE_MIXED
        rows['t'].append(t)
        rows['n_act'].append(n_act)
        rows['n_rew'].append(n)
        rows['next_t'].append(min(t + n, T - 1))
        rows['done'].append(done)
        rows['truncated'].append(truncated)
        rows['ret'].append(ret)
        rows['boot'].append(0.0 if done else gamma ** n)
        rows['mc_return'].append(mc[t])
        rows['source'].append(source)
        rows['human_frac'].append(float(np.mean(src == SOURCE_HUMAN)))
    dtypes = dict(t=np.int64, n_act=np.int64, n_rew=np.int64, next_t=np.int64, done=bool,
                  truncated=bool,
                  ret=np.float32, boot=np.float32, mc_return=np.float32, source=np.uint8,
                  human_frac=np.float32)
    return ChunkTransitions(**{k: np.asarray(v, dtype=dtypes[k]) for k, v in rows.items()})


def chunk_actions(episode: Episode, t: int, horizon: int):
    """Return (a_{t:t+H} padded with the last executed action, mask): float32 (H, D), bool (H,)."""
    T = len(episode)
    idx = np.minimum(np.arange(t, t + horizon), T - 1)
    return episode.actions[idx].astype(np.float32), np.arange(t, t + horizon) < T

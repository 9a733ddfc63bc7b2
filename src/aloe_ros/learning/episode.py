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
The episode record every part of aloe_ros agrees on (sim, recorder, replay, learner).

An episode is the sequence of control ticks that actually ran on the robot. Tick t holds the
observation seen at t and the action executed at t, whoever produced it. Layout per field:

- ``images[cam]``: uint8 (T, h, w, 3), RGB, already resized to the policy's input size.
- ``proprio``: float32 (T, P) joint positions of both arms, grippers normalised to [0, 1].
- ``actions``: float32 (T, D) executed joint targets (same units as ``proprio``).
- ``sources``: uint8 (T,) one of ``SOURCE_*`` (aloe_msgs/ExecutedStep values).
- ``policy_versions``: uint32 (T,) version of the policy that produced the step (0 for others).
- ``interventions``: bool (T,) human in control at tick t.
- ``rewards``: float32 (T,) reward received after executing action t.

``terminated`` is a true end (success or failure): no bootstrap past it. ``truncated`` (timeout,
operator abort) bootstraps. Both false means the episode was cut while still running.
"""

from dataclasses import dataclass, field
from typing import Dict, Iterator, Protocol, Sequence

import numpy as np

SOURCE_POLICY = 0
SOURCE_HUMAN = 1
SOURCE_SCRIPTED = 2
SOURCE_HOLD = 3
SOURCE_NAMES = {SOURCE_POLICY: 'policy', SOURCE_HUMAN: 'human',
                SOURCE_SCRIPTED: 'scripted', SOURCE_HOLD: 'hold'}

OUTCOME_NONE = 0
OUTCOME_SUCCESS = 1
OUTCOME_FAILURE = 2
OUTCOME_ABORTED = 3
OUTCOME_TIMEOUT = 4
OUTCOME_NAMES = {OUTCOME_NONE: 'none', OUTCOME_SUCCESS: 'success', OUTCOME_FAILURE: 'failure',
                 OUTCOME_ABORTED: 'aborted', OUTCOME_TIMEOUT: 'timeout'}


@dataclass
class Episode:
    """One recorded episode; see the module docstring for array layouts."""

    episode_id: str
    task: str
    instruction: str
    images: Dict[str, np.ndarray]
    proprio: np.ndarray
    actions: np.ndarray
    sources: np.ndarray
    policy_versions: np.ndarray
    interventions: np.ndarray
    rewards: np.ndarray
    outcome: int = OUTCOME_NONE
    terminated: bool = False
    truncated: bool = False
    seed: int = -1
    extra: Dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    def validate(self) -> None:
        """Raise ValueError naming the field when arrays disagree in length or hold NaN/Inf."""
        n = len(self)
        arrays = {'proprio': self.proprio, 'sources': self.sources,
                  'policy_versions': self.policy_versions, 'interventions': self.interventions,
                  'rewards': self.rewards}
        arrays.update({f'images[{k}]': v for k, v in self.images.items()})
        for name, arr in arrays.items():
            if arr.shape[0] != n:
                raise ValueError(f'episode {self.episode_id}: {name} has {arr.shape[0]} steps, '
                                 f'actions has {n}')
        for name, arr in (('proprio', self.proprio), ('actions', self.actions),
                          ('rewards', self.rewards)):
            bad = ~np.isfinite(arr)
            if bad.any():
                step = int(np.argwhere(bad)[0][0])
                raise ValueError(f'episode {self.episode_id}: non-finite {name} at step {step}')
        if self.terminated and self.truncated:
            raise ValueError(f'episode {self.episode_id}: both terminated and truncated')


class EpisodeSource(Protocol):
    """Anything that can hand episodes to the replay: an in-memory list or the recorder's store."""

    def episode_ids(self) -> Sequence[str]:
        """Return the ids of all complete episodes, oldest first."""

    def load_episode(self, episode_id: str) -> Episode:
        """Return one episode by id."""


class InMemoryEpisodeSource:
    """EpisodeSource over a list kept in memory (tests, sim benchmarks)."""

    def __init__(self, episodes: Sequence[Episode] = ()):
        self._episodes: Dict[str, Episode] = {}
        for ep in episodes:
            self.add(ep)

    def add(self, episode: Episode) -> None:
        """Validate and store an episode (replacing one with the same id)."""
        episode.validate()
        self._episodes[episode.episode_id] = episode

    def episode_ids(self) -> Sequence[str]:
        """Return the ids of the stored episodes, oldest first."""
        return list(self._episodes)

    def load_episode(self, episode_id: str) -> Episode:
        """Return one stored episode by id."""
        return self._episodes[episode_id]

    def __iter__(self) -> Iterator[Episode]:
        return iter(self._episodes.values())

    def __len__(self) -> int:
        return len(self._episodes)

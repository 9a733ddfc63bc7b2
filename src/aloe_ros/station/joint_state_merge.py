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
One combined joint state under URDF names from the arms' JointState topics (no ROS).

A real station's drivers publish a JointState per arm with the arm's own joint names
(``waist``, ``left_finger``, ...); robot_state_publisher needs one ``/joint_states`` with the
URDF's names. :class:`JointStateMerger` keeps the latest message of every joint-state source of
a robot profile, renames its joints (``urdf_prefix``, ``urdf_names``) and, once every source has
delivered and something new arrived, returns the combination: every joint of every source (the
finger joints the policy does not read included, so the model's fingers move), stamped with the
newest stamp. Velocity and effort are kept only when every source has them for every joint
(JointState allows them empty, not partial).
"""

from dataclasses import dataclass
import math
from typing import Dict, List, Optional, Sequence

from aloe_ros.station.command_mapping import RobotProfile


@dataclass
class CombinedState:
    """One combined JointState's fields."""

    stamp: float
    name: List[str]
    position: List[float]
    velocity: List[float]
    effort: List[float]


@dataclass
class _Latest:
    stamp: float
    name: List[str]
    position: List[float]
    velocity: List[float]
    effort: List[float]


class JointStateMerger:
    """Latest JointState per source, combined under URDF names; see the module docstring."""

    def __init__(self, profile: RobotProfile):
        """Check the sources can be merged: one topic each (else the robot already merges)."""
        self.profile = profile
        seen: Dict[str, int] = {}
        for k, source in enumerate(profile.sources):
            if source.topic in seen:
                raise ValueError(f'joint_states[{k}].topic: {source.topic} is also '
                                 f'joint_states[{seen[source.topic]}]: one topic carries both '
                                 'arms, so the robot publishes a combined joint state already')
            seen[source.topic] = k
        self._latest: List[Optional[_Latest]] = [None] * len(profile.sources)
        self._new = False

    def add(self, index: int, names: Sequence[str], position: Sequence[float],
            velocity: Sequence[float], effort: Sequence[float], stamp: float) -> None:
        """Keep one source's message; raise ValueError (message kept out) when it is malformed."""
        source = self.profile.sources[index]
        n = len(names)
        if len(position) != n:
            raise ValueError(f'{source.topic}: {n} names but {len(position)} positions')
        for what, values in (('velocities', velocity), ('efforts', effort)):
            if len(values) not in (0, n):
                raise ValueError(f'{source.topic}: {n} names but {len(values)} {what}')
        if not all(math.isfinite(float(v)) for v in position):
            raise ValueError(f'{source.topic}: NaN/inf position')
        previous = self._latest[index]
        if previous is not None and stamp < previous.stamp:
            raise ValueError(f'{source.topic}: stamp {stamp:.6f} before the previous '
                             f'{previous.stamp:.6f}')
        self._latest[index] = _Latest(stamp, [source.urdf_name(x) for x in names],
                                      [float(v) for v in position], [float(v) for v in velocity],
                                      [float(v) for v in effort])
        self._new = True

    def waiting_for(self) -> List[str]:
        """Return the topics that have not delivered yet."""
        return [s.topic for s, m in zip(self.profile.sources, self._latest) if m is None]

    def combined(self) -> Optional[CombinedState]:
        """
        Return the combination once every source delivered and something new came, else None.

        Raises ValueError when two sources give the same URDF name (the profile's renaming is
        wrong; nothing is published rather than a model with one joint from two arms).
        """
        if not self._new or any(m is None for m in self._latest):
            return None
        self._new = False
        names: List[str] = []
        for m in self._latest:
            names += m.name
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise ValueError(f'URDF joint names {dup} come from more than one source: set '
                             'urdf_prefix or urdf_names per joint_states source in the profile')
        position = [v for m in self._latest for v in m.position]
        full_vel = all(len(m.velocity) == len(m.name) for m in self._latest)
        full_eff = all(len(m.effort) == len(m.name) for m in self._latest)
        return CombinedState(stamp=max(m.stamp for m in self._latest), name=names,
                             position=position,
                             velocity=[v for m in self._latest for v in m.velocity]
                             if full_vel else [],
                             effort=[v for m in self._latest for v in m.effort]
                             if full_eff else [])

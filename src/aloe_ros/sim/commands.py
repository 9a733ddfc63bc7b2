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
Checks and playback of per-arm commands, as the real arm controllers would take them (no ROS).

An arm command carries 7 values in the order of ``robot.SIDE_JOINT_NAMES[side]`` (6 joints in rad,
then the normalised gripper). :func:`check_positions` rejects wrong counts, NaN/Inf and values
beyond the joint limits (plus ``tolerance``) with a one-line reason; :class:`TrajectoryPlayer`
plays a validated joint trajectory (times from its start, strictly increasing) by linear
interpolation from the target held when it arrived, then holds the last point.
"""

from typing import List, Optional, Sequence, Tuple

import numpy as np

from aloe_ros.sim import robot


class CommandRejected(ValueError):
    """A command that must not reach the arm; ``reason`` is a short key for counters."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def side_limits(side: str) -> Tuple[np.ndarray, np.ndarray]:
    """Return (lower, upper) of one arm's 7 command values."""
    lo, hi = robot.joint_limits()
    i = robot.SIDES.index(side)
    return np.asarray(lo[7 * i:7 * i + 7]), np.asarray(hi[7 * i:7 * i + 7])


def check_positions(side: str, values: Sequence[float], tolerance: float = 1e-3) -> np.ndarray:
    """Return ``values`` as a (7,) array in joint order or raise CommandRejected."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    names = robot.SIDE_JOINT_NAMES[side]
    if v.shape[0] != len(names):
        raise CommandRejected('wrong_count',
                              f'{side} arm: got {v.shape[0]} values, expected {len(names)} '
                              f'({", ".join(names)})')
    if not np.all(np.isfinite(v)):
        bad = [names[i] for i in np.flatnonzero(~np.isfinite(v))]
        raise CommandRejected('non_finite', f'{side} arm: NaN/Inf for {", ".join(bad)}')
    lo, hi = side_limits(side)
    out = (v < lo - tolerance) | (v > hi + tolerance)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise CommandRejected('beyond_limits', f'{side} arm: {names[i]} = {v[i]:.4g} outside '
                                               f'[{lo[i]:.4g}, {hi[i]:.4g}]')
    return np.clip(v, lo, hi)


def reorder(side: str, joint_names: Sequence[str]) -> List[int]:
    """Return, for each joint of ``side`` in order, its index in ``joint_names``, or raise."""
    names = robot.SIDE_JOINT_NAMES[side]
    unknown = [n for n in joint_names if n not in names]
    if unknown:
        raise CommandRejected('unknown_joint', f'{side} arm: unknown joint names {unknown}; '
                                               f'expected {list(names)}')
    if len(joint_names) != len(names) or len(set(joint_names)) != len(names):
        raise CommandRejected('wrong_count',
                              f'{side} arm: trajectory names {len(joint_names)} joints '
                              f'{list(joint_names)}, expected all of {list(names)}')
    return [list(joint_names).index(n) for n in names]


class TrajectoryPlayer:
    """Plays one validated trajectory of an arm; see the module docstring."""

    def __init__(self, start_time: float, start: np.ndarray, times: Sequence[float],
                 points: Sequence[np.ndarray]):
        self.t0 = float(start_time)
        self.times = np.concatenate([[0.0], np.asarray(times, dtype=np.float64)])
        self.points = np.vstack([start] + [np.asarray(p) for p in points])

    @classmethod
    def from_points(cls, side: str, now: float, current: np.ndarray, joint_names: Sequence[str],
                    points: Sequence[Tuple[float, Sequence[float]]],
                    tolerance: float = 1e-3) -> 'TrajectoryPlayer':
        """Validate ``points`` [(time_from_start, positions)] and build a player, or raise."""
        if not points:
            raise CommandRejected('empty', f'{side} arm: trajectory without points')
        order = reorder(side, joint_names)
        times, values = [], []
        last = -1.0
        for k, (t, pos) in enumerate(points):
            if len(pos) != len(joint_names):
                raise CommandRejected('wrong_count',
                                      f'{side} arm: point {k} has {len(pos)} positions for '
                                      f'{len(joint_names)} joint names')
            if not np.isfinite(t) or t < 0.0 or t <= last:
                raise CommandRejected('bad_time',
                                      f'{side} arm: point {k} time_from_start {t:.4g} s is not '
                                      'after the previous point')
            last = t
            times.append(t)
            values.append(check_positions(side, [pos[i] for i in order], tolerance))
        return cls(now, np.asarray(current, dtype=np.float64), times, values)

    def sample(self, now: float) -> Optional[np.ndarray]:
        """Return the target at time ``now`` (the last point once past the end)."""
        t = now - self.t0
        if t >= self.times[-1]:
            return self.points[-1].copy()
        return np.array([np.interp(t, self.times, self.points[:, j])
                         for j in range(self.points.shape[1])])

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
Observation ingestion, ROS-free: validate inputs, time-align them, assemble an observation.

Sources are the cameras, the per-arm joint states and, when configured, a task state (object
state from a tracker, or the simulator's ground truth). Each keeps a short buffer of its recent
valid messages. ``assemble(now)`` picks one message per source with approximate-time alignment:

- every buffered message of every source is tried as a pivot; each other source contributes its
  message closest in time to the pivot; a candidate set is valid when its spread
  ``max(stamp) - min(stamp) <= slop``;
- among valid sets the freshest (largest oldest-stamp) wins, so the newest aligned data is used;
- when no set aligns (e.g. a camera stopped) the last aligned set is reused, and it goes stale.

Rejected at arrival (``InputRejected`` with a cause): undecodable, wrongly sized or oversized
images, unknown or missing joint names, wrong lengths, NaN/inf, task-state names that change
from those first accepted, stamps older than the last one of
the same source (out of order), older than the staleness limit, or in the future.
An assembled observation is ``stale`` when ``now - oldest stamp > staleness_limit``.
"""

from collections import deque
from dataclasses import dataclass, field
import itertools
import math
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

import numpy as np

from aloe_ros.station import conversions


#: Source name of the task state in buffers, rejections and ``waiting_for``.
TASK_STATE = 'task_state'


class InputRejected(ValueError):
    """An input message that was refused; ``cause`` is a short key for counting and logging."""

    def __init__(self, source: str, cause: str, message: str):
        """Build the rejection of ``source`` for ``cause``."""
        super().__init__(f'{source}: {message}')
        self.source = source
        self.cause = cause


@dataclass
class IngestConfig:
    """What to ingest and how strictly."""

    camera_names: Sequence[str]
    joint_names: Sequence[str]          # full action order, e.g. 14 names incl. grippers
    arms: Sequence[str] = ('left', 'right')
    image_height: int = 64
    image_width: int = 64
    slop: float = 0.02
    staleness_limit: float = 0.2
    max_future: float = 0.5
    max_image_bytes: int = 16 * 1024 * 1024
    buffer_depth: int = 5
    task_state: bool = False            # each observation also carries a task state
    max_task_state_values: int = 256


@dataclass
class Sample:
    """One accepted input: its stamp and decoded content."""

    stamp: float
    data: Any
    frame_id: str = ''


@dataclass
class Assembled:
    """One aligned observation (arrays in the configured orders)."""

    stamp: float                       # newest input stamp
    oldest: float                      # oldest input stamp
    images: List[Tuple[str, Sample]]   # (camera, Sample(data=HxWx3 uint8))
    arm_joint_names: List[str]
    position: np.ndarray
    velocity: np.ndarray
    gripper: np.ndarray                # per arm, in ``arms`` order
    max_input_age: float
    stale: bool
    # False while the inputs do not align (last aligned set reused)
    realigned: bool
    task_state_names: List[str] = field(default_factory=list)
    task_state: np.ndarray = field(default_factory=lambda: np.zeros(0))


class ObservationIngest:
    """Buffers validated inputs and assembles time-aligned observations."""

    def __init__(self, config: IngestConfig):
        """Derive per-arm joint sets from ``config``."""
        self.config = config
        self.arm_joints: Dict[str, List[str]] = {}
        for arm in config.arms:
            names = [n for n in config.joint_names if n.startswith(arm + '_')]
            if not names:
                raise ValueError(f"no joint name starts with '{arm}_'")
            self.arm_joints[arm] = names
        self.arm_joint_names = [n for arm in config.arms for n in self.arm_joints[arm]
                                if 'gripper' not in n]
        self.sources = list(config.camera_names) + list(config.arms)
        if config.task_state:
            self.sources.append(TASK_STATE)
        self.task_state_names: Optional[List[str]] = None  # fixed by the first accepted message
        self._buffers: Dict[str, Deque[Sample]] = {s: deque(maxlen=config.buffer_depth)
                                                   for s in self.sources}
        self._last: Optional[Dict[str, Sample]] = None
        self._dirty = False
        self._aligned = False

    # ------------------------------------------------------------------ inputs

    def _check_stamp(self, source: str, stamp: float, now: float) -> None:
        cfg = self.config
        if not math.isfinite(stamp) or stamp <= 0.0:
            raise InputRejected(source, 'bad_stamp', f'stamp {stamp} is not set: rejected')
        if stamp > now + cfg.max_future:
            raise InputRejected(source, 'future_stamp',
                                f'stamp {stamp - now:.3f} s in the future: rejected')
        if now - stamp > cfg.staleness_limit:
            raise InputRejected(source, 'stale', f'stamp {now - stamp:.3f} s old (limit '
                                                 f'{cfg.staleness_limit} s): rejected')
        buf = self._buffers[source]
        if buf and stamp <= buf[-1].stamp:
            raise InputRejected(source, 'out_of_order',
                                f'stamp {stamp:.6f} not after the previous '
                                f'{buf[-1].stamp:.6f}: rejected')

    def add_image(self, camera: str, msg: Any, stamp: float, now: float) -> Sample:
        """Validate, decode and resize an Image-like message; raise InputRejected if refused."""
        if camera not in self._buffers or camera not in self.config.camera_names:
            raise InputRejected(camera, 'unknown_source', 'unknown camera: rejected')
        try:
            rgb = conversions.decode_resize_rgb8(msg, self.config.image_height,
                                                 self.config.image_width,
                                                 max_bytes=self.config.max_image_bytes)
        except conversions.ImageError as exc:
            cause = 'oversized_image' if 'exceeds the limit' in str(exc) else 'bad_image'
            raise InputRejected(camera, cause, f'{exc}: rejected') from exc
        self._check_stamp(camera, stamp, now)
        sample = Sample(stamp, rgb, str(getattr(getattr(msg, 'header', None), 'frame_id', '')))
        self._buffers[camera].append(sample)
        self._dirty = True
        return sample

    def add_compressed_image(self, camera: str, data: bytes, frame_id: str, stamp: float,
                             now: float) -> Sample:
        """Validate and decode a CompressedImage payload (jpeg/png); InputRejected if refused."""
        if camera not in self._buffers or camera not in self.config.camera_names:
            raise InputRejected(camera, 'unknown_source', 'unknown camera: rejected')
        self._check_stamp(camera, stamp, now)
        if len(data) > self.config.max_image_bytes:
            raise InputRejected(camera, 'oversized_image',
                                f'{len(data)} bytes exceed the limit: rejected')
        import cv2
        bgr = cv2.imdecode(np.frombuffer(bytes(data), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputRejected(camera, 'bad_image', 'compressed image does not decode: rejected')
        rgb = conversions.resize(np.ascontiguousarray(bgr[:, :, ::-1]), self.config.image_height,
                                 self.config.image_width)
        sample = Sample(stamp, rgb, frame_id)
        self._buffers[camera].append(sample)
        self._dirty = True
        return sample

    def add_joint_state(self, arm: str, names: Sequence[str], position: Sequence[float],
                        velocity: Sequence[float], stamp: float, now: float) -> Sample:
        """
        Validate one arm's JointState fields; raise InputRejected if refused.

        Names may be full (``left_elbow``) or unprefixed (``elbow``); all of the arm's joints
        must be present, nothing else. Empty velocity is read as zeros.
        """
        if arm not in self.arm_joints:
            raise InputRejected(arm, 'unknown_source', 'unknown arm: rejected')
        expected = self.arm_joints[arm]
        # NaN first: it is the most telling defect, whatever else is wrong with the message
        pos = np.asarray(position, dtype=float)
        vel = np.asarray(velocity, dtype=float) if len(velocity) else np.zeros(len(names))
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(vel))):
            raise InputRejected(arm, 'nan', 'NaN/inf in joint state: rejected')
        if len(names) != len(position):
            raise InputRejected(arm, 'bad_size',
                                f'{len(names)} names but {len(position)} positions: rejected')
        if len(velocity) not in (0, len(names)):
            raise InputRejected(arm, 'bad_size',
                                f'{len(names)} names but {len(velocity)} velocities: rejected')
        full = [n if n in expected else f'{arm}_{n}' for n in names]
        unknown = [n for n, f in zip(names, full) if f not in expected]
        missing = [n for n in expected if n not in full]
        if unknown or missing:
            raise InputRejected(arm, 'unknown_joint',
                                f'unknown joints {unknown}, missing joints {missing}: '
                                'rejected')
        self._check_stamp(arm, stamp, now)
        order = [full.index(n) for n in expected]
        sample = Sample(stamp, (pos[order], vel[order]))
        self._buffers[arm].append(sample)
        self._dirty = True
        return sample

    def add_task_state(self, names: Sequence[str], values: Sequence[float], stamp: float,
                       now: float) -> Sample:
        """
        Validate one TaskState's fields; raise InputRejected if refused.

        The first accepted message fixes the names (and so the length); later ones must repeat
        them exactly, since a model reads the values by position.
        """
        if not self.config.task_state:
            raise InputRejected(TASK_STATE, 'unknown_source', 'no task state configured: rejected')
        n = len(values)
        if n > self.config.max_task_state_values:
            raise InputRejected(TASK_STATE, 'bad_size', f'{n} values above the limit of '
                                f'{self.config.max_task_state_values}: rejected')
        vals = np.asarray(values, dtype=float)
        if not np.all(np.isfinite(vals)):
            raise InputRejected(TASK_STATE, 'nan', 'NaN/inf in task state: rejected')
        if n == 0 or len(names) != n:
            raise InputRejected(TASK_STATE, 'bad_size',
                                f'{len(names)} names for {n} values: rejected')
        names = [str(x) for x in names]
        if self.task_state_names is not None and names != self.task_state_names:
            raise InputRejected(TASK_STATE, 'names_changed',
                                f'names {names} differ from the first accepted '
                                f'{self.task_state_names}: rejected')
        self._check_stamp(TASK_STATE, stamp, now)
        self.task_state_names = names
        sample = Sample(stamp, vals)
        self._buffers[TASK_STATE].append(sample)
        self._dirty = True
        return sample

    # ------------------------------------------------------------------ alignment

    def waiting_for(self) -> List[str]:
        """Return the sources that have not delivered a valid message yet."""
        return [s for s in self.sources if not self._buffers[s]] if self._last is None else []

    def _align(self) -> Optional[Dict[str, Sample]]:
        if any(not self._buffers[s] for s in self.sources):
            return None
        best, best_oldest = None, -math.inf
        for pivot_source, pivot in itertools.chain.from_iterable(
                ((s, m) for m in self._buffers[s]) for s in self.sources):
            chosen = {pivot_source: pivot}
            for s in self.sources:
                if s != pivot_source:
                    chosen[s] = min(self._buffers[s], key=lambda m: abs(m.stamp - pivot.stamp))
            stamps = [m.stamp for m in chosen.values()]
            if max(stamps) - min(stamps) <= self.config.slop and min(stamps) > best_oldest:
                best, best_oldest = chosen, min(stamps)
        return best

    def assemble(self, now: float) -> Optional[Assembled]:
        """Return the freshest aligned observation at ``now`` (None before the first aligned)."""
        if self._dirty:  # alignment only changes when an input arrived
            self._dirty = False
            aligned = self._align()
            self._aligned = aligned is not None
            if aligned is not None:
                self._last = aligned
        chosen = self._last
        if chosen is None:
            return None
        stamps = [m.stamp for m in chosen.values()]
        newest, oldest = max(stamps), min(stamps)
        position, velocity, gripper = [], [], []
        for arm in self.config.arms:
            pos, vel = chosen[arm].data
            for name, p, v in zip(self.arm_joints[arm], pos, vel):
                if 'gripper' in name:
                    gripper.append(p)
                else:
                    position.append(p)
                    velocity.append(v)
        return Assembled(stamp=newest, oldest=oldest,
                         images=[(c, chosen[c]) for c in self.config.camera_names],
                         arm_joint_names=list(self.arm_joint_names), position=np.array(position),
                         velocity=np.array(velocity), gripper=np.array(gripper),
                         max_input_age=newest - oldest,
                         stale=(now - oldest) > self.config.staleness_limit,
                         realigned=self._aligned,
                         task_state_names=list(self.task_state_names or []),
                         task_state=(chosen[TASK_STATE].data.copy() if TASK_STATE in chosen
                                     else np.zeros(0)))


#: Observation publishing modes: on the arrival of a fresher aligned set, or on a fixed timer.
PUBLISH_ON_ARRIVAL = 'arrival'
PUBLISH_ON_TIMER = 'timer'


class PublishGate:
    """
    When the observation node publishes (ROS-free).

    ``timer``: every timer tick publishes the freshest aligned set, so an observation waits up
    to a whole timer period after its last input arrived and a set is repeated until a fresher one
    aligns. ``arrival``: an input whose arrival completes a *fresher* aligned set (its oldest stamp
    later than the last published one's) publishes it at once, in that input's callback; the
    timer then only republishes the last set when none has been published for ``keepalive`` s
    (inputs stopped or no longer align), so downstream still sees it, flagged stale once old.
    """

    def __init__(self, mode: str, keepalive: float):
        """Gate for ``mode`` (PUBLISH_ON_ARRIVAL or PUBLISH_ON_TIMER)."""
        if mode not in (PUBLISH_ON_ARRIVAL, PUBLISH_ON_TIMER):
            raise ValueError(f"publish mode '{mode}' is not one of "
                             f"{[PUBLISH_ON_ARRIVAL, PUBLISH_ON_TIMER]}")
        if not keepalive > 0:
            raise ValueError(f'keepalive must be > 0, got {keepalive}')
        self.mode = mode
        self.keepalive = float(keepalive)
        self._last_oldest = -math.inf
        self._last_time: Optional[float] = None

    def on_input(self, obs: Optional[Assembled], now: float) -> bool:
        """Return whether ``obs``, assembled right after an input arrived at ``now``, publishes."""
        if self._last_time is not None and now < self._last_time:
            self.reset()  # the clock went back (a simulation reset): stamps restart
        return (self.mode == PUBLISH_ON_ARRIVAL and obs is not None and obs.realigned
                and obs.oldest > self._last_oldest)

    def on_timer(self, now: float) -> bool:
        """Return whether the timer tick at ``now`` publishes."""
        if self.mode == PUBLISH_ON_TIMER or self._last_time is None:
            return True
        # A clock that went back (a simulation reset) counts as a gap.
        return now - self._last_time >= self.keepalive or now < self._last_time

    def published(self, obs: Assembled, now: float) -> None:
        """Record that ``obs`` was published at ``now``."""
        if obs.realigned:
            self._last_oldest = obs.oldest
        self._last_time = now

    def reset(self) -> None:
        """Forget the last published set (the clock went back: stamps restart)."""
        self._last_oldest = -math.inf
        self._last_time = None

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
Conversions between recorded messages and :class:`aloe_ros.learning.episode.Episode`.

Proprio layout (docs/INTERFACES.md, P = 14): an Observation carries ``position`` (arm joints,
left arm then right arm, grippers excluded) and ``gripper`` ([left, right], normalised). The
proprio vector puts each gripper after its arm: ``[left arm..., left_gripper, right arm...,
right_gripper]``. With no gripper values, proprio is ``position``; with an odd number of arm
joints or other gripper counts, ``position + gripper``.

Rewards are sparse and terminal: ``success_reward`` at the last step of a successful episode,
and ``-step_penalty`` at every step (0 by default).
"""

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from aloe_ros.learning.episode import (
    Episode, OUTCOME_ABORTED, OUTCOME_FAILURE, OUTCOME_NONE, OUTCOME_SUCCESS, OUTCOME_TIMEOUT,
    SOURCE_HOLD, SOURCE_HUMAN, SOURCE_POLICY, SOURCE_SCRIPTED)

JOINT_NAMES_14 = [
    'left_waist', 'left_shoulder', 'left_elbow', 'left_forearm_roll', 'left_wrist_angle',
    'left_wrist_rotate', 'left_gripper',
    'right_waist', 'right_shoulder', 'right_elbow', 'right_forearm_roll', 'right_wrist_angle',
    'right_wrist_rotate', 'right_gripper']

EVENT_STARTED = 0
EVENT_ENDED = 1
VALID_SOURCES = (SOURCE_POLICY, SOURCE_HUMAN, SOURCE_SCRIPTED, SOURCE_HOLD)


def outcome_flags(outcome: int) -> Tuple[bool, bool]:
    """Return ``(terminated, truncated)``: success/failure terminate, timeout/abort truncate."""
    if outcome in (OUTCOME_SUCCESS, OUTCOME_FAILURE):
        return True, False
    if outcome in (OUTCOME_TIMEOUT, OUTCOME_ABORTED):
        return False, True
    if outcome == OUTCOME_NONE:
        return False, False
    raise ValueError(f'unknown outcome {outcome}')


def sparse_rewards(num_steps: int, outcome: int, success_reward: float = 1.0,
                   step_penalty: float = 0.0) -> np.ndarray:
    """Return float32 (T,) rewards: ``-step_penalty`` each step, ``+success_reward`` at the end."""
    r = np.full(num_steps, -float(step_penalty), dtype=np.float32)
    if num_steps and outcome == OUTCOME_SUCCESS:
        r[-1] += float(success_reward)
    return r


def proprio_from(position: Sequence[float], gripper: Sequence[float]) -> np.ndarray:
    """Arrange Observation position + gripper as the proprio vector (module docstring)."""
    pos = np.asarray(position, dtype=np.float32)
    grip = np.asarray(gripper, dtype=np.float32)
    if grip.size == 0:
        return pos
    if grip.size == 2 and pos.size % 2 == 0:
        half = pos.size // 2
        return np.concatenate([pos[:half], grip[:1], pos[half:], grip[1:]])
    return np.concatenate([pos, grip])


def observation_to_obs(msg: Any, cameras: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """
    Decode an aloe_msgs/Observation into the policy/critic obs dict (learning.runtime).

    Returns ``{'images': {cam: uint8 (h, w, 3)}, 'proprio': (14,), 'instruction': str}``, plus
    ``'state'`` (float32) when the message carries a task state; only the ``cameras`` named are
    decoded (all when None).
    """
    images = {name: image_to_array(img) for name, img in zip(msg.camera_names, msg.images)
              if cameras is None or name in cameras}
    obs = {'images': images, 'proprio': proprio_from(msg.position, msg.gripper),
           'instruction': msg.task_instruction}
    state = list(getattr(msg, 'task_state', ()))
    if state:
        obs['state'] = np.asarray(state, dtype=np.float32)
    return obs


def split_proprio(proprio: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`proprio_from` for an even-length vector: ``(position, gripper)``."""
    p = np.asarray(proprio, dtype=np.float64)
    if p.size % 2:
        raise ValueError(f'proprio of odd length {p.size} cannot be split into two arms')
    half = p.size // 2
    return np.concatenate([p[:half - 1], p[half:-1]]), np.array([p[half - 1], p[-1]])


def image_to_array(img: Any) -> np.ndarray:
    """Decode a sensor_msgs/Image (rgb8, bgr8, mono8) into uint8 (h, w, 3) RGB."""
    enc = img.encoding
    channels = {'rgb8': 3, 'bgr8': 3, 'mono8': 1}.get(enc)
    if channels is None:
        raise ValueError(f'unsupported image encoding {enc!r} (rgb8, bgr8 or mono8)')
    h, w, step = int(img.height), int(img.width), int(img.step)
    buf = np.frombuffer(bytes(img.data), dtype=np.uint8)
    if buf.size < h * step or step < w * channels:
        raise ValueError(f'image {w}x{h} {enc}: {buf.size} bytes, step {step}')
    arr = buf[:h * step].reshape(h, step)[:, :w * channels].reshape(h, w, channels)
    if enc == 'bgr8':
        arr = arr[:, :, ::-1]
    elif enc == 'mono8':
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr)


def image_message(array: np.ndarray, stamp_ns: int = 0, frame_id: str = '') -> Dict[str, Any]:
    """Return a sensor_msgs/Image dict (rgb8) for a uint8 (h, w, 3) array."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f'image must be (h, w, 3) uint8, got {a.shape}')
    return {'header': header(stamp_ns, frame_id), 'height': a.shape[0], 'width': a.shape[1],
            'encoding': 'rgb8', 'is_bigendian': 0, 'step': a.shape[1] * 3, 'data': a.tobytes()}


def header(stamp_ns: int, frame_id: str = '') -> Dict[str, Any]:
    """Return a std_msgs/Header dict."""
    return {'stamp': {'sec': int(stamp_ns // 1_000_000_000),
                      'nanosec': int(stamp_ns % 1_000_000_000)},
            'frame_id': frame_id}


def stamp_ns(msg: Any) -> int:
    """Return ``header.stamp`` of a decoded message in nanoseconds."""
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def check_executed_step(step: Any, action_dim: int, last_index: Optional[int],
                        episode_id: str) -> Optional[str]:
    """
    Return why an ExecutedStep must be rejected, or None when it is valid.

    Rejected: wrong action size, joint_names / observed_position sizes that disagree with it,
    NaN or Inf values, an unknown source, a step_index not greater than the last accepted one,
    or an episode_id other than ``episode_id`` (checked first: a step the executor labelled
    before it saw this episode start belongs to no episode).
    """
    if step.episode_id != episode_id:
        return f'step {step.step_index} belongs to episode {step.episode_id!r}, not {episode_id!r}'
    action = list(step.action)
    if action_dim > 0 and len(action) != action_dim:
        return f'step {step.step_index}: action has {len(action)} values, expected {action_dim}'
    if not action:
        return f'step {step.step_index}: empty action'
    names = list(step.joint_names)
    if names and len(names) != len(action):
        return f'step {step.step_index}: {len(names)} joint_names for {len(action)} actions'
    observed = list(step.observed_position)
    if observed and len(observed) != len(action):
        return (f'step {step.step_index}: {len(observed)} observed positions for '
                f'{len(action)} actions')
    if not all(math.isfinite(v) for v in action):
        return f'step {step.step_index}: non-finite action'
    if not all(math.isfinite(v) for v in observed):
        return f'step {step.step_index}: non-finite observed_position'
    if int(step.source) not in VALID_SOURCES:
        return f'step {step.step_index}: unknown source {step.source}'
    if last_index is not None and int(step.step_index) <= last_index:
        return f'step_index {step.step_index} out of order (last accepted {last_index})'
    return None


@dataclass
class StepStats:
    """Running counts of an episode's executed steps, for the catalog and EpisodeSummary."""

    num_steps: int = 0
    by_source: Dict[int, int] = field(default_factory=lambda: {s: 0 for s in VALID_SOURCES})
    num_interventions: int = 0
    policy_versions: List[int] = field(default_factory=list)
    _in_intervention: bool = False

    def add(self, source: int, policy_version: int, intervention: bool) -> None:
        """Count one step; an intervention is counted when the flag rises."""
        self.num_steps += 1
        self.by_source[int(source)] = self.by_source.get(int(source), 0) + 1
        if intervention and not self._in_intervention:
            self.num_interventions += 1
        self._in_intervention = bool(intervention)
        if int(source) == SOURCE_POLICY and int(policy_version) not in self.policy_versions:
            self.policy_versions.append(int(policy_version))


def episode_from_messages(episode_id: str, observations: List[Any], steps: List[Any],
                          events: List[Any], success_reward: float = 1.0,
                          step_penalty: float = 0.0, metadata: Optional[Dict[str, str]] = None
                          ) -> Episode:
    """
    Build an Episode from decoded Observation, ExecutedStep and EpisodeEvent messages.

    Steps are ordered by step_index. Each step is paired with the latest observation whose
    header stamp is at or before the step's stamp (the first observation when none is); with no
    observations at all, proprio is the step's observed_position and there are no images.
    When every paired observation carries a task state, ``extra['state']`` holds it per step.
    ``extra['image_stamp_ns']`` (T, cameras in sorted order, int64) holds the header stamp of
    each paired image: the stamp of the camera frame it was made from, by which
    :mod:`aloe_ros.storage.lerobot` finds that frame at native resolution in the bag.
    """
    metadata = metadata or {}
    steps = sorted(steps, key=lambda s: int(s.step_index))
    observations = sorted(observations, key=stamp_ns)
    obs_stamps = np.array([stamp_ns(o) for o in observations], dtype=np.int64)
    started = [e for e in events if int(e.event) == EVENT_STARTED]
    ended = [e for e in events if int(e.event) == EVENT_ENDED]
    task = started[0].task if started else metadata.get('task', '')
    instruction = started[0].task_instruction if started else metadata.get('instruction', '')
    seed = int(started[0].seed) if started else int(metadata.get('seed', -1))
    outcome = int(ended[-1].outcome) if ended else int(metadata.get('outcome', OUTCOME_NONE))
    terminated, truncated = outcome_flags(outcome)

    n = len(steps)
    # An episode ended before its first step (operator started and stopped) is valid and empty.
    actions = (np.array([list(s.action) for s in steps], dtype=np.float32).reshape(n, -1) if n
               else np.zeros((0, 0), np.float32))
    images: Dict[str, List[np.ndarray]] = {}
    proprio: List[np.ndarray] = []
    states: List[Optional[np.ndarray]] = []
    image_stamps: List[List[int]] = []
    cache: Dict[int, Tuple[np.ndarray, Dict[str, np.ndarray], Optional[np.ndarray],
                           List[int]]] = {}
    for s in steps:
        if observations:
            k = max(int(np.searchsorted(obs_stamps, stamp_ns(s), side='right')) - 1, 0)
            if k not in cache:
                msg = observations[k]
                obs = observation_to_obs(msg)
                by_name = dict(zip(msg.camera_names, msg.images))
                cache = {k: (obs['proprio'], obs['images'], obs.get('state'),
                             [stamp_ns(by_name[c]) for c in sorted(obs['images'])])}
            p, cams, state, cam_stamps = cache[k]
            proprio.append(p)
            states.append(state)
            image_stamps.append(cam_stamps)
            if images and set(images) != set(cams):
                raise ValueError(f'episode {episode_id}: cameras change from {sorted(images)} '
                                 f'to {sorted(cams)} at step {s.step_index}')
            for name, arr in cams.items():
                images.setdefault(name, []).append(arr)
        else:
            proprio.append(np.asarray(list(s.observed_position), dtype=np.float32))
            states.append(None)
    dim = proprio[0].size if proprio else 0
    ep = Episode(
        episode_id=episode_id, task=task, instruction=instruction,
        images={k: np.stack(v) for k, v in images.items()},
        proprio=np.stack(proprio).astype(np.float32) if n else np.zeros((0, dim), np.float32),
        actions=actions,
        sources=np.array([int(s.source) for s in steps], dtype=np.uint8),
        policy_versions=np.array([int(s.policy_version) for s in steps], dtype=np.uint32),
        interventions=np.array([bool(s.intervention) for s in steps], dtype=bool),
        rewards=sparse_rewards(n, outcome, success_reward, step_penalty),
        outcome=outcome, terminated=terminated, truncated=truncated, seed=seed,
        extra={'step_index': np.array([int(s.step_index) for s in steps], dtype=np.int64),
               'chunk_id': np.array([int(s.chunk_id) for s in steps], dtype=np.int64),
               'index_in_chunk': np.array([int(s.index_in_chunk) for s in steps], dtype=np.int32),
               'stamp': np.array([stamp_ns(s) * 1e-9 for s in steps], dtype=np.float64)})
    if states and all(x is not None for x in states):
        if len({x.shape for x in states}) != 1:
            raise ValueError(f'episode {episode_id}: the task state changes size within the '
                             'episode')
        ep.extra['state'] = np.stack(states).astype(np.float32)
    if images:
        ep.extra['image_stamp_ns'] = np.array(image_stamps, dtype=np.int64).reshape(n, len(images))
    return ep


def make_episode(episode_id: str, actions: np.ndarray, proprio: np.ndarray,
                 sources: Optional[np.ndarray] = None,
                 images: Optional[Dict[str, np.ndarray]] = None,
                 policy_versions: Optional[np.ndarray] = None,
                 interventions: Optional[np.ndarray] = None, outcome: int = OUTCOME_NONE,
                 task: str = '', instruction: str = '', seed: int = -1,
                 success_reward: float = 1.0, step_penalty: float = 0.0) -> Episode:
    """
    Build a validated Episode straight from python arrays (sim benchmarks that bypass ROS).

    Rewards, ``terminated`` and ``truncated`` follow the same rules as episodes read from the
    store. Defaults: all steps from the policy, version 0, no interventions (human steps count
    as interventions when ``interventions`` is not given).
    """
    actions = np.asarray(actions, dtype=np.float32)
    n = actions.shape[0]
    sources = (np.full(n, SOURCE_POLICY, np.uint8) if sources is None
               else np.asarray(sources, dtype=np.uint8))
    if interventions is None:
        interventions = sources == SOURCE_HUMAN
    terminated, truncated = outcome_flags(outcome)
    ep = Episode(
        episode_id=episode_id, task=task, instruction=instruction,
        images={k: np.asarray(v, dtype=np.uint8) for k, v in (images or {}).items()},
        proprio=np.asarray(proprio, dtype=np.float32), actions=actions, sources=sources,
        policy_versions=(np.zeros(n, np.uint32) if policy_versions is None
                         else np.asarray(policy_versions, dtype=np.uint32)),
        interventions=np.asarray(interventions, dtype=bool),
        rewards=sparse_rewards(n, outcome, success_reward, step_penalty),
        outcome=int(outcome), terminated=terminated, truncated=truncated, seed=int(seed))
    ep.validate()
    return ep

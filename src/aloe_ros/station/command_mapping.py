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
Robot profile: the policy's action vector <-> the robot's command interfaces, as data (no ROS).

A robot profile (``config/robots/*.yaml``, a plain YAML file, not a ROS parameter file) says how
the action vector (default: per arm 6 joints in rad, then the gripper normalised 0 = closed ..
1 = open) reaches the robot and how the robot's joint states come back::

    robot: <name>
    arms: [left, right]                    # action names start with '<arm>_'
    action_names: [left_waist, ...]        # optional, default the 14 of docs/INTERFACES.md
    command_groups:                        # any number per arm; every action name exactly once
      - name: left_arm
        type: joint_trajectory             # see GROUP_TYPES
        topic: left_arm_controller/joint_trajectory   # relative: in the station's namespace
        joints:
          - {action: left_waist, joint: waist, lower: -3.14, upper: 3.14, max_velocity: 3.14}
      - name: left_gripper
        type: gripper_action
        topic: left_gripper_controller/gripper_cmd
        joints:
          - {action: left_gripper, joint: left_finger, action_range: [0.0, 1.0],
             robot_range: [0.01844, 0.058], lower: 0.01844, upper: 0.058, max_velocity: 0.1}
    joint_states:                          # where the observation reads each arm
      - {topic: follower_left/joint_states, arm: left, urdf_prefix: left_}
    leaders:                               # optional: teleop leader arms, as joint_states
      - {topic: leader_left/joint_states, arm: left, joints: [...]}
    cameras:                               # optional: image topic per camera
      cam_high: cam_high/camera/color/image_rect_raw
      cam_left_wrist: {image: cam_left_wrist/color/image_raw,
                       info: cam_left_wrist/color/camera_info}

Unit conversion is affine per joint: ``action_range: [a0, a1]`` and ``robot_range: [r0, r1]``
map ``a0 -> r0`` and ``a1 -> r1`` (``robot = offset + scale * action``); without them a joint is
in the same units on both sides. ``lower``, ``upper`` (robot units) and ``max_velocity`` (robot
units per s) are required for every commanded joint; the executor enforces them through the
same map in action units, which is exact since an affine map keeps order (a negative scale
swaps the bounds). A joint-state source reads, by default, the command joints of its arm under
their robot names, inverted through the same map; ``joints`` lists other readings (a gripper
commanded in metres and reported in radians). ``urdf_prefix`` and ``urdf_names`` rename the
source's joints for the combined ``/joint_states`` (robot_state_publisher, RViz, ``/tf``).
``leaders`` says how the teleop node reads leader arms (another arm model, a gripper with
another range) in the same form; without it a leader arm is read like its follower.
A camera's ``sensor_msgs/CameraInfo`` is read from ``info``, by default from ``camera_info``
next to its image topic (the image_transport convention every camera driver follows:
``.../color/image_rect_raw`` -> ``.../color/camera_info``).

Topics are ROS names as the nodes subscribe or publish them: a relative name (the shipped
profiles') resolves in the station's namespace, so the same profile drives a station at ``/``
(``/follower_left/joint_states``) and one launched with ``namespace:=station_a``
(``/station_a/follower_left/joint_states``); an absolute name is used as written.

Every mistake found at load raises :class:`ProfileError` naming the key, e.g.
``command_groups[1].joints: gripper_action commands exactly one joint, got 2``.
"""

from dataclasses import dataclass, field
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import yaml

#: Default action order (docs/INTERFACES.md): left arm + gripper, then right arm + gripper.
DEFAULT_ACTION_NAMES = tuple(f'{side}_{j}' for side in ('left', 'right')
                             for j in ('waist', 'shoulder', 'elbow', 'forearm_roll',
                                       'wrist_angle', 'wrist_rotate', 'gripper'))

#: Controller types a command group can have: the ROS message each one sends and the package
#: that defines it (imported only when a profile uses the type).
GROUP_TYPES = {
    'joint_trajectory': ('trajectory_msgs/JointTrajectory (joint_trajectory_controller)',
                         'trajectory_msgs'),
    'forward_command': ('std_msgs/Float64MultiArray (forward_command_controller)', 'std_msgs'),
    'gripper_action': ('control_msgs/action/GripperCommand (gripper_action_controller)',
                       'control_msgs'),
    'interbotix_group': ('interbotix_xs_msgs/JointGroupCommand (Interbotix xs_sdk)',
                         'interbotix_xs_msgs'),
    'interbotix_single': ('interbotix_xs_msgs/JointSingleCommand (Interbotix xs_sdk)',
                          'interbotix_xs_msgs'),
}
#: Types that command exactly one joint.
SINGLE_JOINT_TYPES = ('gripper_action', 'interbotix_single')
#: Options per type beyond name/type/topic/joints, with their defaults.
GROUP_OPTIONS = {
    'joint_trajectory': {'time_from_start': 0.0},
    'forward_command': {},
    'gripper_action': {'max_effort': 0.0, 'goal_deadband': 1e-4},
    'interbotix_group': {'interbotix_name': None},
    'interbotix_single': {},
}
_TOP_KEYS = ('robot', 'arms', 'action_names', 'command_groups', 'joint_states', 'leaders',
             'cameras')
_JOINT_KEYS = ('action', 'joint', 'lower', 'upper', 'max_velocity', 'action_range',
               'robot_range')
_READ_KEYS = ('action', 'joint', 'action_range', 'robot_range')
_SOURCE_KEYS = ('topic', 'arm', 'urdf_prefix', 'urdf_names', 'joints')
_CAMERA_KEYS = ('image', 'info')


def camera_info_topic(image_topic: str) -> str:
    """Return the CameraInfo topic of an image topic: ``camera_info`` in its namespace."""
    namespace = image_topic.rstrip('/').rsplit('/', 1)[0]
    return f'{namespace}/camera_info'


class ProfileError(ValueError):
    """A robot profile that cannot be used; ``key`` is where in the file the mistake is."""

    def __init__(self, key: str, message: str, source: str = ''):
        """Build the error for ``key`` (``source``: the file, when known)."""
        where = f'robot profile {source}: ' if source else 'robot profile: '
        super().__init__(f'{where}{key}: {message}')
        self.key = key
        self.problem = message
        self.source = source


@dataclass(frozen=True)
class JointMap:
    """One joint on both sides: ``robot = offset + scale * action``, limits in robot units."""

    action: str
    joint: str
    scale: float = 1.0
    offset: float = 0.0
    lower: float = -math.inf
    upper: float = math.inf
    max_velocity: float = math.inf

    def to_robot(self, value: float) -> float:
        """Return the robot-unit value of an action value."""
        return self.offset + self.scale * value

    def to_action(self, value: float) -> float:
        """Return the action value of a robot-unit position."""
        return (value - self.offset) / self.scale

    def action_limits(self) -> Tuple[float, float, float]:
        """Return (lower, upper, max_velocity) in action units."""
        a, b = self.to_action(self.lower), self.to_action(self.upper)
        return min(a, b), max(a, b), self.max_velocity / abs(self.scale)


@dataclass
class CommandGroup:
    """One controller: its message type, topic, joints (in message order) and options."""

    name: str
    type: str
    topic: str
    joints: List[JointMap]
    action_index: List[int]
    options: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        """Precompute the group's affine map and limits as arrays (one tick: a few array ops)."""
        self._index = np.asarray(self.action_index, dtype=int)
        self._scale = np.array([j.scale for j in self.joints])
        self._offset = np.array([j.offset for j in self.joints])
        self._lower = np.array([j.lower for j in self.joints])
        self._upper = np.array([j.upper for j in self.joints])

    @property
    def joint_names(self) -> List[str]:
        """Return the robot joint names, in message order."""
        return [j.joint for j in self.joints]

    def to_robot(self, action: np.ndarray) -> np.ndarray:
        """Return this group's targets in robot units, clipped into its robot-unit limits."""
        # minimum/maximum: np.clip's overhead is larger than the work on a few joints
        return np.minimum(np.maximum(self._offset + self._scale * action[self._index],
                                     self._lower), self._upper)


@dataclass
class StateSource:
    """One JointState topic the observation reads an arm from."""

    topic: str
    arm: str
    joints: List[JointMap]
    action_index: List[int]
    urdf_prefix: str = ''
    urdf_names: Dict[str, str] = field(default_factory=dict)
    #: The profile key it comes from: joint_states (followers) or leaders.
    section: str = 'joint_states'

    def urdf_name(self, joint: str) -> str:
        """Return the URDF name of one of this source's joints."""
        return self.urdf_names.get(joint, self.urdf_prefix + joint)


@dataclass
class RobotProfile:
    """A validated profile; see the module docstring."""

    name: str
    arms: List[str]
    action_names: List[str]
    groups: List[CommandGroup]
    sources: List[StateSource]
    cameras: Dict[str, str] = field(default_factory=dict)
    path: str = ''
    #: CameraInfo topic per camera of ``cameras``.
    camera_info: Dict[str, str] = field(default_factory=dict)
    #: How the teleop node reads leader arms (empty: like their followers).
    leaders: List[StateSource] = field(default_factory=list)

    def required_packages(self) -> List[str]:
        """Return the ROS message packages the command groups need, in first-use order."""
        out: List[str] = []
        for group in self.groups:
            package = GROUP_TYPES[group.type][1]
            if package not in out:
                out.append(package)
        return out

    def action_limits(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (lower, upper, max_velocity) per action dimension, in action units."""
        n = len(self.action_names)
        lower, upper, vmax = np.empty(n), np.empty(n), np.empty(n)
        for group in self.groups:
            for joint, i in zip(group.joints, group.action_index):
                lower[i], upper[i], vmax[i] = joint.action_limits()
        return lower, upper, vmax

    def commands(self, action: Sequence[float]) -> List[Tuple[CommandGroup, np.ndarray]]:
        """
        Return, per command group, its joints' targets in robot units (message order).

        Targets are clipped into the robot-unit limits, so rounding in the conversion can never
        put a command a hair outside them.
        """
        action = np.asarray(action, dtype=float)
        if action.shape != (len(self.action_names),):
            raise ValueError(f'action has {action.size} values, the profile '
                             f'{len(self.action_names)}')
        return [(group, group.to_robot(action)) for group in self.groups]

    def source_for_arm(self, arm: str) -> int:
        """Return the index of the joint-state source of ``arm``."""
        for k, source in enumerate(self.sources):
            if source.arm == arm:
                return k
        raise KeyError(arm)

    def state_to_action(self, source_index: int, names: Sequence[str],
                        position: Sequence[float], velocity: Sequence[float]
                        ) -> Tuple[List[str], np.ndarray, np.ndarray]:
        """
        Return one source's JointState as (action names, positions, velocities), action units.

        Joints the profile does not read (finger mimics, other arms' joints) are ignored; a
        joint it reads that is missing, or sizes that disagree, raise ValueError. Empty
        ``velocity`` is read as zeros.
        """
        return _source_to_action(self.sources[source_index], names, position, velocity)

    def leader_to_action(self, arm: str, names: Sequence[str], position: Sequence[float]
                         ) -> Tuple[List[str], np.ndarray]:
        """
        Return a leader arm's JointState as (action names, positions), action units.

        Read through the profile's ``leaders`` entry of ``arm``, or its follower's when the
        profile has no ``leaders``; errors as :meth:`state_to_action`.
        """
        sources = self.leaders or self.sources
        source = next((s for s in sources if s.arm == arm), None)
        if source is None:
            raise KeyError(arm)
        out_names, pos, _ = _source_to_action(source, names, position, ())
        return out_names, pos

    def urdf_joint_state(self, source_index: int,
                         names: Sequence[str]) -> List[str]:
        """Return the URDF names of one source's JointState names (same order)."""
        source = self.sources[source_index]
        return [source.urdf_name(n) for n in names]

    def dry_run(self, action: Sequence[float]) -> List[str]:
        """Return, one line per group, what the executor would send for ``action``."""
        lines = []
        for group, values in self.commands(action):
            parts = ', '.join(f'{j.joint}={v:.5g}' for j, v in zip(group.joints, values))
            lines.append(f'{group.name}: {GROUP_TYPES[group.type][0].split(" ")[0]} -> '
                         f'{group.topic}: {parts}')
        return lines

    def describe_limits(self) -> List[str]:
        """Return one line per action dimension: its limits in robot and in action units."""
        lower, upper, vmax = self.action_limits()
        lines = []
        for group in self.groups:
            for joint, i in zip(group.joints, group.action_index):
                lines.append(f'{joint.action} -> {group.name}/{joint.joint}: robot '
                             f'[{joint.lower:.5g}, {joint.upper:.5g}] '
                             f'max {joint.max_velocity:.5g}/s; action '
                             f'[{lower[i]:.5g}, {upper[i]:.5g}] max {vmax[i]:.5g}/s')
        return lines


def _source_to_action(source: StateSource, names: Sequence[str], position: Sequence[float],
                      velocity: Sequence[float]) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """Return one JointState of ``source`` in action names and units (see state_to_action)."""
    if len(names) != len(position):
        raise ValueError(f'{len(names)} names but {len(position)} positions')
    if len(velocity) not in (0, len(names)):
        raise ValueError(f'{len(names)} names but {len(velocity)} velocities')
    index = {n: k for k, n in enumerate(names)}
    missing = [j.joint for j in source.joints if j.joint not in index]
    if missing:
        raise ValueError(f'{source.topic}: missing joints {missing} (profile '
                         f'{source.section} for arm {source.arm!r})')
    pos = np.array([j.to_action(float(position[index[j.joint]])) for j in source.joints])
    vel = np.array([float(velocity[index[j.joint]]) / j.scale if len(velocity) else 0.0
                    for j in source.joints])
    return [j.action for j in source.joints], pos, vel


# ---------------------------------------------------------------------------------- loading


def load_profile(path: str) -> RobotProfile:
    """Read and validate the profile at ``path``; raise ProfileError naming the key."""
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except OSError as exc:
        raise ProfileError('(file)', f'cannot read: {exc.strerror or exc}', path) from exc
    except yaml.YAMLError as exc:
        raise ProfileError('(file)', f'not valid YAML: {exc}', path) from exc
    return profile_from_dict(data, path)


def profile_from_dict(data: Any, path: str = '') -> RobotProfile:
    """Validate a parsed profile; raise ProfileError naming the key."""
    return _Validator(path).profile(data)


def legacy_profile(action_names: Sequence[str], arms: Sequence[str], controllers: Sequence[str],
                   interface: str, lower: Sequence[float], upper: Sequence[float],
                   max_velocity: Sequence[float], time_from_start: float = 0.0,
                   joint_state_topics: Optional[Sequence[str]] = None) -> RobotProfile:
    """
    Return the profile the executor's per-joint parameters describe (one group per arm).

    ``interface`` is ``trajectory`` or ``forward``; each arm's joints go, under their action
    names and in action units, to ``<controller>/joint_trajectory`` or ``<controller>/commands``
    (relative: in the node's namespace).
    """
    kind = {'trajectory': 'joint_trajectory', 'forward': 'forward_command'}[interface]
    suffix = {'trajectory': 'joint_trajectory', 'forward': 'commands'}[interface]
    topics = list(joint_state_topics or [f'follower_{a}/joint_states' for a in arms])
    groups, sources = [], []
    for arm, controller, topic in zip(arms, controllers, topics):
        index = [i for i, n in enumerate(action_names) if n.startswith(arm + '_')]
        if not index:
            raise ProfileError('arms', f"no joint in joint_names starts with '{arm}_'")
        joints = [JointMap(action_names[i], action_names[i], lower=float(lower[i]),
                           upper=float(upper[i]), max_velocity=float(max_velocity[i]))
                  for i in index]
        options = {'time_from_start': time_from_start} if kind == 'joint_trajectory' else {}
        groups.append(CommandGroup(f'{arm}_arm', kind, f'{controller}/{suffix}', joints, index,
                                   options))
        sources.append(StateSource(topic, arm, joints, index))
    return RobotProfile('parameters', list(arms), list(action_names), groups, sources)


class _Validator:
    """Builds a RobotProfile from parsed YAML, raising ProfileError at the first mistake."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, key: str, message: str):
        raise ProfileError(key, message, self.path)

    def mapping(self, value, key: str, allowed: Sequence[str]) -> Dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, f'must be a mapping, got {type(value).__name__}')
        unknown = [k for k in value if k not in allowed]
        if unknown:
            self.fail(f'{key}.{unknown[0]}' if key else str(unknown[0]),
                      f'unknown key; known: {", ".join(allowed)}')
        return value

    def string(self, value, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f'must be a non-empty string, got {value!r}')
        return value

    def number(self, value, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            self.fail(key, f'must be a finite number, got {value!r}')
        return float(value)

    def strings(self, value, key: str) -> List[str]:
        if not isinstance(value, list) or not value:
            self.fail(key, 'must be a non-empty list of names')
        out = [self.string(v, f'{key}[{k}]') for k, v in enumerate(value)]
        dup = sorted({v for v in out if out.count(v) > 1})
        if dup:
            self.fail(key, f'names repeated: {dup}')
        return out

    def pair(self, value, key: str) -> Tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2:
            self.fail(key, f'must be a list of two numbers, got {value!r}')
        a, b = (self.number(v, f'{key}[{k}]') for k, v in enumerate(value))
        if a == b:
            self.fail(key, f'the two ends must differ, got {a:g} twice')
        return a, b

    def profile(self, data) -> RobotProfile:
        if data is None:
            self.fail('(file)', 'is empty')
        data = self.mapping(data, '', _TOP_KEYS)
        for required in ('command_groups', 'joint_states'):
            if required not in data:
                self.fail(required, 'missing (required)')
        name = self.string(data.get('robot', 'unnamed'), 'robot')
        arms = self.strings(data.get('arms', ['left', 'right']), 'arms')
        names = self.strings(data.get('action_names', list(DEFAULT_ACTION_NAMES)), 'action_names')
        for k, n in enumerate(names):
            if not any(n.startswith(a + '_') for a in arms):
                prefixes = ', '.join(a + '_' for a in arms)
                self.fail(f'action_names[{k}]', f'{n!r} starts with no arm prefix ({prefixes})')
        for arm in arms:
            if not any(n.startswith(arm + '_') for n in names):
                self.fail('arms', f"no action name starts with '{arm}_'")
        groups = self.groups(data['command_groups'], names)
        sources = self.sources(data['joint_states'], arms, names, groups)
        leaders = (self.sources(data['leaders'], arms, names, groups, 'leaders')
                   if 'leaders' in data else [])
        cameras, infos = self.cameras(data.get('cameras', {}))
        return RobotProfile(name, arms, names, groups, sources, cameras, self.path, infos,
                            leaders)

    def joint(self, value, key: str, names: Sequence[str], commanded: bool) -> JointMap:
        entry = self.mapping(value, key, _JOINT_KEYS if commanded else _READ_KEYS)
        limits = ('lower', 'upper', 'max_velocity') if commanded else ()
        for required in ('action', 'joint') + limits:
            if required not in entry:
                self.fail(f'{key}.{required}', 'missing (required)')
        action = self.string(entry['action'], f'{key}.action')
        if action not in names:
            self.fail(f'{key}.action', f'{action!r} is not in action_names')
        joint = self.string(entry['joint'], f'{key}.joint')
        if ('action_range' in entry) != ('robot_range' in entry):
            self.fail(f'{key}.action_range', 'action_range and robot_range come together')
        scale, offset = 1.0, 0.0
        if 'action_range' in entry:
            a0, a1 = self.pair(entry['action_range'], f'{key}.action_range')
            r0, r1 = self.pair(entry['robot_range'], f'{key}.robot_range')
            scale = (r1 - r0) / (a1 - a0)
            offset = r0 - scale * a0
        if not commanded:
            return JointMap(action, joint, scale, offset)
        lower = self.number(entry['lower'], f'{key}.lower')
        upper = self.number(entry['upper'], f'{key}.upper')
        if lower > upper:
            self.fail(f'{key}.lower', f'{lower:g} is above upper {upper:g}')
        vmax = self.number(entry['max_velocity'], f'{key}.max_velocity')
        if vmax <= 0:
            self.fail(f'{key}.max_velocity', f'must be > 0, got {vmax:g}')
        return JointMap(action, joint, scale, offset, lower, upper, vmax)

    def groups(self, value, names: Sequence[str]) -> List[CommandGroup]:
        if not isinstance(value, list) or not value:
            self.fail('command_groups', 'must be a non-empty list of controller groups')
        groups: List[CommandGroup] = []
        owner: Dict[str, str] = {}
        for g, raw in enumerate(value):
            key = f'command_groups[{g}]'
            if not isinstance(raw, dict):
                self.fail(key, f'must be a mapping, got {type(raw).__name__}')
            kind = raw.get('type')
            if kind not in GROUP_TYPES:
                self.fail(f'{key}.type', f'unknown controller type {kind!r}; known: '
                                         f'{", ".join(GROUP_TYPES)}')
            options = dict(GROUP_OPTIONS[kind])
            entry = self.mapping(raw, key, ('name', 'type', 'topic', 'joints') + tuple(options))
            for required in ('name', 'topic', 'joints'):
                if required not in entry:
                    self.fail(f'{key}.{required}', 'missing (required)')
            gname = self.string(entry['name'], f'{key}.name')
            if any(gr.name == gname for gr in groups):
                self.fail(f'{key}.name', f'{gname!r} is used by another group')
            topic = self.string(entry['topic'], f'{key}.topic')
            for option, default in GROUP_OPTIONS[kind].items():
                if option not in entry:
                    if default is None:
                        self.fail(f'{key}.{option}', f'missing (required for {kind})')
                    continue
                if default is None:
                    options[option] = self.string(entry[option], f'{key}.{option}')
                else:
                    options[option] = self.number(entry[option], f'{key}.{option}')
                    if options[option] < 0:
                        self.fail(f'{key}.{option}', f'must be >= 0, got {options[option]:g}')
            raw_joints = entry['joints']
            if not isinstance(raw_joints, list) or not raw_joints:
                self.fail(f'{key}.joints', 'must be a non-empty list of joints')
            if kind in SINGLE_JOINT_TYPES and len(raw_joints) != 1:
                self.fail(f'{key}.joints', f'{kind} commands exactly one joint, got '
                                           f'{len(raw_joints)}')
            joints = [self.joint(j, f'{key}.joints[{k}]', names, True)
                      for k, j in enumerate(raw_joints)]
            robot_names = [j.joint for j in joints]
            dup = sorted({n for n in robot_names if robot_names.count(n) > 1})
            if dup:
                self.fail(f'{key}.joints', f'joint names repeated: {dup}')
            for k, j in enumerate(joints):
                if j.action in owner:
                    self.fail(f'{key}.joints[{k}].action', f'{j.action!r} is already commanded '
                                                           f'by {owner[j.action]}')
                owner[j.action] = key
            groups.append(CommandGroup(gname, kind, topic, joints,
                                       [names.index(j.action) for j in joints], options))
        missing = [n for n in names if n not in owner]
        if missing:
            self.fail('command_groups', f'no group commands {missing}: every action dimension '
                                        'needs exactly one')
        return groups

    def sources(self, value, arms: Sequence[str], names: Sequence[str],
                groups: Sequence[CommandGroup], section: str = 'joint_states'
                ) -> List[StateSource]:
        if not isinstance(value, list) or not value:
            self.fail(section, 'must be a non-empty list of JointState sources')
        commanded = {j.action: j for g in groups for j in g.joints}
        sources: List[StateSource] = []
        reader: Dict[str, str] = {}
        for s, raw in enumerate(value):
            key = f'{section}[{s}]'
            entry = self.mapping(raw, key, _SOURCE_KEYS)
            for required in ('topic', 'arm'):
                if required not in entry:
                    self.fail(f'{key}.{required}', 'missing (required)')
            topic = self.string(entry['topic'], f'{key}.topic')
            arm = self.string(entry['arm'], f'{key}.arm')
            if arm not in arms:
                self.fail(f'{key}.arm', f'{arm!r} is not in arms {list(arms)}')
            if any(src.arm == arm for src in sources):
                self.fail(f'{key}.arm', f'arm {arm!r} already has a joint-state source')
            if 'joints' in entry:
                raw_joints = entry['joints']
                if not isinstance(raw_joints, list) or not raw_joints:
                    self.fail(f'{key}.joints', 'must be a non-empty list of joints')
                joints = [self.joint(j, f'{key}.joints[{k}]', names, False)
                          for k, j in enumerate(raw_joints)]
            else:
                joints = [commanded[n] for n in names if n.startswith(arm + '_')]
            for k, j in enumerate(joints):
                if not j.action.startswith(arm + '_'):
                    self.fail(f'{key}.joints[{k}].action', f'{j.action!r} is not a joint of '
                                                           f'arm {arm!r}')
                if j.action in reader:
                    self.fail(f'{key}.joints[{k}].action', f'{j.action!r} is already read by '
                                                           f'{reader[j.action]}')
                reader[j.action] = key
            prefix = entry.get('urdf_prefix', '')
            if not isinstance(prefix, str):
                self.fail(f'{key}.urdf_prefix', f'must be a string, got {prefix!r}')
            renames = entry.get('urdf_names', {})
            if not isinstance(renames, dict):
                self.fail(f'{key}.urdf_names', 'must be a mapping robot joint -> URDF joint')
            for joint, urdf in renames.items():
                self.string(joint, f'{key}.urdf_names')
                self.string(urdf, f'{key}.urdf_names.{joint}')
            ordered = sorted(joints, key=lambda j: names.index(j.action))
            sources.append(StateSource(topic, arm, ordered,
                                       [names.index(j.action) for j in ordered], prefix,
                                       dict(renames), section))
        missing = [n for n in names if n not in reader]
        if missing:
            self.fail(section, f'no source reads {missing}: every action dimension '
                               'needs exactly one')
        return sources

    def cameras(self, value) -> Tuple[Dict[str, str], Dict[str, str]]:
        if not isinstance(value, dict):
            self.fail('cameras', 'must be a mapping camera name -> image topic')
        images, infos = {}, {}
        for camera, entry in value.items():
            camera = self.string(camera, 'cameras')
            key = f'cameras.{camera}'
            if isinstance(entry, dict):
                entry = self.mapping(entry, key, _CAMERA_KEYS)
                if 'image' not in entry:
                    self.fail(f'{key}.image', 'missing (required)')
                images[camera] = self.string(entry['image'], f'{key}.image')
                infos[camera] = (self.string(entry['info'], f'{key}.info') if 'info' in entry
                                 else camera_info_topic(images[camera]))
            else:
                images[camera] = self.string(entry, key)
                infos[camera] = camera_info_topic(images[camera])
        return images, infos


def main(argv: Optional[Sequence[str]] = None) -> int:
    """
    ``python -m aloe_ros.station.command_mapping PROFILE [--action v1,...]``: dry run.

    Validates the profile, prints every joint's limits in both units and what the executor
    would send for the given action vector (default: the middle of every joint's range).
    """
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__.strip().split('\n')[0])
    parser.add_argument('profile', help='robot profile YAML')
    parser.add_argument('--action', default='',
                        help='comma-separated action vector (action units, action_names order)')
    args = parser.parse_args(argv)
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        print(exc)
        return 1
    lower, upper, _ = profile.action_limits()
    if args.action:
        action = np.array([float(v) for v in args.action.split(',')])
    else:
        action = (lower + upper) / 2.0
    print(f'robot profile {args.profile}: {profile.name}, {len(profile.action_names)} action '
          f'dimensions, {len(profile.groups)} command groups; needs '
          f'{", ".join(profile.required_packages())}')
    print('limits:')
    for line in profile.describe_limits():
        print('  ' + line)
    print('action: ' + ', '.join(f'{n}={v:.5g}' for n, v in zip(profile.action_names, action)))
    try:
        lines = profile.dry_run(action)
    except ValueError as exc:
        print(f'--action: {exc}')
        return 1
    print('would send (clipped into the robot limits):')
    for line in lines:
        print('  ' + line)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

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
Hypothesis strategies of malformed aloe and sensor messages.

Every strategy returns a *recipe* (a function of the driver) rather than a message, so stamps are
taken at publish time: "stale", "future" and "out of order" stay what they claim to be however
long hypothesis takes to generate an example.
"""

import math

from aloe_msgs.msg import ActionChunk, EpisodeEvent, ExecutedStep, InterventionState, Observation
from aloe_msgs.msg import PolicyUpdate
from builtin_interfaces.msg import Time
from hypothesis import strategies as st
import numpy as np
from reliability_harness import ARM_JOINTS, JOINTS
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState

from aloe_ros.nodes.common import sec_to_stamp

SPECIAL = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1e6, -1e6, 0.0, 5e-324, -0.0]
SPECIAL32 = [math.nan, math.inf, -math.inf, 3.0e38, -3.0e38, 1e6, -1e6, 0.0, 1e-45]

floats64 = st.one_of(st.floats(-4.0, 4.0), st.sampled_from(SPECIAL), st.floats())
floats32 = st.one_of(st.floats(-4.0, 4.0, width=32), st.sampled_from(SPECIAL32),
                     st.floats(width=32))
names = st.one_of(
    st.just(list(JOINTS)), st.just(list(ARM_JOINTS)),
    st.lists(st.sampled_from(JOINTS + ['bogus', '', 'left_waist', 'waist', 'ünïcødé', 'x' * 300]),
             max_size=20),
    st.permutations(JOINTS))
text = st.one_of(st.text(max_size=40),
                 st.sampled_from(['', '../../etc/passwd', 'x' * 5000, '\x00', 'ok']))

#: stamp kinds: offset from now [s], or absolute builtin_interfaces/Time fields
STAMPS = st.one_of(
    st.sampled_from([0.0, 0.0, 0.0, -0.01, -0.5, -10.0, -1e6, 0.3, 5.0,
                     1e6]).map(lambda o: ('offset', o)),
    st.tuples(st.integers(-2 ** 31, 2 ** 31 - 1),
              st.integers(0, 2 ** 32 - 1)).map(lambda t: ('abs', t)))


def stamp_of(driver, kind):
    """Return a builtin_interfaces/Time for a STAMPS value at the driver's now."""
    if kind[0] == 'offset':
        return sec_to_stamp(max(driver.now() + kind[1], 0.0))
    return Time(sec=kind[1][0], nanosec=kind[1][1])


def _vec(strategy, sizes=(0, 1, 6, 7, 12, 13, 14, 15, 100)):
    return st.sampled_from(sizes).flatmap(lambda n: st.lists(strategy, min_size=n, max_size=n))


@st.composite
def observations(draw):
    """Observation recipes: wrong sizes, NaN/Inf, unknown names, bad stamps, junk images."""
    joint_names = draw(names)
    position, velocity = draw(_vec(floats64)), draw(_vec(floats64))
    gripper = draw(_vec(floats64, (0, 1, 2, 3)))
    stale = draw(st.booleans())
    stamp = draw(STAMPS)
    images = draw(st.lists(images_fields(), max_size=2))
    cams = draw(st.lists(st.sampled_from(['cam_high', 'cam_left_wrist', '', 'bogus']), max_size=3))
    instruction = draw(text)

    def make(driver):
        msg = Observation(joint_names=[n for n in joint_names if n in JOINTS or len(n) < 400],
                          position=position, velocity=velocity, gripper=gripper, stale=stale,
                          camera_names=cams, task_instruction=instruction)
        msg.images = [f(driver) for f in images]
        msg.header.stamp = stamp_of(driver, stamp)
        return msg
    return make


@st.composite
def images_fields(draw, max_bytes=50000):
    """Image recipes: inconsistent height/width/step/data, unknown encodings, oversized claims."""
    height = draw(st.sampled_from([0, 1, 8, 64, 65535, 2 ** 32 - 1]))
    width = draw(st.sampled_from([0, 1, 8, 64, 65535, 2 ** 32 - 1]))
    encoding = draw(st.sampled_from(['rgb8', 'bgr8', 'mono8', 'rgba8', '16UC1', 'yuv422', '',
                                     'jpeg',
                                     'bogus']))
    step = draw(st.sampled_from([0, 3, 24, 192, 2 ** 32 - 1]))
    size = draw(st.sampled_from([0, 1, 191, 192, 12288, max_bytes]))
    is_bigendian = draw(st.integers(0, 255))
    stamp = draw(STAMPS)

    def make(driver):
        msg = Image(height=height, width=width, encoding=encoding, step=step,
                    is_bigendian=is_bigendian,
                    data=bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)))
        msg.header.stamp = stamp_of(driver, stamp)
        return msg
    return make


@st.composite
def joint_states(draw, arm=None):
    """Draw JointState recipes (follower arms, teleop commands): sizes, names, NaN/Inf, stamps."""
    joint_names = draw(st.one_of(names, st.just([n for n in JOINTS
                                                 if n.startswith(arm or 'left')]),
                                 st.just(['waist', 'shoulder', 'elbow', 'forearm_roll',
                                          'wrist_angle',
                                          'wrist_rotate', 'gripper'])))
    position = draw(st.one_of(_vec(floats64), st.just(None)))
    velocity = draw(_vec(floats64, (0, 7, 3)))
    stamp = draw(STAMPS)

    def make(driver):
        pos = position if position is not None else [0.1] * len(joint_names)
        msg = JointState(name=joint_names, position=pos, velocity=velocity)
        msg.header.stamp = stamp_of(driver, stamp)
        return msg
    return make


@st.composite
def chunks(draw):
    """Draw ActionChunk recipes: horizon/action_dim/actions mismatches, NaN/Inf, huge, bad dt."""
    horizon = draw(st.sampled_from([0, 1, 5, 50, 2 ** 32 - 1]))
    action_dim = draw(st.sampled_from([0, 7, 13, 14, 15, 2 ** 32 - 1]))
    joint_names = draw(st.one_of(names, st.just([])))
    consistent = draw(st.booleans())
    fill = draw(floats32)
    values = draw(st.lists(floats32, max_size=30))
    dt = draw(st.one_of(floats64, st.sampled_from([0.02, 0.0, -0.02, 5e-324, 1e-300, 1e300])))
    stamp = draw(STAMPS)
    chunk_id = draw(st.integers(0, 2 ** 64 - 1))
    version = draw(st.integers(0, 2 ** 32 - 1))

    def make(driver):
        n = horizon * action_dim if consistent and horizon * action_dim <= 5000 else len(values)
        actions = (values * (n // max(len(values), 1) + 1))[:n] if values else [fill] * n
        msg = ActionChunk(chunk_id=chunk_id, policy_version=version, horizon=horizon,
                          action_dim=action_dim,
                          joint_names=joint_names, dt=dt, actions=actions)
        msg.header.stamp = stamp_of(driver, stamp)
        return msg
    return make


@st.composite
def executed_steps(draw):
    """Draw ExecutedStep recipes for the recorder: wrong ids/indices/sizes/sources, NaN/Inf."""
    episode_id = draw(st.one_of(st.just(None), text))
    index = draw(st.one_of(st.integers(0, 5), st.just(2 ** 64 - 1), st.integers(0, 2 ** 64 - 1)))
    source = draw(st.integers(0, 255))
    action = draw(_vec(floats64))
    observed = draw(_vec(floats64))
    joint_names = draw(st.one_of(st.just([]), names))
    stamp = draw(STAMPS)

    def make(driver, current_id=''):
        msg = ExecutedStep(episode_id=current_id if episode_id is None else episode_id,
                           step_index=index,
                           source=source, action=action, observed_position=observed,
                           joint_names=joint_names)
        msg.header.stamp = stamp_of(driver, stamp)
        return msg
    return make


interventions = st.builds(
    lambda a, g, t, d: (lambda driver: InterventionState(active=a, aligning=g, trigger=t,
                                                         leader_deviation=d)),
    st.booleans(), st.booleans(), st.integers(0, 255), floats64)

episode_events = st.builds(
    lambda eid, ev, out, task: (lambda driver: EpisodeEvent(episode_id=eid, event=ev, outcome=out,
                                                            task=task, task_instruction=task)),
    text, st.integers(0, 255), st.integers(0, 255), text)


def _clock(sec, nanosec):
    return lambda driver: Clock(clock=Time(sec=sec, nanosec=nanosec))


def _clock_near(dt):
    return lambda driver: Clock(clock=sec_to_stamp(max(driver.now() + dt, 0.0)))


#: /clock samples: negative, huge, out-of-range nanoseconds, and jumps around the driver's time.
clocks = st.one_of(
    st.builds(_clock, st.integers(-2 ** 31, 2 ** 31 - 1), st.integers(0, 2 ** 32 - 1)),
    st.builds(_clock, st.sampled_from([-1, 0, 1, 2 ** 31 - 1]),
              st.sampled_from([0, 999_999_999, 10 ** 9])),
    st.builds(_clock_near, st.floats(-2000.0, 2000.0)))

policy_updates = st.builds(
    lambda v, uri, sha, ch: (lambda driver: PolicyUpdate(version=v, checkpoint_uri=uri, sha256=sha,
                                                         config_hash=ch)),
    st.integers(0, 2 ** 32 - 1),
    st.one_of(text, st.sampled_from(['file:///etc/passwd', 'http://x/y', 'file://host/tmp/a',
                                     '/dev/zero',
                                     'file:///proc/self/mem', '/tmp/../../etc/shadow'])),
    st.one_of(text, st.just('0' * 64)), text)

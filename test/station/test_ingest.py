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

"""Observation ingestion: validation, approximate-time alignment, staleness (ROS-free)."""

from types import SimpleNamespace

import numpy as np
import pytest

from aloe_ros.station.executor_core import DEFAULT_JOINT_NAMES
from aloe_ros.station.ingest import (IngestConfig, InputRejected, ObservationIngest,
                                     PUBLISH_ON_ARRIVAL, PUBLISH_ON_TIMER, PublishGate)

CAMS = ['cam_high', 'cam_left_wrist']
ARM = ['waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate', 'gripper']


def image(h=48, w=64, value=0, encoding='rgb8'):
    arr = np.full((h, w, 3), value, np.uint8)
    return SimpleNamespace(height=h, width=w, encoding=encoding, is_bigendian=0, step=w * 3,
                           data=arr.tobytes(), header=SimpleNamespace(frame_id='cam_optical'))


def make(**kw):
    cfg = dict(camera_names=CAMS, joint_names=DEFAULT_JOINT_NAMES, slop=0.02, staleness_limit=0.2)
    cfg.update(kw)
    return ObservationIngest(IngestConfig(**cfg))


def feed_all(ing, t, now=None, cams=CAMS, arms=('left', 'right'), offset=0.0):
    now = t if now is None else now
    for c in cams:
        ing.add_image(c, image(value=int(t * 100) % 255), t, now)
    for a in arms:
        pos = np.arange(7) * 0.1 + (1.0 if a == 'right' else 0.0) + offset
        ing.add_joint_state(a, [f'{a}_{n}' for n in ARM], pos, [], t, now)


def test_assembles_aligned_observation_in_order():
    ing = make()
    assert ing.assemble(10.0) is None
    assert ing.waiting_for() == CAMS + ['left', 'right']
    feed_all(ing, 10.0)
    obs = ing.assemble(10.01)
    assert obs.arm_joint_names == [n for n in DEFAULT_JOINT_NAMES if 'gripper' not in n]
    np.testing.assert_allclose(obs.position[:6], np.arange(6) * 0.1)
    np.testing.assert_allclose(obs.position[6:], 1.0 + np.arange(6) * 0.1)
    np.testing.assert_allclose(obs.gripper, [0.6, 1.6])
    assert [c for c, _ in obs.images] == CAMS
    assert obs.images[0][1].data.shape == (64, 64,
                                           3) and obs.images[0][1].frame_id == 'cam_optical'
    assert not obs.stale and obs.max_input_age == 0.0


def test_unprefixed_and_reordered_joint_names_accepted():
    ing = make()
    names = ARM[::-1]
    s = ing.add_joint_state('left', names, np.arange(7.0)[::-1], np.ones(7), 1.0, 1.0)
    np.testing.assert_allclose(s.data[0], np.arange(7.0))


def test_approximate_time_picks_freshest_set_within_slop():
    ing = make(slop=0.015)
    # cameras at 10.000/10.033, joints at 10.00, 10.02, 10.04
    for c in CAMS:
        ing.add_image(c, image(), 10.000, 10.05)
        ing.add_image(c, image(), 10.033, 10.05)
    for t in (10.00, 10.02, 10.04):
        for a in ('left', 'right'):
            ing.add_joint_state(a, [f'{a}_{n}' for n in ARM], np.full(7, t), [], t, 10.05)
    obs = ing.assemble(10.05)
    assert obs.stamp == pytest.approx(10.04) and obs.oldest == pytest.approx(10.033)
    assert obs.realigned and obs.max_input_age == pytest.approx(0.007)


def test_unaligned_inputs_reuse_last_set_and_go_stale():
    ing = make(slop=0.01, staleness_limit=0.1)
    feed_all(ing, 10.0)
    assert ing.assemble(10.0).realigned
    feed_all(ing, 10.02, cams=[])  # cameras stopped: newer joints cannot align with them
    obs = ing.assemble(10.03)
    assert obs.realigned and obs.stamp == 10.0 and not obs.stale  # the old set still aligns
    for k in range(5):  # old joint states leave the buffer: nothing aligns any more
        feed_all(ing, 10.04 + 0.01 * k, cams=[])
    obs = ing.assemble(10.09)
    assert not obs.realigned and obs.stamp == 10.0 and not obs.stale
    assert ing.assemble(10.2).stale


@pytest.mark.parametrize('call,cause', [
    (lambda i: i.add_image('cam_high', image(encoding='yuv422'), 1.0, 1.0), 'bad_image'),
    (lambda i: i.add_image('cam_high', image(h=2000, w=2000), 1.0, 1.0), 'oversized_image'),
    (lambda i: i.add_image('cam_x', image(), 1.0, 1.0), 'unknown_source'),
    (lambda i: i.add_image('cam_high', image(), 0.5, 1.0), 'stale'),
    (lambda i: i.add_image('cam_high', image(), 5.0, 1.0), 'future_stamp'),
    (lambda i: i.add_image('cam_high', image(), 0.0, 1.0), 'bad_stamp'),
    (lambda i: i.add_joint_state('left', ARM[:-1] + ['thumb'], np.zeros(7), [], 1.0, 1.0),
     'unknown_joint'),
    (lambda i: i.add_joint_state('left', ARM, np.zeros(6), [], 1.0, 1.0), 'bad_size'),
    (lambda i: i.add_joint_state('left', ARM, np.zeros(7), np.zeros(3), 1.0, 1.0), 'bad_size'),
    (lambda i: i.add_joint_state('left', ARM, [np.nan] + [0.0] * 6, [], 1.0, 1.0), 'nan'),
])
def test_bad_inputs_rejected_with_cause(call, cause):
    ing = make(max_image_bytes=1024 * 1024)
    with pytest.raises(InputRejected) as info:
        call(ing)
    assert info.value.cause == cause
    assert 'rejected' in str(info.value)


def test_out_of_order_rejected_and_buffer_unchanged():
    ing = make()
    feed_all(ing, 10.0)
    with pytest.raises(InputRejected) as info:
        ing.add_joint_state('left', ARM, np.ones(7), [], 9.99, 10.0)
    assert info.value.cause == 'out_of_order'
    assert ing.assemble(10.0).position[0] == 0.0


STATE_NAMES = ['block_x', 'block_y', 'block_z']


def test_task_state_is_a_source_aligned_with_the_joints():
    ing = make(task_state=True)
    feed_all(ing, 10.0)
    assert ing.assemble(10.0) is None and ing.waiting_for() == ['task_state']
    ing.add_task_state(STATE_NAMES, [0.1, 0.2, 0.3], 10.0, 10.0)
    obs = ing.assemble(10.01)
    assert obs.task_state_names == STATE_NAMES
    np.testing.assert_allclose(obs.task_state, [0.1, 0.2, 0.3])
    # The freshest aligned set pairs each joint state with the task state of its own time.
    feed_all(ing, 10.1, offset=0.5)
    ing.add_task_state(STATE_NAMES, [0.4, 0.5, 0.6], 10.1, 10.1)
    obs = ing.assemble(10.11)
    np.testing.assert_allclose(obs.task_state, [0.4, 0.5, 0.6])
    np.testing.assert_allclose(obs.position[0], 0.5)
    # A task state that stops makes the observation stale, like any other source.
    feed_all(ing, 10.4)
    assert ing.assemble(10.4).stale
    # Without a task state configured, observations carry none.
    plain = make()
    feed_all(plain, 10.0)
    obs = plain.assemble(10.0)
    assert obs.task_state_names == [] and obs.task_state.size == 0


@pytest.mark.parametrize('names,values,cause', [
    (STATE_NAMES, [0.1, float('nan'), 0.3], 'nan'),
    (STATE_NAMES, [0.1, 0.2], 'bad_size'),
    ([], [], 'bad_size'),
    (['block_x', 'block_y', 'zone_x'], [0.1, 0.2, 0.3], 'names_changed'),
    (STATE_NAMES, [0.0] * 1000, 'bad_size'),
])
def test_bad_task_state_rejected_with_cause(names, values, cause):
    ing = make(task_state=True)
    ing.add_task_state(STATE_NAMES, [0.0, 0.0, 0.0], 9.9, 9.9)
    with pytest.raises(InputRejected) as exc:
        ing.add_task_state(names, values, 10.0, 10.0)
    assert exc.value.cause == cause and exc.value.source == 'task_state'


def test_task_state_refused_when_not_configured():
    with pytest.raises(InputRejected) as exc:
        make().add_task_state(STATE_NAMES, [0.1, 0.2, 0.3], 10.0, 10.0)
    assert exc.value.cause == 'unknown_source'


def arrive(ing, gate, t, sources):
    """Feed ``sources`` stamped ``t`` one at a time; return the sources whose arrival published."""
    published = []
    for source in sources:
        if source in CAMS:
            ing.add_image(source, image(), t, t)
        else:
            ing.add_joint_state(source, [f'{source}_{n}' for n in ARM], np.zeros(7), [], t, t)
        obs = ing.assemble(t)
        if gate.on_input(obs, t):
            gate.published(obs, t)
            published.append(source)
    return published


def test_arrival_publishes_when_the_last_input_of_a_fresher_set_arrives():
    ing, gate = make(), PublishGate(PUBLISH_ON_ARRIVAL, keepalive=0.1)
    # Nothing publishes until every source delivered; the last one completes the set.
    assert arrive(ing, gate, 10.0, CAMS + ['left', 'right']) == ['right']
    # New camera frames: the set is fresher only once both cameras have a new one.
    assert arrive(ing, gate, 10.033, CAMS) == []  # joints (10.0) still the oldest...
    assert arrive(ing, gate, 10.04, ['left', 'right']) == ['right']  # ...until they refresh
    # An input that leaves the freshest set unchanged publishes nothing.
    assert arrive(ing, gate, 10.041, ['cam_high']) == []
    assert arrive(ing, gate, 10.07, ['cam_high', 'cam_left_wrist', 'left']) == []
    assert arrive(ing, gate, 10.07 + 1e-4, ['right']) == ['right']


def test_arrival_keepalive_republishes_only_after_a_gap():
    gate = PublishGate(PUBLISH_ON_ARRIVAL, keepalive=0.1)
    assert gate.on_timer(5.0)  # nothing published yet: the timer reports what is missing
    ing = make()
    feed_all(ing, 5.0)
    obs = ing.assemble(5.0)
    assert gate.on_input(obs, 5.0)
    gate.published(obs, 5.0)
    assert not gate.on_timer(5.02) and not gate.on_timer(5.099)
    assert gate.on_timer(5.11)
    # The same set again is not fresher: only the keep-alive repeats it.
    assert not gate.on_input(ing.assemble(5.1), 5.1)
    # A clock that went back (simulation reset) starts over: older stamps publish again.
    ing2 = make()
    feed_all(ing2, 1.0)
    assert gate.on_input(ing2.assemble(1.0), 1.0)


def test_timer_mode_publishes_at_every_tick_and_never_on_arrival():
    gate = PublishGate(PUBLISH_ON_TIMER, keepalive=0.1)
    ing = make()
    feed_all(ing, 5.0)
    obs = ing.assemble(5.0)
    assert not gate.on_input(obs, 5.0)
    gate.published(obs, 5.0)
    assert gate.on_timer(5.001) and gate.on_timer(5.02)


def test_publish_gate_refuses_unknown_mode_and_bad_keepalive():
    with pytest.raises(ValueError, match="'sometimes' is not one of"):
        PublishGate('sometimes', 0.1)
    with pytest.raises(ValueError, match='keepalive must be > 0'):
        PublishGate(PUBLISH_ON_ARRIVAL, 0.0)

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

"""Chunk executor core: blending, limits, hold rules, intervention arbitration (ROS-free)."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from aloe_ros.station import executor_core as ec
from aloe_ros.learning.episode import SOURCE_HOLD, SOURCE_HUMAN, SOURCE_POLICY

D = 14
DT = 0.02


def make_core(blend_steps=0, vmax=10.0, lower=-1.0, upper=1.0, **kw):
    limits = ec.JointLimits(np.full(D, lower), np.full(D, upper), np.full(D, vmax))
    return ec.ExecutorCore(ec.ExecutorConfig(limits=limits, dt=DT, blend_steps=blend_steps, **kw))


def chunk(cid, stamp, values, version=1):
    actions = np.asarray(values, float)
    if actions.ndim == 1:
        actions = np.repeat(actions[:, None], D, axis=1)
    return ec.Chunk(stamp=stamp, chunk_id=cid, policy_version=version, dt=DT, actions=actions)


def run(core, t0, n):
    return [core.tick(t0 + i * DT) for i in range(n)]


def test_nothing_until_first_observation_then_starts_from_observed():
    core = make_core()
    assert core.tick(0.0) is None
    obs = np.linspace(-0.5, 0.5, D)
    core.on_observation(0.0, obs)
    r = core.tick(0.01)
    assert r.source == SOURCE_HOLD and r.hold_reason == 'no chunk'
    np.testing.assert_allclose(r.command, obs)


def test_plays_chunk_in_order_and_runs_out_to_hold():
    core = make_core()
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.arange(5) * 0.01))
    out = []
    for i in range(7):
        core.on_observation(i * DT, np.zeros(D))
        out.append(core.tick(i * DT))
    assert [r.source for r in out[:5]] == [SOURCE_POLICY] * 5
    assert [r.index_in_chunk for r in out[:5]] == [0, 1, 2, 3, 4]
    assert out[4].chunk_id == 1 and out[4].policy_version == 1
    np.testing.assert_allclose(out[4].command, 0.04)
    assert out[5].source == SOURCE_HOLD and out[5].hold_reason == 'chunk ran out'
    np.testing.assert_allclose(out[6].command, 0.04)


def test_skips_steps_already_in_the_past():
    core = make_core()
    core.on_observation(1.0, np.zeros(D))
    core.on_chunk(chunk(1, 1.0 - 3 * DT, np.arange(10) * 0.01))
    r = core.tick(1.0)
    assert r.index_in_chunk == 3
    np.testing.assert_allclose(r.command, 0.03)


def test_blend_new_chunk_into_running_one():
    core = make_core(blend_steps=3, skip_past_steps=False)
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.zeros(20)))
    core.tick(0.0)
    core.tick(DT)
    core.on_chunk(chunk(2, 2 * DT, np.full(20, 0.4)))
    got = [core.tick((2 + i) * DT) for i in range(5)]
    values = [r.command[0] for r in got]
    np.testing.assert_allclose(values[:3], [0.1, 0.2, 0.3], atol=1e-9)
    np.testing.assert_allclose(values[3:], [0.4, 0.4])
    assert all(r.chunk_id == 2 for r in got)


def test_position_and_velocity_limits():
    core = make_core(vmax=1.0, lower=-0.1, upper=0.1, observation_timeout=10)
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.full(50, 5.0)))
    out = run(core, 0.0, 10)
    steps = np.diff([0.0] + [r.command[0] for r in out])
    assert np.all(steps <= 1.0 * DT + 1e-12)
    assert max(r.command.max() for r in out) <= 0.1
    assert out[0].clamped_joints == list(ec.DEFAULT_JOINT_NAMES)
    notes = [n for r in out for n in r.notes if n.kind == ec.KIND_LIMIT_CLAMP]
    assert len(notes) == 1  # once per cause, not per tick


def test_hold_on_stale_observation_and_resume():
    core = make_core(observation_timeout=0.1)
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.full(100, 0.01)))
    assert core.tick(0.0).source == SOURCE_POLICY
    r = core.tick(0.5)
    assert r.source == SOURCE_HOLD and r.hold_reason == 'stale observation'
    assert [n.kind for n in r.notes] == [ec.KIND_STALE_INPUT]
    assert core.tick(0.52).notes == []
    core.on_observation(0.54, np.zeros(D), stale=True)
    assert core.tick(0.54).hold_reason == 'stale observation'
    core.on_observation(0.56, np.zeros(D))
    r = core.tick(0.56)
    assert r.source == SOURCE_POLICY and r.index_in_chunk == 28  # time moved on while holding
    assert [n.kind for n in r.notes] == [ec.KIND_RESUMED]


def test_hold_while_clock_rejected_and_resume():
    core = make_core()
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.full(100, 0.01)))
    assert core.tick(0.0).source == SOURCE_POLICY
    core.set_clock_fault('/clock rejected: invalid time sec=-1')
    core.on_observation(0.02, np.zeros(D))
    r = core.tick(0.02)
    assert r.source == SOURCE_HOLD and r.hold_reason == 'clock rejected'
    assert [(n.kind, n.level, n.cause)
            for n in r.notes] == [(ec.KIND_HOLD, ec.LEVEL_WARN, 'clock rejected')]
    core.set_clock_fault('')
    core.on_observation(0.04, np.zeros(D))
    r = core.tick(0.04)
    assert r.source == SOURCE_POLICY
    assert [(n.kind, n.cause) for n in r.notes] == [(ec.KIND_RESUMED, 'clock rejected')]


def test_nan_chunk_rejected_and_holds():
    core = make_core(observation_timeout=10)
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.full(100, 0.01)))
    core.tick(0.0)
    bad = np.zeros(3 * D, np.float32)
    bad[5] = np.nan
    with pytest.raises(FloatingPointError, match='NaN'):
        ec.chunk_from_fields(0.0, 2, 1, 3, D, ec.DEFAULT_JOINT_NAMES, DT, bad,
                             ec.DEFAULT_JOINT_NAMES, DT)
    core.on_bad_chunk('chunk 2: NaN', nan=True)
    r = core.tick(DT)
    assert r.source == SOURCE_HOLD
    assert ec.KIND_REJECTED_INPUT in [n.kind for n in r.notes]
    np.testing.assert_allclose(r.command, 0.01)
    core.on_bad_chunk('chunk 3: NaN', nan=True)
    # once per cause
    assert ec.KIND_REJECTED_INPUT not in [n.kind for n in core.tick(2 * DT).notes]


def test_chunk_validation_reorders_and_rejects():
    names = list(ec.DEFAULT_JOINT_NAMES)
    rev = names[::-1]
    actions = np.tile(np.arange(D)[::-1], 2).astype(np.float32)
    c = ec.chunk_from_fields(0.0, 1, 3, 2, D, rev, 0.0, actions, names, DT)
    np.testing.assert_allclose(c.actions[0], np.arange(D))
    assert c.dt == DT and c.policy_version == 3
    with pytest.raises(ValueError, match='expected horizon'):
        ec.chunk_from_fields(0.0, 1, 0, 3, D, names, DT, np.zeros(5), names, DT)
    with pytest.raises(ValueError, match='dt'):
        ec.chunk_from_fields(0.0, 1, 0, 1, D, names, 1e-300, np.zeros(D), names, DT)
    with pytest.raises(ValueError, match='unknown joints'):
        ec.chunk_from_fields(0.0, 1, 0, 1, D, names[:-1] + ['elbow9'], DT, np.zeros(D), names, DT)


class _Untouchable:
    """A field of ``n`` values whose data must not be read (the O(1) size checks come first)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        raise AssertionError('per-element work on an oversized message')

    def __getitem__(self, k):
        raise AssertionError('per-element work on an oversized message')


def test_oversized_chunk_refused_before_its_data_is_read():
    names = list(ec.DEFAULT_JOINT_NAMES)
    huge = 1_000_000
    with pytest.raises(ValueError, match='above the maximum 1000'):
        ec.chunk_from_fields(0.0, 1, 0, huge, D, names, DT, _Untouchable(huge * D), names, DT)
    with pytest.raises(ValueError, match='expected horizon'):
        ec.chunk_from_fields(0.0, 1, 0, 10, D, names, DT, _Untouchable(huge * D), names, DT)
    with pytest.raises(ValueError, match='action_dim'):
        ec.chunk_from_fields(0.0, 1, 0, 10, 1000, _Untouchable(1000), DT, _Untouchable(10 * 1000),
                             names, DT)
    with pytest.raises(ValueError, match='horizon 1000000 outside'):
        ec.sized_chunk(_Untouchable(huge * D), huge, D, 100, D)
    with pytest.raises(ValueError, match='action_dim 7, expected 14'):
        ec.sized_chunk(_Untouchable(70), 10, 7, 100, D)
    assert ec.sized_chunk(np.zeros(20 * D), 20, D, 100, D).shape == (20, D)


def test_check_limits_refuses_far_outside_and_clips_within_tolerance():
    lower, upper = np.full(D, -1.0), np.full(D, 1.0)
    table = np.zeros((3, D))
    table[1, 4] = 1.02
    clipped, n = ec.check_limits(table, lower, upper, 0.05)
    assert n == 1 and clipped[1, 4] == 1.0
    table[2, 5] = 1e30
    with pytest.raises(ValueError, match='outside the joint limits'):
        ec.check_limits(table, lower, upper, 0.05)
    table[2, 5] = np.nan
    with pytest.raises(FloatingPointError):
        ec.check_limits(table, lower, upper, 0.05)


def test_estop_latches_until_run_and_drops_chunk():
    core = make_core(observation_timeout=10)
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.full(100, 0.01)))
    core.tick(0.0)
    core.set_mode(ec.MODE_ESTOP, 'button')
    r = core.tick(DT)
    assert r.source == SOURCE_HOLD and r.hold_reason == 'e-stop'
    assert [n.kind for n in r.notes] == [ec.KIND_ESTOP]
    assert run(core, 2 * DT, 3)[-1].hold_reason == 'e-stop'
    core.set_mode(ec.MODE_RUN)
    assert core.tick(6 * DT).hold_reason == 'no chunk'  # old chunk is not resumed


def test_run_resumes_from_the_measured_pose_after_the_robot_moved_while_holding():
    """A scene reset (sim teleport, arms homed by hand) while holding: no drive back to it."""
    core = make_core(blend_steps=3, observation_timeout=10)
    core.on_observation(0.0, np.full(D, 0.5))
    core.set_mode(ec.MODE_HOLD, 'episode ended')
    assert np.allclose(core.tick(0.0).command, 0.5)
    core.on_observation(DT, np.zeros(D))           # teleported home while holding
    assert np.allclose(core.tick(DT).command, 0.5), 'HOLD keeps its target'
    core.set_mode(ec.MODE_RUN, 'episode start')
    r = core.tick(2 * DT)
    np.testing.assert_allclose(r.command, 0.0)
    assert any('resuming from the measured pose' in n.message for n in r.notes)
    core.on_chunk(chunk(1, 2 * DT, np.full(20, 0.05)))
    first = core.tick(3 * DT).command
    assert np.all(first <= 0.05 + 1e-9) and np.all(first >= 0.0), 'blends from the measured pose'


def test_a_resync_uses_the_pose_measured_at_the_tick_it_is_made():
    """
    An observation arriving between the switch to RUN and the next tick is the one resumed from.

    The published command matches the pose reported with it (a node-level fuzz run once saw a
    1.26 rad jump to a pose measured before a newer observation arrived).
    """
    core = make_core(observation_timeout=10)
    core.on_observation(0.0, np.full(D, 0.5))
    core.set_mode(ec.MODE_HOLD, 'episode ended')
    core.tick(0.0)
    core.on_observation(DT, np.zeros(D))
    core.set_mode(ec.MODE_RUN, 'episode start', now=DT)
    core.on_observation(1.5 * DT, np.full(D, 0.2))
    np.testing.assert_allclose(core.tick(2 * DT).command, 0.2)
    # HOLD before that tick drops the resync: the hold target stays.
    core.set_mode(ec.MODE_HOLD)
    core.on_observation(3 * DT, np.full(D, 0.6))
    core.set_mode(ec.MODE_RUN)
    core.set_mode(ec.MODE_HOLD)
    np.testing.assert_allclose(core.tick(4 * DT).command, 0.2)


def test_after_a_resync_chunks_planned_before_the_move_are_refused():
    """The chunk running before a reset (and any planned from the old scene) is not played."""
    core = make_core(observation_timeout=10)
    core.on_observation(0.0, np.full(D, 0.5))
    core.on_chunk(chunk(1, 0.0, np.full(100, 0.5)))
    core.tick(0.0)
    core.set_mode(ec.MODE_HOLD, 'episode ended')
    core.on_observation(1.0, np.zeros(D))           # the scene was reset while holding
    core.on_chunk(chunk(2, 0.9, np.full(100, 0.6)))  # planned from the old scene
    core.set_mode(ec.MODE_RUN, 'episode start', now=1.0)
    r = core.tick(1.0)
    assert r.source == SOURCE_HOLD and r.hold_reason == 'no chunk'
    np.testing.assert_allclose(r.command, 0.0)
    stale = chunk(3, 1.0 - ec.RESYNC_CHUNK_GRACE - DT, np.full(100, 0.7))
    assert core.on_chunk(stale) is False
    assert core.tick(1.0 + DT).hold_reason == 'no chunk'
    assert core.on_chunk(chunk(4, 1.0 + DT, np.full(100, 0.05))) is True
    r = core.tick(1.0 + 2 * DT)
    assert r.source == SOURCE_POLICY and r.chunk_id == 4
    # Once a new chunk ran, the gate is gone: later chunks are taken as usual.
    assert core.on_chunk(chunk(5, 1.0, np.full(100, 0.05))) is True


def test_run_without_a_move_keeps_the_running_chunk():
    core = make_core(observation_timeout=10)
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.full(100, 0.01)))
    core.tick(0.0)
    core.set_mode(ec.MODE_HOLD, 'pause')
    core.tick(DT)
    core.set_mode(ec.MODE_RUN, 'resume', now=2 * DT)
    assert core.tick(2 * DT).source == SOURCE_POLICY


def test_intervention_forwards_teleop_with_limits():
    core = make_core(vmax=1.0, observation_timeout=10, teleop_timeout=0.1)
    core.on_observation(0.0, np.zeros(D))
    core.on_chunk(chunk(1, 0.0, np.full(100, 0.01)))
    core.tick(0.0)
    core.on_intervention(True, aligning=True)
    core.on_teleop(DT, np.full(D, 0.5))
    assert core.tick(DT).hold_reason == 'operator aligning leader'
    core.on_intervention(True, aligning=False)
    r = core.tick(2 * DT)
    assert r.source == SOURCE_HUMAN and r.intervention
    assert r.command[0] == pytest.approx(0.01 + 1.0 * DT)  # velocity limited
    r = core.tick(0.5)
    assert r.source == SOURCE_HOLD and r.hold_reason == 'no teleop command'
    with pytest.raises(FloatingPointError):
        core.on_teleop(0.5, np.full(D, np.nan))
    core.on_intervention(False)
    assert core.tick(0.52).hold_reason == 'no chunk'  # pre-intervention chunk is dropped


def test_handback_blends_from_human_pose():
    core = make_core(blend_steps=4, observation_timeout=10)
    core.on_observation(0.0, np.zeros(D))
    core.on_intervention(True)
    core.on_teleop(0.0, np.full(D, 0.2))
    core.tick(0.0)
    core.on_intervention(False)
    core.on_chunk(chunk(5, DT, np.full(50, -0.3)))
    got = [core.tick((1 + i) * DT).command[0] for i in range(6)]
    np.testing.assert_allclose(got, [0.1, 0.0, -0.1, -0.2, -0.3, -0.3], atol=1e-9)


def test_observation_to_action_vector():
    obs_names = [n for n in ec.DEFAULT_JOINT_NAMES if 'gripper' not in n]
    v = ec.observation_to_action_vector(ec.DEFAULT_JOINT_NAMES, obs_names, np.arange(12.0),
                                        [0.3, 0.7])
    assert v[6] == 0.3 and v[13] == 0.7 and v[7] == 6.0
    with pytest.raises(ValueError):
        ec.observation_to_action_vector(ec.DEFAULT_JOINT_NAMES, obs_names[:-1], np.arange(11.0),
                                        [0, 1])


def test_loop_stats_missed_ticks():
    s = ec.LoopStats(0.02)
    for t in [0.0, 0.02, 0.041, 0.1, 0.12]:
        s.tick(t)
    assert s.missed_ticks == 2
    assert s.period_error(100) == pytest.approx(0.039)


finite = st.floats(-10, 10, allow_nan=False)
event = st.one_of(
    st.tuples(st.just('obs'), st.lists(finite, min_size=D, max_size=D), st.booleans()),
    st.tuples(st.just('chunk'),
              st.lists(st.one_of(finite, st.just(float('nan'))), min_size=D, max_size=3 * D),
              st.integers(-5, 5)),
    st.tuples(st.just('teleop'), st.lists(finite, min_size=D, max_size=D)),
    st.tuples(st.just('intervention'), st.booleans(), st.booleans()),
    st.tuples(st.just('mode'), st.sampled_from([ec.MODE_RUN, ec.MODE_HOLD, ec.MODE_ESTOP])),
    st.tuples(st.just('tick'), st.floats(0.0, 0.1)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(event, min_size=1, max_size=60), st.integers(0, 6))
def test_never_outside_limits(events, blend):
    lower = np.linspace(-1.0, -0.2, D)
    upper = np.linspace(0.3, 1.5, D)
    vmax = np.linspace(0.5, 3.0, D)
    core = ec.ExecutorCore(ec.ExecutorConfig(ec.JointLimits(lower, upper, vmax), dt=DT,
                                             blend_steps=blend))
    now, cid, previous, resync = 0.0, 0, None, False
    for ev in events:
        if ev[0] == 'obs':
            core.on_observation(now, np.array(ev[1]), ev[2])
        elif ev[0] == 'chunk':
            cid += 1
            h = len(ev[1]) // D
            try:
                c = ec.chunk_from_fields(now + ev[2] * DT, cid, 1, h, D, ec.DEFAULT_JOINT_NAMES,
                                         DT,
                                         ev[1][:h * D], ec.DEFAULT_JOINT_NAMES, DT)
                core.on_chunk(c)
            except FloatingPointError as exc:
                core.on_bad_chunk(str(exc), nan=True)
        elif ev[0] == 'teleop':
            core.on_teleop(now, np.array(ev[1]))
        elif ev[0] == 'intervention':
            core.on_intervention(ev[1], ev[2])
        elif ev[0] == 'mode':
            if ev[1] == ec.MODE_RUN and core.mode != ec.MODE_RUN and core.observed is not None \
                    and previous is not None:
                # RUN resumes from the measured pose (at the next tick, from the pose then)
                synced = np.clip(core.observed, lower, upper)
                if np.max(np.abs(synced - core.last_command)) > ec.RESYNC_THRESHOLD:
                    resync = True
            elif ev[1] != ec.MODE_RUN:
                resync = False
            core.set_mode(ev[1])
        else:
            now += DT + ev[1]
            if resync:
                previous, resync = np.clip(core.observed, lower, upper), False
            r = core.tick(now)
            if r is None:
                continue
            assert np.all(r.command >= lower) and np.all(r.command <= upper)
            assert np.all(np.isfinite(r.command))
            if previous is not None:
                assert np.all(np.abs(r.command - previous) <= vmax * DT + 1e-9)
            if r.source == SOURCE_HOLD and previous is not None:
                np.testing.assert_array_equal(r.command, previous)
            previous = r.command

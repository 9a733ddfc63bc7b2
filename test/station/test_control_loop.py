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
The executor's control thread logic on a simulated clock (ROS-free).

Absolute deadlines, skipped ticks, timing statistics, real-time settings.
"""

import errno

import numpy as np
import pytest

from aloe_ros.station import executor_core as ec

DT = 0.02


class SimClock:
    """A clock the loop sleeps on: a wait jumps to the deadline plus the next scripted delay."""

    def __init__(self, delays=(), tick_costs=(), stop_after=None):
        self.t = 100.0
        self.delays = list(delays)
        self.tick_costs = list(tick_costs)
        self.stop_after = stop_after
        self.waits = []
        self.ticks = []

    def now(self):
        return self.t

    def wait_until(self, deadline):
        if self.stop_after is not None and len(self.ticks) >= self.stop_after:
            return False
        self.waits.append(deadline)
        self.t = max(self.t, deadline) + (self.delays.pop(0) if self.delays else 0.0)
        return True

    def tick(self, t):
        self.ticks.append(t)
        self.t += self.tick_costs.pop(0) if self.tick_costs else 0.0


def run_loop(n, **kw):
    clock = SimClock(**kw)
    loop = ec.ControlLoop(DT, clock.tick, clock.now, clock.wait_until)
    loop.run(max_ticks=n)
    return clock, loop


def test_deadlines_are_absolute_so_late_wakeups_do_not_drift():
    # Every wake-up 3 ms late and every tick taking 4 ms: a relative sleep (sleep(period) after
    # each
    # tick) would drift 7 ms per tick; absolute deadlines keep tick k at t0 + k * period + 3 ms.
    clock, loop = run_loop(100, delays=[0.003] * 100, tick_costs=[0.004] * 100)
    deadlines = np.array(clock.waits)
    np.testing.assert_allclose(np.diff(deadlines), DT, atol=1e-9)
    np.testing.assert_allclose(np.array(clock.ticks) - deadlines, 0.003, atol=1e-9)
    assert loop.stats.missed_ticks == 0
    assert loop.stats.period_error(99) == pytest.approx(0.0, abs=1e-9)


def test_a_late_tick_is_not_followed_by_a_burst_and_counts_as_missed():
    # Tick 5 wakes 45 ms late: deadlines 6 and 7 passed during the delay; the loop skips them
    # (no catch-up burst) and goes on at the original grid.
    delays = [0.0] * 5 + [0.045] + [0.0] * 20
    clock, loop = run_loop(20, delays=delays)
    gaps = np.diff(clock.ticks)
    assert gaps.min() > DT / 2, 'ticks ran in a burst'
    grid = (np.array(clock.waits) - clock.waits[0]) / DT
    np.testing.assert_allclose(grid, np.round(grid), atol=1e-9)
    assert loop.stats.missed_ticks == 2  # the 65 ms gap counts as 2 missed ticks
    assert loop.stats.period_error(100) == pytest.approx(0.045, abs=1e-9)
    assert gaps[5] == pytest.approx(0.015)  # back on the grid: deadline 8


def test_a_slow_tick_skips_the_deadlines_it_overran():
    clock, loop = run_loop(10, tick_costs=[0.0, 0.0, 0.065] + [0.0] * 10)
    # tick 2 ran from deadline 2 to 2 + 3.25 periods: deadlines 3, 4, 5 are gone, the next is 6.
    assert clock.waits[3] - clock.waits[2] == pytest.approx(4 * DT)
    assert loop.stats.missed_ticks == 3


def test_stop_ends_the_loop_between_ticks():
    clock, loop = run_loop(None, stop_after=7)
    assert len(clock.ticks) == 7


def test_schedule_restarts_when_the_clock_goes_back():
    sched = ec.DeadlineSchedule(DT, 10.0)
    assert sched.advance(10.0) == 0 and sched.deadline == pytest.approx(10.02)
    assert sched.advance(2.0) == 0 and sched.deadline == pytest.approx(2.02)
    assert sched.advance(2.1) == 4 and sched.deadline == pytest.approx(2.12)
    with pytest.raises(ValueError):
        ec.DeadlineSchedule(0.0, 0.0)


class FakeOs:
    SCHED_FIFO = 1

    def __init__(self, affinity_error=None, sched_error=None):
        self.affinity_error, self.sched_error = affinity_error, sched_error
        self.calls = []

    def sched_setaffinity(self, pid, cpus):
        self.calls.append(('affinity', pid, list(cpus)))
        if self.affinity_error:
            raise self.affinity_error

    def sched_param(self, priority):
        return priority

    def sched_setscheduler(self, pid, policy, param):
        self.calls.append(('scheduler', pid, policy, param))
        if self.sched_error:
            raise self.sched_error


def test_realtime_settings_are_applied_to_the_calling_thread():
    fake = FakeOs()
    assert ec.apply_realtime(ec.RealtimeSettings(cpu_affinity=[1, 1], priority=50), fake) == []
    assert fake.calls == [('affinity', 0, [1]), ('scheduler', 0, 1, 50)]
    fake = FakeOs()
    assert ec.apply_realtime(ec.RealtimeSettings(), fake) == [] and fake.calls == []


def test_refused_realtime_settings_warn_with_the_reason_and_the_loop_goes_on():
    fake = FakeOs(affinity_error=OSError(errno.EINVAL, 'Invalid argument'),
                  sched_error=PermissionError(errno.EPERM, 'Operation not permitted'))
    warnings = ec.apply_realtime(ec.RealtimeSettings(cpu_affinity=[7], priority=80), fake)
    assert len(warnings) == 2
    assert 'CPUs [7]' in warnings[0] and 'Invalid argument' in warnings[0]
    assert 'SCHED_FIFO priority 80' in warnings[1] and 'Operation not permitted' in warnings[1]
    assert 'CAP_SYS_NICE' in warnings[1] and 'normal priority' in warnings[1]


class FakeGc:
    """The parts of the gc module GcPauses uses, with collections run by hand."""

    def __init__(self):
        self.callbacks = []
        self.collected = 0
        self.frozen = False

    def collect(self):
        self.collected += 1

    def freeze(self):
        self.frozen = True

    def run(self, generation, clock, seconds):
        for cb in list(self.callbacks):
            cb('start', {'generation': generation})
        clock.t += seconds
        for cb in list(self.callbacks):
            cb('stop', {'generation': generation})


def test_gc_pauses_freezes_and_reports_the_longest_pause_and_full_collections():
    fake, clock = FakeGc(), SimClock()
    pauses = ec.GcPauses(gc_api=fake, clock=lambda: clock.t)
    pauses.freeze()
    assert fake.collected == 1 and fake.frozen
    pauses.install()
    pauses.install()  # idempotent: one callback
    assert len(fake.callbacks) == 1
    fake.run(0, clock, 0.0002)
    fake.run(2, clock, 0.019)
    fake.run(1, clock, 0.001)
    longest, full = pauses.take()
    assert longest == pytest.approx(0.019) and full == 1
    assert pauses.take() == (0.0, 0)  # reset by take
    pauses.uninstall()
    fake.run(2, clock, 0.05)
    assert fake.callbacks == [] and pauses.take() == (0.0, 0)


def test_gc_pauses_freeze_exempts_live_objects_and_times_a_real_collection():
    import gc
    keep = [[i] for i in range(200000)]  # many tracked objects
    pauses = ec.GcPauses()
    pauses.install()
    try:
        pauses.freeze()
        assert gc.get_freeze_count() >= len(keep)
        pauses.take()
        gc.collect()
        longest, full = pauses.take()
        assert full == 1 and longest > 0.0
    finally:
        pauses.uninstall()
        gc.unfreeze()

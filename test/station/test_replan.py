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

"""Event-driven re-planning schedule of the policy node (ROS-free)."""

import pytest

from aloe_ros.station.replan import ReplanSchedule


def arrivals(schedule, times):
    planned = []
    for t in times:
        if schedule.due(t):
            schedule.planned(t)
            planned.append(t)
    return planned


def test_first_observation_is_planned_from_at_once():
    s = ReplanSchedule(0.2)
    assert s.due(5.0)
    assert arrivals(s, [5.0, 5.02, 5.04]) == [5.0]


def test_plans_on_the_first_observation_at_or_after_each_due_time_without_drift():
    # Observations every 30 ms (camera-paced), re-plan every 200 ms: each plan is the first
    # arrival at or after t0 + k * 0.2, never later; a late one does not shift the grid.
    s = ReplanSchedule(0.2)
    times = [round(i * 0.03, 6) for i in range(70)]
    planned = arrivals(s, times)
    for k, t in enumerate(planned):
        due = k * 0.2
        assert due - 1e-9 <= t < due + 0.03, (k, t)
    assert len(planned) == 11


def test_a_long_gap_restarts_the_schedule_from_the_next_observation():
    s = ReplanSchedule(0.2)
    planned = arrivals(s, [0.0, 0.2, 1.5, 1.6, 1.7, 1.72])
    assert planned == [0.0, 0.2, 1.5, 1.7]


def test_overdue_only_after_grace():
    s = ReplanSchedule(0.2)
    assert not s.overdue(100.0, 0.3)  # nothing planned yet: nothing is overdue
    s.planned(1.0)
    assert not s.overdue(1.45, 0.3)
    assert s.overdue(1.51, 0.3)


def test_clock_going_back_restarts():
    s = ReplanSchedule(0.2)
    s.planned(10.0)
    assert s.due(1.0)  # sim reset: ROS time went back to 1.0: plan now, restart the schedule
    s.planned(1.0)
    assert s.next_due == pytest.approx(1.2)
    assert not s.due(1.1)


def test_period_must_be_positive():
    with pytest.raises(ValueError):
        ReplanSchedule(0.0)


def test_restart_makes_the_next_observation_due():
    s = ReplanSchedule(0.2)
    s.planned(1.0)
    assert not s.due(1.05)
    s.restart()
    assert s.due(1.05)
    s.planned(1.05)
    assert not s.due(1.1) and s.due(1.25)

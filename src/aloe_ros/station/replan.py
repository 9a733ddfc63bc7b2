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
When the policy computes its next chunk (ROS-free): on an observation, once a re-plan is due.

A free-running timer computes from whatever observation is newest when it fires, so the chunk's
observation is on average half an observation period older than it needs to be, plus up to a
whole one. Planning on arrival uses each observation the moment it exists. Re-plans are due on an
absolute schedule, ``t_k = t_0 + k * period``: the first observation at or after ``t_k`` is planned
from, and a late one does not push the following re-plans later. When the schedule has fallen
more than a period behind (no usable observation for a while), or the clock went back, it
restarts from the next plan.
"""

from typing import Optional


class ReplanSchedule:
    """Absolute re-plan schedule driven by observation arrival times (any one clock, seconds)."""

    def __init__(self, period: float):
        """Plan every ``period`` s; the first observation is always due."""
        if not period > 0:
            raise ValueError(f'period must be > 0, got {period}')
        self.period = float(period)
        self.next_due: Optional[float] = None
        self.last_plan: Optional[float] = None

    def due(self, now: float) -> bool:
        """
        Return whether an observation arriving at ``now`` should be planned from.

        A clock that went back behind the last plan (a simulation reset) makes a re-plan due.
        """
        return self.next_due is None or now >= self.next_due or (
            self.last_plan is not None and now < self.last_plan)

    def planned(self, now: float) -> None:
        """Record that a chunk was computed from an observation that arrived at ``now``."""
        if self.next_due is None or now - self.next_due >= self.period or (
                self.last_plan is not None and now < self.last_plan):
            self.next_due = now + self.period
        else:
            self.next_due += self.period
        self.last_plan = now

    def restart(self) -> None:
        """Make the next observation due at once (an episode started, the operator handed back)."""
        self.next_due = None
        self.last_plan = None

    def overdue(self, now: float, grace: float) -> bool:
        """Return whether a re-plan has been due for more than ``grace`` s without one."""
        return self.next_due is not None and now - self.next_due > grace

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
Tasks of the bimanual sim: objects, randomisation, sparse success and failure.

- ``handover``: a 10 x 3 x 3 cm block lies on the left half of the table (x in [-0.20, -0.12] m,
  y in [-0.08, 0.08] m, yaw +-0.4 rad). The left arm picks it, hands it to the right arm over the
  table centre, the right arm puts it in the green target zone (centre x in [0.12, 0.20],
  y in [-0.08, 0.08]) and lets go. Success: block centre within 4 cm (xy) of the zone centre,
  resting on the table (centre height < 2.5 cm), touched by no finger. 300 control steps (6 s).
- ``sort``: two 3.5 cm cubes, red on the left half, blue on the right half, yaw +-0.6 rad; each
  must end in the zone of its colour (red zone on the left, blue on the right, both zones placed
  at random, 3 cm radius). Harder: two objects, tighter zones, both must succeed. 300 steps.

Failure (true termination) for both: an object fell off the table (centre below z = -0.05).
"""

from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np

from aloe_ros.sim import scene


@dataclass(frozen=True)
class ObjectSpec:
    """One free object: its name, half sizes, colour and the zone it must reach."""

    name: str
    half: Tuple[float, float, float]
    rgba: str
    zone: str


@dataclass(frozen=True)
class ZoneSpec:
    """One target zone (mocap disc)."""

    name: str
    radius: float
    rgba: str


class Task:
    """A task: which objects and zones exist, how they are randomised and when it is done."""

    name = ''
    instruction = ''
    objects: Tuple[ObjectSpec, ...] = ()
    zones: Tuple[ZoneSpec, ...] = ()
    max_steps = 300
    #: Tolerance of success: object centre within zone radius (xy), below this height (m).
    rest_height = 0.025

    def mjcf(self) -> str:
        """Return the scene MJCF with this task's objects and zones."""
        objs = '\n'.join(scene.box_object_xml(o.name, o.half, o.rgba) for o in self.objects)
        zones = '\n'.join(scene.zone_xml(z.name, z.radius, z.rgba) for z in self.zones)
        return scene.build_mjcf(objs, zones)

    def sample(self, rng: np.random.Generator) -> Tuple[Dict[str, Tuple[float, float, float]],
                                                        Dict[str, Tuple[float, float]]]:
        """Return object poses {name: (x, y, yaw)} and zone centres {name: (x, y)}."""
        raise NotImplementedError

    def zone_radius(self, zone: str) -> float:
        return next(z.radius for z in self.zones if z.name == zone)


class HandoverTask(Task):
    """Left arm picks the block, hands it to the right arm, which places it in the zone."""

    name = 'handover'
    instruction = ('hand the red block from the left arm to the right arm and put it on the '
                   'green disc')
    objects = (ObjectSpec('block', (0.05, 0.015, 0.015), '0.85 0.2 0.2 1', 'zone'),)
    zones = (ZoneSpec('zone', 0.04, '0.2 0.8 0.2 0.5'),)

    def sample(self, rng):
        obj = {'block': (rng.uniform(-0.20, -0.12), rng.uniform(-0.08, 0.08),
                         rng.uniform(-0.4, 0.4))}
        zone = {'zone': (rng.uniform(0.12, 0.20), rng.uniform(-0.08, 0.08))}
        return obj, zone


class SortTask(Task):
    """Each arm puts the cube on its side into the zone of the cube's colour."""

    name = 'sort'
    instruction = 'put the red cube on the red disc and the blue cube on the blue disc'
    objects = (ObjectSpec('cube_red', (0.0175, 0.0175, 0.0175), '0.85 0.2 0.2 1', 'zone_red'),
               ObjectSpec('cube_blue', (0.0175, 0.0175, 0.0175), '0.2 0.3 0.9 1', 'zone_blue'))
    zones = (ZoneSpec('zone_red', 0.03, '0.9 0.4 0.4 0.5'),
             ZoneSpec('zone_blue', 0.03, '0.4 0.5 1.0 0.5'))

    def sample(self, rng):
        obj = {'cube_red': (rng.uniform(-0.22, -0.12), rng.uniform(-0.02, 0.10),
                            rng.uniform(-0.6, 0.6)),
               'cube_blue': (rng.uniform(0.12, 0.22), rng.uniform(-0.02, 0.10),
                             rng.uniform(-0.6, 0.6))}
        zone = {'zone_red': (rng.uniform(-0.22, -0.10), rng.uniform(-0.14, -0.08)),
                'zone_blue': (rng.uniform(0.10, 0.22), rng.uniform(-0.14, -0.08))}
        return obj, zone


TASKS: Dict[str, type] = {HandoverTask.name: HandoverTask, SortTask.name: SortTask}


def make_task(name: str) -> Task:
    """Return the task called ``name``; ValueError lists the known ones."""
    if name not in TASKS:
        raise ValueError(f'unknown task {name!r}; known: {sorted(TASKS)}')
    return TASKS[name]()


def task_names() -> List[str]:
    return sorted(TASKS)

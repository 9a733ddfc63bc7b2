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
Subprocess for the crash-safety test: records episodes back to back until killed.

Prints ``DONE <episode_id>`` after each episode is closed and ``OPEN <episode_id>`` when the
next one starts, flushing each line, so the parent knows what must survive a SIGKILL.
"""

import sys

import numpy as np

from aloe_ros.learning.episode import OUTCOME_SUCCESS
from aloe_ros.storage import EpisodeStore
from aloe_ros.storage.convert import header, image_message


def main(root: str, steps: int) -> None:
    """Record episodes of ``steps`` ticks into ``root`` forever."""
    store = EpisodeStore(root, mode='w')
    rng = np.random.default_rng()
    t_ns = 10**18
    while True:
        rec = store.begin_episode(task='crash', instruction='survive')
        print('OPEN', rec.episode_id, flush=True)
        for k in range(steps):
            t_ns += 20_000_000
            img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            rec.write('/aloe/observation', {
                'header': header(t_ns), 'camera_names': ['cam_high'],
                'images': [image_message(img, t_ns)], 'position': rng.normal(size=12).tolist(),
                'gripper': [0.5, 0.5]}, t_ns)
            rec.write('/aloe/executed_step', {
                'header': header(t_ns), 'episode_id': rec.episode_id, 'step_index': k,
                'action': rng.normal(size=14).tolist(), 'observed_position': [0.0] * 14}, t_ns)
        rec.close(OUTCOME_SUCCESS)
        print('DONE', rec.episode_id, flush=True)


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))

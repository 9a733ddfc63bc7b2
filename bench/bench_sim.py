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
Benchmark of the MuJoCo bimanual sim: speed with and without rendering, expert success.

``python bench/bench_sim.py [--quick]`` prints the figures and writes ``results/bench_sim.json``:

- control steps/s (50 Hz control, 10 physics substeps each) without rendering, and the real-time
  factor that gives;
- with rendering at the node's default config (3 cameras, 480x640, published at 30 Hz of sim time)
  and at the learner's config (3 cameras, 64x64, every control step);
- scripted expert success rate and mean episode length over 50 seeds per task (10 with --quick).
"""

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault('MUJOCO_GL', 'egl')

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from aloe_ros.sim import robot  # noqa: E402
from aloe_ros.sim.env import BimanualEnv  # noqa: E402
from aloe_ros.sim.expert import ScriptedExpert  # noqa: E402
from aloe_ros.sim.tasks import task_names  # noqa: E402


def _speed(env: BimanualEnv, steps: int, render_every: float = 0.0, size=None) -> float:
    """Return control steps/s holding the home pose (physics and rendering only, no policy)."""
    env.reset(0)
    action = np.asarray(robot.home_action())
    next_render = 0.0
    t0 = time.perf_counter()
    for k in range(steps):
        env.step(action)
        if render_every and k >= next_render:
            next_render += render_every
            for cam in robot.CAMERAS:
                env.render(cam, *size)
    return steps / (time.perf_counter() - t0)


def _expert(task: str, seeds: int):
    env = BimanualEnv(task, cameras=())
    expert = ScriptedExpert(env)
    wins, lengths = 0, []
    t0 = time.perf_counter()
    total = 0
    for seed in range(seeds):
        env.reset(seed)
        info = {'success': False}
        for _ in range(env.max_steps):
            _, _, terminated, truncated, info = env.step(expert.act())
            total += 1
            if terminated or truncated:
                break
        wins += int(info['success'])
        lengths.append(env.step_count)
    return {'seeds': seeds, 'success_rate': wins / seeds, 'mean_steps': float(np.mean(lengths)),
            'max_steps': env.max_steps, 'expert_steps_per_s': total / (time.perf_counter() - t0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='fewer steps and 10 seeds per task')
    parser.add_argument('--out', default='results/bench_sim.json')
    args = parser.parse_args()
    steps = 300 if args.quick else 1500
    seeds = 10 if args.quick else 50
    env = BimanualEnv('handover', cameras=())
    dt = env.control_dt
    no_render = _speed(env, steps)
    node_default = _speed(env, steps // 3, render_every=50.0 / 30.0, size=(480, 640))
    every_step_full = _speed(env, steps // 10, render_every=1.0, size=(480, 640))
    learner = _speed(env, steps // 3, render_every=1.0, size=(64, 64))
    env.close()
    results = {
        'machine': {'cpu': platform.processor() or platform.machine(), 'cores': os.cpu_count(),
                    'mujoco': mujoco.__version__, 'python': platform.python_version()},
        'control_hz': 1.0 / dt, 'physics_substeps': env.substeps,
        'no_render': {'control_steps_per_s': no_render, 'physics_steps_per_s': no_render
                      * env.substeps,
                      'real_time_factor': no_render * dt},
        'node_default_3cam_480x640_at_30hz': {'control_steps_per_s': node_default,
                                              'real_time_factor': node_default * dt},
        'render_3cam_480x640_every_step': {'control_steps_per_s': every_step_full,
                                           'real_time_factor': every_step_full * dt},
        'learner_3cam_64x64_every_step': {'control_steps_per_s': learner,
                                          'real_time_factor': learner * dt},
        'expert': {task: _expert(task, seeds) for task in task_names()},
        'quick': args.quick,
    }
    print(json.dumps(results, indent=2))
    os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())

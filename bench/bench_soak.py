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
Soak bench: the robot-side graph run faster than real time, memory and backlog over time.

Usage: ``python bench/bench_soak.py [--quick] [--minutes 30] [--speed 4]``.
Needs the workspace sourced (``. .venv/bin/activate && . install/setup.bash``).

Processes (real nodes over DDS, private ROS domain): observation, chunk_executor, policy (tiny
ALOE actor) and recorder. A driver stands in for the robot: camera frames (64x64 rgb8) and both
arms' joint states at ``speed`` x 50 Hz, the executor and observation node run at ``speed`` x 50 Hz
too, and episodes of ``episode_seconds`` are started and ended back to back through the recorder
services, so hours of station time pass in minutes.

Every ``sample_period`` s it records each node's resident memory (VmRSS from /proc/<pid>/status)
and backlog figures: executed-step lag at the driver (now - step stamp, p99, grows when a queue
builds up), the recorder's gap per episode (steps the driver saw minus steps the recorder wrote;
a few at the episode edges are timing, a growing gap is a backlog), the observation node's input
age, the executor's missed ticks and period error. The report gives the RSS slope of each node
(MB/min,
least squares after a warm-up fifth of the run) and writes ``results/bench_soak.json``.
"""

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'reliability'))
# Domains above 101 put DDS ports into Linux's ephemeral range: stay in 1..101.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 101)))
os.environ.setdefault('PYTHONUNBUFFERED', '1')

import numpy as np  # noqa: E402
from reliability_harness import (  # noqa: E402
    JOINTS, TINY_CONFIG, Driver, NodeProcess, make_weights, rss_mb)


def slope_mb_per_min(times, values, warmup_fraction=0.2):
    """Return the least-squares slope of ``values`` [MB] over ``times`` [s] in MB/min (warm)."""
    t = np.asarray(times, float)
    v = np.asarray(values, float)
    keep = t >= t[0] + warmup_fraction * (t[-1] - t[0]) if len(t) else []
    t, v = t[keep], v[keep]
    if len(t) < 3:
        return float('nan')
    return float(np.polyfit(t / 60.0, v, 1)[0])


def _diag(diags, name, key):
    for msg in reversed(diags):
        for status in msg.status:
            if status.name.endswith(name):
                for kv in status.values:
                    if kv.key == key:
                        try:
                            return float(kv.value)
                        except ValueError:
                            return kv.value
    return None


def run(minutes, speed, episode_seconds, sample_period, out_path):
    """Run the soak; return the report dict."""
    from aloe_msgs.msg import ExecutedStep
    from aloe_msgs.srv import EndEpisode, StartEpisode
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import Image, JointState

    from aloe_ros.nodes.common import DIAGNOSTICS, SENSOR_DATA, reliable, stamp_to_sec

    rate = 50.0 * speed
    tmp = tempfile.mkdtemp(prefix='bench_soak_')
    weights = os.path.join(tmp, 'weights')
    info = make_weights(weights, TINY_CONFIG)
    procs = {
        'observation': NodeProcess('aloe_ros.nodes.observation', {
            'rate': rate, 'camera_names': ['cam_high'], 'image_height': 64, 'image_width': 64,
            'slop': 0.5 / rate}, os.path.join(tmp, 'observation.log')),
        'chunk_executor': NodeProcess('aloe_ros.nodes.chunk_executor', {
            'rate': rate, 'observation_timeout': 0.5}, os.path.join(tmp, 'executor.log')),
        'policy': NodeProcess('aloe_ros.nodes.policy', {
            'learner_config': TINY_CONFIG, 'weights_dir': weights, 'initial_weights': info.path,
            'initial_sha256': info.sha256, 'initial_version': 1, 'replan_period': 0.1 / speed,
            'max_observation_age': 0.5}, os.path.join(tmp, 'policy.log')),
        'recorder': NodeProcess('aloe_ros.nodes.recorder', {
            'storage_root': os.path.join(tmp, 'store'), 'compression': 'lz4'},
            os.path.join(tmp, 'recorder.log')),
    }
    driver = Driver('bench_soak')
    node = driver.node
    cam_pub = node.create_publisher(Image, '/cam_high/image_raw', SENSOR_DATA)
    joint_pubs = {a: node.create_publisher(JointState, f'/follower_{a}/joint_states', SENSOR_DATA)
                  for a in ('left', 'right')}
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    lags = []
    steps = {'n': 0, 'policy': 0}

    def on_step(msg):
        steps['n'] += 1
        steps['policy'] += msg.source == ExecutedStep.SOURCE_POLICY
        lags.append(driver.now() - stamp_to_sec(msg.header.stamp))
    node.create_subscription(ExecutedStep, '/aloe/executed_step', on_step, reliable(200))
    start_cli = node.create_client(StartEpisode, '/aloe/start_episode')
    end_cli = node.create_client(EndEpisode, '/aloe/end_episode')
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, 64 * 64 * 3, dtype=np.uint8).tobytes()
    phase = {'k': 0}

    def sensors():
        stamp = driver.stamp()
        img = Image(height=64, width=64, encoding='rgb8', step=192, data=frame)
        img.header.stamp = stamp
        cam_pub.publish(img)
        phase['k'] += 1
        for arm, pub in joint_pubs.items():
            pos = [0.2 * np.sin(0.01 * phase['k'] + j) for j in range(7)]
            pos[6] = 0.5
            msg = JointState(name=[n for n in JOINTS if n.startswith(arm)], position=pos)
            msg.header.stamp = stamp
            pub.publish(msg)

    samples = []
    gaps = []
    episodes = {'ended': 0, 'steps_recorded': 0, 'failed_calls': 0}
    try:
        if not driver.spin_until(lambda: steps['policy'] > 0, 180, sensors, 1.0 / rate):
            raise RuntimeError('the graph never produced policy steps: '
                               + ''.join(p.output(1500) for p in procs.values()))
        t0 = time.monotonic()
        next_sample = t0
        episode_open = False
        episode_started = t0
        recorder_steps_at_start = 0
        while time.monotonic() - t0 < minutes * 60.0:
            now = time.monotonic()
            if not episode_open:
                res = driver.call(start_cli, StartEpisode.Request(task='soak'), 10, sensors)
                episode_open = bool(res and res.success)
                episode_started = time.monotonic()
                episodes['failed_calls'] += not episode_open
                recorder_steps_at_start = steps['n']
            elif now - episode_started > episode_seconds:
                res = driver.call(end_cli, EndEpisode.Request(outcome=1), 10, sensors)
                if res and res.success:
                    episodes['ended'] += 1
                    episodes['steps_recorded'] += int(res.num_steps)
                    # steps the driver saw during the episode minus the steps the recorder wrote
                    gaps.append((steps['n'] - recorder_steps_at_start) - int(res.num_steps))
                else:
                    episodes['failed_calls'] += 1
                episode_open = False
            if now >= next_sample:
                next_sample += sample_period
                recorder_msgs = _diag(diags, 'aloe_recorder', 'msgs_aloe_executed_step') or 0.0
                sample = {'t': now - t0, 'rss_mb': {k: p.rss_mb() for k, p in procs.items()},
                          'alive': {k: p.alive() for k, p in procs.items()},
                          'step_lag_p99_ms': float(np.percentile(lags, 99) * 1e3) if lags
                          else None,
                          'steps_received': steps['n'],
                          'recorder_msgs_executed_step': recorder_msgs,
                          'observation_input_age_s': _diag(diags, 'observation', 'input_age'),
                          'executor_missed_ticks': _diag(diags, 'chunk_executor', 'missed_ticks'),
                          'executor_period_error_p99_ms': _diag(diags, 'chunk_executor',
                                                                'period_error_p99_ms'),
                          'driver_rss_mb': rss_mb(os.getpid())}
                lags.clear()
                samples.append(sample)
                print(f"t={sample['t']:6.0f}s rss " + ' '.join(
                    f'{k}={v:.1f}' for k, v in sample['rss_mb'].items() if v is not None)
                    + f" lag_p99={sample['step_lag_p99_ms'] or 0:.1f}ms steps={steps['n']}"
                    f" episodes={episodes['ended']}", flush=True)
            driver.spin_for(max(0.0, 1.0 / rate - 0.001), sensors, 1.0 / rate)
        if episode_open:
            res = driver.call(end_cli, EndEpisode.Request(outcome=1), 10, sensors)
            if res and res.success:
                episodes['ended'] += 1
                episodes['steps_recorded'] += int(res.num_steps)
    finally:
        driver.close()
        codes = {k: p.stop() for k, p in procs.items()}
    from aloe_ros.storage import EpisodeStore
    store = EpisodeStore(os.path.join(tmp, 'store'))
    stored_steps = sum(r.num_steps for r in store.records())
    store.close()
    times = [s['t'] for s in samples]
    report = {
        'bench': 'soak', 'time': time.strftime('%Y-%m-%dT%H:%M:%S'), 'host': platform.node(),
        'cpus': os.cpu_count(), 'minutes': minutes, 'speed': speed, 'control_rate_hz': rate,
        'simulated_station_minutes': minutes * speed, 'episode_seconds': episode_seconds,
        'rss_slope_mb_per_min': {
            k: slope_mb_per_min(times, [s['rss_mb'][k] or np.nan for s in samples])
            for k in procs},
        'rss_first_mb': samples[0]['rss_mb'] if samples else {},
        'rss_last_mb': samples[-1]['rss_mb'] if samples else {},
        'step_lag_p99_ms_max': max((s['step_lag_p99_ms'] or 0.0) for s in samples) if samples
        else None,
        'recorder_step_gap': {'per_episode': gaps,
                              'max_abs': max((abs(g) for g in gaps), default=0)},
        'episodes': episodes, 'steps_in_store': stored_steps,
        'steps_lost': episodes['steps_recorded'] - stored_steps,
        'all_alive': all(all(s['alive'].values()) for s in samples), 'exit_codes': codes,
        'samples': samples, 'workdir': tmp,
    }
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, 'w') as f:
        json.dump(report, f, indent=2)
    return report


def main(argv=None):
    """Parse arguments, run, print the slopes."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='about one minute')
    parser.add_argument('--minutes', type=float, default=30.0)
    parser.add_argument('--speed', type=float, default=4.0,
                        help='rates as a multiple of real time')
    parser.add_argument('--episode-seconds', type=float, default=10.0)
    parser.add_argument('--sample-period', type=float, default=5.0)
    parser.add_argument('--out', default=os.path.join(ROOT, 'results', 'bench_soak.json'))
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes, args.sample_period = 1.0, 2.0
    report = run(args.minutes, args.speed, args.episode_seconds, args.sample_period, args.out)
    for name, slope in report['rss_slope_mb_per_min'].items():
        print(f'{name:16s} RSS {report["rss_first_mb"].get(name) or 0:7.1f} -> '
              f'{report["rss_last_mb"].get(name) or 0:7.1f} MB, slope {slope:+.3f} MB/min')
    print(f'episodes {report["episodes"]}, steps lost {report["steps_lost"]}, '
          f'all alive {report["all_alive"]}')
    print(f'wrote {args.out}')
    return 0 if report['all_alive'] and report['steps_lost'] == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

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
System timing bench: the robot-side graph as separate OS processes over real DDS, wall clock.

Usage: ``python bench/bench_system.py [--quick] [--pin] [--out results]``; needs the workspace
sourced
(``. scripts/env.sh``). Writes ``<out>/bench_system.json`` (``bench_system_pin.json`` with
``--pin``)
and prints the figures. Every process runs with the shipped DDS profile
(``config/dds/fastdds_large_data.xml``) unless ``FASTRTPS_DEFAULT_PROFILES_FILE`` is already set.

``--pin`` puts the executor process on the last CPU (its control thread pinned there too) and every
other process, this one included, on the remaining CPUs; ``--rt-priority N`` also asks for
SCHED_FIFO
priority N for the control thread (refused without permission, which the executor's log says).

Processes (private ROS domain, no ``use_sim_time``): ``aloe_observation`` (3 cameras -> 64x64),
``aloe_policy`` (``config/learner/sim_train_camera.yaml`` actor), ``aloe_chunk_executor`` (50 Hz),
``aloe_recorder``, ``aloe_learner`` (``trigger: action``, reading the recorder's store) and a
sensor publisher process (this file with ``--publisher``) standing in for the robot: three
480x640 rgb8 ``sensor_msgs/Image`` at 30 Hz and both arms' ``JointState`` at 50 Hz, stamped with
the wall clock at publish time. This process is the measuring node: it receives
``/aloe/executed_step``, ``/aloe/action_chunk``, ``/diagnostics`` and runs the episodes.

Phases, in order: ``idle`` (graph running, learner idle), ``swap`` (PolicyUpdates pushed one at a
time while the executor runs), ``train`` (a ``/aloe/train_iteration`` goal keeps the learner
training on the same machine; the window starts at its first progress feedback). Episodes are
started and ended back to back through the recorder services during all phases.

Figures (all times on the wall clock):

- period error: ``|dt - 20 ms|`` between consecutive ExecutedSteps, (a) ``recv``: receive times in
  this process (independent, includes DDS delivery jitter), (b) ``stamp``: the executor's tick
  stamps (its own timer jitter). Missed ticks: ``sum(max(round(dt / 20 ms) - 1, 0))`` (the
  executor's own rule: a tick 10 ms or more late counts as a missed one). The
  executor's own ``/diagnostics`` figures (``missed_ticks`` delta, ``period_error_p99_ms`` over its
  last 500 ticks) are reported alongside.
- observation-to-command latency: for every chunk, ``stamp(first ExecutedStep executing the chunk)
  - ActionChunk.header.stamp``, where the chunk's stamp is the Observation stamp it was computed
  from (its newest aligned input's stamp: a sensor message's publish time here), and the
  ExecutedStep stamp is the executor tick that sent that command to the arms. The budget: the
  observation node's ``input_age`` (publish time - *oldest* aligned input stamp); the chain from
  the observation's stamp, from 1 Hz diagnostics over the idle window: observation published
  (observation node ``publish_age_ms``), observation at the policy (``observation_age_ms``, the
  planned one), chunk published (``chunk_age_ms``); observation stamp -> chunk received here (in
  this process, which also handles every ExecutedStep); chunk received here -> its first executing
  tick (the wait for the 50 Hz tick). The policy plans on the arrival of the first observation at
  or after each re-plan deadline.
- inference: the policy's ``inference_ms`` diagnostic (1 Hz samples) and ``chunk receive time -
  observation stamp`` (observation age + inference + DDS).
- ingestion: frames the publisher sent vs the observation node's ``received_<camera>`` counters;
  observation output rate from its ``published`` counter.
- recorder: EpisodeSummary ``size_bytes`` per episode and ``size_bytes / duration``.
"""

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'reliability'))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(201, 230)))
os.environ.setdefault('PYTHONUNBUFFERED', '1')
DDS_PROFILE = os.path.join(ROOT, 'config', 'dds', 'fastdds_large_data.xml')
os.environ.setdefault('FASTRTPS_DEFAULT_PROFILES_FILE', DDS_PROFILE)
os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE',
                      os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'])

import numpy as np  # noqa: E402

CONFIG = os.path.join(ROOT, 'config', 'learner', 'sim_train_camera.yaml')
CAMERAS = ['cam_high', 'cam_left_wrist', 'cam_right_wrist']
DT = 0.02
FRAMES = 30
SIZES = {
    'quick': {'idle_s': 20.0, 'train_s': 25.0, 'swaps': 3, 'swap_settle_s': 1.0, 'episode_s': 8.0},
    'default': {'idle_s': 120.0, 'train_s': 180.0, 'swaps': 20, 'swap_settle_s': 2.0,
                'episode_s': 20.0},
}
#: Targets (issue 16, DESIGN.md section 5): name -> (comparison, target, needs --pin).
TARGETS = {
    'camera_delivery_min_fraction_train': ('>=', 0.995, False),
    'obs_to_command_p99_ms_idle': ('<=', 50.0, False),
    'obs_to_command_p99_ratio_train_over_idle': ('<=', 1.5, False),
    'period_error_p99_ms_train_pinned': ('<=', 2.0, True),
    'period_error_p99_ratio_train_over_idle_pinned': ('<=', 1.2, True),
    'swap_missed_ticks_not_above_idle': ('<=', None, False),
    'swap_missed_ticks_pinned': ('<=', 0, True),
}


def cpu_plan(pin):
    """Return {'executor': cpus, 'others': cpus} for ``--pin`` (None: no pinning)."""
    if not pin:
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit('--pin needs at least 2 CPUs')
    return {'executor': [cpus[-1]], 'others': cpus[:-1]}


# ----------------------------------------------------------------------------------------
# publisher

def publisher_main(out_path, height=480, width=640, camera_hz=30.0, joint_hz=50.0):
    """Publish 3 cameras + both arms' joint states until SIGTERM; write counts to ``out_path``."""
    import rclpy
    from sensor_msgs.msg import Image, JointState

    from aloe_ros.nodes.common import SENSOR_DATA, sec_to_stamp
    from reliability_harness import JOINTS

    from rclpy.signals import SignalHandlerOptions
    # Our own handlers: stop publishing, then write the counts (rclpy's would invalidate the
    # context).
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = {'flag': False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(flag=True))
    node = rclpy.create_node(f'bench_system_sensors_{os.getpid()}')
    clock = node.get_clock()
    rng = np.random.default_rng(0)
    # FRAMES distinct noise frames per camera, cycled: incompressible, no repeat within a second.
    cams = {}
    for cam in CAMERAS:
        msgs = []
        for _ in range(FRAMES):
            msg = Image(height=height, width=width, encoding='rgb8', step=width * 3,
                        data=rng.integers(0, 256, height * width * 3, dtype=np.uint8).tobytes())
            msg.header.frame_id = cam
            msgs.append(msg)
        cams[cam] = (node.create_publisher(Image, f'/{cam}/image_raw', SENSOR_DATA), msgs)
    arms = {}
    for arm in ('left', 'right'):
        msg = JointState(name=[n for n in JOINTS if n.startswith(arm)])
        arms[arm] = (node.create_publisher(JointState, f'/follower_{arm}/joint_states',
                                           SENSOR_DATA), msg)
    # Count only frames published once the observation node subscribes (DDS discovery done).
    while not stop['flag'] and any(pub.get_subscription_count() < 1 for pub, _ in cams.values()):
        time.sleep(0.05)
    counts = {'published': {k: 0 for k in list(cams) + list(arms)},
              'late_ticks': {'camera': 0, 'joints': 0}}
    t0 = time.monotonic()
    next_cam, next_joint, k = t0, t0, 0
    while not stop['flag']:
        now = time.monotonic()
        if now >= next_cam:
            stamp = sec_to_stamp(clock.now().nanoseconds * 1e-9)
            for cam, (pub, msgs) in cams.items():
                msg = msgs[counts['published'][cam] % FRAMES]
                msg.header.stamp = stamp
                pub.publish(msg)
                counts['published'][cam] += 1
            next_cam += 1.0 / camera_hz
            if now - next_cam > 1.0 / camera_hz:
                counts['late_ticks']['camera'] += 1
        if now >= next_joint:
            stamp = sec_to_stamp(clock.now().nanoseconds * 1e-9)
            k += 1
            for arm, (pub, msg) in arms.items():
                pos = [0.2 * math.sin(0.02 * k + j) for j in range(7)]
                pos[6] = 0.5
                msg.position = pos
                msg.velocity = [0.0] * 7
                msg.header.stamp = stamp
                pub.publish(msg)
                counts['published'][arm] += 1
            next_joint += 1.0 / joint_hz
            if now - next_joint > 1.0 / joint_hz:
                counts['late_ticks']['joints'] += 1
        time.sleep(max(0.0, min(next_cam, next_joint) - time.monotonic()))
    counts['seconds'] = time.monotonic() - t0
    counts['image'] = {'height': height, 'width': width, 'camera_hz': camera_hz,
                       'joint_hz': joint_hz}
    with open(out_path + '.tmp', 'w') as f:
        json.dump(counts, f)
    os.replace(out_path + '.tmp', out_path)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def _publisher_process_class():
    from reliability_harness import NodeProcess

    class SensorPublisherProcess(NodeProcess):
        """This script's sensor publisher role as an OS process (``module`` is the counts path)."""

        def start(self):
            """Start ``python bench_system.py --publisher <counts>`` with its output in the log."""
            self._log = open(self.log_path, 'a')
            args = [sys.executable, os.path.abspath(__file__), '--publisher', self.module]
            self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ))

    return SensorPublisherProcess


def cpu_seconds(pid):
    """Return user + system CPU seconds of ``pid`` from /proc (None when gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return None


# ----------------------------------------------------------------------------------------
# statistics

def _pct(x, q):
    return float(np.percentile(x, q)) if len(x) else float('nan')


def period_stats(times):
    """Return period-error figures [ms] and missed ticks of consecutive tick ``times`` [s]."""
    d = np.diff(np.asarray(times, float))
    if len(d) == 0:
        return {'ticks': int(len(times)), 'p50_ms': float('nan'), 'p99_ms': float('nan'),
                'max_ms': float('nan'), 'missed_ticks': 0, 'mean_period_ms': float('nan')}
    err = np.abs(d - DT) * 1e3
    missed = int(np.clip(np.round(d / DT) - 1, 0, None).sum())
    return {'ticks': int(len(times)), 'p50_ms': _pct(err, 50), 'p99_ms': _pct(err, 99),
            'max_ms': float(err.max()), 'missed_ticks': missed,
            'mean_period_ms': float(d.mean() * 1e3)}


def dist(x, unit_scale=1.0):
    """Return n, p50, p99, max, mean of ``x`` scaled by ``unit_scale``."""
    x = np.asarray(x, float) * unit_scale
    if not len(x):
        return {'n': 0, 'p50': float('nan'), 'p99': float('nan'), 'max': float('nan'),
                'mean': float('nan')}
    return {'n': int(len(x)), 'p50': _pct(x, 50), 'p99': _pct(x, 99), 'max': float(x.max()),
            'mean': float(x.mean())}


def _ratio(a, b):
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or b <= 0:
        return float('nan')
    return float(a / b)


def _diag_values(msg, name):
    for status in msg.status:
        if status.name.endswith(name):
            return {kv.key: kv.value for kv in status.values}
    return None


def _num(values, key):
    try:
        return float(values[key])
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------- weights

def make_actors(weights_dir, count):
    """Export ``count`` actors (versions 1..count) of ``CONFIG``; return their CheckpointInfos."""
    from aloe_ros.learning.config import load_config
    from aloe_ros.learning.episode import InMemoryEpisodeSource
    from aloe_ros.learning.trainer import AloeTrainer
    from aloe_ros.storage import make_episode
    rng = np.random.default_rng(0)
    steps = 30
    ep = make_episode('bench-system-0', actions=rng.normal(scale=0.1, size=(steps, 14)),
                      proprio=rng.normal(scale=0.1, size=(steps, 14)),
                      images={'cam_high': rng.integers(0, 256, (steps, 64, 64, 3),
                                                       dtype=np.uint8)},
                      outcome=1, task='handover')
    trainer = AloeTrainer(load_config(CONFIG), InMemoryEpisodeSource([ep]))
    trainer.refresh()
    os.makedirs(weights_dir, exist_ok=True)
    return [trainer.export(weights_dir) for _ in range(count)]


# ---------------------------------------------------------------------------------------- the run

def run(size, out_dir, log=print, pin=False, rt_priority=0):
    """Run the bench at ``size`` ('quick' or 'default') pinned with ``pin``; return results."""
    cpus = cpu_plan(pin)
    if cpus:
        os.sched_setaffinity(0, cpus['others'])  # before any thread: they inherit it
    import torch
    torch.set_num_threads(1)
    from aloe_msgs.action import TrainIteration
    from aloe_msgs.msg import ActionChunk, EpisodeSummary, ExecutedStep, PolicyUpdate
    from aloe_msgs.srv import EndEpisode, StartEpisode
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.action import ActionClient
    from std_msgs.msg import UInt32

    from aloe_ros.nodes.common import DIAGNOSTICS, latched, reliable, stamp_to_sec
    from reliability_harness import Driver, NodeProcess
    SensorPublisherProcess = _publisher_process_class()

    sz = SIZES[size]
    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix='bench_system_')
    weights = os.path.join(tmp, 'weights')
    log(f'[bench_system] size {size}, ROS_DOMAIN_ID {os.environ["ROS_DOMAIN_ID"]}, workdir {tmp}, '
        f'DDS profile {os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"]}, CPUs {cpus or "not pinned"}')
    actors = make_actors(weights, 1 + sz['swaps'])
    store = os.path.join(tmp, 'store')
    counts_path = os.path.join(tmp, 'publisher_counts.json')
    procs = {}

    def start(name, module, params):
        procs[name] = NodeProcess(module, params, os.path.join(tmp, f'{name}.log'))

    driver = Driver('bench_system')
    node = driver.node
    steps, chunks, diags, summaries, versions, feedback = [], {}, [], [], [], []
    wall = driver.now

    def on_step(msg):
        steps.append((time.monotonic(), stamp_to_sec(msg.header.stamp), int(msg.chunk_id),
                      int(msg.index_in_chunk), int(msg.source)))

    def on_chunk(msg):
        chunks.setdefault(int(msg.chunk_id),
                          (stamp_to_sec(msg.header.stamp), wall(), int(msg.policy_version)))

    node.create_subscription(ExecutedStep, '/aloe/executed_step', on_step, reliable(200))
    node.create_subscription(ActionChunk, '/aloe/action_chunk', on_chunk, reliable(5))
    node.create_subscription(DiagnosticArray, '/diagnostics',
                             lambda m: diags.append((time.monotonic(), m)),
                             DIAGNOSTICS)
    node.create_subscription(EpisodeSummary, '/aloe/episode_summary', summaries.append,
                             reliable(10))
    node.create_subscription(UInt32, '/aloe/policy/version',
                             lambda m: versions.append(int(m.data)),
                             latched(1))
    update_pub = node.create_publisher(PolicyUpdate, '/aloe/policy_update', latched(1))
    start_cli = node.create_client(StartEpisode, '/aloe/start_episode')
    end_cli = node.create_client(EndEpisode, '/aloe/end_episode')
    train_cli = ActionClient(node, TrainIteration, '/aloe/train_iteration')
    phases, load, cpu = {}, {}, {}
    episodes = {'open': False, 't0': 0.0, 'started': 0, 'ended': 0, 'failed_calls': 0}

    def episode_manager():
        now = time.monotonic()
        if not episodes['open']:
            res = driver.call(start_cli, StartEpisode.Request(task='bench_system'), 10)
            episodes['open'] = bool(res and res.success)
            episodes['t0'] = time.monotonic()
            episodes['started' if episodes['open'] else 'failed_calls'] += 1
        elif now - episodes['t0'] >= sz['episode_s']:
            res = driver.call(end_cli,
                              EndEpisode.Request(outcome=EndEpisode.Request.OUTCOME_SUCCESS), 10)
            episodes['ended' if res and res.success else 'failed_calls'] += 1
            episodes['open'] = False

    def wait(seconds):
        driver.spin_for(seconds, episode_manager, 0.25)

    result, alive = {}, {}
    try:
        # Raw camera recording is measured on its own (bench_recorder.py); here the recorder keeps
        # what it kept when these figures were first taken, so they stay comparable.
        start('recorder', 'aloe_ros.nodes.recorder', {'storage_root': store, 'compression': 'zstd',
                                                      'camera_transcode': 'skip'})
        start('observation', 'aloe_ros.nodes.observation', {
            'camera_names': CAMERAS, 'image_height': 64, 'image_width': 64, 'slop': 0.05,
            'staleness_limit': 0.25})
        if cpus:
            os.sched_setaffinity(0, cpus['executor'])  # the child inherits it at fork
            try:
                start('chunk_executor', 'aloe_ros.nodes.chunk_executor', {
                    'observation_timeout': 0.3, 'cpu_affinity': cpus['executor'],
                    'thread_priority': rt_priority})
            finally:
                os.sched_setaffinity(0, cpus['others'])
        else:
            start('chunk_executor', 'aloe_ros.nodes.chunk_executor', {'observation_timeout': 0.3})
        start('policy', 'aloe_ros.nodes.policy', {
            'learner_config': CONFIG, 'weights_dir': weights, 'initial_weights': actors[0].path,
            'initial_sha256': actors[0].sha256, 'initial_version': actors[0].version,
            'replan_period': 0.2,
            'max_observation_age': 0.3})
        # The learner writes into its own directory: its exports never reach this policy node.
        start('learner', 'aloe_ros.nodes.learner', {
            'learner_config': CONFIG, 'store_root': store,
            'weights_dir': os.path.join(tmp, 'learner_weights'),
            'trigger': 'action', 'resume': False})
        procs['publisher'] = SensorPublisherProcess(counts_path, None,
                                                    os.path.join(tmp, 'publisher.log'))

        def policy_steps():
            return sum(1 for s in steps[-50:] if s[4] == ExecutedStep.SOURCE_POLICY)

        if not driver.spin_until(lambda: policy_steps() >= 25, 300):
            raise RuntimeError('the graph never produced policy steps:\n' + '\n'.join(
                f'--- {k}\n{p.output(1500)}' for k, p in procs.items()))
        if not driver.spin_until(train_cli.server_is_ready, 120):
            raise RuntimeError('learner action server not up:\n' + procs['learner'].output(3000))
        log(f'[{time.monotonic() - t_start:6.1f} s] graph up, policy steps flowing')
        wait(3.0)

        # --- idle
        t0 = time.monotonic()
        wait(sz['idle_s'])
        phases['idle'] = (t0, time.monotonic())
        load['idle'] = os.getloadavg()[0]
        cpu['idle_start'] = {k: cpu_seconds(p.pid) for k, p in procs.items()}
        log(f'[{time.monotonic() - t_start:6.1f} s] idle window done')

        # --- weight swaps
        swaps = []
        config_hash = actors[0].config_hash
        for info in actors[1:]:
            t_pub = time.monotonic()
            msg = PolicyUpdate(version=info.version, checkpoint_uri='file://' + info.path,
                               sha256=info.sha256,
                               config_hash=config_hash)
            msg.header.stamp = driver.stamp()
            update_pub.publish(msg)
            ok = driver.spin_until(lambda v=info.version: versions and versions[-1] == v, 30,
                                   episode_manager, 0.25)
            t_swapped = time.monotonic()
            wait(sz['swap_settle_s'])
            swaps.append({'version': info.version, 'swapped': bool(ok), 't0': t_pub,
                          't1': time.monotonic(),
                          'announce_to_running_s': t_swapped - t_pub})
        log(f'[{time.monotonic() - t_start:6.1f} s] {len(swaps)} swaps done')

        # --- learner trains on the same machine
        goal = TrainIteration.Goal(critic_steps=10_000_000, actor_steps=10_000_000)
        driver.spin_until(lambda: episodes['ended'] >= 1, 60, episode_manager, 0.25)
        goal_future = train_cli.send_goal_async(
            goal, feedback_callback=lambda fb: feedback.append(
                (time.monotonic(), fb.feedback.phase, int(fb.feedback.step))))
        driver.spin_until(goal_future.done, 30, episode_manager, 0.25)
        if not driver.spin_until(lambda: any(f[2] > 0 for f in feedback), 180, episode_manager,
                                 0.25):
            raise RuntimeError('the learner never reported training progress:\n'
                               + procs['learner'].output(3000))
        t0 = time.monotonic()
        fb0 = feedback[-1]
        wait(sz['train_s'])
        phases['train'] = (t0, time.monotonic())
        load['train'] = os.getloadavg()[0]
        cpu['train_end'] = {k: cpu_seconds(p.pid) for k, p in procs.items()}
        fb1 = feedback[-1]
        log(f'[{time.monotonic() - t_start:6.1f} s] train window done ({fb1[1]} step {fb1[2]})')
        if episodes['open']:
            driver.call(end_cli, EndEpisode.Request(outcome=EndEpisode.Request.OUTCOME_SUCCESS),
                        10)
            episodes['ended'] += 1
            episodes['open'] = False
        driver.spin_for(1.0)
        # Stop the sensors first; the observation node's next diagnostics carry the final counters.
        alive.update({k: p.alive() for k, p in procs.items()})
        procs['publisher'].stop()
        t_pub_stop = time.monotonic()
        driver.spin_until(lambda: sum(1 for t, m in diags if t > t_pub_stop + 0.2
                                      and _diag_values(m, '/observation')) >= 2, 10)
    finally:
        if not alive:  # (snapshot taken before the publisher stops, else here)
            alive.update({k: p.alive() for k, p in procs.items()})
        for name in ('learner', 'publisher', 'policy', 'chunk_executor', 'observation',
                     'recorder'):
            if name in procs:
                procs[name].stop(timeout=10.0)
        driver.close()

    # ------------------------------------------------------------------ analysis
    recv = np.array([s[0] for s in steps])
    stamps = np.array([s[1] for s in steps])

    def window_stats(t0, t1):
        m = (recv >= t0) & (recv < t1)
        return {'recv': period_stats(recv[m]), 'stamp': period_stats(np.sort(stamps[m])),
                'seconds': t1 - t0}

    def diag_series(name, key, t0, t1):
        out = []
        for t, msg in diags:
            v = _diag_values(msg, name)
            if v is not None and t0 <= t < t1 and _num(v, key) is not None:
                out.append(_num(v, key))
        return out

    def diag_last_before(name, key, t):
        val = None
        for tt, msg in diags:
            v = _diag_values(msg, name)
            if v is not None and tt <= t and _num(v, key) is not None:
                val = _num(v, key)
        return val

    def executor_diag(t0, t1):
        before, after = diag_last_before('/chunk_executor', 'missed_ticks', t0), \
            diag_last_before('/chunk_executor', 'missed_ticks', t1)
        p99 = diag_series('/chunk_executor', 'period_error_p99_ms', t0, t1)
        gc_pause = diag_series('/chunk_executor', 'gc_pause_max_ms', t0, t1)
        gc0, gc1 = diag_last_before('/chunk_executor', 'gc_full_collections', t0), \
            diag_last_before('/chunk_executor', 'gc_full_collections', t1)
        return {'missed_ticks': int(after - before) if before is not None and after is not None
                else None,
                'gc_pause_max_ms': max(gc_pause) if gc_pause else None,
                'gc_full_collections': int(gc1 - gc0) if gc0 is not None and gc1 is not None
                else None,
                'period_error_p99_ms_max': max(p99) if p99 else None,
                'period_error_p99_ms_median': float(np.median(p99)) if p99 else None}

    control = {}
    for name, (t0, t1) in phases.items():
        control[name] = window_stats(t0, t1)
        control[name]['executor_diagnostics'] = executor_diag(t0, t1)
    swap_windows = [window_stats(s['t0'], s['t1']) for s in swaps]
    swap_len = float(np.mean([w['seconds'] for w in swap_windows])) if swap_windows else 0.0
    # Idle reference: consecutive idle windows of the same length as a swap window.
    idle_t0, idle_t1 = phases['idle']
    idle_windows = []
    t = idle_t0
    while swap_len > 0 and t + swap_len <= idle_t1 and len(idle_windows) < max(len(swaps), 1):
        idle_windows.append(window_stats(t, t + swap_len))
        t += swap_len

    def agg(windows, src):
        return {'windows': len(windows),
                'missed_ticks_total': int(sum(w[src]['missed_ticks'] for w in windows)),
                'missed_ticks_per_window_max': int(max((w[src]['missed_ticks'] for w in windows),
                                                       default=0)),
                'p99_ms_max': float(max((w[src]['p99_ms'] for w in windows),
                                        default=float('nan'))),
                'max_ms': float(max((w[src]['max_ms'] for w in windows), default=float('nan')))}

    swap_res = {
        'swaps': [{k: v for k, v in s.items() if k not in ('t0', 't1')} for s in swaps],
        'window_s': swap_len,
        'in_swap_windows': {src: agg(swap_windows, src) for src in ('recv', 'stamp')},
        'idle_windows_equal_length': {src: agg(idle_windows, src) for src in ('recv', 'stamp')},
        'executor_diagnostics_missed_ticks': sum(
            (executor_diag(s['t0'], s['t1'])['missed_ticks'] or 0) for s in swaps),
    }

    # observation-to-command latency over the whole run (after warm-up) and per phase
    first_use = {}
    for r, st, cid, idx, src in steps:
        if src == ExecutedStep.SOURCE_POLICY and cid in chunks and cid not in first_use:
            first_use[cid] = (r, st, idx)
    lat = {'all': [], 'idle': [], 'train': [], 'swap': []}
    infer_age, to_tick = [], []
    for cid, (r, st, idx) in first_use.items():
        obs_stamp, chunk_recv_wall, _v = chunks[cid]
        value = st - obs_stamp
        lat['all'].append(value)
        infer_age.append(chunk_recv_wall - obs_stamp)
        to_tick.append(st - chunk_recv_wall)
        for name, (t0, t1) in phases.items():
            if t0 <= r < t1:
                lat[name].append(value)
        if any(s['t0'] <= r < s['t1'] for s in swaps):
            lat['swap'].append(value)
    latency = {k: dist(v, 1e3) for k, v in lat.items()}
    first_index = [first_use[c][2] for c in first_use]
    chunks_unused = sum(1 for c in chunks if c not in first_use)

    run_t0, run_t1 = phases['idle'][0], phases['train'][1]
    latency_breakdown = {
        'observation_input_age_ms': dist(diag_series('/observation', 'input_age', run_t0, run_t1),
                                         1e3),
        'observation_stamp_to_chunk_received_ms': dist(infer_age, 1e3),
        'chunk_received_to_first_tick_ms': dist(to_tick, 1e3),
    }
    # The chain from the observation's stamp (its newest input), idle phase, 1 Hz diagnostics.
    idle_t0, idle_t1 = phases['idle']
    chain = (('stamp_to_observation_published_ms', '/observation', 'publish_age_ms'),
             ('stamp_to_observation_at_policy_ms', '/policy', 'observation_age_ms'),
             ('stamp_to_chunk_published_ms', '/policy', 'chunk_age_ms'))
    for key, node, name in chain:
        latency_breakdown[key] = dist(diag_series(node, name, idle_t0, idle_t1))
    inference = {name: dist(diag_series('/policy', 'inference_ms', t0, t1))
                 for name, (t0, t1) in phases.items()}
    inference['observation_stamp_to_chunk_received_ms'] = dist(infer_age, 1e3)

    # ingestion
    with open(counts_path) as f:
        pub_counts = json.load(f)
    obs_final = None
    for _, msg in diags:
        v = _diag_values(msg, '/observation')
        if v is not None:
            obs_final = v
    ingestion = {'publisher': pub_counts, 'cameras': {}, 'joint_states': {}}
    for cam in CAMERAS + ['left', 'right']:
        sent = pub_counts['published'][cam]
        got = int(_num(obs_final, f'received_{cam}') or 0)
        entry = {'published': sent, 'received': got, 'dropped': sent - got,
                 'drop_fraction': (sent - got) / sent if sent else float('nan'),
                 'published_hz': sent / pub_counts['seconds']}
        (ingestion['cameras'] if cam in CAMERAS else ingestion['joint_states'])[cam] = entry
    # Delivery while the learner trains: received_<camera> counter deltas over the window against
    # the publisher's mean rate (its own counts are totals only).
    t0, t1 = phases['train']
    ingestion['train_window'] = {}
    for cam in CAMERAS:
        first = next(((t, _num(_diag_values(m, '/observation'), f'received_{cam}')) for t,
                      m in diags
                      if t >= t0 and _diag_values(m, '/observation') is not None), None)
        last = next(((t, _num(_diag_values(m, '/observation'), f'received_{cam}')) for t,
                     m in reversed(diags)
                     if t <= t1 and _diag_values(m, '/observation') is not None), None)
        rate = ingestion['cameras'][cam]['published_hz']
        if first and last and last[0] > first[0] and rate > 0 and None not in (first[1], last[1]):
            got = last[1] - first[1]
            expected = rate * (last[0] - first[0])
            ingestion['train_window'][cam] = {'received': got, 'expected': expected,
                                              'fraction': min(got / expected, 1.0)}
    ingestion['rejected'] = int(_num(obs_final, 'rejected') or 0)
    ingestion['frames_dropped_total'] = int(sum(c['dropped']
                                                for c in ingestion['cameras'].values()))
    ingestion['observation_rate_hz'] = {
        name: dist(diag_series('/observation', 'published_rate', t0, t1))
        for name, (t0, t1) in phases.items()}

    # recorder
    sizes = [int(s.size_bytes) for s in summaries]
    durations = [float(s.duration) for s in summaries]
    recorder = {
        'episodes': len(summaries), 'episode_seconds_target': sz['episode_s'], 'calls': episodes,
        'bytes_per_episode': dist(sizes),
        'steps_per_episode': dist([int(s.num_steps) for s in summaries]),
        'mb_per_s': (sum(sizes) / sum(durations) / 1e6) if durations and sum(durations) > 0
        else float('nan'),
        'mb_per_s_diag_bytes_written_rate': dist(
            diag_series('/aloe_recorder', 'bytes_written_rate', phases['idle'][0],
                        phases['train'][1]), 1e-6),
    }

    learner = {'steps_in_train_window': fb1[2] - fb0[2] if fb1[1] == fb0[1] else None,
               'phase_at_start': fb0[1], 'phase_at_end': fb1[1],
               'steps_per_s': ((fb1[2] - fb0[2]) / (phases['train'][1] - phases['train'][0])
                               if fb1[1] == fb0[1] else None)}

    idle_c, train_c = control['idle'], control['train']
    result = {
        'size': size, 'sizes': sz, 'rate_hz': 1.0 / DT, 'clock': 'wall (no use_sim_time)',
        'control_loop': control,
        'ratios_train_over_idle': {
            src: {k: _ratio(train_c[src][k], idle_c[src][k])
                  for k in ('p50_ms', 'p99_ms', 'max_ms')}
            for src in ('recv', 'stamp')},
        'weight_swaps': swap_res,
        'obs_to_command_latency_ms': latency,
        'obs_to_command_first_index_in_chunk': dist(first_index),
        'obs_to_command_breakdown': latency_breakdown,
        'chunks_received': len(chunks), 'chunks_never_executed': chunks_unused,
        'policy_inference_ms': inference,
        'ingestion': ingestion, 'recorder': recorder, 'learner': learner,
        'processes_alive_at_end': alive, 'pids': {k: p.pid for k, p in procs.items()},
        'loadavg_1min_end_of_phase': load, 'cpus': os.cpu_count(),
        'process_cpu_fraction_idle_to_train_end': {
            k: (cpu['train_end'][k] - cpu['idle_start'][k])
            / (phases['train'][1] - phases['idle'][0])
            for k in cpu.get('train_end', {}) if cpu['train_end'][k] is not None
            and cpu['idle_start'].get(k) is not None},
        'wall_s': time.monotonic() - t_start, 'workdir': tmp,
        'pinned': cpus, 'rt_priority': rt_priority,
        'dds_profile': os.environ.get('FASTRTPS_DEFAULT_PROFILES_FILE', ''),
    }
    result['targets'] = targets(result)
    return result


def _entry(name, value, target=None, **extra):
    op, default_target, needs_pin = TARGETS[name]
    target = default_target if target is None else target
    ok = None
    if value is not None and target is not None and math.isfinite(value):
        ok = bool(value >= target) if op == '>=' else bool(value <= target)
    entry = {'value': value, 'target': target, 'met': ok, 'comparison': op}
    entry.update(extra)
    return entry


def latency_budget(r):
    """Return the parts of the observation-to-command latency (p50 / p99 ms) and the largest."""
    b = r['obs_to_command_breakdown']
    inference = r['policy_inference_ms'].get('idle', {})
    parts = {
        'input_age (sensor stamp -> observation published)': b['observation_input_age_ms'],
        'stamp -> observation published (newest input)': b['stamp_to_observation_published_ms'],
        'stamp -> observation at the policy': b['stamp_to_observation_at_policy_ms'],
        'stamp -> chunk published': b['stamp_to_chunk_published_ms'],
        'observation -> chunk received (planning wait + inference + DDS)':
            b['observation_stamp_to_chunk_received_ms'],
        'inference (policy inference_ms)': inference,
        'tick wait (chunk received -> first executing tick)': b['chunk_received_to_first_tick_ms'],
    }
    parts = {k: {'p50': v.get('p50'), 'p99': v.get('p99')} for k, v in parts.items()}

    def p99(k):
        v = parts[k]['p99']
        return v if v is not None and math.isfinite(v) else -1.0
    largest = max((k for k in parts if not k.startswith(('inference', 'stamp ->'))), key=p99)
    return {'parts_ms': parts, 'largest_p99': largest}


def targets(r):
    """
    Return the issue-16 targets of results ``r``: {name: {value, target, met, ...}}.

    Targets that apply to ``--pin`` runs are evaluated only there (``met`` null otherwise, with the
    value measured in this run). Period error and missed ticks use the executor's own tick stamps
    (``stamp``); the receive-side figures (``recv``, with DDS delivery jitter) are given alongside.
    """
    pinned = bool(r.get('pinned'))
    c = r['control_loop']
    lat = r['obs_to_command_latency_ms']
    cams = r['ingestion'].get('train_window', {})
    fractions = {k: v['fraction'] for k, v in cams.items()}
    sw = r['weight_swaps']
    out = {
        'camera_delivery_min_fraction_train': _entry(
            'camera_delivery_min_fraction_train', min(fractions.values()) if fractions else None,
            per_camera=fractions,
            whole_run={k: 1 - v['drop_fraction'] for k, v in r['ingestion']['cameras'].items()}),
        'obs_to_command_p99_ms_idle': _entry('obs_to_command_p99_ms_idle', lat['idle']['p99'],
                                             budget=latency_budget(r)),
        'obs_to_command_p99_ratio_train_over_idle': _entry(
            'obs_to_command_p99_ratio_train_over_idle',
            _ratio(lat['train']['p99'], lat['idle']['p99']),
            train_p99_ms=lat['train']['p99']),
        'period_error_p99_ms_train_pinned': _entry(
            'period_error_p99_ms_train_pinned', c['train']['stamp']['p99_ms'],
            recv_p99_ms=c['train']['recv']['p99_ms'], idle_p99_ms=c['idle']['stamp']['p99_ms']),
        'period_error_p99_ratio_train_over_idle_pinned': _entry(
            'period_error_p99_ratio_train_over_idle_pinned',
            r['ratios_train_over_idle']['stamp']['p99_ms'],
            recv=r['ratios_train_over_idle']['recv']['p99_ms']),
        'swap_missed_ticks_not_above_idle': _entry(
            'swap_missed_ticks_not_above_idle',
            sw['in_swap_windows']['stamp']['missed_ticks_total'],
            target=sw['idle_windows_equal_length']['stamp']['missed_ticks_total'],
            windows=[sw['in_swap_windows']['stamp']['windows'],
                     sw['idle_windows_equal_length']['stamp']['windows']],
            recv=[sw['in_swap_windows']['recv']['missed_ticks_total'],
                  sw['idle_windows_equal_length']['recv']['missed_ticks_total']]),
        'swap_missed_ticks_pinned': _entry(
            'swap_missed_ticks_pinned', sw['in_swap_windows']['stamp']['missed_ticks_total'],
            recv=sw['in_swap_windows']['recv']['missed_ticks_total']),
    }
    for name, entry in out.items():
        entry['needs_pin'] = TARGETS[name][2]
        entry['run'] = 'pinned' if pinned else 'not pinned'
        if TARGETS[name][2] and not pinned:
            entry['met'] = None
    return out


def merge_pinned_targets(result, out_dir):
    """Fill an unpinned result's ``--pin`` targets from ``out_dir``/bench_system_pin.json."""
    path = os.path.join(out_dir, 'bench_system_pin.json')
    if result.get('pinned') or not os.path.isfile(path):
        return
    with open(path) as f:
        pin = json.load(f)
    if pin.get('size') != result['size']:
        return
    for name, entry in pin.get('targets', {}).items():
        if TARGETS.get(name, (None, None, False))[2]:
            result['targets'][name] = dict(entry,
                                           source=f"bench_system_pin.json ({pin.get('finished')})")


def print_report(r):
    """Print the figures of a results dict."""
    print(f"== bench_system ({r['size']}), {r['wall_s']:.0f} s ==")
    for name, c in r['control_loop'].items():
        for src in ('recv', 'stamp'):
            s = c[src]
            print(f"control {name:5s} {src:5s}: ticks {s['ticks']:6d} period err p50 "
                  f"{s['p50_ms']:.3f} "
                  f"p99 {s['p99_ms']:.3f} max {s['max_ms']:.2f} ms, missed {s['missed_ticks']}")
        e = c['executor_diagnostics']
        print(f"control {name:5s} executor diag: missed {e['missed_ticks']}, "
              f"p99 (last 500 ticks) max {e['period_error_p99_ms_max']} ms, longest GC pause "
              f"{e['gc_pause_max_ms']} ms, full collections {e['gc_full_collections']}")
    print('ratios train/idle:', json.dumps(r['ratios_train_over_idle']))
    w = r['weight_swaps']
    print(f"swaps: {len(w['swaps'])} windows of {w['window_s']:.2f} s; missed ticks in swap "
          "windows "
          f"recv {w['in_swap_windows']['recv']['missed_ticks_total']} stamp "
          f"{w['in_swap_windows']['stamp']['missed_ticks_total']} (idle equal windows recv "
          f"{w['idle_windows_equal_length']['recv']['missed_ticks_total']} stamp "
          f"{w['idle_windows_equal_length']['stamp']['missed_ticks_total']}); executor diag "
          f"{w['executor_diagnostics_missed_ticks']}")
    for k, d in r['obs_to_command_latency_ms'].items():
        print(f"obs->command latency {k:5s}: n {d['n']} p50 {d['p50']:.1f} p99 {d['p99']:.1f} "
              f"max {d['max']:.1f} ms")
    for k, d in r['obs_to_command_breakdown'].items():
        print(f"  part {k}: p50 {d['p50']:.1f} p99 {d['p99']:.1f} max {d['max']:.1f}")
    for k, d in r['policy_inference_ms'].items():
        print(f"inference {k}: n {d['n']} p50 {d['p50']:.1f} p99 {d['p99']:.1f} max "
              f"{d['max']:.1f} ms")
    ing = r['ingestion']
    for cam, c in ing['cameras'].items():
        print(f"camera {cam}: published {c['published']} ({c['published_hz']:.1f} Hz) "
              f"received {c['received']} "
              f"dropped {c['dropped']}")
    print('observation rate Hz: ' + ', '.join(f"{k} p50 {d['p50']:.1f}"
                                              for k, d in ing['observation_rate_hz'].items()))
    rec = r['recorder']
    print(f"recorder: {rec['episodes']} episodes, {rec['bytes_per_episode']['mean']:.0f} "
          "B/episode mean, "
          f"{rec['mb_per_s']:.3f} MB/s")
    print(f"learner: {r['learner']}")
    print(f"load average (1 min) {r['loadavg_1min_end_of_phase']} on {r['cpus']} cpus; process "
          "CPU "
          + json.dumps({k: round(v, 2) for k,
                        v in r['process_cpu_fraction_idle_to_train_end'].items()}))
    print(f"run: {'pinned ' + json.dumps(r['pinned']) if r.get('pinned') else 'not pinned'}, DDS "
          "profile "
          f"{r.get('dds_profile') or '(built-in transports)'}")
    for name, t in r['targets'].items():
        state = {True: 'MET', False: 'NOT met', None: 'n/a here'}[t['met']]
        print(f"target {name}: {t['value']} {t['comparison']} {t['target']}: {state} ({t['run']})")
    budget = r['targets']['obs_to_command_p99_ms_idle'].get('budget')
    if budget:
        print('latency budget (p50 / p99 ms): ' + '; '.join(
            f"{k} {v['p50']:.1f} / {v['p99']:.1f}" for k, v in budget['parts_ms'].items()
            if v['p50'] is not None) + f"; largest p99: {budget['largest_p99']}")


def main(argv=None):
    """Parse arguments; run the bench (or the sensor publisher role); write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='about 2-3 minutes')
    parser.add_argument('--pin', action='store_true',
                        help='executor process on the last CPU, everything else on the others')
    parser.add_argument('--rt-priority', type=int, default=0, metavar='N',
                        help='SCHED_FIFO priority of the executor\'s control thread (0: normal)')
    parser.add_argument('--out', default=os.path.join(ROOT, 'results'), help='results directory')
    parser.add_argument('--publisher', metavar='COUNTS_JSON', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.publisher:
        return publisher_main(args.publisher)
    import _common as C
    result = run('quick' if args.quick else 'default', args.out, pin=args.pin,
                 rt_priority=args.rt_priority)
    merge_pinned_targets(result, args.out)
    path = C.write_results('system_pin' if args.pin else 'system', result, args.out)
    print_report(result)
    print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

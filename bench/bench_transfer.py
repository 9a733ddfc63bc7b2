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
Transfer rates over ROS 2: episodes from a recorder to a learner, weights to a policy node.

Usage: ``python bench/bench_transfer.py [--quick] [--out docs/results]``; needs the workspace
sourced (``. scripts/env.sh``, which also selects the project's Fast DDS profile). Writes
``<out>/bench_transfer.json`` and prints the figures.

Episodes: a station store is filled with episodes of three 240x320 rgb8 cameras of uniform noise
(incompressible: the bytes on the wire equal the bytes recorded) and both arms' state at 50 Hz;
a real ``aloe_recorder`` process serves it, and this process pulls every episode into a second
store with the learner's own code (``RemoteStation`` + ``EpisodePuller``: catalog, chunks,
sha256 per chunk and per file, import into the store), once per chunk size. Figures: seconds and
MB/s per episode. The JSON records the load average at start and end (the host may be shared).

Weights: an actor of ``config/learner/sim_train_camera.yaml``'s model (untrained, same size) is
served by this file started with ``--serve-weights`` (the learner's ReadChunk server code) and
announced to a real ``policy`` node with an empty weights_dir; the figure is the time from the
PolicyUpdate to the policy reporting the new version (fetch, sha256, config hash, load, swap).

All processes share one host, so DDS moves the bytes through shared memory (the project's
profile); between machines the network link bounds the rate instead.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'reliability'))
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(201, 230)))
os.environ.setdefault('PYTHONUNBUFFERED', '1')

import numpy as np  # noqa: E402

SIZES = {'quick': {'episodes': 2, 'steps': 100, 'chunks': [1 << 20, 4 << 20], 'pushes': 2},
         'default': {'episodes': 4, 'steps': 250, 'chunks': [256 << 10, 1 << 20, 4 << 20],
                     'pushes': 3}}
CAMERAS = ('cam_high', 'cam_left_wrist', 'cam_right_wrist')
WEIGHTS_CONFIG = os.path.join(ROOT, 'config', 'learner', 'sim_train_camera.yaml')


def make_episode(episode_id, steps, seed):
    """Return an Episode with three 240x320 noise cameras (the recorder's raw frames)."""
    from reliability_harness import noise_camera_episode
    return noise_camera_episode(episode_id, steps, seed, cameras=CAMERAS, size=(240, 320))


class Spinner:
    """An rclpy node spun by a multi-threaded executor on a background thread."""

    def __init__(self, name):
        import rclpy
        from rclpy.executors import MultiThreadedExecutor
        rclpy.init()
        self.node = rclpy.create_node(name)
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def close(self):
        import rclpy
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def start(args, log_path):
    """Start a node process with its output in ``log_path``."""
    return subprocess.Popen(args, stdout=open(log_path, 'w'), stderr=subprocess.STDOUT,
                            env=dict(os.environ))


def stop(proc):
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_episodes(spin, tmp, size):
    """Pull every episode of a served station store once per chunk size; return the rows."""
    from aloe_ros.nodes.transfer import RemoteStation
    from aloe_ros.storage import EpisodeStore
    from aloe_ros.transfer.episodes import EpisodePuller
    station_root = os.path.join(tmp, 'station')
    station = EpisodeStore(station_root, mode='w')
    for k in range(size['episodes']):
        station.add_episode(make_episode(f'bench-{k}', size['steps'], k))
    sizes = {r.episode_id: r.size_bytes for r in station.records()}
    station.close()
    recorder = start([sys.executable, '-m', 'aloe_ros.nodes.recorder', '--ros-args',
                      '-p', f'storage_root:={station_root}',
                      '-p', f'max_chunk_bytes:={max(size["chunks"])}'],
                     os.path.join(tmp, 'recorder.log'))
    rows = []
    try:
        remote = RemoteStation(spin.node, '/aloe/recorder', timeout=60.0)
        for chunk in size['chunks']:
            dest_root = os.path.join(tmp, f'learner_{chunk}')
            store = EpisodeStore(dest_root, mode='w')
            puller = EpisodePuller(store, lambda _s: remote.list_episodes(),
                                   lambda _s, item, o, n: remote.files.read(item, o, n),
                                   chunk_bytes=chunk)
            pulled = puller.pull('/aloe/recorder')
            if len(pulled) != len(sizes):
                raise RuntimeError(f'pulled {len(pulled)} of {len(sizes)} episodes: '
                                   f'{puller.unreachable} (see {tmp}/recorder.log)')
            for r in pulled:
                assert store.catalog.get(r.episode_id).sha256 == \
                    remote_sha(station_root, r.episode_id)
                rows.append({'chunk_bytes': chunk, 'episode_id': r.episode_id,
                             'episode_mb': sizes[r.episode_id] / 1e6,
                             'seconds': r.seconds, 'mb_per_s': r.mb_per_s})
            store.close()
            shutil.rmtree(dest_root)
    finally:
        stop(recorder)
    return rows


def remote_sha(root, episode_id):
    from aloe_ros.storage import EpisodeStore
    store = EpisodeStore(root, mode='r')
    try:
        return store.catalog.get(episode_id).sha256
    finally:
        store.close()


def serve_weights(directory):
    """``--serve-weights DIR``: serve DIR's actors as the learner does, until terminated."""
    import rclpy
    from aloe_ros.nodes.transfer import WEIGHTS_SERVICE, serve_file_chunks
    from aloe_ros.transfer.chunks import directory_server
    rclpy.init()
    node = rclpy.create_node('bench_weights_server')
    serve_file_chunks(node, WEIGHTS_SERVICE, directory_server(directory, '.safetensors',
                                                              4 << 20, prefix='policy_v'))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, Exception):
        pass


def bench_weights(spin, tmp, size):
    """Announce ``pushes`` actor versions to a policy node; return one row per push."""
    from aloe_msgs.msg import PolicyUpdate
    from std_msgs.msg import UInt32
    from aloe_ros.learning.checkpoint import write_actor
    from aloe_ros.learning.config import load_config
    from aloe_ros.learning.models import FlowMatchingPolicy
    from aloe_ros.nodes.common import latched
    cfg = load_config(WEIGHTS_CONFIG)
    learner_dir = os.path.join(tmp, 'learner_weights')
    os.makedirs(learner_dir)
    infos = []
    for v in range(1, size['pushes'] + 1):
        policy = FlowMatchingPolicy(cfg.model)
        infos.append(write_actor(learner_dir, policy.state_dict(), cfg.to_dict(),
                                 cfg.config_hash(), v))
    server = start([sys.executable, __file__, '--serve-weights', learner_dir],
                   os.path.join(tmp, 'weights_server.log'))
    policy = start([sys.executable, '-m', 'aloe_ros.nodes.policy', '--ros-args',
                    '-p', f'learner_config:={WEIGHTS_CONFIG}',
                    '-p', f'weights_dir:={os.path.join(tmp, "policy_weights")}',
                    '-p', 'weights_chunk_bytes:=4194304', '-p', 'weights_fetch_timeout:=60.0'],
                   os.path.join(tmp, 'policy.log'))
    versions = []
    spin.node.create_subscription(UInt32, '/aloe/policy/version',
                                  lambda m: versions.append(m.data), latched(1))
    pub = spin.node.create_publisher(PolicyUpdate, '/aloe/policy_update', latched(1))
    rows = []
    try:
        deadline = time.monotonic() + 120
        while not versions and time.monotonic() < deadline:
            time.sleep(0.05)
        for info in infos:
            t0 = time.monotonic()
            pub.publish(PolicyUpdate(version=info.version,
                                     checkpoint_uri='file://' + info.path, sha256=info.sha256,
                                     config_hash=info.config_hash))
            deadline = t0 + 300
            while (not versions or versions[-1] < info.version) and time.monotonic() < deadline:
                time.sleep(0.01)
            if not versions or versions[-1] < info.version:
                raise RuntimeError(f'policy did not run v{info.version} (see {tmp}/policy.log)')
            rows.append({'version': info.version, 'mb': os.path.getsize(info.path) / 1e6,
                         'seconds_to_running': time.monotonic() - t0})
        log = open(os.path.join(tmp, 'policy.log')).read()
        fetched = [float(line.split(' in ')[1].split(' s')[0])
                   for line in log.splitlines() if 'fetched policy_v' in line]
        for row, seconds in zip(rows, fetched):
            row['fetch_seconds'] = seconds
            row['fetch_mb_per_s'] = row['mb'] / seconds if seconds > 0 else 0.0
    finally:
        stop(policy)
        stop(server)
    return rows


def load_average():
    """Return the 1, 5 and 15-minute load averages (the host's other work skews the rates)."""
    return [round(x, 2) for x in os.getloadavg()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='2 short episodes, 2 pushes')
    parser.add_argument('--out', default=os.path.join(ROOT, 'docs', 'results'))
    parser.add_argument('--serve-weights', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_weights:
        serve_weights(args.serve_weights)
        return 0
    size = SIZES['quick' if args.quick else 'default']
    load_start = load_average()
    t_start = time.time()
    tmp = tempfile.mkdtemp(prefix='aloe_bench_transfer_')
    spin = Spinner('bench_transfer')
    try:
        episodes = bench_episodes(spin, tmp, size)
        weights = bench_weights(spin, tmp, size)
    finally:
        spin.close()
    by_chunk = {}
    for row in episodes:
        by_chunk.setdefault(row['chunk_bytes'], []).append(row)
    summary = {str(chunk): {'episodes': len(rows),
                            'episode_mb': float(np.mean([r['episode_mb'] for r in rows])),
                            'seconds_per_episode': float(np.mean([r['seconds'] for r in rows])),
                            'mb_per_s': float(np.mean([r['mb_per_s'] for r in rows])),
                            # all bytes over all seconds: not lifted by one fast episode
                            'mb_per_s_overall': float(sum(r['episode_mb'] for r in rows)
                                                      / sum(r['seconds'] for r in rows)),
                            'seconds_min_max': [float(min(r['seconds'] for r in rows)),
                                                float(max(r['seconds'] for r in rows))]}
               for chunk, rows in by_chunk.items()}
    result = {'bench': 'bench_transfer', 'size': 'quick' if args.quick else 'default',
              'host': os.uname().nodename, 'cpus': os.cpu_count(),
              'started_at': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t_start)),
              'wall_seconds': time.time() - t_start,
              # the host is shared: the figures are only comparable at a similar load
              'loadavg_start': load_start, 'loadavg_end': load_average(),
              'episodes': {'per_chunk_size': summary, 'rows': episodes},
              'weights': {'rows': weights,
                          'mean_seconds_to_running': float(np.mean(
                              [r['seconds_to_running'] for r in weights])),
                          'mean_fetch_seconds': float(np.mean(
                              [r.get('fetch_seconds', 0.0) for r in weights]))}}
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, 'bench_transfer.json')
    with open(path, 'w') as f:
        json.dump(result, f, indent=2)
    print('episodes (recorder -> learner store, sha256-verified):')
    for chunk, s in summary.items():
        print(f'  chunk {int(chunk) >> 10:5d} KiB: {s["episode_mb"]:.1f} MB/episode, '
              f'{s["seconds_per_episode"]:.2f} s/episode, {s["mb_per_s"]:.1f} MB/s '
              f'(mean of episodes; {s["mb_per_s_overall"]:.1f} MB/s overall)')
    print('weights (PolicyUpdate -> policy running it):')
    for row in weights:
        print(f'  v{row["version"]}: {row["mb"]:.2f} MB, fetched in '
              f'{row.get("fetch_seconds", float("nan")):.2f} s, running after '
              f'{row["seconds_to_running"]:.2f} s')
    print(f'load average at start {load_start}, at end {result["loadavg_end"]}')
    print(f'wrote {path}')
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

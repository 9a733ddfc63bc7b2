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
Benchmark of the ALOE learning core on CPU: updates/s, actor latency, replay memory.

Usage: ``python bench/bench_core.py [--quick] [--threads N] [--config PATH]``.
Prints a summary and writes ``results/bench_core.json``. Uses the default model
(config/learner/aloe_default.yaml: 3 cameras 64x64, H=50, D=14) on synthetic episodes.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'src'))

from aloe_ros.learning.config import load_config  # noqa: E402
from aloe_ros.learning.episode import SOURCE_HUMAN, Episode, InMemoryEpisodeSource  # noqa: E402
from aloe_ros.learning.replay import ReplayBuffer  # noqa: E402
from aloe_ros.learning.runtime import load_actor  # noqa: E402
from aloe_ros.learning.trainer import AloeTrainer  # noqa: E402


def synthetic_episode(cfg, episode_id, steps, seed):
    """Return a random episode at the model's shapes with a human segment in the middle."""
    m = cfg.model
    rng = np.random.default_rng(seed)
    sources = np.zeros(steps, np.uint8)
    sources[steps // 3: steps // 2] = SOURCE_HUMAN
    rewards = np.zeros(steps, np.float32)
    rewards[-1] = 1.0
    return Episode(
        episode_id=episode_id, task='bench', instruction='hand the cube over',
        images={c: rng.integers(0, 256, (steps, m.image_size[0], m.image_size[1], 3),
                                dtype=np.uint8)
                for c in m.cameras},
        proprio=rng.normal(size=(steps, m.proprio_dim)).astype(np.float32),
        actions=rng.normal(size=(steps, m.action_dim)).astype(np.float32), sources=sources,
        policy_versions=np.zeros(steps, np.uint32), interventions=sources == SOURCE_HUMAN,
        rewards=rewards, terminated=True,
        extra={'state': rng.normal(size=(steps, m.extra_state_dim)).astype(np.float32)}
        if m.extra_state_dim else {})


def timed(fn, n):
    """Run fn n times; return per-call seconds."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return np.array(out)


def main(argv=None):
    """Run the benchmark and write results/bench_core.json."""
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='fewer repetitions (~1 minute)')
    ap.add_argument('--threads', type=int, default=1,
                    help='torch CPU threads for learner updates (default 1)')
    ap.add_argument('--infer-threads', type=int, default=1,
                    help='torch CPU threads for batch-1 inference (default 1: oversubscribed '
                    'OpenMP threads '
                         'cost 10x latency on a shared machine)')
    ap.add_argument('--config',
                    default=os.path.join(ROOT, 'config', 'learner', 'aloe_default.yaml'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'results', 'bench_core.json'))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    n_updates, n_act = (3, 50) if args.quick else (10, 300)

    episodes = [synthetic_episode(cfg, f'e{i}', 300, i) for i in range(4)]
    source = InMemoryEpisodeSource(episodes)
    trainer = AloeTrainer(cfg, source)
    trainer.refresh()
    trainer.train(1, 1)  # warm-up
    critic_s = timed(lambda: trainer.train(1, 0), n_updates)
    actor_s = timed(lambda: trainer.train(0, 1), n_updates)
    pair_s = critic_s.mean() + actor_s.mean()

    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        info = trainer.export(tmp)
        actor = load_actor(info.path, info.sha256, info.config_hash)
    ep = episodes[0]
    obs = {'images': {c: ep.images[c][0] for c in cfg.model.cameras}, 'proprio': ep.proprio[0],
           'instruction': ep.instruction}
    if cfg.model.extra_state_dim:
        obs['state'] = ep.extra['state'][0]
    torch.set_num_threads(args.infer_threads)
    for _ in range(10):
        actor.act(obs)
    lat = timed(lambda: actor.act(obs), n_act) * 1e3

    per_stride = {}
    for stride in sorted({1, cfg.data.h_exec}):
        cfg.data.chunk_stride = stride
        rb = ReplayBuffer(cfg, source, trainer.policy.encode_instructions)
        rb.refresh()
        per_stride[f'h_exec_{stride}'] = {
            'transitions': len(rb), 'steps': rb.num_steps,
            'mb_per_10k_transitions': rb.nbytes() / len(rb) * 1e4 / 2 ** 20,
            'mb_per_10k_steps': rb.nbytes() / rb.num_steps * 1e4 / 2 ** 20}

    res = {
        'device': 'cpu', 'torch_threads': args.threads, 'infer_threads': args.infer_threads,
        'load_average_1min': os.getloadavg()[0], 'cpu_count': os.cpu_count(),
        'torch': torch.__version__,
        'machine': platform.processor() or platform.machine(), 'quick': args.quick,
        'config': os.path.relpath(args.config, ROOT), 'method': cfg.method,
        'batch_size': cfg.data.batch_size,
        'actor_params': sum(p.numel() for p in trainer.policy.parameters()),
        'critic_params': sum(p.numel() for p in trainer.critic.parameters()),
        'critic_updates_per_s': float(1.0 / critic_s.mean()),
        'actor_updates_per_s': float(1.0 / actor_s.mean()),
        'learner_iterations_per_s': float(1.0 / pair_s),
        'actor_latency_ms': {'p50': float(np.percentile(lat, 50)),
                             'p99': float(np.percentile(lat, 99)),
                             'mean': float(lat.mean()), 'n': int(n_act)},
        'replay_memory': per_stride,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w', encoding='utf-8') as f:
        json.dump(res, f, indent=2)
    print(f"learner @batch {res['batch_size']}: critic {res['critic_updates_per_s']:.2f} upd/s, "
          f"actor {res['actor_updates_per_s']:.2f} upd/s, "
          f"critic+actor {res['learner_iterations_per_s']:.2f} it/s")
    print(f"actor latency batch 1: p50 {res['actor_latency_ms']['p50']:.2f} ms, "
          f"p99 {res['actor_latency_ms']['p99']:.2f} ms")
    for k, v in per_stride.items():
        print(f"replay {k}: {v['mb_per_10k_transitions']:.1f} MiB / 10k transitions "
              f"({v['mb_per_10k_steps']:.1f} MiB / 10k steps)")
    print(f'wrote {args.out}')
    return res


if __name__ == '__main__':
    main()

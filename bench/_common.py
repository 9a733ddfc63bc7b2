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

"""Shared helpers of the sim benchmarks: config, chunked policy wrapper, data collection, stats."""

import copy
import json
import os
import platform
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

os.environ.setdefault('MUJOCO_GL', 'egl')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.join(ROOT, 'src') not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, 'src'))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from aloe_ros.learning.config import LearnerConfig, config_from_dict  # noqa: E402
from aloe_ros.learning.episode import SOURCE_HUMAN, Episode  # noqa: E402
from aloe_ros.learning.critic import select_chunk  # noqa: E402
from aloe_ros.learning.runtime import obs_to_batch  # noqa: E402
from aloe_ros.sim.env import BimanualEnv  # noqa: E402

RESULTS_DIR = os.path.join(ROOT, 'results')
BENCH_CONFIG = os.path.join(ROOT, 'config', 'learner', 'bench_small.yaml')


def setup_threads() -> None:
    """One torch thread: the benchmark machine is shared (2 cores)."""
    torch.set_num_threads(1)


def bench_config(method: str, seed: int = 0, path: Optional[str] = None,
                 **sections) -> LearnerConfig:
    """Load ``path`` (default config/learner/bench_small.yaml) with method, seed, overrides."""
    with open(path or BENCH_CONFIG, 'r', encoding='utf-8') as f:
        data = yaml.safe_load(f)
    data['method'] = method
    data['seed'] = int(seed)
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return config_from_dict(data)


def as_demo(ep: Episode) -> Episode:
    """Relabel an expert-driven episode as an operator demonstration (every step human)."""
    ep = copy.copy(ep)
    ep.sources = np.full(len(ep), SOURCE_HUMAN, dtype=np.uint8)
    ep.interventions = np.ones(len(ep), dtype=bool)
    ep.policy_versions = np.zeros(len(ep), dtype=np.uint32)
    ep.episode_id = 'demo-' + ep.episode_id
    return ep


class ChunkedPolicy:
    """
    ``obs -> action14`` over a flow-matching policy: sample a chunk, execute ``execute`` steps.

    The chunk is re-planned every ``execute`` ticks (``reset()`` forces a re-plan at the next
    call).
    """

    def __init__(self, policy, cfg: LearnerConfig, execute: int, seed: int = 0,
                 instruction: str = '', critic=None):
        self.policy = policy
        self.cfg = cfg
        # With actor.select_best_of > 1 and a (trained) critic: execute the best of the samples
        # by Q; without one (the BC start, before any critic update) the sample as drawn.
        self.critic = critic
        self.execute = int(execute)
        self.generator = torch.Generator().manual_seed(seed)
        self.instruction = instruction
        self._chunk: Optional[np.ndarray] = None
        self._k = 0
        self._cache: Dict[str, torch.Tensor] = {}

    def reset(self) -> None:
        self._chunk = None

    def seed(self, seed: int) -> None:
        self.generator.manual_seed(int(seed))

    @torch.no_grad()
    def __call__(self, obs: dict) -> np.ndarray:
        if self._chunk is None or self._k >= self.execute:
            o = dict(obs, instruction=self.instruction)
            batch = obs_to_batch(self.policy, self.cfg, o, self._cache)
            n = self.cfg.actor.select_best_of
            if n > 1 and self.critic is not None:
                chunk = select_chunk(self.critic, batch,
                                     lambda o, k: self.policy.sample(o, generator=self.generator,
                                                                     num_samples=k),
                                     self.cfg.critic, n, self.generator)[0]
            else:
                chunk = self.policy.sample(batch, generator=self.generator)[0]
            self._chunk = chunk.numpy().astype(np.float64)
            self._k = 0
        a = self._chunk[self._k]
        self._k += 1
        return a


def replay_states(env: BimanualEnv, ep: Episode, ticks: Sequence[int]) -> Dict[int, object]:
    """Sim snapshots at the given ticks of ``ep``, re-executing its actions from its seed."""
    want = set(int(t) for t in ticks)
    out = {}
    env.reset(ep.seed)
    last = max(want)
    for t in range(last + 1):
        if t in want:
            out[t] = env.get_state()
        if t < last:
            env.step(ep.actions[t])
    return out


def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their mean rank."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind='mergesort')
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=ranks)
    return sums[inv] / counts[inv]


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson on ranks); 0 when either side is constant."""
    ra, rb = rankdata(np.asarray(a)), rankdata(np.asarray(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / den) if den > 0 else 0.0


def machine() -> Dict[str, object]:
    """CPU model, cores, RAM and library versions of this run."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo', 'r', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    ram = None
    try:
        with open('/proc/meminfo', 'r', encoding='utf-8') as f:
            ram = round(int(f.readline().split()[1]) / 2 ** 20, 1)
    except (OSError, ValueError, IndexError):
        pass
    import mujoco
    return {'cpu': cpu, 'cores': os.cpu_count(), 'ram_gib': ram,
            'python': platform.python_version(),
            'torch': torch.__version__, 'mujoco': mujoco.__version__, 'numpy': np.__version__,
            'platform': platform.platform(), 'torch_threads': torch.get_num_threads()}


def write_results(name: str, payload: Dict[str, object], out_dir: Optional[str] = None) -> str:
    """Write ``results/bench_<name>.json`` (with machine and timestamp); return the path."""
    out_dir = out_dir or RESULTS_DIR
    os.makedirs(out_dir, exist_ok=True)
    payload = dict(payload, bench=name, machine=machine(),
                   finished=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))
    path = os.path.join(out_dir, f'bench_{name}.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(payload, f, indent=2, sort_keys=True)
    return path


class Timer:
    """Wall-clock phases, printed as they end."""

    def __init__(self, log: Callable[[str], None] = print):
        self.t0 = time.monotonic()
        self.log = log
        self.phases: List[List[object]] = []

    def mark(self, what: str) -> None:
        t = time.monotonic() - self.t0
        self.phases.append([what, round(t, 1)])
        self.log(f'[{t:7.1f} s] {what}')


def parse_overrides(ap, items) -> dict:
    """
    ``--override SECTION.KEY=VALUE`` items (YAML values) as {section: {key: value}}.

    A malformed item is an argparse error naming it.
    """
    overrides: dict = {}
    for item in items:
        key, _, value = item.partition('=')
        section, dot, name = key.partition('.')
        if not name or not dot:
            ap.error(f'--override {item}: expected SECTION.KEY=VALUE')
        overrides.setdefault(section, {})[name] = yaml.safe_load(value)
    return overrides

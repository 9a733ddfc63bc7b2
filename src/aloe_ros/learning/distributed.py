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
Data-parallel learning with torch.distributed (``torchrun``): NCCL on GPUs, gloo on CPU.

Launched by ``torchrun --nproc_per_node N ...`` (``WORLD_SIZE`` > 1 in the environment),
``DataParallel.from_env`` joins the process group and ``AloeTrainer(..., parallel=dp)`` trains
data-parallel. Without that environment nothing here runs and the trainer is unchanged.

How one update is split (the global batch stays ``data.batch_size``, divisible by the world size):

- Sampling: every rank draws the same global row indices from its replay with the shared-seed
  numpy RNG (same seed, same draws on every rank) and keeps its own contiguous slice (rank r of W
  takes rows ``[r B/W, (r+1) B/W)``). The replays must hold the same transitions in the same order
  on every rank; ``check_replay`` refuses to train otherwise.
- Gradients: after ``backward`` the gradients are summed over ranks and divided by W (bucketed
  into one flat tensor per call, as DistributedDataParallel does), then clipped and stepped; the
  critic loss is a mean over equal shards, so this is the gradient of the global-batch loss.
- Batch-wide actor statistics (advantage standardisation, the ESS-adjusted beta and the
  self-normalised weight sum) are computed over the whole global batch (advantages all-gathered,
  weight sums all-reduced), so each rank's loss term is its share of the single-process loss.
- Non-finite losses: an update is skipped on every rank if it is non-finite on any rank.
- Weights start from rank 0's (broadcast at construction); Adam, Polyak targets and the EMA then
  see identical gradients and stay identical on every rank.
- Noise (flow-matching noise and times, bootstrap samples, random critic head subsets) is drawn
  from the trainer's torch generator, seeded ``seed + rank * 1000003`` on rank r: each rank draws
  noise for its own shard only. A W-rank run therefore equals a one-process run exactly (up to
  float reduction order) when the loss is a deterministic function of the batch; with the flow
  policy's noise it is the same estimator with different noise draws, like any DDP run.

Metrics returned by ``train`` are computed on each rank's own shard (rank 0's are reported).

Rank 0 and the others (``LeadTrainer`` / ``Follower``): only rank 0 does ROS I/O (episode pulls,
weight pushes, status) and writes checkpoints; it drives the other ranks with commands broadcast
over the process group (``broadcast_object_list`` from rank 0, which the followers block on):

- ``init`` (learner config as a dict, store path): followers build the same trainer, reading
  the episode store at rank 0's ``store_root`` (read-only; the same host, or a shared mount).
- ``refresh`` (episode ids rank 0 just added, in its order): followers ingest exactly those,
  from their read-only view of the store that lists only announced episodes
  (``AnnouncedSource``), so every replay holds the same rows in the same order even while new
  episodes land in the store.
- ``train`` (critic steps, actor steps): every rank runs ``AloeTrainer.train`` together.
- ``sync``: after rank 0 resumed from a checkpoint, its nets, optimizers, sampling RNG and
  counters are broadcast (a follower's noise generator is reseeded from its rank and counters).
- ``stop``: followers leave the group and exit.

A failure on one rank only (a crash, a lost host) leaves the others blocked in a collective:
``torchrun`` then stops the whole group, as it does for any failed worker.
"""

import datetime
import hashlib
import logging
import os
import signal
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist

# Seed offset between ranks' noise generators (a prime, so streams of nearby seeds do not collide).
RANK_SEED_STRIDE = 1000003
# Collectives wait this long (seconds) by default: followers block between training iterations
# while rank 0 waits for episodes, which can take hours on a real station.
DEFAULT_TIMEOUT_S = 7 * 24 * 3600.0
# Environment override of the backend (gloo | nccl); default nccl when CUDA is available.
BACKEND_ENV = 'ALOE_DIST_BACKEND'

LOG = logging.getLogger(__name__)


def default_backend() -> str:
    """Backend every rank agrees on before any config is exchanged: env override, else hardware."""
    backend = os.environ.get(BACKEND_ENV, '') or ('nccl' if torch.cuda.is_available()
                                                  else 'gloo')
    if backend not in ('gloo', 'nccl'):
        raise ValueError(f'{BACKEND_ENV}={backend!r}: use gloo or nccl')
    return backend


def env_world_size() -> int:
    """Return ``WORLD_SIZE`` from the environment (1 when unset); a clear error when malformed."""
    raw = os.environ.get('WORLD_SIZE', '1')
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f'WORLD_SIZE={raw!r} is not an integer') from None
    if n < 1:
        raise ValueError(f'WORLD_SIZE={n} must be >= 1')
    return n


@dataclass
class DataParallel:
    """This process's place in the data-parallel group (rank, world size) and its collectives."""

    rank: int
    world_size: int

    @classmethod
    def from_env(cls, device: Optional[str] = None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> Optional['DataParallel']:
        """
        Join the group ``torchrun`` describes in the environment; None when WORLD_SIZE <= 1.

        The backend is NCCL for a CUDA ``device`` (each rank then uses ``cuda:LOCAL_RANK``) and
        gloo otherwise; without ``device``, ``default_backend()`` decides. An already
        initialised default group is reused.
        """
        world = env_world_size()
        if world <= 1:
            return None
        missing = [k for k in ('RANK', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
        if missing and not dist.is_initialized():
            raise RuntimeError(f'WORLD_SIZE={world} but {", ".join(missing)} unset: launch with '
                               'torchrun (or set RANK, MASTER_ADDR, MASTER_PORT)')
        cuda = (torch.device(device).type == 'cuda' if device is not None
                else default_backend() == 'nccl')
        if cuda:
            torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', '0')))
        if not dist.is_initialized():
            dist.init_process_group('nccl' if cuda else 'gloo',
                                    timeout=datetime.timedelta(seconds=timeout_s))
        if dist.get_world_size() != world:
            raise RuntimeError(f'process group has {dist.get_world_size()} ranks, '
                               f'WORLD_SIZE says {world}')
        return cls(dist.get_rank(), world)

    @property
    def backend(self) -> str:
        """Return the name of the process group's communication library: gloo or nccl."""
        return str(dist.get_backend())

    @property
    def is_lead(self) -> bool:
        """Return whether this is rank 0 (ROS I/O, checkpoints, metrics)."""
        return self.rank == 0

    # -- batch sharding -----------------------------------------------------------------------
    def shard(self, n: int) -> slice:
        """Return this rank's contiguous slice of a global batch of ``n`` rows."""
        if n % self.world_size:
            raise ValueError(f'data.batch_size {n} is not divisible by the world size '
                             f'{self.world_size} (every rank must get an equal shard)')
        per = n // self.world_size
        return slice(self.rank * per, (self.rank + 1) * per)

    def sampling_rng(self, rng: np.random.Generator) -> '_ShardRng':
        """Wrap the shared-seed replay RNG so ``choice`` returns this rank's slice of the draw."""
        return _ShardRng(rng, self)

    def setup(self, trainer) -> None:
        """Validate the config for this world and make every rank start from rank 0's state."""
        self.shard(trainer.cfg.data.batch_size)
        trainer.generator.manual_seed(trainer.cfg.seed + self.rank * RANK_SEED_STRIDE)
        self.broadcast_modules(trainer._nets().values())

    # -- collectives --------------------------------------------------------------------------
    def broadcast_modules(self, modules: Iterable[torch.nn.Module]) -> None:
        """Copy rank 0's parameters and buffers into every rank's modules (in place)."""
        for module in modules:
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, 0)

    def average_gradients(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Replace every gradient by its mean over ranks (one flat all-reduce)."""
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(self.world_size)
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n

    def all_finite(self, loss: torch.Tensor) -> bool:
        """Return whether ``loss`` is finite on every rank (all ranks skip or step together)."""
        flag = torch.isfinite(loss.detach()).to(torch.float32).reshape(1)
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item() > 0)

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate equal-shaped per-rank tensors along dim 0, in rank order."""
        x = x.detach().contiguous()
        parts = [torch.empty_like(x) for _ in range(self.world_size)]
        dist.all_gather(parts, x)
        return torch.cat(parts)

    def local(self, x: torch.Tensor) -> torch.Tensor:
        """Return this rank's slice of a gathered global-batch tensor."""
        return x[self.shard(x.shape[0])]

    def weight_share(self, w: torch.Tensor, normalize: bool) -> float:
        """
        Factor turning this rank's ``weighted_flow_loss`` into its share of the global loss.

        Without normalisation the shard mean, averaged over equal shards, is the global mean (1).
        With it, ``sum_r w L / sum_r w`` times ``W sum_r w / sum_all w`` averages over ranks to
        ``sum_all w L / sum_all w``.
        """
        if not normalize:
            return 1.0
        local = w.detach().double().sum().reshape(1)
        total = local.clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return float(self.world_size * local.item() / max(total.item(), 1e-12))

    def check_replay(self, episode_ids: Sequence[str], transitions: int) -> None:
        """Refuse to train when the ranks' replays differ (their shards would not be one batch)."""
        digest = hashlib.sha256('\n'.join(episode_ids).encode()).hexdigest()
        mine = (transitions, digest)
        every: List[object] = [None] * self.world_size
        dist.all_gather_object(every, mine)
        if any(other != every[0] for other in every):
            desc = ', '.join(f'rank {r}: {t} transitions, episodes {d[:12]}'
                             for r, (t, d) in enumerate(every))
            raise RuntimeError(f'data-parallel replays differ between ranks ({desc}); every rank '
                               'must refresh the same episodes in the same order')


class _ShardRng:
    """A numpy Generator whose ``choice`` draws the global batch and keeps this rank's rows."""

    def __init__(self, rng: np.random.Generator, parallel: DataParallel):
        self._rng = rng
        self._parallel = parallel

    def choice(self, a, size=None, **kwargs) -> np.ndarray:
        """Draw ``size`` (the global batch) rows like ``rng.choice``; return this rank's slice."""
        if not isinstance(size, int):
            raise TypeError(f'sharded replay sampling needs an integer batch size, got {size!r}')
        rows = self._rng.choice(a, size=size, **kwargs)
        return rows[self._parallel.shard(size)]

    def __getattr__(self, name):
        raise AttributeError(f'sharded replay sampling only supports rng.choice (the replay '
                             f'asked for rng.{name}); extend _ShardRng to shard it')


def check_device(parallel: DataParallel, device: str) -> None:
    """Refuse a learner ``device`` the process group's backend cannot reduce tensors on."""
    backend = dist.get_backend()
    if (backend == 'nccl') != (torch.device(device).type == 'cuda'):
        raise ValueError(f'learner device {device!r} does not fit the {backend} process group '
                         f'(NCCL needs device cuda, gloo device cpu; set {BACKEND_ENV} or the '
                         'config\'s device)')


class AnnouncedSource:
    """A follower's view of an episode source: only the episodes rank 0 announced, in order."""

    def __init__(self, source):
        self._source = source
        self._ids: List[str] = []

    def announce(self, episode_ids: Sequence[str]) -> None:
        """Make these episodes (rank 0 just added them to its replay) visible, in this order."""
        self._ids.extend(episode_ids)

    def episode_ids(self) -> Sequence[str]:
        """Announced episode ids, in rank 0's order."""
        return list(self._ids)

    def load_episode(self, episode_id: str):
        """Load an announced episode from the underlying source."""
        return self._source.load_episode(episode_id)


def _broadcast(obj: Any = None) -> Any:
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _trainer_state(trainer) -> Dict[str, Any]:
    cpu = {name: {k: v.detach().cpu() for k, v in net.state_dict().items()}
           for name, net in trainer._nets().items()}
    opts = {name: opt.state_dict() for name, opt in trainer._opts().items()}
    for st in opts.values():
        for per in st['state'].values():
            for k, v in per.items():
                if torch.is_tensor(v):
                    per[k] = v.detach().cpu()
    return {'nets': cpu, 'opts': opts, 'numpy_rng': trainer.rng.bit_generator.state,
            'counters': {k: getattr(trainer, k) for k in (
                'version', 'critic_updates', 'actor_updates', 'skipped_updates', 'normalized')}}


def _load_trainer_state(trainer, state: Dict[str, Any], rank: int) -> None:
    for name, net in trainer._nets().items():
        net.load_state_dict(state['nets'][name])
    for name, opt in trainer._opts().items():
        opt.load_state_dict(state['opts'][name])
    trainer.rng.bit_generator.state = state['numpy_rng']
    for k, v in state['counters'].items():
        setattr(trainer, k, v)
    steps = trainer.critic_updates + trainer.actor_updates
    trainer.generator.manual_seed(trainer.cfg.seed + rank * RANK_SEED_STRIDE + steps)


class LeadTrainer:
    """
    Rank 0's trainer: ``refresh``, ``train`` and ``load_state`` run on every rank.

    Everything else (``evaluate``, ``export``, ``save_state``, ``replay``, counters) is rank 0's
    own trainer, unchanged. Calls are serialised by a lock (the collectives must pair up).
    """

    def __init__(self, cfg, source, parallel: DataParallel, store_root: str = '',
                 make_trainer: Optional[Callable] = None, torch_threads: int = 0):
        """Tell the followers the config, store and CPU threads, then build the trainer."""
        if not parallel.is_lead:
            raise ValueError(f'LeadTrainer runs on rank 0, this is rank {parallel.rank}')
        from .trainer import AloeTrainer
        self.parallel = parallel
        self._lock = threading.Lock()
        check_device(parallel, cfg.device)
        _broadcast(('init', cfg.to_dict(), store_root, {'torch_threads': int(torch_threads)}))
        self.trainer = (make_trainer or AloeTrainer)(cfg, source, parallel=parallel)

    def __getattr__(self, name):
        if name == 'trainer':  # not built yet
            raise AttributeError(name)
        return getattr(self.trainer, name)

    def refresh(self) -> int:
        """Refresh rank 0's replay and have the followers ingest the same new episodes."""
        with self._lock:
            before = len(self.trainer.replay.episode_ids)
            added = self.trainer.refresh()
            new = list(self.trainer.replay.episode_ids[before:])
            if new:
                _broadcast(('refresh', new))
            return added

    def train(self, critic_steps: int, actor_steps: int, progress=None) -> Dict[str, float]:
        """One ``AloeTrainer.train`` on every rank; returns rank 0's metrics."""
        with self._lock:
            _broadcast(('train', int(critic_steps), int(actor_steps)))
            return self.trainer.train(critic_steps, actor_steps, progress)

    def load_state(self, out_dir: str, expected_sha256: Optional[str] = None) -> None:
        """Resume rank 0 from its checkpoint, then give every follower the same state."""
        with self._lock:
            self.trainer.load_state(out_dir, expected_sha256)
            _broadcast(('sync',))
            _broadcast(_trainer_state(self.trainer))

    def stop(self) -> None:
        """Release the followers (they exit); idempotent."""
        with self._lock:
            if self.parallel is not None:
                _broadcast(('stop',))
                self.parallel = None


class Follower:
    """A rank > 0: builds the trainer rank 0 describes and runs its commands until ``stop``."""

    def __init__(self, parallel: DataParallel,
                 open_source: Optional[Callable[[str], Any]] = None,
                 make_trainer: Optional[Callable] = None):
        """``open_source(store_root)`` opens the episode store read-only (default EpisodeStore)."""
        if parallel.is_lead:
            raise ValueError('rank 0 leads; Follower runs on ranks > 0')
        self.parallel = parallel
        self._open_source = open_source
        self._make_trainer = make_trainer
        self.trainer = None
        self.source: Optional[AnnouncedSource] = None
        self.commands = 0

    def _build(self, cfg_dict: Dict[str, Any], store_root: str) -> None:
        from .config import config_from_dict
        from .trainer import AloeTrainer
        cfg = config_from_dict(cfg_dict)
        check_device(self.parallel, cfg.device)
        if self._open_source is not None:
            base = self._open_source(store_root)
        else:
            from aloe_ros.storage.store import EpisodeStore
            base = EpisodeStore(store_root, mode='r')
        self.source = AnnouncedSource(base)
        self.trainer = (self._make_trainer or AloeTrainer)(cfg, self.source,
                                                           parallel=self.parallel)

    def run(self) -> int:
        """Serve rank 0's commands until ``stop``; return the number of commands served."""
        while True:
            cmd = _broadcast()
            self.commands += 1
            kind = cmd[0]
            if kind == 'stop':
                return self.commands
            if kind == 'init':
                if cmd[3].get('torch_threads', 0) > 0:
                    torch.set_num_threads(cmd[3]['torch_threads'])
                self._build(cmd[1], cmd[2])
            elif kind == 'sync':
                _load_trainer_state(self.trainer, _broadcast(), self.parallel.rank)
            elif kind == 'refresh':
                self.source.announce(cmd[1])
                self.trainer.refresh()
                for eid in cmd[1]:
                    if eid in self.trainer.replay.skipped_episodes:
                        # rank 0 read it, this rank cannot (e.g. a shared mount lagging): every
                        # train then stops on check_replay, on every rank, naming the mismatch
                        LOG.error('rank %d: %s', self.parallel.rank,
                                  self.trainer.replay.skipped_episodes[eid])
            elif kind == 'train':
                try:
                    self.trainer.train(cmd[1], cmd[2])
                except (RuntimeError, FloatingPointError) as exc:
                    # raised on every rank alike (replay check, non-finite with 'error'): rank 0
                    # reports it; stay in step for its next command
                    LOG.warning('rank %d: training failed like on rank 0: %s',
                                self.parallel.rank, exc)
            else:
                raise RuntimeError(f'rank {self.parallel.rank}: unknown command {kind!r} from '
                                   'rank 0')


def run_follower() -> int:
    """
    Entry point of ranks > 0 under torchrun: follow rank 0 until it stops; return 0.

    Ctrl-C (SIGINT, which torchrun forwards to every rank) is ignored here: rank 0 shuts its node
    down and then sends ``stop``; SIGTERM still ends a follower at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format='[rank %(process)d] %(message)s')
    parallel = DataParallel.from_env()
    follower = Follower(parallel)
    served = follower.run()
    LOG.info('rank %d of %d: %d commands from rank 0 served, %d updates; exiting',
             parallel.rank, parallel.world_size, served,
             follower.trainer.critic_updates + follower.trainer.actor_updates
             if follower.trainer is not None else 0)
    dist.destroy_process_group()
    return 0

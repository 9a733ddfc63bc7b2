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

"""Data-parallel learning with torch.distributed (``torchrun``): NCCL on GPUs, gloo on CPU.

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
Only rank 0 does ROS I/O and writes checkpoints; ``Follower`` runs the other ranks (see its doc).
"""

import datetime
import hashlib
import os
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

import numpy as np
import torch
import torch.distributed as dist

# Seed offset between ranks' noise generators (a prime, so streams of nearby seeds do not collide).
RANK_SEED_STRIDE = 1000003
# Collectives wait this long (seconds) by default: followers block between training iterations
# while rank 0 waits for episodes, which can take hours on a real station.
DEFAULT_TIMEOUT_S = 7 * 24 * 3600.0


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
    def from_env(cls, device: str = 'cpu',
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> Optional['DataParallel']:
        """Join the group ``torchrun`` describes in the environment; None when WORLD_SIZE <= 1.

        The backend is NCCL for a CUDA ``device`` (each rank then uses ``cuda:LOCAL_RANK``) and
        gloo otherwise. An already initialised default group is reused.
        """
        world = env_world_size()
        if world <= 1:
            return None
        missing = [k for k in ('RANK', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
        if missing and not dist.is_initialized():
            raise RuntimeError(f'WORLD_SIZE={world} but {", ".join(missing)} unset: launch with '
                               'torchrun (or set RANK, MASTER_ADDR, MASTER_PORT)')
        cuda = torch.device(device).type == 'cuda'
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
    def is_lead(self) -> bool:
        """True on rank 0 (ROS I/O, checkpoints, metrics)."""
        return self.rank == 0

    # -- batch sharding -----------------------------------------------------------------------
    def shard(self, n: int) -> slice:
        """This rank's contiguous slice of a global batch of ``n`` rows."""
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
        """True when ``loss`` is finite on every rank (so all ranks skip or step together)."""
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
        """This rank's slice of a gathered global-batch tensor."""
        return x[self.shard(x.shape[0])]

    def weight_share(self, w: torch.Tensor, normalize: bool) -> float:
        """Factor turning this rank's ``weighted_flow_loss`` into its share of the global loss.

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

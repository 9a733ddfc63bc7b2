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
Helpers of the data-parallel tests: a noise-free flow policy and the per-rank worker.

They live in an importable module (not the test file) so ``torch.multiprocessing.spawn`` can
start the workers by reference.
"""

import os

import torch
import torch.distributed as dist

from aloe_ros.learning.distributed import DataParallel
from aloe_ros.learning.episode import InMemoryEpisodeSource
from aloe_ros.learning.models import FlowMatchingPolicy
from aloe_ros.learning.trainer import AloeTrainer

from learning_helpers import make_episode, tiny_config

# (name, dotted config overrides, noise-free policy?) trained by both the 1- and 2-process runs.
CASES = [
    ('aloe', {'method': 'aloe', 'actor.ema': 0.5, 'actor.target_ess': 0.9,
              'critic.value_samples': 2}, True),
    ('aloe_human_unnormalized', {'method': 'aloe', 'actor.learn_from': 'human',
                                 'actor.normalize_weights': False, 'actor.adv_norm': False},
     True),
    ('recap', {'method': 'recap', 'critic.layer_norm': True}, True),
    ('hg_dagger', {'method': 'hg_dagger'}, True),
    ('aloe_flow_noise', {'method': 'aloe', 'critic.aggregation': 'subset_min'}, False),
]
CRITIC_STEPS, ACTOR_STEPS = 3, 3


class NoiseFreeFlowPolicy(FlowMatchingPolicy):
    """
    The flow policy with its noise replaced by fixed functions of each sample.

    ``flow_loss`` takes ``x0 = sin(3 x1 + 1)`` and ``t = sigmoid(sum x1)`` per sample and
    ``sample`` starts from zeros, so the training step is a deterministic function of the
    batch and a sharded step can be compared with the single-process step number for number.
    """

    def flow_loss(self, obs, actions, mask, generator=None):
        b = actions.shape[0]
        x1 = self.action_norm(actions).reshape(b, -1)
        x0 = torch.sin(3.0 * x1 + 1.0)
        t = torch.sigmoid(x1.sum(-1))
        xt = (1.0 - t[:, None]) * x0 + t[:, None] * x1
        target = x1 if self.flow_target == 'sample' else x1 - x0
        err = (self.network(xt, t, self.encoder(obs))
               - target).reshape(b, self.horizon, self.action_dim)
        m = mask.float()
        return (err.pow(2).mean(-1) * m).sum(-1) / m.sum(-1).clamp_min(1.0)

    def sample(self, obs, generator=None, num_samples=1):
        feat = self.encoder(obs)
        if num_samples > 1:
            feat = feat.repeat(num_samples, 1)
        b = feat.shape[0]
        x = torch.zeros(b, self.horizon * self.action_dim, device=feat.device)
        dt = 1.0 / self.flow_steps
        for i in range(self.flow_steps):
            x = x + dt * self.velocity(x, torch.full((b,), i * dt, device=feat.device), feat)
        return self.action_norm.inverse(x.reshape(b, self.horizon, self.action_dim))


def build_trainer(overrides, noise_free, parallel=None, batch_size=8):
    """Build a tiny trainer on three fixed synthetic episodes."""
    cfg = tiny_config(**dict(overrides, **{'data.batch_size': batch_size}))
    src = InMemoryEpisodeSource([make_episode(f'e{i}', steps=9, cfg=cfg, seed=i)
                                 for i in range(3)])
    policy = None
    if noise_free:
        torch.manual_seed(cfg.seed)
        policy = NoiseFreeFlowPolicy(cfg.model)
    tr = AloeTrainer(cfg, src, policy=policy, parallel=parallel)
    tr.refresh()
    return tr


def snapshot(tr):
    """Every net's state and every optimizer state tensor, keyed by name (cloned)."""
    out = {}
    for name, net in tr._nets().items():
        out.update({f'{name}/{k}': v.detach().clone() for k, v in net.state_dict().items()})
    for name, opt in tr._opts().items():
        for pid, state in opt.state_dict()['state'].items():
            out.update({f'opt_{name}/{pid}/{k}': torch.as_tensor(v).clone()
                        for k, v in state.items()})
    return out


def join(rank, world_size, port, *device):
    """Join the gloo group as ``rank`` through the variables torchrun sets; one thread."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    return DataParallel.from_env(*device, timeout_s=900.0)


def worker(rank, world_size, port, out_dir):
    """One rank: join the gloo group through the torchrun variables, train every case, save."""
    dp = join(rank, world_size, port, 'cpu')
    assert dp is not None and dp.rank == rank and dp.world_size == world_size
    results = {}
    for name, overrides, noise_free in CASES:
        tr = build_trainer(overrides, noise_free, parallel=dp)
        metrics = tr.train(CRITIC_STEPS, ACTOR_STEPS)
        results[name] = {'state': snapshot(tr), 'metrics': metrics}
    torch.save(results, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.destroy_process_group()


PROTOCOL_CASE = {'method': 'aloe', 'actor.ema': 0.5}


def noise_free_trainer(cfg, source, parallel=None):
    """``make_trainer`` for LeadTrainer/Follower: AloeTrainer with the noise-free policy."""
    torch.manual_seed(cfg.seed)
    return AloeTrainer(cfg, source, policy=NoiseFreeFlowPolicy(cfg.model), parallel=parallel)


def protocol_episodes(cfg):
    """Four fixed episodes: rank 0 sees e0, e1, then e2; e3 is in the store but never pulled."""
    return [make_episode(f'e{i}', steps=9, cfg=cfg, seed=i) for i in range(4)]


def protocol_worker(rank, world_size, port, out_dir):
    """Rank 0 drives a LeadTrainer through refresh/train/resume; the others are Followers."""
    from aloe_ros.learning.distributed import Follower, LeadTrainer
    dp = join(rank, world_size, port)
    cfg = tiny_config(**PROTOCOL_CASE)
    episodes = protocol_episodes(cfg)
    out = {}
    if rank == 0:
        source = InMemoryEpisodeSource(episodes[:2])
        lead = LeadTrainer(cfg, source, dp, store_root='in-memory',
                           make_trainer=noise_free_trainer)
        lead.refresh()
        lead.train(CRITIC_STEPS, ACTOR_STEPS)
        ckpt = os.path.join(out_dir, 'iteration1')
        os.makedirs(ckpt)
        lead.save_state(ckpt)
        source.add(episodes[2])
        lead.refresh()
        lead.train(CRITIC_STEPS, ACTOR_STEPS)
        out['iteration2'] = snapshot(lead.trainer)
        lead.load_state(ckpt)  # back to iteration 1 on every rank, then iteration 2 again
        lead.train(CRITIC_STEPS, ACTOR_STEPS)
        out['final'] = snapshot(lead.trainer)
        out['episodes'] = list(lead.replay.episode_ids)
        lead.stop()
    else:
        follower = Follower(dp, open_source=lambda root: InMemoryEpisodeSource(episodes),
                            make_trainer=noise_free_trainer)
        out['commands'] = follower.run()
        out['final'] = snapshot(follower.trainer)
        out['episodes'] = list(follower.trainer.replay.episode_ids)
    torch.save(out, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.destroy_process_group()


def mismatch_worker(rank, world_size, port, out_dir):
    """Rank 0 has e0 and e1; rank 1's store lacks e1: training must refuse on both ranks."""
    from aloe_ros.learning.distributed import Follower, LeadTrainer
    dp = join(rank, world_size, port)
    cfg = tiny_config(**PROTOCOL_CASE)
    episodes = protocol_episodes(cfg)
    out = {}
    if rank == 0:
        lead = LeadTrainer(cfg, InMemoryEpisodeSource(episodes[:2]), dp,
                           make_trainer=noise_free_trainer)
        lead.refresh()
        try:
            lead.train(CRITIC_STEPS, ACTOR_STEPS)
        except RuntimeError as exc:
            out['error'] = str(exc)
        out['updates'] = lead.critic_updates + lead.actor_updates
        lead.stop()
    else:
        follower = Follower(dp, open_source=lambda root: InMemoryEpisodeSource(episodes[:1]),
                            make_trainer=noise_free_trainer)
        out['commands'] = follower.run()
        out['updates'] = follower.trainer.critic_updates + follower.trainer.actor_updates
    torch.save(out, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.destroy_process_group()

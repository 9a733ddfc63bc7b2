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
High-level learner used by the ROS learner node and the benchmarks.

``method`` selects what ``train`` does (same data, same actor, same replay):

- ``aloe``: K-head chunk critic trained by chunked TD toward Q^{pi_theta} (bootstrap actions from
  the current actor), actor by advantage-weighted flow matching on every stored chunk.
- ``td1``: the same with critic horizon 1: ``Q(s_t, a_t)``, target ``r_t + gamma Qbar(s_{t+1},
a'_0)``.
- ``recap``: RECAP-style: a K-head state-value net fitted to Monte-Carlo returns of the data
  mixture (V^{mixture}); chunk advantage ``A = sum_{k<n} gamma^k r + gamma^n (1-done) V(s_{t+n}) -
  V(s_t)``;
  actor by the same advantage-weighted flow matching.
- ``hg_dagger``: no critic; flow matching (behaviour cloning) on human steps only.

Non-finite losses (divergence; data NaN/Inf is handled at ingestion by the replay): with
``data.on_nonfinite: skip`` the update is not applied and is counted in ``skipped_updates``
(metric); with ``error`` a FloatingPointError names the batch's episodes and steps.
"""

import copy
import os
import time
from typing import Callable, Dict, Optional

import numpy as np
import torch

from .actor_update import (effective_sample_size, ess_weights, normalize_advantages,
                           weighted_flow_loss)
from .checkpoint import (STATE_FORMAT, CheckpointInfo, ConfigMismatchError, atomic_write,
                         bytes_to_tensors,
                         optimizer_from_tensors,
                         optimizer_to_tensors, read_verified, tensors_to_bytes, write_actor)
from .config import LearnerConfig
from .critic import aggregate, advantage, critic_loss, polyak_update
from .distributed import DataParallel
from .episode import EpisodeSource
from .models import FlowMatchingPolicy, QEnsemble
from .replay import Batch, ReplayBuffer
from .runtime import check_model_config, obs_to_batch, _load_strict

STATE_FILE = 'learner_state.safetensors'
Progress = Callable[[str, int, int], None]


class AloeTrainer:
    """
    ALOE learner (and baselines): replay, critic, actor, checkpoints.

    ``policy`` may be any ``Policy`` implementation (default: ``FlowMatchingPolicy(cfg.model)``).
    ``parallel`` (``DataParallel.from_env()`` under torchrun): train data-parallel, see
    ``distributed``; None (default) is the single-process trainer.
    """

    def __init__(self, cfg: LearnerConfig, source: EpisodeSource,
                 policy: Optional[torch.nn.Module] = None,
                 parallel: Optional[DataParallel] = None):
        self.cfg = cfg
        torch.manual_seed(cfg.seed)
        self.device = torch.device(cfg.device)
        self.policy = policy if policy is not None else FlowMatchingPolicy(cfg.model)
        self.policy.to(self.device)
        # actor.ema > 0: the policy that acts (exported, bootstrapped by the critic, evaluated) is
        # an exponential moving average of the trained weights; one update moves it by (1 - ema).
        self.ema_policy: Optional[torch.nn.Module] = (
            copy.deepcopy(self.policy).requires_grad_(False) if cfg.actor.ema > 0 else None)
        self.critic: Optional[QEnsemble] = None
        self.critic_target: Optional[QEnsemble] = None
        if cfg.method in ('aloe', 'td1'):
            self.critic = QEnsemble(cfg.model, cfg.critic_horizon,
                                    layer_norm=cfg.critic.layer_norm).to(self.device)
        elif cfg.method == 'recap':
            self.critic = QEnsemble(cfg.model, cfg.critic_horizon, use_action=False,
                                    layer_norm=cfg.critic.layer_norm).to(self.device)
        if self.critic is not None and cfg.method != 'recap':
            self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.actor.lr)
        self.critic_opt = (torch.optim.Adam(self.critic.parameters(), lr=cfg.critic.lr)
                           if self.critic is not None else None)
        self.replay = ReplayBuffer(cfg, source, self.policy.encode_instructions)
        self.rng = np.random.default_rng(cfg.seed)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.version = 0
        self.critic_updates = 0
        self.actor_updates = 0
        self.skipped_updates = 0
        self.normalized = False
        self.parallel = parallel
        if parallel is not None:
            parallel.setup(self)

    @property
    def acting_policy(self) -> torch.nn.Module:
        """Return the acting policy: the actor's EMA with ``actor.ema`` > 0, else the actor."""
        return self.ema_policy if self.ema_policy is not None else self.policy

    def update_ema(self) -> None:
        """Move the acting (EMA) policy toward the trained weights; buffers are copied."""
        if self.ema_policy is not None:
            polyak_update(self.policy, self.ema_policy, 1.0 - self.cfg.actor.ema)

    # -- data ---------------------------------------------------------------------------------
    def refresh(self) -> int:
        """Pull new episodes from the source; fit normalisation once, from the first data seen."""
        added = self.replay.refresh()
        if not self.normalized and len(self.replay) > 0:
            stats = self.replay.stats()
            self.policy.set_normalization(stats)
            for net in (self.ema_policy, self.critic, self.critic_target):
                if net is not None:
                    net.set_normalization(stats)
            self.normalized = True
        return added

    def _sample_actor(self, obs, n: int = 1) -> torch.Tensor:
        return self.acting_policy.sample(obs, generator=self.generator, num_samples=n)

    def _to_device(self, batch: Batch) -> Batch:
        if self.device.type == 'cpu':
            return batch

        def move(o):
            out = {k: v.to(self.device) for k, v in o.items() if k != 'images'}
            out['images'] = {k: v.to(self.device) for k, v in o['images'].items()}
            return out
        for name in ('actions', 'act_mask', 'crit_mask', 'ret', 'boot', 'done', 'mc_return',
                     'human_step'):
            setattr(batch, name, getattr(batch, name).to(self.device))
        batch.obs, batch.next_obs = move(batch.obs), move(batch.next_obs)
        return batch

    def _finite_or_skip(self, loss: torch.Tensor, batch: Batch, what: str) -> bool:
        if (torch.isfinite(loss) if self.parallel is None else self.parallel.all_finite(loss)):
            return True
        msg = f'non-finite {what} loss ({self.replay.describe_rows(batch.index)})'
        if self.cfg.data.on_nonfinite == 'error':
            raise FloatingPointError(msg)
        self.skipped_updates += 1
        return False

    # -- updates ------------------------------------------------------------------------------
    def critic_step(self, batch: Batch) -> Dict[str, float]:
        """One critic update on a batch (TD for aloe/td1, Monte-Carlo regression for recap)."""
        c = self.cfg.critic
        if self.cfg.method == 'recap':
            v = self.critic(batch.obs)
            target = batch.mc_return
            loss = (v - target[None, :]).pow(2).mean()
            q_mean, y_mean = float(aggregate(v.detach(), c,
                                             self.generator).mean()), float(target.mean())
        else:
            loss, q, y = critic_loss(self.critic, self.critic_target, batch, self._sample_actor, c,
                                     self.generator)
            q_mean, y_mean = float(aggregate(q, c, self.generator).mean()), float(y.mean())
        if self._finite_or_skip(loss, batch, 'critic'):
            self.critic_opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.parallel is not None:
                self.parallel.average_gradients(self.critic.parameters())
            torch.nn.utils.clip_grad_norm_(self.critic.parameters(), c.grad_clip)
            self.critic_opt.step()
            if self.critic_target is not None:
                polyak_update(self.critic, self.critic_target, c.tau)
            self.critic_updates += 1
        return {'critic_loss': float(loss.detach()), 'mean_q': q_mean, 'mean_target': y_mean}

    @torch.no_grad()
    def batch_advantage(self, batch: Batch):
        """Advantage of each batch chunk under the current critic: returns (A, q, v)."""
        c = self.cfg.critic
        if self.cfg.method == 'recap':
            v_s = aggregate(self.critic(batch.obs), c, self.generator)
            v_next = aggregate(self.critic(batch.next_obs), c, self.generator)
            return batch.ret + batch.boot * v_next - v_s, batch.ret + batch.boot * v_next, v_s
        adv, _, q, v = advantage(self.critic, batch.obs, batch.actions, batch.crit_mask,
                                 self._sample_actor,
                                 c,
                                 c.value_samples, self.generator)
        return adv, q, v

    def apply_actor_loss(self, loss: torch.Tensor) -> None:
        """Backpropagate a finite actor loss, clip, step the optimiser, move the EMA, count it."""
        self.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.parallel is not None:
            self.parallel.average_gradients(self.policy.parameters())
        torch.nn.utils.clip_grad_norm_(self.policy.parameters(), self.cfg.actor.grad_clip)
        self.actor_opt.step()
        self.update_ema()
        self.actor_updates += 1

    def actor_step(self, batch: Batch) -> Dict[str, float]:
        """One actor update: advantage-weighted flow matching (BC on human steps for hg_dagger)."""
        a = self.cfg.actor
        out: Dict[str, float] = {}
        if self.cfg.method == 'hg_dagger':
            per = self.policy.flow_loss(batch.obs, batch.actions, batch.human_step,
                                        generator=self.generator)
            loss = per.mean()
        else:
            adv, q, v = self.batch_advantage(batch)
            # Data-parallel: weights from the global batch's advantages, this rank's slice kept.
            adv_all = adv if self.parallel is None else self.parallel.gather(adv)
            w, beta = ess_weights(normalize_advantages(adv_all) if a.adv_norm else adv_all, a.beta,
                                  a.w_max,
                                  a.target_ess)
            if self.parallel is not None:
                w = self.parallel.local(w)
            mask = batch.human_step if a.learn_from == 'human' else batch.act_mask
            if a.learn_from == 'human':
                w = w * (mask.sum(-1) > 0).float()
            per = self.policy.flow_loss(batch.obs, batch.actions, mask, generator=self.generator)
            loss = weighted_flow_loss(per, w, a.normalize_weights)
            out.update(mean_q=float(q.mean()), mean_v=float(v.mean()), mean_adv=float(adv.mean()),
                       ess=effective_sample_size(w), weight_mean=float(w.mean()),
                       weight_max=float(w.max()),
                       beta=beta)
        if self._finite_or_skip(loss, batch, 'actor'):
            if self.parallel is None or self.cfg.method == 'hg_dagger':
                self.apply_actor_loss(loss)
            else:
                self.apply_actor_loss(loss * self.parallel.weight_share(w, a.normalize_weights))
        out['actor_loss'] = float(loss.detach())
        out['flow_loss'] = float(per.detach().mean())
        return out

    def train(self, critic_steps: int, actor_steps: int,
              progress: Optional[Progress] = None) -> Dict[str, float]:
        """
        Run critic then actor updates on replay batches; return mean metrics.

        ``progress(phase, done, total)`` is called after every update (phase 'critic' or 'actor').
        Keys: critic_loss, mean_q, mean_target, actor_loss, flow_loss, mean_v, mean_adv, ess,
        weight_mean, weight_max (those that apply to the method), plus counters.
        """
        t0 = time.monotonic()
        bs = self.cfg.data.batch_size
        rng = self.rng
        if self.parallel is not None:
            self.parallel.check_replay(self.replay.episode_ids, len(self.replay))
            rng = self.parallel.sampling_rng(self.rng)
        acc: Dict[str, list] = {}
        if self.critic is None:
            critic_steps = 0
        for i in range(critic_steps):
            for k, v in self.critic_step(
                    self._to_device(self.replay.sample(bs, rng))).items():
                acc.setdefault(k, []).append(v)
            if progress is not None:
                progress('critic', i + 1, critic_steps)
        human_only = self.cfg.method == 'hg_dagger' or self.cfg.actor.learn_from == 'human'
        for i in range(actor_steps):
            batch = self._to_device(self.replay.sample(bs, rng, human_only=human_only))
            for k, v in self.actor_step(batch).items():
                acc.setdefault(k, []).append(v)
            if progress is not None:
                progress('actor', i + 1, actor_steps)
        out = {k: float(np.mean(v)) for k, v in acc.items()}
        out.update(critic_steps=float(critic_steps), actor_steps=float(actor_steps),
                   critic_updates=float(self.critic_updates),
                   actor_updates=float(self.actor_updates),
                   skipped_updates=float(self.skipped_updates),
                   transitions=float(len(self.replay)),
                   episodes=float(len(self.replay.episode_ids)), seconds=time.monotonic() - t0)
        return out

    # -- queries ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, obs: Dict[str, object], chunk: np.ndarray) -> Dict[str, object]:
        """
        Score one executed/proposed chunk (H, D) at one observation dict.

        Returns ``q_heads`` (list of K), ``q = agg_i Q_i(s, a)``, ``v = mean_j agg_i Q_i(s,
        a'_j)``,
        ``adv = q - v``. For recap, q_heads are the value heads and q = v, adv = 0.
        """
        if self.critic is None:
            raise RuntimeError(f'method {self.cfg.method!r} has no critic to evaluate chunks with')
        batch = obs_to_batch(self.acting_policy, self.cfg, obs)
        batch['images'] = {k: v.to(self.device) for k, v in batch['images'].items()}
        for k in ('proprio', 'task', 'state'):
            if k in batch:
                batch[k] = batch[k].to(self.device)
        c = self.cfg.critic
        if self.cfg.method == 'recap':
            heads = self.critic(batch)
            v = float(aggregate(heads, c, self.generator)[0])
            return {'q_heads': heads[:, 0].tolist(), 'q': v, 'v': v, 'adv': 0.0}
        a = torch.as_tensor(np.asarray(chunk, dtype=np.float32), device=self.device)
        if a.shape != (self.cfg.model.horizon, self.cfg.model.action_dim):
            raise ValueError(f'chunk must be (H, D) = ({self.cfg.model.horizon}, '
                             f'{self.cfg.model.action_dim}), '
                             f'got {tuple(a.shape)}')
        mask = torch.ones(1, self.cfg.critic_horizon, device=self.device)
        adv, heads, q, v = advantage(self.critic, batch, a[None], mask, self._sample_actor, c,
                                     c.value_samples,
                                     self.generator)
        return {'q_heads': heads[:, 0].tolist(), 'q': float(q[0]), 'v': float(v[0]),
                'adv': float(adv[0])}

    # -- checkpoints --------------------------------------------------------------------------
    def export(self, out_dir: str) -> CheckpointInfo:
        """Write the actor as the next version (atomic, sha256); return CheckpointInfo."""
        self.version += 1
        return write_actor(out_dir, self.acting_policy.state_dict(), self.cfg.to_dict(),
                           self.cfg.config_hash(), self.version)

    def _nets(self) -> Dict[str, torch.nn.Module]:
        nets = {'actor': self.policy}
        if self.ema_policy is not None:
            nets['actor_ema'] = self.ema_policy
        if self.critic is not None:
            nets['critic'] = self.critic
        if self.critic_target is not None:
            nets['critic_target'] = self.critic_target
        return nets

    def _opts(self) -> Dict[str, torch.optim.Optimizer]:
        opts = {'actor': self.actor_opt}
        if self.critic_opt is not None:
            opts['critic'] = self.critic_opt
        return opts

    def save_state(self, out_dir: str) -> CheckpointInfo:
        """Write the full learner state (nets, targets, optimizers, RNGs, counters) atomically."""
        tensors: Dict[str, torch.Tensor] = {}
        for name, net in self._nets().items():
            tensors.update({f'{name}/{k}': v for k, v in net.state_dict().items()})
        groups = {}
        for name, opt in self._opts().items():
            t, g = optimizer_to_tensors(name, opt)
            tensors.update(t)
            groups[name] = g
        tensors['rng/torch_generator'] = self.generator.get_state()
        tensors['rng/torch_global'] = torch.get_rng_state()
        meta = {'format': STATE_FORMAT, 'config': self.cfg.to_dict(),
                'config_hash': self.cfg.config_hash(),
                'method': self.cfg.method, 'param_groups': groups,
                'numpy_rng': self.rng.bit_generator.state,
                'counters': {'version': self.version, 'critic_updates': self.critic_updates,
                             'actor_updates': self.actor_updates,
                             'skipped_updates': self.skipped_updates,
                             'normalized': self.normalized}}
        data = tensors_to_bytes(tensors, meta)
        path = os.path.join(out_dir, STATE_FILE)
        atomic_write(path, data)
        info = CheckpointInfo(path=path, sha256=read_verified(path, None)[1],
                              config_hash=self.cfg.config_hash(),
                              version=self.version)
        atomic_write(path + '.sha256', (info.sha256 + '\n').encode())
        return info

    def load_state(self, out_dir: str, expected_sha256: Optional[str] = None) -> None:
        """
        Resume from ``save_state`` output; refuse a config mismatch (naming it) or a bad sha256.

        Without ``expected_sha256`` the ``.sha256`` file written next to the state is used.
        """
        path = os.path.join(out_dir, STATE_FILE)
        if expected_sha256 is None and os.path.exists(path + '.sha256'):
            with open(path + '.sha256', 'r', encoding='utf-8') as f:
                expected_sha256 = f.read().strip()
        data, _ = read_verified(path, expected_sha256)
        tensors, meta = bytes_to_tensors(data)
        if meta.get('format') != STATE_FORMAT:
            raise ValueError(f'{path}: format {meta.get("format")!r} is not {STATE_FORMAT!r}')
        check_model_config(self.cfg, meta['config']['model'], path)
        if meta['method'] != self.cfg.method:
            raise ConfigMismatchError(f'{path}: config mismatch in method ({meta["method"]!r} '
                                      'saved, '
                                      f'{self.cfg.method!r} configured); refused')
        for name, net in self._nets().items():
            prefix = f'{name}/'
            _load_strict(net, {k[len(prefix):]: v for k, v in tensors.items()
                               if k.startswith(prefix)},
                         f'{path} [{name}]')
        for name, opt in self._opts().items():
            optimizer_from_tensors(name, opt, tensors, meta['param_groups'][name])
        self.generator.set_state(tensors['rng/torch_generator'])
        torch.set_rng_state(tensors['rng/torch_global'])
        self.rng.bit_generator.state = meta['numpy_rng']
        cnt = meta['counters']
        self.version = int(cnt['version'])
        self.critic_updates = int(cnt['critic_updates'])
        self.actor_updates = int(cnt['actor_updates'])
        self.skipped_updates = int(cnt['skipped_updates'])
        self.normalized = bool(cnt['normalized'])

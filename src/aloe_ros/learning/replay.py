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
In-memory replay of chunk transitions, fed incrementally from an EpisodeSource.

Steps are stored once (images as uint8) in growable columns; transitions are index rows into
them, so an observation used as s_t by one chunk and as s_{t+H} by another is stored once.
``refresh()`` pulls only episode ids not seen before.

Non-finite data (``data.on_nonfinite``): ``skip`` (default) drops the whole episode, counts it in
``skipped_episodes`` and logs one warning naming the episode, the field and the first bad step;
``error`` raises ``NonFiniteDataError`` with the same message. A whole episode is dropped, not a
step, because a hole inside an episode would silently corrupt the chunk windows around it.
"""

import logging
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from .config import LearnerConfig
from .episode import Episode, EpisodeSource
from .transitions import (CHUNK_SOURCE_NAMES, ChunkTransitions, build_transitions,
                          rejected_steps)

LOG = logging.getLogger(__name__)


class NonFiniteDataError(ValueError):
    """An episode holds NaN/Inf; the message names the episode, field and step."""


class _Column:
    """Append-only array with amortised doubling."""

    def __init__(self, shape, dtype):
        self.data = np.zeros((16,) + tuple(shape), dtype=dtype)
        self.size = 0

    def append(self, values: np.ndarray) -> int:
        start, n = self.size, len(values)
        if start + n > len(self.data):
            cap = max(2 * len(self.data), start + n)
            grown = np.zeros((cap,) + self.data.shape[1:], dtype=self.data.dtype)
            grown[:start] = self.data[:start]
            self.data = grown
        self.data[start:start + n] = values
        self.size += n
        return start

    def view(self) -> np.ndarray:
        return self.data[:self.size]

    @property
    def nbytes(self) -> int:
        return int(self.data[:self.size].nbytes)


@dataclass
class Batch:
    """A sampled batch of torch tensors (B rows)."""

    obs: Dict[str, object]
    next_obs: Dict[str, object]
    actions: torch.Tensor      # (B, H, D) robot units, padded with the last action
    act_mask: torch.Tensor     # (B, H) float 1 = real step
    crit_mask: torch.Tensor    # (B, Hc) float 1 = step the critic evaluates (see batch())
    ret: torch.Tensor          # (B,)
    boot: torch.Tensor         # (B,) gamma^n (1 - done)
    done: torch.Tensor         # (B,) float
    mc_return: torch.Tensor    # (B,)
    source: torch.Tensor       # (B,) uint8
    human_step: torch.Tensor   # (B, H) float 1 = real step executed by a human
    index: np.ndarray          # (B,) transition rows


def check_finite(episode: Episode) -> Optional[str]:
    """Return a message naming the first non-finite field/step, or None if all finite."""
    fields = [('proprio', episode.proprio), ('actions', episode.actions),
              ('rewards', episode.rewards)]
    fields += [(f'extra[{k}]', v) for k, v in episode.extra.items()
               if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)]
    for name, arr in fields:
        bad = ~np.isfinite(arr)
        if bad.any():
            step = int(np.argwhere(bad)[0][0])
            return f'episode {episode.episode_id}: non-finite {name} at step {step}'
    return None


class ReplayBuffer:
    """Chunk-transition replay over every episode of an EpisodeSource."""

    def __init__(self, cfg: LearnerConfig, source: EpisodeSource,
                 encode_instructions: Callable[[Sequence[str]], torch.Tensor]):
        self.cfg = cfg
        self.source = source
        self._encode = encode_instructions
        m = cfg.model
        self.horizon = m.horizon
        self.critic_horizon = cfg.critic_horizon
        self.cameras = list(m.cameras)
        h, w = m.image_size
        self._images = {cam: _Column((h, w, 3), np.uint8) for cam in self.cameras}
        self._proprio = _Column((m.proprio_dim,), np.float32)
        self._state = _Column((m.extra_state_dim,), np.float32)
        self._actions = _Column((m.action_dim,), np.float32)
        self._step_source = _Column((), np.uint8)
        self._step_rejected = _Column((), np.bool_)
        self._step_instr = _Column((), np.int64)
        self._cols: Dict[str, _Column] = {}
        for name, dtype in (('g', np.int64), ('ep', np.int64), ('t', np.int64),
                            ('g_next', np.int64),
                            ('g_last', np.int64), ('n_act', np.int64),
                            ('n_rew', np.int64), ('done', bool), ('truncated', bool),
                            ('ret', np.float32),
                            ('boot', np.float32), ('mc_return', np.float32), ('source', np.uint8),
                            ('human_frac', np.float32)):
            self._cols[name] = _Column((), dtype)
        self.instructions: List[str] = []
        self._task_table: Optional[torch.Tensor] = None
        self._seen = set()
        self.episode_ids: List[str] = []
        self.skipped_episodes: Dict[str, str] = {}

    def __len__(self) -> int:
        return self._cols['g'].size

    @property
    def num_steps(self) -> int:
        """Return the number of executed steps stored."""
        return self._actions.size

    def _instruction_id(self, text: str) -> int:
        if text not in self.instructions:
            row = self._encode([text])
            self._task_table = (row if self._task_table is None
                                else torch.cat([self._task_table, row]))
            self.instructions.append(text)
        return self.instructions.index(text)

    def _check_shapes(self, ep: Episode) -> None:
        m = self.cfg.model
        for cam in self.cameras:
            if cam not in ep.images:
                raise ValueError(f'episode {ep.episode_id}: camera {cam!r} (model.cameras) '
                                 'missing; '
                                 f'has {sorted(ep.images)}')
            shape = tuple(ep.images[cam].shape[1:])
            if shape != (m.image_size[0], m.image_size[1], 3):
                raise ValueError(f'episode {ep.episode_id}: images[{cam}] is {shape}, '
                                 'model.image_size wants '
                                 f'{tuple(m.image_size) + (3,)}')
        if ep.proprio.shape[1:] != (m.proprio_dim,):
            raise ValueError(f'episode {ep.episode_id}: proprio is {ep.proprio.shape[1:]}, '
                             f'model.proprio_dim = {m.proprio_dim}')
        if ep.actions.shape[1:] != (m.action_dim,):
            raise ValueError(f'episode {ep.episode_id}: actions are {ep.actions.shape[1:]}, '
                             f'model.action_dim = {m.action_dim}')
        if m.extra_state_dim:
            st = ep.extra.get('state')
            if st is None or st.shape != (len(ep), m.extra_state_dim):
                raise ValueError(f'episode {ep.episode_id}: extra["state"] must be ({len(ep)}, '
                                 f'{m.extra_state_dim}) (model.extra_state_dim), got '
                                 f'{None if st is None else st.shape}')

    def add_episode(self, ep: Episode) -> int:
        """Add one episode; return the number of transitions added (0 if skipped or empty)."""
        if ep.episode_id in self._seen:
            return 0
        self._seen.add(ep.episode_id)
        msg = check_finite(ep)
        if msg is not None:
            if self.cfg.data.on_nonfinite == 'error':
                raise NonFiniteDataError(msg)
            self.skipped_episodes[ep.episode_id] = msg
            LOG.warning('%s: episode skipped (data.on_nonfinite=skip)', msg)
            return 0
        if len(ep) == 0:
            return 0
        self._check_shapes(ep)
        d, c = self.cfg.data, self.cfg.critic
        tr: ChunkTransitions = build_transitions(ep, self.horizon, self.critic_horizon,
                                                 d.chunk_stride,
                                                 c.gamma, d.step_penalty, d.intervention_penalty)
        instr = self._instruction_id(ep.instruction)
        T = len(ep)
        g0 = self._actions.append(ep.actions.astype(np.float32))
        self._proprio.append(ep.proprio.astype(np.float32))
        self._state.append(ep.extra['state'].astype(np.float32) if self.cfg.model.extra_state_dim
                           else np.zeros((T, 0), np.float32))
        for cam in self.cameras:
            self._images[cam].append(ep.images[cam])
        self._step_source.append(ep.sources.astype(np.uint8))
        self._step_rejected.append(rejected_steps(ep, d.reject_before_takeover))
        self._step_instr.append(np.full(T, instr, dtype=np.int64))
        cols = self._cols
        cols['g'].append(g0 + tr.t)
        cols['ep'].append(np.full(len(tr), len(self.episode_ids), dtype=np.int64))
        cols['t'].append(tr.t)
        cols['g_next'].append(g0 + tr.next_t)
        cols['g_last'].append(np.full(len(tr), g0 + T - 1, dtype=np.int64))
        for name in ('n_act', 'n_rew', 'done', 'truncated', 'ret', 'boot', 'mc_return', 'source',
                     'human_frac'):
            cols[name].append(getattr(tr, name))
        self.episode_ids.append(ep.episode_id)
        return len(tr)

    def refresh(self) -> int:
        """Pull episodes not seen yet from the source; return how many were added."""
        added = 0
        for eid in self.source.episode_ids():
            if eid in self._seen:
                continue
            try:
                episode = self.source.load_episode(eid)
            except (ValueError, KeyError, OSError) as exc:
                # One unreadable episode (e.g. a malformed message recorded as received) must not
                # stop learning on every refresh: skip it like non-finite data, once, with the
                # reason.
                self._seen.add(eid)
                self.skipped_episodes[eid] = f'episode {eid} unreadable: {exc}'
                LOG.warning('%s: episode skipped', self.skipped_episodes[eid])
                continue
            self.add_episode(episode)
            added += 1 if eid not in self.skipped_episodes else 0
        return added

    def source_counts(self) -> Dict[str, int]:
        """Transitions per chunk source label name."""
        src = self._cols['source'].view()
        return {CHUNK_SOURCE_NAMES.get(int(s), str(int(s))): int((src == s).sum())
                for s in np.unique(src)}

    def sampling_probs(self) -> Optional[np.ndarray]:
        """
        Per-transition sampling probabilities, or None for uniform.

        ``balance_sources``: every chunk source label present gets equal total mass, scaled by
        ``source_weights[name]`` (default 1).
        """
        d = self.cfg.data
        if not d.balance_sources and not d.source_weights:
            return None
        src = self._cols['source'].view()
        p = np.zeros(len(src))
        for s in np.unique(src):
            sel = src == s
            w = d.source_weights.get(CHUNK_SOURCE_NAMES.get(int(s), str(int(s))), 1.0)
            p[sel] = w / sel.sum() if d.balance_sources else w
        if p.sum() <= 0:
            raise ValueError('data.source_weights give zero weight to every source in the replay')
        return p / p.sum()

    def gather_obs(self, g: np.ndarray) -> Dict[str, object]:
        """Observation batch (torch) for global step indices g."""
        obs = {'images': {cam: torch.from_numpy(self._images[cam].data[g])
                          for cam in self.cameras},
               'proprio': torch.from_numpy(self._proprio.data[g]),
               'task': self._task_table[torch.from_numpy(self._step_instr.data[g])]}
        if self.cfg.model.extra_state_dim:
            obs['state'] = torch.from_numpy(self._state.data[g])
        return obs

    def batch(self, rows: np.ndarray) -> Batch:
        """Materialise transition rows as a Batch."""
        c = {k: col.data[rows] for k, col in self._cols.items()}
        k = np.arange(self.horizon)
        act_idx = np.minimum(c['g'][:, None] + k[None, :], c['g_last'][:, None])
        act_mask = k[None, :] < c['n_act'][:, None]
        human = (self._step_source.data[act_idx] == 1) & act_mask
        # Steps the operator rejected by taking over (data.reject_before_takeover) are not
        # imitated.
        act_mask &= ~self._step_rejected.data[act_idx]
        # A window cut by termination shows the critic a full mask: termination is an outcome, not
        # an
        # input (a mask would leak it). A window shortened at a truncation masks the unused steps.
        n_eval = np.where(c['done'], self.critic_horizon, np.maximum(c['n_rew'], 1))
        crit_mask = np.arange(self.critic_horizon)[None, :] < n_eval[:, None]
        f = torch.from_numpy
        return Batch(obs=self.gather_obs(c['g']), next_obs=self.gather_obs(c['g_next']),
                     actions=f(self._actions.data[act_idx]),
                     act_mask=f(act_mask.astype(np.float32)),
                     crit_mask=f(crit_mask.astype(np.float32)), ret=f(c['ret']), boot=f(c['boot']),
                     done=f(c['done'].astype(np.float32)), mc_return=f(c['mc_return']),
                     source=f(c['source']), human_step=f(human.astype(np.float32)), index=rows)

    def sample(self, batch_size: int, rng: np.random.Generator, human_only: bool = False) -> Batch:
        """
        Sample a batch (uniform, or balanced by source per config).

        ``human_only`` restricts sampling to chunks with at least one human step (HG-DAgger).
        """
        if len(self) == 0:
            raise RuntimeError('replay is empty: no transitions to sample '
                               '(refresh() found no usable episode)')
        p = self.sampling_probs()
        if human_only:
            keep = self._cols['human_frac'].view() > 0
            if not keep.any():
                raise RuntimeError('replay holds no human steps: HG-DAgger has nothing to imitate')
            p = np.where(keep, 1.0 if p is None else p, 0.0)
            p = p / p.sum()
        rows = rng.choice(len(self), size=batch_size, replace=True, p=p)
        return self.batch(rows)

    def describe_rows(self, rows: np.ndarray, limit: int = 3) -> str:
        """Name the episodes and start steps of some transition rows (for error messages)."""
        ep, t = self._cols['ep'].data[rows], self._cols['t'].data[rows]
        return ', '.join(f'episode {self.episode_ids[e]} step {s}' for e,
                         s in list(zip(ep, t))[:limit])

    def stats(self) -> Dict[str, tuple]:
        """Mean/std of proprio, extra state and actions over all stored steps (normalisation)."""
        out = {}
        for name, col in (('proprio', self._proprio), ('state', self._state),
                          ('action', self._actions)):
            x = col.view().astype(np.float64)
            out[name] = (torch.from_numpy(x.mean(0) if len(x) else np.zeros(x.shape[1])).float(),
                         torch.from_numpy(x.std(0) if len(x) else np.ones(x.shape[1])).float())
        return out

    def nbytes(self) -> int:
        """Bytes held by stored steps and transitions."""
        cols = [self._proprio, self._state, self._actions, self._step_source, self._step_rejected,
                self._step_instr]
        cols += list(self._images.values()) + list(self._cols.values())
        return sum(c.nbytes for c in cols)

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
Robot-side policy runtime: verify and load an exported actor, act on one observation.

Observation dict (one robot tick), as the policy node builds it::

    {'images': {cam: uint8 (h, w, 3)},     # every cam in model.cameras, at model.image_size
     'proprio': float (P,),
     'instruction': str,
     'state': float (E,)}                  # only when model.extra_state_dim E > 0

``act`` returns the chunk as float32 (H, D) numpy in robot units.
"""

from typing import Dict, Optional

import numpy as np
import torch

from .checkpoint import FORMAT, ChecksumError, ConfigMismatchError, bytes_to_tensors, read_verified
from .config import (ConfigError, LearnerConfig, config_from_dict, diff_model_configs,
                     model_config_hash)
from .models import FlowMatchingPolicy


def obs_to_batch(policy, cfg: LearnerConfig, obs: Dict[str, object],
                 task_cache: Optional[dict] = None):
    """Convert one observation dict into a batch-1 network input; errors name the missing key."""
    m = cfg.model
    images = obs.get('images', {})
    batch = {'images': {}}
    for cam in m.cameras:
        if cam not in images:
            raise KeyError(f"obs['images'] lacks camera {cam!r} (model.cameras = {m.cameras})")
        img = np.asarray(images[cam])
        if img.dtype != np.uint8 or img.shape != (m.image_size[0], m.image_size[1], 3):
            raise ValueError(f"obs['images'][{cam!r}] must be uint8 {tuple(m.image_size) + (3,)}, "
                             f'got {img.dtype} {img.shape}')
        batch['images'][cam] = torch.from_numpy(np.ascontiguousarray(img))[None]
    proprio = np.asarray(obs['proprio'], dtype=np.float32).reshape(-1)
    if proprio.shape != (m.proprio_dim,):
        raise ValueError(f"obs['proprio'] must have {m.proprio_dim} values, got {proprio.shape}")
    batch['proprio'] = torch.from_numpy(proprio)[None]
    if m.extra_state_dim:
        state = np.asarray(obs['state'], dtype=np.float32).reshape(-1)
        if state.shape != (m.extra_state_dim,):
            raise ValueError(f"obs['state'] must have {m.extra_state_dim} values, got "
                             f"{state.shape}")
        batch['state'] = torch.from_numpy(state)[None]
    instr = obs.get('instruction', '')
    if task_cache is not None and instr in task_cache:
        batch['task'] = task_cache[instr]
    else:
        batch['task'] = policy.encode_instructions([instr])
        if task_cache is not None:
            task_cache[instr] = batch['task']
    return batch


class ActorRuntime:
    """A loaded, verified actor for inference on the robot (batch 1, no gradients)."""

    def __init__(self, policy: FlowMatchingPolicy, cfg: LearnerConfig, sha256: str,
                 config_hash: str,
                 version: int):
        if cfg.actor.select_best_of != 1:
            raise ValueError(
                f'actor.select_best_of = {cfg.actor.select_best_of}: choosing among sampled '
                'chunks needs the critic at acting time, and an exported actor carries no '
                'critic; the policy node does not support it (set it to 1 for the robot)')
        self.policy = policy.eval()
        self.cfg = cfg
        self.sha256 = sha256
        self.config_hash = config_hash
        self.version = version
        self.horizon = cfg.model.horizon
        self.action_dim = cfg.model.action_dim
        self._generator = torch.Generator().manual_seed(cfg.seed)
        self._task_cache: Dict[str, torch.Tensor] = {}

    def seed(self, seed: int) -> None:
        """Reseed the sampler's noise (same seed + same obs = same chunk)."""
        self._generator.manual_seed(seed)

    @torch.inference_mode()
    def act(self, obs: Dict[str, object]) -> np.ndarray:
        """Return an action chunk (H, D) float32 for one observation dict (module docstring)."""
        batch = obs_to_batch(self.policy, self.cfg, obs, self._task_cache)
        chunk = self.policy.sample(batch, generator=self._generator)[0].numpy().astype(np.float32)
        if not np.all(np.isfinite(chunk)):
            raise FloatingPointError(f'policy v{self.version} produced a non-finite chunk')
        return chunk


def load_actor(path: str, expected_sha256: str,
               expected_config_hash: Optional[str] = None) -> ActorRuntime:
    """
    Verify (sha256, format, config hash) and load an exported actor; never unpickles.

    Raises ChecksumError when the bytes do not hash to ``expected_sha256`` and ConfigMismatchError
    when ``expected_config_hash`` differs from the file's model config.
    """
    if not expected_sha256:
        raise ChecksumError(f'{path}: an expected sha256 is required to load an actor')
    data, digest = read_verified(path, expected_sha256)
    tensors, meta = bytes_to_tensors(data)
    if meta.get('format') != FORMAT:
        raise ValueError(f'{path}: format {meta.get("format")!r} is not {FORMAT!r}')
    try:
        cfg = config_from_dict(meta['config'])
    except ConfigError as exc:
        raise ConfigMismatchError(f'{path}: embedded config invalid for this version: '
                                  f'{exc}') from exc
    chash = model_config_hash(cfg.model)
    if chash != meta.get('config_hash'):
        raise ConfigMismatchError(f'{path}: embedded config_hash does not match its config')
    if expected_config_hash is not None and chash != expected_config_hash:
        raise ConfigMismatchError(f'{path}: config_hash {chash} differs from expected '
                                  f'{expected_config_hash}')
    policy = FlowMatchingPolicy(cfg.model)
    _load_strict(policy, tensors, path)
    return ActorRuntime(policy, cfg, digest, chash, int(meta.get('version', 0)))


def _load_strict(module: torch.nn.Module, tensors: Dict[str, torch.Tensor], what: str) -> None:
    """Load a state dict, failing with the first missing/unexpected/mis-shaped key."""
    own = module.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        raise ConfigMismatchError(f'{what}: weights do not fit the model (missing {missing[:3]}, '
                                  f'unexpected {extra[:3]})')
    for k, v in own.items():
        if v.shape != tensors[k].shape:
            raise ConfigMismatchError(f'{what}: {k} has shape {tuple(tensors[k].shape)}, model '
                                      'wants '
                                      f'{tuple(v.shape)}')
    module.load_state_dict(tensors, strict=True)


def check_model_config(expected: LearnerConfig, found: Dict[str, object], what: str) -> None:
    """Raise ConfigMismatchError naming every model field that differs."""
    fields = diff_model_configs(expected.to_dict()['model'], found)
    if fields:
        raise ConfigMismatchError(f'{what}: config mismatch in {", ".join(fields)}; refused')

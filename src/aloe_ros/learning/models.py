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
Networks: observation encoder, chunked flow-matching policy, Q-ensemble critic.

Observation batch (what every network takes), B = batch size:

- ``images``: ``{cam: uint8 (B, h, w, 3)}`` for each of ``model.cameras`` (may be empty).
- ``proprio``: float32 (B, P).
- ``task``: what ``TaskEncoder.encode_instructions`` returns, one row per sample.
- ``state``: float32 (B, E), present when ``model.extra_state_dim`` E > 0.

Actions enter and leave the policy in robot units (B, H, D); internally they are normalised
with statistics fitted once from the data (``set_normalization``) and stored as buffers, so
they travel with the weights.

To plug in a different (larger, VLA) actor, implement the ``Policy`` protocol below; see
docs/PLUGGING_A_VLA.md.
"""

import math
from typing import Dict, Optional, Protocol, Sequence, runtime_checkable

import torch
from torch import nn
from torch.nn import functional as F

from .config import ModelConfig
from .task_embedding import TaskEncoder

Obs = Dict[str, object]


@runtime_checkable
class Policy(Protocol):
    """
    What the learner and the runtime need from an actor.

    A VLA backbone plugs in by implementing these members (as an ``nn.Module``):

    - ``horizon`` (H) and ``action_dim`` (D) attributes.
    - ``flow_loss(obs, actions, mask) -> (B,)``: per-sample generative loss of the executed chunk
      (flow matching here; any per-sample surrogate whose minimisation raises the chunk's
      likelihood works, since ALOE only re-weights it by ``w = min(exp(A / beta), w_max)``).
    - ``sample(obs, generator=None, num_samples=1) -> (num_samples * B, H, D)`` chunks in robot
      units, sample-major (row j * B + b is sample j for observation b).
    - ``encode_instructions(list[str]) -> Tensor``: the ``task`` entry of an observation batch.
    - ``set_normalization(stats)``: receive data statistics once (may ignore them).
    """

    horizon: int
    action_dim: int

    def flow_loss(self, obs: Obs, actions: torch.Tensor, mask: torch.Tensor,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Return the per-sample loss (B,) of actions (B, H, D) with step mask (B, H)."""

    def sample(self, obs: Obs, generator: Optional[torch.Generator] = None,
               num_samples: int = 1) -> torch.Tensor:
        """Return sampled chunks (num_samples * B, H, D) in robot units, sample-major."""

    def encode_instructions(self, instructions: Sequence[str]) -> torch.Tensor:
        """Return the network's task input for each instruction."""

    def set_normalization(self, stats: Dict[str, torch.Tensor]) -> None:
        """Set normalisation statistics (keys: proprio, state, action; each (mean, std))."""


class Normalizer(nn.Module):
    """
    Affine normaliser ``(x - mean) / std`` with statistics kept as buffers.

    ``std_floor``: a dimension whose std is below it (a joint the demonstrations never moved,
    e.g. a forearm roll) is scaled by the floor instead, so a small drift at run time cannot
    turn into a huge input (a 1e-3 floor put such inputs at z = 6-13). ``clip``: normalised
    values are clamped to [-clip, clip] (0 = no clamp); use it for inputs, not for targets.
    """

    def __init__(self, dim: int, std_floor: float = 1e-3, clip: float = 0.0):
        super().__init__()
        self.std_floor = float(std_floor)
        self.clip = float(clip)
        self.register_buffer('mean', torch.zeros(dim))
        self.register_buffer('std', torch.ones(dim))

    def set(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Copy statistics in; a std below ``std_floor`` is raised to it (near-constant dims)."""
        self.mean.copy_(mean.float())
        self.std.copy_(std.float().clamp_min(self.std_floor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise (and clamp when ``clip`` > 0)."""
        z = (x - self.mean) / self.std
        return z.clamp(-self.clip, self.clip) if self.clip > 0 else z

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation."""
        return x * self.std + self.mean


class ImageEncoder(nn.Module):
    """
    Small strided CNN for one camera: uint8 (B, h, w, 3) -> (B, feature_dim).

    A 4x4 stride-4 "patchify" stem, then 3x3 stride-2 convolutions: at 64x64 the default
    [16, 32, 64] costs ~0.8 M multiply-adds per image (CPU training at batch 256 stays tractable).
    """

    def __init__(self, channels: Sequence[int], image_size: Sequence[int], feature_dim: int):
        super().__init__()
        layers, c_in = [], 3
        for i, c_out in enumerate(channels):
            if i == 0:
                layers += [nn.Conv2d(c_in, c_out, 4, stride=4), nn.GELU()]
            else:
                layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.GELU()]
            c_in = c_out
        self.conv = nn.Sequential(*layers)
        with torch.no_grad():
            n = self.conv(torch.zeros(1, 3, *image_size)).numel()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(n, feature_dim),
                                  nn.LayerNorm(feature_dim))

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        """Encode; pixels are scaled to [-1, 1] here so the replay can keep uint8."""
        x = img.permute(0, 3, 1, 2).float() * (2.0 / 255.0) - 1.0
        return self.head(self.conv(x))


class ObservationEncoder(nn.Module):
    """Per-camera CNNs + proprio + task embedding (+ extra state) -> (B, obs_dim)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cameras = list(cfg.cameras)
        self.cams = nn.ModuleDict({
            cam: ImageEncoder(cfg.cnn_channels, cfg.image_size, cfg.image_feature_dim)
            for cam in self.cameras})
        self.task = TaskEncoder(cfg.task_embedding, cfg.instructions, cfg.task_dim)
        self.proprio_norm = Normalizer(cfg.proprio_dim, cfg.norm_std_floor, cfg.norm_clip)
        self.state_dim = cfg.extra_state_dim
        self.state_norm = Normalizer(cfg.extra_state_dim, cfg.norm_std_floor, cfg.norm_clip)
        n_in = (len(self.cameras) * cfg.image_feature_dim + cfg.proprio_dim + cfg.task_dim
                + cfg.extra_state_dim)
        self.trunk = nn.Sequential(nn.Linear(n_in, cfg.obs_dim), nn.LayerNorm(cfg.obs_dim),
                                   nn.GELU(),
                                   nn.Linear(cfg.obs_dim, cfg.obs_dim), nn.GELU())
        self.out_dim = cfg.obs_dim

    def forward(self, obs: Obs) -> torch.Tensor:
        """Encode a batch of observations (see module docstring)."""
        parts = [self.cams[cam](obs['images'][cam]) for cam in self.cameras]
        parts.append(self.proprio_norm(obs['proprio'].float()))
        parts.append(self.task(obs['task']))
        if self.state_dim:
            parts.append(self.state_norm(obs['state'].float()))
        return self.trunk(torch.cat(parts, dim=-1))


def _time_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of flow time t in [0, 1]: (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32, device=t.device)
                      * (-math.log(1000.0) / half))
    ang = t[:, None] * 1000.0 * freqs[None, :]
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


class FlowMatchingPolicy(nn.Module):
    """
    Chunked flow-matching actor: a velocity field over a normalised H x D chunk.

    Straight-path (rectified) flow: ``x_0 ~ N(0, I)``, ``x_1`` = normalised expert chunk,
    ``x_t = (1 - t) x_0 + t x_1``. Sampling integrates ``dx/dt = v(x_t, t, obs)`` from t = 0 to 1
    with ``model.flow_steps`` Euler steps. ``model.flow_target`` says what the network outputs:

    - ``sample`` (default, x1-prediction): the clean chunk ``x1_hat(x_t, t, obs)``, trained with
      ``|| x1_hat - x_1 ||^2``; the velocity is ``(x1_hat - x_t) / (1 - t)``, so the last Euler
      step lands exactly on the prediction and no sampling noise survives into the chunk. A small
      MLP fits this target easily (the velocity target needs the net to represent the whole
      noise-to-data contraction; with a 256-wide net narrower than H x D = 280 it kept most of the
      initial noise, see docs/PLUGGING_A_VLA.md).
    - ``velocity``: the network outputs ``v`` directly, trained with ``|| v - (x_1 - x_0) ||^2``.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.horizon = cfg.horizon
        self.action_dim = cfg.action_dim
        self.flow_steps = cfg.flow_steps
        self.flow_target = cfg.flow_target
        self.encoder = ObservationEncoder(cfg)
        self.action_norm = Normalizer(cfg.action_dim, cfg.norm_std_floor)
        n_act = cfg.horizon * cfg.action_dim
        layers, n_in = [], n_act + cfg.time_embed_dim + cfg.obs_dim
        for _ in range(cfg.flow_layers):
            layers += [nn.Linear(n_in, cfg.flow_hidden), nn.GELU()]
            n_in = cfg.flow_hidden
        layers.append(nn.Linear(n_in, n_act))
        self.velocity_net = nn.Sequential(*layers)

    def encode_instructions(self, instructions: Sequence[str]) -> torch.Tensor:
        """See ``TaskEncoder.encode_instructions``."""
        return self.encoder.task.encode_instructions(instructions)

    def set_normalization(self, stats: Dict[str, torch.Tensor]) -> None:
        """Set proprio/state/action statistics: ``stats[name] = (mean, std)``."""
        self.encoder.proprio_norm.set(*stats['proprio'])
        self.action_norm.set(*stats['action'])
        if self.encoder.state_dim:
            self.encoder.state_norm.set(*stats['state'])

    def network(self, x: torch.Tensor, t: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        """Raw network output for flat chunks x (B, H*D): x1_hat or v, per ``flow_target``."""
        return self.velocity_net(torch.cat([x, _time_embedding(t, self.cfg.time_embed_dim), feat],
                                           dim=-1))

    def velocity(self, x: torch.Tensor, t: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        """Velocity v(x_t, t, obs) for flat chunks x (B, H*D)."""
        out = self.network(x, t, feat)
        if self.flow_target == 'sample':
            return (out - x) / (1.0 - t[:, None]).clamp_min(1e-3)
        return out

    def flow_loss(self, obs: Obs, actions: torch.Tensor, mask: torch.Tensor,
                  generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """
        Per-sample flow-matching loss (B,), averaged over real (mask = 1) steps only.

        ``sample``: ``L = mean_{k: mask_k} || x1_hat(x_t, t, s)_k - x_{1,k} ||^2``;
        ``velocity``: ``L = mean_{k: mask_k} || v_theta(x_t, t, s)_k - (x_1 - x_0)_k ||^2``.
        """
        b = actions.shape[0]
        x1 = self.action_norm(actions).reshape(b, -1)
        x0 = torch.randn(x1.shape, generator=generator, device=x1.device)
        t = torch.rand(b, generator=generator, device=x1.device)
        xt = (1.0 - t[:, None]) * x0 + t[:, None] * x1
        target = x1 if self.flow_target == 'sample' else x1 - x0
        err = (self.network(xt, t, self.encoder(obs))
               - target).reshape(b, self.horizon, self.action_dim)
        per_step = err.pow(2).mean(-1)
        m = mask.float()
        return (per_step * m).sum(-1) / m.sum(-1).clamp_min(1.0)

    def sample(self, obs: Obs, generator: Optional[torch.Generator] = None,
               num_samples: int = 1) -> torch.Tensor:
        """
        Euler-integrate the flow from noise: chunks (num_samples * B, H, D) in robot units.

        ``x_{i+1} = x_i + dt * v_theta(x_i, i dt, s)``, ``dt = 1 / flow_steps``. With num_samples
        N > 1 the observation is encoded once and rows are sample-major (row j * B + b = sample j
        of obs b).
        """
        feat = self.encoder(obs)
        if num_samples > 1:
            feat = feat.repeat(num_samples, 1)
        b = feat.shape[0]
        x = torch.randn(b, self.horizon * self.action_dim, generator=generator, device=feat.device)
        dt = 1.0 / self.flow_steps
        for i in range(self.flow_steps):
            t = torch.full((b,), i * dt, device=feat.device)
            x = x + dt * self.velocity(x, t, feat)
        return self.action_norm.inverse(x.reshape(b, self.horizon, self.action_dim))


class EnsembleLinear(nn.Module):
    """K independent linear layers in one batched matmul: (K, B, n_in) -> (K, B, n_out)."""

    def __init__(self, k: int, n_in: int, n_out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(k, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(k, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply each head's layer to its slice."""
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleLayerNorm(nn.Module):
    """Layer normalisation over features with a separate gain and bias per head: (K, B, n)."""

    def __init__(self, k: int, n: int):
        super().__init__()
        self.n = n
        self.weight = nn.Parameter(torch.ones(k, 1, n))
        self.bias = nn.Parameter(torch.zeros(k, 1, n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each head's features, then apply that head's gain and bias."""
        return F.layer_norm(x, (self.n,)) * self.weight + self.bias


class QEnsemble(nn.Module):
    """
    K Q-heads over (observation, action chunk of ``critic_horizon`` steps).

    ``Q_i(s, a_{t:t+Hc})`` for i < K. The heads share one observation encoder (the critic's own,
    separate from the actor's); each head is an independent MLP on [obs feature, normalised
    chunk, step mask]. With ``use_action=False`` it is a state-value ensemble V_i(s) (RECAP).
    """

    def __init__(self, cfg: ModelConfig, critic_horizon: int, use_action: bool = True,
                 layer_norm: bool = False):
        super().__init__()
        self.num_heads = cfg.num_q_heads
        self.critic_horizon = critic_horizon
        self.action_dim = cfg.action_dim
        self.use_action = use_action
        self.encoder = ObservationEncoder(cfg)
        self.action_norm = Normalizer(cfg.action_dim, cfg.norm_std_floor, cfg.norm_clip)
        n_in = cfg.obs_dim + (critic_horizon * (cfg.action_dim + 1) if use_action else 0)
        layers = []
        for _ in range(cfg.critic_layers):
            layers.append(EnsembleLinear(self.num_heads, n_in, cfg.critic_hidden))
            if layer_norm:
                layers.append(EnsembleLayerNorm(self.num_heads, cfg.critic_hidden))
            layers.append(nn.GELU())
            n_in = cfg.critic_hidden
        layers.append(EnsembleLinear(self.num_heads, n_in, 1))
        self.heads = nn.Sequential(*layers)

    def set_normalization(self, stats: Dict[str, torch.Tensor]) -> None:
        """Set proprio/state/action statistics (same as the actor's)."""
        self.encoder.proprio_norm.set(*stats['proprio'])
        self.action_norm.set(*stats['action'])
        if self.encoder.state_dim:
            self.encoder.state_norm.set(*stats['state'])

    def forward(self, obs: Obs, actions: Optional[torch.Tensor] = None,
                mask: Optional[torch.Tensor] = None,
                feat: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Return per-head values (K, B) for chunks (B, Hc, D) with step mask (B, Hc)."""
        if feat is None:
            feat = self.encoder(obs)
        x = feat
        if self.use_action:
            b = feat.shape[0]
            a = actions[:, :self.critic_horizon]
            if mask is None:
                mask = torch.ones(b, a.shape[1], device=feat.device)
            m = mask[:, :self.critic_horizon].float()
            a = self.action_norm(a) * m[..., None]
            x = torch.cat([feat, a.reshape(b, -1), m], dim=-1)
        x = x.unsqueeze(0).expand(self.num_heads, -1, -1)
        return self.heads(x).squeeze(-1)

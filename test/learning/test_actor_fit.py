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
The flow-matching actor fits its chunks: temperature-1 samples reproduce a tiny dataset.

The velocity-target MLP kept most of the sampling noise in its chunks (issue 12: 0.053 rad
first-10-step
error sampled at temperature 1 vs 0.019 integrated from x0 = 0); the x1-prediction target must not.
"""

import torch

from aloe_ros.learning.models import FlowMatchingPolicy, Normalizer

from learning_helpers import tiny_config

# Stated error bound of the test: RMS over every step and joint, in robot units, of chunks whose
# values have unit spread. A sample keeping even 10% of its initial noise would exceed it.
FIT_RMS = 0.05


def _fit(flow_target: str, steps: int = 1500) -> float:
    torch.manual_seed(0)
    cfg = tiny_config(**{'model.cameras': [], 'model.proprio_dim': 2, 'model.action_dim': 3,
                         'model.horizon': 6, 'model.flow_steps': 5, 'model.flow_hidden': 64,
                         'model.flow_target': flow_target})
    policy = FlowMatchingPolicy(cfg.model)
    gen = torch.Generator().manual_seed(0)
    n = 4   # four observations, each with its own fixed chunk (a deterministic expert)
    proprio = torch.randn(n, 2, generator=gen)
    chunks = torch.randn(n, 6, 3, generator=gen)
    flat = chunks.reshape(-1, 3)
    policy.set_normalization({'proprio': (proprio.mean(0), proprio.std(0)),
                              'action': (flat.mean(0), flat.std(0))})
    opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
    obs = {'images': {}, 'proprio': proprio.repeat(16, 1),
           'task': torch.zeros(16 * n, dtype=torch.long)}
    target = chunks.repeat(16, 1, 1)
    mask = torch.ones(16 * n, 6)
    for _ in range(steps):
        loss = policy.flow_loss(obs, target, mask, generator=gen).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        samples = policy.sample({'images': {}, 'proprio': proprio,
                                 'task': torch.zeros(n, dtype=torch.long)},
                                generator=gen, num_samples=8)
    return float((samples - chunks.repeat(8, 1, 1)).pow(2).mean().sqrt())


def test_sampled_chunks_reproduce_a_tiny_dataset_at_temperature_one():
    rms = _fit('sample')
    assert rms < FIT_RMS, (f'temperature-1 samples are {rms:.3f} RMS from the data '
                           f'(bound {FIT_RMS})')


def test_normaliser_floor_keeps_near_constant_inputs_bounded():
    norm = Normalizer(2, std_floor=0.05, clip=10.0)
    # joint 0 never moved in the data
    norm.set(torch.tensor([0.0, 1.0]), torch.tensor([0.0, 0.5]))
    z = norm(torch.tensor([[0.02, 1.5], [5.0, 1.0]]))
    # a 0.02 rad drift: z = 0.4, not 20
    assert torch.allclose(z[0], torch.tensor([0.4, 1.0]))
    assert float(z.abs().max()) <= 10.0                              # far outside: clamped

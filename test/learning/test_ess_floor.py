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

"""The advantage weighting keeps its effective sample size above the configured floor."""

import torch

from aloe_ros.learning.actor_update import (effective_sample_size, ess_weights,
                                            normalize_advantages,
                                            weighted_flow_loss)


def _skewed_batch(n: int = 256) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    adv = torch.randn(n, generator=gen) * 0.01
    # three chunks the critic loves: exp(A / 0.05) would put ~all mass on them
    adv[:3] = 5.0
    return adv


def test_fixed_beta_collapses_on_a_skewed_batch():
    w, beta = ess_weights(_skewed_batch(), beta=0.05, w_max=1e6, target_ess=0.0)
    assert beta == 0.05
    assert effective_sample_size(w) < 0.05


def test_target_ess_raises_beta_until_the_floor_holds():
    for target in (0.25, 0.5, 0.8):
        w, beta = ess_weights(_skewed_batch(), beta=0.05, w_max=1e6, target_ess=target)
        ess = effective_sample_size(w)
        assert ess >= target - 1e-6, (target, ess)
        assert ess < target + 0.05, 'beta raised far more than needed'
        assert beta > 0.05
        # The order of the weights is kept: the high-advantage chunks still weigh the most.
        assert float(w[:3].min()) >= float(w[3:].max())


def test_target_ess_never_lowers_beta():
    adv = torch.linspace(-1, 1, 64)
    w, beta = ess_weights(adv, beta=10.0, w_max=20.0, target_ess=0.5)
    assert beta == 10.0 and effective_sample_size(w) > 0.9


def test_normalised_advantages_and_self_normalised_loss():
    z = normalize_advantages(torch.tensor([1.0, 2.0, 3.0, 4.0]) * 1e3)
    assert abs(float(z.mean())) < 1e-6 and abs(float(z.std(unbiased=False)) - 1) < 1e-5
    assert torch.equal(normalize_advantages(torch.full((5,), 3.0)), torch.zeros(5))
    per = torch.tensor([1.0, 3.0])
    assert float(weighted_flow_loss(per, torch.tensor([10.0, 10.0]), normalize=True)) == 2.0
    assert float(weighted_flow_loss(per, torch.tensor([10.0, 10.0]))) == 20.0

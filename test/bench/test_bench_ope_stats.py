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

"""The OPE bench's statistics: bootstrap intervals, ground-truth reliability, metrics (no sim)."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'bench'))

import bench_ope as B  # noqa: E402


def test_metrics_of_a_perfect_and_a_biased_estimator():
    rng = np.random.default_rng(0)
    v_gt, q_gt = rng.uniform(0, 1, 50), rng.uniform(0, 1, 50)
    m = B.metrics(v_gt, q_gt, v_gt, q_gt)
    assert m['rmse_v'] == 0.0 and m['rmse_q'] == 0.0 and m['spearman_adv'] == 1.0
    m = B.metrics(v_gt + 0.2, q_gt + 0.2, v_gt, q_gt)
    assert abs(m['rmse_v'] - 0.2) < 1e-12 and abs(m['bias_q'] - 0.2) < 1e-12
    assert abs(m['spearman_adv'] - 1.0) < 1e-12 and abs(m['spearman_v'] - 1.0) < 1e-12


def test_bootstrap_interval_covers_the_truth_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (30, 300):
        x = rng.normal(0.5, 1.0, n)
        lo, hi = B.percentile_ci([x[i].mean() for i in B.resamples(n, 500, seed=2)])
        assert lo < x.mean() < hi
        widths.append(hi - lo)
        # The percentile interval of a mean is about +-1.96 standard errors.
        assert 0.6 < (hi - lo) / (2 * 1.96 * x.std(ddof=1) / np.sqrt(n)) < 1.4
    assert widths[1] < 0.5 * widths[0]


def test_with_cis_pairs_estimators_on_the_same_resamples():
    rng = np.random.default_rng(3)
    v_gt, q_gt = rng.uniform(0, 1, 40), rng.uniform(0, 1, 40)
    est = {'good': (v_gt + rng.normal(0, 0.05, 40), q_gt + rng.normal(0, 0.05, 40)),
           'bad': (v_gt + rng.normal(0, 0.3, 40), q_gt + rng.normal(0, 0.3, 40))}
    draws = B.resamples(40, 300, seed=4)
    res, samples = B.with_cis(est, v_gt, q_gt, draws)
    for name in est:
        for key in B.METRIC_KEYS:
            lo, hi = res[name]['ci'][key]
            assert lo <= hi and len(samples[name][key]) == len(draws)
    assert res['good']['ci']['rmse_v'][1] < res['bad']['ci']['rmse_v'][0]
    ratio = samples['bad']['rmse_v'] / samples['good']['rmse_v']
    assert np.all(ratio > 1.0)


def test_ground_truth_reliability_separates_signal_from_noise():
    rng = np.random.default_rng(5)
    k, n = 200, 16
    v_true, a_true = rng.uniform(0.2, 0.8, k), rng.uniform(-0.2, 0.2, k)
    v_ret = (rng.uniform(size=(k, n)) < v_true[:, None]).astype(float)
    q_ret = (rng.uniform(size=(k, n)) < (v_true + a_true)[:, None]).astype(float)
    signal = B.gt_quality(v_ret, q_ret)
    noise = B.gt_quality(np.full((k, n), 0.5) + 0 * v_ret,
                         (rng.uniform(size=(k, n)) < 0.5).astype(float))
    assert signal['reliability_adv'] > 0.3 and abs(noise['reliability_adv']) < 0.3
    # Bernoulli(p) means of n draws: standard error sqrt(p (1 - p) / n) <= 0.5 / sqrt(n).
    assert 0.0 < signal['rms_se_v'] <= 0.5 / np.sqrt(n) * 1.1
    assert noise['rms_se_v'] == 0.0

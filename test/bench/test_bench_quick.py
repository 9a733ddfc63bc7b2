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

"""The sim benchmarks run end to end at their ``--quick`` size; results complete and finite."""

import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(script, out_dir, *extra):
    env = dict(os.environ, MUJOCO_GL=os.environ.get('MUJOCO_GL', 'egl'), OMP_NUM_THREADS='1')
    cmd = [sys.executable, os.path.join(ROOT, 'bench', script), '--quick', '--out', str(out_dir),
           *extra]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f'{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout


def _finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.mark.slow
def test_bench_ope_quick(tmp_path):
    out = _run('bench_ope.py', tmp_path)
    assert 'rmse V' in out and 'target rmse_V(recap)' in out and 'target Spearman(A, aloe)' in out
    with open(tmp_path / 'bench_ope.json', encoding='utf-8') as f:
        res = json.load(f)
    sizes = res['sizes']
    assert res['size'] == 'quick' and 0 < res['states'] <= sizes['states']
    for method in ('aloe', 'recap', 'td1', 'mixture_mc_return'):
        r = res['methods'][method]
        for key in ('rmse_v', 'bias_v', 'rmse_q', 'bias_q', 'spearman_adv', 'spearman_v',
                    'spearman_q'):
            assert _finite(r[key]), (method, key)
            lo, hi = r['ci'][key]
            assert _finite(lo) and _finite(hi) and lo <= hi, (method, key, lo, hi)
        for key in ('spearman_adv', 'spearman_v', 'spearman_q'):
            assert -1.0 <= r['ci'][key][0] <= r['ci'][key][1] <= 1.0
        # RMSE >= |bias| for the same errors: the two are computed from one set of residuals.
        assert r['rmse_v'] >= abs(r['bias_v']) - 1e-9 and r['rmse_q'] >= abs(r['bias_q']) - 1e-9
    # The stored per-state estimates reproduce the reported figures.
    ps = res['per_state']
    v_gt, v = ps['v_gt'], ps['aloe']['v']
    assert len(v) == len(v_gt) == len(ps['q_gt']) == res['states']
    rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(v, v_gt)) / len(v))
    assert abs(rmse - res['methods']['aloe']['rmse_v']) < 1e-6
    # Ground truth is a discounted sparse success return averaged over the rollouts: in [0, 1].
    assert all(0.0 <= x <= 1.0 for x in v_gt + ps['q_gt'])
    # Every critic was scored every track_every updates up to critic_steps; recap's estimate is
    # deterministic (no sampled actions), so its last curve point is the reported figure.
    for method in ('aloe', 'recap', 'td1'):
        steps = [p['steps'] for p in res['curves'][method]]
        assert steps == list(range(sizes['track_every'], sizes['critic_steps'] + 1,
                                   sizes['track_every'])), (method, steps)
    assert abs(res['curves']['recap'][-1]['rmse_v'] - res['methods']['recap']['rmse_v']) < 1e-9
    assert res['gt_quality']['rms_se_v'] >= 0.0 and res['gt_quality']['rms_se_q'] >= 0.0
    # pi's success rate: a count over its evaluation episodes, with its range check stated.
    pi = res['pi']
    assert pi['episodes'] == sizes['pi_eval'] and pi['success_rate'] == res['pi_success_rate']
    assert abs(pi['success_rate'] * pi['episodes']
               - round(pi['success_rate'] * pi['episodes'])) < 1e-9
    assert pi['in_range'] == (pi['range'][0] <= pi['success_rate'] <= pi['range'][1])
    # Target verdicts follow from the measured values (not stored independently).
    t = res['targets']
    assert set(t) == {'ratio_rmse_v_recap_over_aloe', 'spearman_adv_aloe'}
    for v in t.values():
        assert v['met'] == (v['value'] >= v['threshold']) and v['ci'][0] <= v['ci'][1]
    assert abs(t['ratio_rmse_v_recap_over_aloe']['value'] - res['methods']['recap']['rmse_v']
               / res['methods']['aloe']['rmse_v']) < 1e-6
    assert t['spearman_adv_aloe']['value'] == res['methods']['aloe']['spearman_adv']
    assert res['target_met'] == all(v['met'] for v in t.values())
    assert res['mixture']['episodes'] > 0 and 0.0 < res['mixture']['human_step_frac'] <= 1.0
    # make_report renders the new keys (intervals, pi's range check, both targets).
    md = tmp_path / 'B.md'
    cmd = [sys.executable, os.path.join(ROOT, 'bench', 'make_report.py'), '--results',
           str(tmp_path),
           '--output', str(md), '--img-dir', str(tmp_path / 'img')]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = md.read_text()
    assert 'Spearman(A, aloe) >= 0.5' in text and 'RMSE_V(recap) / RMSE_V(aloe) >= 2' in text
    assert f'{pi["episodes"]} episodes on fixed seeds' in text and 'bootstrap intervals' in text
    # A critic alone, scored against the ground truth of the run above (no rollouts): the same
    # states, and with the same settings the same estimates.
    again = _run('bench_ope.py', tmp_path / 'reuse', '--methods', 'aloe', '--ground-truth',
                 str(tmp_path / 'bench_ope.json'))
    assert 'reused from' in again and 'target Spearman(A, aloe)' in again
    assert 'target rmse_V(recap)' not in again     # the ratio needs recap, which did not train
    with open(tmp_path / 'reuse' / 'bench_ope.json', encoding='utf-8') as f:
        res2 = json.load(f)
    assert set(res2['methods']) == {'aloe', 'mixture_mc_return'}
    assert res2['per_state']['v_gt'] == ps['v_gt'] and res2['per_state']['t'] == ps['t']
    assert res2['per_state']['aloe'] == ps['aloe']
    assert res2['ground_truth_from'] == str(tmp_path / 'bench_ope.json')
    assert list(res2['targets']) == ['spearman_adv_aloe'] and res2['target_met'] is False


def test_bench_ope_rejects_a_bad_override_or_ground_truth_before_training(tmp_path):
    cmd = [sys.executable, os.path.join(ROOT, 'bench', 'bench_ope.py'), '--quick', '--out',
           str(tmp_path)]
    bad = subprocess.run(cmd + ['--override', 'critic.no_such_key=1'], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and 'no_such_key' in bad.stderr
    (tmp_path / 'other.json').write_text(json.dumps({'bench': 'learning'}))
    bad = subprocess.run(cmd + ['--ground-truth', str(tmp_path / 'other.json')], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and 'not a bench_ope result' in bad.stderr
    assert not (tmp_path / 'bench_ope.json').exists()


@pytest.mark.slow
def test_bench_learning_quick(tmp_path):
    png = tmp_path / 'learning.png'
    _run('bench_learning.py', tmp_path, '--plot', str(png))
    with open(tmp_path / 'bench_learning.json', encoding='utf-8') as f:
        res = json.load(f)
    assert res['size'] == 'quick'
    assert set(res['methods']) == {'aloe', 'hg_dagger', 'recap'}
    for method, s in res['methods'].items():
        n = res['sizes']['iterations'] + 1
        assert len(s['episodes']) == n
        assert s['episodes'][-1] == res['sizes']['iterations'] * res['sizes']['episodes']
        for key in ('success_mean', 'success_min', 'success_max', 'progress_mean'):
            assert len(s[key]) == n and all(_finite(v) for v in s[key]), (method, key)
        assert all(0.0 <= v <= 1.0 for v in s['success_mean'])
        ops = s['operator_steps_mean']
        assert len(ops) == n and ops[0] == 0 and all(b >= a for a, b in zip(ops, ops[1:])), ops
        assert set(s['reach']) >= {'0.80', '0.90'}
        assert all(v >= 0
                   for v in s['phases_mean_s'].values()) and s['phases_mean_s']['train_s'] > 0
    # Every arm of a seed starts from the same BC actor: identical start points (same eval seeds).
    assert len({s['success_mean'][0] for s in res['methods'].values()}) == 1
    for pair in ('aloe-hg_dagger', 'aloe-recap'):
        p = res['paired'][pair]
        assert p['seeds'] == res['sizes']['seeds'] and -1.0 <= p['mean'] <= 1.0
        assert 0 <= p['positive_seeds'] <= p['seeds']
    assert 'bc_start_in_0.2_0.45' in res['targets']
    assert 'no_aloe_seed_ends_below_start' in res['targets']
    assert all(isinstance(t['met'], bool) for t in res['targets'].values())
    assert res['target_met'] == all(t['met'] for t in res['targets'].values())
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_make_report_renders_results(tmp_path):
    """make_report turns a results directory into markdown (uses whatever bench JSON is there)."""
    res = tmp_path / 'results'
    res.mkdir()
    other = {'machine': {'cpu': 'x'}, 'speed': {'steps_per_s': 12.5}}
    (res / 'bench_other.json').write_text(json.dumps(other))
    md = tmp_path / 'B.md'
    cmd = [sys.executable, os.path.join(ROOT, 'bench', 'make_report.py'), '--results', str(res),
           '--output', str(md), '--img-dir', str(tmp_path / 'img')]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = md.read_text()
    assert 'speed.steps_per_s' in text and '12.5' in text

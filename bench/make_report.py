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
Regenerate BENCHMARKS.md from the results JSON files (results/bench_*.json) and draw its plots.

Known benches (``ope``, ``learning``) get their own tables and plots; any other
``bench_<name>.json``
(e.g. ``core``, ``sim``) is shown as a table of its numeric figures (dotted keys). Plots are
written
under ``--img-dir`` (default docs/img/) so that the committed markdown can reference them.

Usage: ``python bench/make_report.py [--results results] [--output BENCHMARKS.md] [--img-dir
docs/img]``
"""

import argparse
import glob
import json
import math
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402

KNOWN = ('ope', 'learning')
GAPS = [
    'Sim benches use `config/learner/bench_small.yaml`: no cameras, the privileged object/zone '
    'state '
    '(9 values) '
    'as input, H = 20, 2 Q-heads; the default station model (3 cameras, H = 50) is not what was '
    'measured.',
    'Ground truth is Monte-Carlo (rollouts per state in the sizes), so it carries sampling noise '
    '(the OPE '
    'section states its size); the policy is stochastic only through flow-matching noise, the sim '
    'is '
    'deterministic.',
    'The OPE bench measures one current policy (BC, success 0.3-0.7 required at the default size) '
    'and '
    'one data mixture per seed; the intervals are over states, not over seeds, policies or '
    'mixtures.',
    '1-step TD evaluates a policy that re-plans every tick (bootstrap with the first action of a '
    'pi chunk), '
    'not the chunk-executing pi; that mismatch is part of what it is measured on.',
    'One OPE seed per run; learning runs have the seeds stated above. Both benches ran on a '
    'shared 2-core '
    'machine with other jobs, so their wall-clock phases (in the JSON) are not speed figures.',
]


OPE_KEYS = (
    'JSON (`results/bench_ope.json`): `methods.<estimator>` holds `rmse_v`, `bias_v`, `rmse_q`, '
    '`bias_q`, '
    '`spearman_adv`, `spearman_v`, `spearman_q` and `ci.<key>` = [lo, hi] (95% bootstrap over '
    'states); '
    '`pi` = {`success_rate`, `ci`, `episodes`, `execute`, `range`, `in_range`} (`pi_success_rate` '
    'kept); '
    '`gt_quality` = {`rms_se_v`, `rms_se_q`, `split_half_spearman_adv`, `reliability_adv`}; '
    '`targets.<name>` = {`value`, `ci`, `threshold`, `met`} for `ratio_rmse_v_recap_over_aloe` '
    'and '
    '`spearman_adv_aloe`; '
    '`target_met` = both met; `per_state` adds `v_gt_std`, `q_gt_std` (spread of the rollout '
    'returns); `curves.<estimator>` = one entry per `track_every` critic updates: `steps`, '
    '`critic_loss` and the point metrics above (no intervals).')


def _fmt(x, nd=3):
    if x is None:
        return 'not reached'
    if isinstance(x, bool):
        return 'yes' if x else 'no'
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        return f'{x:.{nd}g}' if abs(x) >= 1000 or (x != 0 and abs(x) < 1e-3) else f'{x:.{nd}f}'
    return str(x)


def _table(header, rows):
    out = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
    out += ['| ' + ' | '.join(str(c) for c in r) + ' |' for r in rows]
    return out


def _flatten(d, prefix=''):
    for k, v in d.items():
        key = f'{prefix}{k}'
        if isinstance(v, dict):
            yield from _flatten(v, key + '.')
        elif isinstance(v, (int, float, bool)):
            yield key, v
        elif isinstance(v, str) and len(v) < 80:
            yield key, v


def _rel(path, base):
    return os.path.relpath(path, os.path.dirname(os.path.abspath(base)))


def _size_label(res):
    if 'size' in res:
        return res['size']
    if 'quick' in res:
        return 'quick' if res['quick'] else 'default'
    return 'unknown'


def machine_section(results):
    """Describe the machine that ran the benches (taken from the results, else this machine)."""
    lines = ['## Machine', '']
    seen = {}
    for name, res in results.items():
        m = res.get('machine')
        if isinstance(m, dict):
            seen[name] = m
    here = C.machine()
    if not seen:
        seen['this machine'] = here
    keys = ['cpu', 'cores', 'ram_gib', 'python', 'torch', 'mujoco', 'numpy', 'platform']
    rows = []
    for name, m in seen.items():
        rows.append([f'bench_{name}']
                    + [_fmt(m.get(k, here.get(k) if k in ('ram_gib', 'platform') else '-'))
                       for k in keys])
    lines += _table(['results'] + keys, rows)
    lines += ['', 'Columns missing from a bench JSON are filled from the machine this report was '
              'generated on '
              f'(`{here["cpu"]}`, {here["cores"]} cores, {here["ram_gib"]} GiB).', '']
    return lines


def _ci(r, key, nd=3):
    """``value [lo, hi]`` when the result carries a bootstrap interval for key, else the value."""
    ci = r.get('ci', {}).get(key)
    return f'{_fmt(r[key], nd)} [{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]' if ci else _fmt(r[key], nd)


def ope_section(res, img_dir, output):
    """
    OPE accuracy table (with bootstrap intervals), scatter plot and target verdicts.

    JSON keys (bench_ope.py): ``pi`` {success_rate, ci, episodes, range, in_range}, ``gt_quality``
    {rms_se_v, rms_se_q, reliability_adv}, per method ``ci`` {key: [lo, hi]}, ``targets`` {name:
    {value, ci, threshold, met}}; results written before these keys existed render without them.
    """
    sz = res['sizes']
    pi = res.get('pi', {})
    pi_txt = f'operator-free success from reset {_fmt(res["pi_success_rate"], 2)}'
    if pi:
        pi_txt += (f' (95% CI {_fmt(pi["ci"][0], 2)}-{_fmt(pi["ci"][1], 2)}, {pi["episodes"]} '
                   'episodes on '
                   f'fixed seeds, chunks of {pi["execute"]} executed fully; required range '
                   f'{pi["range"][0]}-{pi["range"][1]}: '
                   f'{"in range" if pi["in_range"] else "OUT OF RANGE"})')
    lines = ['## Off-policy evaluation accuracy (`bench/bench_ope.py`)', '',
             f'Size: **{res["size"]}** (`{json.dumps(sz)}`), seed {res["seed"]}. Task: handover. '
             'Model: '
             '`config/learner/bench_small.yaml` (no cameras; 9-value privileged state as input; H '
             '= 20, '
             '2 Q-heads, min aggregation, gamma = 0.99).', '',
             f'Current policy pi: flow-matching BC on {sz["pi_demos"]} scripted demos, '
             f'{sz["pi_steps"]} updates, sampled at temperature 1; {pi_txt}. Mixture '
             f'({res["mixture"]["episodes"]} episodes, {res["mixture"]["steps"]} steps, '
             f'{100 * res["mixture"]["human_step_frac"]:.0f}% operator steps, '
             f'{100 * res["mixture"]["success_frac"]:.0f}% episodes successful): '
             f'{sz["mix_demos"]} '
             f'scripted demos, '
             f'{sz["noisy_eps"]} episodes each of the expert with Gaussian joint-target noise '
             'sigma = '
             f'{", ".join(str(s) for s in res["noise_levels"])} rad, {sz["weak_eps"]} episodes of '
             'a '
             f'weak BC policy '
             f'(3 demos, {sz["weak_steps"]} updates); all non-demo episodes under the simulated '
             f'operator.', '',
             f'Ground truth at {res["states"]} sampled chunk starts: V^pi(s) and Q^pi(s, a_chunk) '
             f'(dataset chunk '
             f'then pi) as means of {sz["rollouts"]} Monte-Carlo rollouts of pi from the restored '
             f'sim state, up to '
             f'{sz["gt_steps"]} ticks. Mean V^pi {_fmt(res["gt_mean_v"])} (std '
             f'{_fmt(res["gt_std_v"])}), '
             f'mean Q^pi {_fmt(res["gt_mean_q"])}. Each critic: {sz["critic_steps"]} updates on '
             'the mixture, '
             'actor frozen at pi. td1/recap Q = n-step dataset reward + gamma^H V(s_{t+H}).', '']
    gq = res.get('gt_quality')
    if gq:
        lines += ['Ground-truth noise: RMS standard error of the Monte-Carlo means '
                  f'{_fmt(gq["rms_se_v"])} '
                  f'(V), {_fmt(gq["rms_se_q"])} (Q); it adds in quadrature to every RMSE below. '
                  'Split-half '
                  f'reliability of the true advantages (Spearman of A from even vs odd rollouts, '
                  f'Spearman-Brown corrected): {_fmt(gq["reliability_adv"], 2)}, roughly the '
                  'ceiling for '
                  'Spearman A.', '']
    if 'sizes' in res and 'bootstrap' in sz:
        lines += [f'Brackets: 95% percentile bootstrap intervals over states ({sz["bootstrap"]} '
                  'resamples).',
                  '']
    rows = []
    names = {'aloe': 'ALOE (chunked TD, Q^pi)', 'recap': 'RECAP-style (MC value of the mixture)',
             'td1': '1-step TD', 'mixture_mc_return': 'raw mixture MC return (no fit)'}
    for m, r in res['methods'].items():
        adv = '-' if m == 'mixture_mc_return' else _ci(r, 'spearman_adv')
        rows.append([names.get(m, m), _ci(r, 'rmse_v'), _fmt(r['bias_v']), _ci(r, 'rmse_q'),
                     _fmt(r['bias_q']), adv, _ci(r, 'spearman_v')])
    lines += _table(['estimator', 'RMSE V', 'bias V', 'RMSE Q', 'bias Q', 'Spearman A',
                     'Spearman V'], rows)
    lines.append('')
    targets = res.get('targets')
    if targets:
        labels = {'ratio_rmse_v_recap_over_aloe': 'RMSE_V(recap) / RMSE_V(aloe)',
                  'spearman_adv_aloe': 'Spearman(A, aloe)'}
        for key, t in targets.items():
            lines += [f'**Target (DESIGN.md section 5): {labels.get(key, key)} >= '
                      f'{t["threshold"]:g}. '
                      f'Measured: {t["value"]:.2f} [{t["ci"][0]:.2f}, {t["ci"][1]:.2f}] -> '
                      f'{"MET" if t["met"] else "NOT met"}.**', '']
    else:
        ratio = res['ratio_rmse_v_recap_over_aloe']
        lines += [f'**Target (DESIGN.md section 5): RMSE_V(recap) / RMSE_V(aloe) >= 2. Measured: '
                  f'{ratio:.2f} -> {"MET" if res["target_met"] else "NOT met"}.**', '']
    if res['size'] != 'default':
        lines += [f'This is a **{res["size"]}**-size run: its figures are smoke numbers, not '
                  'evidence.', '']
    lines += [OPE_KEYS, '']
    png = _ope_plot(res, img_dir)
    if png:
        lines += [f'![OPE: estimate vs Monte-Carlo ground truth]({_rel(png, output)})', '']
    png = _ope_curve_plot(res, img_dir)
    if png:
        lines += ['Each estimate against the number of critic updates (scored every '
                  f'{sz.get("track_every")} updates):', '',
                  f'![OPE: accuracy vs critic updates]({_rel(png, output)})', '']
    return lines


def _ope_curve_plot(res, img_dir):
    """RMSE of V and Spearman of A against critic updates, per estimator (``curves``)."""
    curves = res.get('curves')
    if not curves:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for m, pts in curves.items():
        steps = [p['steps'] for p in pts]
        axes[0].plot(steps, [p['rmse_v'] for p in pts], marker='o', ms=3, label=m)
        axes[1].plot(steps, [p['spearman_adv'] for p in pts], marker='o', ms=3, label=m)
    axes[0].set_ylabel('RMSE of V vs ground truth')
    axes[1].set_ylabel('Spearman of A vs ground truth')
    axes[1].axhline(0.5, ls='--', color='gray', lw=0.8)
    for ax in axes:
        ax.set_xlabel('critic updates')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f'OPE accuracy vs critic updates ({res["size"]} size)', fontsize=10)
    fig.tight_layout()
    os.makedirs(img_dir, exist_ok=True)
    path = os.path.join(img_dir, 'bench_ope_curves.png')
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _ope_plot(res, img_dir):
    ps = res.get('per_state')
    if not ps:
        return None
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    methods = [m for m in ('aloe', 'recap', 'td1') if m in ps]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, gt in ((axes[0], 'v', 'v_gt'), (axes[1], 'q', 'q_gt')):
        for m in methods:
            ax.scatter(ps[gt], ps[m][key], s=12, alpha=0.7, label=m)
        lo = min(min(ps[gt]), *(min(ps[m][key]) for m in methods))
        hi = max(max(ps[gt]), *(max(ps[m][key]) for m in methods))
        ax.plot([lo, hi], [lo, hi], 'k--', lw=1)
        ax.set_xlabel(f'Monte-Carlo ground truth {key.upper()}^pi')
        ax.set_ylabel(f'estimated {key.upper()}')
        ax.legend(fontsize=8)
    fig.suptitle(f'OPE on mixture data ({res["size"]} size, {res["states"]} states)', fontsize=10)
    fig.tight_layout()
    os.makedirs(img_dir, exist_ok=True)
    path = os.path.join(img_dir, 'bench_ope.png')
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def learning_section(res, img_dir, output):
    """Learning-efficiency table, paired differences, plot and target verdicts."""
    sz = res['sizes']
    lines = ['## Learning efficiency (`bench/bench_learning.py`)', '',
             f'Size: **{res["size"]}** (`{json.dumps(sz)}`). Task: handover; model '
             f'`bench_small.yaml`. Each seed: one BC start (flow matching on {sz["demos"]} '
             'scripted demos, '
             f'{sz["bc_steps"]} updates) shared by every arm; then {sz["iterations"]} iterations '
             'of '
             f'{sz["episodes"]} episodes under the simulated operator + {sz["critic_steps"]} '
             'critic / '
             f'{sz["actor_steps"]} actor updates; success measured operator-free on the same '
             f'{sz["eval_episodes"]} fixed seeds at the start and after each iteration. Operator '
             'steps = '
             'executed steps the operator drove, cumulative (the human-effort figure).', '']
    rows = []
    for m, s in res['methods'].items():
        reach = s.get('reach', {})
        r8, r9 = reach.get('0.80', {}), reach.get('0.90', {})
        se = s.get('success_se', [float('nan')])[-1]
        rows.append([m, _fmt(s['success_mean'][0], 2),
                     f'{_fmt(s["final_success_mean"], 2)} +- {_fmt(se, 2)}',
                     f'{_fmt(s["success_min"][-1], 2)}-{_fmt(s["success_max"][-1], 2)}',
                     _fmt(s.get('best_mean'), 2), _fmt(r8.get('episodes_mean_curve')),
                     _fmt(r9.get('episodes_mean_curve')),
                     _fmt(r8.get('operator_steps_mean_curve')),
                     _fmt(int(s['operator_steps_mean'][-1])) if 'operator_steps_mean' in s
                     else '-',
                     _fmt(len(s.get('seeds_ending_below_start', [])))])
    lines += _table(['arm', 'start', 'final (mean +- SE)', 'final min-max', 'best mean',
                     'episodes to 0.8',
                     'episodes to 0.9', 'operator steps to 0.8', 'operator steps total',
                     'seeds ending below start'], rows)
    if res.get('paired'):
        lines += ['',
                  'Paired differences (same seed, same BC start, same evaluation seeds): mean '
                  'over the '
                  'post-start points of success(ALOE) - success(other), then mean +- SE over '
                  'seeds.', '']
        lines += _table(['pair', 'mean', 'SE', 'seeds > 0'],
                        [[k, f'{v["mean"]:+.3f}', _fmt(v['se']),
                          f'{v["positive_seeds"]}/{v["seeds"]}']
                         for k, v in res['paired'].items()])
    if res.get('arms'):
        lines += ['',
                  'Arms (config switches on top of `bench_small.yaml` and the run\'s overrides):',
                  '']
        lines += [f'- `{k}`: method `{v["method"]}`, `{json.dumps(v["overrides"])}`'
                  for k, v in res['arms'].items()]
    lines += ['']
    if res.get('targets'):
        lines += ['**Targets: '
                  + '; '.join(f'{k} {"MET" if v["met"] else "NOT met"} ({v["value"]})'
                              for k, v in res['targets'].items()) + '.**', '']
    src = res.get('plot')
    os.makedirs(img_dir, exist_ok=True)
    dst = os.path.join(img_dir, 'bench_learning.png')
    if src and os.path.exists(src):
        if os.path.abspath(src) != os.path.abspath(dst):
            shutil.copyfile(src, dst)
        lines += [f'![success vs interaction episodes]({_rel(dst, output)})', '']
    if res['size'] != 'default':
        lines += [f'This is a **{res["size"]}**-size run, not the default size '
                  '(`bench_learning.py` with no '
                  'options).', '']
    ends = {m: [c['ends'][-1] for c in res.get('curves', {}).get(m, {}).values()
                if c.get('ends')] for m in res['methods']}
    ends = {m: e for m, e in ends.items() if e}
    if ends:    # results written before the ends were recorded have none
        parts = []

        def mean(xs):
            return sum(xs) / len(xs)
        for m, e in ends.items():
            phase = [x['failed_final_phase_mean'] for x in e
                     if x['failed_final_phase_mean'] is not None]
            parts.append(f'{m}: object off the table {mean([x["fell"] for x in e]):.2f}, '
                         f'time limit {mean([x["timeout"] for x in e]):.2f}'
                         + (f' (the expert\'s phase where they stopped, mean {mean(phase):.1f}'
                            ' of 5)' if phase else ''))
        lines += ['How the final evaluation episodes that did not succeed ended (fraction of all '
                  'episodes, mean over seeds): ' + '; '.join(parts) + '.', '']
    phases = {m: s.get('phases_mean_s') for m, s in res['methods'].items()
              if s.get('phases_mean_s')}
    if phases:
        lines += ['Runtime per (arm, seed), mean seconds: ' + '; '.join(
            f'{m}: ' + ', '.join(f'{k[:-2]} {v:.0f}' for k, v in p.items()) for m,
            p in phases.items())
            + '.', '']
    return lines


def system_section(res):
    """System timing on the multi-process graph (bench_system): loop, latency, ingest, recorder."""
    lines = ['## System timing on the multi-process graph (`bench/bench_system.py`)', '',
             f'Size: **{res["size"]}** (`{json.dumps(res["sizes"])}`); wall clock, '
             f'{res["rate_hz"]:.0f} Hz '
             'executor, every node a separate process over DDS; 1-min load average at the end of '
             'the idle / '
             'train windows: '
             f'{", ".join(_fmt(v, 2) for v in res["loadavg_1min_end_of_phase"].values())} '
             f'on {res["cpus"]} cores. Period error = |tick interval - 20 ms|, `recv` from '
             'receive times of '
             '/aloe/executed_step in a separate process, `stamp` from the executor\'s tick '
             'stamps.', '']
    rows = []
    for phase, c in res['control_loop'].items():
        for src in ('recv', 'stamp'):
            s = c[src]
            rows.append([phase, src, s['ticks'], _fmt(s['p50_ms']), _fmt(s['p99_ms']),
                         _fmt(s['max_ms']),
                         s['missed_ticks']])
        e = c['executor_diagnostics']
        rows.append([phase, 'executor /diagnostics', '-', '-', _fmt(e['period_error_p99_ms_max']),
                     '-',
                     _fmt(e['missed_ticks'])])
    lines += _table(['window', 'source', 'ticks', 'p50 [ms]', 'p99 [ms]', 'max [ms]', 'missed'],
                    rows)
    r = res['ratios_train_over_idle']['recv']
    w = res['weight_swaps']
    lat = res['obs_to_command_latency_ms']['all']
    inf = res['policy_inference_ms']
    ing = res['ingestion']
    rec = res['recorder']
    cams = ', '.join(f'{k} {v["received"]}/{v["published"]}' for k, v in ing['cameras'].items())
    lines += ['',
              f'- train/idle ratio (recv): p50 {_fmt(r["p50_ms"], 2)}, p99 '
              f'{_fmt(r["p99_ms"], 2)}, '
              f'max {_fmt(r["max_ms"], 2)}.',
              f'- weight swaps: {len(w["swaps"])} windows of {_fmt(w["window_s"], 2)} s '
              '(PolicyUpdate '
              f'published -> new version running + settle): missed ticks '
              f'{w["in_swap_windows"]["recv"]["missed_ticks_total"]} '
              f'(recv) / {w["in_swap_windows"]["stamp"]["missed_ticks_total"]} (stamp) vs '
              f'{w["idle_windows_equal_length"]["recv"]["missed_ticks_total"]} / '
              f'{w["idle_windows_equal_length"]["stamp"]["missed_ticks_total"]} in as many idle '
              'windows of '
              'equal length.',
              '- observation-to-command latency (ExecutedStep stamp of the first tick executing '
              'a chunk - '
              f'the chunk\'s observation stamp): p50 {_fmt(lat["p50"], 1)}, p99 '
              f'{_fmt(lat["p99"], 1)}, '
              f'max {_fmt(lat["max"], 1)} ms over {lat["n"]} chunks; parts (p50 / p99 ms): '
              + ', '.join(
                  f'{k} {_fmt(v["p50"], 1)} / {_fmt(v["p99"], 1)}'
                  for k, v in res.get('obs_to_command_breakdown', {}).items()) + '.',
              f'- policy inference (`inference_ms`): idle p50 {_fmt(inf["idle"]["p50"], 1)} / p99 '
              f'{_fmt(inf["idle"]["p99"], 1)} ms, train p50 {_fmt(inf["train"]["p50"], 1)} / p99 '
              f'{_fmt(inf["train"]["p99"], 1)} ms.',
              f'- 3 cameras 480x640 rgb8 at 30 Hz, frames received/published: {cams}; observation '
              'output '
              f'{_fmt(ing["observation_rate_hz"]["idle"]["p50"], 1)} Hz (idle p50).',
              f'- recorder: {rec["episodes"]} episodes, '
              f'{_fmt(rec["bytes_per_episode"]["mean"] / 1e6, 2)} '
              'MB per '
              f'{_fmt(rec["episode_seconds_target"], 0)} s episode, {_fmt(rec["mb_per_s"], 3)} '
              'MB/s.', '']
    lines += ['**Targets (DESIGN.md section 5, issue 16):**', '']
    rows = []
    for k, v in res['targets'].items():
        if not isinstance(v, dict):  # results written before targets carried their values
            rows.append([f'`{k}`', '-', '-', 'MET' if v else 'NOT met', ''])
            continue
        state = {True: 'MET', False: 'NOT met',
                 None: 'not evaluated (needs `--pin`)'}[v.get('met')]
        rows.append([f'`{k}`', _fmt(v['value']), f'{v["comparison"]} {_fmt(v["target"])}', state,
                     v.get('source', v.get('run', ''))])
    lines += _table(['target', 'value', 'target', 'result', 'run'], rows) + ['']
    budget = res['targets'].get('obs_to_command_p99_ms_idle', {})
    if isinstance(budget, dict) and budget.get('budget'):
        parts = budget['budget']['parts_ms']
        listed = '; '.join(f'{k} {_fmt(v["p50"], 1)} / {_fmt(v["p99"], 1)}'
                           for k, v in parts.items())
        lines += ['Latency budget (p50 / p99 ms; the stamp -> ... chain over the idle window, '
                  f'the rest over the whole run): {listed}. Largest p99 part: '
                  f'{budget["budget"]["largest_p99"]}.', '']
    if res.get('notes'):
        lines += [res['notes'], '']
    return lines


def other_section(name, res):
    """Any other bench: its numeric figures as a flat table."""
    lines = [f'## bench_{name}', '', f'Size: **{_size_label(res)}**.', '']
    rows = [[f'`{k}`', _fmt(v)] for k,
            v in _flatten({k: v for k, v in res.items() if k != 'machine'})]
    lines += _table(['figure', 'value'], rows) + ['']
    return lines


def render(results, img_dir, output):
    """Render the whole markdown document."""
    lines = ['# Benchmarks', '',
             'Generated by `python bench/make_report.py` from `results/bench_*.json` '
             '(git-ignored); edit the '
             'generator, not this file. Commands: `python bench/bench_ope.py [--quick]`, '
             '`python bench/bench_learning.py [--quick]` (plus the other benches in `bench/`). '
             'The '
             'quick sizes '
             'are what CI runs (`test/bench/test_bench_quick.py`, marked slow); their figures are '
             'smoke numbers, '
             'not evidence.', '']
    lines += machine_section(results)
    if 'ope' in results:
        lines += ope_section(results['ope'], img_dir, output)
    if 'learning' in results:
        lines += learning_section(results['learning'], img_dir, output)
    if 'system' in results:
        lines += system_section(results['system'])
    for name, res in sorted(results.items()):
        if name not in KNOWN and name != 'system':
            lines += other_section(name, res)
    if any(k in results for k in KNOWN):
        lines += ['## Known gaps of the sim benches', ''] + [f'- {g}' for g in GAPS] + ['']
    return '\n'.join(lines).rstrip() + '\n'


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    ap.add_argument('--results', default=C.RESULTS_DIR)
    ap.add_argument('--output', default=os.path.join(C.ROOT, 'BENCHMARKS.md'))
    ap.add_argument('--img-dir', default=os.path.join(C.ROOT, 'docs', 'img'))
    args = ap.parse_args(argv)
    results = {}
    for path in sorted(glob.glob(os.path.join(args.results, 'bench_*.json'))):
        name = os.path.basename(path)[len('bench_'):-len('.json')]
        with open(path, 'r', encoding='utf-8') as f:
            try:
                results[name] = json.load(f)
            except json.JSONDecodeError as exc:
                print(f'skipped {path}: not valid JSON ({exc})', file=sys.stderr)
    if not results:
        print(f'no bench_*.json under {args.results}', file=sys.stderr)
    text = render(results, args.img_dir, args.output)
    with open(args.output, 'w', encoding='utf-8') as f:
        f.write(text)
    print(f'wrote {args.output} from {len(results)} result file(s): {", ".join(sorted(results))}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

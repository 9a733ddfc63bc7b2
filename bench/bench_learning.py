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
Learning efficiency: operator-free success rate vs interaction episodes, ALOE against baselines.

Every arm of a seed starts from the same behaviour-cloned actor (flow matching on ``demos``
scripted
demonstrations for ``bc_steps`` updates; one BC start per seed, shared) and the same data: the
demos
plus what it collects. One iteration: ``episodes`` episodes of the current policy (chunks of H =
20,
executed h_exec = 10 steps, then re-planned; re-planned at once after a hand-back) supervised by
the
simulated operator, who takes over and hands back; then ``critic_steps`` + ``actor_steps`` updates
of
the arm; then ``eval_episodes`` operator-free evaluation episodes on fixed seeds (the same seeds at
every point and for every arm: success rate, and the scripted expert's task-progress measure).

Arms (``ARMS``): ``aloe`` (chunked TD critic of the current policy + advantage-weighted flow
matching), ``hg_dagger`` (flow matching on human steps only), ``recap`` (Monte-Carlo value of the
mixture + advantage-weighted flow matching), and ablations of the ALOE step (``--arms``). Model and
shared settings: ``config/learner/bench_small.yaml``; ``--override SECTION.KEY=VALUE`` changes them
for every arm.

Reported per arm: mean, SE, min/max over seeds of success vs cumulative interaction episodes and vs
cumulative operator (human) steps; episodes and operator steps to reach 0.8 and 0.9 (mean curve and
per seed); seeds ending below their start; runtime per phase. Paired differences ALOE - baseline
per seed (mean over the post-start points), with their SE and the number of seeds where ALOE is
ahead. The issue's targets are checked and printed MET / NOT met. A PNG shows both curves.

Usage: ``python bench/bench_learning.py [--quick] [--seeds N] [--arms a,b] [--override k=v]``;
writes results/bench_learning.json and results/bench_learning.png (``--plot`` for another path).
The default size (5 seeds, 10 x 10 episodes, 100 evaluation episodes per point) takes about 45
minutes on 2 cores.
"""

import argparse
import copy
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402
import numpy as np  # noqa: E402

# Arms: name -> (trainer method, config overrides on top of bench_small.yaml). The first three are
# the comparison; the others ablate one switch of the ALOE actor step each (--arms to run them).
ARMS = {
    'aloe': ('aloe', {}),
    # HG-DAgger in its standard form: every human step imitated uniformly (balancing human against
    # mixed chunks, a sampling switch of the shared config, is not part of the method).
    'hg_dagger': ('hg_dagger', {'data': {'balance_sources': False}}),
    'recap': ('recap', {}),
    'aloe_plain_awfm': ('aloe', {'actor': {'adv_norm': False, 'target_ess': 0.0,
                                           'normalize_weights': False}}),
    'aloe_no_ess': ('aloe', {'actor': {'target_ess': 0.0}}),
    'aloe_sharp': ('aloe', {'actor': {'beta': 0.3, 'target_ess': 0.2}}),
    'aloe_balanced': ('aloe', {'data': {'balance_sources': True}}),
    'aloe_takeover_penalty': ('aloe', {'data': {'intervention_penalty': 0.5}}),
    'aloe_human_only': ('aloe', {'actor': {'learn_from': 'human'}}),
}
METHODS = ('aloe', 'hg_dagger', 'recap')


def _merge(base: dict, extra: dict) -> dict:
    out = {k: dict(v) for k, v in base.items()}
    for section, values in extra.items():
        out.setdefault(section, {}).update(values)
    return out


def arm_config(arm: str, seed: int, overrides: dict, path=None):
    """Return one arm's learner config: ``path`` (bench_small.yaml) + arm switches + overrides."""
    method, extra = ARMS[arm]
    return C.bench_config(method, seed=seed, path=path, **_merge(extra, overrides))


SIZES = {
    'default': dict(seeds=5, demos=15, bc_steps=1000, iterations=10, episodes=10, critic_steps=400,
                    actor_steps=500, eval_episodes=100),
    'quick': dict(seeds=1, demos=4, bc_steps=200, iterations=2, episodes=2, critic_steps=40,
                  actor_steps=30, eval_episodes=3),
}
EVAL_SEED = 7_000_000


def _sim(cfg=None):
    """Env, expert and operator; the env renders the cameras of ``cfg.model`` at its image size."""
    from aloe_ros.sim.env import BimanualEnv
    from aloe_ros.sim.expert import ScriptedExpert
    from aloe_ros.sim.operator import SimulatedOperator
    cams = tuple(cfg.model.cameras) if cfg is not None else ()
    size = tuple(cfg.model.image_size) if cfg is not None else (64, 64)
    env = BimanualEnv('handover', image_size=size, cameras=cams)
    expert = ScriptedExpert(env)
    return env, expert, SimulatedOperator(env, expert)


def bc_start(seed: int, sizes, path=None, overrides=None):
    """
    Return the shared start of one seed: demos and the BC actor trained on them.

    ``overrides`` of the ``model`` and ``data`` sections apply here too (the arms share this
    actor).
    """
    from aloe_ros.learning.episode import InMemoryEpisodeSource
    from aloe_ros.learning.trainer import AloeTrainer
    from aloe_ros.sim.rollout import run_episode
    shared = {k: v for k, v in (overrides or {}).items() if k in ('model', 'data')}
    cfg = C.bench_config('hg_dagger', seed=seed, path=path,
                         **_merge(shared, {'actor': {'lr': 1e-3}}))
    env, expert, operator = _sim(cfg)
    demos = [C.as_demo(run_episode(env, lambda o: expert.act(), operator, seed=100_000 * (seed + 1)
                                   + i,
                                   episode_id=f's{seed}-{i}')) for i in range(sizes['demos'])]
    tr = AloeTrainer(cfg, InMemoryEpisodeSource(demos))
    tr.refresh()
    tr.train(0, sizes['bc_steps'])
    return demos, tr.policy


def evaluate(env, expert, runner, n: int):
    """
    Operator-free evaluation over fixed seeds: (success rate, mean final task progress, ends).

    ``ends``: the fraction of episodes that ended in success, with an object off the table
    (``fell``), or at the time limit (``timeout``), and the mean final phase of the scripted
    expert's phase index among the episodes that did not succeed (where the policy got stuck).
    """
    succ, prog, fell, stuck = [], [], [], []
    for i in range(n):
        obs = env.reset(EVAL_SEED + i)
        runner.reset()
        runner.seed(EVAL_SEED + i)
        while True:
            obs, _, term, trunc, _ = env.step(runner(obs))
            if term or trunc:
                break
        succ.append(env.success())
        prog.append(expert.progress())
        fell.append(not succ[-1] and env.failure())
        if not succ[-1]:
            stuck.append(expert.phase()[0])
    ends = {'success': float(np.mean(succ)), 'fell': float(np.mean(fell)),
            'timeout': float(1.0 - np.mean(succ) - np.mean(fell)),
            'failed_final_phase_mean': float(np.mean(stuck)) if stuck else None}
    return float(np.mean(succ)), float(np.mean(prog)), ends


def run_method(job):
    """One (arm, seed) learning curve from the shared BC start."""
    method, seed, sizes, demos, policy, overrides, path = job
    C.setup_threads()
    from aloe_ros.learning.episode import InMemoryEpisodeSource
    from aloe_ros.learning.trainer import AloeTrainer
    from aloe_ros.sim.rollout import run_episode
    cfg = arm_config(method, seed, overrides, path)
    env, expert, operator = _sim(cfg)
    source = InMemoryEpisodeSource(demos)
    tr = AloeTrainer(cfg, source, policy=copy.deepcopy(policy))
    tr.refresh()
    runner = C.ChunkedPolicy(tr.acting_policy, cfg, cfg.data.h_exec, seed=seed,
                             instruction=env.task.instruction)
    t0 = time.monotonic()
    s, p, ends = evaluate(env, expert, runner, sizes['eval_episodes'])
    phases = {'collect_s': 0.0, 'train_s': 0.0, 'eval_s': time.monotonic() - t0}
    curve = {'episodes': [0], 'success': [s], 'progress': [p], 'ends': [ends],
             'operator_success': [None],
             'human_frac': [None], 'operator_steps': [0], 'ess': [None], 'beta': [None]}
    n_eps = n_human = 0
    for it in range(sizes['iterations']):
        outcomes, human = [], []
        t1 = time.monotonic()
        for k in range(sizes['episodes']):
            runner.reset()
            ep = run_episode(env, runner, operator, seed=1_000_000 * (seed + 1) + n_eps,
                             policy_version=it + 1, episode_id=f'{method}-s{seed}-{n_eps}')
            source.add(ep)
            n_eps += 1
            n_human += int(ep.interventions.sum())
            outcomes.append(ep.outcome == 1)
            human.append(float(ep.interventions.mean()))
        t2 = time.monotonic()
        tr.refresh()
        tr.policy.train()
        metrics = tr.train(sizes['critic_steps'], sizes['actor_steps'])
        runner.critic = tr.critic   # trained now: actor.select_best_of > 1 may use it
        tr.policy.eval()
        tr.acting_policy.eval()
        t3 = time.monotonic()
        s, p, ends = evaluate(env, expert, runner, sizes['eval_episodes'])
        phases['collect_s'] += t2 - t1
        phases['train_s'] += t3 - t2
        phases['eval_s'] += time.monotonic() - t3
        curve['episodes'].append(n_eps)
        curve['success'].append(s)
        curve['progress'].append(p)
        curve['ends'].append(ends)
        curve['operator_success'].append(float(np.mean(outcomes)))
        curve['human_frac'].append(float(np.mean(human)))
        curve['operator_steps'].append(n_human)
        curve['ess'].append(metrics.get('ess'))
        curve['beta'].append(metrics.get('beta'))
        print(f'  {method:<9} seed {seed} iter {it + 1}: {n_eps} episodes, success {s:.2f} '
              f'(fell {ends["fell"]:.2f}, timeout {ends["timeout"]:.2f}), progress {p:.2f}, '
              f'human steps {np.mean(human):.2f} ({time.monotonic() - t0:.0f} s)', flush=True)
    curve['seconds'] = time.monotonic() - t0
    curve['phases'] = {k: round(v, 1) for k, v in phases.items()}
    return method, seed, curve


def first_reaching(xs, success, target: float):
    """First x (episodes or operator steps) at which success >= target, or None."""
    for x, s in zip(xs, success):
        if s >= target:
            return int(x)
    return None


def _se(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float('nan')


def summarize(curves, target: float, targets=(0.8, 0.9)):
    """Per arm: mean / SE / min / max over seeds, episodes and operator steps to each target."""
    out = {}
    for method, by_seed in curves.items():
        succ = np.array([c['success'] for c in by_seed.values()])
        prog = np.array([c['progress'] for c in by_seed.values()])
        ops = np.array([c['operator_steps'] for c in by_seed.values()], dtype=np.float64)
        eps = next(iter(by_seed.values()))['episodes']
        mean = succ.mean(0)
        se = succ.std(0,
                      ddof=1) / np.sqrt(len(succ)) if len(succ) > 1 else np.full(len(mean), np.nan)
        reach = {}
        for tg in sorted(set(targets) | {target}):
            reach[f'{tg:.2f}'] = {
                'episodes_mean_curve': first_reaching(eps, mean, tg),
                'operator_steps_mean_curve': first_reaching(ops.mean(0), mean, tg),
                'episodes_per_seed': {str(s): first_reaching(c['episodes'], c['success'], tg)
                                      for s, c in by_seed.items()},
                'operator_steps_per_seed': {str(s): first_reaching(c['operator_steps'],
                                                                   c['success'], tg)
                                            for s, c in by_seed.items()}}
        out[method] = {'episodes': eps, 'success_mean': mean.tolist(), 'success_se': se.tolist(),
                       'success_min': succ.min(0).tolist(), 'success_max': succ.max(0).tolist(),
                       'success_std': succ.std(0).tolist(), 'progress_mean': prog.mean(0).tolist(),
                       'operator_steps_mean': ops.mean(0).tolist(),
                       'episodes_to_target': first_reaching(eps, mean, target),
                       'per_seed_episodes_to_target': {
                           str(s): first_reaching(c['episodes'], c['success'], target)
                           for s, c in by_seed.items()},
                       'reach': reach,
                       'start_mean': float(mean[0]), 'best_mean': float(mean.max()),
                       'final_success_mean': float(mean[-1]),
                       'final_progress_mean': float(prog.mean(0)[-1]),
                       'seeds_ending_below_start': [str(s) for s, c in by_seed.items()
                                                    if c['success'][-1] < c['success'][0]],
                       'seconds_mean': float(np.mean([c['seconds'] for c in by_seed.values()])),
                       'phases_mean_s': {k: float(np.mean([c['phases'][k]
                                                           for c in by_seed.values()]))
                                         for k in ('collect_s', 'train_s', 'eval_s')}}
    return out


def paired(curves, a: str, b: str):
    """Paired difference a - b per seed: mean over post-start points of success_a - success_b."""
    seeds = sorted(set(curves[a]) & set(curves[b]))
    d = [float(np.mean(np.array(curves[a][s]['success'][1:])
                       - np.array(curves[b][s]['success'][1:])))
         for s in seeds]
    return {'per_seed': {str(s): v for s, v in zip(seeds, d)}, 'mean': float(np.mean(d)) if d
            else None,
            'se': _se(d), 'positive_seeds': int(sum(v > 0 for v in d)), 'seeds': len(d)}


def check_targets(summary, pairs, baselines, sizes):
    """Return the issue's learning targets, each with the figure it was judged on."""
    if 'aloe' not in summary:
        return {}
    a = summary['aloe']
    inf = float('inf')

    def at(r, key):
        v = r['reach']['0.80'][key]
        return inf if v is None else v
    out = {'bc_start_in_0.2_0.45': {'met': 0.2 <= a['start_mean'] <= 0.45,
                                    'value': round(a['start_mean'], 3)}}
    e90 = a['reach']['0.90']['episodes_mean_curve']
    out['aloe_0.9_within_100_episodes'] = {'met': e90 is not None and e90 <= 100, 'value': e90}
    for m in baselines:
        b = summary[m]
        out[f'aloe_0.8_sooner_than_{m}'] = {
            'met': at(a, 'episodes_mean_curve') < at(b, 'episodes_mean_curve')
            and at(a, 'operator_steps_mean_curve') < at(b, 'operator_steps_mean_curve'),
            'value': {'episodes': [a['reach']['0.80']['episodes_mean_curve'],
                                   b['reach']['0.80']['episodes_mean_curve']],
                      'operator_steps': [a['reach']['0.80']['operator_steps_mean_curve'],
                                         b['reach']['0.80']['operator_steps_mean_curve']]}}
        pr = pairs[f'aloe-{m}']
        need = int(np.ceil(0.8 * pr['seeds']))
        out[f'aloe_minus_{m}_positive_on_{need}_of_{pr["seeds"]}_seeds'] = {
            'met': pr['positive_seeds'] >= need, 'value': f'{pr["positive_seeds"]}/{pr["seeds"]}'}
    out['no_aloe_seed_ends_below_start'] = {'met': not a['seeds_ending_below_start'],
                                            'value': a['seeds_ending_below_start']}
    return out


def plot(summary, target: float, path: str, title: str) -> None:
    """Success vs interaction episodes and vs operator steps (mean line, +-SE band) per arm."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for method, s in summary.items():
        mean = np.asarray(s['success_mean'])
        se = np.nan_to_num(np.asarray(s['success_se'], dtype=np.float64))
        for ax, x in ((axes[0], s['episodes']), (axes[1], s['operator_steps_mean'])):
            line, = ax.plot(x, mean, marker='o', ms=3, label=method)
            ax.fill_between(x, mean - se, mean + se, alpha=0.2, color=line.get_color())
    for ax in axes:
        for tg in sorted({0.8, 0.9, target}):
            ax.axhline(tg, ls='--', color='gray', lw=0.8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel('operator-free success rate')
        ax.grid(alpha=0.3)
    axes[0].set_xlabel('interaction episodes')
    axes[1].set_xlabel('operator (human) steps, cumulative')
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='small sizes (CI smoke run, ~2-4 min)')
    ap.add_argument('--seeds', type=int, default=None, help='number of seeds (default by size)')
    ap.add_argument('--target', type=float, default=0.5, help='operator-free success target')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=INT',
                    help='override one size, e.g. --set iterations=4 (the JSON then says size '
                    '"custom")')
    ap.add_argument('--arms', default=','.join(METHODS),
                    help=f'comma-separated arms to run (known: {", ".join(ARMS)})')
    ap.add_argument('--override', action='append', default=[], metavar='SECTION.KEY=VALUE',
                    help='learner config override for every arm (YAML value), e.g. actor.lr=0.001')
    ap.add_argument('--learner-config', default=None, metavar='YAML',
                    help='learner config for every arm (default config/learner/bench_small.yaml); '
                    'e.g. '
                         'config/learner/sim_train_camera.yaml measures the main job\'s camera '
                    'model '
                    'without ROS')
    ap.add_argument('--workers', type=int, default=2,
                    help='processes (at most 2 on the shared machine)')
    ap.add_argument('--out', default=None, help='results directory (default: results/)')
    ap.add_argument('--plot', default=None, help='PNG path (default: <out>/bench_learning.png)')
    args = ap.parse_args(argv)
    C.setup_threads()
    size = 'quick' if args.quick else 'default'
    sizes = dict(SIZES[size])
    if args.seeds:
        sizes['seeds'] = args.seeds
    for item in args.set:
        key, _, value = item.partition('=')
        if key not in sizes:
            ap.error(f'--set {item}: unknown size {key!r}; known: {", ".join(sizes)}')
        sizes[key] = int(value)
    if args.set or (args.seeds and args.seeds != SIZES[size]['seeds']):
        size = 'custom'
    arms = [a for a in args.arms.split(',') if a]
    for a in arms:
        if a not in ARMS:
            ap.error(f'--arms: unknown arm {a!r}; known: {", ".join(ARMS)}')
    overrides = C.parse_overrides(ap, args.override)
    learner_path = args.learner_config
    if learner_path is not None and not os.path.isfile(learner_path):
        ap.error(f'--learner-config {learner_path}: no such file')
    for a in arms:   # a bad override fails here, before any training
        arm_config(a, 0, overrides, learner_path)
    timer = C.Timer()
    starts = {}
    for seed in range(sizes['seeds']):
        starts[seed] = bc_start(seed, sizes, learner_path, overrides)
        timer.mark(f'seed {seed}: BC start on {sizes["demos"]} demos, {sizes["bc_steps"]} steps')
    jobs = [(m, seed, sizes, starts[seed][0], starts[seed][1], overrides, learner_path)
            for seed in starts for m in arms]
    workers = max(1, min(2, args.workers))
    if workers > 1:
        with mp.get_context('spawn').Pool(workers) as pool:
            done = pool.map(run_method, jobs, chunksize=1)
    else:
        done = [run_method(j) for j in jobs]
    timer.mark(f'{len(jobs)} learning runs')
    curves = {m: {} for m in arms}
    for method, seed, curve in done:
        curves[method][seed] = curve
    summary = summarize(curves, args.target)
    baselines = [m for m in arms if m in ('hg_dagger', 'recap')]
    pairs = {f'aloe-{m}': paired(curves, 'aloe', m) for m in arms
             if m != 'aloe'} if 'aloe' in arms else {}
    targets = check_targets(summary, pairs, baselines, sizes)
    out_dir = args.out or C.RESULTS_DIR
    png = args.plot or os.path.join(out_dir, 'bench_learning.png')
    plot(summary, args.target, png, f'handover, BC start on {sizes["demos"]} demos, '
         f'{sizes["seeds"]} seed(s), {sizes["episodes"]} episodes/iteration, '
         f'eval n = {sizes["eval_episodes"]} ({size})')
    print(f'\nLearning efficiency ({size}: {sizes["seeds"]} seeds, {sizes["iterations"]} '
          'iterations x '
          f'{sizes["episodes"]} episodes, eval {sizes["eval_episodes"]} operator-free episodes '
          'per point)')
    print(f'{"arm":<16}{"start":>7}{"final":>7}{"+-se":>6}{"best":>6}'
          f'{"eps->0.8":>9}{"eps->0.9":>9}'
          f'{"ops->0.8":>9}{"ops total":>10}{"below start":>12}')
    for m, r in summary.items():
        se = r['success_se'][-1]
        print(f'{m:<16}{r["start_mean"]:7.2f}{r["final_success_mean"]:7.2f}{se:6.2f}'
              f'{r["best_mean"]:6.2f}'
              f'{str(r["reach"]["0.80"]["episodes_mean_curve"]):>9}'
              f'{str(r["reach"]["0.90"]["episodes_mean_curve"]):>9}'
              f'{str(r["reach"]["0.80"]["operator_steps_mean_curve"]):>9}'
              f'{r["operator_steps_mean"][-1]:10.0f}{len(r["seeds_ending_below_start"]):>12}')
    for name, pr in pairs.items():
        print(f'paired {name:<22} mean over iterations {pr["mean"]:+.3f} +- {pr["se"]:.3f} (SE), '
              f'> 0 on {pr["positive_seeds"]}/{pr["seeds"]} seeds')
    for name, t in targets.items():
        print(f'target {name:<44} {"MET" if t["met"] else "NOT met"}  ({t["value"]})')
    met = bool(targets) and all(t['met'] for t in targets.values())
    path = C.write_results('learning', {
        'size': size, 'sizes': sizes, 'target': args.target, 'methods': summary, 'paired': pairs,
        'targets': targets, 'arms': {m: {'method': ARMS[m][0],
                                         'overrides': _merge(ARMS[m][1], overrides)}
                                     for m in arms},
        'curves': {m: {str(s): c for s, c in by_seed.items()} for m, by_seed in curves.items()},
        'learner_config': learner_path or C.BENCH_CONFIG,
        'config': arm_config('aloe', 0, overrides, learner_path).to_dict(), 'target_met': met,
        'plot': png,
        'phases': timer.phases}, args.out)
    print(f'wrote {path} and {png}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Learning efficiency: operator-free success rate vs interaction episodes, ALOE against baselines.

Every method starts from the same behaviour-cloned actor (flow matching on ``demos`` scripted
demonstrations for ``bc_steps`` updates, per seed) and the same data: the demos plus what it
collects. One iteration: ``episodes`` episodes of the current policy (chunks of H = 20, executed
h_exec = 10 steps, then re-planned) supervised by the simulated operator, who takes over and hands
back; then ``critic_steps`` + ``actor_steps`` updates of the method; then ``eval_episodes``
operator-free evaluation episodes on fixed seeds (success rate, and the scripted expert's task
progress measure at the end, a dense secondary signal).

Methods (``AloeTrainer`` ``method``): ``aloe`` (chunked TD critic of the current policy +
advantage-weighted flow matching), ``hg_dagger`` (flow matching on human steps only), ``recap``
(Monte-Carlo value of the mixture + advantage-weighted flow matching). Model: bench_small.yaml.

Reported per method: mean and spread (min/max over seeds) of success vs cumulative interaction
episodes, episodes to reach ``--target`` success (mean curve), and a PNG plot.

Usage: ``python bench/bench_learning.py [--quick] [--seeds N] [--target 0.5]``; writes
results/bench_learning.json and results/bench_learning.png (``--plot`` for another path).
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
import yaml  # noqa: E402

# Arms: name -> (trainer method, config overrides on top of bench_small.yaml). The first three are
# the comparison; the others ablate one switch of the ALOE actor step each (--arms to run them).
ARMS = {
    'aloe': ('aloe', {}),
    'hg_dagger': ('hg_dagger', {}),
    'recap': ('recap', {}),
    'aloe_plain_awfm': ('aloe', {'actor': {'adv_norm': False, 'target_ess': 0.0,
                                           'normalize_weights': False}}),
    'aloe_no_ess': ('aloe', {'actor': {'target_ess': 0.0}}),
    'aloe_human_only': ('aloe', {'actor': {'learn_from': 'human'}}),
}
METHODS = ('aloe', 'hg_dagger', 'recap')


def _merge(base: dict, extra: dict) -> dict:
    out = {k: dict(v) for k, v in base.items()}
    for section, values in extra.items():
        out.setdefault(section, {}).update(values)
    return out


def arm_config(arm: str, seed: int, overrides: dict):
    """The learner config of one arm: bench_small.yaml + the arm's switches + command-line overrides."""
    method, extra = ARMS[arm]
    return C.bench_config(method, seed=seed, **_merge(extra, overrides))


SIZES = {
    'default': dict(seeds=3, demos=10, bc_steps=2000, iterations=6, episodes=4, critic_steps=300,
                    actor_steps=200, eval_episodes=8),
    'quick': dict(seeds=1, demos=4, bc_steps=200, iterations=2, episodes=2, critic_steps=40,
                  actor_steps=30, eval_episodes=3),
}
EVAL_SEED = 7_000_000


def _sim():
    from aloe_ros.sim.env import BimanualEnv
    from aloe_ros.sim.expert import ScriptedExpert
    from aloe_ros.sim.operator import SimulatedOperator
    env = BimanualEnv('handover', cameras=())
    expert = ScriptedExpert(env)
    return env, expert, SimulatedOperator(env, expert)


def bc_start(seed: int, sizes):
    """The shared start of one seed: demos and the BC actor trained on them."""
    from aloe_ros.learning.episode import InMemoryEpisodeSource
    from aloe_ros.learning.trainer import AloeTrainer
    from aloe_ros.sim.rollout import run_episode
    env, expert, operator = _sim()
    demos = [C.as_demo(run_episode(env, lambda o: expert.act(), operator, seed=100_000 * (seed + 1) + i,
                                   episode_id=f's{seed}-{i}')) for i in range(sizes['demos'])]
    cfg = C.bench_config('hg_dagger', seed=seed, actor={'lr': 1e-3})
    tr = AloeTrainer(cfg, InMemoryEpisodeSource(demos))
    tr.refresh()
    tr.train(0, sizes['bc_steps'])
    return demos, tr.policy


def evaluate(env, expert, runner, n: int):
    """Operator-free success rate and mean final task progress over fixed seeds."""
    succ, prog = [], []
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
    return float(np.mean(succ)), float(np.mean(prog))


def run_method(job):
    """One (arm, seed) learning curve from the shared BC start."""
    method, seed, sizes, demos, policy, overrides = job
    C.setup_threads()
    from aloe_ros.learning.episode import InMemoryEpisodeSource
    from aloe_ros.learning.trainer import AloeTrainer
    from aloe_ros.sim.rollout import run_episode
    env, expert, operator = _sim()
    cfg = arm_config(method, seed, overrides)
    source = InMemoryEpisodeSource(demos)
    tr = AloeTrainer(cfg, source, policy=copy.deepcopy(policy))
    tr.refresh()
    runner = C.ChunkedPolicy(tr.acting_policy, cfg, cfg.data.h_exec, seed=seed,
                             instruction=env.task.instruction)
    t0 = time.monotonic()
    s, p = evaluate(env, expert, runner, sizes['eval_episodes'])
    curve = {'episodes': [0], 'success': [s], 'progress': [p], 'operator_success': [None],
             'human_frac': [None]}
    n_eps = 0
    for it in range(sizes['iterations']):
        outcomes, human = [], []
        for k in range(sizes['episodes']):
            runner.reset()
            ep = run_episode(env, runner, operator, seed=1_000_000 * (seed + 1) + n_eps,
                             policy_version=it + 1, episode_id=f'{method}-s{seed}-{n_eps}')
            source.add(ep)
            n_eps += 1
            outcomes.append(ep.outcome == 1)
            human.append(float(ep.interventions.mean()))
        tr.refresh()
        tr.policy.train()
        tr.train(sizes['critic_steps'], sizes['actor_steps'])
        tr.policy.eval()
        tr.acting_policy.eval()
        s, p = evaluate(env, expert, runner, sizes['eval_episodes'])
        curve['episodes'].append(n_eps)
        curve['success'].append(s)
        curve['progress'].append(p)
        curve['operator_success'].append(float(np.mean(outcomes)))
        curve['human_frac'].append(float(np.mean(human)))
        print(f'  {method:<9} seed {seed} iter {it + 1}: {n_eps} episodes, success {s:.2f}, '
              f'progress {p:.2f}, human steps {np.mean(human):.2f} ({time.monotonic() - t0:.0f} s)',
              flush=True)
    curve['seconds'] = time.monotonic() - t0
    return method, seed, curve


def episodes_to_target(episodes, success, target: float):
    """First cumulative episode count at which success >= target, or None."""
    for n, s in zip(episodes, success):
        if s >= target:
            return int(n)
    return None


def summarize(curves, target: float):
    """Mean / min / max over seeds per method, and episodes to target."""
    out = {}
    for method, by_seed in curves.items():
        succ = np.array([c['success'] for c in by_seed.values()])
        prog = np.array([c['progress'] for c in by_seed.values()])
        eps = next(iter(by_seed.values()))['episodes']
        mean = succ.mean(0)
        out[method] = {'episodes': eps, 'success_mean': mean.tolist(), 'success_min': succ.min(0).tolist(),
                       'success_max': succ.max(0).tolist(), 'success_std': succ.std(0).tolist(),
                       'progress_mean': prog.mean(0).tolist(),
                       'episodes_to_target': episodes_to_target(eps, mean, target),
                       'per_seed_episodes_to_target': {str(s): episodes_to_target(eps, c['success'], target)
                                                       for s, c in by_seed.items()},
                       'final_success_mean': float(mean[-1]), 'final_progress_mean': float(prog.mean(0)[-1])}
    return out


def plot(summary, target: float, path: str, title: str) -> None:
    """Success vs interaction episodes (mean line, min-max band) per method."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for method, s in summary.items():
        x = s['episodes']
        line, = axes[0].plot(x, s['success_mean'], marker='o', label=method)
        axes[0].fill_between(x, s['success_min'], s['success_max'], alpha=0.2, color=line.get_color())
        axes[1].plot(x, s['progress_mean'], marker='o', label=method)
    axes[0].axhline(target, ls='--', color='gray', lw=1, label=f'target {target:.2f}')
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].set_xlabel('interaction episodes')
    axes[0].set_ylabel('operator-free success rate')
    axes[1].set_xlabel('interaction episodes')
    axes[1].set_ylabel('final task progress (expert phase measure)')
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='small sizes (CI smoke run, ~2-4 min)')
    ap.add_argument('--seeds', type=int, default=None, help='number of seeds (default by size)')
    ap.add_argument('--target', type=float, default=0.5, help='operator-free success target')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=INT',
                    help='override one size, e.g. --set iterations=4 (the JSON then says size "custom")')
    ap.add_argument('--arms', default=','.join(METHODS),
                    help=f'comma-separated arms to run (known: {", ".join(ARMS)})')
    ap.add_argument('--override', action='append', default=[], metavar='SECTION.KEY=VALUE',
                    help='learner config override for every arm (YAML value), e.g. actor.lr=1e-3')
    ap.add_argument('--workers', type=int, default=2, help='processes (at most 2 on the shared machine)')
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
    timer = C.Timer()
    starts = {}
    for seed in range(sizes['seeds']):
        starts[seed] = bc_start(seed, sizes)
        timer.mark(f'seed {seed}: BC start on {sizes["demos"]} demos, {sizes["bc_steps"]} steps')
    arms = [a for a in args.arms.split(',') if a]
    for a in arms:
        if a not in ARMS:
            ap.error(f'--arms: unknown arm {a!r}; known: {", ".join(ARMS)}')
    overrides: dict = {}
    for item in args.override:
        key, _, value = item.partition('=')
        section, _, name = key.partition('.')
        if not name or not _:
            ap.error(f'--override {item}: expected SECTION.KEY=VALUE')
        overrides.setdefault(section, {})[name] = yaml.safe_load(value)
    jobs = [(m, seed, sizes, starts[seed][0], starts[seed][1], overrides) for seed in starts for m in arms]
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
    out_dir = args.out or C.RESULTS_DIR
    png = args.plot or os.path.join(out_dir, 'bench_learning.png')
    plot(summary, args.target, png, f'handover, BC start on {sizes["demos"]} demos, '
         f'{sizes["seeds"]} seed(s), {sizes["episodes"]} episodes/iteration ({size})')
    print(f'\nLearning efficiency ({size}: {sizes["seeds"]} seeds, {sizes["iterations"]} iterations x '
          f'{sizes["episodes"]} episodes, eval {sizes["eval_episodes"]} episodes; target {args.target})')
    print(f'{"method":<11}{"start":>7}{"final":>7}{"min":>6}{"max":>6}{"progress":>10}{"eps to target":>15}')
    for m, s in summary.items():
        print(f'{m:<11}{s["success_mean"][0]:7.2f}{s["final_success_mean"]:7.2f}'
              f'{s["success_min"][-1]:6.2f}{s["success_max"][-1]:6.2f}'
              f'{s["final_progress_mean"]:10.2f}{str(s["episodes_to_target"]):>15}')
    a = summary['aloe']['episodes_to_target']
    others = [summary[m]['episodes_to_target'] for m in arms if m != 'aloe' and m in METHODS]
    met = a is not None and all(o is None or a < o for o in others)
    print(f'target: ALOE reaches {args.target} success in fewer episodes than every baseline -> '
          f'{"MET" if met else "NOT met"}')
    path = C.write_results('learning', {
        'size': size, 'sizes': sizes, 'target': args.target, 'methods': summary, 'curves': {
            m: {str(s): c for s, c in by_seed.items()} for m, by_seed in curves.items()},
        'config': C.bench_config('aloe').to_dict(), 'target_met': bool(met), 'plot': png,
        'phases': timer.phases}, args.out)
    print(f'wrote {path} and {png}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

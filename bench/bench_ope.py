# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Off-policy evaluation accuracy: how well each critic values the *current* policy from mixture data.

Setup (sim handover task, ``config/learner/bench_small.yaml``: no cameras, the 9-value privileged
state as extra input, H = 20, h_exec = 10, 2 Q-heads, min aggregation):

1. The current policy pi: a flow-matching actor behaviour-cloned (HG-DAgger trainer, all-human
   data) on ``pi_demos`` scripted demonstrations for ``pi_steps`` updates; it executes each
   sampled chunk fully (H steps), the policy a chunked critic evaluates.
2. Mixture data pi never produced: scripted expert demos; the expert with Gaussian joint-target
   noise at two levels (older, sloppy policies); and an older weak BC policy (trained on 3 demos
   for a few hundred steps), every non-demo episode supervised by the simulated operator, who
   takes over and hands back (``run_episode``).
3. Estimators, each trained on the same mixture with the actor frozen at pi:
   ``aloe`` (chunked TD toward Q^pi, bootstrap a' ~ pi), ``td1`` (1-step TD, bootstrap with the
   first action of a pi chunk), ``recap`` (K-head value regressed on Monte-Carlo returns of the
   mixture). For td1/recap, Q(s, a_chunk) = sum_k gamma^k r_{t+k} + gamma^H V(s_{t+H}) (the n-step
   form recap uses); aloe's Q is its chunk critic.
4. Ground truth at sampled dataset chunk starts (sim state restored by re-executing the episode's
   actions; the sim is deterministic): V^pi(s) = mean of ``rollouts`` Monte-Carlo returns of pi from
   s; Q^pi(s, a) = executed dataset chunk, then pi (mean of ``rollouts``). Rollouts run up to
   ``gt_steps`` ticks (no timeout inside; gamma^gt_steps bounds the cut-off error).

Reported: RMSE and bias of V and Q against ground truth, Spearman correlation of advantages
A = Q - V, and the target ratio rmse_V(recap) / rmse_V(aloe) >= 2 (DESIGN.md section 5).

Usage: ``python bench/bench_ope.py [--quick] [--seed N]``; writes results/bench_ope.json.
"""

import argparse
import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from aloe_ros.learning.critic import aggregate, state_value  # noqa: E402
from aloe_ros.learning.episode import InMemoryEpisodeSource  # noqa: E402
from aloe_ros.learning.trainer import AloeTrainer  # noqa: E402
from aloe_ros.sim.env import BimanualEnv  # noqa: E402
from aloe_ros.sim.expert import ScriptedExpert  # noqa: E402
from aloe_ros.sim.operator import SimulatedOperator  # noqa: E402
from aloe_ros.sim.rollout import run_episode  # noqa: E402

SIZES = {
    'default': dict(pi_demos=20, pi_steps=4000, mix_demos=8, noisy_eps=8, weak_eps=8, weak_steps=300,
                    critic_steps=6000, states=80, rollouts=4, gt_steps=300),
    'quick': dict(pi_demos=8, pi_steps=800, mix_demos=3, noisy_eps=2, weak_eps=2, weak_steps=100,
                  critic_steps=500, states=16, rollouts=2, gt_steps=200),
}
NOISE_LEVELS = (0.03, 0.1)
METHODS = ('aloe', 'recap', 'td1')


def train_bc(demos, steps: int, seed: int, log=print):
    """Behaviour-clone a flow-matching actor on demos (HG-DAgger trainer: every step is human)."""
    cfg = C.bench_config('hg_dagger', seed=seed, actor={'lr': 1e-3})
    tr = AloeTrainer(cfg, InMemoryEpisodeSource(demos))
    tr.refresh()
    m = tr.train(0, steps)
    log(f'  BC on {len(demos)} demos, {steps} steps: flow loss {m["flow_loss"]:.3f} ({m["seconds"]:.0f} s)')
    return tr.policy.eval(), cfg


def collect_mixture(env, expert, operator, policy_bc_weak, cfg, sizes, seed: int, log=print):
    """Scripted demos + noisy-expert and weak-BC episodes under the simulated operator."""
    eps = []
    base = 10_000 * (seed + 1)
    for i in range(sizes['mix_demos']):
        eps.append(C.as_demo(run_episode(env, lambda o: expert.act(), operator, seed=base + i,
                                         episode_id=f'expert-{i}')))
    rng = np.random.default_rng(seed)
    for sigma in NOISE_LEVELS:
        for i in range(sizes['noisy_eps']):
            def noisy(obs, sigma=sigma):
                return expert.act() + rng.normal(0.0, sigma, 14)
            eps.append(run_episode(env, noisy, operator, seed=base + 100 + 1000 * int(100 * sigma) + i,
                                   episode_id=f'noise{sigma}-{i}'))
    weak = C.ChunkedPolicy(policy_bc_weak, cfg, cfg.data.h_exec, seed=seed)
    for i in range(sizes['weak_eps']):
        weak.reset()
        eps.append(run_episode(env, weak, operator, seed=base + 500 + i, episode_id=f'weakbc-{i}'))
    for name in ('demo-expert', 'noise', 'weakbc'):
        sel = [e for e in eps if e.episode_id.startswith(name)]
        log(f'  {name}: {len(sel)} episodes, {sum(len(e) for e in sel)} steps, '
            f'success {np.mean([e.outcome == 1 for e in sel]):.2f}, '
            f'human steps {np.mean([e.interventions.mean() for e in sel]):.2f}')
    return eps


def critic_trainer(method: str, pi, episodes, seed: int) -> AloeTrainer:
    """Trainer whose actor is a frozen copy of pi (its normalisation kept); critic normalised on the data."""
    cfg = C.bench_config(method, seed=seed)
    tr = AloeTrainer(cfg, InMemoryEpisodeSource(episodes), policy=copy.deepcopy(pi))
    tr.replay.refresh()
    stats = tr.replay.stats()
    for net in (tr.critic, tr.critic_target):
        if net is not None:
            net.set_normalization(stats)
    tr.normalized = True
    return tr


@torch.no_grad()
def value_at(tr: AloeTrainer, g: np.ndarray) -> np.ndarray:
    """The method's V(s) at global replay steps g."""
    obs = tr.replay.gather_obs(g)
    c = tr.cfg.critic
    if tr.cfg.method == 'recap':
        return aggregate(tr.critic(obs), c, tr.generator).numpy()
    return state_value(tr.critic, obs, tr._sample_actor, c, c.value_samples, tr.generator).numpy()


@torch.no_grad()
def estimates(tr: AloeTrainer, keys, episodes, horizon: int, gamma: float):
    """(V, Q) estimates of one method at chunk starts keys = [(episode index, t)]."""
    cols = tr.replay._cols
    lookup = {(int(e), int(t)): r for r, (e, t) in enumerate(zip(cols['ep'].view(), cols['t'].view()))}
    rows = np.array([lookup[k] for k in keys])
    g = cols['g'].data[rows]
    v = value_at(tr, g)
    if tr.cfg.method == 'aloe':
        _, q, _ = tr.batch_advantage(tr.replay.batch(rows))
        return v, q.numpy()
    disc = gamma ** np.arange(horizon)
    ret = np.array([float((episodes[e].rewards[t:t + horizon] * disc).sum()) for e, t in keys])
    return v, ret + gamma ** horizon * value_at(tr, g + horizon)


def pi_return(env, pi: C.ChunkedPolicy, state, steps: int, gamma: float) -> float:
    """One Monte-Carlo return of pi from a restored sim state."""
    env.set_state(state)
    pi.reset()
    obs = env.observe()
    for k in range(steps):
        obs, r, term, _, _ = env.step(pi(obs))
        if r > 0 or term:
            return float(r) * gamma ** k
    return 0.0


def ground_truth(env, pi: C.ChunkedPolicy, keys, episodes, sizes, horizon: int, gamma: float, log=print):
    """Monte-Carlo V^pi(s_t) and Q^pi(s_t, a_{t:t+H}) at each (episode index, t)."""
    v_gt, q_gt = [], []
    by_ep = {}
    for e, t in keys:
        by_ep.setdefault(e, []).append(t)
    snaps = {}
    for e, ts in by_ep.items():
        for t, s in C.replay_states(env, episodes[e], ts).items():
            snaps[(e, t)] = s
    n, steps = sizes['rollouts'], sizes['gt_steps']
    for i, (e, t) in enumerate(keys):
        s = snaps[(e, t)]
        v_gt.append(np.mean([pi_return(env, pi, s, steps, gamma) for _ in range(n)]))
        env.set_state(s)
        ret, ended = 0.0, False
        for k in range(horizon):
            _, r, term, _, _ = env.step(episodes[e].actions[t + k])
            ret += gamma ** k * r
            if term:
                ended = True
                break
        if ended:
            q_gt.append(ret)
        else:
            s_next = env.get_state()
            q_gt.append(ret + gamma ** horizon * np.mean([pi_return(env, pi, s_next, steps, gamma)
                                                          for _ in range(n)]))
        if (i + 1) % max(1, len(keys) // 4) == 0:
            log(f'  ground truth {i + 1}/{len(keys)} states')
    return np.array(v_gt), np.array(q_gt)


def metrics(v, q, v_gt, q_gt):
    """RMSE/bias of V and Q, Spearman of advantages and of Q."""
    return {'rmse_v': float(np.sqrt(np.mean((v - v_gt) ** 2))), 'bias_v': float(np.mean(v - v_gt)),
            'rmse_q': float(np.sqrt(np.mean((q - q_gt) ** 2))), 'bias_q': float(np.mean(q - q_gt)),
            'spearman_adv': C.spearman(q - v, q_gt - v_gt), 'spearman_v': C.spearman(v, v_gt),
            'spearman_q': C.spearman(q, q_gt), 'mean_v': float(np.mean(v)), 'mean_q': float(np.mean(q))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--quick', action='store_true', help='small sizes (CI smoke run, ~2-4 min)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default=None, help='results directory (default: results/)')
    args = ap.parse_args(argv)
    C.setup_threads()
    size = 'quick' if args.quick else 'default'
    sizes = SIZES[size]
    timer = C.Timer()
    torch.manual_seed(args.seed)
    env = BimanualEnv('handover', cameras=())
    expert = ScriptedExpert(env)
    operator = SimulatedOperator(env, expert)
    demo_seed = 50_000 * (args.seed + 1)
    demos = [C.as_demo(run_episode(env, lambda o: expert.act(), operator, seed=demo_seed + i,
                                   episode_id=f'pi-demo-{i}')) for i in range(sizes['pi_demos'])]
    timer.mark(f'{len(demos)} demos for pi')
    pi_net, cfg = train_bc(demos, sizes['pi_steps'], args.seed)
    weak_net, _ = train_bc(demos[:3], sizes['weak_steps'], args.seed + 1)
    timer.mark('pi and the weak BC policy trained')
    episodes = collect_mixture(env, expert, operator, weak_net, cfg, sizes, args.seed)
    timer.mark(f'mixture: {len(episodes)} episodes, {sum(len(e) for e in episodes)} steps')

    H, gamma = cfg.model.horizon, cfg.critic.gamma
    trainers = {}
    for method in METHODS:
        tr = critic_trainer(method, pi_net, episodes, args.seed)
        m = tr.train(sizes['critic_steps'], 0)
        trainers[method] = tr
        timer.mark(f'{method}: {sizes["critic_steps"]} critic steps, loss {m["critic_loss"]:.4f}')

    # Chunk starts with a full, non-terminal window (t + H < T), the same rows in every replay.
    cols = trainers['aloe'].replay._cols
    ok = (cols['n_rew'].view() == H) & ~cols['done'].view().astype(bool)
    cand = [(int(e), int(t)) for e, t in zip(cols['ep'].view()[ok], cols['t'].view()[ok])]
    td_cols = trainers['td1'].replay._cols
    td_keys = {(int(e), int(t)) for e, t in zip(td_cols['ep'].view(), td_cols['t'].view())}
    cand = [k for k in cand if k in td_keys and k[1] + H < len(episodes[k[0]])]
    rng = np.random.default_rng(args.seed + 7)
    pick = rng.choice(len(cand), size=min(sizes['states'], len(cand)), replace=False)
    keys = [cand[i] for i in sorted(pick)]
    gt_env = BimanualEnv('handover', cameras=(), max_steps=10 ** 9)
    pi_runner = C.ChunkedPolicy(pi_net, cfg, execute=H, seed=args.seed + 11)
    v_gt, q_gt = ground_truth(gt_env, pi_runner, keys, episodes, sizes, H, gamma)
    timer.mark(f'ground truth at {len(keys)} states ({sizes["rollouts"]} rollouts each for V and Q)')
    succ = np.mean([pi_return(gt_env, pi_runner, _start_state(gt_env, 900 + i), sizes['gt_steps'], 1.0)
                    for i in range(10)])
    mc_mix = np.array([float(trainers['aloe'].replay._cols['mc_return'].data[
        {(int(e), int(t)): r for r, (e, t) in enumerate(zip(cols['ep'].view(), cols['t'].view()))}[k]])
        for k in keys])

    results = {}
    per_state = {'episode': [episodes[e].episode_id for e, _ in keys], 't': [t for _, t in keys],
                 'v_gt': v_gt.tolist(), 'q_gt': q_gt.tolist(), 'mixture_mc_return': mc_mix.tolist()}
    for method, tr in trainers.items():
        v, q = estimates(tr, keys, episodes, H, gamma)
        results[method] = metrics(v, q, v_gt, q_gt)
        per_state[method] = {'v': v.tolist(), 'q': q.tolist()}
    results['mixture_mc_return'] = metrics(mc_mix, mc_mix, v_gt, q_gt)
    ratio = results['recap']['rmse_v'] / max(results['aloe']['rmse_v'], 1e-12)
    timer.mark('estimates compared')

    print(f'\nOPE accuracy ({size} size, {len(keys)} states; ground truth mean V^pi {v_gt.mean():.3f}, '
          f'mean Q^pi {q_gt.mean():.3f}; pi success from reset {succ:.2f})')
    print(f'{"estimator":<18}{"rmse V":>9}{"bias V":>9}{"rmse Q":>9}{"bias Q":>9}{"rho(A)":>9}{"rho(V)":>9}')
    for name, r in results.items():
        print(f'{name:<18}{r["rmse_v"]:9.4f}{r["bias_v"]:9.4f}{r["rmse_q"]:9.4f}{r["bias_q"]:9.4f}'
              f'{r["spearman_adv"]:9.3f}{r["spearman_v"]:9.3f}')
    print(f'target rmse_V(recap) / rmse_V(aloe) >= 2: {ratio:.2f} -> {"MET" if ratio >= 2 else "NOT met"}')
    path = C.write_results('ope', {
        'size': size, 'sizes': sizes, 'seed': args.seed, 'config': cfg.to_dict(),
        'noise_levels': list(NOISE_LEVELS), 'states': len(keys),
        'mixture': {'episodes': len(episodes), 'steps': int(sum(len(e) for e in episodes)),
                    'human_step_frac': float(np.mean(np.concatenate([e.interventions for e in episodes]))),
                    'success_frac': float(np.mean([e.outcome == 1 for e in episodes]))},
        'pi_success_rate': float(succ), 'gt_mean_v': float(v_gt.mean()), 'gt_mean_q': float(q_gt.mean()),
        'gt_std_v': float(v_gt.std()), 'methods': results, 'ratio_rmse_v_recap_over_aloe': float(ratio),
        'target_met': bool(ratio >= 2.0), 'per_state': per_state, 'phases': timer.phases}, args.out)
    print(f'wrote {path}')
    return 0


def _start_state(env, seed: int):
    env.reset(seed)
    return env.get_state()


if __name__ == '__main__':
    sys.exit(main())

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
The main job: ALOE post-training in the MuJoCo sim, through the real ROS 2 graph.

``aloe train-sim [--config FILE] [--long] [--out DIR]`` runs, with progress bars:

1. **Demonstrations**: the scripted expert performs ``demos`` episodes in the sim (in-process, no
   ROS); they are written to the episode store as SCRIPTED steps, with images rendered and resized
   exactly as the sim node + observation node produce them.
2. **Behaviour-cloned start**: flow matching on the demos (``aloe_ros.learning.bc``); exported as
   policy v1 together with the learner state, which the learner node resumes from.
3. **The graph**: ``launch/sim_train.launch.yaml`` starts sim (with the simulated operator),
   observation, policy (running v1), chunk executor, teleop, recorder and learner, one OS process
   each, over DDS.
4. **Iterations**: the supervisor (this process, through the public
   :class:`aloe_ros.station.StationClient`) resets the scene and starts
   ``episodes_per_iteration`` episodes; the policy drives, the simulated operator takes over when
   it goes wrong and ends each episode as success or failure; the recorder stores every executed
   step. Then the learner runs one ALOE iteration (critic, then advantage-weighted actor) on the
   whole store and pushes the new weights, which the running policy hot-swaps.
5. **Report**: a per-iteration table on the terminal, ``report.json`` and ``learning_curve.png``
   in the run folder.

Every number in the table comes from the recorder's episode summaries and the learner's
metrics of that run; nothing is simulated outside the graph after step 2.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np
import yaml

JOB_DEFAULTS: Dict[str, Any] = {
    'task': 'handover', 'learner_config': 'learner/sim_train.yaml', 'seed': 0, 'demos': 30,
    'bc_steps': 2000, 'iterations': 8, 'episodes_per_iteration': 6, 'critic_steps': 400,
    'actor_steps': 300, 'eval_episodes': 8, 'eval_every': 1, 'episode_timeout_s': 60.0,
    'max_episode_steps': 600,
    'sim': {'image_height': 96, 'image_width': 128, 'camera_rate_hz': 25.0,
            'real_time_factor': 1.0, 'command_interface': 'trajectory'},
    'long': {},
}
INT_KEYS = ('seed', 'demos', 'bc_steps', 'iterations', 'episodes_per_iteration', 'critic_steps',
            'actor_steps', 'eval_episodes', 'eval_every', 'max_episode_steps')
# operator-free evaluation episodes use seeds EVAL_SEED + i, disjoint from training
EVAL_SEED = 900_000


class JobConfigError(ValueError):
    """The job YAML is invalid; the message names the key."""


def package_config_dir() -> str:
    """Return this package's config/ folder: the installed share dir, else the source tree's."""
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    for prefix in prefixes:
        candidate = os.path.join(prefix, 'share', 'aloe_ros', 'config')
        if os.path.isdir(candidate):
            return candidate
    source = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', 'config'))
    if os.path.isdir(source):
        return source
    raise FileNotFoundError('cannot find aloe_ros config/: source the workspace (scripts/env.sh)')


def resolve_config_path(name: str, job_dir: str) -> str:
    """Resolve a relative config path: next to the job file first, then in the package config/."""
    if os.path.isabs(name):
        return name
    beside = os.path.normpath(os.path.join(job_dir, name))
    if os.path.exists(beside):
        return beside
    return os.path.normpath(os.path.join(package_config_dir(), name))


def load_job(path: str, long: bool = False) -> Dict[str, Any]:
    """Load and validate a job YAML; ``long`` applies its ``long:`` overrides."""
    with open(path, 'r', encoding='utf-8') as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise JobConfigError(f'{path}: top level must be a mapping')
    unknown = sorted(set(data) - set(JOB_DEFAULTS))
    if unknown:
        raise JobConfigError(f'{path}: unknown key(s) {unknown}; known: {sorted(JOB_DEFAULTS)}')
    job = dict(JOB_DEFAULTS)
    job['sim'] = dict(JOB_DEFAULTS['sim'])
    for key, value in data.items():
        if key == 'sim':
            bad = sorted(set(value or {}) - set(JOB_DEFAULTS['sim']))
            if bad:
                raise JobConfigError(f'{path}: unknown key(s) sim.{bad}')
            job['sim'].update(value or {})
        else:
            job[key] = value
    overrides = job.get('long') or {}
    bad = sorted(set(overrides) - set(JOB_DEFAULTS))
    if bad:   # checked with or without --long: a typo there must not wait for the long run
        raise JobConfigError(f'{path}: unknown key(s) long.{bad}')
    if long:
        job.update(overrides)
    for key in INT_KEYS:
        if not isinstance(job[key], int) or isinstance(job[key], bool) or job[key] < 0:
            raise JobConfigError(f'{path}: {key} must be a non-negative integer, got {job[key]!r}')
    for key in ('demos', 'iterations', 'episodes_per_iteration', 'max_episode_steps',
                'eval_every'):
        if job[key] < 1:
            raise JobConfigError(f'{path}: {key} must be >= 1')
    if job['sim']['command_interface'] not in ('trajectory', 'forward'):
        raise JobConfigError(f'{path}: sim.command_interface must be trajectory or forward, got '
                             f'{job["sim"]["command_interface"]!r}')
    if not isinstance(job['episode_timeout_s'], (int, float)) or job['episode_timeout_s'] <= 0:
        raise JobConfigError(f'{path}: episode_timeout_s must be a positive number')
    job['learner_config'] = resolve_config_path(job['learner_config'],
                                                os.path.dirname(os.path.abspath(path)))
    if not os.path.exists(job['learner_config']):
        raise JobConfigError(f'{path}: learner_config {job["learner_config"]} does not exist')
    return job


# ---------------------------------------------------------------------------- phase 1 and 2


def collect_demos(job: Dict[str, Any], learner_cfg, store, bar) -> List[Dict[str, Any]]:
    """Run the scripted expert for ``job['demos']`` seeds and add the episodes to ``store``."""
    from aloe_ros.station.conversions import resize
    from aloe_ros.learning.episode import (OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_TIMEOUT,
                                           SOURCE_SCRIPTED)
    from aloe_ros.sim.env import BimanualEnv
    from aloe_ros.sim.expert import ScriptedExpert
    from aloe_ros.storage.convert import make_episode

    model = learner_cfg.model
    env = BimanualEnv(job['task'], image_size=(job['sim']['image_height'],
                                               job['sim']['image_width']),
                      cameras=tuple(model.cameras), max_steps=job['max_episode_steps'])
    stats = []
    try:
        for i in range(job['demos']):
            seed = 100000 + job['seed'] * 1000 + i  # never a seed the live episodes use
            obs = env.reset(seed)
            expert = ScriptedExpert(env)
            images = {c: [] for c in model.cameras}
            proprio, actions, states = [], [], []
            while True:
                action = expert.act(obs)
                states.append(obs['state'])
                for c in model.cameras:
                    images[c].append(resize(obs['images'][c], model.image_size[0],
                                            model.image_size[1]))
                proprio.append(obs['proprio'])
                actions.append(action)
                obs, _r, terminated, truncated, _info = env.step(action)
                if terminated or truncated:
                    break
            success = env.success()
            outcome = (OUTCOME_SUCCESS if success
                       else OUTCOME_FAILURE if terminated else OUTCOME_TIMEOUT)
            episode = make_episode(f'demo-{seed}', np.asarray(actions, np.float32),
                                   np.asarray(proprio),
                                   sources=np.full(len(actions), SOURCE_SCRIPTED, np.uint8),
                                   images={c: np.stack(v) for c, v in images.items()},
                                   outcome=outcome,
                                   task=job['task'], instruction=env.task.instruction, seed=seed)
            if model.extra_state_dim:
                episode.extra['state'] = np.stack(states).astype(np.float32)
            store.add_episode(episode, task_state_names=env.privileged_state_names())
            stats.append({'seed': seed, 'steps': len(actions), 'success': bool(success)})
            bar.update(1)
            bar.set_postfix(success=f'{sum(s["success"] for s in stats)}/{len(stats)}')
    finally:
        env.close()
    return stats


def warm_start(job, learner_cfg, store_root: str, weights_dir: str, bar) -> Dict[str, Any]:
    """Behaviour-clone on the store, save the learner state and export policy v1."""
    from aloe_ros.learning.bc import behaviour_clone
    from aloe_ros.learning.trainer import AloeTrainer
    from aloe_ros.storage.store import EpisodeStore

    store = EpisodeStore(store_root, mode='r')
    try:
        trainer = AloeTrainer(learner_cfg, store)
        trainer.refresh()

        def progress(step, total, loss):
            bar.update(1)
            if step % 25 == 0 or step == total:
                bar.set_postfix(loss=f'{loss:.3f}')
        metrics = behaviour_clone(trainer, job['bc_steps'], progress)
        info = trainer.export(weights_dir)
        trainer.save_state(weights_dir)
    finally:
        store.close()
    return {'path': info.path, 'sha256': info.sha256, 'version': info.version, **metrics}


# ---------------------------------------------------------------------------- phase 3 and 4


class GraphProcess:
    """The launched graph (`aloe launch`), its output going to a log file."""

    def __init__(self, launch_args: List[str], log_path: str):
        """Start ``aloe launch aloe_ros sim_train.launch.yaml <launch_args>`` in a new session."""
        self.log = open(log_path, 'w', encoding='utf-8')
        cmd = [sys.executable, '-m', 'aloe_ros.launch_tools.cli', 'aloe_ros',
               'sim_train.launch.yaml',
               *launch_args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=os.environ.copy())

    def alive(self) -> bool:
        """Return whether the launch process still runs."""
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT the launch (it forwards to every node), escalate if it does not finish."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()
        return self.proc.returncode


def train_with_bar(station, critic_steps: int, actor_steps: int, bar):
    """Run one learner iteration through ``station`` (a StationClient), advancing ``bar``."""
    done_steps = {'critic': 0, 'actor': 0}

    def on_feedback(phase, step, _total):
        bar.update(max(step - done_steps.get(phase, 0), 0))
        done_steps[phase] = step
        bar.set_postfix(phase=phase)
    return station.train_iteration(critic_steps, actor_steps, on_feedback)


def evaluate_operator_free(supervisor, job: Dict[str, Any], version: int,
                           label: str) -> Dict[str, Any]:
    """Run ``eval_episodes`` episodes on fixed seeds with the operator watching but not acting."""
    from tqdm import tqdm
    from aloe_ros.learning.episode import OUTCOME_SUCCESS
    supervisor.set_operator_intervenes(False)
    episodes = []
    try:
        with tqdm(total=job['eval_episodes'], desc=f'{label} operator-free eval (v{version})',
                  unit='ep',
                  leave=False) as bar:
            for i in range(job['eval_episodes']):
                episodes.append(supervisor.run_episode(job['task'], EVAL_SEED + i,
                                                       job['episode_timeout_s']))
                bar.update(1)
    finally:
        supervisor.set_operator_intervenes(True)
    n = max(len(episodes), 1)
    return {'policy_version': version, 'episodes': len(episodes),
            'success_rate': sum(e['outcome'] == OUTCOME_SUCCESS for e in episodes) / n,
            'human_steps': sum(e['human_steps'] for e in episodes),
            'mean_episode_time': float(np.mean([e['duration'] for e in episodes])) if episodes
            else 0.0,
            'episode_details': episodes}


# ---------------------------------------------------------------------------- report


def write_report(out_dir: str, rows: List[Dict[str, Any]], meta: Dict[str, Any]) -> Dict[str, str]:
    """Write report.json and learning_curve.png; return their paths."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    json_path = os.path.join(out_dir, 'report.json')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump({'meta': meta, 'iterations': rows}, f, indent=2)
    png_path = os.path.join(out_dir, 'learning_curve.png')
    x = [r['episodes_before'] + r['episodes'] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    evals = [(0, meta['bc_start_eval']['success_rate'])] if meta.get('bc_start_eval') else []
    evals += [(xi, r['operator_free_success_rate']) for xi, r in zip(x, rows)
              if r.get('operator_free_success_rate') is not None]
    if evals:
        ax1.plot([e[0] for e in evals], [e[1] for e in evals], 'D-', lw=2, color='black',
                 label=f'operator-free success (eval, n = {meta["job"]["eval_episodes"]}/point)')
    ax1.plot(x, [r['success_rate'] for r in rows], 'o-', label='success (with operator help)')
    ax1.plot(x, [r['autonomous_success_rate'] for r in rows], 's-',
             label='no-intervention success (training episodes)')
    ax1.plot(x, [r['intervention_rate'] for r in rows], '^--',
             label='intervention rate (human steps)')
    ax1.set_xlabel('live episodes')
    ax1.set_ylim(-0.05, 1.05)
    ax1.set_title(f'ALOE post-training in sim ({meta["task"]})')
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.plot(x, [r.get('mean_q', float('nan')) for r in rows], 'o-', label='mean Q (data chunks)')
    ax2.plot(x, [r.get('mean_v', float('nan')) for r in rows], 's-',
             label='mean V (current policy)')
    ax2.set_xlabel('live episodes')
    ax2.set_title('critic')
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return {'json': json_path, 'png': png_path}


TABLE_COLUMNS = [('iter', 4), ('policy', 6), ('episodes', 8), ('success', 7), ('autonomous', 10),
                 ('op-free', 7),
                 ('interv.', 7), ('ep_time_s', 9), ('mean_Q', 7), ('mean_V', 7), ('ESS', 5),
                 ('train_s', 7),
                 ('miss_train', 10), ('miss_swap', 9)]


def format_row(r: Dict[str, Any]) -> str:
    """Format one iteration's table row."""
    cells = [str(r['iteration']), f'v{r["policy_version"]}', str(r['episodes']),
             f'{r["success_rate"]:.2f}',
             f'{r["autonomous_success_rate"]:.2f}',
             f'{r.get("operator_free_success_rate", float("nan")):.2f}',
             f'{r["intervention_rate"]:.2f}',
             f'{r["mean_episode_time"]:.1f}', f'{r.get("mean_q", float("nan")):.3f}',
             f'{r.get("mean_v", float("nan")):.3f}', f'{r.get("ess", float("nan")):.2f}',
             f'{r.get("train_seconds", 0.0):.0f}', str(r.get('missed_ticks_during_training', '-')),
             str(r.get('missed_ticks_during_swap', '-'))]
    return '  '.join(c.rjust(w) for c, (_n, w) in zip(cells, TABLE_COLUMNS))


def summarise(iteration: int, version: int, episodes: List[Dict[str, Any]],
              before: int) -> Dict[str, Any]:
    """Aggregate one iteration's episodes."""
    from aloe_ros.learning.episode import OUTCOME_SUCCESS
    n = len(episodes)
    steps = sum(e['steps'] for e in episodes) or 1
    return {'iteration': iteration, 'policy_version': version, 'episodes': n,
            'episodes_before': before,
            'success_rate': sum(e['outcome'] == OUTCOME_SUCCESS for e in episodes) / n,
            'autonomous_success_rate': sum(e['outcome'] == OUTCOME_SUCCESS
                                           and e['human_steps'] == 0
                                           for e in episodes) / n,
            'intervention_rate': sum(e['human_steps'] for e in episodes) / steps,
            'mean_episode_time': float(np.mean([e['duration'] for e in episodes])),
            'episode_details': episodes}


# ---------------------------------------------------------------------------- main


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``aloe train-sim``."""
    parser = argparse.ArgumentParser(prog='aloe train-sim',
                                     description=__doc__.strip().splitlines()[0])
    parser.add_argument('--config',
                        help='job YAML (default: config/jobs/sim_train.yaml of this package)')
    parser.add_argument('--long', action='store_true',
                        help='apply the job\'s long: overrides (stronger run)')
    parser.add_argument('--out', help='run folder (default: runs/sim_train-<timestamp>)')
    parser.add_argument('--iterations', type=int, help='override the number of iterations')
    parser.add_argument('--episodes-per-iteration', type=int,
                        help='override episodes per iteration')
    parser.add_argument('--demos', type=int, help='override the number of scripted demos')
    parser.add_argument('--bc-steps', type=int, help='override the BC warm-start steps')
    parser.add_argument('--critic-steps', type=int, help='override critic steps per iteration')
    parser.add_argument('--actor-steps', type=int, help='override actor steps per iteration')
    parser.add_argument('--eval-episodes', type=int,
                        help='override operator-free evaluation episodes per point (0 = none)')
    parser.add_argument('--eval-every', type=int,
                        help='evaluate after every N-th iteration (and after the last one)')
    args = parser.parse_args(argv)

    from tqdm import tqdm

    config_path = args.config or os.path.join(package_config_dir(), 'jobs', 'sim_train.yaml')
    try:
        job = load_job(config_path, args.long)
    except (JobConfigError, OSError, yaml.YAMLError) as exc:
        print(f'aloe train-sim: {exc}', file=sys.stderr)
        return 2
    for key in ('iterations', 'episodes_per_iteration', 'demos', 'bc_steps', 'critic_steps',
                'actor_steps',
                'eval_episodes', 'eval_every'):
        value = getattr(args, key)
        if value is not None:
            if value < (0 if key.endswith(('steps', 'eval_episodes')) else 1):
                print(f'aloe train-sim: --{key.replace("_", "-")} must be positive',
                      file=sys.stderr)
                return 2
            job[key] = value

    import torch
    from aloe_ros.learning.config import load_config
    from aloe_ros.storage.store import EpisodeStore
    torch.set_num_threads(1)
    learner_cfg = load_config(job['learner_config'])

    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    out_dir = os.path.abspath(args.out or os.path.join('runs', f'sim_train-{stamp}'))
    if os.path.exists(os.path.join(out_dir, 'store')):
        print(f'aloe train-sim: {out_dir} already holds a run; pass another --out',
              file=sys.stderr)
        return 2
    store_root = os.path.join(out_dir, 'store')
    weights_dir = os.path.join(out_dir, 'weights')
    os.makedirs(weights_dir, exist_ok=True)
    shutil.copy(config_path, os.path.join(out_dir, 'job.yaml'))
    shutil.copy(job['learner_config'], os.path.join(out_dir, 'learner.yaml'))
    learner_yaml = os.path.join(out_dir, 'learner.yaml')
    t_start = time.monotonic()
    print(f'aloe train-sim: run folder {out_dir}\n  task {job["task"]}, {job["demos"]} demos, '
          f'{job["iterations"]} iterations x {job["episodes_per_iteration"]} episodes, '
          f'learner {os.path.basename(job["learner_config"])}', flush=True)

    store = EpisodeStore(store_root, mode='w')
    try:
        with tqdm(total=job['demos'], desc='1/4 scripted demos', unit='ep') as bar:
            demo_stats = collect_demos(job, learner_cfg, store, bar)
    finally:
        store.close()
    with tqdm(total=job['bc_steps'], desc='2/4 behaviour cloning', unit='step') as bar:
        bc = warm_start(job, learner_cfg, store_root, weights_dir, bar)
    print(f'  warm start exported as policy v{bc["version"]} (BC loss {bc["bc_loss_last"]:.3f})',
          flush=True)

    launch_args = [f'store_root:={store_root}', f'weights_dir:={weights_dir}',
                   f'learner_config:={learner_yaml}', f'initial_weights:={bc["path"]}',
                   f'initial_sha256:={bc["sha256"]}', f'initial_version:={bc["version"]}',
                   f'task:={job["task"]}', f'max_episode_steps:={job["max_episode_steps"]}',
                   f'image_height:={job["sim"]["image_height"]}',
                   f'image_width:={job["sim"]["image_width"]}',
                   f'model_image_height:={learner_cfg.model.image_size[0]}',
                   f'model_image_width:={learner_cfg.model.image_size[1]}',
                   # a model without cameras still gets cam_high rendered and recorded (RViz,
                   # Foxglove, exports); it reads the sim's task state instead
                   f'cameras:=[{",".join(learner_cfg.model.cameras or ["cam_high"])}]',
                   f'camera_rate_hz:={job["sim"]["camera_rate_hz"]}',
                   f'real_time_factor:={job["sim"]["real_time_factor"]}',
                   f'command_interface:={job["sim"]["command_interface"]}',
                   'robot_profile:=' + os.path.join(
                       package_config_dir(), 'robots',
                       {'trajectory': 'aloe_sim_station.yaml',
                        'forward': 'aloe_sim_station_forward.yaml'}[
                           job['sim']['command_interface']]),
                   f'replan_period:={learner_cfg.data.h_exec * 0.02:.3f}']
    graph = GraphProcess(launch_args, os.path.join(out_dir, 'graph.log'))
    rows: List[Dict[str, Any]] = []
    bc_eval = None
    code = 0
    import rclpy
    rclpy.init(args=['--ros-args', '-p', 'use_sim_time:=false'])
    supervisor = None
    try:
        from aloe_ros.station import StationClient
        supervisor = StationClient('train_sim_supervisor')
        print('3/4 starting the graph (sim, observation, policy, executor, teleop, recorder, '
              'learner) ...',
              flush=True)
        supervisor.wait_until_ready()
        print('  graph up; policy v1 running', flush=True)
        bc_eval = None
        if job['eval_episodes'] > 0:
            bc_eval = evaluate_operator_free(supervisor, job, 1, 'BC start')
            print(f'  BC start (v1): operator-free success {bc_eval["success_rate"]:.2f} '
                  f'({bc_eval["episodes"]} episodes)', flush=True)
        print('', flush=True)
        header = '  '.join(n.rjust(w) for n, w in TABLE_COLUMNS)
        table = [header]
        version = 1
        live_before = 0
        for it in range(1, job['iterations'] + 1):
            episodes = []
            with tqdm(total=job['episodes_per_iteration'],
                      desc=f'4/4 iter {it} rollouts (v{version})',
                      unit='ep', leave=False) as bar:
                for k in range(job['episodes_per_iteration']):
                    if not graph.alive():
                        raise RuntimeError('the graph exited (see graph.log)')
                    seed = job['seed'] * 100000 + live_before + k
                    episodes.append(supervisor.run_episode(job['task'], seed,
                                                           job['episode_timeout_s']))
                    bar.update(1)
            row = summarise(it, version, episodes, live_before)
            live_before += len(episodes)
            supervisor.wait_diagnostics()
            missed_before = supervisor.missed_ticks()
            t_train = time.monotonic()
            with tqdm(total=job['critic_steps'] + job['actor_steps'],
                      desc=f'4/4 iter {it} learner',
                      unit='step', leave=False) as bar:
                new_version, metrics = train_with_bar(supervisor, job['critic_steps'],
                                                      job['actor_steps'], bar)
            supervisor.wait_diagnostics()
            missed_trained = supervisor.missed_ticks()
            supervisor.wait_for_policy_version(new_version, 60.0)
            supervisor.wait_diagnostics()
            row['missed_ticks_during_training'] = missed_trained - missed_before
            row['missed_ticks_during_swap'] = supervisor.missed_ticks() - missed_trained
            row.update({k: metrics[k] for k in ('mean_q', 'mean_v', 'ess', 'critic_loss',
                                                'actor_loss')
                        if k in metrics})
            row['train_seconds'] = time.monotonic() - t_train
            row['next_version'] = new_version
            if job['eval_episodes'] > 0 and (it % job['eval_every'] == 0
                                             or it == job['iterations']):
                ev = evaluate_operator_free(supervisor, job, new_version, f'iter {it}')
                row['operator_free_success_rate'] = ev['success_rate']
                row['operator_free_eval'] = ev
            rows.append(row)
            table.append(format_row(row))
            tqdm.write('\n'.join(table) if it == 1 else table[-1])
            version = new_version
    except KeyboardInterrupt:
        print('\ninterrupted: writing the report of the finished iterations', file=sys.stderr)
        code = 130
    except (TimeoutError, RuntimeError) as exc:
        print(f'\naloe train-sim: {exc}; graph log: {os.path.join(out_dir, "graph.log")}',
              file=sys.stderr)
        code = 1
    finally:
        if supervisor is not None:
            supervisor.destroy_node()
        rclpy.try_shutdown()
        graph_rc = graph.stop()
    meta = {'task': job['task'], 'job': job, 'demos': demo_stats,
            'bc': {k: v for k, v in bc.items()},
            'bc_start_eval': bc_eval,
            'wall_seconds': time.monotonic() - t_start, 'graph_exit_code': graph_rc,
            'exit_code': code}
    if rows:
        paths = write_report(out_dir, rows, meta)
        first, last = rows[0], rows[-1]
        if bc_eval is not None and last.get('operator_free_success_rate') is not None:
            gain = last['operator_free_success_rate'] - bc_eval['success_rate']
            print(f'\noperator-free success: BC start {bc_eval["success_rate"]:.2f} -> '
                  f'v{last["next_version"]} {last["operator_free_success_rate"]:.2f} '
                  f'({gain:+.2f}; target +0.30: '
                  f'{"met" if gain >= 0.3 else "NOT met"})')
        print(f'\nBC start (v{first["policy_version"]}): success {first["success_rate"]:.2f}, '
              'autonomous '
              f'{first["autonomous_success_rate"]:.2f}, interventions '
              f'{first["intervention_rate"]:.2f}\n'
              f'last (v{last["policy_version"]}):     success {last["success_rate"]:.2f}, '
              'autonomous '
              f'{last["autonomous_success_rate"]:.2f}, interventions '
              f'{last["intervention_rate"]:.2f}\n'
              f'report: {paths["json"]}\ncurve:  {paths["png"]}\n'
              f'total {meta["wall_seconds"] / 60:.1f} min', flush=True)
    else:
        with open(os.path.join(out_dir, 'report.json'), 'w', encoding='utf-8') as f:
            json.dump({'meta': meta, 'iterations': []}, f, indent=2)
        if code == 0:
            code = 1
    return code


if __name__ == '__main__':
    sys.exit(main())

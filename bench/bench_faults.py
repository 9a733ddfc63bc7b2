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
Fault-injection bench: the CI fault scenarios of test/reliability, repeated many times.

Usage: ``python bench/bench_faults.py [--recorder-trials 20] [--trials 3] [--only NAME ...]``.
Needs the workspace sourced (``. .venv/bin/activate && . install/setup.bash``). Every scenario
starts real node processes over DDS in a private ROS domain:

- ``recorder_kill9``: kill -9 the recorder mid-episode, restart it; every earlier episode must be
  byte-identical (sha256) with all its steps, the catalog consistent, the killed one quarantined.
- ``recorder_salvage``: kill -9 the recorder mid-episode after its steps were flushed; ``aloe
  salvage`` must give back every step on disk before the kill as a truncated episode (reports
  published / durable / salvaged steps and how long after publishing the steps were durable).
- ``policy_kill9``: the executor holds, commands constant, from one tick after the last chunk ends.
- ``learner_kill9``: the policy keeps running the last version; the restarted learner resumes and
  exports the next version.
- ``teleop_silent``: the executor holds when teleop commands stop mid-intervention.
- ``leader_silent``: the leader arms go silent mid-intervention (real teleop node): hold,
SafetyEvent.
- ``camera_stall`` / ``joints_stall``: observations flagged stale, executor holds, SafetyEvent.
- ``chunk_stall``: ten 56 MB ActionChunks to a running executor, each refused unread on its byte
  count; reports the 50 Hz loop's longest gap between executed steps while they arrive against
  the longest gap in as many steps before them (the stall the size check may cause; it was
  0.4 s before the check came first), and the executor's RSS after each.

Writes ``results/bench_faults.json`` (per scenario: trials, survived, failures, seconds).
"""

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELIABILITY = os.path.join(ROOT, 'test', 'reliability')
sys.path.insert(0, RELIABILITY)
# Domains above 101 put DDS ports into Linux's ephemeral range: stay in 1..101.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 101)))
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('PYTHONUNBUFFERED', '1')

from fault_scenarios import RecorderKillTrials, kill_and_salvage  # noqa: E402
from reliability_harness import Driver, NodeProcess  # noqa: E402
import test_faults  # noqa: E402
import test_hostile_input  # noqa: E402

SCENARIOS = {
    'policy_kill9': test_faults.test_policy_killed_executor_holds_one_tick_after_chunk_end,
    'learner_kill9': test_faults.test_learner_killed_policy_keeps_running_and_learner_resumes,
    'teleop_silent': lambda d, s, t: test_faults.test_teleop_silent_mid_intervention_holds(d, s),
    'leader_silent': lambda d, s,
    t: test_faults.test_leader_silent_through_teleop_node_holds(d, s),
    'camera_stall': lambda d, s, t: test_faults.test_stalled_stream_flags_stale_and_executor_holds(
        d, s, 'camera'),
    'joints_stall': lambda d, s, t: test_faults.test_stalled_stream_flags_stale_and_executor_holds(
        d, s, 'joints'),
}


class _Processes:
    """The ``start_node`` factory of the tests, outside pytest."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.started = []

    def __call__(self, module, params=None, name=None):
        log = os.path.join(self.tmp,
                           f'{name or module.rsplit(".", 1)[-1]}_{len(self.started)}.log')
        proc = NodeProcess(module, params, log_path=log)
        self.started.append(proc)
        return proc

    def stop_all(self):
        for proc in self.started:
            proc.stop()


def run_recorder(trials, seed):
    """Run the recorder kill -9 trials in one store; return the scenario's result dict."""
    from pathlib import Path
    out = {'trials': trials, 'survived': 0, 'failures': [], 'episodes_verified': 0,
           'episodes_lost': 0,
           'steps_lost': 0}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='bench_faults_rec_') as tmp:
        driver = Driver('bench_faults')
        runner = RecorderKillTrials(driver, str(Path(tmp) / 'store'),
                                    str(Path(tmp) / 'recorder.log'), seed)
        try:
            for k in range(trials):
                try:
                    result = runner.trial()
                except AssertionError as exc:
                    out['failures'].append({'trial': k, 'error': str(exc)[:2000]})
                    print(f'recorder_kill9 trial {k}: FAILED {str(exc)[:300]}', flush=True)
                    continue
                if result['problems']:
                    out['failures'].append({'trial': k, 'problems': result['problems']})
                    out['episodes_lost'] += sum('missing' in p or 'changed' in p
                                                for p in result['problems'])
                    out['steps_lost'] += sum('steps, expected' in p for p in result['problems'])
                else:
                    out['survived'] += 1
                out['episodes_verified'] = len(runner.expected)
                print(f'recorder_kill9 trial {k}: {len(runner.expected)} complete episodes '
                      'verified, '
                      f'problems {result["problems"]} ({result["seconds"]:.1f} s)', flush=True)
        finally:
            runner.close()
            driver.close()
    out['seconds'] = time.monotonic() - t0
    return out


def run_salvage(trials):
    """Run the kill -9 + salvage scenario ``trials`` times; return its result dict."""
    from pathlib import Path
    out = {'trials': trials, 'survived': 0, 'failures': [], 'runs': []}
    t0 = time.monotonic()
    for k in range(trials):
        with tempfile.TemporaryDirectory(prefix='bench_faults_salvage_') as tmp:
            driver = Driver('bench_faults')
            try:
                result = kill_and_salvage(driver, str(Path(tmp) / 'store'),
                                          str(Path(tmp) / 'recorder.log'))
                result.pop('salvage_output')
                out['runs'].append(result)
                ok = result['truncated'] and result['salvaged_steps'] >= result['durable_steps']
                out['survived'] += int(ok)
                if not ok:
                    out['failures'].append({'trial': k, 'result': result})
                print(f'recorder_salvage trial {k}: {result["published_steps"]} published, '
                      f'{result["durable_steps"]} durable before the kill, '
                      f'{result["salvaged_steps"]} salvaged '
                      f'(durable {result["durable_after_s"]:.2f} s after publishing)', flush=True)
            except Exception as exc:
                out['failures'].append({'trial': k, 'error': ''.join(
                    traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]})
                print(f'recorder_salvage trial {k}: FAILED {str(exc)[:300]}', flush=True)
            finally:
                driver.close()
    out['salvaged_steps'] = sum(r['salvaged_steps'] for r in out['runs'])
    out['seconds'] = time.monotonic() - t0
    return out


def run_chunk_stall(trials):
    """Run the oversized-chunk scenario ``trials`` times; return its result dict."""
    out = {'trials': trials, 'survived': 0, 'failures': [], 'runs': []}
    t0 = time.monotonic()
    for k in range(trials):
        with tempfile.TemporaryDirectory(prefix='bench_faults_chunk_stall_') as tmp:
            driver = Driver('bench_faults')
            procs = _Processes(tmp)
            try:
                figures = test_hostile_input.oversized_chunks(driver, procs)
                out['runs'].append(figures)
                out['survived'] += 1
                print(f'chunk_stall trial {k}: longest gap between steps '
                      f'{figures["longest_gap_s"]:.3f} s during ten '
                      f'{figures["chunk_mb"]:.0f} MB chunks, {figures["baseline_gap_s"]:.3f} s '
                      f'before them; executor RSS {[round(r) for r in figures["rss_mb"]]} MB',
                      flush=True)
            except Exception as exc:
                out['failures'].append({'trial': k, 'error': ''.join(
                    traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]})
                print(f'chunk_stall trial {k}: FAILED {str(exc)[:300]}', flush=True)
            finally:
                procs.stop_all()
                driver.close()
    if out['runs']:
        out['longest_gap_s'] = max(r['longest_gap_s'] for r in out['runs'])
        out['baseline_gap_s'] = max(r['baseline_gap_s'] for r in out['runs'])
    out['seconds'] = time.monotonic() - t0
    return out


def run_scenario(name, trials):
    """Run one test scenario ``trials`` times with fresh processes; return its result dict."""
    out = {'trials': trials, 'survived': 0, 'failures': []}
    t0 = time.monotonic()
    for k in range(trials):
        with tempfile.TemporaryDirectory(prefix=f'bench_faults_{name}_') as tmp:
            driver = Driver('bench_faults')
            procs = _Processes(tmp)
            start = time.monotonic()
            try:
                SCENARIOS[name](driver, procs, __import__('pathlib').Path(tmp))
                out['survived'] += 1
                print(f'{name} trial {k}: ok ({time.monotonic() - start:.1f} s)', flush=True)
            except Exception as exc:  # a failed assertion or a harness error: both count as failed
                out['failures'].append({'trial': k, 'error': ''.join(
                    traceback.format_exception(type(exc), exc, exc.__traceback__))[-3000:]})
                print(f'{name} trial {k}: FAILED {str(exc)[:300]}', flush=True)
            finally:
                procs.stop_all()
                driver.close()
    out['seconds'] = time.monotonic() - t0
    return out


def main(argv=None):
    """Run the selected scenarios and write results/bench_faults.json."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--recorder-trials', type=int, default=20)
    parser.add_argument('--trials', type=int, default=3, help='trials of every other scenario')
    parser.add_argument('--only', nargs='*',
                        choices=['recorder_kill9', 'recorder_salvage', 'chunk_stall',
                                 *SCENARIOS],
                        default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=os.path.join(ROOT, 'results', 'bench_faults.json'))
    args = parser.parse_args(argv)
    names = args.only or ['recorder_kill9', 'recorder_salvage', 'chunk_stall', *SCENARIOS]
    results = {}
    for name in names:
        if name == 'recorder_kill9':
            results[name] = run_recorder(args.recorder_trials, args.seed)
        elif name == 'recorder_salvage':
            results[name] = run_salvage(args.trials)
        elif name == 'chunk_stall':
            results[name] = run_chunk_stall(args.trials)
        else:
            results[name] = run_scenario(name, args.trials)
    report = {'bench': 'faults', 'time': time.strftime('%Y-%m-%dT%H:%M:%S'),
              'host': platform.node(),
              'cpus': os.cpu_count(), 'ros_domain_id': os.environ['ROS_DOMAIN_ID'],
              'scenarios': results,
              'all_survived': all(r['survived'] == r['trials'] for r in results.values())}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)
    for name, r in results.items():
        print(f'{name:16s} {r["survived"]}/{r["trials"]} survived in {r["seconds"]:.0f} s')
    print(f'wrote {args.out}')
    return 0 if report['all_survived'] else 1


if __name__ == '__main__':
    sys.exit(main())

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
The whole loop over real DDS: sim + every node as separate OS processes, supervised episodes.

Runs the main job (`aloe train-sim`) at a tiny size: scripted demos and a short BC warm start,
then the launched graph (sim with the simulated operator, observation, policy, chunk executor,
teleop, recorder, learner), episodes in which the operator intervenes, one learner iteration and
the weight swap. Then it checks what a user relies on, from the recorded files and the report.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from aloe_ros.learning.episode import (OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_TIMEOUT,
                                       SOURCE_HUMAN,
                                       SOURCE_POLICY, SOURCE_SCRIPTED)

pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """Run the main job once at a tiny size; return (out_dir, completed process)."""
    out = tmp_path_factory.mktemp('closed_loop') / 'run'
    cmd = [sys.executable, '-m', 'aloe_ros.cli', 'train-sim', '--out', str(out), '--demos', '3',
           '--bc-steps', '150', '--iterations', '2', '--episodes-per-iteration', '2',
           '--critic-steps', '20',
           '--actor-steps', '20', '--eval-episodes', '2', '--eval-every', '1']
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1500, env=os.environ.copy())
    return out, proc


def test_job_finishes_and_reports(run):
    out, proc = run
    log = (out / 'graph.log').read_text() if (out / 'graph.log').exists() else ''
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:] + log[-3000:]
    report = json.loads((out / 'report.json').read_text())
    assert len(report['iterations']) == 2
    assert (out / 'learning_curve.png').stat().st_size > 10000
    assert 'iter  policy  episodes  success' in proc.stdout


def test_operator_free_evaluation_runs_through_the_graph(run):
    """BC start and every new version are evaluated with the operator watching but never acting."""
    out, proc = run
    report = json.loads((out / 'report.json').read_text())
    evals = [report['meta']['bc_start_eval']] + [r['operator_free_eval']
                                                 for r in report['iterations']]
    assert [e['policy_version'] for e in evals] == [1, 2, 3]
    for ev in evals:
        assert ev['episodes'] == 2 and 0.0 <= ev['success_rate'] <= 1.0
        assert [e['seed'] for e in ev['episode_details']] == [900000, 900001]
        assert all(e['human_steps'] == 0 and e['interventions'] == 0
                   for e in ev['episode_details']), ev
        assert {v for e in ev['episode_details']
                for v in e['policy_versions']} == {ev['policy_version']}
    log = (out / 'graph.log').read_text()
    assert 'operator-free: it will not take over' in log
    assert 'BC start (v1): operator-free success' in proc.stdout


def test_learner_pushes_new_versions_and_the_policy_runs_them(run):
    out, _ = run
    report = json.loads((out / 'report.json').read_text())
    first, second = report['iterations']
    assert first['policy_version'] == 1 and first['next_version'] == 2
    assert second['policy_version'] == 2 and second['next_version'] == 3
    # Episodes of iteration 2 were driven by v2: the swap reached the running policy node.
    versions = {v for e in second['episode_details'] for v in e['policy_versions']}
    assert versions == {2}, versions
    log = (out / 'graph.log').read_text()
    assert 'now running policy v2' in log and 'now running policy v3' in log
    # The weights exist, are checksummed and nothing else was loaded.
    for v in (1, 2, 3):
        assert (out / 'weights' / f'policy_v{v:06d}.safetensors').exists()


def test_the_weight_swap_does_not_stall_the_control_loop(run):
    """
    The swap happens between chunks on the policy node; the executor keeps ticking through it.

    A blocking load (tens of ms of torch deserialisation on the control path) would skip several
    ticks. On a shared 2-core CI machine a single late tick can come from the machine itself, so
    CI allows one; ``bench/`` measures swaps against an idle window for the zero-miss target.
    """
    out, _ = run
    report = json.loads((out / 'report.json').read_text())
    for row in report['iterations']:
        assert 0 <= row['missed_ticks_during_swap'] <= 1, row


def test_recorded_steps_have_sources_and_intervention_flags(run):
    out, _ = run
    from aloe_ros.storage.store import EpisodeStore
    store = EpisodeStore(str(out / 'store'), mode='r')
    try:
        episodes = [store.load_episode(i) for i in store.episode_ids()]
    finally:
        store.close()
    demos = [e for e in episodes if e.episode_id.startswith('demo-')]
    live = [e for e in episodes if not e.episode_id.startswith('demo-')]
    # 2 iterations x 2 training episodes + 3 evaluation points x 2 operator-free episodes.
    assert len(demos) == 3 and len(live) == 4 + 6
    assert all(set(np.unique(e.sources)) == {SOURCE_SCRIPTED} for e in demos)
    all_sources = np.concatenate([e.sources for e in live])
    assert SOURCE_POLICY in all_sources and SOURCE_HUMAN in all_sources, np.unique(all_sources)
    for e in live:
        # The intervention flag is set exactly on the steps the human drove.
        human = e.sources == SOURCE_HUMAN
        assert np.array_equal(e.interventions[human], np.ones(human.sum(), bool))
        assert not e.interventions[e.sources == SOURCE_POLICY].any()
        assert e.outcome in (OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_TIMEOUT)
        assert e.terminated == (e.outcome in (OUTCOME_SUCCESS, OUTCOME_FAILURE))
        assert e.truncated == (e.outcome == OUTCOME_TIMEOUT)
        # Sparse reward: 1 on the last step of a success, 0 everywhere else.
        assert e.rewards.sum() == (1.0 if e.outcome == OUTCOME_SUCCESS else 0.0)
        assert np.all(np.isfinite(e.actions)) and len(e) > 0


def test_outcomes_match_the_sim(run):
    """
    A SUCCESS label is backed by the sim's own /sim/success, a FAILURE never is.

    (A TIMEOUT may meet a success that completes in the ticks after the cut, so it is not checked.)
    """
    out, _ = run
    report = json.loads((out / 'report.json').read_text())
    evals = [report['meta']['bc_start_eval']] + [r['operator_free_eval']
                                                 for r in report['iterations']]
    for row in report['iterations'] + evals:
        for e in row['episode_details']:
            if e['outcome'] == OUTCOME_SUCCESS:
                assert e['sim_success_after_end'], e
            elif e['outcome'] == OUTCOME_FAILURE:
                assert not e['sim_success_after_end'], e


def test_shutdown_leaves_no_orphan_process(run, processes_mentioning):
    out, _ = run
    assert processes_mentioning(str(out)) == []

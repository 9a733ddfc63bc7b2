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
Data-parallel trainer: a 2-process gloo run equals the 1-process run on a fixed seed.

Why the comparison is meaningful: both runs train on the same global batch of 8 rows per update
(the 2-process run draws the same 8 rows from the shared-seed replay RNG and gives rows 0-3 to
rank 0, rows 4-7 to rank 1), and the policy's noise is replaced by fixed per-sample functions
(``NoiseFreeFlowPolicy``), so each update is a deterministic function of the batch. The averaged
gradient then equals the single-process gradient up to float32 summation order (relative error
~1e-7 per update); over 3 critic + 3 actor Adam updates at lr 3e-4 that moves weights by far less
than ``ATOL`` = 1e-5 (plus ``RTOL`` = 1e-4 of the value), while one update alone moves them by
~lr = 3e-4: a missing or wrong all-reduce, a wrong shard or local batch statistics fail it (the
test also checks that rank 0's shard alone gives a different result). Both ranks must end with
bitwise identical weights and optimizer states. With the real flow policy (noise per rank) only
the rank agreement is asserted: the noise draws differ from one process's by design.
"""

import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from aloe_ros.learning.distributed import DataParallel, env_world_size

import ddp_helpers
from ddp_helpers import ACTOR_STEPS, CASES, CRITIC_STEPS, build_trainer, snapshot

ATOL, RTOL = 1e-5, 1e-4
SPAWN_DEADLINE_S = 900.0


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _spawn_two(fn, out):
    """Run ``fn(rank, 2, port, out)`` on 2 processes; return what each saved."""
    ctx = mp.spawn(fn, args=(2, _free_port(), str(out)), nprocs=2, join=False)
    try:
        # join(timeout) returns False while a worker runs and raises if one failed.
        finished = False
        for _ in range(int(SPAWN_DEADLINE_S)):
            if ctx.join(timeout=1.0):
                finished = True
                break
        assert finished, f'2-process gloo run did not finish in {SPAWN_DEADLINE_S:.0f} s'
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.terminate()
    return [torch.load(os.path.join(out, f'rank{r}.pt')) for r in range(2)]


@pytest.fixture(scope='module')
def two_ranks(tmp_path_factory):
    """Run every case on 2 gloo processes once; return [rank0 results, rank1 results]."""
    return _spawn_two(ddp_helpers.worker, tmp_path_factory.mktemp('ddp'))


def _max_diff(a, b):
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())


@pytest.mark.parametrize('name,overrides', [(n, o) for n, o, noise_free in CASES if noise_free])
def test_two_rank_run_equals_one_process(two_ranks, name, overrides):
    ranks = [r[name]['state'] for r in two_ranks]
    single = build_trainer(overrides, True)
    initial = snapshot(single)
    single.train(CRITIC_STEPS, ACTOR_STEPS)
    ref = snapshot(single)
    assert ranks[0].keys() == ref.keys()
    for key in ref:
        torch.testing.assert_close(ranks[0][key], ref[key], atol=ATOL, rtol=RTOL,
                                   msg=lambda m, k=key: f'{name} {k}: {m}')
    # Sensitivity: training moved the weights, and rank 0's half-batch alone lands elsewhere.
    moved = {k: v for k, v in initial.items() if not k.startswith('opt_')}
    assert _max_diff(moved, {k: ref[k] for k in moved}) > 50 * ATOL  # 3 Adam steps ~ 9e-4
    half = build_trainer(overrides, True, batch_size=4)
    half.train(CRITIC_STEPS, ACTOR_STEPS)
    print(f'{name}: max |2 ranks - 1 process| = {_max_diff(ranks[0], ref):.2e}')
    assert _max_diff(snapshot(half), ref) > 10 * ATOL
    metrics = two_ranks[0][name]['metrics']
    assert metrics['critic_updates'] == single.critic_updates
    assert metrics['actor_updates'] == single.actor_updates


@pytest.mark.parametrize('name', [n for n, _, _ in CASES])
def test_both_ranks_end_identical(two_ranks, name):
    a, b = (r[name]['state'] for r in two_ranks)
    assert a.keys() == b.keys() and len(a) > 0
    for key in a:
        assert torch.equal(a[key], b[key]), f'{name} {key} differs between ranks'
    assert two_ranks[0][name]['metrics']['actor_updates'] == ACTOR_STEPS


def test_shard_slices_and_indivisible_batch():
    r1 = DataParallel(rank=1, world_size=2)
    assert r1.shard(8) == slice(4, 8)
    full = np.random.default_rng(5).choice(10, size=8)
    np.testing.assert_array_equal(r1.sampling_rng(np.random.default_rng(5)).choice(10, size=8),
                                  full[4:])
    with pytest.raises(ValueError, match='batch_size 8 is not divisible by the world size 3'):
        DataParallel(rank=0, world_size=3).shard(8)
    with pytest.raises(AttributeError, match='only supports rng.choice'):
        r1.sampling_rng(np.random.default_rng(0)).random()


def test_environment_without_torchrun(monkeypatch):
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    assert env_world_size() == 1 and DataParallel.from_env() is None
    monkeypatch.setenv('WORLD_SIZE', 'two')
    with pytest.raises(ValueError, match="WORLD_SIZE='two' is not an integer"):
        DataParallel.from_env()
    monkeypatch.setenv('WORLD_SIZE', '2')
    for k in ('RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(RuntimeError, match='RANK, MASTER_ADDR, MASTER_PORT unset'):
        DataParallel.from_env()


def test_lead_and_follower_train_the_same_episodes_and_resume(tmp_path):
    """
    Rank 0 (LeadTrainer) drives rank 1 (Follower) through refresh, train, resume, stop.

    Rank 1's store also holds e3, which rank 0 never pulled: it must not train on it. Iteration 2
    after a resume from the iteration-1 checkpoint (rank 0's file, broadcast to rank 1) must
    repeat iteration 2 exactly, and equal the single-process run within the tolerance above.
    """
    lead, follower = _spawn_two(ddp_helpers.protocol_worker, tmp_path)
    assert lead['episodes'] == follower['episodes'] == ['e0', 'e1', 'e2']
    # init, refresh, train, refresh, train, sync, train, stop
    assert follower['commands'] == 8
    for key in lead['final']:
        assert torch.equal(lead['final'][key], follower['final'][key]), key
        assert torch.equal(lead['final'][key], lead['iteration2'][key]), key
    cfg = ddp_helpers.tiny_config(**ddp_helpers.PROTOCOL_CASE)
    episodes = ddp_helpers.protocol_episodes(cfg)
    source = ddp_helpers.InMemoryEpisodeSource(episodes[:2])
    single = ddp_helpers.noise_free_trainer(cfg, source)
    single.refresh()
    single.train(CRITIC_STEPS, ACTOR_STEPS)
    source.add(episodes[2])
    single.refresh()
    single.train(CRITIC_STEPS, ACTOR_STEPS)
    ref = snapshot(single)
    for key in ref:
        torch.testing.assert_close(lead['final'][key], ref[key], atol=ATOL, rtol=RTOL)


def test_ranks_with_different_episodes_refuse_to_train(tmp_path):
    lead, follower = _spawn_two(ddp_helpers.mismatch_worker, tmp_path)
    assert 'data-parallel replays differ between ranks' in lead['error']
    assert 'rank 0: ' in lead['error'] and 'rank 1: ' in lead['error'], lead['error']
    assert lead['updates'] == follower['updates'] == 0
    assert follower['commands'] == 4  # init, refresh, train (refused alike), stop

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
Fault scenarios shared by the CI tests and ``bench/bench_faults.py``.

``RecorderKillTrials``: record complete episodes through the recorder node, kill -9 it in the
middle of the next one, restart it, and check that every earlier episode is byte-identical
(sha256), loads with all its steps, and that the catalog is consistent.
"""

import os
import random
import time

from aloe_msgs.msg import ExecutedStep
from aloe_msgs.srv import EndEpisode, StartEpisode
import numpy as np
from reliability_harness import NodeProcess, recorded_steps, sha256_of, wait_recorded

from aloe_ros.learning.episode import OUTCOME_SUCCESS, SOURCE_HUMAN, SOURCE_POLICY
from aloe_ros.nodes.common import reliable


class RecorderKillTrials:
    """Repeated kill -9 of the recorder mid-episode, with the checks after every restart."""

    def __init__(self, driver, root, log_path, seed=0):
        """Start the recorder on ``root``; ``driver`` is a reliability_harness.Driver."""
        self.driver = driver
        self.root = root
        self.rng = random.Random(seed)
        self.proc = NodeProcess('aloe_ros.nodes.recorder', {'storage_root': root},
                                log_path=log_path)
        node = driver.node
        self.step_pub = node.create_publisher(ExecutedStep, '/aloe/executed_step', reliable(200))
        self.start_cli = node.create_client(StartEpisode, '/aloe/start_episode')
        self.end_cli = node.create_client(EndEpisode, '/aloe/end_episode')
        self.expected = {}        # episode id -> (sha256, steps) of every complete episode
        self.killed = []          # ids of the episodes in flight at each kill
        self.results = []

    def _call(self, client, request, attempts=60):
        """
        Call a service, retrying: a request sent before the restarted server matched is lost.

        60 attempts of 5 s: a (re)started recorder's start-up alone has taken 75 s under load.
        """
        for _ in range(attempts):
            res = self.driver.call(client, request, timeout=5.0)
            if res is not None:
                return res
        return None

    def _steps(self, episode_id, n, kill_at=None):
        for k in range(n):
            src = SOURCE_HUMAN if k % 7 == 3 else SOURCE_POLICY
            msg = ExecutedStep(episode_id=episode_id, step_index=k, source=src,
                               policy_version=1 if src == SOURCE_POLICY else 0,
                               intervention=src == SOURCE_HUMAN,
                               action=list(np.full(14, 0.01 * k)),
                               observed_position=[0.0] * 14)
            msg.header.stamp = self.driver.stamp()
            self.step_pub.publish(msg)
            self.driver.spin_for(0.004)
            if kill_at is not None and k == kill_at:
                self.proc.kill9()
                return

    def record_complete(self):
        """Record a complete episode; return its id (asserts every published step was written)."""
        res = self._call(self.start_cli, StartEpisode.Request(task='handover'))
        assert res is not None and res.success, (res, self.proc.output())
        n = self.rng.randint(5, 40)
        self._steps(res.episode_id, n)
        # Wait until the recorder has every step on disk (a fixed pause was overrun under load).
        assert wait_recorded(self.driver, self.root, res.episode_id, n), \
            (recorded_steps(self.root, res.episode_id), n, self.proc.output())
        end = self._call(self.end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS))
        assert end is not None and end.success, (end, self.proc.output())
        assert end.num_steps == n, f'{n - end.num_steps} steps lost in {res.episode_id}'
        self.expected[res.episode_id] = (None, n)
        return res.episode_id

    def trial(self):
        """Complete an episode, kill -9 midway through the next, restart, verify; return a dict."""
        from aloe_ros.storage import EpisodeStore
        t0 = time.monotonic()
        self.record_complete()
        store = EpisodeStore(self.root)
        for eid, (sha, n) in list(self.expected.items()):
            if sha is None:
                self.expected[eid] = (sha256_of(store.path_of(eid)), n)
        store.close()
        res = self._call(self.start_cli, StartEpisode.Request(task='handover'))
        assert res is not None and res.success, (res, self.proc.output())
        n = self.rng.randint(10, 60)
        self._steps(res.episode_id, n, kill_at=self.rng.randint(1, n - 1))
        self.killed.append(res.episode_id)
        self.proc.start()
        self.driver.spin_for(1.0)
        assert self.proc.alive(), self.proc.output()
        problems = self.verify()
        result = {'killed_episode': res.episode_id, 'complete_episodes': len(self.expected),
                  'problems': problems, 'seconds': time.monotonic() - t0}
        self.results.append(result)
        return result

    def verify(self):
        """Return the problems: changed or missing complete episodes, an inconsistent catalog."""
        from aloe_ros.storage import EpisodeStore
        problems = []
        # The restarted recorder recovers the store when it opens it; wait until it did (its
        # start-up has taken 75 s on a loaded machine: a generous deadline).
        deadline = time.monotonic() + 300
        store = None
        while time.monotonic() < deadline:
            store = EpisodeStore(self.root)
            if not store.catalog.query(status='recording'):
                break
            store.close()
            store = None
            self.driver.spin_for(0.2)
        if store is None:
            return ['catalog still lists a recording episode 300 s after the restart']
        try:
            if not store.catalog.integrity_ok():
                problems.append('catalog integrity check failed')
            complete = set(store.episode_ids())
            if complete != set(self.expected):
                problems.append(f'complete episodes {sorted(complete)} != expected '
                                f'{sorted(self.expected)}')
            for eid, (sha, n) in self.expected.items():
                path = store.path_of(eid)
                if not os.path.exists(path):
                    problems.append(f'{eid}: file missing')
                    continue
                if sha256_of(path) != sha:
                    problems.append(f'{eid}: sha256 changed')
                ep = store.load_episode(eid)
                if len(ep.actions) != n:
                    problems.append(f'{eid}: {len(ep.actions)} steps, expected {n}')
                rec = store.catalog.get(eid)
                if rec is None or rec.status != 'complete' or rec.num_steps != n:
                    problems.append(f'{eid}: catalog row {rec}')
            for eid in self.killed:
                rec = store.catalog.get(eid)
                if rec is not None and rec.status == 'complete':
                    problems.append(f'{eid}: killed mid-episode but listed complete')
                if eid in complete:
                    problems.append(f'{eid}: killed episode offered for training')
        finally:
            store.close()
        return problems

    def close(self):
        """Stop the recorder."""
        self.proc.stop()


def kill_and_salvage(driver, root, log_path, durable_steps=60, tail_steps=20, deadline=300.0):
    """
    Record steps, wait until they are durable, kill -9 the recorder mid-episode, salvage.

    Publishes ``durable_steps`` steps, waits (up to ``deadline``) until the recorder's ``.partial``
    on disk holds them all, publishes ``tail_steps`` more and kills the recorder right after the
    last. The restarted recorder quarantines the partial; then ``aloe salvage --all`` copies it
    into the store. Returns a dict: steps published, durable before the kill, salvaged, loaded,
    and how long after publishing the durable ones were on disk (``durable_after_s``).
    """
    import glob
    import subprocess
    import sys

    from aloe_ros.storage import EpisodeStore
    from aloe_ros.storage.episode_file import read_partial
    from aloe_ros.storage.store import STEP_TOPIC
    proc = NodeProcess('aloe_ros.nodes.recorder', {'storage_root': root, 'flush_period': 0.5},
                       log_path=log_path)
    step_pub = driver.node.create_publisher(ExecutedStep, '/aloe/executed_step', reliable(200))
    start_cli = driver.node.create_client(StartEpisode, '/aloe/start_episode')
    res = None
    for _ in range(int(deadline / 5)):
        res = driver.call(start_cli, StartEpisode.Request(task='handover'), timeout=5.0)
        if res is not None:
            break
    assert res is not None and res.success, (res, proc.output())

    def publish(first, n):
        for k in range(first, first + n):
            msg = ExecutedStep(episode_id=res.episode_id, step_index=k, source=SOURCE_POLICY,
                               policy_version=1, action=list(np.full(14, 0.001 * k)),
                               observed_position=[0.0] * 14)
            msg.header.stamp = driver.stamp()
            step_pub.publish(msg)
            driver.spin_for(0.01)

    publish(0, durable_steps)
    published_at = time.monotonic()
    partials = []

    def durable():
        pattern = os.path.join(root, 'episodes', '*', res.episode_id, res.episode_id
                               + '_0.mcap.partial')
        partials[:] = glob.glob(pattern)
        return bool(partials) and sum(m[0] == STEP_TOPIC
                                      for m in read_partial(partials[0]).messages) \
            >= durable_steps
    assert driver.spin_until(durable, deadline, period=0.1), proc.output()
    durable_after = time.monotonic() - published_at
    publish(durable_steps, tail_steps)
    proc.kill9()
    proc.start()           # the restarted recorder quarantines the partial episode ...
    assert driver.spin_until(lambda: 'incomplete episode' in proc.output(),
                             deadline), proc.output()
    # ... and says how to keep its steps
    assert driver.spin_until(lambda: f'aloe salvage --root {root} --all' in proc.output(),
                             deadline), proc.output()
    assert proc.stop() == 0  # ... and releases the store for the salvage
    cli = subprocess.run([sys.executable, '-m', 'aloe_ros.cli', 'salvage', '--root', root,
                          '--all'],
                         capture_output=True, text=True, timeout=deadline)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    store = EpisodeStore(root)
    try:
        row = store.catalog.get(res.episode_id)
        episode = store.load_episode(res.episode_id)
        return {'episode_id': res.episode_id, 'published_steps': durable_steps + tail_steps,
                'durable_steps': durable_steps, 'salvaged_steps': int(row.num_steps),
                'loaded_steps': len(episode.actions), 'truncated': bool(row.truncated),
                'status': row.status, 'durable_after_s': round(durable_after, 3),
                'salvage_output': cli.stdout.strip()}
    finally:
        store.close()

# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Fault scenarios shared by the CI tests and ``bench/bench_faults.py``.

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
from reliability_harness import NodeProcess, sha256_of

from aloe_ros.learning.episode import OUTCOME_SUCCESS, SOURCE_HUMAN, SOURCE_POLICY
from aloe_ros.nodes.common import reliable


class RecorderKillTrials:
    """Repeated kill -9 of the recorder mid-episode, with the checks after every restart."""

    def __init__(self, driver, root, log_path, seed=0):
        """Start the recorder on ``root``; ``driver`` is a reliability_harness.Driver."""
        self.driver = driver
        self.root = root
        self.rng = random.Random(seed)
        self.proc = NodeProcess('aloe_ros.nodes.recorder', {'storage_root': root}, log_path=log_path)
        node = driver.node
        self.step_pub = node.create_publisher(ExecutedStep, '/aloe/executed_step', reliable(200))
        self.start_cli = node.create_client(StartEpisode, '/aloe/start_episode')
        self.end_cli = node.create_client(EndEpisode, '/aloe/end_episode')
        self.expected = {}        # episode id -> (sha256, steps) of every complete episode
        self.killed = []          # ids of the episodes in flight at each kill
        self.results = []

    def _call(self, client, request, attempts=12):
        """Call a service, retrying: a request sent before the restarted server matched is lost."""
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
                               intervention=src == SOURCE_HUMAN, action=list(np.full(14, 0.01 * k)),
                               observed_position=[0.0] * 14)
            msg.header.stamp = self.driver.stamp()
            self.step_pub.publish(msg)
            self.driver.spin_for(0.004)
            if kill_at is not None and k == kill_at:
                self.proc.kill9()
                return

    def record_complete(self):
        """Record one complete episode; return its id (asserts every published step was written)."""
        res = self._call(self.start_cli, StartEpisode.Request(task='handover'))
        assert res is not None and res.success, (res, self.proc.output())
        n = self.rng.randint(5, 40)
        self._steps(res.episode_id, n)
        self.driver.spin_for(0.3)
        end = self._call(self.end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS))
        assert end is not None and end.success, (end, self.proc.output())
        assert end.num_steps == n, f'{n - end.num_steps} steps lost in {res.episode_id}'
        self.expected[res.episode_id] = (None, n)
        return res.episode_id

    def trial(self):
        """Complete one episode, kill -9 mid-way through the next, restart, verify; return a dict."""
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
        """Return a list of problems: changed or missing complete episodes, inconsistent catalog."""
        from aloe_ros.storage import EpisodeStore
        problems = []
        # The restarted recorder recovers the store when it opens it; wait until it did.
        deadline = time.monotonic() + 30
        store = None
        while time.monotonic() < deadline:
            store = EpisodeStore(self.root)
            if not store.catalog.query(status='recording'):
                break
            store.close()
            store = None
            self.driver.spin_for(0.2)
        if store is None:
            return ['catalog still lists a recording episode 30 s after the restart']
        try:
            if not store.catalog.integrity_ok():
                problems.append('catalog integrity check failed')
            complete = set(store.episode_ids())
            if complete != set(self.expected):
                problems.append(f'complete episodes {sorted(complete)} != expected {sorted(self.expected)}')
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

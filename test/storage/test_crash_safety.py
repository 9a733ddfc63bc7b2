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

"""A recorder killed with SIGKILL loses at most the episode in flight."""

import os
import random
import signal
import subprocess
import sys
import time

from aloe_ros.storage import EpisodeStore
from aloe_ros.storage.bag import read_bag_metadata
from aloe_ros.storage.episode_file import sha256_file

WRITER = os.path.join(os.path.dirname(__file__), 'crash_writer.py')


def run_and_kill(root, rng):
    """Start the writer, let it close 1-3 episodes, kill it at a random moment; return DONE ids."""
    proc = subprocess.Popen([sys.executable, WRITER, root, str(rng.randint(5, 40))],
                            stdout=subprocess.PIPE, text=True)
    done, want = [], rng.randint(1, 3)
    deadline = time.monotonic() + 60
    while len(done) < want and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, 'writer exited early'
        if line.startswith('DONE'):
            done.append(line.split()[1])
    time.sleep(rng.uniform(0.0, 0.15))
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read()
    proc.wait()
    done += [ln.split()[1] for ln in rest.splitlines() if ln.startswith('DONE')]
    return done


def check_store(root, must_have):
    """Open as the next writer and assert the store is whole."""
    store = EpisodeStore(root, mode='w')
    try:
        assert store.catalog.integrity_ok()
        rows = store.catalog.query(status=None)
        assert {r.status for r in rows} <= {'complete', 'quarantined'}
        complete = {r.episode_id: r for r in rows if r.status == 'complete'}
        assert set(must_have) <= set(complete)
        for rec in complete.values():
            path = os.path.join(root, rec.path)
            assert sha256_file(path) == rec.sha256
            ep = store.load_episode(rec.episode_id)
            assert len(ep) == rec.num_steps and ep.terminated
            ep.validate()
        on_disk = []
        for dirpath, _d, files in os.walk(os.path.join(root, 'episodes')):
            on_disk += files
        assert not [f for f in on_disk if f.endswith('.partial')]
        assert sorted(f[:-len('_0.mcap')] for f in on_disk
                      if f.endswith('.mcap')) == sorted(complete)
        for rec in complete.values():   # every complete episode is a whole bag directory
            info = read_bag_metadata(os.path.dirname(os.path.join(root, rec.path)))
            assert info['relative_file_paths'] == [os.path.basename(rec.path)]
        quarantine = os.path.join(root, 'quarantine')
        return store.quarantined, (os.listdir(quarantine) if os.path.isdir(quarantine) else [])
    finally:
        store.close()


def test_sigkill_mid_episode_never_corrupts_earlier_episodes(tmp_path):
    rng = random.Random(int.from_bytes(os.urandom(4), 'little'))
    root = str(tmp_path)
    survivors = []
    quarantined_total = 0
    for _trial in range(4):
        survivors += run_and_kill(root, rng)
        moved, in_quarantine = check_store(root, survivors)
        assert len(moved) <= 1
        quarantined_total += len(moved)
        assert len(in_quarantine) == quarantined_total
    assert len(survivors) >= 4

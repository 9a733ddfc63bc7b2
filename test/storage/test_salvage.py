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

"""Flushed episode files survive a killed writer; salvage makes them truncated episodes."""

import os
import re
import shutil

import pytest

from aloe_ros.learning.episode import OUTCOME_ABORTED, SOURCE_POLICY
from aloe_ros.storage import EpisodeStore
from aloe_ros.storage.episode_file import read_partial
from aloe_ros.storage.salvage import main as salvage_main
from aloe_ros.storage.store import EVENT_TOPIC, STEP_TOPIC


def _step(episode_id, k):
    return {'episode_id': episode_id, 'step_index': k, 'source': SOURCE_POLICY,
            'policy_version': 1,
            'action': [0.001 * k] * 14, 'observed_position': [0.0] * 14}


def _record_then_die(root, flushed, unflushed):
    """Write ``flushed`` steps, flush, write ``unflushed`` more; copy the partial a kill leaves."""
    store = EpisodeStore(root, mode='w')
    rec = store.begin_episode('handover', 'hand it over', 7)
    rec.write(EVENT_TOPIC, {'episode_id': rec.episode_id, 'event': 0, 'task': 'handover'}, 1)
    for k in range(flushed):
        rec.write(STEP_TOPIC, _step(rec.episode_id, k), 10 + k)
    rec.flush()
    for k in range(flushed, flushed + unflushed):
        rec.write(STEP_TOPIC, _step(rec.episode_id, k), 10 + k)
    partial = rec._writer.partial_path
    snapshot = partial + '.at_kill'
    shutil.copy(partial, snapshot)   # the bytes a kill -9 now would leave on disk
    store.close()                    # (abandons: the file handle is closed, nothing finalized)
    shutil.copy(snapshot, partial)
    os.remove(snapshot)
    return rec.episode_id, partial


def test_flushed_steps_readable_from_a_partial_file(tmp_path):
    episode_id, partial = _record_then_die(str(tmp_path), flushed=25, unflushed=3)
    part = read_partial(partial)
    steps = [m for m in part.messages if m[0] == STEP_TOPIC]
    assert len(steps) >= 25 and part.stopped            # cut short: no footer
    assert part.metadata['aloe_episode']['episode_id'] == episode_id


def test_salvage_quarantined_partial_into_a_truncated_episode(tmp_path, capsys):
    root = str(tmp_path)
    episode_id, _partial = _record_then_die(root, flushed=25, unflushed=3)
    store = EpisodeStore(root, mode='w')           # recovery moves the partial to quarantine
    assert len(store.quarantined) == 1 and episode_id not in store.episode_ids()
    store.close()
    assert salvage_main(['--root', root]) == 0         # lists what it would give back
    listed = re.search(r'(\d+) readable steps', capsys.readouterr().out)
    assert listed and 25 <= int(listed.group(1)) <= 28
    assert salvage_main(['--root', root, '--all']) == 0
    store = EpisodeStore(root)
    try:
        row = store.catalog.get(episode_id)
        assert row.status == 'complete' and row.truncated and not row.terminated
        assert row.outcome == OUTCOME_ABORTED and 25 <= row.num_steps <= 28
        episode = store.load_episode(episode_id)
        assert len(episode.actions) == row.num_steps and episode.task == 'handover'
    finally:
        store.close()
    # A second salvage of the same file is refused: the episode is complete already.
    assert salvage_main(['--root', root, '--all']) == 1


def test_salvage_refuses_a_partial_without_steps(tmp_path):
    root = str(tmp_path)
    _record_then_die(root, flushed=0, unflushed=0)
    store = EpisodeStore(root, mode='w')
    try:
        with pytest.raises(ValueError, match='no executed step'):
            store.salvage(store.quarantined[0])
    finally:
        store.close()

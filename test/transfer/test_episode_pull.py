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

"""A learner's store pulls a station's episodes: catalog diff, resume, verification (no ROS)."""

import os

import numpy as np
import pytest

from aloe_ros.learning.checkpoint import ChecksumError
from aloe_ros.learning.episode import OUTCOME_SUCCESS, SOURCE_HUMAN, SOURCE_POLICY
from aloe_ros.storage import EpisodeStore, make_episode
from aloe_ros.transfer.episodes import (EpisodePuller, RemoteEpisode, episode_server,
                                        missing_episodes, remote_entry, station_dir_name)


def synthetic_episode(episode_id, steps, seed, size):
    """Return a small episode with one camera, policy steps and a human segment."""
    rng = np.random.default_rng(seed)
    sources = np.full(steps, SOURCE_POLICY, np.uint8)
    sources[steps // 2:] = SOURCE_HUMAN
    return make_episode(episode_id, actions=rng.normal(size=(steps, 14)),
                        proprio=rng.normal(size=(steps, 14)), sources=sources,
                        policy_versions=np.where(sources == SOURCE_POLICY, 1, 0),
                        images={'cam_high': rng.integers(0, 256, (steps, *size, 3),
                                                         dtype=np.uint8)},
                        outcome=OUTCOME_SUCCESS, task='handover', seed=seed)


@pytest.fixture
def station(tmp_path):
    """Yield a station's store holding three complete episodes."""
    store = EpisodeStore(str(tmp_path / 'station'), mode='w')
    for k in range(3):
        store.add_episode(synthetic_episode(f'ep{k}', steps=20, seed=k, size=(32, 40)))
    yield store
    store.close()


@pytest.fixture
def learner_store(tmp_path):
    store = EpisodeStore(str(tmp_path / 'learner'), mode='w')
    yield store
    store.close()


class Link:
    """The station as the learner reaches it; ``cut_after`` chunk reads, it goes away."""

    def __init__(self, station, cut_after=None):
        self.server = episode_server(station, max_chunk_bytes=8 * 1024)
        self.station = station
        self.cut_after = cut_after
        self.reads = []

    def list(self, name):
        if self.cut_after is not None and len(self.reads) >= self.cut_after:
            raise TimeoutError(f'{name}: service not available')
        return [remote_entry(r) for r in self.station.records()]

    def read(self, name, item, offset, n):
        if self.cut_after is not None and len(self.reads) >= self.cut_after:
            raise TimeoutError(f'{name}: service did not answer')
        self.reads.append((item, offset))
        return self.server.read(item, offset, n)


def test_missing_episodes_is_the_catalog_difference():
    remote = [RemoteEpisode('a', 'x' * 64, 10), RemoteEpisode('b', 'y' * 64, 10),
              RemoteEpisode('a', 'x' * 64, 10), RemoteEpisode('c', '', 10)]
    assert [e.episode_id for e in missing_episodes(remote, {'b'})] == ['a']
    assert station_dir_name('/station_a/aloe/recorder') == 'station_a_aloe_recorder'


def test_pull_imports_every_episode_verified(station, learner_store):
    link = Link(station)
    puller = EpisodePuller(learner_store, link.list, link.read, chunk_bytes=8 * 1024)
    pulled = puller.pull('/aloe/recorder')
    assert [r.episode_id for r in pulled] == ['ep0', 'ep1', 'ep2']
    for row in station.records():
        mine = learner_store.catalog.get(row.episode_id)
        assert mine.status == 'complete' and mine.sha256 == row.sha256
        assert mine.reason == 'pulled from /aloe/recorder'
        assert mine.num_steps == row.num_steps == 20 and mine.outcome == row.outcome
        a, b = station.load_episode(row.episode_id), learner_store.load_episode(row.episode_id)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.images['cam_high'], b.images['cam_high'])
    assert all(r.bytes > 8 * 1024 and r.seconds > 0 for r in pulled)
    # Nothing new: the next pull reads nothing.
    n = len(link.reads)
    assert puller.pull('/aloe/recorder') == [] and len(link.reads) == n
    # A new episode at the station is the only one pulled next time.
    station.add_episode(synthetic_episode('ep3', steps=20, seed=3, size=(32, 40)))
    assert [r.episode_id for r in puller.pull('/aloe/recorder')] == ['ep3']
    assert os.listdir(os.path.join(learner_store.root, 'incoming', 'aloe_recorder')) == []


def test_a_station_that_goes_away_mid_transfer_resumes_when_back(station, learner_store):
    logs = []
    link = Link(station, cut_after=3)
    puller = EpisodePuller(learner_store, link.list, link.read, chunk_bytes=8 * 1024,
                           log=logs.append)
    assert puller.pull('st') == []
    assert 'st' in puller.unreachable and learner_store.episode_ids() == []
    assert sum('unreachable' in line for line in logs) == 1
    assert puller.pull('st') == []                      # still away: said once
    assert sum('unreachable' in line for line in logs) == 1
    part = puller.incoming_path('st', 'ep0') + '.part'
    assert os.path.getsize(part) == 3 * 8 * 1024
    link.cut_after = None
    pulled = puller.pull('st')
    assert [r.episode_id for r in pulled] == ['ep0', 'ep1', 'ep2']
    assert pulled[0].resumed_from == 3 * 8 * 1024 and pulled[1].resumed_from == 0
    size = station.catalog.get('ep0').size_bytes
    assert pulled[0].bytes == size - 3 * 8 * 1024            # the kept bytes not read again
    resumed = f'(resumed at byte {3 * 8 * 1024}, {size - 3 * 8 * 1024} bytes fetched)'
    assert any('episode ep0' in line and resumed in line for line in logs), logs
    assert ('ep0', 3 * 8 * 1024) in link.reads[3:4]
    assert 'st' not in puller.unreachable and any('reachable again' in line for line in logs)
    assert learner_store.catalog.get('ep0').sha256 == station.catalog.get('ep0').sha256


def test_a_call_broken_by_shutting_down_is_not_taken_for_a_station_gone(
        station, learner_store):
    logs, stopping = [], []
    link = Link(station, cut_after=2)

    def read(name, item, offset, n):
        if len(link.reads) == 2:
            stopping.append(True)      # the learner's context goes down during this read
        return link.read(name, item, offset, n)
    puller = EpisodePuller(learner_store, link.list, read, chunk_bytes=8 * 1024,
                           log=logs.append)
    assert puller.pull('st', stop=lambda: bool(stopping)) == []
    assert puller.unreachable == {} and not any('unreachable' in line for line in logs)
    part = puller.incoming_path('st', 'ep0') + '.part'
    assert os.path.getsize(part) == 2 * 8 * 1024       # kept for the next run all the same
    n = len(link.reads)
    assert puller.pull('st', stop=lambda: True) == [] and len(link.reads) == n
    assert puller.unreachable == {}
    link.cut_after = None
    pulled = puller.pull('st')
    assert [r.episode_id for r in pulled] == ['ep0', 'ep1', 'ep2']
    assert pulled[0].resumed_from == 2 * 8 * 1024


def test_an_episode_failing_verification_is_not_imported(station, learner_store, tmp_path):
    link = Link(station)
    good = link.list('st')

    def lying_list(name):
        return [RemoteEpisode(e.episode_id, ('0' * 64 if e.episode_id == 'ep1' else e.sha256),
                              e.size_bytes) for e in good]
    logs = []
    puller = EpisodePuller(learner_store, lying_list, link.read, log=logs.append)
    pulled = puller.pull('st')
    # The server answers with the true sha256: every chunk of ep1 is refused as another item.
    assert [r.episode_id for r in pulled] == ['ep0', 'ep2'] and puller.failures == 1
    assert learner_store.catalog.get('ep1') is None
    assert any('ep1' in line and 'not imported' in line for line in logs)


def test_import_refuses_a_file_that_is_not_the_announced_one(station, learner_store, tmp_path):
    src = station.path_of('ep0')
    copy = tmp_path / 'copy.mcap'
    copy.write_bytes(open(src, 'rb').read())
    with pytest.raises(ChecksumError):
        learner_store.import_episode(str(copy), 'ep0', '1' * 64)
    with pytest.raises(ValueError, match='holds episode ep0'):
        learner_store.import_episode(str(copy), 'ep9', station.catalog.get('ep0').sha256)
    assert learner_store.catalog_ids() == [] and copy.exists()
    junk = tmp_path / 'junk.mcap'
    junk.write_bytes(b'not an mcap')
    with pytest.raises(ValueError, match='not a readable episode'):
        from aloe_ros.learning.checkpoint import sha256_file
        learner_store.import_episode(str(junk), 'ep5', sha256_file(str(junk)))


def test_pulled_episodes_name_their_station(station, learner_store, tmp_path):
    """Header first (the recorder that wrote the file), else the station pulled from."""
    named = EpisodeStore(str(tmp_path / 'station_b'), mode='w')
    try:
        named.add_episode(synthetic_episode('b0', steps=20, seed=7, size=(32, 40)),
                          station='/station_b')
        assert named.catalog.get('b0').station == '/station_b'
        links = {'/station_a': Link(station), '/station_b': Link(named)}
        puller = EpisodePuller(learner_store, lambda s: links[s].list(s),
                               lambda s, item, off, n: links[s].read(s, item, off, n),
                               chunk_bytes=8 * 1024)
        assert len(puller.pull('/station_a')) == 3 and len(puller.pull('/station_b')) == 1
    finally:
        named.close()
    rows = {r.episode_id: r for r in learner_store.records()}
    assert {k: r.station for k, r in rows.items()} == {
        'ep0': '/station_a', 'ep1': '/station_a', 'ep2': '/station_a', 'b0': '/station_b'}
    assert rows['b0'].reason == 'pulled from /station_b'
    assert [r.episode_id for r in learner_store.records(station='/station_b')] == ['b0']
    # Recovery re-indexes a file from its header alone: the station comes back with it.
    path = learner_store.path_of('b0')
    learner_store.catalog.update('b0', status='recording')
    learner_store.recover()
    assert learner_store.catalog.get('b0').station == '/station_b'
    assert os.path.exists(path)


def test_a_catalog_without_the_station_column_gains_it(tmp_path):
    import sqlite3
    from aloe_ros.storage.catalog import Catalog
    path = str(tmp_path / 'catalog.sqlite')
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE episodes (episode_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
               "task TEXT NOT NULL DEFAULT '', instruction TEXT NOT NULL DEFAULT '', "
               "seed INTEGER NOT NULL DEFAULT -1, outcome INTEGER NOT NULL DEFAULT 0, "
               "terminated INTEGER NOT NULL DEFAULT 0, truncated INTEGER NOT NULL DEFAULT 0, "
               "num_steps INTEGER NOT NULL DEFAULT 0, num_policy_steps INTEGER NOT NULL "
               "DEFAULT 0, num_human_steps INTEGER NOT NULL DEFAULT 0, num_scripted_steps "
               "INTEGER NOT NULL DEFAULT 0, num_hold_steps INTEGER NOT NULL DEFAULT 0, "
               "num_interventions INTEGER NOT NULL DEFAULT 0, policy_versions TEXT NOT NULL "
               "DEFAULT '[]', max_policy_version INTEGER NOT NULL DEFAULT 0, episode_return "
               "REAL NOT NULL DEFAULT 0, duration REAL NOT NULL DEFAULT 0, started_at REAL NOT "
               "NULL, ended_at REAL, path TEXT NOT NULL, uri TEXT NOT NULL DEFAULT '', "
               "size_bytes INTEGER NOT NULL DEFAULT 0, sha256 TEXT NOT NULL DEFAULT '', "
               "reason TEXT NOT NULL DEFAULT '')")
    db.execute("INSERT INTO episodes (episode_id, status, started_at, path) "
               "VALUES ('old', 'complete', 1.0, 'episodes/x')")
    db.commit()
    db.close()
    catalog = Catalog(path)
    try:
        assert catalog.get('old').station == ''
        catalog.update('old', station='/station_a')
        assert catalog.query(station='/station_a')[0].episode_id == 'old'
    finally:
        catalog.close()

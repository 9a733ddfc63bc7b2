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
SQLite catalog of recorded episodes (WAL mode, one transaction per change).

A row is inserted as ``recording`` when an episode opens and becomes ``complete`` only after
its MCAP file was finalized, fsynced and renamed; a recorder killed in between leaves a
``recording`` row that the next writer resolves (``complete`` when the final file exists,
else ``quarantined``). Readers list ``complete`` rows only. WAL lets the learner read while
the recorder writes; ``synchronous=FULL`` makes each commit durable.
"""

import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

STATUS_RECORDING = 'recording'
STATUS_COMPLETE = 'complete'
STATUS_QUARANTINED = 'quarantined'

_SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    task TEXT NOT NULL DEFAULT '',
    instruction TEXT NOT NULL DEFAULT '',
    seed INTEGER NOT NULL DEFAULT -1,
    outcome INTEGER NOT NULL DEFAULT 0,
    terminated INTEGER NOT NULL DEFAULT 0,
    truncated INTEGER NOT NULL DEFAULT 0,
    num_steps INTEGER NOT NULL DEFAULT 0,
    num_policy_steps INTEGER NOT NULL DEFAULT 0,
    num_human_steps INTEGER NOT NULL DEFAULT 0,
    num_scripted_steps INTEGER NOT NULL DEFAULT 0,
    num_hold_steps INTEGER NOT NULL DEFAULT 0,
    num_interventions INTEGER NOT NULL DEFAULT 0,
    policy_versions TEXT NOT NULL DEFAULT '[]',
    max_policy_version INTEGER NOT NULL DEFAULT 0,
    episode_return REAL NOT NULL DEFAULT 0,
    duration REAL NOT NULL DEFAULT 0,
    started_at REAL NOT NULL,
    ended_at REAL,
    path TEXT NOT NULL,
    uri TEXT NOT NULL DEFAULT '',
    size_bytes INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    station TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS episodes_status_started ON episodes (status, started_at);
CREATE INDEX IF NOT EXISTS episodes_task ON episodes (task);
"""

#: Columns added after the first schema: (name, definition), added to an older catalog on open.
_ADDED_COLUMNS = (('station', "TEXT NOT NULL DEFAULT ''"),)

_UPDATABLE = {
    'status', 'task', 'instruction', 'seed', 'outcome', 'terminated', 'truncated', 'num_steps',
    'num_policy_steps', 'num_human_steps', 'num_scripted_steps', 'num_hold_steps',
    'num_interventions', 'policy_versions', 'episode_return', 'duration', 'ended_at', 'path',
    'uri', 'size_bytes', 'sha256', 'reason', 'station'}


@dataclass
class EpisodeRecord:
    """One catalog row."""

    episode_id: str
    status: str
    task: str
    instruction: str
    seed: int
    outcome: int
    terminated: bool
    truncated: bool
    num_steps: int
    num_policy_steps: int
    num_human_steps: int
    num_scripted_steps: int
    num_hold_steps: int
    num_interventions: int
    policy_versions: List[int]
    max_policy_version: int
    episode_return: float
    duration: float
    started_at: float
    ended_at: Optional[float]
    path: str
    uri: str
    size_bytes: int
    sha256: str
    reason: str = ''
    #: The station the episode was recorded at (its recorder's namespace, e.g. ``/station_a``);
    #: '' when the file does not say (recorded before stations were named).
    station: str = ''


class Catalog:
    """The episode catalog at ``<root>/catalog.sqlite``; safe to share between threads."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute('PRAGMA journal_mode=WAL')
        self._db.execute('PRAGMA synchronous=FULL')
        with self._tx():
            for stmt in _SCHEMA.strip().split(';'):
                if stmt.strip():
                    self._db.execute(stmt)
            have = {r[1] for r in self._db.execute('PRAGMA table_info(episodes)').fetchall()}
            for name, definition in _ADDED_COLUMNS:
                if name not in have:
                    self._db.execute(f'ALTER TABLE episodes ADD COLUMN {name} {definition}')

    def _tx(self):
        return _Transaction(self._db, self._lock)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def insert(self, episode_id: str, path: str, started_at: float, task: str = '',
               instruction: str = '', seed: int = -1, status: str = STATUS_RECORDING,
               station: str = '') -> None:
        """Add a new row (``recording`` by default)."""
        with self._tx():
            self._db.execute(
                'INSERT INTO episodes (episode_id, status, task, instruction, seed, started_at, '
                'path, station)'
                ' VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                (episode_id, status, task, instruction, int(seed), float(started_at), path,
                 station))

    def update(self, episode_id: str, **fields: Any) -> None:
        """Change columns of one row in one transaction."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise KeyError(f'not catalog columns: {sorted(unknown)}')
        if 'policy_versions' in fields:
            versions = [int(v) for v in fields['policy_versions']]
            fields['policy_versions'] = json.dumps(sorted(versions))
            fields['max_policy_version'] = max(versions, default=0)
        for key in ('terminated', 'truncated'):
            if key in fields:
                fields[key] = int(bool(fields[key]))
        cols = ', '.join(f'{k} = ?' for k in fields)
        with self._tx():
            cur = self._db.execute(f'UPDATE episodes SET {cols} WHERE episode_id = ?',
                                   (*fields.values(), episode_id))
            if cur.rowcount != 1:
                raise KeyError(f'episode {episode_id} not in catalog')

    def get(self, episode_id: str) -> Optional[EpisodeRecord]:
        """Return one row, or None."""
        with self._lock:
            row = self._db.execute('SELECT * FROM episodes WHERE episode_id = ?',
                                   (episode_id,)).fetchone()
        return _record(row) if row else None

    def query(self, status: Optional[str] = STATUS_COMPLETE, task: Optional[str] = None,
              outcome: Optional[int] = None, min_policy_version: Optional[int] = None,
              with_interventions: Optional[bool] = None, since: Optional[float] = None,
              limit: Optional[int] = None, station: Optional[str] = None) -> List[EpisodeRecord]:
        """Return rows matching all given filters, oldest first (``status=None``: any status)."""
        where, args = [], []
        if station is not None:
            where.append('station = ?')
            args.append(station)
        if status is not None:
            where.append('status = ?')
            args.append(status)
        if task is not None:
            where.append('task = ?')
            args.append(task)
        if outcome is not None:
            where.append('outcome = ?')
            args.append(int(outcome))
        if min_policy_version is not None:
            where.append('max_policy_version >= ?')
            args.append(int(min_policy_version))
        if with_interventions is not None:
            where.append('num_interventions > 0' if with_interventions
                         else 'num_interventions = 0')
        if since is not None:
            where.append('started_at >= ?')
            args.append(float(since))
        sql = 'SELECT * FROM episodes'
        if where:
            sql += ' WHERE ' + ' AND '.join(where)
        sql += ' ORDER BY started_at, rowid'
        if limit is not None:
            sql += ' LIMIT ?'
            args.append(int(limit))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_record(r) for r in rows]

    def stats(self) -> Dict[str, Any]:
        """Return totals over complete episodes: counts per outcome, steps per source."""
        with self._lock:
            row = self._db.execute(
                'SELECT COUNT(*) AS episodes, COALESCE(SUM(num_steps), 0) AS steps,'
                ' COALESCE(SUM(num_policy_steps), 0) AS policy_steps,'
                ' COALESCE(SUM(num_human_steps), 0) AS human_steps,'
                ' COALESCE(SUM(num_interventions), 0) AS interventions,'
                ' COALESCE(SUM(size_bytes), 0) AS size_bytes'
                ' FROM episodes WHERE status = ?', (STATUS_COMPLETE,)).fetchone()
            outcomes = self._db.execute(
                'SELECT outcome, COUNT(*) FROM episodes WHERE status = ? GROUP BY outcome',
                (STATUS_COMPLETE,)).fetchall()
            statuses = self._db.execute(
                'SELECT status, COUNT(*) FROM episodes GROUP BY status').fetchall()
        out = dict(row)
        out['by_outcome'] = {int(o): int(c) for o, c in outcomes}
        out['by_status'] = {str(s): int(c) for s, c in statuses}
        return out

    def integrity_ok(self) -> bool:
        """Return True when SQLite's integrity check passes."""
        with self._lock:
            return self._db.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) under the catalog lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock):
        self._db = db
        self._lock = lock

    def __enter__(self):
        self._lock.acquire()
        try:
            self._db.execute('BEGIN IMMEDIATE')
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type, exc, tb):
        try:
            self._db.execute('ROLLBACK' if exc_type else 'COMMIT')
        finally:
            self._lock.release()
        return False


def _record(row: sqlite3.Row) -> EpisodeRecord:
    d = dict(row)
    d['terminated'] = bool(d['terminated'])
    d['truncated'] = bool(d['truncated'])
    d['policy_versions'] = json.loads(d['policy_versions'])
    return EpisodeRecord(**d)

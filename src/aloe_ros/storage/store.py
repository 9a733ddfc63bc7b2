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
The episode store: one rosbag2 bag directory per episode plus a SQLite catalog.

Layout::

    <root>/catalog.sqlite                                   catalog (WAL)
    <root>/episodes/<YYYYMMDD>/<id>/metadata.yaml           a complete episode: a rosbag2 bag
    <root>/episodes/<YYYYMMDD>/<id>/<id>_0.mcap             directory (``ros2 bag info <dir>``)
    <root>/episodes/<YYYYMMDD>/<id>/<id>_0.mcap.partial     the episode being recorded
    <root>/quarantine/<id>.mcap.partial                     leftovers of a killed recorder (never
                                                            deleted; :meth:`EpisodeStore.salvage`
                                                            copies what they hold into the store
                                                            as a truncated episode)
    <root>/.writer.lock                                     held (flock) by the one writing store

An episode is complete when its MCAP is finalized (renamed from ``.partial``) and its
``metadata.yaml`` written (both atomic renames, in that order; the catalog row follows). The
catalog's ``path`` names the MCAP, its ``uri`` the bag directory. Stores written before bag
directories (``episodes/<YYYYMMDD>/<id>.mcap``) are still read;
:meth:`EpisodeStore.migrate_to_bags`
(``aloe migrate``) moves them to the bag layout.

Open with ``mode='w'`` in the recorder: it takes the writer lock and recovers what a killed
writer left (see :meth:`EpisodeStore.recover`). ``mode='r'`` (the learner, exports) never
touches files and lists complete episodes only.
"""

import fcntl
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from aloe_ros.learning.checkpoint import ChecksumError
from aloe_ros.learning.episode import (Episode, OUTCOME_ABORTED, OUTCOME_NONE, SOURCE_HOLD,
                                       SOURCE_HUMAN)
from aloe_ros.learning.episode import SOURCE_POLICY, SOURCE_SCRIPTED
from aloe_ros.storage.bag import (BAG_METADATA, BagMetadataError, MCAP_SUFFIX, bag_file_name,
                                  bag_storage_file, read_bag_metadata, write_bag_metadata)
from aloe_ros.storage.catalog import (Catalog, EpisodeRecord, STATUS_COMPLETE,
                                      STATUS_QUARANTINED, STATUS_RECORDING)
from aloe_ros.storage.convert import (EVENT_ENDED, EVENT_STARTED, JOINT_NAMES_14, StepStats,
                                      episode_from_messages, header, image_message,
                                      outcome_flags, sparse_rewards, split_proprio)
from aloe_ros.storage.episode_file import (EpisodeFileWriter, PARTIAL_SUFFIX, TOPIC_TYPES, decode,
                                           encode,
                                           fsync_dir, iter_messages, read_metadata, read_partial,
                                           sha256_file)

LOG = logging.getLogger('aloe_ros.storage')

OBSERVATION_TOPIC = '/aloe/observation'
STEP_TOPIC = '/aloe/executed_step'
EVENT_TOPIC = '/aloe/episode_event'
STEP_TYPE = 'aloe_msgs/msg/ExecutedStep'
EVENT_TYPE = 'aloe_msgs/msg/EpisodeEvent'


class StoreLockedError(RuntimeError):
    """Another process holds the store's writer lock."""


@dataclass
class RewardConfig:
    """Sparse terminal reward: ``success_reward`` at a success, ``-step_penalty`` per step."""

    success_reward: float = 1.0
    step_penalty: float = 0.0


class EpisodeRecording:
    """
    An open episode: append messages, then :meth:`close` with an outcome.

    Every message on ``/aloe/executed_step`` is counted for the catalog (source counts,
    interventions, policy versions). Validation of steps is the caller's job
    (:func:`aloe_ros.storage.convert.check_executed_step`); pass the decoded step to avoid
    decoding twice.
    """

    def __init__(self, store: 'EpisodeStore', episode_id: str, writer: EpisodeFileWriter,
                 rel_path: str, task: str, instruction: str, seed: int, started_at: float):
        self.store = store
        self.episode_id = episode_id
        self.task = task
        self.instruction = instruction
        self.seed = seed
        self.started_at = started_at
        self.rel_path = rel_path
        self.stats = StepStats()
        self.last_step_index: Optional[int] = None
        self._writer = writer
        self._flushed_bytes = 0   # payload bytes made durable by this recording's last flush
        self._t_first: Optional[int] = None
        self._t_last: Optional[int] = None

    @property
    def bytes_written(self) -> int:
        """Return the payload bytes appended so far."""
        return self._writer.bytes_in

    @property
    def closed(self) -> bool:
        """Return True once closed or abandoned."""
        return self._writer.closed

    def add_topic(self, topic: str, type_name: str, reliability: int = 1, durability: int = 2,
                  depth: int = 10) -> None:
        """Register an extra topic (cameras) with its type and offered QoS."""
        self._writer.add_topic(topic, type_name, reliability, durability, depth)

    def write(self, topic: str, message: Any, log_time_ns: int, decoded: Any = None) -> int:
        """Append a message (CDR bytes or object/dict); return the bytes written."""
        if topic == STEP_TOPIC and decoded is None:
            # Encode once so fields a dict leaves out take their message defaults.
            if not isinstance(message, (bytes, bytearray, memoryview)):
                message = encode(STEP_TYPE, message)
            decoded = decode(STEP_TYPE, message)
        n = self._writer.write(topic, message, log_time_ns)
        if topic == STEP_TOPIC:
            step = decoded
            self.stats.add(int(step.source), int(step.policy_version), bool(step.intervention))
            self.last_step_index = int(step.step_index)
        self._t_first = log_time_ns if self._t_first is None else min(self._t_first, log_time_ns)
        self._t_last = log_time_ns if self._t_last is None else max(self._t_last, log_time_ns)
        return n

    def flush(self) -> None:
        """Make everything written so far durable (the recorder calls this periodically)."""
        self._writer.flush()
        self._flushed_bytes = self._writer.bytes_in

    def flush_pending(self) -> bool:
        """
        Flush if this recording was written to since its last flush; return whether it flushed.

        The count is this recording's own: a new episode whose payload happens to reach the
        byte count at which the previous episode was last flushed is still flushed.
        """
        if self._writer.bytes_in == self._flushed_bytes:
            return False
        self.flush()
        return True

    def close(self, outcome: int, reason: str = '') -> EpisodeRecord:
        """Finalize the file (atomic rename) and mark the catalog row complete; return it."""
        terminated, truncated = outcome_flags(outcome)
        rewards = sparse_rewards(self.stats.num_steps, outcome, self.store.rewards.success_reward,
                                 self.store.rewards.step_penalty)
        duration = ((self._t_last - self._t_first) * 1e-9 if self._t_first is not None else 0.0)
        by = self.stats.by_source
        fields = dict(
            outcome=int(outcome), terminated=terminated, truncated=truncated,
            num_steps=self.stats.num_steps, num_policy_steps=by.get(SOURCE_POLICY, 0),
            num_human_steps=by.get(SOURCE_HUMAN, 0), num_scripted_steps=by.get(SOURCE_SCRIPTED, 0),
            num_hold_steps=by.get(SOURCE_HOLD, 0), num_interventions=self.stats.num_interventions,
            policy_versions=list(self.stats.policy_versions),
            episode_return=float(rewards.sum()), duration=float(duration), reason=reason)
        summary = dict(fields)
        summary['policy_versions'] = ','.join(str(v) for v in fields['policy_versions'])
        path, size, digest = self._writer.close(summary=summary)
        write_bag_metadata(os.path.dirname(path), os.path.basename(path), _custom_data(summary))
        self.store.catalog.update(self.episode_id, status=STATUS_COMPLETE, ended_at=time.time(),
                                  uri=_uri(path), size_bytes=size, sha256=digest, **fields)
        self.store._recording = None
        return self.store.catalog.get(self.episode_id)


class EpisodeStore:
    """Episode store at ``root``; implements the core's EpisodeSource (complete episodes only)."""

    def __init__(self, root: str, mode: str = 'r', rewards: Optional[RewardConfig] = None,
                 compression: str = 'zstd'):
        if mode not in ('r', 'w'):
            raise ValueError(f"mode must be 'r' or 'w', not {mode!r}")
        self.root = os.path.abspath(root)
        self.mode = mode
        self.rewards = rewards or RewardConfig()
        self.compression = compression
        self.quarantined: List[str] = []
        self._recording: Optional[EpisodeRecording] = None
        self._lock_fd: Optional[int] = None
        os.makedirs(os.path.join(self.root, 'episodes'), exist_ok=True)
        if mode == 'w':
            self._take_lock()
        self.catalog = Catalog(os.path.join(self.root, 'catalog.sqlite'))
        if mode == 'w':
            self.quarantined = self.recover()

    def _take_lock(self) -> None:
        fd = os.open(os.path.join(self.root, '.writer.lock'), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreLockedError(f'{self.root} is already open for writing by another process')
        self._lock_fd = fd

    def abandon_recording(self) -> None:
        """Drop the open episode unfinished: its ``.partial`` is quarantined on the next open."""
        if self._recording is not None:
            self._recording._writer.abandon()
            self._recording = None

    def close(self) -> None:
        """Abandon an open recording (see :meth:`abandon_recording`) and release the store."""
        self.abandon_recording()
        self.catalog.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # EpisodeSource -------------------------------------------------------------------------

    def episode_ids(self) -> Sequence[str]:
        """Return the ids of all complete episodes, oldest first."""
        return [r.episode_id for r in self.catalog.query(status=STATUS_COMPLETE)]

    def load_episode(self, episode_id: str) -> Episode:
        """Read one complete episode's MCAP into an Episode."""
        rec = self.catalog.get(episode_id)
        if rec is None or rec.status != STATUS_COMPLETE:
            raise KeyError(f'no complete episode {episode_id} in {self.root}')
        return self.read_file(os.path.join(self.root, rec.path), episode_id)

    def read_file(self, path: str, episode_id: Optional[str] = None) -> Episode:
        """Decode an episode (its bag directory or MCAP file) into an Episode."""
        if os.path.isdir(path):
            path = bag_storage_file(path)
        obs, steps, events = [], [], []
        for topic, _t, msg in iter_messages(path, [OBSERVATION_TOPIC, STEP_TOPIC, EVENT_TOPIC]):
            {OBSERVATION_TOPIC: obs, STEP_TOPIC: steps, EVENT_TOPIC: events}[topic].append(msg)
        records = read_metadata(path)
        meta = dict(records.get('aloe_episode', {}), **records.get('aloe_summary', {}))
        episode_id = episode_id or meta.get('episode_id') or episode_id_of(path)
        return episode_from_messages(episode_id, obs, steps, events, self.rewards.success_reward,
                                     self.rewards.step_penalty, meta)

    # queries ---------------------------------------------------------------------------------

    def records(self, **filters: Any) -> List[EpisodeRecord]:
        """Return catalog rows (see :meth:`Catalog.query` for filters)."""
        return self.catalog.query(**filters)

    def catalog_ids(self) -> List[str]:
        """Return every episode id the catalog knows, whatever its status."""
        return [r.episode_id for r in self.catalog.query(status=None)]

    def path_of(self, episode_id: str) -> str:
        """Return the absolute path of an episode's MCAP file (inside its bag directory)."""
        rec = self.catalog.get(episode_id)
        if rec is None:
            raise KeyError(f'no episode {episode_id} in {self.root}')
        return os.path.join(self.root, rec.path)

    # writing ---------------------------------------------------------------------------------

    @property
    def recording(self) -> Optional[EpisodeRecording]:
        """Return the open episode, if any."""
        return self._recording

    def begin_episode(self, task: str = '', instruction: str = '', seed: int = -1,
                      episode_id: Optional[str] = None, now: Optional[float] = None,
                      station: str = '') -> EpisodeRecording:
        """
        Open a new episode file and its ``recording`` catalog row.

        ``station`` (the recorder's namespace) is written into the file's header and the row,
        so the episode names its source wherever it is copied or pulled to.
        """
        if self.mode != 'w':
            raise PermissionError('store opened read-only')
        if self._recording is not None:
            raise RuntimeError(f'episode {self._recording.episode_id} is still open')
        now = time.time() if now is None else now
        episode_id = episode_id or str(uuid.uuid4())
        if self.catalog.get(episode_id) is not None:
            raise ValueError(f'episode {episode_id} is already in {self.root}')
        rel_path = _episode_rel_path(episode_id, now)
        meta = {'episode_id': episode_id, 'task': task, 'instruction': instruction,
                'seed': str(seed), 'started_at': f'{now:.6f}'}
        if station:
            meta['station'] = station
        # Row first: a crash after it leaves a `recording` row that recovery resolves.
        self.catalog.insert(episode_id, rel_path, now, task, instruction, seed, station=station)
        try:
            writer = EpisodeFileWriter(os.path.join(self.root, rel_path), meta, self.compression)
        except BaseException:
            self.catalog.update(episode_id, status=STATUS_QUARANTINED, reason='file not created')
            raise
        self._recording = EpisodeRecording(self, episode_id, writer, rel_path, task, instruction,
                                           seed, now)
        return self._recording

    def add_episode(self, episode: Episode, dt: float = 0.02, start_ns: Optional[int] = None,
                    joint_names: Sequence[str] = (),
                    task_state_names: Sequence[str] = (), station: str = '') -> EpisodeRecord:
        """
        Write a python-built Episode (sim benchmarks) as an MCAP episode; return its row.

        One Observation and one ExecutedStep per tick, stamped ``start_ns + t * dt``, framed by
        the STARTED / ENDED episode events, exactly what the recorder writes on a robot. An
        ``extra['state']`` goes into each Observation's task state, named ``task_state_names``
        (``state_0``, ``state_1``, ... when not given); ``station`` is written as a recorder
        would (see :meth:`begin_episode`).
        """
        episode.validate()
        state = episode.extra.get('state')
        if state is not None:
            state = np.asarray(state, dtype=np.float64).reshape(len(episode), -1)
            state_names = list(task_state_names) or [f'state_{i}' for i in range(state.shape[1])]
            if len(state_names) != state.shape[1]:
                raise ValueError(f'{len(state_names)} task_state_names for {state.shape[1]} '
                                 'state values')
        start_ns = time.time_ns() if start_ns is None else int(start_ns)
        rec = self.begin_episode(episode.task, episode.instruction, episode.seed,
                                 episode.episode_id, start_ns * 1e-9, station=station)
        names = list(joint_names) or (JOINT_NAMES_14 if episode.actions.shape[1] == 14 else [])
        event = {'header': header(start_ns), 'episode_id': episode.episode_id,
                 'event': EVENT_STARTED, 'outcome': OUTCOME_NONE, 'terminated': False,
                 'truncated': False, 'task': episode.task, 'task_instruction': episode.instruction,
                 'policy_version': int(episode.policy_versions[0]) if len(episode) else 0,
                 'seed': int(episode.seed)}
        rec.write(EVENT_TOPIC, event, start_ns)
        cams = sorted(episode.images)
        t_ns = start_ns
        for t in range(len(episode)):
            t_ns = start_ns + int(round(t * dt * 1e9))
            pos, grip = split_proprio(episode.proprio[t])
            obs = {'header': header(t_ns, 'world'), 'camera_names': cams,
                   'images': [image_message(episode.images[c][t], t_ns, c) for c in cams],
                   'joint_names': [n for n in names if not n.endswith('gripper')],
                   'position': pos.tolist(), 'velocity': [], 'gripper': grip.tolist(),
                   'task_instruction': episode.instruction, 'max_input_age': 0.0, 'stale': False}
            if state is not None:
                obs['task_state_names'] = state_names
                obs['task_state'] = state[t].tolist()
            rec.write(OBSERVATION_TOPIC, obs, t_ns)
            step = {'header': header(t_ns), 'episode_id': episode.episode_id, 'step_index': t,
                    'source': int(episode.sources[t]),
                    'policy_version': int(episode.policy_versions[t]),
                    'chunk_id': int(episode.extra['chunk_id'][t]) if 'chunk_id' in episode.extra
                    else 0,
                    'index_in_chunk': int(episode.extra['index_in_chunk'][t])
                    if 'index_in_chunk' in episode.extra else 0,
                    'intervention': bool(episode.interventions[t]), 'joint_names': names,
                    'action': episode.actions[t].astype(np.float64).tolist(),
                    'observed_position': episode.proprio[t].astype(np.float64).tolist()}
            rec.write(STEP_TOPIC, step, t_ns)
        end_ns = t_ns + int(round(dt * 1e9))
        terminated, truncated = outcome_flags(episode.outcome)
        event = dict(event, header=header(end_ns), event=EVENT_ENDED, outcome=int(episode.outcome),
                     terminated=terminated, truncated=truncated)
        rec.write(EVENT_TOPIC, event, end_ns)
        return rec.close(episode.outcome, 'added from python')

    def import_episode(self, path: str, episode_id: str, sha256: str,
                       source: str = '') -> EpisodeRecord:
        """
        Move a finalized episode MCAP from another store (a station) into this one.

        The file must hash to ``sha256`` (ChecksumError otherwise; the file is left where it
        is) and name ``episode_id`` in its metadata. It is renamed into the bag layout, its
        ``metadata.yaml`` written and its catalog row added with ``reason`` naming ``source``
        and ``station`` the one the file's header names (the recorder that wrote it), or
        ``source`` when the header names none.
        A kill between the rename and the row is repaired by :meth:`recover` (it indexes a
        complete MCAP missing from the catalog). Returns the new row.
        """
        if self.mode != 'w':
            raise PermissionError('store opened read-only')
        check_episode_id(episode_id)
        if self.catalog.get(episode_id) is not None:
            raise ValueError(f'episode {episode_id} is already in {self.root}')
        digest = sha256_file(path)
        if digest != sha256.lower():
            raise ChecksumError(f'{path}: sha256 {digest[:12]} is not the announced '
                                f'{sha256[:12]}; not imported')
        try:
            head = read_metadata(path).get('aloe_episode', {})
        except Exception as exc:  # whatever the MCAP reader raises on a broken file
            raise ValueError(f'{path} is not a readable episode file: {exc}') from exc
        if head.get('episode_id', episode_id) != episode_id:
            raise ValueError(f'{path} holds episode {head.get("episode_id")}, not {episode_id}')
        started = float(head.get('started_at', time.time()))
        final = os.path.join(self.root, _episode_rel_path(episode_id, started))
        os.makedirs(os.path.dirname(final), exist_ok=True)
        os.replace(path, final)
        fsync_dir(os.path.dirname(final))
        fsync_dir(os.path.dirname(path))
        self._index_file(final, episode_id, reason=f'pulled from {source}' if source else
                         'imported', station=head.get('station') or source)
        row = self.catalog.get(episode_id)
        if row is None or row.status != STATUS_COMPLETE:
            raise ValueError(f'episode {episode_id} could not be indexed: quarantined')
        return row

    # recovery --------------------------------------------------------------------------------

    def quarantined_files(self) -> List[str]:
        """Return the killed writers' ``.partial`` files under ``quarantine/``, oldest first."""
        qdir = os.path.join(self.root, 'quarantine')
        if not os.path.isdir(qdir):
            return []
        paths = [os.path.join(qdir, n) for n in os.listdir(qdir) if PARTIAL_SUFFIX in n]
        return sorted(paths, key=os.path.getmtime)

    def salvage(self, path: str, outcome: int = OUTCOME_ABORTED) -> EpisodeRecord:
        """
        Copy the readable part of a quarantined ``.partial`` into the store; return its row.

        Every message up to the writer's last flush is copied as written (steps keep their ids
        and indices) into a new, finalized file of the same episode id, closed with ``outcome``
        (ABORTED: truncated, so the critic bootstraps past its end). The ``.partial`` stays in
        quarantine. Raises ValueError when the episode is already complete or holds no step.
        """
        if self.mode != 'w':
            raise PermissionError('store opened read-only')
        if self._recording is not None:
            raise RuntimeError(f'episode {self._recording.episode_id} is open: salvage when idle')
        part = read_partial(path)
        head = part.metadata.get('aloe_episode', {})
        episode_id = head.get('episode_id') or os.path.basename(path).split('.')[0]
        row = self.catalog.get(episode_id)
        if row is not None and row.status == STATUS_COMPLETE:
            raise ValueError(f'episode {episode_id} is already complete in the store')
        steps = [m for m in part.messages if m[0] == STEP_TOPIC]
        if not steps:
            raise ValueError(f'{path}: no executed step is readable ({part.stopped or "empty"})')
        started = float(head.get('started_at', os.path.getmtime(path)))
        task, instruction = head.get('task', ''), head.get('instruction', '')
        seed = int(head.get('seed', -1))
        rel_path = _episode_rel_path(episode_id, started)
        if row is None:
            self.catalog.insert(episode_id, rel_path, started, task, instruction, seed,
                                station=head.get('station', ''))
        else:
            self.catalog.update(episode_id, status=STATUS_RECORDING, path=rel_path)
        meta = dict(head, salvaged_from=os.path.relpath(path, self.root))
        writer = EpisodeFileWriter(os.path.join(self.root, rel_path), meta, self.compression)
        rec = EpisodeRecording(self, episode_id, writer, rel_path, task, instruction, seed,
                               started)
        self._recording = rec
        try:
            for topic, type_name, log_time, data in part.messages:
                if topic == EVENT_TOPIC and decode(EVENT_TYPE, data).event == EVENT_ENDED:
                    continue
                if not rec._writer.has_topic(topic) and topic not in TOPIC_TYPES:
                    rec.add_topic(topic, type_name)
                rec.write(topic, data, log_time)
            last = max(m[2] for m in part.messages)
            terminated, truncated = outcome_flags(outcome)
            ended = {'header': header(last), 'episode_id': episode_id, 'event': EVENT_ENDED,
                     'outcome': int(outcome), 'terminated': terminated, 'truncated': truncated,
                     'task': task, 'task_instruction': instruction, 'seed': seed}
            rec.write(EVENT_TOPIC, ended, last)
            return rec.close(outcome, f'salvaged: {len(steps)} steps readable in '
                                      f'{os.path.basename(path)} ({part.stopped or "complete"})')
        except BaseException:
            self.abandon_recording()
            raise

    def recover(self) -> List[str]:
        """
        Resolve what a killed writer left; return the quarantined files.

        ``recording`` rows whose final MCAP exists (killed between rename and catalog commit)
        are completed from the file's summary; the others become ``quarantined``. Every
        ``.partial`` under ``episodes/`` moves to ``quarantine/<id>.mcap.partial`` (never used,
        never deleted), a bag directory whose MCAP was finalized without its ``metadata.yaml``
        gets it, and a complete MCAP missing from the catalog is indexed.
        """
        moved: List[str] = []
        for rec in self.catalog.query(status=STATUS_RECORDING):
            final = os.path.join(self.root, rec.path)
            if os.path.exists(final):
                self._index_file(final, rec.episode_id)
            else:
                self.catalog.update(rec.episode_id, status=STATUS_QUARANTINED,
                                    reason='recorder stopped while the episode was open')
        found = []
        for dirpath, _dirs, files in os.walk(os.path.join(self.root, 'episodes')):
            found += [os.path.join(dirpath, name) for name in sorted(files)]
        for path in found:
            if path.endswith(PARTIAL_SUFFIX):
                moved.append(self._quarantine(path))
            elif path.endswith(MCAP_SUFFIX):
                episode_id = episode_id_of(path)
                if self.catalog.get(episode_id) is None:
                    self._index_file(path, episode_id)
                elif in_bag_dir(path) and not os.path.exists(
                        os.path.join(os.path.dirname(path), BAG_METADATA)):
                    self._repair_bag_metadata(path)
        return moved

    def migrate_to_bags(self, progress: Any = None) -> List[str]:
        """
        Move episodes of the old layout (``<day>/<id>.mcap``) into bag directories.

        Each file is renamed (same file system: atomic, bytes unchanged, so its catalog sha256
        stays right) to ``<day>/<id>/<id>_0.mcap``, its ``metadata.yaml`` written, then its row
        updated. Safe to interrupt and run again: a file already moved is finished from its bag
        directory. ``progress`` (optional) is called with each migrated id. Returns the ids.
        """
        if self.mode != 'w':
            raise PermissionError('store opened read-only')
        if self._recording is not None:
            raise RuntimeError(f'episode {self._recording.episode_id} is open: migrate when idle')
        done = []
        for row in self.catalog.query(status=STATUS_COMPLETE):
            old = os.path.join(self.root, row.path)
            if in_bag_dir(old):
                continue
            bag_dir = old[:-len(MCAP_SUFFIX)]
            new = os.path.join(bag_dir, bag_file_name(row.episode_id))
            if os.path.exists(old):
                if os.path.exists(new):
                    raise RuntimeError(f'{old} and {new} both exist: resolve by hand')
                os.makedirs(bag_dir, exist_ok=True)
                os.rename(old, new)
                fsync_dir(bag_dir)
                fsync_dir(os.path.dirname(old))
            elif not os.path.exists(new):
                LOG.error('episode %s: neither %s nor %s exists; left as it is', row.episode_id,
                          old, new)
                continue
            summary = read_metadata(new).get('aloe_summary', {})
            write_bag_metadata(bag_dir, os.path.basename(new), _custom_data(summary))
            self.catalog.update(row.episode_id, path=os.path.relpath(new, self.root),
                                uri=_uri(new))
            done.append(row.episode_id)
            if progress is not None:
                progress(row.episode_id)
        return done

    def refresh_bag_metadata(self) -> List[str]:
        """
        Rewrite the ``metadata.yaml`` of bag directories written before type hashes.

        Bags recorded before the RIHS01 type hash was stored have ``type_description_hash: ''``;
        their MCAP is left as it is and the hash computed from its recorded schemas. Returns the
        ids whose metadata.yaml was rewritten.
        """
        if self.mode != 'w':
            raise PermissionError('store opened read-only')
        done = []
        for row in self.catalog.query(status=STATUS_COMPLETE):
            path = os.path.join(self.root, row.path)
            if not in_bag_dir(path) or not os.path.exists(path):
                continue
            bag_dir = os.path.dirname(path)
            try:
                topics = read_bag_metadata(bag_dir)['topics_with_message_count']
            except BagMetadataError:
                topics = []
            if topics and all(t['topic_metadata'].get('type_description_hash') for t in topics):
                continue
            summary = read_metadata(path).get('aloe_summary', {})
            write_bag_metadata(bag_dir, os.path.basename(path), _custom_data(summary))
            done.append(row.episode_id)
        return done

    def _repair_bag_metadata(self, path: str) -> None:
        """Write the metadata.yaml a crash kept from a finalized episode MCAP."""
        try:
            summary = read_metadata(path).get('aloe_summary', {})
            write_bag_metadata(os.path.dirname(path), os.path.basename(path),
                               _custom_data(summary))
        except Exception as exc:  # a broken final file is quarantined, never used
            LOG.error('cannot read %s (%s): moved to quarantine', path, exc)
            target = self._quarantine_final(path)
            self.catalog.update(episode_id_of(path), status=STATUS_QUARANTINED,
                                path=os.path.relpath(target, self.root), reason=str(exc))
            return
        LOG.warning('episode %s had no metadata.yaml (stopped while finalizing): written', path)

    def _quarantine(self, path: str) -> str:
        qdir = os.path.join(self.root, 'quarantine')
        os.makedirs(qdir, exist_ok=True)
        episode_id = episode_id_of(path[:-len(PARTIAL_SUFFIX)])
        name = episode_id + MCAP_SUFFIX + PARTIAL_SUFFIX
        target = os.path.join(qdir, name)
        k = 1
        while os.path.exists(target):
            target = os.path.join(qdir, f'{name}.{k}')
            k += 1
        shutil.move(path, target)
        fsync_dir(qdir)
        fsync_dir(os.path.dirname(path))
        if in_bag_dir(path[:-len(PARTIAL_SUFFIX)]):
            _remove_empty_bag_dir(os.path.dirname(path))
        rel = os.path.relpath(target, self.root)
        row = self.catalog.get(episode_id)
        if row is not None and row.status != STATUS_COMPLETE:
            self.catalog.update(episode_id, status=STATUS_QUARANTINED, path=rel)
        LOG.warning('incomplete episode file %s (recorder stopped mid-episode) moved to %s',
                    path, target)
        return target

    def _index_file(self, path: str, episode_id: str, reason: str = '',
                    station: str = '') -> None:
        """Complete or add the catalog row of a finalized MCAP from its metadata."""
        try:
            meta = read_metadata(path)
            if in_bag_dir(path):
                write_bag_metadata(os.path.dirname(path), os.path.basename(path),
                                   _custom_data(meta.get('aloe_summary', {})))
        except Exception as exc:  # a broken final file is quarantined, never indexed
            LOG.error('cannot read %s (%s): moved to quarantine', path, exc)
            target = self._quarantine_final(path)
            if self.catalog.get(episode_id) is not None:
                self.catalog.update(episode_id, status=STATUS_QUARANTINED,
                                    path=os.path.relpath(target, self.root), reason=str(exc))
            return
        head, summ = meta.get('aloe_episode', {}), meta.get('aloe_summary', {})
        rel = os.path.relpath(path, self.root)
        if self.catalog.get(episode_id) is None:
            self.catalog.insert(episode_id, rel,
                                float(head.get('started_at', os.path.getmtime(path))),
                                head.get('task', ''), head.get('instruction', ''),
                                int(head.get('seed', -1)))
        fields: Dict[str, Any] = {}
        station = station or head.get('station', '')
        if station:
            fields['station'] = station
        for key in ('outcome', 'num_steps', 'num_policy_steps', 'num_human_steps',
                    'num_scripted_steps', 'num_hold_steps', 'num_interventions'):
            if key in summ:
                fields[key] = int(summ[key])
        for key in ('episode_return', 'duration'):
            if key in summ:
                fields[key] = float(summ[key])
        for key in ('terminated', 'truncated'):
            if key in summ:
                fields[key] = summ[key] == 'True'
        if summ.get('policy_versions'):
            fields['policy_versions'] = [int(v) for v in summ['policy_versions'].split(',')]
        self.catalog.update(episode_id, status=STATUS_COMPLETE, path=rel, uri=_uri(path),
                            size_bytes=os.path.getsize(path), sha256=sha256_file(path),
                            ended_at=os.path.getmtime(path),
                            reason=reason or 'indexed on recovery', **fields)
        if not reason:
            LOG.warning('episode file %s was finalized but not cataloged: indexed', path)

    def _quarantine_final(self, path: str) -> str:
        qdir = os.path.join(self.root, 'quarantine')
        os.makedirs(qdir, exist_ok=True)
        source = os.path.dirname(path) if in_bag_dir(path) else path
        target = os.path.join(qdir, os.path.basename(source) + '.broken')
        shutil.move(source, target)
        fsync_dir(qdir)
        return target


def check_episode_id(episode_id: str) -> None:
    """Raise ValueError unless ``episode_id`` can name a file and a directory."""
    if (not episode_id or episode_id.startswith('.') or len(episode_id) > 200
            or any(c in episode_id for c in '/\\\0') or any(c.isspace() for c in episode_id)):
        raise ValueError(f'episode id {episode_id!r} cannot name a bag directory: use letters, '
                         'digits, '
                         "'-', '_' or '.' (not first), at most 200 characters")


def in_bag_dir(mcap_path: str) -> bool:
    """Return True when an episode MCAP path is ``.../<id>/<id>_0.mcap`` (the bag layout)."""
    parent = os.path.basename(os.path.dirname(mcap_path))
    return os.path.basename(mcap_path) == bag_file_name(parent)


def episode_id_of(mcap_path: str) -> str:
    """Return the episode id an MCAP path names, in the bag layout or the old one."""
    if in_bag_dir(mcap_path):
        return os.path.basename(os.path.dirname(mcap_path))
    return os.path.basename(mcap_path)[:-len(MCAP_SUFFIX)]


def _episode_rel_path(episode_id: str, started: float) -> str:
    check_episode_id(episode_id)
    day = time.strftime('%Y%m%d', time.gmtime(started))
    return os.path.join('episodes', day, episode_id, bag_file_name(episode_id))


def _uri(mcap_path: str) -> str:
    """Return the catalog uri of an episode: its bag directory (or, old layout, its file)."""
    target = os.path.dirname(mcap_path) if in_bag_dir(mcap_path) else mcap_path
    return 'file://' + os.path.abspath(target)


def _custom_data(summary: Dict[str, Any]) -> Dict[str, str]:
    """Return the aloe fields repeated in metadata.yaml's ``custom_data`` (``ros2 bag info``)."""
    keys = ('outcome', 'terminated', 'truncated', 'num_steps', 'num_human_steps',
            'num_interventions', 'policy_versions', 'reason')
    return {f'aloe.{k}': str(summary[k]) for k in keys if k in summary}


def _remove_empty_bag_dir(path: str) -> None:
    leftover = os.path.join(path, BAG_METADATA + '.tmp')
    if os.path.exists(leftover):
        os.remove(leftover)
    try:
        os.rmdir(path)
    except OSError:
        return
    fsync_dir(os.path.dirname(path))

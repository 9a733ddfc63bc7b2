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
Pulling a station's episodes into a learner's own store (catalog diff + verified transfer).

A station's recorder lists its complete episodes (id, size, sha256); the learner pulls each one
its store lacks, chunk by chunk into ``<store>/incoming/<station>/<id>.mcap``, checks the whole
file's sha256 against the station's catalog and imports it into its store
(:meth:`aloe_ros.storage.store.EpisodeStore.import_episode`), recording the station it came from.
A station that goes away mid-transfer leaves the verified bytes in ``incoming/``; the next pull
from it resumes there. One station failing never stops the pulls from the others.
"""

import os
import re
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set

from aloe_ros.transfer.chunks import (ChunkReply, Download, FileServer, MAX_CHUNK_BYTES,
                                      TransferError, fetch)

INCOMING = 'incoming'


@dataclass(frozen=True)
class RemoteEpisode:
    """A complete episode in a station's catalog (``aloe_msgs/msg/EpisodeEntry``)."""

    episode_id: str
    sha256: str
    size_bytes: int
    task: str = ''
    num_steps: int = 0


@dataclass
class PullResult:
    """One episode pulled: where from, how big, how long."""

    station: str
    episode_id: str
    bytes: int
    seconds: float
    resumed_from: int
    refused_chunks: int

    @property
    def mb_per_s(self) -> float:
        """Return the rate of this episode's transfer in MB/s."""
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


def station_dir_name(station: str) -> str:
    """Return a directory name for a namespace (``/station_a/aloe`` -> ``station_a_aloe``)."""
    name = re.sub(r'[^A-Za-z0-9_.-]+', '_', station).strip('_')
    return name or 'default'


def episode_server(store, max_chunk_bytes: int = MAX_CHUNK_BYTES) -> FileServer:
    """
    Return a FileServer of the complete episodes of ``store`` (item = episode id).

    The sha256 served is the catalog's, written when the episode was finalized: a file changed
    on disk since then fails the reader's whole-file check instead of passing as genuine.
    """
    def resolve(item: str):
        row = store.catalog.get(item)
        if row is None or row.status != 'complete':
            raise KeyError('no complete episode with this id')
        return os.path.join(store.root, row.path), row.sha256
    return FileServer(resolve, max_chunk_bytes)


def remote_entry(row) -> RemoteEpisode:
    """Return the RemoteEpisode of a catalog row (what a recorder lists)."""
    return RemoteEpisode(row.episode_id, row.sha256, int(row.size_bytes), row.task,
                         int(row.num_steps))


def missing_episodes(remote: Iterable[RemoteEpisode], have: Set[str]) -> List[RemoteEpisode]:
    """
    Return the station's episodes the store lacks, in the station's order, each id once.

    Entries without a sha256 cannot be verified and are left out.
    """
    seen = set(have)
    out = []
    for entry in remote:
        if entry.episode_id in seen or not entry.sha256:
            continue
        seen.add(entry.episode_id)
        out.append(entry)
    return out


class EpisodePuller:
    """
    Pulls every episode that stations have and ``store`` lacks (see the module docstring).

    ``list_episodes(station)`` returns the station's ``RemoteEpisode`` list and ``read(station,
    episode_id, offset, n)`` one ``ChunkReply``; both raise (any exception) when the station
    cannot be reached. ``store`` is an EpisodeStore opened for writing.
    """

    def __init__(self, store, list_episodes: Callable[[str], Sequence[RemoteEpisode]],
                 read: Callable[[str, str, int, int], ChunkReply],
                 chunk_bytes: int = 1024 * 1024, log: Optional[Callable[[str], None]] = None,
                 max_refusals: int = 3):
        self.store = store
        self._list = list_episodes
        self._read = read
        self.chunk_bytes = int(chunk_bytes)
        self.max_refusals = int(max_refusals)
        self._log = log or (lambda _msg: None)
        self.unreachable: Dict[str, str] = {}
        self.results: List[PullResult] = []
        self.failures = 0

    def incoming_path(self, station: str, episode_id: str) -> str:
        """Return where an episode from ``station`` is assembled before it is imported."""
        return os.path.join(self.store.root, INCOMING, station_dir_name(station),
                            episode_id + '.mcap')

    def pull(self, station: str, stop: Optional[Callable[[], bool]] = None) -> List[PullResult]:
        """
        Pull what ``station`` has and the store lacks; return the episodes imported.

        A station that cannot be reached is noted in ``unreachable`` (said once) and tried
        again on the next call; an episode whose transfer fails verification is skipped this
        time and counted in ``failures``. Once ``stop()`` is true (the learner shutting down)
        nothing more is pulled, and a station call failing then is not taken for the station
        going away (shutting down breaks the calls; the partial file is kept all the same).
        """
        if stop is not None and stop():
            return []
        try:
            remote = list(self._list(station))
        except Exception as exc:  # a station that comes and goes is normal; retried next pull
            if not (stop is not None and stop()):
                self._mark_unreachable(station, exc)
            return []
        if station in self.unreachable:
            self._log(f'station {station} is reachable again')
            del self.unreachable[station]
        done = []
        for entry in missing_episodes(remote, set(self.store.catalog_ids())):
            if stop is not None and stop():
                break
            try:
                done.append(self._pull_one(station, entry))
            except (TransferError, ValueError) as exc:
                self.failures += 1
                self._log(f'episode {entry.episode_id} from {station} not imported: {exc}')
            except Exception as exc:  # the station went away mid-transfer: resume next time
                if not (stop is not None and stop()):
                    self._mark_unreachable(station, exc)
                break
        return done

    def _pull_one(self, station: str, entry: RemoteEpisode) -> PullResult:
        dest = self.incoming_path(station, entry.episode_id)
        download = Download(dest, entry.sha256, entry.size_bytes)
        t0 = time.monotonic()
        stats = fetch(lambda offset, n: self._read(station, entry.episode_id, offset, n),
                      download, self.chunk_bytes, self.max_refusals)
        self.store.import_episode(dest, entry.episode_id, entry.sha256, source=station)
        result = PullResult(station, entry.episode_id, stats.bytes, time.monotonic() - t0,
                            stats.resumed_from, stats.refused_chunks)
        self.results.append(result)
        self._log(f'pulled episode {entry.episode_id} from {station}: {entry.size_bytes} bytes '
                  f'in {result.seconds:.2f} s'
                  + (f' (resumed at byte {stats.resumed_from}, {stats.bytes} bytes fetched)'
                     if stats.resumed_from else ''))
        return result

    def _mark_unreachable(self, station: str, exc: Exception) -> None:
        if station not in self.unreachable:
            self._log(f'station {station} unreachable ({exc}); its partial transfers are kept '
                      'and resumed when it is back')
        self.unreachable[station] = str(exc)

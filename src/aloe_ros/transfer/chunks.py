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
Chunked file transfer: a server that reads by offset, a resumable, verified download.

The server answers ``read(item, offset, max_bytes)`` with the bytes, the sha256 of those bytes
and the size and sha256 of the whole item. The reader appends a chunk only when it arrives at
the expected offset with a matching chunk sha256 (anything else is refused and read again), and
moves the assembled file into place (atomic rename) only when its sha256 is the announced one;
otherwise the partial file is deleted and the transfer starts over.

A download keeps ``<dest>.part`` and ``<dest>.part.json`` (the item's sha256 and size) next to
its destination, so a transfer cut by a station that went away resumes from the bytes already
verified when the station is back, as long as the item has not changed.
"""

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

from aloe_ros.learning.checkpoint import ChecksumError, atomic_write, sha256_file

#: Largest chunk a server sends, whatever is asked: one reply stays a modest DDS sample.
MAX_CHUNK_BYTES = 8 * 1024 * 1024
PART_SUFFIX = '.part'
STATE_SUFFIX = '.part.json'


class ChunkError(ValueError):
    """A chunk was refused (wrong offset, size or sha256, or the item changed under us)."""


class TransferError(RuntimeError):
    """A transfer could not complete; the message says why and what is kept for a resume."""


@dataclass
class ChunkReply:
    """One answer of a chunk server (the fields of ``aloe_msgs/srv/ReadChunk`` responses)."""

    success: bool
    message: str = ''
    offset: int = 0
    total_bytes: int = 0
    sha256: str = ''
    chunk_sha256: str = ''
    data: bytes = b''


def sha256_hex(data: bytes) -> str:
    """Return the sha256 hex digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


class FileServer:
    """
    Serves items by chunks; ``resolve(item)`` names the file and its sha256 or raises.

    ``resolve`` raises KeyError for an unknown item (the message goes back to the reader) and
    may return ``None`` for the sha256, in which case the file's is computed once and kept per
    (path, size, mtime).
    """

    def __init__(self, resolve: Callable[[str], Tuple[str, Optional[str]]],
                 max_chunk_bytes: int = MAX_CHUNK_BYTES):
        self._resolve = resolve
        self.max_chunk_bytes = int(min(max_chunk_bytes, MAX_CHUNK_BYTES))
        self._digests: Dict[Tuple[str, int, int], str] = {}

    def _digest(self, path: str, st: os.stat_result) -> str:
        key = (path, st.st_size, st.st_mtime_ns)
        if key not in self._digests:
            self._digests[key] = sha256_file(path)
        return self._digests[key]

    def read(self, item: str, offset: int, max_bytes: int) -> ChunkReply:
        """Return the chunk of ``item`` at ``offset`` (at most ``max_bytes``), or why not."""
        try:
            path, digest = self._resolve(item)
            st = os.stat(path)
        except (KeyError, ValueError, PermissionError, FileNotFoundError) as exc:
            reason = exc.args[0] if exc.args else type(exc).__name__
            return ChunkReply(False, f'{item!r}: {reason}')
        digest = digest or self._digest(path, st)
        if offset < 0 or offset > st.st_size:
            return ChunkReply(False, f'{item!r}: offset {offset} is past its {st.st_size} bytes',
                              total_bytes=st.st_size, sha256=digest)
        n = max(0, min(int(max_bytes), self.max_chunk_bytes, st.st_size - offset))
        with open(path, 'rb') as f:
            f.seek(offset)
            data = f.read(n)
        return ChunkReply(True, '', offset, st.st_size, digest, sha256_hex(data), data)


class Download:
    """
    A resumable download of one item into ``dest`` (see the module docstring).

    ``sha256`` and ``total_bytes``, when known beforehand (a catalog entry, a PolicyUpdate), are
    what every reply must repeat; otherwise the first reply's are kept and held to.
    """

    def __init__(self, dest: str, sha256: str = '', total_bytes: Optional[int] = None):
        self.dest = dest
        self.part = dest + PART_SUFFIX
        self.state_path = dest + STATE_SUFFIX
        self.sha256 = sha256.lower()
        self.total_bytes = total_bytes
        self._pinned = bool(sha256)
        self.offset = 0
        self.resumed_from = 0
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        self._resume()

    def _resume(self) -> None:
        """Keep a previous attempt's bytes when they were for the same item; else start over."""
        try:
            with open(self.state_path) as f:
                state = json.load(f)
            same = (not self.sha256 or state.get('sha256') == self.sha256)
            size = os.path.getsize(self.part)
        except (OSError, ValueError):
            same, size, state = False, 0, {}
        if same and state.get('sha256') and size <= int(state.get('total_bytes', -1)):
            self.sha256 = state['sha256']
            self.total_bytes = int(state['total_bytes'])
            self.offset = self.resumed_from = size
        else:
            self.discard()

    def discard(self) -> None:
        """Delete the partial file and its state (the next attempt starts from byte 0)."""
        for path in (self.part, self.state_path):
            if os.path.exists(path):
                os.remove(path)
        self.offset = 0

    @property
    def complete(self) -> bool:
        """Return True once every byte has been received (see :meth:`finish`)."""
        return self.total_bytes is not None and self.offset >= self.total_bytes

    def accept(self, reply: ChunkReply) -> int:
        """Append a verified chunk; return its length. Raises ChunkError (nothing written)."""
        if not reply.success:
            raise ChunkError(f'server refused: {reply.message}')
        digest = reply.sha256.lower()
        if self.sha256 and digest != self.sha256 and not self._pinned:
            # Only a previous attempt knew the old sha256: the item was replaced; start over.
            self.discard()
            self.sha256, self.total_bytes = '', None
            raise ChunkError(f'the item changed since the last attempt (sha256 now '
                             f'{digest[:12]}): its partial bytes are dropped, reading from 0')
        if self.sha256 and digest != self.sha256:
            raise ChunkError(f'the item changed on the server (sha256 {digest[:12]}, expected '
                             f'{self.sha256[:12]})')
        if self.total_bytes is not None and reply.total_bytes != self.total_bytes:
            raise ChunkError(f'item size {reply.total_bytes} differs from {self.total_bytes}')
        if reply.offset != self.offset:
            raise ChunkError(f'chunk at offset {reply.offset}, expected {self.offset}')
        data = bytes(reply.data)
        if sha256_hex(data) != reply.chunk_sha256.lower():
            raise ChunkError(f'chunk at offset {reply.offset} ({len(data)} bytes) does not '
                             'match its sha256: refused')
        end = self.offset + len(data)
        if end > reply.total_bytes or (not data and end < reply.total_bytes):
            raise ChunkError(f'chunk at offset {reply.offset} has {len(data)} bytes of an item '
                             f'of {reply.total_bytes}')
        if not self.sha256 or self.total_bytes is None or not os.path.exists(self.state_path):
            self.sha256, self.total_bytes = digest, int(reply.total_bytes)
            atomic_write(self.state_path, json.dumps(
                {'sha256': self.sha256, 'total_bytes': self.total_bytes}).encode())
        with open(self.part, 'ab') as f:
            f.write(data)
        self.offset += len(data)
        return len(data)

    def finish(self) -> str:
        """
        Check the whole file's sha256 and move it to ``dest``; return ``dest``.

        Raises ChecksumError (and discards the partial file) when the assembled bytes are not
        the item announced.
        """
        if not self.complete:
            raise TransferError(f'{self.dest}: {self.offset} of {self.total_bytes} bytes here')
        if not os.path.exists(self.part):
            open(self.part, 'wb').close()  # an empty item
        digest = sha256_file(self.part)
        if digest != self.sha256:
            self.discard()
            raise ChecksumError(f'{os.path.basename(self.dest)}: assembled file has sha256 '
                                f'{digest[:12]}, announced {self.sha256[:12]}: discarded')
        with open(self.part, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(self.part, self.dest)
        os.remove(self.state_path)
        return self.dest


@dataclass
class TransferStats:
    """What one :func:`fetch` moved and how long it took."""

    bytes: int = 0
    chunks: int = 0
    refused_chunks: int = 0
    resumed_from: int = 0
    seconds: float = 0.0
    refusals: list = field(default_factory=list)

    @property
    def mb_per_s(self) -> float:
        """Return the transfer rate in MB/s (10^6 bytes)."""
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


def fetch(read: Callable[[int, int], ChunkReply], download: Download,
          chunk_bytes: int = 1024 * 1024, max_refusals: int = 3,
          stats: Optional[TransferStats] = None) -> TransferStats:
    """
    Read chunks with ``read(offset, n)`` into ``download`` until complete, then finish it.

    A refused chunk is read again; ``max_refusals`` refusals in a row end the transfer with
    TransferError, keeping the verified bytes for a resume. ``read`` may raise (a station that
    went away): that propagates, with the partial file kept. Returns the statistics, kept in
    ``stats`` when given (so a caller sees them after a failure too).
    """
    stats = stats if stats is not None else TransferStats()
    stats.resumed_from = download.offset
    t0 = time.monotonic()
    refused = 0
    while True:
        reply = read(download.offset, chunk_bytes)
        try:
            stats.bytes += download.accept(reply)
            stats.chunks += 1
            refused = 0
        except ChunkError as exc:
            stats.refused_chunks += 1
            stats.refusals.append(str(exc))
            refused += 1
            if refused >= max_refusals:
                raise TransferError(f'{os.path.basename(download.dest)}: {refused} chunks '
                                    f'refused in a row, last: {exc}; {download.offset} verified '
                                    'bytes kept for a resume') from exc
            continue
        if download.complete:
            break
    download.finish()
    stats.seconds = time.monotonic() - t0
    return stats


def check_item_name(name: str, suffix: str = '') -> None:
    """Raise ValueError unless ``name`` is a plain file name (no directory) ending in suffix."""
    ok = (0 < len(name) <= 200 and not name.startswith('.') and name.endswith(suffix)
          and all(c.isalnum() or c in '-_.' for c in name))
    if not ok:
        raise ValueError(f'{name!r} is not a plain file name'
                         + (f' ending in {suffix}' if suffix else ''))


def directory_server(directory: str, suffix: str, max_chunk_bytes: int = MAX_CHUNK_BYTES,
                     prefix: str = '') -> FileServer:
    """
    Return a FileServer of the ``<prefix>*<suffix>`` files directly inside ``directory``.

    Only plain names are served (no path, no hidden file), and only regular files whose real
    path is in ``directory`` (a symlink leading out of it is not served).
    """
    root = os.path.realpath(directory)

    def resolve(item: str):
        check_item_name(item, suffix)
        if not item.startswith(prefix):
            raise KeyError(f'only {prefix}*{suffix} files are served')
        path = os.path.join(root, item)
        if os.path.dirname(os.path.realpath(path)) != root or not os.path.isfile(path):
            raise KeyError('no such file here')
        return path, None
    return FileServer(resolve, max_chunk_bytes)

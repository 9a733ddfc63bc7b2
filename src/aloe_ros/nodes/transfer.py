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
File transfer over ROS 2: the ReadChunk / ListEpisodes servers and a blocking client.

The learner serves its exported actors (``<learner>/read_weights``) and each recorder its
complete episodes (``<recorder>/list_episodes``, ``<recorder>/read_episode``), so a policy node
or a learner on another machine fetches files over ROS 2 alone, with no shared file system. The
chunking, resume and sha256 checks live in :mod:`aloe_ros.transfer` (ROS-free); this module only
turns requests and replies into messages.

Replies are served by offset (``aloe_msgs/srv/ReadChunk``); a chunk carries its own sha256 and
the whole item's, so neither a damaged chunk nor a half-assembled file is ever used.
"""

import array
import re
import threading
from typing import Iterable, List, Optional

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from aloe_msgs.msg import EpisodeEntry
from aloe_msgs.srv import ListEpisodes, ReadChunk
from aloe_ros.transfer.chunks import ChunkReply, FileServer
from aloe_ros.transfer.episodes import RemoteEpisode, episode_server

#: Default service names, relative: they resolve in the serving node's namespace
#: (``/aloe/recorder/...`` at the root, ``/station_a/aloe/recorder/...`` in ``station_a``).
WEIGHTS_SERVICE = 'aloe/learner/read_weights'
RECORDER_SERVICES = 'aloe/recorder'
LIST_EPISODES = 'list_episodes'
READ_EPISODE = 'read_episode'
#: Entries per ListEpisodes page: keeps one answer small whatever the store's size.
PAGE_SIZE = 200


def station_namespaces(names: Iterable[str]) -> List[str]:
    """
    Return station namespaces as absolute names, each once, in order (``''`` entries dropped).

    ``station_a`` and ``/station_a/`` are ``/station_a``; ``/`` is a station at the root.
    Raises ValueError for a name ROS would refuse (spaces, a token starting with a digit...).
    """
    out: List[str] = []
    for name in names:
        if not name:
            continue
        ns = '/' + name.strip('/')
        tokens = [t for t in ns.split('/') if t]
        if '//' in ns or any(not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', t) for t in tokens):
            raise ValueError(f'{name!r} is not a ROS namespace (tokens of letters, digits and '
                             "'_', not starting with a digit)")
        if ns not in out:
            out.append(ns)
    return out


def recorder_of(station: str) -> str:
    """Return a station's recorder episode-service namespace (``/station_a/aloe/recorder``)."""
    return f'{station.rstrip("/")}/{RECORDER_SERVICES}'


def fill_response(reply: ChunkReply, response: ReadChunk.Response) -> ReadChunk.Response:
    """Copy a ChunkReply into a ReadChunk response (the bytes without a per-byte Python loop)."""
    response.success = reply.success
    response.message = reply.message
    response.offset = int(reply.offset)
    response.total_bytes = int(reply.total_bytes)
    response.sha256 = reply.sha256
    response.chunk_sha256 = reply.chunk_sha256
    response.data = array.array('B', reply.data)
    return response


def to_reply(response: ReadChunk.Response) -> ChunkReply:
    """Return the ChunkReply a ReadChunk response carries."""
    data = response.data
    data = data.tobytes() if isinstance(data, array.array) else bytes(data)
    return ChunkReply(response.success, response.message, int(response.offset),
                      int(response.total_bytes), response.sha256, response.chunk_sha256, data)


def serve_file_chunks(node: Node, name: str, server: FileServer, callback_group=None):
    """Create the ReadChunk service ``name`` answering from ``server``; return the service."""
    def on_read(request: ReadChunk.Request, response: ReadChunk.Response):
        return fill_response(server.read(request.item, int(request.offset),
                                         int(request.max_bytes)), response)
    return node.create_service(ReadChunk, name, on_read, callback_group=callback_group)


def serve_episodes(node: Node, store, prefix: str, max_chunk_bytes: int) -> None:
    """Create ``<prefix>/list_episodes`` and ``<prefix>/read_episode`` for ``store``."""
    group = ReentrantCallbackGroup()

    def on_list(request: ListEpisodes.Request, response: ListEpisodes.Response):
        rows = store.records()
        n = request.max_entries or PAGE_SIZE
        page = rows[request.start:request.start + min(n, PAGE_SIZE)]
        response.success = True
        response.total = len(rows)
        response.episodes = [EpisodeEntry(episode_id=r.episode_id, task=r.task,
                                          size_bytes=int(r.size_bytes), sha256=r.sha256,
                                          num_steps=int(r.num_steps), outcome=int(r.outcome),
                                          ended_at=float(r.ended_at or 0.0)) for r in page]
        return response
    node.create_service(ListEpisodes, f'{prefix}/{LIST_EPISODES}', on_list,
                        callback_group=group)
    serve_file_chunks(node, f'{prefix}/{READ_EPISODE}', episode_server(store, max_chunk_bytes),
                      callback_group=group)


class ServiceCaller:
    """
    Blocking calls of one service, made from a worker thread (never an executor callback).

    The node must be spun by an executor on other threads; the answer arrives through it.
    Raises TimeoutError when the service is not there or does not answer within ``timeout``.
    """

    def __init__(self, node: Node, srv_type, name: str, timeout: float):
        self.name = name
        self.timeout = float(timeout)
        self._client = node.create_client(srv_type, name,
                                          callback_group=ReentrantCallbackGroup())

    def ready(self) -> bool:
        """Return whether the service is there now (does not wait)."""
        return self._client.service_is_ready()

    def __call__(self, request):
        """Return the response to ``request``."""
        if not self._client.wait_for_service(timeout_sec=self.timeout):
            raise TimeoutError(f'service {self.name} not available within {self.timeout:g} s')
        done = threading.Event()
        future = self._client.call_async(request)
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(self.timeout):
            self._client.remove_pending_request(future)
            raise TimeoutError(f'service {self.name} did not answer within {self.timeout:g} s')
        return future.result()


class RemoteFiles:
    """Chunk reads of one ReadChunk service: ``read(item, offset, n) -> ChunkReply``."""

    def __init__(self, node: Node, name: str, timeout: float):
        self._call = ServiceCaller(node, ReadChunk, name, timeout)

    def read(self, item: str, offset: int, max_bytes: int) -> ChunkReply:
        """Return one chunk of ``item``."""
        return to_reply(self._call(ReadChunk.Request(item=item, offset=int(offset),
                                                     max_bytes=int(max_bytes))))


class RemoteStation:
    """A station's recorder as seen by a learner: its episode list and their chunks."""

    def __init__(self, node: Node, prefix: str, timeout: float):
        self.prefix = prefix
        self._list = ServiceCaller(node, ListEpisodes, f'{prefix}/{LIST_EPISODES}', timeout)
        self.files = RemoteFiles(node, f'{prefix}/{READ_EPISODE}', timeout)

    def list_episodes(self) -> List[RemoteEpisode]:
        """Return every complete episode the station lists, page by page, oldest first."""
        out: List[RemoteEpisode] = []
        total: Optional[int] = None
        while total is None or len(out) < total:
            res = self._list(ListEpisodes.Request(start=len(out), max_entries=PAGE_SIZE))
            if not res.success:
                raise RuntimeError(f'{self.prefix}: {res.message}')
            total = int(res.total)
            if not res.episodes:
                break
            out += [RemoteEpisode(e.episode_id, e.sha256, int(e.size_bytes), e.task,
                                  int(e.num_steps)) for e in res.episodes]
        return out

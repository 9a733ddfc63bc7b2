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
One episode = one MCAP file in rosbag2's storage format.

Schemas are ``ros2msg`` (the concatenated definitions of :mod:`aloe_ros.storage.schema`),
messages CDR, channels carry rosbag2 Jazzy's ``offered_qos_profiles`` and ``topic_type_hash``
(the RIHS01 type hash) metadata, the file uses the ``ros2`` profile: ``ros2 bag info/play``,
Foxglove, ``mcap info`` and ``mcap_ros2`` read it.

The writer takes either serialized CDR bytes (what a ``raw=True`` subscription hands over) or a
python object / dict with the message's field names (encoded here; tests and sim benchmarks).
It writes to ``<name>.mcap.partial`` and :meth:`EpisodeFileWriter.close` finalizes the MCAP,
fsyncs it, renames it to ``<name>.mcap`` and fsyncs the directory, so a file named ``.mcap``
is always complete. :meth:`EpisodeFileWriter.flush` closes the chunk in progress and fsyncs, so
everything written before it survives a killed writer; :func:`read_partial` reads those complete
records back from a ``.partial`` that was never finalized.
"""

import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from mcap.reader import make_reader
from mcap.writer import CompressionType, Writer
from mcap_ros2._dynamic import generate_dynamic, serialize_dynamic
from mcap_ros2.decoder import DecoderFactory

from aloe_ros.learning.checkpoint import sha256_file  # noqa: F401 (re-exported for the store)
from aloe_ros.storage.schema import full_type_name, hash_of_definition, message_definition

PARTIAL_SUFFIX = '.partial'

# Topics the recorder writes, with their types and the QoS their publishers offer
# (docs/INTERFACES.md); the QoS is stored so `ros2 bag play` republishes with it.
RELIABLE, BEST_EFFORT = 1, 2
TRANSIENT_LOCAL, VOLATILE = 1, 2
TOPIC_TYPES: Dict[str, Tuple[str, int, int, int]] = {
    # topic: (type, reliability, durability, depth)
    '/aloe/observation': ('aloe_msgs/msg/Observation', BEST_EFFORT, VOLATILE, 2),
    '/aloe/executed_step': ('aloe_msgs/msg/ExecutedStep', RELIABLE, VOLATILE, 200),
    '/aloe/intervention': ('aloe_msgs/msg/InterventionState', RELIABLE, TRANSIENT_LOCAL, 10),
    '/aloe/action_chunk': ('aloe_msgs/msg/ActionChunk', RELIABLE, VOLATILE, 5),
    '/aloe/episode_event': ('aloe_msgs/msg/EpisodeEvent', RELIABLE, TRANSIENT_LOCAL, 10),
    '/aloe/safety_event': ('aloe_msgs/msg/SafetyEvent', RELIABLE, VOLATILE, 50),
}

_INFINITE = '    sec: 2147483647\n    nsec: 4294967295\n'


def qos_yaml(reliability: int, durability: int, depth: int) -> str:
    """Return one offered QoS profile in the YAML layout of rosbag2's channel metadata."""
    return ('- history: 1\n'
            f'  depth: {int(depth)}\n'
            f'  reliability: {int(reliability)}\n'
            f'  durability: {int(durability)}\n'
            f'  deadline:\n{_INFINITE}'
            f'  lifespan:\n{_INFINITE}'
            '  liveliness: 1\n'
            f'  liveliness_lease_duration:\n{_INFINITE}'
            '  avoid_ros_namespace_conventions: false\n')


def fsync_dir(path: str) -> None:
    """Flush a directory entry (rename, create) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Codec:
    """Encoder and decoder of one message type, built from its ros2msg definition."""

    def __init__(self, type_name: str):
        self.type_name = full_type_name(type_name)
        self.definition = message_definition(self.type_name)
        self.type_hash = hash_of_definition(self.type_name, self.definition)
        self.encode: Callable[[Any], bytes] = serialize_dynamic(
            self.type_name, self.definition)[self.type_name]
        self.decode: Callable[[bytes], Any] = generate_dynamic(
            self.type_name, self.definition)[self.type_name]


_CODECS: Dict[str, _Codec] = {}


def codec(type_name: str) -> _Codec:
    """Return the (cached) CDR codec of a message type."""
    key = full_type_name(type_name)
    if key not in _CODECS:
        _CODECS[key] = _Codec(key)
    return _CODECS[key]


def decode(type_name: str, data: Union[bytes, bytearray, memoryview]) -> Any:
    """Decode serialized CDR bytes of ``type_name`` into an object with the message's fields."""
    return codec(type_name).decode(bytes(data))


def encode(type_name: str, message: Any) -> bytes:
    """Serialize a python object or dict with the message's field names to CDR bytes."""
    return codec(type_name).encode(message)


class EpisodeFileWriter:
    """Writes one episode MCAP to ``<final_path>.partial``; :meth:`close` publishes it."""

    def __init__(self, final_path: str, metadata: Optional[Dict[str, str]] = None,
                 compression: str = 'zstd', chunk_size: int = 4 << 20):
        if not final_path.endswith('.mcap'):
            raise ValueError(f'episode file must end in .mcap: {final_path}')
        self.final_path = final_path
        self.partial_path = final_path + PARTIAL_SUFFIX
        os.makedirs(os.path.dirname(final_path), exist_ok=True)
        comp = {'zstd': CompressionType.ZSTD, 'lz4': CompressionType.LZ4,
                'none': CompressionType.NONE}.get(compression)
        if comp is None:
            raise ValueError(f'compression must be zstd, lz4 or none, not {compression!r}')
        # O_EXCL: two recorders never write into the same file.
        fd = os.open(self.partial_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._file = os.fdopen(fd, 'wb')
        # The file's directory and, for a new bag directory, its entry in the day directory.
        fsync_dir(os.path.dirname(final_path))
        fsync_dir(os.path.dirname(os.path.dirname(final_path)))
        self._writer = Writer(self._file, chunk_size=chunk_size, compression=comp)
        self._writer.start(profile='ros2', library='aloe_ros')
        self._schemas: Dict[str, int] = {}
        self._channels: Dict[str, Tuple[int, str]] = {}
        self._sequence: Dict[str, int] = {}
        self.bytes_in = 0
        self.message_count = 0
        self.closed = False
        if metadata:
            self._writer.add_metadata('aloe_episode', {k: str(v) for k, v in metadata.items()})

    def add_topic(self, topic: str, type_name: str, reliability: int = RELIABLE,
                  durability: int = VOLATILE, depth: int = 10) -> None:
        """Register a channel (done implicitly for the topics of ``TOPIC_TYPES``)."""
        type_name = full_type_name(type_name)
        if topic in self._channels:
            if self._channels[topic][1] != type_name:
                raise ValueError(f'topic {topic} already recorded as {self._channels[topic][1]}, '
                                 f'not {type_name}')
            return
        if type_name not in self._schemas:
            definition = codec(type_name).definition
            self._schemas[type_name] = self._writer.register_schema(
                type_name, 'ros2msg', definition.encode('utf-8'))
        channel_id = self._writer.register_channel(
            topic=topic, message_encoding='cdr', schema_id=self._schemas[type_name],
            metadata={'offered_qos_profiles': qos_yaml(reliability, durability, depth),
                      'topic_type_hash': codec(type_name).type_hash})
        self._channels[topic] = (channel_id, type_name)
        self._sequence[topic] = 0

    def has_topic(self, topic: str) -> bool:
        """Return True when the topic has a channel in this file."""
        return topic in self._channels

    def write(self, topic: str, message: Any, log_time_ns: int,
              publish_time_ns: Optional[int] = None) -> int:
        """Append one message; ``message`` is CDR bytes or an object/dict. Return bytes written."""
        if self.closed:
            raise RuntimeError(f'{self.final_path} is closed')
        if topic not in self._channels:
            if topic not in TOPIC_TYPES:
                raise KeyError(f'topic {topic} has no type: call add_topic first')
            type_name, rel, dur, depth = TOPIC_TYPES[topic]
            self.add_topic(topic, type_name, rel, dur, depth)
        channel_id, type_name = self._channels[topic]
        if isinstance(message, (bytes, bytearray, memoryview)):
            data = bytes(message)
        else:
            data = encode(type_name, message)
        self._sequence[topic] += 1
        self._writer.add_message(channel_id=channel_id, log_time=int(log_time_ns),
                                 publish_time=int(publish_time_ns if publish_time_ns is not None
                                                  else log_time_ns),
                                 data=data, sequence=self._sequence[topic])
        self.bytes_in += len(data)
        self.message_count += 1
        return len(data)

    def flush(self) -> None:
        """Write the chunk in progress and fsync: what was written so far survives a kill -9."""
        if self.closed:
            return
        self._writer.flush()
        os.fsync(self._file.fileno())

    def close(self, summary: Optional[Dict[str, str]] = None) -> Tuple[str, int, str]:
        """Finalize, fsync and atomically rename to the final path; return (path, size, sha256)."""
        if self.closed:
            raise RuntimeError(f'{self.final_path} already closed')
        if summary:
            self._writer.add_metadata('aloe_summary', {k: str(v) for k, v in summary.items()})
        self._writer.finish()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.closed = True
        digest = sha256_file(self.partial_path)
        size = os.path.getsize(self.partial_path)
        os.rename(self.partial_path, self.final_path)
        fsync_dir(os.path.dirname(self.final_path))
        return self.final_path, size, digest

    def abandon(self) -> str:
        """Close the file handle without finalizing; the ``.partial`` stays for quarantine."""
        if not self.closed:
            self._file.close()
            self.closed = True
        return self.partial_path


def iter_messages(path: str, topics: Optional[List[str]] = None) -> Iterator[Tuple[str, int, Any]]:
    """Yield ``(topic, log_time_ns, decoded message)`` of an episode file in log-time order."""
    with open(path, 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for _schema, channel, message, decoded in reader.iter_decoded_messages(
                topics=topics, log_time_order=True):
            yield channel.topic, message.log_time, decoded


class PartialFile:
    """
    The complete records of an episode file that may be cut short (a killed writer's .partial).

    ``messages``: ``(topic, type name, log_time_ns, CDR bytes)`` in file order; ``metadata``:
    ``{name: {key: value}}``; ``stopped``: why reading ended early ('' when the file is whole).
    """

    def __init__(self, messages: List[Tuple[str, str, int, bytes]],
                 metadata: Dict[str, Dict[str, str]],
                 stopped: str):
        self.messages = messages
        self.metadata = metadata
        self.stopped = stopped


def read_partial(path: str) -> PartialFile:
    """Read every complete record of ``path`` in order, stopping at the first cut-off one."""
    from mcap.records import Channel, Message, Metadata, Schema
    from mcap.stream_reader import StreamReader
    schemas: Dict[int, str] = {}
    channels: Dict[int, Tuple[str, str]] = {}
    messages: List[Tuple[str, str, int, bytes]] = []
    metadata: Dict[str, Dict[str, str]] = {}
    stopped = ''
    with open(path, 'rb') as f:
        try:
            for record in StreamReader(f, validate_crcs=True).records:
                if isinstance(record, Schema):
                    schemas[record.id] = record.name
                elif isinstance(record, Channel):
                    channels[record.id] = (record.topic, schemas.get(record.schema_id, ''))
                elif isinstance(record, Message) and record.channel_id in channels:
                    topic, type_name = channels[record.channel_id]
                    messages.append((topic, type_name, int(record.log_time), bytes(record.data)))
                elif isinstance(record, Metadata):
                    metadata[record.name] = dict(record.metadata)
        except Exception as exc:  # the cut: EndOfFile, a truncated chunk, a CRC mismatch
            stopped = f'{type(exc).__name__}: {exc}' if str(exc) else type(exc).__name__
    return PartialFile(messages, metadata, stopped)


def read_metadata(path: str) -> Dict[str, Dict[str, str]]:
    """Return the file's metadata records ``{name: {key: value}}`` (aloe_episode, aloe_summary)."""
    with open(path, 'rb') as f:
        reader = make_reader(f)
        return {m.name: dict(m.metadata) for m in reader.iter_metadata()}

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
rosbag2 bag directories: one per episode, ``<id>/metadata.yaml`` + ``<id>/<id>_0.mcap``.

rosbag2's folder-level tools (``ros2 bag info <dir>``, ``play``, ``reindex``, ``convert``) open
a directory holding the storage files and a ``metadata.yaml`` that describes them. This module
writes that file in the layout rosbag2 Jazzy writes (``rosbag2_storage/yaml.hpp``, bag metadata
version 9)::

    rosbag2_bagfile_information:
      version: 9
      storage_identifier: mcap
      duration: {nanoseconds: N}
      starting_time: {nanoseconds_since_epoch: N}
      message_count: N
      topics_with_message_count:
        - topic_metadata:
            name, type, serialization_format (cdr),
            offered_qos_profiles: [ {history, depth, reliability, durability, deadline,
                                     lifespan, liveliness, liveliness_lease_duration,
                                     avoid_ros_namespace_conventions} ]   # policies as strings
            type_description_hash: RIHS01_<sha256>
          message_count: N
      compression_format: '', compression_mode: ''
      relative_file_paths: [<id>_0.mcap]
      files: [ {path, starting_time, duration, message_count} ]
      custom_data: {...}
      ros_distro: jazzy

Everything in it is derived from the finished MCAP's summary (statistics, channels, schemas),
the type hash from the channel's ``topic_type_hash`` or, for files written before channels
carried one, computed from the recorded schema
(:func:`aloe_ros.storage.schema.hash_of_definition`),
so :func:`write_bag_metadata` can rebuild it at any time (a crash between finalizing the MCAP
and writing the YAML is repaired on the next open). It is written to a temporary name, fsynced
and renamed: a ``metadata.yaml`` is always whole. :func:`read_bag_metadata` parses one and
rejects, naming the field, any that does not follow this schema.
"""

import os
from typing import Any, Dict, List, Optional

import yaml
from mcap.reader import make_reader

from aloe_ros.storage.schema import RIHS01_PREFIX, hash_of_definition

BAG_METADATA = 'metadata.yaml'
METADATA_VERSION = 9
ROS_DISTRO = 'jazzy'
MCAP_SUFFIX = '.mcap'

# rmw's "infinite" duration as rosbag2 writes it (RMW_DURATION_INFINITE).
_INFINITE = {'sec': 9223372036, 'nsec': 854775807}
_HISTORY = {0: 'system_default', 1: 'keep_last', 2: 'keep_all', 3: 'unknown'}
_RELIABILITY = {0: 'system_default', 1: 'reliable', 2: 'best_effort', 3: 'unknown',
                4: 'best_available'}
_DURABILITY = {0: 'system_default', 1: 'transient_local', 2: 'volatile', 3: 'unknown',
               4: 'best_available'}
_LIVELINESS = {0: 'system_default', 1: 'automatic', 3: 'manual_by_topic', 4: 'unknown',
               5: 'best_available'}


class BagMetadataError(ValueError):
    """A bag directory or its ``metadata.yaml`` does not follow rosbag2's layout."""


def bag_file_name(episode_id: str) -> str:
    """Return the name of an episode's (only) storage file inside its bag directory."""
    return f'{episode_id}_0{MCAP_SUFFIX}'


def is_bag_dir(path: str) -> bool:
    """Return True when ``path`` is a directory holding a ``metadata.yaml``."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, BAG_METADATA))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _qos_profiles(channel_metadata: Dict[str, str]) -> List[Dict[str, Any]]:
    """Convert a channel's ``offered_qos_profiles`` (rosbag2 MCAP metadata) to version-9 YAML."""
    text = channel_metadata.get('offered_qos_profiles', '')
    if not text:
        return []
    try:
        profiles = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        raise BagMetadataError(f'unreadable offered_qos_profiles in the MCAP channel: {exc}')
    out = []
    for p in profiles:
        def policy(key: str, names: Dict[int, str]) -> str:
            value = p.get(key, 0)
            return value if isinstance(value, str) else names.get(int(value), 'unknown')

        def duration(key: str) -> Dict[str, int]:
            d = p.get(key) or {}
            sec, nsec = int(d.get('sec', 0)), int(d.get('nsec', 0))
            # Older writers spelled "infinite" as Fast DDS's {2^31 - 1, 2^32 - 1}.
            if (sec, nsec) in ((2147483647, 4294967295), (2147483647, 2147483647)):
                return dict(_INFINITE)
            return {'sec': sec, 'nsec': nsec}

        out.append({'history': policy('history', _HISTORY), 'depth': int(p.get('depth', 0)),
                    'reliability': policy('reliability', _RELIABILITY),
                    'durability': policy('durability', _DURABILITY),
                    'deadline': duration('deadline'), 'lifespan': duration('lifespan'),
                    'liveliness': policy('liveliness', _LIVELINESS),
                    'liveliness_lease_duration': duration('liveliness_lease_duration'),
                    'avoid_ros_namespace_conventions':
                        bool(p.get('avoid_ros_namespace_conventions', False))})
    return out


def _type_hash(channel_metadata: Dict[str, str], schema: Any) -> str:
    """Return a channel's RIHS01 type hash: its own, else its ros2msg schema's, else ''."""
    recorded = channel_metadata.get('topic_type_hash', '')
    if recorded or schema is None or schema.encoding != 'ros2msg':
        return recorded
    try:
        return hash_of_definition(schema.name, schema.data.decode('utf-8'))
    except (ValueError, LookupError, UnicodeDecodeError):
        return ''  # rosbag2 writes '' for a type it has no hash of


def bag_metadata(mcap_path: str, custom_data: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """Return the ``metadata.yaml`` content (a dict) describing one finished MCAP file."""
    try:
        with open(mcap_path, 'rb') as f:
            summary = make_reader(f).get_summary()
    except OSError:
        raise
    except Exception as exc:  # the mcap reader's errors for a cut or unfinished file
        raise BagMetadataError(f'{mcap_path} is not a finalized MCAP (not finalized: {exc})')
    if summary is None or summary.statistics is None:
        raise BagMetadataError(f'{mcap_path} has no summary section (not finalized)')
    stats = summary.statistics
    count = int(stats.message_count)
    start = int(stats.message_start_time) if count else 0
    duration = int(stats.message_end_time) - start if count else 0
    topics = []
    for channel_id, channel in sorted(summary.channels.items(), key=lambda kv: kv[1].topic):
        schema = summary.schemas.get(channel.schema_id)
        topics.append({
            'topic_metadata': {
                'name': channel.topic,
                'type': schema.name if schema is not None else '',
                'serialization_format': channel.message_encoding,
                'offered_qos_profiles': _qos_profiles(dict(channel.metadata)),
                'type_description_hash': _type_hash(dict(channel.metadata), schema),
            },
            'message_count': int(stats.channel_message_counts.get(channel_id, 0)),
        })
    name = os.path.basename(mcap_path)
    return {'rosbag2_bagfile_information': {
        'version': METADATA_VERSION,
        'storage_identifier': 'mcap',
        'duration': {'nanoseconds': duration},
        'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': count,
        'topics_with_message_count': topics,
        'compression_format': '',
        'compression_mode': '',
        'relative_file_paths': [name],
        'files': [{'path': name, 'starting_time': {'nanoseconds_since_epoch': start},
                   'duration': {'nanoseconds': duration}, 'message_count': count}],
        'custom_data': {str(k): str(v) for k, v in (custom_data or {}).items()},
        'ros_distro': ROS_DISTRO,
    }}


def write_bag_metadata(bag_dir: str, mcap_name: str,
                       custom_data: Optional[Dict[str, str]] = None) -> str:
    """Write ``<bag_dir>/metadata.yaml`` for ``<bag_dir>/<mcap_name>`` atomically; return it."""
    info = bag_metadata(os.path.join(bag_dir, mcap_name), custom_data)
    path = os.path.join(bag_dir, BAG_METADATA)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        yaml.safe_dump(info, f, sort_keys=False, default_flow_style=False, width=1000)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(bag_dir)
    return path


def _need(node: Any, key: str, kind: Any, where: str) -> Any:
    if not isinstance(node, dict) or key not in node:
        raise BagMetadataError(f'{where}: missing {key!r}')
    value = node[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise BagMetadataError(f'{where}.{key}: expected {getattr(kind, "__name__", kind)}, '
                               f'got {type(value).__name__}')
    return value


def read_bag_metadata(bag_dir: str) -> Dict[str, Any]:
    """
    Parse and check ``<bag_dir>/metadata.yaml``; return its ``rosbag2_bagfile_information``.

    Raises BagMetadataError naming the field when the file is missing, not YAML, or does not
    follow the layout above (counts that do not add up included).
    """
    path = os.path.join(bag_dir, BAG_METADATA)
    if not os.path.isfile(path):
        raise BagMetadataError(f'{bag_dir} is not a bag directory: no {BAG_METADATA}')
    try:
        with open(path, 'r', encoding='utf-8') as f:
            doc = yaml.safe_load(f)
    except yaml.YAMLError as exc:
        raise BagMetadataError(f'{path}: not YAML ({exc})')
    info = _need(doc, 'rosbag2_bagfile_information', dict, path)
    where = f'{path}: rosbag2_bagfile_information'
    version = _need(info, 'version', int, where)
    if not 1 <= version <= METADATA_VERSION:
        raise BagMetadataError(f'{where}.version: {version} is not a rosbag2 Jazzy version (1-9)')
    _need(info, 'storage_identifier', str, where)
    _need(_need(info, 'duration', dict, where), 'nanoseconds', int, where + '.duration')
    _need(_need(info, 'starting_time', dict, where), 'nanoseconds_since_epoch', int,
          where + '.starting_time')
    total = _need(info, 'message_count', int, where)
    files = _need(info, 'relative_file_paths', list, where)
    if not files or not all(isinstance(p, str) and p and '/' not in p for p in files):
        raise BagMetadataError(f'{where}.relative_file_paths: expected file names, got {files!r}')
    counted = 0
    for k, t in enumerate(_need(info, 'topics_with_message_count', list, where)):
        tw = f'{where}.topics_with_message_count[{k}]'
        meta = _need(t, 'topic_metadata', dict, tw)
        for key in ('name', 'type', 'serialization_format'):
            _need(meta, key, str, tw + '.topic_metadata')
        type_hash = meta.get('type_description_hash', '')
        if not isinstance(type_hash, str) or type_hash and not (
                type_hash.startswith(RIHS01_PREFIX) and len(type_hash) == len(RIHS01_PREFIX) + 64):
            raise BagMetadataError(f'{tw}.topic_metadata.type_description_hash: expected '
                                   f"'' or RIHS01_<64 hex digits>, got {type_hash!r}")
        if version >= 9:
            for q, profile in enumerate(_need(meta, 'offered_qos_profiles', list, tw)):
                for key in ('history', 'reliability', 'durability', 'liveliness'):
                    _need(profile, key, str, f'{tw}.offered_qos_profiles[{q}]')
                _need(profile, 'depth', int, f'{tw}.offered_qos_profiles[{q}]')
        counted += _need(t, 'message_count', int, tw)
    if counted != total:
        raise BagMetadataError(f'{where}: topics hold {counted} messages, message_count says '
                               f'{total}')
    if version >= 8:
        _need(info, 'ros_distro', str, where)
    return info


def bag_storage_file(bag_dir: str) -> str:
    """Return the path of a one-file bag directory's storage file (from its metadata.yaml)."""
    files = read_bag_metadata(bag_dir)['relative_file_paths']
    if len(files) != 1:
        raise BagMetadataError(f'{bag_dir}: an episode bag holds one storage file, not '
                               f'{len(files)}')
    return os.path.join(bag_dir, files[0])

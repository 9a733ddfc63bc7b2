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
ROS 2 message definitions in the form rosbag2 writes into MCAP schemas, and their type hashes.

rosbag2 stores, per topic type, the type's own ``.msg`` text followed by every type it depends
on, each once, depth first with each message's dependencies in sorted order; every dependency
is preceded by an empty line, a line of 80 ``=`` and a ``MSG: <pkg>/<Type>`` line (the type as
the field spells it). Foxglove, the ``mcap`` tools and ``mcap_ros2`` parse that layout; this
module builds the same text byte for byte.

The ``.msg`` files are found the way ament finds them: ``<prefix>/share/<pkg>/msg/<Type>.msg``
for every prefix in ``AMENT_PREFIX_PATH``, then ``sys.prefix`` (the PyPI ROS wheels install their
interface files into the virtual environment's ``share/`` without adding it to the path).

:func:`type_description_hash` gives the ``RIHS01_<sha256>`` type hash of REP-2011 that Jazzy's
rosbag2 stores per topic (``type_description_hash`` in metadata.yaml, ``topic_type_hash`` in the
MCAP channel). It is computed the way ``rosidl_generator_type_description`` computes it at build
time: the type description (the type's fields, each with its field type id, array capacity,
string capacity and nested type name, plus every type it references, sorted by name; no default
values, no constants, no comments) serialized as JSON with ``', '`` and ``': '`` separators, then
SHA-256. It is read from a ``ros2msg`` definition, so the hash of a recorded schema describes the
definition that was recorded.
"""

import hashlib
import json
import os
import re
import sys
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

SEPARATOR = '=' * 80

# Built-in field types of the ROS 2 IDL; everything else is a message type.
PRIMITIVES = frozenset({
    'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32',
    'uint32', 'int64', 'uint64', 'string', 'wstring',
})


class SchemaError(LookupError):
    """A message type or one of its dependencies has no installed ``.msg`` file."""


def split_type(type_name: str) -> Tuple[str, str]:
    """Split ``pkg/msg/Type`` or ``pkg/Type`` into ``(pkg, Type)``."""
    parts = type_name.split('/')
    if len(parts) == 3 and parts[1] == 'msg':
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise SchemaError(f'not a message type name: {type_name!r} (expected pkg/msg/Type)')


def search_prefixes(extra: Sequence[str] = ()) -> List[str]:
    """Return the install prefixes searched for ``share/<pkg>/msg``, in priority order."""
    prefixes = list(extra)
    prefixes += [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    prefixes.append(sys.prefix)
    seen = []
    for p in prefixes:
        if p not in seen:
            seen.append(p)
    return seen


def find_msg_file(type_name: str, prefixes: Optional[Sequence[str]] = None) -> str:
    """Return the path of the installed ``.msg`` file of a message type."""
    pkg, name = split_type(type_name)
    prefixes = search_prefixes() if prefixes is None else prefixes
    for prefix in prefixes:
        path = os.path.join(prefix, 'share', pkg, 'msg', name + '.msg')
        if os.path.isfile(path):
            return path
    raise SchemaError(f'no {pkg}/msg/{name}.msg under share/ of any of {list(prefixes)}; '
                      'source the workspace (install/setup.bash) that provides it')


_FIELD_RE = re.compile(r'^\s*([A-Za-z0-9_/]+)(\[[^\]]*\])?\s+')


def dependencies(pkg: str, msg_text: str) -> List[str]:
    """
    Return the ``pkg/Type`` names of the message types a ``.msg`` text uses, sorted.

    A type without a package is taken from ``pkg``. Sorted and unique, as rosbag2 collects them.
    """
    deps = set()
    for line in msg_text.splitlines():
        m = _FIELD_RE.match(line)
        if m is None or m.group(1) in PRIMITIVES:
            continue
        ftype = m.group(1)
        if '/' in ftype:
            dpkg, dname = split_type(ftype)
            deps.add(f'{dpkg}/{dname}')
        else:
            deps.add(f'{pkg}/{ftype}')
    return sorted(deps)


def _read(path: str) -> str:
    with open(path, 'r', encoding='utf-8') as f:
        return f.read()


@lru_cache(maxsize=256)
def _definition_cached(type_name: str, prefixes: Tuple[str, ...]) -> str:
    seen = set()

    def expand(name: str, depth: int) -> str:
        if depth <= 0:
            raise SchemaError(f'message definitions nest too deep below {type_name}')
        text = _read(find_msg_file(name, prefixes))
        out = text
        for dep in dependencies(split_type(name)[0], text):
            if dep not in seen:
                seen.add(dep)
                out += f'\n{SEPARATOR}\nMSG: {dep}\n' + expand(dep, depth - 1)
        return out

    return expand(type_name, 50)


def message_definition(type_name: str, prefixes: Optional[Iterable[str]] = None) -> str:
    """
    Return the concatenated ``ros2msg`` definition of a type and all its dependencies.

    ``type_name`` is ``pkg/msg/Type`` (``pkg/Type`` is accepted). Raises SchemaError naming the
    missing file when the type or a dependency is not installed.
    """
    prefixes = tuple(search_prefixes() if prefixes is None else prefixes)
    return _definition_cached(type_name, prefixes)


def full_type_name(type_name: str) -> str:
    """Return the ``pkg/msg/Type`` spelling rosbag2 uses for schema names."""
    pkg, name = split_type(type_name)
    return f'{pkg}/msg/{name}'


def definitions(type_names: Iterable[str]) -> Dict[str, str]:
    """Return ``{pkg/msg/Type: definition}`` for several types."""
    return {full_type_name(t): message_definition(t) for t in type_names}


# Field type ids of type_description_interfaces/msg/FieldType (REP-2011). The ``.msg`` spelling
# maps to IDL as rosidl_adapter maps it: char is uint8, byte is octet, bool is boolean.
_FIELD_TYPE_IDS = {
    'int8': 2, 'uint8': 3, 'char': 3, 'int16': 4, 'uint16': 5, 'int32': 6, 'uint32': 7,
    'int64': 8, 'uint64': 9, 'float32': 10, 'float64': 11, 'bool': 15, 'byte': 16,
    'string': 17, 'wstring': 18,
}
_NESTED_TYPE_ID = 1
_BOUNDED_STRING_IDS = {'string': 21, 'wstring': 22}
# Added to the element's id: fixed array, bounded sequence, unbounded sequence.
_ARRAY, _BOUNDED_SEQUENCE, _UNBOUNDED_SEQUENCE = 48, 96, 144
# rosidl gives a message without fields this one member (C structs cannot be empty).
_EMPTY_MEMBER = {'name': 'structure_needs_at_least_one_member',
                 'type': {'type_id': 3, 'capacity': 0, 'string_capacity': 0,
                          'nested_type_name': ''}}
RIHS01_PREFIX = 'RIHS01_'


def _field_type(pkg: str, type_string: str) -> Dict[str, Any]:
    """Return the FieldType dict of one ``.msg`` field type (``float64[3]``, ``string<=8``)."""
    base, capacity, offset = type_string, 0, 0
    if type_string.endswith(']'):
        base, _, bound = type_string[:-1].partition('[')
        if bound == '':
            offset = _UNBOUNDED_SEQUENCE
        elif bound.startswith('<='):
            offset, capacity = _BOUNDED_SEQUENCE, int(bound[2:])
        else:
            offset, capacity = _ARRAY, int(bound)
    string_capacity, nested = 0, ''
    head, bounded, limit = base.partition('<=')
    if bounded and head in _BOUNDED_STRING_IDS:
        type_id, string_capacity = _BOUNDED_STRING_IDS[head], int(limit)
    elif base in _FIELD_TYPE_IDS:
        type_id = _FIELD_TYPE_IDS[base]
    else:
        dpkg, dname = split_type(base) if '/' in base else (pkg, base)
        type_id, nested = _NESTED_TYPE_ID, f'{dpkg}/msg/{dname}'
    return {'type_id': type_id + offset, 'capacity': capacity,
            'string_capacity': string_capacity, 'nested_type_name': nested}


def _individual_description(type_name: str, msg_text: str) -> Dict[str, Any]:
    """
    Return the IndividualTypeDescription of one ``.msg`` text (fields in order, no constants).

    Lines are read as rosidl_adapter reads them: the comment cut at ``#``, the type up to the
    first space, and a line whose rest holds ``=`` is a constant.
    """
    pkg, name = split_type(type_name)
    fields = []
    for line in msg_text.replace('\t', ' ').splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        type_string, _, rest = line.partition(' ')
        rest = rest.lstrip()
        if not rest:
            raise SchemaError(f'{type_name}: not a field or constant: {line!r}')
        if '=' in rest:
            continue
        fields.append({'name': rest.partition(' ')[0],
                       'type': _field_type(pkg, type_string)})
    return {'type_name': f'{pkg}/msg/{name}', 'fields': fields or [dict(_EMPTY_MEMBER)]}


def split_definition(type_name: str, definition: str) -> Dict[str, str]:
    """Split a concatenated ``ros2msg`` definition into ``{pkg/msg/Type: .msg text}``."""
    parts = {full_type_name(type_name): []}
    current = parts[full_type_name(type_name)]
    for line in definition.splitlines():
        if line == SEPARATOR:
            continue
        if line.startswith('MSG: '):
            current = parts.setdefault(full_type_name(line[5:].strip()), [])
            continue
        current.append(line)
    return {k: '\n'.join(v) for k, v in parts.items()}


def type_description(type_name: str, definition: str) -> Dict[str, Any]:
    """Return the TypeDescription (``type_description`` + ``referenced_type_descriptions``)."""
    texts = split_definition(type_name, definition)
    described = {k: _individual_description(k, v) for k, v in texts.items()}
    top = full_type_name(type_name)
    referenced, queue = set(), [top]
    while queue:
        for f in described[queue.pop()]['fields']:
            nested = f['type']['nested_type_name']
            if nested and nested not in referenced:
                if nested not in described:
                    raise SchemaError(f'{top}: the definition lacks {nested}')
                referenced.add(nested)
                queue.append(nested)
    return {'type_description': described[top],
            'referenced_type_descriptions': [described[n] for n in sorted(referenced)]}


def hash_of_definition(type_name: str, definition: str) -> str:
    """Return the RIHS01 type hash of a type given its concatenated ``ros2msg`` definition."""
    text = json.dumps(type_description(type_name, definition), ensure_ascii=True,
                      allow_nan=False, indent=None, separators=(', ', ': '), sort_keys=False)
    return RIHS01_PREFIX + hashlib.sha256(text.encode('utf-8')).hexdigest()


def type_description_hash(type_name: str, prefixes: Optional[Iterable[str]] = None) -> str:
    """Return the RIHS01 type hash of an installed message type (``RIHS01_`` + 64 hex digits)."""
    return hash_of_definition(type_name, message_definition(type_name, prefixes))

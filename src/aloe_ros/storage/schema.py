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

"""ROS 2 message definitions in the form rosbag2 writes into MCAP schemas (encoding ``ros2msg``).

rosbag2 stores, per topic type, the type's own ``.msg`` text followed by every type it depends
on, each once, depth first with each message's dependencies in sorted order; every dependency
is preceded by an empty line, a line of 80 ``=`` and a ``MSG: <pkg>/<Type>`` line (the type as
the field spells it). Foxglove, the ``mcap`` tools and ``mcap_ros2`` parse that layout; this
module builds the same text byte for byte.

The ``.msg`` files are found the way ament finds them: ``<prefix>/share/<pkg>/msg/<Type>.msg``
for every prefix in ``AMENT_PREFIX_PATH``, then ``sys.prefix`` (the PyPI ROS wheels install their
interface files into the virtual environment's ``share/`` without adding it to the path).
"""

import os
import re
import sys
from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

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
    """Return the ``pkg/Type`` names of the message types a ``.msg`` text uses, sorted.

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
    """Return the concatenated ``ros2msg`` definition of a type and all its dependencies.

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

# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""ROS 2 message definitions in the form rosbag2 writes into MCAP schemas (encoding ``ros2msg``).

rosbag2 stores, per topic type, the type's own ``.msg`` text followed by every type it depends
on, each once, in depth-first order of first use, separated by a line of 80 ``=`` and a
``MSG: <pkg>/<Type>`` line. Foxglove, the ``mcap`` tools and ``mcap_ros2`` parse that layout.

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


_FIELD_RE = re.compile(r'^\s*([A-Za-z][\w/]*)(\[[^\]]*\])?\s+(\w+)')


def dependencies(pkg: str, msg_text: str) -> List[str]:
    """Return the ``pkg/Type`` names of the message types a ``.msg`` text uses, in order."""
    deps: List[str] = []
    for line in msg_text.splitlines():
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        m = _FIELD_RE.match(line)
        if m is None:
            continue
        ftype = m.group(1)
        if ftype in PRIMITIVES or ftype.startswith('string<') or ftype.startswith('wstring<'):
            continue
        # A constant (`uint8 X=1`) has a primitive type, so it is skipped above.
        if ftype == 'Header':
            full = 'std_msgs/Header'
        elif '/' in ftype:
            dpkg, dname = split_type(ftype)
            full = f'{dpkg}/{dname}'
        else:
            full = f'{pkg}/{ftype}'
        if full not in deps:
            deps.append(full)
    return deps


def _read(path: str) -> str:
    with open(path, 'r', encoding='utf-8') as f:
        return f.read()


@lru_cache(maxsize=256)
def _definition_cached(type_name: str, prefixes: Tuple[str, ...]) -> str:
    pkg, name = split_type(type_name)
    root_text = _read(find_msg_file(type_name, prefixes))
    parts = [root_text.rstrip('\n') + '\n']
    done = {f'{pkg}/{name}'}

    def visit(dpkg: str, text: str, out: List[Tuple[str, str]]) -> None:
        for dep in dependencies(dpkg, text):
            if dep in done:
                continue
            done.add(dep)
            dep_text = _read(find_msg_file(dep, prefixes))
            out.append((dep, dep_text))
            visit(dep.split('/')[0], dep_text, out)

    ordered: List[Tuple[str, str]] = []
    visit(pkg, root_text, ordered)
    for dep, text in ordered:
        parts.append(f'{SEPARATOR}\nMSG: {dep}\n{text.rstrip(chr(10))}\n')
    return ''.join(parts)


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

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
What the DDS transport of this process can carry between processes on one host, ROS-free.

Large same-host messages (camera frames) arrive reliably only through shared memory with a segment
that holds several of them; otherwise they are fragmented over UDP loopback and lost under load
(README, Real robot guide, "DDS transport"). This module reads the transport configuration from the
environment the way the middleware does, so the observation node can warn, once, when a camera's
frames are larger than that configuration carries:

- Fast DDS (``rmw_fastrtps_cpp``, the default): the XML file in ``FASTDDS_DEFAULT_PROFILES_FILE``
  (Fast DDS 3.x) or ``FASTRTPS_DEFAULT_PROFILES_FILE`` (2.x), else
  ``DEFAULT_FASTRTPS_PROFILES.xml`` in
  the working directory; its default participant profile's SHM transport ``segment_size``. Without
  a
  profile, or without an SHM user transport, the built-in 512 KiB segment.
- Cyclone DDS (``rmw_cyclonedds_cpp``): shared memory only through iceoryx, which this module
cannot
  inspect; it reports the configuration as unknown and the check says what to verify.
"""

from dataclasses import dataclass
import os
from typing import Mapping, Optional
import xml.etree.ElementTree as ElementTree

#: Fast DDS's built-in shared-memory segment [bytes].
FASTDDS_DEFAULT_SEGMENT = 512 * 1024
#: A segment should hold this many frames of one camera: a publisher has several samples in flight
# : (history, readers that have not released theirs yet), and one process may publish several
# cameras.
FRAMES_PER_SEGMENT = 4
#: Largest UDP payload: bigger samples are fragmented when they go over UDP.
UDP_DATAGRAM = 65500
#: The project's profile (config/dds/), named in messages.
SHIPPED_PROFILE = 'config/dds/fastdds_large_data.xml'


@dataclass
class TransportInfo:
    """This process's same-host transport as configured: middleware, SHM segment, source."""

    middleware: str
    segment_bytes: Optional[int]  # None: not known (not Fast DDS, or unreadable profile)
    source: str  # the profile file, or a sentence saying where the figure comes from
    problem: str = ''  # why the profile could not be used, if it could not


class NoSharedMemory(ValueError):
    """The profile configures no shared-memory transport at all."""


def _local(tag: str) -> str:
    return tag.rsplit('}', 1)[-1]


def _children(elem, name):
    return [c for c in elem if _local(c.tag) == name]


def _text(elem, name):
    return ''.join(c.text or '' for c in _children(elem, name)).strip()


def _find(elem, *path):
    found = [elem]
    for name in path:
        found = [c for f in found for c in _children(f, name)]
    return found


def fastdds_profile_path(env: Mapping[str, str], cwd: str = '.') -> Optional[str]:
    """Return the Fast DDS XML profile this environment loads (None: none)."""
    for var in ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE'):
        if env.get(var):
            return env[var]
    local = os.path.join(cwd, 'DEFAULT_FASTRTPS_PROFILES.xml')
    return local if os.path.isfile(local) else None


def parse_fastdds_segment(path: str) -> int:
    """
    Return the SHM segment size [bytes] of the default participant profile in ``path``.

    Raises ValueError (with the reason) when the file cannot be read or names no SHM transport the
    default participant uses; the built-in transports then apply.
    """
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as exc:
        raise ValueError(f'cannot read {path}: {exc}') from None
    profiles = [root] if _local(root.tag) == 'profiles' else _find(root, 'profiles')
    descriptors = {}
    participants = []
    for prof in profiles:
        for desc in _find(prof, 'transport_descriptors', 'transport_descriptor'):
            ident = _text(desc, 'transport_id')
            descriptors[ident] = desc
        participants.extend(_children(prof, 'participant'))
    default = [p for p in participants if p.get('is_default_profile', '').lower() == 'true']
    if not default:
        raise ValueError(f'{path} has no participant profile with is_default_profile="true"')
    user = [t.text.strip() for t in _find(default[0], 'rtps', 'userTransports', 'transport_id')
            if t.text]
    builtin = [b.text.strip().lower() for b in _find(default[0], 'rtps', 'useBuiltinTransports')
               if b.text]
    for ident in user:
        desc = descriptors.get(ident)
        if desc is not None and _text(desc, 'type').upper() == 'SHM':
            size = _text(desc, 'segment_size')
            try:
                return int(size) if size else FASTDDS_DEFAULT_SEGMENT
            except ValueError:
                raise ValueError(f'{path}: SHM transport {ident!r} has segment_size {size!r}, not '
                                 'a number')
    if builtin == ['false']:
        raise NoSharedMemory(f'{path}: the default participant uses no SHM transport '
                             '(useBuiltinTransports false): same-host frames go over UDP')
    return FASTDDS_DEFAULT_SEGMENT


def transport_info(env: Mapping[str, str], cwd: str = '.') -> TransportInfo:
    """Return the same-host transport this environment configures (see the module docstring)."""
    rmw = env.get('RMW_IMPLEMENTATION', '') or 'rmw_fastrtps_cpp'
    if 'cyclone' in rmw:
        return TransportInfo(rmw, None, env.get('CYCLONEDDS_URI', '') or 'Cyclone DDS defaults')
    if 'fastrtps' not in rmw and 'fastdds' not in rmw:
        return TransportInfo(rmw, None, f'{rmw} (not inspected)')
    path = fastdds_profile_path(env, cwd)
    if path is None:
        return TransportInfo(rmw, FASTDDS_DEFAULT_SEGMENT,
                             'Fast DDS built-in transports (no XML profile)')
    try:
        return TransportInfo(rmw, parse_fastdds_segment(path), path)
    except NoSharedMemory as exc:
        return TransportInfo(rmw, 0, path, str(exc))
    except ValueError as exc:
        return TransportInfo(rmw, FASTDDS_DEFAULT_SEGMENT, path,
                             f'{exc}; built-in transports apply')


def describe(info: TransportInfo) -> str:
    """Return one line saying what the same-host transport carries."""
    if info.segment_bytes is None:
        return f'{info.middleware}: shared-memory capacity not known ({info.source})'
    if info.segment_bytes == 0:
        return f'{info.middleware}: no shared-memory transport ({info.problem})'
    text = (f'{info.middleware}: shared-memory segment {info.segment_bytes / 2**20:.1f} MiB '
            f'({info.source})')
    return text + (f'; {info.problem}' if info.problem else '')


def frame_warning(camera: str, frame_bytes: int, info: TransportInfo) -> Optional[str]:
    """Return a warning when ``frame_bytes`` frames exceed what ``info`` carries (None: fit)."""
    need = frame_bytes * FRAMES_PER_SEGMENT
    if info.segment_bytes is None:
        if 'cyclone' not in info.middleware or frame_bytes <= UDP_DATAGRAM:
            return None
        return (f'camera {camera}: {frame_bytes / 1e6:.2f} MB frames over Cyclone DDS: without '
                'shared memory '
                '(iceoryx) they are fragmented over UDP and may be dropped; raise the socket '
                'receive '
                'buffer (README, Real robot guide, "DDS transport") and check the '
                'received_<camera> rates in '
                '/diagnostics')
    if info.segment_bytes >= need:
        return None
    fix = (f'point FASTRTPS_DEFAULT_PROFILES_FILE and FASTDDS_DEFAULT_PROFILES_FILE at '
           f'{SHIPPED_PROFILE} (or raise segment_size in your profile to >= {need} bytes) for '
           'this '
           "node and the camera drivers' processes")
    return (f'camera {camera}: {frame_bytes / 1e6:.2f} MB frames, but {describe(info)} holds '
            'fewer than '
            f'{FRAMES_PER_SEGMENT} of them: frames fall back to fragmented UDP and are dropped '
            'under load; '
            f'{fix}')

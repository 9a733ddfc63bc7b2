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
The shipped DDS transport profile reaches every station process, and Fast DDS uses it.

Fast: every launch file that starts station nodes sets both profile variables (Fast DDS 2.x and 3.x
names) to ``config/dds/fastdds_large_data.xml`` for every process it starts, on every branch.
Slow: ``aloe launch`` of the real-robot launch file starts real processes whose environment holds
the profile and whose Fast DDS participants map a shared-memory segment of the profile's size (the
built-in one is 512 KiB), and the observation node reports the transport it runs on.
"""

import os
import sys
import time

import pytest

from aloe_ros.launch_tools import PackageResolver
from aloe_ros.launch_tools.loader import load_launch
from aloe_ros.launch_tools.validate import _LenientResolver
from aloe_ros.station import transport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the helper module beside this one
from launched_station import LaunchedStation  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
LAUNCH_DIR = os.path.join(ROOT, 'launch')
PROFILE = os.path.join(ROOT, 'config', 'dds', 'fastdds_large_data.xml')
VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')
QOS_FROM_XML = 'RMW_FASTRTPS_USE_QOS_FROM_XML'
STATION_NODES = {'aloe_observation', 'aloe_policy', 'aloe_chunk_executor', 'aloe_sim'}
# Launch file -> argument sets (branches) that start station nodes.
STATION_LAUNCHES = {
    'sim_train.launch.yaml': [{}],
    'sim.launch.yaml': [{'use_rsp': 'false'}],
    'bimanual_robot.launch.yaml': [{'use_rsp': 'false'},
                                   {'use_rsp': 'false', 'with_learner': 'false'}],
    'teleop_rviz.launch.yaml': [{'station': 'sim', 'rviz': 'false', 'joy': 'false'},
                                {'station': 'robot', 'rviz': 'false', 'joy': 'false'}],
    'gazebo.launch.yaml': [{}],
}


def _resolver():
    # Packages users install (rviz2, joy, ros_gz, ...) resolve to placeholders: only env is
    # checked.
    return _LenientResolver(PackageResolver(source_trees={'aloe_ros': ROOT}))


def test_every_launch_file_starting_the_station_is_listed():
    for name in sorted(os.listdir(LAUNCH_DIR)):
        text = open(os.path.join(LAUNCH_DIR, name)).read()
        if any(f'exec: {exe}' in text
               for exe in STATION_NODES) or 'bimanual_robot.launch.yaml' in text:
            assert name in STATION_LAUNCHES, (f'{name} starts station nodes: add it here and set '
                                              'the profile')


@pytest.mark.parametrize('name,arguments', [(n, a) for n,
                                            branches in sorted(STATION_LAUNCHES.items())
                                            for a in branches])
def test_station_processes_get_the_shipped_profile(name, arguments):
    # An empty base environment: whatever the process gets comes from the launch file.
    plan = load_launch(os.path.join(LAUNCH_DIR, name), arguments, resolver=_resolver(),
                       base_env={'HOME': '/home/robot'})
    assert plan.processes
    for spec in plan.processes:
        for var in VARIABLES:
            got = os.path.realpath(spec.env.get(var) or '')
            assert got == os.path.realpath(PROFILE), (name, spec.label, var)
        # rmw_fastrtps takes the memory policies from the profile only with this set
        assert spec.env.get(QOS_FROM_XML) == '1', (name, spec.label)


@pytest.mark.parametrize('name', sorted(STATION_LAUNCHES))
def test_profile_is_set_before_any_process_in_the_file(name):
    """Text order as real ros2 launch runs it: set_env comes before the first node or include."""
    lines = open(os.path.join(LAUNCH_DIR, name)).read().splitlines()
    # Processes may sit inside a group (the station's namespace); set_env stays at the top level,
    # where it applies to every process after it.
    first_process = min(i for i, line in enumerate(lines)
                        if line.lstrip().startswith(('- node:', '- include:', '- executable:')))
    for var in VARIABLES + (QOS_FROM_XML,):
        at = [i for i, line in enumerate(lines) if line.startswith('- set_env:') and var in line]
        assert at and at[0] < first_process, (name, var)
    assert '$(find-pkg-share aloe_ros)/config/dds/fastdds_large_data.xml' in '\n'.join(lines)


def test_shipped_profile_is_what_the_check_expects():
    info = transport.transport_info({VARIABLES[0]: PROFILE}, ROOT)
    assert info.segment_bytes == 32 * 2**20 and not info.problem


def test_shipped_profile_sets_what_rmw_fastrtps_would_and_frees_reader_buffers():
    """
    The shipped profile sets what rmw_fastrtps would, except that readers free their buffers.

    With RMW_FASTRTPS_USE_QOS_FROM_XML=1 rmw_fastrtps (jazzy) leaves to the XML what it
    otherwise sets itself: writers' publish mode and history memory policy, data sharing, the
    built-in (discovery) endpoints' memory policies. Any of them missing falls back to Fast DDS's
    defaults (PREALLOCATED: samples above the type's preallocated size cannot be written), so
    each is given here; only the readers' policy differs (DYNAMIC: no buffer kept per slot).
    """
    import xml.etree.ElementTree as ET
    ns = {'d': 'http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles'}
    root = ET.parse(PROFILE).getroot()

    def default(tag):
        found = [e for e in root.iterfind(f'd:profiles/d:{tag}', ns)
                 if e.get('is_default_profile') == 'true']
        assert len(found) == 1, tag
        return found[0]

    writer, reader = default('data_writer'), default('data_reader')
    assert writer.findtext('d:historyMemoryPolicy', namespaces=ns) == 'PREALLOCATED_WITH_REALLOC'
    assert writer.findtext('d:qos/d:publishMode/d:kind', namespaces=ns) == 'SYNCHRONOUS'
    # DYNAMIC frees a sample's buffer once taken (DYNAMIC_REUSABLE keeps it: measured as bad as
    # rmw_fastrtps's own PREALLOCATED_WITH_REALLOC in bench/bench_oversized_rss.py)
    assert reader.findtext('d:historyMemoryPolicy', namespaces=ns) == 'DYNAMIC'
    for entity in (writer, reader):
        assert entity.findtext('d:qos/d:data_sharing/d:kind', namespaces=ns) == 'OFF'
        # QoS the nodes choose (history, depth, reliability, durability) stays theirs
        assert entity.find('d:qos/d:history', ns) is None
        assert entity.find('d:qos/d:reliability', ns) is None
        assert entity.find('d:qos/d:durability', ns) is None
    builtin = default('participant').find('d:rtps/d:builtin', ns)
    for policy in ('readerHistoryMemoryPolicy', 'writerHistoryMemoryPolicy'):
        assert builtin.findtext(f'd:{policy}', namespaces=ns) == 'PREALLOCATED_WITH_REALLOC'


def _children(pid):
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open(f'/proc/{entry}/stat') as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == parent:
                found.append(int(entry))
                frontier.append(int(entry))
    return found


def _environ(pid):
    try:
        with open(f'/proc/{pid}/environ', 'rb') as f:
            return dict(item.split(b'=', 1) for item in f.read().split(b'\0') if b'=' in item)
    except OSError:
        return {}


def _shm_segments(pid):
    """Return the sizes [bytes] of the Fast DDS shared-memory segments mapped by ``pid``."""
    sizes = []
    try:
        with open(f'/proc/{pid}/maps') as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5].startswith('/dev/shm/fastrtps_') and \
                        not parts[5].endswith(('_el', '_sl', '.port')) and '_port' not in parts[5]:
                    lo, hi = (int(x, 16) for x in parts[0].split('-'))
                    sizes.append(hi - lo)
    except OSError:
        pass
    return sizes


@pytest.mark.slow
def test_launched_station_runs_on_the_shipped_profile(tmp_path):
    # only the launch file sets them
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES + (QOS_FROM_XML,)}
    env['PYTHONUNBUFFERED'] = '1'
    launched = LaunchedStation(tmp_path, env)
    proc, output = launched.proc, launched.output
    try:
        # generous: five nodes (the policy imports torch) start at once; minutes under a CPU hog
        deadline = time.monotonic() + 600
        station = {}
        while time.monotonic() < deadline and proc.poll() is None:
            text = output()
            if 'DDS transport:' in text and 'chunk executor at' in text:
                for pid in _children(proc.pid):
                    try:
                        cmdline = open(f'/proc/{pid}/cmdline', 'rb').read()
                    except OSError:
                        continue
                    for node in ('observation', 'chunk_executor', 'policy', 'teleop', 'recorder'):
                        names = (f'aloe_{node}'.encode(), f'nodes.{node}'.encode())
                        if any(name in cmdline for name in names):
                            station[node] = pid
                if len(station) == 5 and all(_shm_segments(pid) for pid in station.values()):
                    break
            time.sleep(0.5)
        text = output()
        assert proc.poll() is None, text[-4000:]
        assert len(station) == 5, (station, text[-4000:])
        for node, pid in station.items():
            environ = _environ(pid)
            for var in VARIABLES:
                got = os.path.realpath(environ.get(var.encode(), b'').decode())
                assert got == os.path.realpath(PROFILE), (node, var)
            assert environ.get(QOS_FROM_XML.encode()) == b'1', node
            # The participant's own segment has the profile's size (plus Fast DDS's bookkeeping).
            assert max(_shm_segments(pid)) >= 32 * 2**20, (node, _shm_segments(pid))
        assert 'shared-memory segment 32.0 MiB' in text, text[-4000:]
        assert 'XMLPARSER' not in text and 'holds fewer than' not in text, text[-4000:]
    finally:
        launched.stop()

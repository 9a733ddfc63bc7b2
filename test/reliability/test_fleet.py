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
Namespaced stations side by side in one ROS domain, one learner serving them all.

Real node processes on real topics: each station's nodes run under their namespace (``-r
__ns:=/station_a``, as ``namespace:=station_a`` makes the launch files do), with their own
directories; nothing is shared but the domain.
"""

import json
import os
import signal
import time

from aloe_msgs.msg import InterventionState
import pytest
from reliability_harness import (TINY_CONFIG, noise_camera_episode, sha256_of,
                                 synthetic_episode)
from sensor_msgs.msg import JointState
from std_msgs.msg import UInt32

from aloe_ros.nodes.common import SENSOR_DATA, latched

pytestmark = pytest.mark.ros

STATIONS = ('station_a', 'station_b')


@pytest.fixture
def station_client():
    """Yield ``make(namespace, **kw) -> StationClient`` in rclpy's default context."""
    import rclpy
    from aloe_ros.station import StationClient
    context_was_up = rclpy.ok()
    if not context_was_up:
        rclpy.init()
    made = []

    def make(namespace, **kwargs):
        client = StationClient(f'test_client_{len(made)}', namespace=namespace, **kwargs)
        made.append(client)
        return client
    yield make
    for client in made:
        client.destroy_node()
    if not context_was_up:
        rclpy.shutdown()


def _spin_for(client, seconds):
    import rclpy
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(client, timeout_sec=0.02)


def _services(node):
    return {name for name, _types in node.get_service_names_and_types()}


def test_two_namespaced_stations_record_apart_and_take_over_through_station_client(
        station_client, start_node, tmp_path):
    """
    Two recorders and two teleop nodes with the same node names, one per namespace.

    Each StationClient drives its own station only: episodes land in that station's store,
    named after it; a takeover at station_b leaves station_a's policy in control.
    """
    procs = {}
    for ns in STATIONS:
        procs[ns, 'recorder'] = start_node('aloe_ros.nodes.recorder', {
            'storage_root': str(tmp_path / ns / 'store')}, name=f'{ns}_recorder', namespace=ns)
        procs[ns, 'teleop'] = start_node('aloe_ros.nodes.teleop', {}, name=f'{ns}_teleop',
                                         namespace=ns)
    a, b = station_client('station_a'), station_client('/station_b/')
    for client in (a, b):
        # a station without an executor: readiness of the recorder's services is enough here
        for cli in (client.start_cli, client.end_cli):
            assert cli.wait_for_service(timeout_sec=300), cli.srv_name
    assert a.start_cli.srv_name == '/station_a/aloe/start_episode'
    wanted = {f'/{ns}/aloe/{name}' for ns in STATIONS
              for name in ('start_episode', 'recorder/list_episodes', 'recorder/read_episode')}
    # the graph learns a process's services one by one: wait for all (a loaded host is slow)
    a.spin_until(lambda: wanted <= _services(a), 300, f'services {sorted(wanted)}')
    assert '/aloe/start_episode' not in _services(a)   # nothing of a station at the root

    first_a = a.start_episode(task='handover', seed=1)
    first_b = b.start_episode(task='sort', seed=2)        # station_b's recorder is another one
    a.end_episode(a.SUCCESS, 'scripted')
    b.end_episode(b.FAILURE, 'scripted')
    assert a.wait_for_summary(first_a, timeout=120).task == 'handover'
    assert b.wait_for_summary(first_b, timeout=120).task == 'sort'
    assert first_b not in a.summaries and first_a not in b.summaries

    from aloe_ros.storage import EpisodeStore
    for ns, episode_id in (('station_a', first_a), ('station_b', first_b)):
        store = EpisodeStore(str(tmp_path / ns / 'store'), mode='r')
        try:
            rows = store.records()
            assert [r.episode_id for r in rows] == [episode_id]
            assert rows[0].station == f'/{ns}'              # the recorder names its station
        finally:
            store.close()

    # Takeover at station_b: its teleop node needs the follower pose before it accepts one.
    followers = {arm: b.create_publisher(JointState, f'/station_b/follower_{arm}/joint_states',
                                         SENSOR_DATA) for arm in ('left', 'right')}
    joints = [f'{arm}_{j}' for arm in ('left', 'right')
              for j in ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle',
                        'wrist_rotate', 'gripper')]

    def publish_followers():
        for arm, pub in followers.items():
            names = [n for n in joints if n.startswith(arm)]
            pub.publish(JointState(name=names, position=[0.0] * 6 + [0.5]))

    seen_a = []
    a.create_subscription(InterventionState, '/station_a/aloe/intervention',
                          lambda m: seen_a.append(m.active), latched(10))
    b.create_timer(0.05, publish_followers)
    # Until the follower pose reaches the teleop node it refuses, and says why.
    state, refusals = None, []
    while state is None:
        try:
            state = b.request_takeover(timeout=120)
        except RuntimeError as exc:
            refusals.append(str(exc))
            assert 'follower pose unknown' in str(exc) and len(refusals) < 100, refusals
            _spin_for(b, 0.5)                   # the followers' timer publishes meanwhile
    assert state.active and state.device == 'keyboard' and b.intervening()
    assert state.aligning            # leader arms: the executor holds until the leader meets it
    a.spin_until(lambda: bool(seen_a), 30, "station_a's intervention state")
    assert not any(seen_a) and not a.intervening()   # station_a's policy still drives
    state = b.handback(timeout=60)
    assert not state.active and not b.intervening()
    assert b.request_takeover(timeout=60).active     # and again: the toggle stays in step
    assert b.request_takeover(timeout=5).active      # asked twice: pressed once, still active
    assert not b.handback(timeout=60).active
    for proc in procs.values():
        assert proc.alive() and 'Traceback' not in proc.output(50000), proc.output()


@pytest.mark.slow
def test_one_learner_serves_two_namespaced_stations(driver, start_node, tmp_path):
    """
    Both stations' episodes reach the learner's store with their station; versions reach both.

    Per station: a recorder with its own store (episodes recorded before the test, so the
    station is the one the learner pulled them from) and a policy with its own weights_dir and
    the default, relative names; one learner at the root with ``stations`` listing both. Five
    directories, no path shared by two nodes. station_b's recorder is off at first: the learner
    trains v1 on station_a's episodes and offers it to both policies; when station_b's recorder
    comes up its episodes are pulled too, and v2 reaches both policies.
    """
    from aloe_ros.storage import EpisodeStore
    station_rows = {}
    for k, ns in enumerate(STATIONS):
        store = EpisodeStore(str(tmp_path / ns / 'store'), mode='w')
        for j in range(2):
            store.add_episode(synthetic_episode(f'{ns}_ep{j}', steps=30, seed=10 * k + j))
        station_rows[ns] = {r.episode_id: r.sha256 for r in store.records()}
        store.close()

    def recorder(ns):
        return start_node('aloe_ros.nodes.recorder', {
            'storage_root': str(tmp_path / ns / 'store'), 'max_chunk_bytes': 4096},
            name=f'{ns}_recorder', namespace=ns)

    procs = [recorder('station_a')]
    for ns in STATIONS:
        procs.append(start_node('aloe_ros.nodes.policy', {
            'learner_config': TINY_CONFIG, 'weights_dir': str(tmp_path / ns / 'weights')},
            name=f'{ns}_policy', namespace=ns))
    learner = start_node('aloe_ros.nodes.learner', {
        'learner_config': TINY_CONFIG, 'store_root': str(tmp_path / 'learner' / 'store'),
        'weights_dir': str(tmp_path / 'learner' / 'weights'), 'stations': list(STATIONS),
        'min_episodes': 2, 'episodes_per_iteration': 2, 'critic_steps': 20, 'actor_steps': 20,
        'poll_period': 0.2, 'pull_timeout': 2.0, 'evaluate_running_chunks': False})
    procs.append(learner)
    versions = {ns: driver.collect(UInt32, f'/{ns}/aloe/policy/version', latched(1),
                                   keep=lambda m: m.data) for ns in STATIONS}
    root_versions = driver.collect(UInt32, '/aloe/policy/version', latched(1),
                                   keep=lambda m: m.data)

    def everyone_runs(version):
        return all(v and v[-1] >= version for v in versions.values())

    def output():
        return '\n'.join(p.output() for p in procs)
    assert driver.spin_until(lambda: everyone_runs(1), timeout=600), output()
    # The learner's log reaches the harness through a pipe: wait for the line rather than
    # reading once (under load the reader lags behind the version topics).
    assert driver.spin_until(lambda: 'station /station_b unreachable' in learner.output(50000),
                             timeout=300), learner.output(50000)

    procs.append(recorder('station_b'))                  # station_b comes up late
    assert driver.spin_until(lambda: everyone_runs(2), timeout=600), output()
    assert not root_versions                    # no policy at the root: nothing was there

    learner_store = EpisodeStore(str(tmp_path / 'learner' / 'store'), mode='r')
    try:
        pulled = {r.episode_id: r for r in learner_store.records()}
        assert len(pulled) == 4
        for ns in STATIONS:
            mine = {k: r for k, r in pulled.items() if r.station == f'/{ns}'}
            assert {k: r.sha256 for k, r in mine.items()} == station_rows[ns]
            assert {r.reason for r in mine.values()} == {f'pulled from /{ns}'}
            assert [r.episode_id for r in learner_store.records(station=f'/{ns}')] == sorted(
                station_rows[ns])
        for row in pulled.values():
            assert sha256_of(os.path.join(learner_store.root, row.path)) == row.sha256
    finally:
        learner_store.close()
    for version in (1, 2):
        name = f'policy_v{version:06d}.safetensors'
        exported = sha256_of(os.path.join(tmp_path, 'learner', 'weights', name))
        for ns in STATIONS:
            assert sha256_of(os.path.join(tmp_path, ns, 'weights', name)) == exported
    services = {name for name, _t in driver.node.get_service_names_and_types()}
    assert {'/station_a/aloe/learner/read_weights', '/station_b/aloe/learner/read_weights',
            '/aloe/learner/read_weights'} <= services
    assert '/station_b/aloe/policy_update' in learner.output(50000)
    for proc in procs:
        assert proc.alive() and 'Traceback' not in proc.output(50000), proc.output()


@pytest.mark.slow
def test_a_station_killed_mid_transfer_resumes_where_it_stopped(driver, start_node, tmp_path):
    """
    SIGKILL a recorder while the learner pulls one of its episodes; restart it; the pull resumes.

    station_a holds a 3.7 MB episode, served in 4 KiB chunks (~900 ReadChunk calls), and a small
    one; station_b two small ones. As soon as the learner's partial file of the big episode has
    bytes, station_a's recorder is frozen (SIGSTOP, so no chunk lands after the check) until the
    learner gives up on it, then SIGKILLed: the partial file then holds part of the episode, not
    all of it. station_b's episodes are pulled meanwhile. The recorder restarted on the same
    store, the learner fetches only the bytes it lacks (its log says from which byte and how
    many), and its store holds every episode once, each sha256-verified, with nothing left in
    ``incoming/``.
    """
    from aloe_ros.storage import EpisodeStore
    episodes = {'station_a': [noise_camera_episode('station_a_big', 100, 1),
                              synthetic_episode('station_a_small', steps=30, seed=2)],
                'station_b': [synthetic_episode(f'station_b_ep{j}', steps=30, seed=3 + j)
                              for j in range(2)]}
    station_rows = {}
    for ns, eps in episodes.items():
        store = EpisodeStore(str(tmp_path / ns / 'store'), mode='w')
        for episode in eps:
            store.add_episode(episode)
        station_rows[ns] = {r.episode_id: r for r in store.records()}
        store.close()
    big = station_rows['station_a']['station_a_big']
    assert big.size_bytes > 3_000_000                   # hundreds of chunks of 4 KiB

    recorders = {ns: start_node('aloe_ros.nodes.recorder', {
        'storage_root': str(tmp_path / ns / 'store'), 'max_chunk_bytes': 4096},
        name=f'{ns}_recorder', namespace=ns) for ns in STATIONS}
    learner_root = tmp_path / 'learner' / 'store'
    learner = start_node('aloe_ros.nodes.learner', {
        'learner_config': TINY_CONFIG, 'store_root': str(learner_root),
        'weights_dir': str(tmp_path / 'learner' / 'weights'), 'stations': list(STATIONS),
        'min_episodes': 1000, 'poll_period': 0.2, 'pull_timeout': 10.0,
        'max_chunk_bytes': 4096, 'evaluate_running_chunks': False})
    procs = [learner, *recorders.values()]
    incoming = learner_root / 'incoming' / 'station_a'
    part = incoming / 'station_a_big.mcap.part'

    def part_size():
        try:
            return os.path.getsize(part)
        except OSError:
            return 0

    def said(text):
        return learner.output(10 ** 7).count(text)
    unreachable = 'station /station_a unreachable'

    assert driver.spin_until(lambda: part_size() > 0, timeout=300), learner.output()
    before = said(unreachable)
    os.kill(recorders['station_a'].pid, signal.SIGSTOP)   # no chunk is answered from now on
    # The learner's pending read times out: it gives the station up, keeping the partial file.
    assert driver.spin_until(lambda: said(unreachable) > before, timeout=300), learner.output()
    recorders['station_a'].kill9()
    kept = part_size()
    assert 0 < kept < big.size_bytes, (kept, big.size_bytes)   # the kill landed mid-transfer
    with open(str(part) + '.json') as f:
        assert json.load(f) == {'sha256': big.sha256, 'total_bytes': big.size_bytes}
    assert 'pulled episode station_a_big' not in learner.output(10 ** 7)

    # station_b is unaffected: its episodes arrive while station_a is gone.
    assert driver.spin_until(
        lambda: all(f'pulled episode {e} from /station_b' in learner.output(10 ** 7)
                    for e in station_rows['station_b']), timeout=300), learner.output()
    assert part_size() == kept                        # nothing more without the station

    recorders['station_a'].start()                    # the same store, a new process
    resumed = (f'pulled episode station_a_big from /station_a: {big.size_bytes} bytes in ')
    assert driver.spin_until(
        lambda: all(f'pulled episode {e} from /station_a' in learner.output(10 ** 7)
                    for e in station_rows['station_a']), timeout=300), learner.output()
    log = learner.output(10 ** 7)
    line = next(x for x in log.splitlines() if resumed in x)
    # Resumed at the kept offset: only the missing bytes crossed the wire again.
    assert f'(resumed at byte {kept}, {big.size_bytes - kept} bytes fetched)' in line, line
    assert 'station /station_a is reachable again' in log

    learner_store = EpisodeStore(str(learner_root), mode='r')
    try:
        rows = learner_store.records()
        expected = {**station_rows['station_a'], **station_rows['station_b']}
        assert sorted(r.episode_id for r in rows) == sorted(expected)     # each once
        for row in rows:
            assert row.sha256 == expected[row.episode_id].sha256
            assert sha256_of(os.path.join(learner_store.root, row.path)) == row.sha256
            assert row.station == ('/station_a' if row.episode_id.startswith('station_a')
                                   else '/station_b')
    finally:
        learner_store.close()
    mcaps = [name for _d, _s, files in os.walk(learner_root / 'episodes') for name in files
             if name.endswith('.mcap')]
    assert sorted(mcaps) == sorted(f'{e}_0.mcap' for e in expected)  # no second copy
    assert os.listdir(incoming) == []                 # no stale partial or state file
    for episode_id in expected:
        assert log.count(f'pulled episode {episode_id} ') == 1
    for proc in procs:
        assert proc.alive() and 'Traceback' not in proc.output(10 ** 7), proc.output()

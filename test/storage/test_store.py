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

"""Episode store: MCAP round trip, rosbag2 schemas, catalog queries, recovery, export."""

import os

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
import numpy as np
import pytest

from aloe_ros.learning.episode import (OUTCOME_ABORTED, OUTCOME_FAILURE, OUTCOME_SUCCESS,
                                       OUTCOME_TIMEOUT, SOURCE_HUMAN, SOURCE_POLICY)
from aloe_ros.storage import (EpisodeStore, RewardConfig, StoreLockedError, check_executed_step,
                              export_npz, load_npz, message_definition)
from aloe_ros.storage.convert import image_to_array, proprio_from, split_proprio
from aloe_ros.storage.episode_file import decode, encode, read_partial
from aloe_ros.storage.export import main as export_main
from aloe_ros.storage.schema import find_msg_file

ARRAYS = ('proprio', 'actions', 'sources', 'policy_versions', 'interventions', 'rewards')


def assert_same(a, b):
    """Assert two episodes hold the same data."""
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert sorted(a.images) == sorted(b.images)
    for cam in a.images:
        np.testing.assert_array_equal(a.images[cam], b.images[cam])
    for name in ('episode_id', 'task', 'instruction', 'outcome', 'terminated', 'truncated',
                 'seed'):
        assert getattr(a, name) == getattr(b, name), name


def test_round_trip_python_episode(tmp_path, episode_factory):
    ep = episode_factory('ep-a', steps=15, cams=('cam_high', 'cam_left_wrist'))
    store = EpisodeStore(str(tmp_path), mode='w')
    rec = store.add_episode(ep)
    assert rec.status == 'complete' and rec.num_steps == 15
    assert rec.num_human_steps == 5 and rec.num_policy_steps == 10 and rec.num_interventions == 1
    assert rec.policy_versions == [1, 2] and rec.episode_return == pytest.approx(1.0)
    assert rec.path.startswith('episodes/') and rec.path.endswith('ep-a/ep-a_0.mcap')
    assert rec.uri.endswith('/ep-a')
    assert os.path.isfile(rec.uri[len('file://'):] + '/metadata.yaml')
    assert os.path.getsize(store.path_of('ep-a')) == rec.size_bytes
    back = store.load_episode('ep-a')
    assert_same(ep, back)
    back.validate()
    np.testing.assert_array_equal(back.extra['step_index'], np.arange(15))
    assert list(store.episode_ids()) == ['ep-a']
    store.close()
    reader = EpisodeStore(str(tmp_path))
    assert_same(ep, reader.load_episode('ep-a'))


def test_task_state_round_trips_through_observations(tmp_path, episode_factory):
    ep = episode_factory('ep-s', steps=12)
    state = np.random.default_rng(0).normal(size=(12, 9)).astype(np.float32)
    ep.extra['state'] = state
    store = EpisodeStore(str(tmp_path), mode='w')
    names = [f'block_{i}' for i in range(9)]
    store.add_episode(ep, task_state_names=names)
    back = store.load_episode('ep-s')
    np.testing.assert_array_equal(back.extra['state'], state)
    # Observations carry the names, as the observation node publishes them.
    from aloe_ros.storage.episode_file import iter_messages
    obs = [m for _t, _s, m in iter_messages(store.path_of('ep-s'), ['/aloe/observation'])]
    assert list(obs[0].task_state_names) == names
    # An episode without a task state has none after the round trip.
    store.add_episode(episode_factory('ep-plain', steps=5))
    assert 'state' not in store.load_episode('ep-plain').extra
    with pytest.raises(ValueError, match='task_state_names'):
        store.add_episode(ep, task_state_names=['one'])


def test_rewards_and_outcome_flags(tmp_path, episode_factory):
    store = EpisodeStore(str(tmp_path), mode='w', rewards=RewardConfig(step_penalty=0.01))
    for i, outcome in enumerate((OUTCOME_SUCCESS, OUTCOME_FAILURE, OUTCOME_TIMEOUT,
                                 OUTCOME_ABORTED)):
        store.add_episode(episode_factory(f'e{i}', steps=6, outcome=outcome))
    eps = [store.load_episode(i) for i in store.episode_ids()]
    assert [(e.terminated, e.truncated) for e in eps] == [(True, False), (True, False),
                                                          (False, True), (False, True)]
    np.testing.assert_allclose(eps[0].rewards, [-0.01] * 5 + [0.99], rtol=1e-6)
    np.testing.assert_allclose(eps[1].rewards, [-0.01] * 6, rtol=1e-6)
    assert store.catalog.get('e0').episode_return == pytest.approx(0.94)


def test_schema_matches_rosbag2_layout_and_decodes(tmp_path, episode_factory):
    store = EpisodeStore(str(tmp_path), mode='w')
    store.add_episode(episode_factory('ep-s', steps=4))
    with open(store.path_of('ep-s'), 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        assert reader.get_header().profile == 'ros2'
        schemas = {s.name: s for s in summary.schemas.values()}
        assert set(schemas) == {'aloe_msgs/msg/Observation', 'aloe_msgs/msg/ExecutedStep',
                                'aloe_msgs/msg/EpisodeEvent'}
        obs_text = schemas['aloe_msgs/msg/Observation'].data.decode()
        assert schemas['aloe_msgs/msg/Observation'].encoding == 'ros2msg'
        assert {c.message_encoding for c in summary.channels.values()} == {'cdr'}
        assert all('offered_qos_profiles' in c.metadata for c in summary.channels.values())
        decoded = {ch.topic: msg for _s, ch, _m, msg in reader.iter_decoded_messages()}
    sections = obs_text.split('=' * 80 + '\n')
    headers = [s.splitlines()[0] for s in sections[1:]]
    # rosbag2 order: depth first, each message's dependencies sorted, each type once.
    assert headers == ['MSG: sensor_msgs/Image', 'MSG: std_msgs/Header',
                       'MSG: builtin_interfaces/Time']
    assert sections[0].startswith('# One time-aligned '
                                  'observation') and sections[0].endswith('stale\n\n')
    with open(find_msg_file('aloe_msgs/msg/Observation')) as f:
        assert sections[0] == f.read() + '\n'
    assert decoded['/aloe/observation'].images[0].encoding == 'rgb8'
    assert decoded['/aloe/executed_step'].step_index == 3
    assert obs_text == message_definition('aloe_msgs/Observation')


def test_raw_cdr_bytes_are_written_verbatim(tmp_path):
    store = EpisodeStore(str(tmp_path), mode='w')
    rec = store.begin_episode(task='t', instruction='i')
    steps = []
    for k in range(3):
        step = {'header': {'stamp': {'sec': 1, 'nanosec': k}, 'frame_id': ''},
                'episode_id': rec.episode_id, 'step_index': k, 'source': SOURCE_HUMAN,
                'policy_version': 0, 'chunk_id': 0, 'index_in_chunk': 0, 'intervention': True,
                'joint_names': [], 'action': [float(k)] * 14, 'observed_position': [0.5] * 14}
        raw = encode('aloe_msgs/msg/ExecutedStep', step)
        steps.append(raw)
        rec.write('/aloe/executed_step', raw, 1_000_000_000 + k)
    out = rec.close(OUTCOME_SUCCESS)
    assert out.num_human_steps == 3 and out.num_interventions == 1
    with open(store.path_of(rec.episode_id), 'rb') as f:
        datas = [m.data for _s, _c, m in make_reader(f).iter_messages()]
    assert datas == steps
    ep = store.load_episode(rec.episode_id)
    assert ep.images == {} and ep.proprio.shape == (3, 14)
    np.testing.assert_array_equal(ep.actions[:, 0], [0, 1, 2])


def test_catalog_queries(tmp_path, episode_factory):
    store = EpisodeStore(str(tmp_path), mode='w')
    store.add_episode(episode_factory('a', outcome=OUTCOME_SUCCESS), start_ns=1_000 * 10**9)
    store.add_episode(episode_factory('b', outcome=OUTCOME_FAILURE), start_ns=2_000 * 10**9)
    pol = episode_factory('c', outcome=OUTCOME_SUCCESS)
    pol.sources[:] = SOURCE_POLICY
    pol.interventions[:] = False
    pol.policy_versions[:] = 7
    store.add_episode(pol, start_ns=3_000 * 10**9)
    cat = store.catalog
    assert [r.episode_id for r in cat.query()] == ['a', 'b', 'c']
    assert [r.episode_id for r in cat.query(outcome=OUTCOME_SUCCESS)] == ['a', 'c']
    assert [r.episode_id for r in cat.query(min_policy_version=5)] == ['c']
    assert [r.episode_id for r in cat.query(with_interventions=False)] == ['c']
    assert [r.episode_id for r in cat.query(since=1500.0, limit=1)] == ['b']
    assert cat.query(task='other') == []
    stats = cat.stats()
    assert stats['episodes'] == 3
    assert stats['by_outcome'] == {OUTCOME_SUCCESS: 2, OUTCOME_FAILURE: 1}
    assert stats['steps'] == 36 and stats['human_steps'] == 8
    assert cat.integrity_ok()


def test_each_episode_is_flushed_by_its_own_byte_count(tmp_path):
    """
    A new episode is made durable even when its payload equals the last flush of the previous one.

    The recorder used to compare the open episode's bytes with a count kept across episodes: an
    episode of 3 steps was never flushed after one whose last flush came at 3 equal-sized steps,
    so its ``.partial`` held none of them (found by a fresh-clone suite run under a CPU hog).
    """
    store = EpisodeStore(str(tmp_path), mode='w')

    def step(rec, k):
        rec.write('/aloe/executed_step', {
            'header': {'stamp': {'sec': 1, 'nanosec': k}, 'frame_id': ''},
            'episode_id': rec.episode_id, 'step_index': k, 'source': SOURCE_HUMAN,
            'policy_version': 0, 'intervention': True, 'action': [0.1] * 14,
            'observed_position': [0.0] * 14}, 1_000 + k)

    def durable_steps(rec):
        partial = read_partial(store.path_of(rec.episode_id) + '.partial')
        return [m[0] for m in partial.messages].count('/aloe/executed_step')

    first = store.begin_episode(task='t')
    for k in range(3):
        step(first, k)
    assert first.flush_pending() and durable_steps(first) == 3
    assert not first.flush_pending()          # nothing new: no flush
    for k in range(3, 8):
        step(first, k)                        # not flushed again before it closes
    first.close(OUTCOME_SUCCESS)
    second = store.begin_episode(task='t')
    for k in range(3):
        step(second, k)
    assert second.bytes_written == 3 * (first.bytes_written // 8)
    assert second.flush_pending() and durable_steps(second) == 3
    store.close()


def test_partial_is_quarantined_and_never_listed(tmp_path, episode_factory):
    store = EpisodeStore(str(tmp_path), mode='w')
    store.add_episode(episode_factory('done'))
    rec = store.begin_episode(task='t')
    rec.write('/aloe/episode_event', {'header': {'stamp': {'sec': 0, 'nanosec': 0},
                                                 'frame_id': ''},
                                      'episode_id': rec.episode_id, 'event': 0}, 1)
    partial = store.path_of(rec.episode_id) + '.partial'
    assert os.path.exists(partial)
    reader = EpisodeStore(str(tmp_path))
    assert list(reader.episode_ids()) == ['done'] and os.path.exists(partial)
    with pytest.raises(StoreLockedError):
        EpisodeStore(str(tmp_path), mode='w')
    store.close()
    again = EpisodeStore(str(tmp_path), mode='w')
    assert not os.path.exists(partial)
    assert [os.path.basename(p) for p in again.quarantined] == [rec.episode_id + '.mcap.partial']
    assert os.path.exists(os.path.join(str(tmp_path), 'quarantine', rec.episode_id
                                       + '.mcap.partial'))
    assert again.catalog.get(rec.episode_id).status == 'quarantined'
    assert list(again.episode_ids()) == ['done']


def test_finalized_but_uncataloged_file_is_indexed(tmp_path, episode_factory):
    store = EpisodeStore(str(tmp_path), mode='w')
    rec = store.add_episode(episode_factory('x', steps=9))
    store.catalog.update('x', status='recording')
    store.close()
    again = EpisodeStore(str(tmp_path), mode='w')
    got = again.catalog.get('x')
    assert got.status == 'complete' and got.num_steps == 9 and got.sha256 == rec.sha256
    assert got.policy_versions == rec.policy_versions and got.terminated


def test_export_npz_round_trip(tmp_path, episode_factory):
    store = EpisodeStore(str(tmp_path / 'store'), mode='w')
    ep = episode_factory('n1', steps=5)
    store.add_episode(ep)
    paths = export_npz(store, str(tmp_path / 'out'))
    assert [os.path.basename(p) for p in paths] == ['n1.npz']
    back = load_npz(paths[0])
    assert_same(ep, back)
    np.testing.assert_array_equal(back.extra['step_index'], np.arange(5))


def test_executed_step_validation():
    good = decode('aloe_msgs/msg/ExecutedStep', encode('aloe_msgs/msg/ExecutedStep', {
        'episode_id': 'e', 'step_index': 4, 'action': [0.0] * 14, 'observed_position': [0.0]
        * 14}))
    assert check_executed_step(good, 14, 3, 'e') is None
    assert 'out of order' in check_executed_step(good, 14, 4, 'e')
    assert 'expected 7' in check_executed_step(good, 7, None, 'e')
    assert 'belongs to episode' in check_executed_step(good, 14, None, 'other')
    good.action[2] = float('nan')
    assert 'non-finite action' in check_executed_step(good, 14, None, 'e')


def test_proprio_layout_and_image_decoding():
    pos = np.arange(12, dtype=np.float32)
    p = proprio_from(pos, [0.25, 0.75])
    np.testing.assert_array_equal(p[[6, 13]], [0.25, 0.75])
    np.testing.assert_array_equal(p[:6], pos[:6])
    back_pos, back_grip = split_proprio(p)
    np.testing.assert_array_equal(back_pos, pos)
    img = decode('sensor_msgs/msg/Image', encode('sensor_msgs/msg/Image', {
        'height': 2, 'width': 2, 'encoding': 'bgr8', 'step': 8,
        'data': bytes([1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0])}))
    arr = image_to_array(img)
    assert arr.shape == (2, 2, 3)
    assert arr[0, 0].tolist() == [3, 2, 1] and arr[1, 1].tolist() == [12, 11, 10]


def test_schema_text_is_rosbag2_concatenation():
    with open(find_msg_file('std_msgs/msg/Header')) as f:
        header_text = f.read()
    with open(find_msg_file('builtin_interfaces/msg/Time')) as f:
        time_text = f.read()
    expected = header_text + '\n' + '=' * 80 + '\nMSG: builtin_interfaces/Time\n' + time_text
    assert message_definition('std_msgs/msg/Header') == expected
    with pytest.raises(LookupError, match='NoSuchType'):
        message_definition('aloe_msgs/msg/NoSuchType')


def test_export_command_line(tmp_path, episode_factory, capsys):
    store = EpisodeStore(str(tmp_path / 'store'), mode='w')
    store.add_episode(episode_factory('k1', steps=3))
    store.add_episode(episode_factory('k2', steps=4))
    store.close()
    out = tmp_path / 'npz'
    assert export_main(['--root', str(tmp_path / 'store'), '--out', str(out), '--id', 'k2']) == 0
    assert sorted(os.listdir(out)) == ['k2.npz'] and len(load_npz(str(out / 'k2.npz'))) == 4
    assert export_main(['--root', str(tmp_path / 'missing'), '--out', str(out)]) == 2

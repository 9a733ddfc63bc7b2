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

"""Episodes as rosbag2 bag directories: metadata.yaml, crash repair, migration of old stores."""

import json
import os
import shutil

from mcap.reader import make_reader
from mcap.writer import Writer
import pytest
import yaml

from aloe_ros.storage import EpisodeStore
from aloe_ros.storage.bag import (BagMetadataError, bag_storage_file, read_bag_metadata,
                                  write_bag_metadata)
from aloe_ros.storage.episode_file import encode, sha256_file
from aloe_ros.storage.migrate import main as migrate_main
from aloe_ros.storage.schema import find_msg_file, message_definition

# The keys rosbag2 Jazzy's yaml.hpp writes for a BagMetadata, in its order.
ROSBAG2_KEYS = ['version', 'storage_identifier', 'duration', 'starting_time', 'message_count',
                'topics_with_message_count', 'compression_format', 'compression_mode',
                'relative_file_paths', 'files', 'custom_data', 'ros_distro']


def _generated_hash(type_name):
    """Return the hash rosidl wrote into the installed ``share/<pkg>/msg/<Type>.json``."""
    json_path = find_msg_file(type_name)[:-len('.msg')] + '.json'
    with open(json_path) as f:
        return json.load(f)['type_hashes'][0]['hash_string']


def _counts_from_file(path):
    """Count messages per topic by reading every message (independent of the summary)."""
    counts, times = {}, []
    with open(path, 'rb') as f:
        for _schema, channel, message in make_reader(f).iter_messages():
            counts[channel.topic] = counts.get(channel.topic, 0) + 1
            times.append(message.log_time)
    return counts, min(times), max(times)


def test_recorded_episode_is_a_rosbag2_bag_directory(tmp_path, episode_factory):
    store = EpisodeStore(str(tmp_path), mode='w')
    rec = store.add_episode(episode_factory('ep-1', steps=11))
    bag = os.path.dirname(store.path_of('ep-1'))
    assert os.path.basename(bag) == 'ep-1' and rec.uri == 'file://' + bag
    assert sorted(os.listdir(bag)) == ['ep-1_0.mcap', 'metadata.yaml']
    with open(os.path.join(bag, 'metadata.yaml')) as f:
        raw = yaml.safe_load(f)
    assert list(raw) == ['rosbag2_bagfile_information']
    assert list(raw['rosbag2_bagfile_information']) == ROSBAG2_KEYS
    info = read_bag_metadata(bag)
    assert info['version'] == 9 and info['storage_identifier'] == 'mcap'
    assert info['ros_distro'] == 'jazzy' and info['relative_file_paths'] == ['ep-1_0.mcap']
    counts, first, last = _counts_from_file(bag_storage_file(bag))
    topics = {t['topic_metadata']['name']: t for t in info['topics_with_message_count']}
    assert {k: t['message_count'] for k, t in topics.items()} == counts
    assert counts['/aloe/executed_step'] == 11 and counts['/aloe/episode_event'] == 2
    assert info['message_count'] == sum(counts.values())
    assert info['starting_time']['nanoseconds_since_epoch'] == first
    assert info['duration']['nanoseconds'] == last - first
    assert info['files'][0]['message_count'] == info['message_count']
    step = topics['/aloe/executed_step']['topic_metadata']
    assert step['type'] == 'aloe_msgs/msg/ExecutedStep' and step['serialization_format'] == 'cdr'
    qos = step['offered_qos_profiles'][0]
    assert (qos['history'], qos['depth'], qos['reliability'], qos['durability']) == (
        'keep_last', 200, 'reliable', 'volatile')
    assert qos['deadline'] == {'sec': 9223372036, 'nsec': 854775807}
    obs = topics['/aloe/observation']['topic_metadata']['offered_qos_profiles'][0]
    assert obs['reliability'] == 'best_effort'
    # RIHS01 type hashes, as rosidl generated them for the installed aloe_msgs.
    with open(os.path.join(bag, 'ep-1_0.mcap'), 'rb') as f:
        summary = make_reader(f).get_summary()
    for channel in summary.channels.values():
        meta = topics[channel.topic]['topic_metadata']
        assert meta['type_description_hash'] == _generated_hash(meta['type'])
        assert channel.metadata['topic_type_hash'] == meta['type_description_hash']
    assert info['custom_data']['aloe.outcome'] == '1'
    assert info['custom_data']['aloe.num_steps'] == '11'
    # The learner reads the bag directory itself as well as through the catalog.
    assert len(store.read_file(bag)) == 11 and len(store.load_episode('ep-1')) == 11
    store.close()


@pytest.mark.parametrize('edit, message', [
    (lambda i: i.pop('storage_identifier'), "missing 'storage_identifier'"),
    (lambda i: i.update(message_count=i['message_count'] + 1), 'topics hold'),
    (lambda i: i.update(version='nine'), 'version: expected int'),
    (lambda i: i.update(version=10), 'not a rosbag2 Jazzy version'),
    (lambda i: i.update(relative_file_paths=['../x.mcap']), 'relative_file_paths'),
    (lambda i: i['topics_with_message_count'][0]['topic_metadata']['offered_qos_profiles'][0]
     .update(reliability=1), 'reliability: expected str'),
    (lambda i: i['topics_with_message_count'][0]['topic_metadata']
     .update(type_description_hash='sha256:00'), 'type_description_hash'),
])
def test_malformed_metadata_yaml_is_rejected_naming_the_field(tmp_path, episode_factory, edit,
                                                              message):
    store = EpisodeStore(str(tmp_path), mode='w')
    store.add_episode(episode_factory('e', steps=4))
    bag = os.path.dirname(store.path_of('e'))
    path = os.path.join(bag, 'metadata.yaml')
    with open(path) as f:
        doc = yaml.safe_load(f)
    edit(doc['rosbag2_bagfile_information'])
    with open(path, 'w') as f:
        yaml.safe_dump(doc, f)
    with pytest.raises(BagMetadataError, match=message):
        read_bag_metadata(bag)
    with open(path, 'w') as f:
        f.write('rosbag2_bagfile_information: [unclosed\n')
    with pytest.raises(BagMetadataError, match='not YAML'):
        read_bag_metadata(bag)
    os.remove(path)
    with pytest.raises(BagMetadataError, match='not a bag directory'):
        read_bag_metadata(bag)
    store.close()


def test_metadata_of_an_unfinished_mcap_is_refused(tmp_path):
    store = EpisodeStore(str(tmp_path), mode='w')
    rec = store.begin_episode(task='t', episode_id='open')
    rec.write('/aloe/episode_event', {'episode_id': 'open', 'event': 0}, 5)
    rec.flush()
    bag = os.path.dirname(rec._writer.partial_path)
    with pytest.raises(BagMetadataError, match='not finalized'):
        write_bag_metadata(bag, os.path.basename(rec._writer.partial_path))
    assert not os.path.exists(os.path.join(bag, 'metadata.yaml'))
    store.close()


def test_killed_between_mcap_and_metadata_yaml_is_repaired_on_open(tmp_path, episode_factory):
    store = EpisodeStore(str(tmp_path), mode='w')
    store.add_episode(episode_factory('a', steps=5))
    bag = os.path.dirname(store.path_of('a'))
    store.close()
    os.remove(os.path.join(bag, 'metadata.yaml'))
    again = EpisodeStore(str(tmp_path), mode='w')
    assert read_bag_metadata(bag)['topics_with_message_count']
    assert list(again.episode_ids()) == ['a'] and len(again.load_episode('a')) == 5
    again.close()


def test_partial_bag_is_quarantined_and_its_directory_removed(tmp_path):
    store = EpisodeStore(str(tmp_path), mode='w')
    rec = store.begin_episode(task='t', episode_id='cut')
    rec.write('/aloe/episode_event', {'episode_id': 'cut', 'event': 0}, 5)
    rec.flush()
    bag = os.path.dirname(rec._writer.partial_path)
    store.close()
    again = EpisodeStore(str(tmp_path), mode='w')
    assert [os.path.basename(p) for p in again.quarantined] == ['cut.mcap.partial']
    assert not os.path.exists(bag)
    row = again.catalog.get('cut')
    assert row.status == 'quarantined'
    assert row.path == os.path.join('quarantine', 'cut.mcap.partial')
    again.close()


@pytest.mark.parametrize('bad', ['', '../x', 'a/b', '.hidden', 'two words'])
def test_episode_ids_that_cannot_name_a_directory_are_refused(tmp_path, bad):
    store = EpisodeStore(str(tmp_path), mode='w')
    with pytest.raises(ValueError, match='cannot name a bag directory'):
        store.begin_episode(task='t', episode_id=bad) if bad else store.begin_episode(
            task='t', episode_id='x/' + bad)
    assert store.records() == [] and store.recording is None
    store.close()


def _to_old_layout(store, episode_id):
    """Rewrite one episode as the store layout before bag directories wrote it."""
    new = store.path_of(episode_id)
    bag = os.path.dirname(new)
    old = bag + '.mcap'
    os.rename(new, old)
    shutil.rmtree(bag)
    store.catalog.update(episode_id, path=os.path.relpath(old, store.root), uri='file://' + old)
    return old


def test_migration_of_an_old_layout_store(tmp_path, episode_factory, capsys):
    root = str(tmp_path)
    store = EpisodeStore(root, mode='w')
    for i in range(3):
        store.add_episode(episode_factory(f'o{i}', steps=6 + i, seed=i))
    old = {i: _to_old_layout(store, f'o{i}') for i in range(3)}
    digests = {i: sha256_file(p) for i, p in old.items()}
    store.close()

    reader = EpisodeStore(root)                    # the old layout is still read as it is
    assert [len(reader.load_episode(f'o{i}')) for i in range(3)] == [6, 7, 8]
    reader.close()
    writer = EpisodeStore(root, mode='w')          # and its recovery leaves it alone
    assert writer.quarantined == [] and len(writer.episode_ids()) == 3
    writer.close()

    assert migrate_main(['--root', root, '--dry-run']) == 0
    assert '3 episodes to move' in capsys.readouterr().out
    assert all(os.path.exists(p) for p in old.values())

    # Interrupted after moving o1's file but before its catalog row changed.
    bag1 = old[1][:-len('.mcap')]
    os.makedirs(bag1)
    os.rename(old[1], os.path.join(bag1, 'o1_0.mcap'))

    assert migrate_main(['--root', root]) == 0
    assert '3 episodes moved' in capsys.readouterr().out
    store = EpisodeStore(root)
    for i in range(3):
        rec = store.catalog.get(f'o{i}')
        bag = old[i][:-len('.mcap')]
        assert rec.path.endswith(f'o{i}/o{i}_0.mcap') and rec.uri == 'file://' + bag
        assert not os.path.exists(old[i]) and sha256_file(store.path_of(f'o{i}')) == digests[i]
        assert rec.sha256 == digests[i]
        info = read_bag_metadata(bag)
        assert info['message_count'] == sum(_counts_from_file(store.path_of(f'o{i}'))[0].values())
        assert len(store.load_episode(f'o{i}')) == 6 + i
    store.close()
    assert migrate_main(['--root', root]) == 0
    assert '0 episodes moved' in capsys.readouterr().out


def test_migrate_refuses_a_missing_store_and_a_held_lock(tmp_path, capsys):
    assert migrate_main(['--root', str(tmp_path / 'nothing')]) == 2
    assert 'no episode store' in capsys.readouterr().err
    holder = EpisodeStore(str(tmp_path), mode='w')
    assert migrate_main(['--root', str(tmp_path)]) == 1
    assert 'stop the recorder' in capsys.readouterr().err
    holder.close()


def test_migrate_adds_type_hashes_to_bags_written_without_them(tmp_path, episode_factory, capsys):
    """Bags written before type hashes: metadata.yaml rewritten from the recorded schemas."""
    root = str(tmp_path)
    store = EpisodeStore(root, mode='w')
    store.add_episode(episode_factory('h0', steps=5))
    bag = os.path.dirname(store.path_of('h0'))
    mcap = store.path_of('h0')
    store.close()
    digest = sha256_file(mcap)
    path = os.path.join(bag, 'metadata.yaml')
    with open(path) as f:
        doc = yaml.safe_load(f)
    hashes = {}
    for t in doc['rosbag2_bagfile_information']['topics_with_message_count']:
        hashes[t['topic_metadata']['name']] = t['topic_metadata']['type_description_hash']
        t['topic_metadata']['type_description_hash'] = ''
    with open(path, 'w') as f:
        yaml.safe_dump(doc, f, sort_keys=False)

    assert migrate_main(['--root', root]) == 0
    assert '1 metadata.yaml files rewritten with type hashes' in capsys.readouterr().out
    info = read_bag_metadata(bag)
    assert {t['topic_metadata']['name']: t['topic_metadata']['type_description_hash']
            for t in info['topics_with_message_count']} == hashes
    assert all(h.startswith('RIHS01_') for h in hashes.values())
    assert sha256_file(mcap) == digest
    assert migrate_main(['--root', root]) == 0
    assert 'rewritten' not in capsys.readouterr().out


def test_type_hash_of_a_channel_without_one_comes_from_its_schema(tmp_path):
    """Read MCAPs written before channels carried ``topic_type_hash`` (or by other tools)."""
    path = str(tmp_path / 'x_0.mcap')
    with open(path, 'wb') as f:
        writer = Writer(f)
        writer.start(profile='ros2', library='test')
        schema = writer.register_schema('std_msgs/msg/Header', 'ros2msg',
                                        message_definition('std_msgs/msg/Header').encode())
        other = writer.register_schema('x/msg/Opaque', 'jsonschema', b'{}')
        header = writer.register_channel('/h', 'cdr', schema)
        opaque = writer.register_channel('/o', 'json', other)
        writer.add_message(header, log_time=1, publish_time=1,
                           data=encode('std_msgs/msg/Header', {'stamp': {'sec': 1, 'nanosec': 2},
                                                               'frame_id': 'f'}))
        writer.add_message(opaque, log_time=2, publish_time=2, data=b'{}')
        writer.finish()
    write_bag_metadata(str(tmp_path), 'x_0.mcap')
    info = read_bag_metadata(str(tmp_path))
    hashes = {t['topic_metadata']['name']: t['topic_metadata']['type_description_hash']
              for t in info['topics_with_message_count']}
    assert hashes == {'/h': _generated_hash('std_msgs/msg/Header'), '/o': ''}

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
Weights and episodes over ROS 2 alone: separate directories, real node processes.

A policy node with an empty weights_dir fetches the learner's actor over ROS 2, refusing a
damaged chunk and resuming after it; a learner with its own store pulls a recorder's episodes,
trains on them and its new version reaches the policy, with no path shared by any two nodes.
"""

import os

from aloe_msgs.msg import PolicyUpdate
from aloe_msgs.srv import ReadChunk
from diagnostic_msgs.msg import DiagnosticArray
import pytest
from reliability_harness import (TINY_CONFIG, diag_counter, make_weights, sha256_of,
                                 synthetic_episode)
from std_msgs.msg import UInt32

from aloe_ros.nodes.common import DIAGNOSTICS, latched
from aloe_ros.nodes.transfer import fill_response
from aloe_ros.transfer.chunks import ChunkReply, directory_server

pytestmark = pytest.mark.ros


def test_policy_refuses_a_damaged_chunk_then_resumes_and_swaps(driver, start_node, tmp_path):
    learner_dir = tmp_path / 'learner_weights'
    info = make_weights(str(learner_dir), TINY_CONFIG, versions=1)
    policy_dir = tmp_path / 'policy_weights'            # does not exist yet: created empty
    name = os.path.basename(info.path)
    assert os.path.getsize(info.path) > 3 * 4096
    # The test plays the learner's weights service, damaging every chunk from byte 8192 on
    # until told otherwise (one byte flipped, the chunk's sha256 left as computed).
    server = directory_server(str(learner_dir), '.safetensors', prefix='policy_v')
    requests = []
    damage = {'on': True}

    def on_read(request, response):
        reply = server.read(request.item, request.offset, request.max_bytes)
        requests.append((request.item, request.offset))
        if damage['on'] and reply.offset >= 8192 and reply.data:
            data = bytearray(reply.data)
            data[0] ^= 0x01
            reply = ChunkReply(**{**reply.__dict__, 'data': bytes(data)})
        return fill_response(reply, response)
    driver.node.create_service(ReadChunk, '/aloe/learner/read_weights', on_read)

    proc = start_node('aloe_ros.nodes.policy', {
        'learner_config': TINY_CONFIG, 'weights_dir': str(policy_dir), 'replan_period': 0.1,
        'weights_chunk_bytes': 4096, 'weights_fetch_timeout': 30.0})
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    versions = driver.collect(UInt32, '/aloe/policy/version', latched(1), keep=lambda m: m.data)
    pub = driver.node.create_publisher(PolicyUpdate, '/aloe/policy_update', latched(1))
    update = PolicyUpdate(version=1, checkpoint_uri='file://' + info.path, sha256=info.sha256,
                          config_hash=info.config_hash)
    pub.publish(update)
    assert driver.spin_until(lambda: diag_counter(diags, 'policy', 'updates_rejected') >= 1,
                             timeout=120), proc.output()
    assert diag_counter(diags, 'policy', 'weight_chunks_refused') == 3
    assert [o for _n, o in requests] == [0, 4096, 8192, 8192, 8192]
    assert 'does not match its sha256' in proc.output(20000)
    assert not (policy_dir / name).exists()               # nothing unverified is ever in place
    assert os.path.getsize(str(policy_dir / name) + '.part') == 8192
    assert versions[-1] == 0 and proc.alive()

    # The link is healthy again: the re-announced version resumes at byte 8192, then swaps.
    damage['on'] = False
    del requests[:]
    pub.publish(update)
    assert driver.spin_until(lambda: versions and versions[-1] == 1, timeout=120), \
        proc.output()
    assert requests[0] == (name, 8192)
    assert sha256_of(str(policy_dir / name)) == info.sha256
    assert sorted(os.listdir(policy_dir)) == [name]
    assert driver.spin_until(lambda: diag_counter(diags, 'policy', 'weights_fetched') == 1,
                             timeout=30)
    assert 'Traceback' not in proc.output(20000)


@pytest.mark.slow
def test_learner_pulls_episodes_and_the_policy_gets_its_weights_over_ros(driver, start_node,
                                                                         tmp_path):
    from aloe_ros.storage import EpisodeStore
    station = EpisodeStore(str(tmp_path / 'station_store'), mode='w')
    for k in range(3):
        station.add_episode(synthetic_episode(f'ep{k}', steps=30, seed=k))
    station_rows = {r.episode_id: r.sha256 for r in station.records()}
    station.close()

    recorder = start_node('aloe_ros.nodes.recorder', {
        'storage_root': str(tmp_path / 'station_store'), 'max_chunk_bytes': 2048})
    learner = start_node('aloe_ros.nodes.learner', {
        'learner_config': TINY_CONFIG, 'store_root': str(tmp_path / 'learner_store'),
        'weights_dir': str(tmp_path / 'learner_weights'), 'pull_from': ['/aloe/recorder'],
        'min_episodes': 3, 'episodes_per_iteration': 3, 'critic_steps': 20, 'actor_steps': 20,
        'poll_period': 0.2, 'evaluate_running_chunks': False})
    policy = start_node('aloe_ros.nodes.policy', {
        'learner_config': TINY_CONFIG, 'weights_dir': str(tmp_path / 'policy_weights')})
    versions = driver.collect(UInt32, '/aloe/policy/version', latched(1), keep=lambda m: m.data)
    assert driver.spin_until(lambda: versions and versions[-1] >= 1, timeout=600), \
        '\n'.join(p.output() for p in (recorder, learner, policy))

    learner_store = EpisodeStore(str(tmp_path / 'learner_store'), mode='r')
    try:
        pulled = {r.episode_id: r for r in learner_store.records()}
        assert {k: r.sha256 for k, r in pulled.items()} == station_rows
        assert {r.reason for r in pulled.values()} == {'pulled from /aloe/recorder'}
        for episode_id, row in pulled.items():
            assert sha256_of(os.path.join(learner_store.root, row.path)) == station_rows[
                episode_id]
    finally:
        learner_store.close()
    fetched = os.path.join(tmp_path, 'policy_weights', 'policy_v000001.safetensors')
    assert sha256_of(fetched) == sha256_of(
        os.path.join(tmp_path, 'learner_weights', 'policy_v000001.safetensors'))
    for proc in (recorder, learner, policy):
        assert proc.alive() and 'Traceback' not in proc.output(50000), proc.output()

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

"""Chunked, resumable, sha256-verified file transfer without a ROS graph."""

import os

import pytest

from aloe_ros.learning.checkpoint import ChecksumError, sha256_file
from aloe_ros.transfer.chunks import (ChunkReply, Download, FileServer, TransferError,
                                      TransferStats, check_item_name, directory_server, fetch)


@pytest.fixture
def served(tmp_path):
    """Serve a 100 000-byte file from a directory; return (server, name, bytes)."""
    src = tmp_path / 'src'
    src.mkdir()
    data = os.urandom(100_000)
    (src / 'policy_v000001.safetensors').write_bytes(data)
    return directory_server(str(src), '.safetensors', prefix='policy_v'), \
        'policy_v000001.safetensors', data


def reader(server, name, offsets=None, damage=None):
    """Return read(offset, n) on ``server``; ``damage(k, reply)`` may alter the k-th reply."""
    count = [0]

    def read(offset, n):
        reply = server.read(name, offset, n)
        if offsets is not None:
            offsets.append(offset)
        if damage is not None:
            reply = damage(count[0], reply)
        count[0] += 1
        return reply
    return read


def flip(reply):
    """Return the reply with one data byte changed (chunk sha256 left as sent)."""
    data = bytearray(reply.data)
    data[len(data) // 2] ^= 0xFF
    return ChunkReply(**{**reply.__dict__, 'data': bytes(data)})


def test_fetch_reassembles_the_file_in_chunks(served, tmp_path):
    server, name, data = served
    dest = str(tmp_path / 'dst' / name)
    offsets = []
    stats = fetch(reader(server, name, offsets), Download(dest), chunk_bytes=30_000)
    assert open(dest, 'rb').read() == data
    assert offsets == [0, 30_000, 60_000, 90_000]
    assert stats.bytes == len(data) and stats.chunks == 4 and stats.refused_chunks == 0
    assert not os.path.exists(dest + '.part') and not os.path.exists(dest + '.part.json')


def test_a_damaged_chunk_is_refused_and_read_again(served, tmp_path):
    server, name, data = served
    dest = str(tmp_path / name)
    offsets = []
    stats = fetch(reader(server, name, offsets, lambda k, r: flip(r) if k == 1 else r),
                  Download(dest), chunk_bytes=30_000)
    assert open(dest, 'rb').read() == data
    assert stats.refused_chunks == 1 and 'does not match its sha256' in stats.refusals[0]
    assert offsets == [0, 30_000, 30_000, 60_000, 90_000]


def test_persistent_damage_stops_the_transfer_and_a_later_one_resumes(served, tmp_path):
    server, name, data = served
    dest = str(tmp_path / name)
    stats = TransferStats()
    with pytest.raises(TransferError, match='3 chunks refused in a row'):
        fetch(reader(server, name, damage=lambda k, r: flip(r) if r.offset >= 60_000 else r),
              Download(dest, sha256_file(os.path.join(server_dir(server, name)))),
              chunk_bytes=30_000, stats=stats)
    assert stats.refused_chunks == 3
    assert not os.path.exists(dest)
    assert os.path.getsize(dest + '.part') == 60_000   # the verified bytes are kept
    offsets = []
    stats = fetch(reader(server, name, offsets), Download(dest), chunk_bytes=30_000)
    assert offsets == [60_000, 90_000] and stats.resumed_from == 60_000
    assert open(dest, 'rb').read() == data


def server_dir(server, name):
    """Return the served path of ``name``."""
    return server._resolve(name)[0]


def test_a_station_that_goes_away_keeps_the_partial_file(served, tmp_path):
    server, name, data = served
    dest = str(tmp_path / name)

    def flaky(offset, n):
        if offset >= 40_000:
            raise TimeoutError('service did not answer')
        return server.read(name, offset, n)
    with pytest.raises(TimeoutError):
        fetch(flaky, Download(dest), chunk_bytes=20_000)
    assert os.path.getsize(dest + '.part') == 40_000
    stats = fetch(reader(server, name), Download(dest), chunk_bytes=20_000)
    assert stats.resumed_from == 40_000 and stats.bytes == 60_000
    assert open(dest, 'rb').read() == data


def test_a_wrong_whole_file_sha256_is_refused_and_discarded(served, tmp_path):
    server, name, data = served
    dest = str(tmp_path / name)
    lie = FileServer(lambda item: (server_dir(server, name), 'ab' * 32))
    with pytest.raises(ChecksumError, match='announced abab'):
        fetch(lambda o, n: lie.read(name, o, n), Download(dest), chunk_bytes=50_000)
    assert not os.path.exists(dest) and not os.path.exists(dest + '.part')


def test_a_reply_for_another_version_of_the_item_is_refused(served, tmp_path):
    server, name, data = served
    download = Download(str(tmp_path / name), sha256='0' * 64)
    with pytest.raises(TransferError, match='changed on the server'):
        fetch(reader(server, name), download, chunk_bytes=50_000)
    assert download.offset == 0


def test_an_item_replaced_since_the_last_attempt_restarts_from_zero(served, tmp_path):
    server, name, data = served
    dest = str(tmp_path / name)
    with pytest.raises(TimeoutError):
        fetch(lambda o, n: server.read(name, o, n) if o == 0 else (_ for _ in ()).throw(
            TimeoutError()), Download(dest), chunk_bytes=30_000)
    new = os.urandom(50_000)
    with open(server_dir(server, name), 'wb') as f:
        f.write(new)
    offsets = []
    stats = fetch(reader(server, name, offsets), Download(dest), chunk_bytes=30_000)
    assert open(dest, 'rb').read() == new
    assert offsets[:2] == [30_000, 0] and stats.refused_chunks == 1


def test_the_server_serves_only_plain_names_inside_its_directory(served, tmp_path):
    server, name, data = served
    outside = tmp_path / 'policy_v000009.safetensors'
    outside.write_bytes(b'secret')
    os.symlink(outside, tmp_path / 'src' / 'policy_v000008.safetensors')
    (tmp_path / 'src' / 'learner_state.safetensors').write_bytes(b'state')
    for item, why in [('../policy_v000009.safetensors', 'plain file name'),
                      ('policy_v000008.safetensors', 'no such file'),
                      ('learner_state.safetensors', 'only policy_v'),
                      ('policy_v000002.safetensors', 'no such file'),
                      ('.hidden.safetensors', 'plain file name'),
                      ('policy_v000001.json', 'plain file name')]:
        reply = server.read(item, 0, 100)
        assert not reply.success and why in reply.message, (item, reply.message)
        assert not reply.data
    reply = server.read(name, 200_000, 10)
    assert not reply.success and 'past its 100000 bytes' in reply.message
    reply = server.read(name, 99_990, 1_000_000)
    assert reply.success and reply.data == data[99_990:]


def test_chunks_are_capped_by_the_server():
    assert FileServer(lambda item: ('/dev/null', ''), max_chunk_bytes=1 << 40).max_chunk_bytes \
        == 8 * 1024 * 1024


def test_item_names():
    check_item_name('policy_v000001.safetensors', '.safetensors')
    check_item_name('8a4f-1c_2.mcap')
    for bad in ('', '.', '..', 'a/b', 'a b', 'x' * 201, 'policy.json'):
        with pytest.raises(ValueError):
            check_item_name(bad, '.safetensors' if bad == 'policy.json' else '')

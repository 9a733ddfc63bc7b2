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
LeRobotDataset v3.0 export / import, checked against the v3.0 layout of LeRobot's source.

LeRobot itself cannot be installed here (it pins another torch); these tests read the files
back with pyarrow and PyAV and check what LeRobot's ``datasets`` code reads: the paths of
``DEFAULT_DATA_PATH`` / ``DEFAULT_VIDEO_PATH`` / ``DEFAULT_EPISODES_PATH``, the default
features (timestamp, frame_index, episode_index, index, task_index), the episode rows'
``dataset_from_index`` / ``dataset_to_index`` and ``videos/<key>/from_timestamp`` offsets, the
tasks table indexed by ``task`` and stats with min / max / mean / std / count.
"""

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aloe_ros.learning.episode import (OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_TIMEOUT,
                                       SOURCE_HUMAN, SOURCE_POLICY)
from aloe_ros.storage import EpisodeStore, make_episode
from aloe_ros.storage.convert import EVENT_ENDED, EVENT_STARTED, JOINT_NAMES_14
from aloe_ros.storage.export import main as export_main
from aloe_ros.storage.lerobot import (LeRobotFormatError, decode_video, export_lerobot,
                                      import_lerobot, import_main)

H, W = 16, 24
OUTCOMES = (OUTCOME_SUCCESS, OUTCOME_TIMEOUT, OUTCOME_FAILURE)


def smooth_frames(steps, offset):
    """Gradient images that H.264 keeps within a few grey levels."""
    y, x = np.mgrid[0:H, 0:W]
    frames = np.empty((steps, H, W, 3), np.uint8)
    for t in range(steps):
        for c in range(3):
            frames[t, :, :, c] = np.clip(30 + 4 * x + 3 * y + 2 * t + 40 * c + offset, 0, 255)
    return frames


def make_store(root, lengths=(12, 9, 15), dt=0.02):
    store = EpisodeStore(root, mode='w')
    eps = []
    for k, (n, outcome) in enumerate(zip(lengths, OUTCOMES)):
        rng = np.random.default_rng(k)
        sources = np.full(n, SOURCE_POLICY, np.uint8)
        sources[n // 3: n // 2] = SOURCE_HUMAN
        ep = make_episode(f'ep{k}', actions=rng.normal(size=(n, 14)),
                          proprio=rng.normal(size=(n, 14)),
                          sources=sources,
                          policy_versions=np.where(sources == SOURCE_POLICY, k + 1, 0),
                          images={'cam_high': smooth_frames(n, 10 * k),
                                  'cam_left_wrist': smooth_frames(n, 50 - 10 * k)},
                          outcome=outcome, task='handover',
                          instruction='hand the cube over' if k != 1 else 'pick the cube', seed=k)
        store.add_episode(ep, dt=dt, start_ns=1_000_000_000 * (k + 1))
        eps.append(ep)
    return store, eps


@pytest.fixture
def exported(tmp_path):
    store, eps = make_store(str(tmp_path / 'store'))
    out = str(tmp_path / 'ds')
    report = export_lerobot(store, out, progress=False)
    store.close()
    return out, eps, report


def test_export_writes_the_v3_layout(exported):
    out, eps, report = exported
    n_total = sum(len(e) for e in eps)
    assert report.episodes == 3 and report.frames == n_total and report.fps == 50
    for rel in ('meta/info.json', 'meta/stats.json', 'meta/tasks.parquet',
                'meta/episodes/chunk-000/file-000.parquet', 'data/chunk-000/file-000.parquet',
                'videos/observation.images.cam_high/chunk-000/file-000.mp4',
                'videos/observation.images.cam_left_wrist/chunk-000/file-000.mp4'):
        assert os.path.isfile(os.path.join(out, rel)), rel
    assert not os.path.exists(out + '.partial')
    with open(os.path.join(out, 'meta/info.json')) as f:
        info = json.load(f)
    assert info['codebase_version'] == 'v3.0' and info['fps'] == 50
    assert (info['total_episodes'], info['total_frames'], info['total_tasks']) == (3, n_total, 2)
    assert info['data_path'].format(chunk_index=0,
                                    file_index=0) == 'data/chunk-000/file-000.parquet'
    feats = info['features']
    assert feats['observation.state'] == {'dtype': 'float32', 'shape': [14],
                                          'names': JOINT_NAMES_14}
    assert feats['action']['names'] == JOINT_NAMES_14
    cam = feats['observation.images.cam_high']
    assert cam['dtype'] == 'video' and cam['shape'] == [H, W, 3]
    assert cam['info']['video.fps'] == 50 and cam['info']['video.pix_fmt'] == 'yuv420p'
    for key in ('timestamp', 'frame_index', 'episode_index', 'index', 'task_index', 'source',
                'policy_version', 'intervention', 'next.reward', 'next.done', 'next.truncated'):
        assert feats[key]['shape'] == [1], key

    data = pq.read_table(os.path.join(out, 'data/chunk-000/file-000.parquet'))
    assert data.schema.field('observation.state').type == pa.list_(pa.float32(), 14)
    assert data.schema.field('next.done').type == pa.bool_()
    assert set(data.column_names) == {k for k, ft in feats.items() if ft['dtype'] != 'video'}
    d = data.to_pydict()
    np.testing.assert_array_equal(d['index'], np.arange(n_total))
    episodes = pq.read_table(os.path.join(out,
                                          'meta/episodes/chunk-000/file-000.parquet')).to_pylist()
    tasks = pq.read_table(os.path.join(out, 'meta/tasks.parquet'))
    assert json.loads(tasks.schema.metadata[b'pandas'])['index_columns'] == ['task']
    task_of = dict(zip(tasks.column('task_index').to_pylist(), tasks.column('task').to_pylist()))
    for k, (ep, row) in enumerate(zip(eps, episodes)):
        lo, hi = row['dataset_from_index'], row['dataset_to_index']
        assert row['episode_index'] == k and row['length'] == len(ep) == hi - lo
        assert row['aloe.episode_id'] == ep.episode_id and row['aloe.outcome'] == ep.outcome
        np.testing.assert_array_equal(np.array(d['observation.state'][lo:hi], np.float32),
                                      ep.proprio)
        np.testing.assert_array_equal(np.array(d['action'][lo:hi], np.float32), ep.actions)
        np.testing.assert_array_equal(d['source'][lo:hi], ep.sources)
        np.testing.assert_array_equal(d['policy_version'][lo:hi], ep.policy_versions)
        np.testing.assert_array_equal(d['intervention'][lo:hi], ep.interventions)
        np.testing.assert_allclose(d['next.reward'][lo:hi], ep.rewards)
        np.testing.assert_array_equal(d['frame_index'][lo:hi], np.arange(len(ep)))
        np.testing.assert_allclose(d['timestamp'][lo:hi], np.arange(len(ep)) / 50, atol=1e-6)
        assert d['next.done'][lo:hi] == [False] * (len(ep) - 1) + [ep.terminated]
        assert d['next.truncated'][lo:hi] == [False] * (len(ep) - 1) + [ep.truncated]
        assert {task_of[i]
                for i in d['task_index'][lo:hi]} == {ep.instruction} == set(row['tasks'])
        assert row['videos/observation.images.cam_high/from_timestamp'] == pytest.approx(lo / 50)
        assert row['videos/observation.images.cam_high/to_timestamp'] == pytest.approx(hi / 50)
        assert row['stats/action/count'] == [len(ep)]

    with open(os.path.join(out, 'meta/stats.json')) as f:
        stats = json.load(f)
    states = np.concatenate([e.proprio for e in eps]).astype(np.float64)
    np.testing.assert_allclose(stats['observation.state']['mean'], states.mean(0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(stats['observation.state']['std'], states.std(0), rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(stats['observation.state']['min'], states.min(0), rtol=1e-6)
    assert stats['observation.state']['count'] == [n_total]
    img = stats['observation.images.cam_high']
    assert np.array(img['mean']).shape == (3, 1, 1) and img['count'] == [n_total]
    all_frames = np.concatenate([e.images['cam_high'] for e in eps]) / 255.0
    np.testing.assert_allclose(np.array(img['max']).ravel(), all_frames.max(axis=(0, 1, 2)),
                               rtol=1e-6)


def test_videos_decode_to_every_frame(exported):
    out, eps, _report = exported
    for cam in ('cam_high', 'cam_left_wrist'):
        frames = decode_video(os.path.join(
            out, f'videos/observation.images.{cam}/chunk-000/file-000.mp4'))
        expected = np.concatenate([e.images[cam] for e in eps])
        assert frames.shape == expected.shape
        err = np.abs(frames.astype(int) - expected.astype(int))
        assert err.mean() < 3 and err.max() < 40, (err.mean(), err.max())


def test_round_trip_export_import(exported, tmp_path):
    out, eps, _report = exported
    store = EpisodeStore(str(tmp_path / 'back'), mode='w')
    added = import_lerobot(out, store, progress=False)
    assert added == [e.episode_id for e in eps]
    for ep in eps:
        back = store.load_episode(ep.episode_id)
        np.testing.assert_allclose(back.actions, ep.actions, rtol=1e-6)
        np.testing.assert_allclose(back.proprio, ep.proprio, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(back.sources, ep.sources)
        np.testing.assert_array_equal(back.policy_versions, ep.policy_versions)
        np.testing.assert_array_equal(back.interventions, ep.interventions)
        assert (back.outcome, back.terminated,
                back.truncated) == (ep.outcome, ep.terminated, ep.truncated)
        assert back.instruction == ep.instruction and back.seed == ep.seed
        for cam in ep.images:
            assert back.images[cam].shape == ep.images[cam].shape
            assert np.abs(back.images[cam].astype(int) - ep.images[cam].astype(int)).mean() < 3
    assert import_lerobot(out, store, progress=False) == []   # already there: nothing added twice
    store.close()


def test_import_of_a_foreign_dataset_gives_human_demos(exported, tmp_path, capsys):
    out, eps, _report = exported
    ours = {'source', 'policy_version', 'intervention'}
    path = os.path.join(out, 'data/chunk-000/file-000.parquet')
    data = pq.read_table(path)
    pq.write_table(data.drop_columns([c for c in data.column_names if c in ours]), path)
    path = os.path.join(out, 'meta/episodes/chunk-000/file-000.parquet')
    rows = pq.read_table(path)
    pq.write_table(rows.drop_columns([c for c in rows.column_names if c.startswith('aloe.')]),
                   path)
    root = str(tmp_path / 'demos')
    assert import_main(['--format', 'lerobot', '--src', out, '--root', root]) == 0
    assert 'imported 3 episodes' in capsys.readouterr().out
    store = EpisodeStore(root)
    got = [store.load_episode(i) for i in store.episode_ids()]
    assert [len(e) for e in got] == [len(e) for e in eps]
    assert all((e.sources == SOURCE_HUMAN).all() and e.outcome == OUTCOME_SUCCESS for e in got)
    np.testing.assert_allclose(got[1].actions, eps[1].actions, rtol=1e-6)
    store.close()


def test_export_refuses_an_existing_directory_and_mixed_rates(tmp_path):
    store, _eps = make_store(str(tmp_path / 'store'))
    out = tmp_path / 'ds'
    out.mkdir()
    (out / 'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError):
        export_lerobot(store, str(out), progress=False)
    assert os.listdir(out) == ['keep.txt']
    store.add_episode(make_episode('slow', actions=np.zeros((5, 14)), proprio=np.zeros((5, 14)),
                                   images={'cam_high': smooth_frames(5, 0),
                                           'cam_left_wrist': smooth_frames(5, 0)}),
                      dt=0.1, start_ns=10 ** 10)
    with pytest.raises(ValueError, match='runs at 10.0 Hz, the dataset at 50 Hz'):
        export_lerobot(store, str(tmp_path / 'mixed'), progress=False)
    assert not os.path.exists(tmp_path
                              / 'mixed') and not os.path.exists(tmp_path / 'mixed.partial')
    store.close()


def test_export_command_line(tmp_path, capsys):
    store, eps = make_store(str(tmp_path / 'store'), lengths=(6, 4, 5))
    store.close()
    out = str(tmp_path / 'ds')
    assert export_main(['--root', str(tmp_path / 'store'), '--out', out, '--format',
                        'lerobot']) == 0
    printed = capsys.readouterr().out
    assert 'exported 3 episodes, 15 frames at 50 fps' in printed
    assert export_main(['--root', str(tmp_path / 'store'), '--out', out, '--format',
                        'lerobot']) == 1
    assert 'exists' in capsys.readouterr().err


def test_import_rejects_other_versions(exported, tmp_path):
    out, _eps, _report = exported
    with open(os.path.join(out, 'meta/info.json')) as f:
        info = json.load(f)
    info['codebase_version'] = 'v2.1'
    with open(os.path.join(out, 'meta/info.json'), 'w') as f:
        json.dump(info, f)
    store = EpisodeStore(str(tmp_path / 'x'), mode='w')
    with pytest.raises(LeRobotFormatError, match="codebase_version 'v2.1'"):
        import_lerobot(out, store, progress=False)
    with pytest.raises(LeRobotFormatError, match='no meta/info.json'):
        import_lerobot(str(tmp_path), store, progress=False)
    assert store.records() == []
    store.close()


NATIVE_H, NATIVE_W = 48, 64


def native_frame(k, offset=0):
    """Return a smooth full-size frame whose brightness names camera frame ``k``."""
    y, x = np.mgrid[0:NATIVE_H, 0:NATIVE_W]
    frame = np.empty((NATIVE_H, NATIVE_W, 3), np.uint8)
    for c in range(3):
        frame[:, :, c] = np.clip(20 + x + y // 2 + 12 * k + 30 * c + offset, 0, 255)
    return frame


def record_with_native_cameras(root, steps=20, dropped=(), compressed_cam='cam_left_wrist'):
    """
    Record an episode as the recorder does: 50 Hz steps, 25 Hz cameras on their own topics.

    The observation of step t holds camera frame t // 2 downscaled to 16x24 and stamped with
    that frame's stamp; ``cam_high`` is a raw Image topic, ``compressed_cam`` a PNG
    CompressedImage one. Frames in ``dropped`` were used by an observation but never reached
    the recorder (the export then takes the frame before).
    """
    import cv2

    from aloe_ros.storage.camera_frames import COMPRESSED_TYPE, IMAGE_TYPE, transcode
    from aloe_ros.storage.convert import header, image_message, split_proprio
    from aloe_ros.storage.episode_file import encode
    store = EpisodeStore(root, mode='w')
    start, dt = 1_000_000_000, 20_000_000
    rec = store.begin_episode('handover', 'hand the cube over', 0, 'nat0', start * 1e-9)
    topics = {'cam_high': ('/cam_high/image_raw', IMAGE_TYPE)}
    if compressed_cam:
        topics[compressed_cam] = (f'/{compressed_cam}/image_raw/compressed', COMPRESSED_TYPE)
    for cam, (topic, kind) in topics.items():
        rec.add_topic(topic, kind, 2, 2, 5)
    event = {'header': header(start), 'episode_id': 'nat0', 'event': EVENT_STARTED, 'outcome': 0,
             'terminated': False, 'truncated': False, 'task': 'handover',
             'task_instruction': 'hand the cube over', 'policy_version': 1, 'seed': 0}
    rec.write('/aloe/episode_event', event, start)
    rng = np.random.default_rng(0)
    cams = ['cam_high', 'cam_left_wrist']
    for t in range(steps):
        t_ns = start + t * dt
        k = t // 2
        frame_ns = start + k * 2 * dt
        if t % 2 == 0 and k not in dropped:
            for cam, (topic, kind) in topics.items():
                msg = image_message(native_frame(k, 5 * cams.index(cam)), frame_ns,
                                    f'{cam}_optical_frame')
                data = encode(IMAGE_TYPE, msg)
                rec.write(topic, transcode(data, 'png') if kind == COMPRESSED_TYPE else data,
                          frame_ns)
        small = {c: cv2.resize(native_frame(k, 5 * cams.index(c)), (W, H)) for c in cams}
        pos, grip = split_proprio(rng.normal(size=14))
        obs = {'header': header(t_ns, 'world'), 'camera_names': cams,
               'images': [image_message(small[c], frame_ns, f'{c}_optical_frame') for c in cams],
               'joint_names': [], 'position': pos.tolist(), 'velocity': [],
               'gripper': grip.tolist(), 'task_instruction': 'hand the cube over',
               'max_input_age': 0.0, 'stale': False}
        rec.write('/aloe/observation', obs, t_ns)
        step = {'header': header(t_ns), 'episode_id': 'nat0', 'step_index': t, 'source': 0,
                'policy_version': 1, 'chunk_id': 0, 'index_in_chunk': t, 'intervention': False,
                'joint_names': list(JOINT_NAMES_14), 'action': rng.normal(size=14).tolist(),
                'observed_position': rng.normal(size=14).tolist()}
        rec.write('/aloe/executed_step', step, t_ns)
    end = start + steps * dt
    rec.write('/aloe/episode_event', dict(event, header=header(end), event=EVENT_ENDED,
                                          outcome=OUTCOME_SUCCESS, terminated=True), end)
    rec.close(OUTCOME_SUCCESS, 'test')
    return store


@pytest.mark.parametrize('dropped', [(), (3,)])
def test_export_takes_the_native_camera_frames_when_recorded(tmp_path, dropped):
    """Each step's video frame is the full-size camera frame its observation was made from."""
    store = record_with_native_cameras(str(tmp_path / 'store'), dropped=dropped)
    out = str(tmp_path / 'ds')
    report = export_lerobot(store, out, progress=False)
    store.close()
    assert report.image_sources == {
        'observation.images.cam_high': '/cam_high/image_raw',
        'observation.images.cam_left_wrist': '/cam_left_wrist/image_raw/compressed'}
    with open(os.path.join(out, 'meta', 'info.json')) as f:
        info = json.load(f)
    for c, cam in enumerate(('cam_high', 'cam_left_wrist')):
        key = f'observation.images.{cam}'
        assert info['features'][key]['shape'] == [NATIVE_H, NATIVE_W, 3]
        assert info['features'][key]['info']['video.height'] == NATIVE_H
        frames = decode_video(os.path.join(out, f'videos/{key}/chunk-000/file-000.mp4'))
        assert frames.shape == (20, NATIVE_H, NATIVE_W, 3)
        source = [t // 2 if t // 2 not in dropped else t // 2 - 1 for t in range(20)]
        expected = np.stack([native_frame(k, 5 * c) for k in source])
        err = np.abs(frames.astype(int) - expected.astype(int))
        assert err.mean() < 3, (cam, err.mean())
        # Frames differ by 12 grey levels per camera frame: the right one is nearest.
        for t in range(20):
            dist = [np.abs(frames[t].astype(int) - native_frame(k, 5 * c).astype(int)).mean()
                    for k in range(10)]
            assert int(np.argmin(dist)) == source[t], (cam, t, dist)
    with open(os.path.join(out, 'meta', 'stats.json')) as f:
        stats = json.load(f)
    assert np.array(stats['observation.images.cam_high']['mean']).shape == (3, 1, 1)


def test_export_images_model_and_native_modes(tmp_path, capsys):
    store = record_with_native_cameras(str(tmp_path / 'store'), compressed_cam='')
    model = export_lerobot(store, str(tmp_path / 'm'), progress=False, images='model')
    assert model.image_sizes == {'observation.images.cam_high': (W, H),
                                 'observation.images.cam_left_wrist': (W, H)}
    auto = export_lerobot(store, str(tmp_path / 'a'), progress=False)
    assert auto.image_sources == {'observation.images.cam_high': '/cam_high/image_raw',
                                  'observation.images.cam_left_wrist': 'observation'}
    assert auto.image_sizes['observation.images.cam_high'] == (NATIVE_W, NATIVE_H)
    with pytest.raises(ValueError, match=r"no native topic for cameras \['cam_left_wrist'\]"):
        export_lerobot(store, str(tmp_path / 'n'), progress=False, images='native')
    assert not os.path.exists(str(tmp_path / 'n'))
    store.close()
    assert export_main(['--root', str(tmp_path / 'store'), '--out', str(tmp_path / 'c'),
                        '--format', 'lerobot', '--images', 'model']) == 0
    out = capsys.readouterr().out
    assert f'observation.images.cam_high: {W}x{H} from observation' in out

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
LeRobotDataset v3.0 export and import (``aloe export --format lerobot``, ``aloe import``).

Layout written (the v3.0 layout of LeRobot's ``datasets`` code; written here with pyarrow and
PyAV, without LeRobot itself)::

    meta/info.json                                  codebase_version v3.0, fps, features, paths
    meta/stats.json                                 min / max / mean / std / count per feature
    meta/tasks.parquet                              task (pandas index) -> task_index
    meta/episodes/chunk-000/file-000.parquet        one row per episode: length, tasks, offsets
                                                    into the data and video files, stats/...
    data/chunk-000/file-000.parquet                 one row per frame (control tick)
    videos/observation.images.<cam>/chunk-000/file-000.mp4   every episode's frames, in order

Frame columns: ``observation.state`` (P,) and ``action`` (D,) float32 with joint names,
``timestamp`` (s from the episode start, ``frame_index / fps``), ``frame_index``,
``episode_index``, ``index``, ``task_index``, plus aloe's own: ``source`` (0 policy, 1 human,
2 scripted, 3 hold), ``policy_version``, ``intervention``, ``next.reward``, ``next.done``
(true at the last frame of a terminated episode) and ``next.truncated`` (last frame of a
timeout/abort). Episode rows also carry ``aloe.episode_id``, ``aloe.outcome`` and ``aloe.seed``
so an import gives back the same episodes.

Images: one frame per step, so video frame k is data row k. When the bag holds the cameras'
own topics (the recorder keeps every camera at its native resolution, docs/INTERFACES.md), each
step's frame is the native frame its observation image was made from (the camera frame with
that header stamp; the latest one before it when that frame was dropped), so a lab can train
at any input size. A camera ``<cam>`` of the observation is found on the ``sensor_msgs/Image``
or ``CompressedImage`` topic with ``<cam>`` as one of its names (``/<cam>/image_raw``,
``/<cam>/image_raw/compressed``; raw preferred). Without them (``images='model'``, or bags that
have none) the observation images are exported, at the model's input size. Video: H.264
(libx264, yuv420p, a key frame every ``gop`` frames as LeRobot's encoder settings use for exact
seeking).

A dataset is written into ``<out>.partial`` and renamed to ``<out>`` when complete; an existing
``<out>`` is never overwritten.
"""

import argparse
import json
import os
import shutil
import sys
from fractions import Fraction
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from aloe_ros.learning.episode import (Episode, OUTCOME_NAMES, OUTCOME_SUCCESS, SOURCE_HUMAN,
                                       SOURCE_NAMES)
from aloe_ros.storage.camera_frames import (COMPRESSED_TYPE, IMAGE_TYPE, decode_compressed,
                                            image_array)
from aloe_ros.storage.convert import JOINT_NAMES_14, make_episode, stamp_ns
from aloe_ros.storage.episode_file import decode
from aloe_ros.storage.store import EpisodeStore, StoreLockedError

CODEBASE_VERSION = 'v3.0'
STATE, ACTION = 'observation.state', 'action'
IMAGE_PREFIX = 'observation.images.'
DATA_PATH = 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet'
VIDEO_PATH = 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4'
EPISODES_PATH = 'meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet'
TASKS_PATH = 'meta/tasks.parquet'
DEFAULT_FPS = 50

# Frame columns beyond LeRobot's defaults: (dtype, description).
EXTRA_COLUMNS = {
    'source': ('int64', 'who produced the executed action: ' +
               ', '.join(f'{k} {v}' for k, v in SOURCE_NAMES.items())),
    'policy_version': ('int64',
                       'version of the policy that produced the step (0 when not the policy)'),
    'intervention': ('bool', 'a human was in control at this step'),
    'next.reward': ('float32', 'reward received after executing the action'),
    'next.done': ('bool', 'the episode terminated (success or failure) after this step'),
    'next.truncated': ('bool', 'the episode was cut (timeout, abort) after this step'),
}
INDEX_COLUMNS = ('timestamp', 'frame_index', 'episode_index', 'index', 'task_index')


class LeRobotFormatError(ValueError):
    """A dataset directory is not a LeRobotDataset v3.0 this module can read."""


def _require_pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:  # pragma: no cover - pinned in requirements/python.txt
        raise RuntimeError('the LeRobot format needs pyarrow (requirements/python.txt)') from exc
    return pyarrow


def _require_av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - pinned in requirements/python.txt
        raise RuntimeError('LeRobot videos need PyAV, package av '
                           '(requirements/python.txt)') from exc
    return av


# ----------------------------------------------------------------------------------- stats

class _RunningStats:
    """min / max / mean / std / count of a feature over frames (axis 0, or per image channel)."""

    def __init__(self, image: bool = False):
        self.image = image
        self.frames = 0
        self.n = 0
        self.sum = self.sumsq = self.min = self.max = None

    def add(self, x: np.ndarray) -> None:
        """Add frames: (T,) or (T, D) values, or (T, h, w, 3) uint8 images."""
        self.frames += len(x)
        x = np.asarray(x, dtype=np.float64)
        if self.image:   # per channel in [0, 1]; LeRobot keeps image stats as (3, 1, 1)
            x = x.reshape(-1, x.shape[-1]) / 255.0
        elif x.ndim == 1:
            x = x[:, None]
        s, ss = x.sum(axis=0), (x * x).sum(axis=0)
        lo, hi = x.min(axis=0), x.max(axis=0)
        if self.n == 0:
            self.sum, self.sumsq, self.min, self.max = s, ss, lo, hi
        else:
            self.sum, self.sumsq = self.sum + s, self.sumsq + ss
            self.min, self.max = np.minimum(self.min, lo), np.maximum(self.max, hi)
        self.n += x.shape[0]

    def merge(self, other: '_RunningStats') -> None:
        """Fold another feature's statistics into these."""
        self.sum, self.sumsq = self.sum + other.sum, self.sumsq + other.sumsq
        self.min, self.max = np.minimum(self.min, other.min), np.maximum(self.max, other.max)
        self.n += other.n
        self.frames += other.frames

    def result(self) -> Dict[str, list]:
        """Return ``{min, max, mean, std, count}`` as JSON-ready lists."""
        mean = self.sum / self.n
        std = np.sqrt(np.maximum(self.sumsq / self.n - mean * mean, 0.0))
        out = {'min': self.min, 'max': self.max, 'mean': mean, 'std': std}
        if self.image:
            out = {k: v.reshape(-1, 1, 1) for k, v in out.items()}
        out = {k: v.tolist() for k, v in out.items()}
        out['count'] = [int(self.frames)]
        return out


def _episode_stats(columns: Dict[str, np.ndarray], images: Dict[str, np.ndarray]
                   ) -> Dict[str, _RunningStats]:
    stats = {}
    for key, values in list(columns.items()) + list(images.items()):
        stats[key] = _RunningStats(image=key in images)
        stats[key].add(values)
    return stats


def _merge(total: Dict[str, _RunningStats], part: Dict[str, _RunningStats]) -> None:
    for key, s in part.items():
        if key in total:
            total[key].merge(s)
        else:
            total[key] = s


# ----------------------------------------------------------------------------------- video

def pick_codec(preferred: Sequence[str] = ('libx264', 'h264', 'libopenh264', 'mpeg4')) -> str:
    """Return the first encoder of ``preferred`` this PyAV build has."""
    av = _require_av()
    for name in preferred:
        try:
            av.codec.Codec(name, 'w')
        except Exception:  # av raises UnknownCodecError (a ValueError) or FFmpegError
            continue
        return name
    raise RuntimeError(f'PyAV has none of the encoders {list(preferred)}')


class _VideoWriter:
    """Appends RGB frames of one camera to one MP4 (frame k at pts k, time base 1/fps)."""

    def __init__(self, path: str, width: int, height: int, fps: int, codec: str, gop: int,
                 crf: int):
        av = _require_av()
        if width % 2 or height % 2:
            raise ValueError(f'{path}: yuv420p video needs even sizes, got {width}x{height}')
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.av = av
        self.container = av.open(path, mode='w')
        self.stream = self.container.add_stream(codec, rate=fps)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = 'yuv420p'
        self.stream.time_base = Fraction(1, fps)
        options = {'g': str(gop)}
        if codec == 'libx264':
            options.update(crf=str(crf), preset='veryfast')
        self.stream.options = options
        self.size = (height, width)
        self.frames = 0

    def write(self, frames: np.ndarray) -> None:
        if frames.shape[1:] != (*self.size, 3):
            raise ValueError(f'camera frames changed size: {frames.shape[1:3]}, video is '
                             f'{self.size}')
        for arr in frames:
            frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format='rgb24')
            frame.pts = self.frames
            self.frames += 1
            for packet in self.stream.encode(frame):
                self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def decode_video(path: str) -> np.ndarray:
    """Decode every frame of an MP4 into uint8 (T, h, w, 3) RGB."""
    av = _require_av()
    with av.open(path) as container:
        frames = [f.to_ndarray(format='rgb24') for f in container.decode(video=0)]
    if not frames:
        raise LeRobotFormatError(f'{path}: no video frames')
    return np.stack(frames)


def video_info(path: str) -> Dict[str, Any]:
    """Return LeRobot's ``info`` entries of a video feature, probed from the file."""
    av = _require_av()
    with av.open(path) as container:
        s = container.streams.video[0]
        return {'video.height': s.height, 'video.width': s.width,
                'video.codec': s.codec_context.codec.canonical_name if hasattr(
                    s.codec_context.codec, 'canonical_name') else s.codec_context.name,
                'video.pix_fmt': s.codec_context.pix_fmt, 'video.is_depth_map': False,
                'video.fps': int(round(float(s.average_rate or s.base_rate))),
                'video.channels': 3, 'has_audio': bool(container.streams.audio)}


# ----------------------------------------------------------------------------- native frames

IMAGE_MODES = ('auto', 'native', 'model')


def native_camera_topics(mcap_path: str, cameras: Sequence[str]) -> Dict[str, Tuple[str, str]]:
    """
    Return ``{camera: (topic, type)}`` of the cameras whose own topic the bag holds.

    A camera matches an Image / CompressedImage topic that has the camera's name as one of its
    names (``/cam_high/image_raw``); a raw Image topic is preferred over a compressed one.
    """
    from mcap.reader import make_reader
    with open(mcap_path, 'rb') as f:
        summary = make_reader(f).get_summary()
    if summary is None:
        return {}
    found: Dict[str, Tuple[str, str]] = {}
    for channel in sorted(summary.channels.values(), key=lambda c: c.topic):
        schema = summary.schemas.get(channel.schema_id)
        kind = schema.name if schema is not None else ''
        if kind not in (IMAGE_TYPE, COMPRESSED_TYPE):
            continue
        names = channel.topic.strip('/').split('/')
        for cam in cameras:
            if cam in names and (cam not in found or found[cam][1] == COMPRESSED_TYPE
                                 and kind == IMAGE_TYPE):
                found[cam] = (channel.topic, kind)
    return found


def _rgb_frame(kind: str, data: bytes, topic: str) -> np.ndarray:
    """Decode one native camera message into uint8 (h, w, 3) RGB."""
    if kind == COMPRESSED_TYPE:
        arr = decode_compressed(data)
    else:
        arr, _wide = image_array(decode(IMAGE_TYPE, data))
        if arr.ndim == 3:
            arr = arr[:, :, ::-1]   # image_array gives cv2's BGR order
    if arr.dtype != np.uint8:
        raise ValueError(f'{topic}: {arr.dtype} frames (depth?) cannot go into an RGB video: '
                         'export with --images model, or record that camera as rgb8/bgr8/mono8')
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr)


def native_frames(mcap_path: str, topics: Dict[str, Tuple[str, str]],
                  stamps: Dict[str, np.ndarray]) -> Iterable[Tuple[str, np.ndarray]]:
    """
    Yield ``(camera, frame)`` with exactly one native frame per step, per camera, in order.

    Step t of camera c gets the latest frame of c's topic whose header stamp is at or before
    ``stamps[c][t]`` (the stamp of the observation image of step t: the very frame it was made
    from), or the first frame when none is. Frames are read in log-time order and kept one at
    a time, so an episode of full-size frames never sits in memory.
    """
    from mcap.reader import make_reader
    by_topic = {topic: (cam, kind) for cam, (topic, kind) in topics.items()}
    next_step = {cam: 0 for cam in topics}
    latest: Dict[str, Tuple[str, bytes]] = {}      # camera -> (kind, CDR) of its latest frame
    decoded: Dict[str, np.ndarray] = {}            # camera -> that frame, once decoded

    def frame(cam: str) -> np.ndarray:
        if cam not in decoded:
            kind, data = latest[cam]
            decoded[cam] = _rgb_frame(kind, data, topics[cam][0])
        return decoded[cam]

    with open(mcap_path, 'rb') as f:
        for _schema, channel, message in make_reader(f).iter_messages(
                topics=list(by_topic), log_time_order=True):
            cam, kind = by_topic[channel.topic]
            targets = stamps[cam]
            if next_step[cam] >= len(targets):
                continue
            frame_stamp = stamp_ns(decode(kind, message.data))
            first = cam not in latest
            if first:    # steps before the first frame take the first frame
                latest[cam] = (kind, bytes(message.data))
            while next_step[cam] < len(targets) and targets[next_step[cam]] < frame_stamp:
                yield cam, frame(cam)
                next_step[cam] += 1
            if not first:
                latest[cam] = (kind, bytes(message.data))
                decoded.pop(cam, None)
    for cam in topics:
        if next_step[cam] < len(stamps[cam]) and cam not in latest:
            raise ValueError(f'{mcap_path}: no frame on {topics[cam][0]} for camera {cam}')
        while next_step[cam] < len(stamps[cam]):
            yield cam, frame(cam)
            next_step[cam] += 1


# ----------------------------------------------------------------------------------- export

def episode_fps(episode: Episode) -> Optional[float]:
    """Return the control rate of an episode from its step stamps (None with < 2 steps)."""
    stamps = episode.extra.get('stamp')
    if stamps is None or len(stamps) < 2:
        return None
    dt = float(np.median(np.diff(stamps)))
    return 1.0 / dt if dt > 0 else None


def joint_names(dim: int) -> List[str]:
    """Return the names of a state/action vector of size ``dim`` (docs/INTERFACES.md layout)."""
    return list(JOINT_NAMES_14) if dim == 14 else [f'joint_{i}' for i in range(dim)]


def _write_parquet(table: Any, path: str) -> None:
    import pyarrow.parquet as pq
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pq.write_table(table, path, compression='snappy')


def _tasks_table(tasks: List[str]) -> Any:
    """Return the tasks table the way pandas writes a DataFrame indexed by ``task``."""
    pa = _require_pyarrow()
    pandas_meta = {
        'index_columns': ['task'],
        'column_indexes': [{'name': None, 'field_name': None, 'pandas_type': 'unicode',
                            'numpy_type': 'object', 'metadata': {'encoding': 'UTF-8'}}],
        'columns': [{'name': 'task_index', 'field_name': 'task_index', 'pandas_type': 'int64',
                     'numpy_type': 'int64', 'metadata': None},
                    {'name': 'task', 'field_name': 'task', 'pandas_type': 'unicode',
                     'numpy_type': 'object', 'metadata': None}],
        'creator': {'library': 'pyarrow', 'version': pa.__version__},
        'pandas_version': '2.2.3'}
    schema = pa.schema([('task_index', pa.int64()), ('task', pa.string())],
                       metadata={b'pandas': json.dumps(pandas_meta).encode()})
    return pa.table({'task_index': np.arange(len(tasks), dtype=np.int64), 'task': tasks},
                    schema=schema)


def _vector(pa: Any, values: np.ndarray) -> Any:
    values = np.ascontiguousarray(values, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])


class ExportReport:
    """What an export wrote: counts, sizes, time, skipped episodes."""

    def __init__(self, path: str):
        self.path = path
        self.episodes = 0
        self.frames = 0
        self.skipped: List[Tuple[str, str]] = []
        self.fps = 0
        self.cameras: List[str] = []
        self.bytes = 0
        self.seconds = 0.0
        self.image_sources: Dict[str, str] = {}   # video key -> native topic, or 'observation'
        self.image_sizes: Dict[str, Tuple[int, int]] = {}   # video key -> (width, height)


def export_lerobot(store: EpisodeStore, out_dir: str, episode_ids: Optional[Iterable[str]] = None,
                   fps: Optional[int] = None, robot_type: str = 'aloe_bimanual', gop: int = 2,
                   crf: int = 23, codec: Optional[str] = None,
                   progress: bool = True, images: str = 'auto') -> ExportReport:
    """
    Write the complete episodes of ``store`` as a LeRobotDataset v3.0 at ``out_dir``.

    Returns an :class:`ExportReport`. ``images``: ``auto`` exports each camera from its
    native topic when the first episode's bag holds one, else the observation images;
    ``native`` requires every camera's native topic; ``model`` exports the observation images
    (the model's input size). Every later episode must have the native topics the first had.

    Episodes without steps are skipped (LeRobot has no empty episodes) and listed in the report.
    ``fps`` defaults to the control rate measured from the first episode's step stamps; an
    episode whose rate differs by more than 10 % is refused (a dataset has one fps).
    """
    import time
    if images not in IMAGE_MODES:
        raise ValueError(f'images must be one of {", ".join(IMAGE_MODES)}, not {images!r}')
    pa = _require_pyarrow()
    from tqdm import tqdm
    t0 = time.monotonic()
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir):
        raise FileExistsError(f'{out_dir} exists: choose a new directory (nothing is overwritten)')
    tmp = out_dir + '.partial'
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    codec = codec or pick_codec()
    ids = list(store.episode_ids() if episode_ids is None else episode_ids)
    report = ExportReport(out_dir)
    tasks: List[str] = []
    rows: Dict[str, list] = {}
    episode_rows: List[Dict[str, Any]] = []
    total_stats: Dict[str, _RunningStats] = {}
    videos: Dict[str, _VideoWriter] = {}
    state_dim = action_dim = None
    cams: Optional[List[str]] = None
    native_cams: List[str] = []
    index = 0
    try:
        for eid in tqdm(ids, desc='export lerobot', unit='episode', disable=not progress):
            ep = store.load_episode(eid)
            n = len(ep)
            if n == 0:
                report.skipped.append((eid, 'no steps'))
                continue
            rate = episode_fps(ep)
            if fps is None:
                fps = int(round(rate)) if rate else DEFAULT_FPS
            if rate and abs(rate - fps) > 0.1 * fps:
                raise ValueError(f'episode {eid} runs at {rate:.1f} Hz, the dataset at {fps} Hz: '
                                 'export episodes of one rate together (choose them with --id or '
                                 '--task)')
            if state_dim is None:
                state_dim, action_dim = ep.proprio.shape[1], ep.actions.shape[1]
                cams = sorted(ep.images)
            if (ep.proprio.shape[1], ep.actions.shape[1]) != (state_dim, action_dim):
                raise ValueError(f'episode {eid}: state/action sizes {ep.proprio.shape[1]}/'
                                 f'{ep.actions.shape[1]} differ from {state_dim}/{action_dim}')
            if sorted(ep.images) != cams:
                raise ValueError(f'episode {eid}: cameras {sorted(ep.images)}, the dataset has '
                                 f'{cams}')
            path = store.path_of(eid)
            topics = native_camera_topics(path, cams) if images != 'model' and cams else {}
            if not episode_rows:
                if images == 'native' and set(topics) != set(cams):
                    raise ValueError(f'episode {eid}: no native topic for cameras '
                                     f'{sorted(set(cams) - set(topics))}: export with '
                                     '--images model or auto')
                native_cams = sorted(topics)
                report.image_sources = {IMAGE_PREFIX + c: topics[c][0] if c in topics
                                        else 'observation' for c in cams}
            missing = sorted(set(native_cams) - set(topics))
            if missing:
                raise ValueError(f'episode {eid} has no native topic for cameras {missing}, which '
                                 'the dataset exports at native resolution: export it separately, '
                                 'or all with --images model')
            task = ep.instruction or ep.task
            if task not in tasks:
                tasks.append(task)
            episode_index = len(episode_rows)
            done = np.zeros(n, bool)
            truncated = np.zeros(n, bool)
            done[-1], truncated[-1] = bool(ep.terminated), bool(ep.truncated)
            frame_index = np.arange(n, dtype=np.int64)
            columns = {
                STATE: ep.proprio.astype(np.float32), ACTION: ep.actions.astype(np.float32),
                'timestamp': (frame_index / fps).astype(np.float32), 'frame_index': frame_index,
                'episode_index': np.full(n, episode_index, np.int64),
                'index': np.arange(index, index + n, dtype=np.int64),
                'task_index': np.full(n, tasks.index(task), np.int64),
                'source': ep.sources.astype(np.int64),
                'policy_version': ep.policy_versions.astype(np.int64),
                'intervention': ep.interventions.astype(bool),
                'next.reward': ep.rewards.astype(np.float32), 'next.done': done,
                'next.truncated': truncated}
            for key, values in columns.items():
                rows.setdefault(key, []).append(values)
            entry: Dict[str, Any] = {
                'episode_index': episode_index, 'tasks': [task], 'length': n,
                'data/chunk_index': 0, 'data/file_index': 0,
                'dataset_from_index': index, 'dataset_to_index': index + n}
            starts: Dict[str, int] = {}
            image_stats: Dict[str, _RunningStats] = {}

            def add_frames(key: str, frames: np.ndarray) -> None:
                if key not in videos:
                    h, w = frames.shape[1:3]
                    videos[key] = _VideoWriter(os.path.join(tmp, VIDEO_PATH.format(
                        video_key=key, chunk_index=0, file_index=0)), w, h, fps, codec, gop, crf)
                starts.setdefault(key, videos[key].frames)
                videos[key].write(frames)
                k = max(1, min(frames.shape[1:3]) // 150)   # stats on a subsampled view
                image_stats.setdefault(key, _RunningStats(image=True)).add(frames[:, ::k, ::k])

            for c in cams:
                if c not in native_cams:
                    add_frames(IMAGE_PREFIX + c, ep.images[c])
            if native_cams:
                stamps = {c: ep.extra['image_stamp_ns'][:, cams.index(c)] for c in native_cams}
                for c, frame in native_frames(path, {c: topics[c] for c in native_cams}, stamps):
                    add_frames(IMAGE_PREFIX + c, frame[None])
            for c in cams:
                key = IMAGE_PREFIX + c
                if videos[key].frames - starts[key] != n:
                    raise RuntimeError(f'episode {eid}: {videos[key].frames - starts[key]} frames '
                                       f'of {key} for {n} steps')
                entry.update({f'videos/{key}/chunk_index': 0, f'videos/{key}/file_index': 0,
                              f'videos/{key}/from_timestamp': starts[key] / fps,
                              f'videos/{key}/to_timestamp': (starts[key] + n) / fps})
            entry.update({'meta/episodes/chunk_index': 0, 'meta/episodes/file_index': 0})
            stats = _episode_stats(columns, {})
            stats.update(image_stats)
            for key, s in stats.items():
                for stat, value in s.result().items():
                    entry[f'stats/{key}/{stat}'] = value
            entry.update({'aloe.episode_id': ep.episode_id, 'aloe.task': ep.task,
                          'aloe.outcome': int(ep.outcome), 'aloe.seed': int(ep.seed)})
            episode_rows.append(entry)
            _merge(total_stats, stats)
            index += n
        for v in videos.values():
            v.close()
        if not episode_rows:
            raise ValueError('no episode with steps to export')
        data = {}
        for key, parts in rows.items():
            values = np.concatenate(parts)
            data[key] = _vector(pa, values) if values.ndim == 2 else pa.array(values)
        _write_parquet(pa.table(data),
                       os.path.join(tmp, DATA_PATH.format(chunk_index=0, file_index=0)))
        _write_parquet(pa.Table.from_pylist(episode_rows),
                       os.path.join(tmp, EPISODES_PATH.format(chunk_index=0, file_index=0)))
        _write_parquet(_tasks_table(tasks), os.path.join(tmp, TASKS_PATH))
        features: Dict[str, Any] = {
            STATE: {'dtype': 'float32', 'shape': [state_dim], 'names': joint_names(state_dim)},
            ACTION: {'dtype': 'float32', 'shape': [action_dim], 'names': joint_names(action_dim)}}
        for key, writer in videos.items():
            h, w = writer.size
            features[key] = {'dtype': 'video', 'shape': [h, w, 3],
                             'names': ['height', 'width', 'channels'],
                             'info': video_info(os.path.join(tmp, VIDEO_PATH.format(
                                 video_key=key, chunk_index=0, file_index=0)))}
        features.update({
            'timestamp': {'dtype': 'float32', 'shape': [1], 'names': None},
            'frame_index': {'dtype': 'int64', 'shape': [1], 'names': None},
            'episode_index': {'dtype': 'int64', 'shape': [1], 'names': None},
            'index': {'dtype': 'int64', 'shape': [1], 'names': None},
            'task_index': {'dtype': 'int64', 'shape': [1], 'names': None}})
        for key, (dtype, description) in EXTRA_COLUMNS.items():
            features[key] = {'dtype': dtype, 'shape': [1], 'names': None,
                             'description': description}
        info = {
            'codebase_version': CODEBASE_VERSION, 'robot_type': robot_type,
            'total_episodes': len(episode_rows), 'total_frames': index, 'total_tasks': len(tasks),
            'chunks_size': 1000, 'data_files_size_in_mb': 100, 'video_files_size_in_mb': 200,
            'fps': int(fps), 'splits': {'train': f'0:{len(episode_rows)}'},
            'data_path': 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet',
            'video_path': ('videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4'
                           if videos else None),
            'features': features}
        os.makedirs(os.path.join(tmp, 'meta'), exist_ok=True)
        with open(os.path.join(tmp, 'meta', 'info.json'), 'w') as f:
            json.dump(info, f, indent=4)
        with open(os.path.join(tmp, 'meta', 'stats.json'), 'w') as f:
            json.dump({k: s.result() for k, s in total_stats.items()}, f, indent=4)
        os.rename(tmp, out_dir)
    except BaseException:
        for v in videos.values():
            try:
                v.container.close()
            except Exception:  # already closed or broken: the partial directory goes anyway
                pass
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.episodes, report.frames, report.fps = len(episode_rows), index, int(fps)
    report.cameras = list(videos)
    report.image_sizes = {k: (v.size[1], v.size[0]) for k, v in videos.items()}
    report.bytes = sum(os.path.getsize(os.path.join(d, f))
                       for d, _s, fs in os.walk(out_dir) for f in fs)
    report.seconds = time.monotonic() - t0
    return report


# ----------------------------------------------------------------------------------- import

def _read_parquet_dir(root: str, sub: str) -> Any:
    pa = _require_pyarrow()
    import pyarrow.parquet as pq
    base = os.path.join(root, sub)
    files = sorted(os.path.join(d, f) for d, _s, fs in os.walk(base) for f in fs
                   if f.endswith('.parquet'))
    if not files:
        raise LeRobotFormatError(f'{root}: no parquet file under {sub}/')
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options='default')


def read_lerobot(root: str) -> Tuple[Dict[str, Any], List[Dict[str, Any]], Any, List[str]]:
    """Read a v3.0 dataset's info, episode rows, frame table and tasks (in task_index order)."""
    import pyarrow.parquet as pq
    info_path = os.path.join(root, 'meta', 'info.json')
    if not os.path.isfile(info_path):
        raise LeRobotFormatError(f'{root}: no meta/info.json (not a LeRobotDataset)')
    with open(info_path) as f:
        info = json.load(f)
    version = info.get('codebase_version')
    if version != CODEBASE_VERSION:
        raise LeRobotFormatError(f'{root}: codebase_version {version!r}, this reads '
                                 f'{CODEBASE_VERSION} '
                                 '(convert older datasets with LeRobot first)')
    for key in ('fps', 'features', 'data_path'):
        if key not in info:
            raise LeRobotFormatError(f'{info_path}: missing {key!r}')
    features = info['features']
    for key in (STATE, ACTION):
        if key not in features:
            raise LeRobotFormatError(f'{info_path}: no {key!r} feature')
    episodes = _read_parquet_dir(root, 'meta/episodes').to_pylist()
    data = _read_parquet_dir(root, 'data')
    tasks_table = pq.read_table(os.path.join(root, TASKS_PATH)).to_pydict()
    order = np.argsort(tasks_table['task_index'])
    tasks = [tasks_table['task'][i] for i in order]
    return info, episodes, data, tasks


def import_lerobot(root: str, store: EpisodeStore, outcome: int = OUTCOME_SUCCESS,
                   progress: bool = True) -> List[str]:
    """
    Add a LeRobotDataset v3.0's episodes to ``store``; return the new episode ids.

    Without aloe's columns an episode counts as a human demonstration (source human, no
    policy version) ending with ``outcome``; with them (a dataset this module exported) every
    step keeps its source, policy version and intervention flag, and the episode its outcome.
    Episodes whose id is already in the store are skipped.
    """
    from tqdm import tqdm
    info, episodes, data, tasks = read_lerobot(root)
    fps = float(info['fps'])
    features = info['features']
    names = features[ACTION].get('names') or []
    video_keys = [k for k, ft in features.items() if ft.get('dtype') == 'video']
    cols = {name: data.column(name) for name in data.column_names}
    ep_col = np.asarray(cols['episode_index'].to_numpy(zero_copy_only=False))
    videos: Dict[Tuple[str, str], np.ndarray] = {}
    dataset_name = os.path.basename(os.path.abspath(root))
    added = []
    for row in tqdm(sorted(episodes, key=lambda r: r['episode_index']), desc='import lerobot',
                    unit='episode', disable=not progress):
        k = int(row['episode_index'])
        sel = np.flatnonzero(ep_col == k)
        if 'dataset_from_index' in row:
            expected = np.arange(int(row['dataset_from_index']), int(row['dataset_to_index']))
            index = np.asarray(cols['index'].to_numpy(zero_copy_only=False))[sel]
            if len(sel) != len(expected) or not np.array_equal(np.sort(index), expected):
                raise LeRobotFormatError(f'{root}: episode {k} has {len(sel)} frames, its row '
                                         'says '
                                         f'{len(expected)}')
        frame_index = np.asarray(cols['frame_index'].to_numpy(zero_copy_only=False))
        frame_order = np.argsort(frame_index[sel])
        sel = sel[frame_order]

        def column(name: str, dtype: Any) -> Optional[np.ndarray]:
            if name not in cols:
                return None
            values = cols[name].take(sel).to_pylist()
            return np.asarray(values, dtype=dtype)

        state, action = column(STATE, np.float32), column(ACTION, np.float32)
        n = len(sel)
        source = column('source', np.uint8)
        images = {}
        for key in video_keys:
            chunk = int(row[f'videos/{key}/chunk_index'])
            file = int(row[f'videos/{key}/file_index'])
            rel = info['video_path'].format(video_key=key, chunk_index=chunk, file_index=file)
            path = os.path.join(root, rel)
            if (key, path) not in videos:
                videos[(key, path)] = decode_video(path)
            first = int(round(float(row[f'videos/{key}/from_timestamp']) * fps))
            frames = videos[(key, path)][first:first + n]
            if len(frames) != n:
                raise LeRobotFormatError(f'{path}: episode {k} needs frames '
                                         f'{first}..{first + n - 1}, '
                                         f'the video has {len(videos[(key, path)])}')
            images[key[len(IMAGE_PREFIX):] if key.startswith(IMAGE_PREFIX) else key] = frames
        ep_outcome = int(row.get('aloe.outcome', outcome))
        if ep_outcome not in OUTCOME_NAMES:
            raise LeRobotFormatError(f'{root}: episode {k}: unknown aloe.outcome {ep_outcome}')
        task_index = int(cols['task_index'][int(sel[0])].as_py()) if 'task_index' in cols else 0
        instruction = (tasks[task_index] if task_index < len(tasks)
                       else (row.get('tasks') or [''])[0])
        episode_id = row.get('aloe.episode_id') or f'lerobot-{dataset_name}-{k:06d}'
        if store.catalog.get(episode_id) is not None:
            continue
        sources = source if source is not None else np.full(n, SOURCE_HUMAN, np.uint8)
        ep = make_episode(
            episode_id, actions=action, proprio=state, sources=sources, images=images,
            policy_versions=column('policy_version', np.uint32),
            interventions=column('intervention', bool), outcome=ep_outcome,
            task=row.get('aloe.task') or dataset_name, instruction=instruction,
            seed=int(row.get('aloe.seed', -1)), success_reward=store.rewards.success_reward,
            step_penalty=store.rewards.step_penalty)
        store.add_episode(ep, dt=1.0 / fps, joint_names=names)
        added.append(episode_id)
    return added


# ----------------------------------------------------------------------------------- commands

def export_main(args: argparse.Namespace, store: EpisodeStore, ids: Optional[List[str]]) -> int:
    """``aloe export --format lerobot``: called by :func:`aloe_ros.storage.export.main`."""
    try:
        report = export_lerobot(store, args.out, ids, fps=args.fps, robot_type=args.robot_type,
                                images=args.images)
    except (FileExistsError, ValueError) as exc:
        print(f'aloe export: {exc}', file=sys.stderr)
        return 1
    for eid, why in report.skipped:
        print(f'skipped episode {eid}: {why}')
    print(f'exported {report.episodes} episodes, {report.frames} frames at {report.fps} fps, '
          f'cameras {report.cameras or "none"}: {report.bytes / 1e6:.1f} MB in '
          f'{report.seconds:.1f} s -> {report.path}')
    for key, source in report.image_sources.items():
        width, height = report.image_sizes[key]
        print(f'  {key}: {width}x{height} from {source}')
    return 0


def import_main(argv: Optional[List[str]] = None) -> int:
    """``aloe import --format lerobot --src DATASET --root STORE``."""
    parser = argparse.ArgumentParser(prog='aloe import',
                                     description='Add a LeRobotDataset v3.0 to an episode store.')
    parser.add_argument('--format', choices=('lerobot',), default='lerobot')
    parser.add_argument('--src', required=True, help='dataset directory (meta/info.json inside)')
    parser.add_argument('--root', required=True, help='episode store root')
    parser.add_argument('--outcome', choices=('success', 'failure', 'timeout', 'aborted'),
                        default='success', help='outcome of episodes without aloe.outcome')
    args = parser.parse_args(argv)
    outcome = {v: k for k, v in OUTCOME_NAMES.items()}[args.outcome]
    try:
        store = EpisodeStore(os.path.expanduser(args.root), mode='w')
    except StoreLockedError as exc:
        print(f'aloe import: {exc}: stop the recorder first', file=sys.stderr)
        return 1
    try:
        added = import_lerobot(args.src, store, outcome)
    except (LeRobotFormatError, ValueError, OSError) as exc:
        print(f'aloe import: {exc}', file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f'imported {len(added)} episodes from {args.src} into {store.root}')
    return 0

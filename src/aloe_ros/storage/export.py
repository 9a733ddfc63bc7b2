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
Export episodes of the store: NumPy ``.npz`` (one file per episode) or LeRobotDataset v3.0.

``--format lerobot`` writes a LeRobotDataset v3.0 directory (:mod:`aloe_ros.storage.lerobot`);
the default ``npz`` writes the files below.

Keys of ``<out>/<episode_id>.npz`` (arrays as in :class:`aloe_ros.learning.episode.Episode`)::

    proprio (T, P) float32, actions (T, D) float32, sources (T,) uint8,
    policy_versions (T,) uint32, interventions (T,) bool, rewards (T,) float32,
    images/<camera> (T, h, w, 3) uint8, extra/<name> (step_index, chunk_id, index_in_chunk,
    stamp, image_stamp_ns, state when recorded),
    episode_id, task, instruction (str), outcome, seed (int64), terminated, truncated (bool)

Command line: ``aloe export --root <store> --out <dir> [--format npz|lerobot] [--id ID ...]
[--task TASK] [--compress] [--fps N] [--robot-type NAME] [--images auto|native|model]``. Files are
written to a temporary
name and renamed, so a directory of exports never holds half a file. :func:`load_npz` reads one
back.
"""

import argparse
import os
import sys
from typing import Iterable, List, Optional

import numpy as np

from aloe_ros.learning.episode import Episode
from aloe_ros.storage.store import EpisodeStore


def save_npz(episode: Episode, path: str, compress: bool = False) -> str:
    """Write one Episode to ``path`` (atomic rename); return the path."""
    arrays = {
        'proprio': episode.proprio, 'actions': episode.actions, 'sources': episode.sources,
        'policy_versions': episode.policy_versions, 'interventions': episode.interventions,
        'rewards': episode.rewards, 'episode_id': np.array(episode.episode_id),
        'task': np.array(episode.task), 'instruction': np.array(episode.instruction),
        'outcome': np.array(episode.outcome, dtype=np.int64),
        'seed': np.array(episode.seed, dtype=np.int64),
        'terminated': np.array(episode.terminated), 'truncated': np.array(episode.truncated)}
    arrays.update({f'images/{k}': v for k, v in episode.images.items()})
    arrays.update({f'extra/{k}': v for k, v in episode.extra.items()})
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        (np.savez_compressed if compress else np.savez)(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def load_npz(path: str) -> Episode:
    """Read an exported ``.npz`` back into an Episode."""
    with np.load(path, allow_pickle=False) as z:
        return Episode(
            episode_id=str(z['episode_id']), task=str(z['task']),
            instruction=str(z['instruction']),
            images={k[len('images/'):]: z[k] for k in z.files if k.startswith('images/')},
            proprio=z['proprio'], actions=z['actions'], sources=z['sources'],
            policy_versions=z['policy_versions'], interventions=z['interventions'],
            rewards=z['rewards'], outcome=int(z['outcome']), terminated=bool(z['terminated']),
            truncated=bool(z['truncated']), seed=int(z['seed']),
            extra={k[len('extra/'):]: z[k] for k in z.files if k.startswith('extra/')})


def export_npz(store: EpisodeStore, out_dir: str, episode_ids: Optional[Iterable[str]] = None,
               compress: bool = False) -> List[str]:
    """Export complete episodes (all, or ``episode_ids``) to ``out_dir``; return the paths."""
    os.makedirs(out_dir, exist_ok=True)
    ids = list(store.episode_ids() if episode_ids is None else episode_ids)
    return [save_npz(store.load_episode(i), os.path.join(out_dir, f'{i}.npz'), compress)
            for i in ids]


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point: export the store's episodes to NPZ files."""
    parser = argparse.ArgumentParser(
        prog='aloe export',
        description='Export aloe_ros episodes: one .npz each, or a LeRobotDataset v3.0.')
    parser.add_argument('--root', required=True, help='episode store root')
    parser.add_argument('--out', required=True, help='output directory (lerobot: must not exist)')
    parser.add_argument('--format', choices=('npz', 'lerobot'), default='npz',
                        help='output format')
    parser.add_argument('--fps', type=int,
                        help='lerobot: frame rate (default: measured control rate)')
    parser.add_argument('--images', choices=('auto', 'native', 'model'), default='auto',
                        help='lerobot: frames from the native camera topics of the bags '
                        '(auto: where recorded) or the observation images (model input size)')
    parser.add_argument('--robot-type', default='aloe_bimanual',
                        help='lerobot: info.json robot_type')
    parser.add_argument('--id', action='append', dest='ids', help='episode id (repeatable)')
    parser.add_argument('--task', help='only episodes of this task')
    parser.add_argument('--compress', action='store_true', help='zip-deflate the arrays')
    args = parser.parse_args(argv)
    if not os.path.isdir(args.root):
        print(f'no episode store at {args.root}', file=sys.stderr)
        return 2
    store = EpisodeStore(args.root, mode='r')
    try:
        ids = args.ids
        if args.task is not None:
            ids = [r.episode_id for r in store.records(task=args.task)
                   if ids is None or r.episode_id in ids]
        if args.format == 'lerobot':
            from aloe_ros.storage.lerobot import export_main
            return export_main(args, store, ids)
        paths = export_npz(store, args.out, ids, args.compress)
    finally:
        store.close()
    print(f'exported {len(paths)} episodes to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

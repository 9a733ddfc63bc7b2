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
`aloe migrate`: move a store's episodes from bare MCAP files into rosbag2 bag directories.

Stores written before bag directories hold ``episodes/<YYYYMMDD>/<id>.mcap``; this renames each
to ``episodes/<YYYYMMDD>/<id>/<id>_0.mcap`` (bytes unchanged), writes its ``metadata.yaml`` and
updates the catalog. Bag directories whose ``metadata.yaml`` was written before it carried type
hashes (``type_description_hash: ''``) get it rewritten with them. Interrupted, it can be run
again. Run it while no recorder holds the store;
the learner and exports read both layouts, so nothing else has to stop.
"""

import argparse
import os
import sys
from typing import List, Optional

from aloe_ros.storage.catalog import STATUS_COMPLETE
from aloe_ros.storage.store import EpisodeStore, StoreLockedError, in_bag_dir


def main(argv: Optional[List[str]] = None) -> int:
    """Migrate the store at ``--root`` (or, with ``--dry-run``, list what would move)."""
    parser = argparse.ArgumentParser(prog='aloe migrate',
                                     description=__doc__.strip().split('\n\n')[0])
    parser.add_argument('--root', required=True, help='episode store root')
    parser.add_argument('--dry-run', action='store_true',
                        help='list the episodes to move, move none')
    args = parser.parse_args(argv)
    root = os.path.expanduser(args.root)
    if not os.path.isfile(os.path.join(root, 'catalog.sqlite')):
        print(f'aloe migrate: no episode store at {root} (no catalog.sqlite)', file=sys.stderr)
        return 2
    try:
        store = EpisodeStore(root, mode='r' if args.dry_run else 'w')
    except StoreLockedError as exc:
        print(f'aloe migrate: {exc}: stop the recorder first', file=sys.stderr)
        return 1
    try:
        old = [r for r in store.records(status=STATUS_COMPLETE)
               if not in_bag_dir(os.path.join(store.root, r.path))]
        if args.dry_run:
            for r in old:
                print(f'{r.episode_id}: {r.path}')
            print(f'{len(old)} episodes to move into bag directories')
            return 0
        from tqdm import tqdm
        with tqdm(total=len(old), desc='migrate', unit='episode', disable=not old) as bar:
            moved = store.migrate_to_bags(progress=lambda _id: bar.update(1))
        print(f'{len(moved)} episodes moved into bag directories in {store.root}')
        refreshed = store.refresh_bag_metadata()
        if refreshed:
            print(f'{len(refreshed)} metadata.yaml files rewritten with type hashes')
        return 0
    finally:
        store.close()


if __name__ == '__main__':
    sys.exit(main())

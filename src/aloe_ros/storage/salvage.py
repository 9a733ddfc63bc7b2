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
`aloe salvage`: keep what a killed recorder had made durable of the episode in flight.

A recorder killed mid-episode leaves ``<root>/quarantine/<id>.mcap.partial``; the recorder
flushes it at least once per second, so it holds the episode up to the last flush. Without
arguments the command lists each quarantined file with the steps it can give back; with
``--all`` or file names it copies them into the store as truncated (ABORTED) episodes, which
the learner uses like any other. Run it while no recorder holds the store.
"""

import argparse
import os
import sys
from typing import List, Optional

from aloe_ros.storage.catalog import STATUS_COMPLETE
from aloe_ros.storage.episode_file import read_partial
from aloe_ros.storage.store import STEP_TOPIC, EpisodeStore, StoreLockedError


def main(argv: Optional[List[str]] = None) -> int:
    """List or salvage the quarantined partial episodes of a store; return the exit code."""
    parser = argparse.ArgumentParser(prog='aloe salvage',
                                     description=__doc__.strip().split('\n\n')[0])
    parser.add_argument('--root', required=True, help='episode store root')
    parser.add_argument('--all', action='store_true',
                        help='salvage every quarantined partial episode')
    parser.add_argument('files', nargs='*', help='quarantined .partial files to salvage')
    args = parser.parse_args(argv)
    try:
        store = EpisodeStore(os.path.expanduser(args.root), mode='w')
    except StoreLockedError as exc:
        print(f'aloe salvage: {exc}: stop the recorder first', file=sys.stderr)
        return 1
    try:
        files = [os.path.abspath(f) for f in args.files] or store.quarantined_files()
        if not args.all and not args.files:
            if not files:
                print(f'no quarantined partial episode in {store.root}')
            for path in files:
                part = read_partial(path)
                steps = sum(1 for m in part.messages if m[0] == STEP_TOPIC)
                head = part.metadata.get('aloe_episode', {})
                row = store.catalog.get(head.get('episode_id', ''))
                done = row is not None and row.status == STATUS_COMPLETE
                print(f'{path}: episode {head.get("episode_id", "?")} task '
                      f'{head.get("task", "?")!r}, '
                      f'{steps} readable steps' + (' (already salvaged)' if done else ''))
            if files:
                print('salvage with: aloe salvage --root ROOT --all (or name the files)')
            return 0
        code = 0
        for path in files:
            try:
                record = store.salvage(path)
            except (ValueError, OSError) as exc:
                print(f'{path}: not salvaged: {exc}', file=sys.stderr)
                code = 1
                continue
            print(f'{path}: salvaged as episode {record.episode_id} ({record.num_steps} steps, '
                  f'truncated) -> {record.uri}')
        return code
    finally:
        store.close()


if __name__ == '__main__':
    sys.exit(main())

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
The `aloe` command: one entry point for the project's tools.

Each subcommand lives in its own module and is imported only when used, so `aloe --help` is
instant and a broken optional piece never hides the others.
"""

import importlib
import sys

# name -> (module, function, one-line help). The function takes argv (list of str), returns an
# exit code.
SUBCOMMANDS = {
    'train-sim': ('aloe_ros.train_sim', 'main',
                  'the main job: ALOE post-training in the MuJoCo sim through the ROS 2 graph'),
    'smoke': ('aloe_ros.nodes.smoke_graph', 'main',
              'round-trip every aloe_msgs message, service and action between two processes'),
    'launch': ('aloe_ros.launch_tools.cli', 'main',
               'run a ROS 2 YAML launch file here: aloe launch [PKG] FILE [arg:=value ...]'),
    'export': ('aloe_ros.storage.export', 'main',
               'export episodes: aloe export --root STORE --out DIR [--format npz|lerobot]'),
    'import': ('aloe_ros.storage.lerobot', 'import_main',
               'add a LeRobotDataset v3 to a store: aloe import --format lerobot --src DIR --root '
               'STORE'),
    'migrate': ('aloe_ros.storage.migrate', 'main',
                'move old-layout .mcap episodes into rosbag2 bag directories: aloe migrate --root '
                'STORE'),
    'salvage': ('aloe_ros.storage.salvage', 'main',
                'list / salvage a killed recorder\'s partial episodes: aloe salvage --root STORE '
                '[--all]'),
}


def _usage() -> str:
    width = max(len(n) for n in SUBCOMMANDS)
    lines = ['usage: aloe <command> [args...]', '', 'commands:']
    lines += [f'  {name.ljust(width)}  {helptext}' for name,
              (_m, _f, helptext) in SUBCOMMANDS.items()]
    return '\n'.join(lines)


def main(argv=None) -> int:
    """Dispatch `aloe <command> ...` to the command's module."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ('-h', '--help', 'help'):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"aloe: unknown command '{name}'\n\n{_usage()}", file=sys.stderr)
        return 2
    module, func, _help = SUBCOMMANDS[name]
    code = getattr(importlib.import_module(module), func)(rest)
    return int(code or 0)


if __name__ == '__main__':
    sys.exit(main())

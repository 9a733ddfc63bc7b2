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
``aloe launch``: run a ROS 2 YAML launch file without the ROS launch tools.

Usage::

    aloe launch aloe_ros sim.launch.yaml [name:=value ...] [--dry-run] [--print]
    aloe launch path/to/file.launch.yaml [name:=value ...]
    aloe launch --source-tree . aloe_ros sim.launch.yaml   # run from a source checkout, no install
"""

import argparse
import json
import os
import sys

from aloe_ros.launch_tools.errors import LaunchError
from aloe_ros.launch_tools.loader import load_launch
from aloe_ros.launch_tools.packages import PackageResolver
from aloe_ros.launch_tools.runner import LaunchRunner


def build_parser():
    """Return the argument parser of ``aloe launch``."""
    parser = argparse.ArgumentParser(
        prog='aloe launch', description='Run a ROS 2 YAML launch file (*.launch.yaml).')
    parser.add_argument('target', nargs='+', metavar='PKG FILE | PATH [name:=value ...]',
                        help='a package and a launch file name in its share dir, or a path; '
                             'then launch arguments as name:=value')
    parser.add_argument('--dry-run', action='store_true',
                        help='print the resolved plan (processes, parameters, remaps) and start '
                        'nothing')
    parser.add_argument('--json', action='store_true',
                        help='with --dry-run: print the plan as JSON (executables resolved, '
                        'parameter '
                             'values in effect)')
    parser.add_argument('--print', action='store_true', dest='print_plan',
                        help='print the resolved plan, then run it')
    parser.add_argument('--source-tree', metavar='DIR',
                        help='resolve the package of DIR/package.xml (aloe_ros) from this source '
                        'checkout '
                             'instead of AMENT_PREFIX_PATH')
    parser.add_argument('--sigterm-timeout', type=float, default=5.0,
                        help='seconds after SIGINT before SIGTERM (default 5)')
    parser.add_argument('--sigkill-timeout', type=float, default=5.0,
                        help='seconds after SIGTERM before SIGKILL (default 5)')
    return parser


def split_target(tokens):
    """Split positional tokens into (package or None, file, {arg: value})."""
    positional = [t for t in tokens if ':=' not in t]
    arguments = {}
    for token in tokens:
        if ':=' in token:
            name, _, value = token.partition(':=')
            if not name:
                raise LaunchError(f'bad launch argument {token!r}: expected name:=value')
            arguments[name] = value
    if len(positional) == 1:
        return None, positional[0], arguments
    if len(positional) == 2:
        return positional[0], positional[1], arguments
    raise LaunchError('expected PKG FILE or PATH before the name:=value arguments, got '
                      f'{positional}')


def find_launch_file(resolver, package, name):
    """Find launch file name in the package's share dir (``launch/`` first, then anywhere)."""
    share = resolver.share_dir(package)
    direct = os.path.join(share, 'launch', name)
    if os.path.isfile(direct):
        return direct
    for root, dirs, files in os.walk(share):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.')
                         and d not in ('build', 'install', 'log'))
        if name in files:
            return os.path.join(root, name)
    raise LaunchError(f"launch file '{name}' not found in the share dir of {package} ({share})")


def source_tree_package(directory):
    """Return the package name declared in DIR/package.xml."""
    import xml.etree.ElementTree as ElementTree
    try:
        return ElementTree.parse(os.path.join(directory,
                                              'package.xml')).getroot().findtext('name').strip()
    except (OSError, ElementTree.ParseError, AttributeError) as exc:
        raise LaunchError(f'--source-tree {directory}: cannot read package.xml ({exc})') from None


def main(argv=None):
    """Run ``aloe launch`` with argv (the arguments after ``launch``); return the exit status."""
    options = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        trees = {}
        if options.source_tree:
            trees[source_tree_package(options.source_tree)] = options.source_tree
        resolver = PackageResolver(source_trees=trees)
        package, name, arguments = split_target(options.target)
        path = find_launch_file(resolver, package, name) if package else name
        plan = load_launch(path, arguments, resolver=resolver)
        if options.json:
            if not options.dry_run:
                raise LaunchError('--json goes with --dry-run')
            print(json.dumps(plan.to_dict(resolver), indent=1, sort_keys=True), flush=True)
            return 0
        if options.dry_run or options.print_plan:
            print(plan.format(resolver), flush=True)
        if options.dry_run:
            return 0
        runner = LaunchRunner(plan, resolver, sigterm_timeout=options.sigterm_timeout,
                              sigkill_timeout=options.sigkill_timeout)
    except LaunchError as exc:
        print(f'aloe launch: error: {exc}', file=sys.stderr)
        return 2
    return runner.run()


if __name__ == '__main__':
    sys.exit(main())

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
Find packages and executables as ``ros2 run`` / ``$(find-pkg-share)`` do, without ament_index.

A package ``pkg`` is installed in prefix ``P`` (one entry of AMENT_PREFIX_PATH, first wins) when
``P/share/ament_index/resource_index/packages/pkg`` exists; its share dir is ``P/share/pkg`` and
its
executables are ``P/lib/pkg/<exec>``.

Source-tree mode is explicit: ``PackageResolver(source_trees={'aloe_ros': '/path/to/repo'})`` makes
``$(find-pkg-share aloe_ros)`` the repo root (which has the same ``launch/ config/ urdf/`` layout
as
the installed share dir) and runs the package's console scripts from ``setup.py`` with this
Python and ``<repo>/src`` on PYTHONPATH. Nothing falls back to the source tree silently.
"""

import ast
import os
import sys

from aloe_ros.launch_tools.errors import LaunchError


class PackageResolver:
    """Resolve package share dirs, prefixes and executables."""

    def __init__(self, ament_prefix_path=None, source_trees=None):
        """Use the given AMENT_PREFIX_PATH (default: the environment's) and source trees."""
        if ament_prefix_path is None:
            ament_prefix_path = os.environ.get('AMENT_PREFIX_PATH', '')
        self.prefixes = [p for p in ament_prefix_path.split(os.pathsep) if p]
        self.source_trees = {k: os.path.abspath(v) for k, v in (source_trees or {}).items()}
        self._scripts = {}

    def find_prefix(self, package):
        """Return the install prefix holding package, or None."""
        for prefix in self.prefixes:
            marker = os.path.join(prefix, 'share', 'ament_index', 'resource_index', 'packages',
                                  package)
            if os.path.isfile(marker):
                return prefix
        return None

    def has_package(self, package):
        """Return whether the package is installed or mapped to a source tree."""
        return package in self.source_trees or self.find_prefix(package) is not None

    def _missing(self, package, path):
        where = os.pathsep.join(self.prefixes) or '(AMENT_PREFIX_PATH is empty)'
        return LaunchError(f"package '{package}' not found in AMENT_PREFIX_PATH={where}; source "
                           "the "
                           'workspace install/setup.bash, or run from a source tree with '
                           '--source-tree',
                           path)

    def prefix(self, package, path=None):
        """Return the install prefix of package (the source tree root in source mode)."""
        if package in self.source_trees:
            return self.source_trees[package]
        prefix = self.find_prefix(package)
        if prefix is None:
            raise self._missing(package, path)
        return prefix

    def share_dir(self, package, path=None):
        """Return ``<prefix>/share/<package>`` (the source tree root in source mode)."""
        if package in self.source_trees:
            return self.source_trees[package]
        return os.path.join(self.prefix(package, path), 'share', package)

    def executable(self, package, executable, path=None):
        """Return the command (list) that starts ``executable`` of ``package``; raise if absent."""
        if package in self.source_trees:
            scripts = self.console_scripts(package)
            if executable not in scripts:
                raise LaunchError(f"executable '{executable}' not among the console scripts of "
                                  f"{package} in {self.source_trees[package]}/setup.py: "
                                  f"{', '.join(sorted(scripts)) or '(none)'}", path)
            module, func = scripts[executable]
            code = (f'import sys; sys.argv[0] = {executable!r}; from {module} import {func} as '
                    'main; '
                    f'sys.exit(main())')
            return [sys.executable, '-c', code]
        prefix = self.prefix(package, path)
        exe = os.path.join(prefix, 'lib', package, executable)
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            libdir = os.path.join(prefix, 'lib', package)
            found = sorted(os.listdir(libdir)) if os.path.isdir(libdir) else []
            raise LaunchError(f"executable '{executable}' of package '{package}' not found at "
                              f"{exe}; "
                              f"available: {', '.join(found) or '(none)'}", path)
        return [exe]

    def executable_path(self, package, executable, path=None):
        """Return the file path of an installed executable (``$(exec-in-pkg)``)."""
        if package in self.source_trees:
            raise LaunchError(f'$(exec-in-pkg {executable} {package}): {package} runs from a '
                              'source '
                              f'tree (--source-tree), where its executables have no file path; '
                              f'use an install space', path)
        return self.executable(package, executable, path)[0]

    def source_env(self, package):
        """Return environment additions needed to run package's executables (source mode only)."""
        if package not in self.source_trees:
            return {}
        src = os.path.join(self.source_trees[package], 'src')
        old = os.environ.get('PYTHONPATH', '')
        return {'PYTHONPATH': src + (os.pathsep + old if old else '')}

    def console_scripts(self, package):
        """Return {name: (module, function)} from setup.py's CONSOLE_SCRIPTS or entry_points."""
        if package not in self._scripts:
            setup_py = os.path.join(self.source_trees[package], 'setup.py')
            self._scripts[package] = _read_console_scripts(setup_py)
        return self._scripts[package]


def _read_console_scripts(setup_py):
    """Collect 'name = module:func' string literals from setup.py without executing it."""
    try:
        with open(setup_py, encoding='utf-8') as stream:
            tree = ast.parse(stream.read(), setup_py)
    except (OSError, SyntaxError) as exc:
        raise LaunchError(f'cannot read console scripts: {exc}', setup_py) from None
    scripts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and '=' in node.value:
            name, _, target = node.value.partition('=')
            module, sep, func = target.strip().partition(':')
            if sep and name.strip() and ' ' not in name.strip() and module and func.isidentifier():
                if all(part.isidentifier() for part in module.split('.')):
                    scripts[name.strip()] = (module, func)
    return scripts

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
Static checks of a launch file against the executables and parameters nodes really declare.

Hook for nodes: each node module exposes ``PARAMETERS`` (name -> default); tests build
``known_executables = {'chunk_executor': set(chunk_executor.PARAMETERS), ...}`` and call
``validate_launch_file``. No process is started.
"""

import os

import yaml

from aloe_ros.launch_tools.errors import LaunchError
from aloe_ros.launch_tools.loader import load_launch
from aloe_ros.launch_tools.packages import PackageResolver
from aloe_ros.launch_tools.plan import _node_key_matches


def validate_launch_file(path, known_executables, arguments=None, resolver=None,
                         own_package='aloe_ros',
                         external_packages=()):
    """
    Return a list of error strings (empty when the launch file is consistent).

    known_executables maps ``'exec'`` (shorthand for ``own_package/exec``) or ``'pkg/exec'`` to the
    collection of parameter names that node declares, or None to skip the parameter check.
    A node of a package named neither there nor in external_packages is an unknown package;
    an executable of a known package missing from the mapping is an unknown executable.
    Param files must exist, be ``ros__parameters`` YAML, and name only declared parameters for
    the sections that match the node (``/**``, ``name``, ``/ns/name``, wildcards).
    arguments are the launch arguments to evaluate with (defaults otherwise); call once per
    combination that selects different branches.
    """
    known = {}
    for key, params in known_executables.items():
        pkg, _, exe = key.rpartition('/')
        known[(pkg or own_package, exe)] = None if params is None else set(params)
    packages = {pkg for pkg, _ in known} | {own_package} | set(external_packages)
    try:
        plan = load_launch(path, arguments,
                           resolver=_LenientResolver(resolver or PackageResolver()))
    except LaunchError as exc:
        return [str(exc)]
    errors = []
    for spec in plan.processes:
        if spec.kind != 'node':
            continue
        where = f'{spec.source}: node {spec.fully_qualified_name}'
        if spec.package not in packages:
            errors.append(f"{where}: unknown package '{spec.package}'")
            continue
        if spec.package in external_packages and (spec.package, spec.executable) not in known:
            continue
        if (spec.package, spec.executable) not in known:
            names = sorted(e for p, e in known if p == spec.package)
            errors.append(f"{where}: unknown executable '{spec.executable}' of {spec.package}; "
                          f"known: {', '.join(names) or '(none)'}")
            continue
        declared = known[(spec.package, spec.executable)]
        for name in spec.parameters:
            if declared is not None and name not in declared:
                errors.append(f"{where}: parameter '{name}' is not declared by {spec.executable}")
        for param_file in spec.param_files:
            errors.extend(_check_param_file(param_file, spec, declared, where))
    return errors


def _check_param_file(param_file, spec, declared, where):
    if not os.path.isfile(param_file):
        return [f'{where}: parameter file not found: {param_file}']
    try:
        with open(param_file, encoding='utf-8') as stream:
            doc = yaml.safe_load(stream)
    except (OSError, yaml.YAMLError) as exc:
        return [f'{where}: cannot read parameter file {param_file}: {exc}']
    if not isinstance(doc, dict):
        return [f'{where}: parameter file {param_file} is not a mapping of node names']
    errors = []
    fqn = spec.fully_qualified_name
    for key, section in doc.items():
        if not _section_matches(str(key), spec, fqn):
            continue
        if not isinstance(section, dict) or 'ros__parameters' not in section:
            errors.append(f"{where}: section '{key}' of {param_file} has no ros__parameters")
            continue
        if declared is None:
            continue
        for name in _flatten(section['ros__parameters']):
            if name not in declared:
                errors.append(f"{where}: parameter '{name}' in {param_file} is not declared by "
                              f'{spec.executable}')
    return errors


def _section_matches(key, spec, fqn):
    name = spec.name or spec.executable
    if key in ('/**', '**', name, fqn, fqn.lstrip('/')):
        return True
    return ('*' in key) and _node_key_matches(key, fqn)


def _flatten(params, prefix=''):
    if not isinstance(params, dict):
        return [prefix.rstrip('.')]
    names = []
    for key, value in params.items():
        if isinstance(value, dict):
            names.extend(_flatten(value, f'{prefix}{key}.'))
        else:
            names.append(f'{prefix}{key}')
    return names


class _LenientResolver:
    """Wrap a resolver for static checks: real share dirs when found, else a placeholder path."""

    def __init__(self, real):
        """Keep the real resolver."""
        self._real = real

    def has_package(self, package):
        """Accept every package; the validator reports unknown ones itself."""
        return True

    def prefix(self, package, path=None):
        """Return the real prefix or a placeholder."""
        if self._real.has_package(package):
            return self._real.prefix(package, path)
        return f'<{package}-prefix>'

    def share_dir(self, package, path=None):
        """Return the real share dir or a placeholder."""
        if self._real.has_package(package):
            return self._real.share_dir(package, path)
        return f'<{package}-share>'

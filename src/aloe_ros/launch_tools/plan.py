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

"""The resolved launch plan: the processes to start, with their parameters, remaps, environment."""

from dataclasses import dataclass, field
import os
import re

import yaml


@dataclass
class ProcessSpec:
    """
    One process to start: a ROS node (``kind == 'node'``) or a plain ``executable``.

    ``param_entries`` keeps the node's ``param`` list in declaration order: ``('file', path)``
    for ``from:`` files and ``('inline', {name: value})`` for inline values, which are written
    to a parameter file at start, as Jazzy does, so a later entry wins over an earlier one.
    """

    kind: str
    source: str
    package: str = ''
    executable: str = ''
    name: str = ''
    namespace: str = '/'
    namespace_given: bool = False
    cmd: list = field(default_factory=list)
    args: list = field(default_factory=list)
    ros_args: list = field(default_factory=list)
    param_entries: list = field(default_factory=list)
    remaps: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    cwd: str = ''
    output: str = 'log'
    respawn: bool = False
    respawn_delay: float = 0.0
    required: bool = False

    @property
    def label(self):
        """Name shown in output prefixes: the node name, else the executable's basename."""
        if self.name:
            return self.name
        if self.kind == 'node':
            return self.executable
        return self.cmd[0].rsplit('/', 1)[-1] if self.cmd else 'process'

    @property
    def fully_qualified_name(self):
        """Return ``/ns/name`` for nodes (name defaults to the executable name)."""
        name = self.name or self.executable
        return self.namespace.rstrip('/') + '/' + name

    @property
    def param_files(self):
        """Return the ``from:`` parameter files in order."""
        return [item for kind, item in self.param_entries if kind == 'file']

    @property
    def parameters(self):
        """Return the inline parameters, later entries overriding earlier ones."""
        merged = {}
        for kind, item in self.param_entries:
            if kind == 'inline':
                merged.update(item)
        return merged

    def inline_section_key(self):
        """Node key of generated parameter files: the full name if name and namespace are set."""
        if self.name and self.namespace_given:
            return self.fully_qualified_name
        return '/**'

    def inline_document(self, params):
        """Return the parameter-file document for one inline entry."""
        return {self.inline_section_key(): {'ros__parameters': dict(params)}}

    def effective_parameters(self):
        """Return {name: value} the node starts with (files read now; nested keys dotted)."""
        sources = []
        for kind, item in self.param_entries:
            sources.append(('file', item) if kind == 'file'
                           else ('doc', self.inline_document(item)))
        return effective_parameters(self.fully_qualified_name, sources)

    def ros_arguments(self, inline_files=None):
        """
        Return the ``--ros-args ...`` tail of the command line (empty for plain executables).

        inline_files maps the index of each inline entry in param_entries to the file it was
        written to; without it a placeholder names the entry (dry run).
        """
        if self.kind != 'node':
            return []
        out = []
        if self.ros_args:
            out += ['--ros-args'] + list(self.ros_args)
        out.append('--ros-args')
        if self.name:
            out += ['-r', f'__node:={self.name}']
        if self.namespace_given:
            out += ['-r', f'__ns:={self.namespace}']
        for index, (kind, item) in enumerate(self.param_entries):
            if kind == 'file':
                out += ['--params-file', item]
            elif inline_files is not None:
                out += ['--params-file', inline_files[index]]
            else:
                out += ['--params-file', f'<inline parameters #{index + 1}>']
        for src, dst in self.remaps:
            out += ['-r', f'{src}:={dst}']
        return out

    def command(self, exe_cmd=None, inline_files=None):
        """Return the full argv, given the resolved executable command for nodes."""
        if self.kind != 'node':
            return list(self.cmd)
        return (list(exe_cmd or [self.executable]) + list(self.args)
                + self.ros_arguments(inline_files))

    def to_dict(self, exe_cmd=None):
        """Return a JSON-ready description (what ``--dry-run --json`` prints per process)."""
        return {
            'kind': self.kind, 'name': self.name, 'package': self.package,
            'executable': self.executable,
            'fully_qualified_name': self.fully_qualified_name if self.kind == 'node' else None,
            'command': self.command(exe_cmd), 'args': list(self.args),
            'ros_args': list(self.ros_args), 'remaps': [list(r) for r in self.remaps],
            'parameters': self.effective_parameters() if self.kind == 'node' else {},
            'param_entries': [[k, v if k == 'file' else self.inline_document(v)]
                              for k, v in self.param_entries],
            'required': self.required, 'respawn': self.respawn, 'cwd': self.cwd,
            'env': self.env, 'source': self.source,
        }


def _flatten(params, prefix=''):
    out = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f'{prefix}{key}.'))
        else:
            out[f'{prefix}{key}'] = value
    return out


def _node_key_matches(key, fqn):
    """
    Match a parameter-file node key as rcl does: ``/**`` zero or more tokens, ``*`` one.

    ``/**/policy`` matches ``/policy`` and ``/station_a/policy`` alike (what the shipped
    parameter files use, so they apply to a station under any namespace).
    """
    key = key if key.startswith('/') else '/' + key
    if key == fqn:
        return True
    pattern = ''
    for token in key.split('/')[1:]:
        if token == '**':
            pattern += '(/[^/]+)*'
        else:
            pattern += '/' + ''.join('[^/]*' if part == '*' else re.escape(part)
                                     for part in re.split(r'(\*)', token))
    return re.fullmatch(pattern, fqn) is not None


def effective_parameters(fqn, sources):
    """
    Merge parameter sources ``('file', path)`` / ``('doc', mapping)`` for node fqn.

    rcl reads every ``--params-file`` in order into one table keyed by node name (a later file
    overwrites a value under the same key, a key keeps its first position); rclpy then applies
    the keys that match the node in table order. This reproduces that table.
    """
    table = {}
    for kind, item in sources:
        if kind == 'file':
            if not os.path.isfile(item):
                continue  # ros2 launch warns and leaves a missing file out
            with open(item, encoding='utf-8') as stream:
                doc = yaml.safe_load(stream) or {}
        else:
            doc = item
        for key, section in doc.items():
            if not isinstance(section,
                              dict) or not isinstance(section.get('ros__parameters'), dict):
                continue
            norm = key if str(key).startswith('/') else '/' + str(key)
            table.setdefault(norm, {}).update(_flatten(section['ros__parameters']))
    result = {}
    for key, params in table.items():
        if _node_key_matches(key, fqn):
            result.update(params)
    return result


@dataclass
class LaunchPlan:
    """Everything ``aloe launch`` needs: processes in start order, arguments, files read."""

    path: str
    processes: list = field(default_factory=list)
    arguments: dict = field(default_factory=dict)
    declared: dict = field(default_factory=dict)
    files: list = field(default_factory=list)

    def to_dict(self, resolver=None):
        """Return a JSON-ready description of the plan."""
        processes = []
        for spec in self.processes:
            exe_cmd = None
            if resolver is not None and spec.kind == 'node':
                exe_cmd = resolver.executable(spec.package, spec.executable, spec.source)
            processes.append(spec.to_dict(exe_cmd))
        return {'path': self.path, 'files': list(self.files), 'arguments': dict(self.arguments),
                'processes': processes}

    def format(self, resolver=None):
        """Return a human-readable description of the plan (what ``--dry-run`` prints)."""
        lines = [f'launch file: {self.path}']
        if self.files[1:]:
            lines.append('included: ' + ', '.join(self.files[1:]))
        lines.append('arguments:')
        for name, value in self.arguments.items():
            lines.append(f'  {name}:={value}')
        lines.append(f'processes ({len(self.processes)}):')
        for spec in self.processes:
            flags = [f for f, on in (('on_exit: shutdown', spec.required),
                                     ('respawn', spec.respawn)) if on]
            title = (f'  - {spec.fully_qualified_name} ({spec.package}/{spec.executable})'
                     if spec.kind == 'node' else f'  - {spec.label} (executable)')
            lines.append(title + (f' [{", ".join(flags)}]' if flags else ''))
            exe_cmd = None
            if resolver is not None and spec.kind == 'node':
                try:
                    exe_cmd = resolver.executable(spec.package, spec.executable)
                except Exception as exc:  # noqa: B902 - shown, not raised, in a dry run
                    lines.append(f'      UNRESOLVED: {exc}')
            lines.append('      cmd: ' + ' '.join(_quote(a) for a in spec.command(exe_cmd)))
            for index, (kind, item) in enumerate(spec.param_entries):
                if kind == 'file':
                    lines.append(f'      params file: {item}')
                else:
                    for name, value in item.items():
                        lines.append(f'      param #{index + 1} {name} = {value!r}')
            if spec.kind == 'node':
                try:
                    effective = spec.effective_parameters()
                except (OSError, yaml.YAMLError) as exc:
                    lines.append(f'      parameters: UNREADABLE ({exc})')
                else:
                    for name, value in effective.items():
                        lines.append(f'      in effect: {name} = {value!r}')
            for src, dst in spec.remaps:
                lines.append(f'      remap {src} -> {dst}')
            for key, value in spec.env.items():
                lines.append(f'      env {key}={value}')
            lines.append(f'      from: {spec.source}')
        return '\n'.join(lines)


def _quote(arg):
    if arg and all(c.isalnum() or c in '/_-.:=,@%+' for c in arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"

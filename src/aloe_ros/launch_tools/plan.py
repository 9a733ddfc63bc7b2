# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""The resolved launch plan: what processes to start, with which parameters, remaps and environment."""

from dataclasses import dataclass, field

import yaml


@dataclass
class ProcessSpec:
    """One process to start: a ROS node (``kind == 'node'``) or a plain ``executable``."""

    kind: str
    source: str
    package: str = ''
    executable: str = ''
    name: str = ''
    namespace: str = '/'
    cmd: list = field(default_factory=list)
    args: list = field(default_factory=list)
    ros_args: list = field(default_factory=list)
    param_files: list = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    remaps: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    cwd: str = ''
    output: str = 'screen'
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

    def ros_arguments(self):
        """Return the ``--ros-args ...`` tail of the command line (empty for plain executables)."""
        if self.kind != 'node':
            return []
        out = ['--ros-args']
        if self.name:
            out += ['-r', f'__node:={self.name}']
        if self.namespace != '/':
            out += ['-r', f'__ns:={self.namespace}']
        for path in self.param_files:
            out += ['--params-file', path]
        for name, value in self.parameters.items():
            out += ['-p', f'{name}:={format_param_value(value)}']
        for src, dst in self.remaps:
            out += ['-r', f'{src}:={dst}']
        out += self.ros_args
        return out

    def command(self, exe_cmd=None):
        """Return the full argv, given the resolved executable command for nodes."""
        if self.kind != 'node':
            return list(self.cmd) + list(self.args)
        return list(exe_cmd or [self.executable]) + list(self.args) + self.ros_arguments()


def format_param_value(value):
    """Render a parameter value for ``-p name:=value`` (rcl reads it as YAML)."""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 20).strip().removesuffix('...').strip()


@dataclass
class LaunchPlan:
    """Everything ``aloe launch`` needs: processes in start order, arguments, files read."""

    path: str
    processes: list = field(default_factory=list)
    arguments: dict = field(default_factory=dict)
    declared: dict = field(default_factory=dict)
    files: list = field(default_factory=list)
    required_names: list = field(default_factory=list)

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
            flags = [f for f, on in (('required', spec.required), ('respawn', spec.respawn)) if on]
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
            for path in spec.param_files:
                lines.append(f'      params file: {path}')
            for name, value in spec.parameters.items():
                lines.append(f'      param {name} = {value!r}')
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

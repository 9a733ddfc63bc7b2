# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Read a ``*.launch.yaml`` file (and its includes) into a resolved LaunchPlan.

Every tag and attribute outside the supported subset (docs/LAUNCH.md) is an error naming
the file and the tag: a launch file must never be half-understood.
"""

import os
import shlex

import yaml

from aloe_ros.launch_tools import substitutions
from aloe_ros.launch_tools.errors import LaunchError
from aloe_ros.launch_tools.packages import PackageResolver
from aloe_ros.launch_tools.plan import LaunchPlan, ProcessSpec

#: Launch configuration naming the nodes whose exit ends the launch (see docs/LAUNCH.md).
REQUIRED_NODES_CONFIG = 'aloe_required_nodes'

_CONDITIONS = ('if', 'unless')
_ATTRS = {
    'arg': {'name', 'default', 'description', 'choices'},
    'let': {'name', 'value'},
    'set_env': {'name', 'value'},
    'unset_env': {'name'},
    'include': {'file', 'arg'},
    'group': {'scoped', 'forwarding', 'children'},
    'push-ros-namespace': {'namespace'},
    'node': {'pkg', 'exec', 'name', 'namespace', 'output', 'respawn', 'respawn_delay', 'param',
             'remap', 'ros_args', 'args', 'env'},
    'executable': {'cmd', 'name', 'cwd', 'output', 'respawn', 'respawn_delay', 'args', 'env'},
}
_ALIASES = {'push_ros_namespace': 'push-ros-namespace', 'set-env': 'set_env', 'unset-env': 'unset_env'}
_HINTS = {
    'on_exit': f"required nodes are listed in '- let: {{name: {REQUIRED_NODES_CONFIG}, value: "
               f"\"node_a node_b\"}}' (docs/LAUNCH.md)",
}


class LaunchContext:
    """Evaluation state: launch configurations, environment, namespace, current file."""

    def __init__(self, path, configs, env, namespace, resolver, plan):
        """Create a context for evaluating the file at path."""
        self.path = path
        self.configs = configs
        self.env = env
        self.namespace = namespace
        self.resolver = resolver
        self.plan = plan
        self.declared = set()
        self.base_env = dict(env)
        self.stack = [path]

    def child(self, path=None, forwarding=True):
        """Return a scoped copy: changes inside do not leak out (group scoped=true, include)."""
        ctx = LaunchContext(path or self.path, dict(self.configs) if forwarding else {},
                            dict(self.env), self.namespace, self.resolver, self.plan)
        ctx.declared = self.declared
        ctx.base_env = self.base_env
        ctx.stack = self.stack
        return ctx

    def sub(self, value):
        """Evaluate substitutions in a scalar attribute (non-strings pass through)."""
        if isinstance(value, str):
            return substitutions.evaluate(value, self)
        return value

    def text(self, value, what):
        """Evaluate an attribute that must be text."""
        if isinstance(value, (dict, list)) or value is None:
            raise LaunchError(f'{what} must be a scalar, got {value!r}', self.path)
        return str(self.sub(value)) if not isinstance(value, bool) else str(value).lower()

    def flag(self, value, what):
        """Evaluate a boolean attribute (YAML bool or text true/false/1/0 after substitution)."""
        return substitutions.to_bool(self.sub(value), self.path, what)


def load_launch(path, arguments=None, resolver=None, base_env=None):
    """Evaluate the launch file at path with CLI arguments {name: value}; return a LaunchPlan.

    Raises LaunchError on unknown tags/attributes, unknown or missing arguments, bad
    substitutions and unresolvable packages.
    """
    path = os.path.abspath(path)
    resolver = resolver or PackageResolver()
    arguments = {str(k): str(v) for k, v in (arguments or {}).items()}
    plan = LaunchPlan(path=path)
    env = dict(os.environ if base_env is None else base_env)
    ctx = LaunchContext(path, dict(arguments), env, '/', resolver, plan)
    _load_file(path, ctx)
    unknown = sorted(set(arguments) - ctx.declared)
    if unknown:
        known = ', '.join(sorted(plan.declared)) or '(none)'
        raise LaunchError(f'unknown launch argument(s) {", ".join(unknown)}; known: {known}', path)
    plan.arguments = {name: info['value'] for name, info in plan.declared.items()}
    required = set()
    for value in plan.required_names:
        required.update(value.replace(',', ' ').split())
    for spec in plan.processes:
        spec.required = spec.label in required or spec.fully_qualified_name in required
    started = {s.label for s in plan.processes} | {s.fully_qualified_name for s in plan.processes}
    unmatched = required - started
    if unmatched:
        raise LaunchError(f'{REQUIRED_NODES_CONFIG} names no started process: '
                          f'{", ".join(sorted(unmatched))}', path)
    return plan


def _load_file(path, ctx):
    try:
        with open(path, encoding='utf-8') as stream:
            doc = yaml.safe_load(stream)
    except OSError as exc:
        raise LaunchError(f'cannot read launch file: {exc.strerror}', path) from None
    except yaml.YAMLError as exc:
        raise LaunchError(f'invalid YAML: {exc}', path) from None
    ctx.plan.files.append(path)
    if not isinstance(doc, dict) or set(doc) != {'launch'} or not isinstance(doc['launch'], list):
        raise LaunchError("a YAML launch file is a mapping with the single key 'launch' holding a list",
                          path)
    _run_actions(doc['launch'], ctx)


def _run_actions(items, ctx):
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise LaunchError(f'each launch entry is a one-key mapping (tag: attributes), got {item!r}',
                              ctx.path)
        (tag, body), = item.items()
        tag = _ALIASES.get(tag, tag)
        if tag not in _ATTRS:
            raise LaunchError(f"unsupported launch tag '{tag}'; supported: {', '.join(sorted(_ATTRS))}",
                              ctx.path)
        if tag == 'group' and isinstance(body, list):
            body = {'children': body}
        if not isinstance(body, dict):
            raise LaunchError(f"tag '{tag}' needs a mapping of attributes, got {body!r}", ctx.path)
        extra = set(body) - _ATTRS[tag] - set(_CONDITIONS)
        if extra:
            hints = ''.join(f'; {_HINTS[e]}' for e in sorted(extra) if e in _HINTS)
            raise LaunchError(f"unsupported attribute(s) {', '.join(sorted(extra))} on tag '{tag}'; "
                              f"supported: {', '.join(sorted(_ATTRS[tag] | set(_CONDITIONS)))}{hints}",
                              ctx.path)
        if not _condition_holds(body, tag, ctx):
            continue
        _HANDLERS[tag](body, ctx)


def _condition_holds(body, tag, ctx):
    if 'if' in body and 'unless' in body:
        raise LaunchError(f"tag '{tag}' has both 'if' and 'unless'", ctx.path)
    if 'if' in body:
        return ctx.flag(body['if'], f"'if' of {tag}")
    if 'unless' in body:
        return not ctx.flag(body['unless'], f"'unless' of {tag}")
    return True


def _required_attr(body, key, tag, ctx):
    if key not in body:
        raise LaunchError(f"tag '{tag}' needs attribute '{key}'", ctx.path)
    return body[key]


def _do_arg(body, ctx):
    name = ctx.text(_required_attr(body, 'name', 'arg', ctx), 'arg name')
    ctx.declared.add(name)
    ctx.plan.declared.setdefault(name, {'default': body.get('default'),
                                        'description': body.get('description', ''),
                                        'file': ctx.path})
    if name not in ctx.configs:
        if 'default' not in body:
            raise LaunchError(f"missing required launch argument '{name}' (no default); pass {name}:=VALUE"
                              + (f" ({body['description']})" if body.get('description') else ''), ctx.path)
        ctx.configs[name] = ctx.text(body['default'], f"default of arg '{name}'")
    ctx.plan.declared[name].setdefault('value', ctx.configs[name])
    if 'choices' in body:
        choices = [str(c) for c in body['choices']]
        if ctx.configs[name] not in choices:
            raise LaunchError(f"argument '{name}' is {ctx.configs[name]!r}; choices: {', '.join(choices)}",
                              ctx.path)


def _do_let(body, ctx):
    name = ctx.text(_required_attr(body, 'name', 'let', ctx), 'let name')
    ctx.configs[name] = ctx.text(_required_attr(body, 'value', 'let', ctx), f"value of let '{name}'")
    if name == REQUIRED_NODES_CONFIG:
        ctx.plan.required_names.append(ctx.configs[name])


def _do_set_env(body, ctx):
    name = ctx.text(_required_attr(body, 'name', 'set_env', ctx), 'set_env name')
    ctx.env[name] = ctx.text(_required_attr(body, 'value', 'set_env', ctx), f"value of set_env '{name}'")


def _do_unset_env(body, ctx):
    ctx.env.pop(ctx.text(_required_attr(body, 'name', 'unset_env', ctx), 'unset_env name'), None)


def _do_include(body, ctx):
    target = ctx.text(_required_attr(body, 'file', 'include', ctx), 'include file')
    if not os.path.isabs(target):
        target = os.path.join(os.path.dirname(ctx.path), target)
    target = os.path.normpath(target)
    if not target.endswith(('.launch.yaml', '.launch.yml')):
        raise LaunchError(f"include of {target}: only YAML launch files (*.launch.yaml) are supported "
                          f"by aloe launch", ctx.path)
    if not os.path.isfile(target):
        raise LaunchError(f'included launch file not found: {target}', ctx.path)
    if target in ctx.stack:
        raise LaunchError(f'include cycle through {target}', ctx.path)
    args = body.get('arg', [])
    if not isinstance(args, list):
        raise LaunchError("include 'arg' must be a list of {name, value}", ctx.path)
    values = {}
    for entry in args:
        if not isinstance(entry, dict) or set(entry) != {'name', 'value'}:
            raise LaunchError(f'include arg entries are {{name, value}} mappings, got {entry!r}', ctx.path)
        values[ctx.text(entry['name'], 'include arg name')] = ctx.text(entry['value'], 'include arg value')
    child = ctx.child(path=target)
    child.stack = ctx.stack + [target]
    child.declared = set()
    child.configs.update(values)
    _load_file(target, child)
    unknown = sorted(set(values) - child.declared)
    if unknown:
        raise LaunchError(f'include of {target} passes undeclared argument(s) {", ".join(unknown)}; '
                          f'declared there: {", ".join(sorted(child.declared)) or "(none)"}', ctx.path)
    ctx.declared.update(child.declared)


def _do_group(body, ctx):
    scoped = ctx.flag(body.get('scoped', True), 'group scoped')
    forwarding = ctx.flag(body.get('forwarding', True), 'group forwarding')
    children = body.get('children')
    if not isinstance(children, list):
        raise LaunchError("group needs a list of children (group: [...] or group: {children: [...]})",
                          ctx.path)
    if not scoped and not forwarding:
        raise LaunchError('group with scoped: false cannot set forwarding: false', ctx.path)
    inner = ctx.child(forwarding=forwarding) if scoped else ctx
    _run_actions(children, inner)


def _do_push_ns(body, ctx):
    ctx.namespace = _join_ns(ctx.namespace, ctx.text(_required_attr(body, 'namespace', 'push-ros-namespace',
                                                                    ctx), 'namespace'))


def _join_ns(base, ns):
    if not ns:
        return base
    if ns.startswith('/'):
        joined = ns
    else:
        joined = base.rstrip('/') + '/' + ns
    return '/' + '/'.join(p for p in joined.split('/') if p)


def _common_process(spec, body, tag, ctx):
    spec.output = ctx.text(body.get('output', 'screen'), 'output')
    spec.respawn = ctx.flag(body.get('respawn', False), f'{tag} respawn')
    try:
        spec.respawn_delay = float(ctx.sub(body.get('respawn_delay', 0.0)))
    except ValueError:
        raise LaunchError(f"{tag} respawn_delay must be a number, got {body['respawn_delay']!r}", ctx.path)
    env = dict(ctx.env)
    for entry in body.get('env', []) or []:
        if not isinstance(entry, dict) or set(entry) != {'name', 'value'}:
            raise LaunchError(f'{tag} env entries are {{name, value}} mappings, got {entry!r}', ctx.path)
        env[ctx.text(entry['name'], 'env name')] = ctx.text(entry['value'], 'env value')
    spec.env = {k: v for k, v in env.items() if ctx.base_env.get(k) != v}
    spec.env.update({k: None for k in ctx.base_env if k not in env})
    if 'args' in body:
        spec.args = shlex.split(ctx.text(body['args'], f'{tag} args'))
    ctx.plan.processes.append(spec)


def _do_node(body, ctx):
    spec = ProcessSpec(kind='node', source=ctx.path)
    spec.package = ctx.text(_required_attr(body, 'pkg', 'node', ctx), 'node pkg')
    spec.executable = ctx.text(_required_attr(body, 'exec', 'node', ctx), 'node exec')
    if not ctx.resolver.has_package(spec.package):
        ctx.resolver.prefix(spec.package, ctx.path)
    spec.name = ctx.text(body['name'], 'node name') if 'name' in body else ''
    spec.namespace = _join_ns(ctx.namespace, ctx.text(body.get('namespace', ''), 'node namespace'))
    for entry in body.get('param', []) or []:
        if not isinstance(entry, dict):
            raise LaunchError(f'node param entries are {{name, value}} or {{from}}, got {entry!r}', ctx.path)
        if set(entry) == {'from'}:
            spec.param_files.append(os.path.abspath(ctx.text(entry['from'], 'param file')))
        elif set(entry) == {'name', 'value'}:
            name = ctx.text(entry['name'], 'param name')
            spec.parameters[name] = _param_value(entry['value'], ctx)
        else:
            raise LaunchError(f'unsupported node param entry {entry!r}: use {{name, value}} or '
                              f'{{from: file}} (nested parameter groups are not supported)', ctx.path)
    for entry in body.get('remap', []) or []:
        if not isinstance(entry, dict) or set(entry) != {'from', 'to'}:
            raise LaunchError(f'node remap entries are {{from, to}}, got {entry!r}', ctx.path)
        spec.remaps.append((ctx.text(entry['from'], 'remap from'), ctx.text(entry['to'], 'remap to')))
    if 'ros_args' in body:
        spec.ros_args = shlex.split(ctx.text(body['ros_args'], 'node ros_args'))
    _common_process(spec, body, 'node', ctx)


def _param_value(value, ctx):
    """Evaluate a parameter value; text from substitutions is read as YAML like launch_ros does."""
    if isinstance(value, list):
        return [_param_value(v, ctx) for v in value]
    if isinstance(value, dict):
        raise LaunchError(f'parameter value cannot be a mapping: {value!r}', ctx.path)
    if isinstance(value, str) and '$(' in value:
        text = ctx.sub(value)
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        return parsed if isinstance(parsed, (bool, int, float, str, list)) else text
    return value


def _do_executable(body, ctx):
    spec = ProcessSpec(kind='executable', source=ctx.path)
    spec.cmd = shlex.split(ctx.text(_required_attr(body, 'cmd', 'executable', ctx), 'executable cmd'))
    if not spec.cmd:
        raise LaunchError('executable cmd is empty', ctx.path)
    spec.name = ctx.text(body['name'], 'executable name') if 'name' in body else ''
    spec.cwd = ctx.text(body['cwd'], 'executable cwd') if 'cwd' in body else ''
    _common_process(spec, body, 'executable', ctx)


_HANDLERS = {
    'arg': _do_arg, 'let': _do_let, 'set_env': _do_set_env, 'unset_env': _do_unset_env,
    'include': _do_include, 'group': _do_group, 'push-ros-namespace': _do_push_ns,
    'node': _do_node, 'executable': _do_executable,
}

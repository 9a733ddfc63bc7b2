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
Read a ``*.launch.yaml`` file (and its includes) into a resolved LaunchPlan.

Grammar and semantics are ROS 2 Jazzy's YAML frontend (launch 3.4, launch_ros 0.26) for the
tags and attributes listed in docs/LAUNCH.md. A Jazzy tag or attribute that aloe launch does
not implement is an error saying so by name; anything that is not Jazzy is an error too: a
launch file must never be half-understood.
"""

import os
import shlex

import yaml

from aloe_ros.launch_tools import substitutions
from aloe_ros.launch_tools.errors import LaunchError
from aloe_ros.launch_tools.packages import PackageResolver
from aloe_ros.launch_tools.plan import LaunchPlan, ProcessSpec

#: The retired project convention for required nodes; ``on_exit: shutdown`` replaces it.
RETIRED_REQUIRED_NODES_CONFIG = 'aloe_required_nodes'
#: Launch configuration holding the pushed ROS namespace (the name Jazzy uses).
NAMESPACE_CONFIG = 'ros_namespace'

_CONDITIONS = {'if', 'unless'}
_PROCESS_ATTRS = {'name', 'cwd', 'output', 'respawn', 'respawn_delay', 'env', 'on_exit'}
_ATTRS = {
    'arg': {'name', 'default', 'description', 'choice'},
    'let': {'name', 'value'},
    'set_env': {'name', 'value'},
    'unset_env': {'name'},
    'include': {'file', 'arg'},
    'group': {'scoped', 'forwarding', 'keep', 'children'},
    'push-ros-namespace': {'namespace'},
    'node': _PROCESS_ATTRS | {'pkg', 'exec', 'namespace', 'param', 'remap', 'ros_args', 'args'},
    'executable': _PROCESS_ATTRS | {'cmd'},
}
_ALIASES = {'push_ros_namespace': 'push-ros-namespace'}
#: Jazzy tags aloe launch does not implement.
_JAZZY_TAGS_UNSUPPORTED = (
    'append_env', 'load_composable_node', 'log', 'node_container', 'reset', 'reset_env',
    'ros_timer', 'set_parameter', 'set_parameters_from_file', 'set_remap', 'set_ros_log_dir',
    'set_use_sim_time', 'shutdown', 'timer')
#: Jazzy attributes aloe launch does not implement, per tag.
_JAZZY_ATTRS_UNSUPPORTED = {
    'node': {'launch-prefix', 'shell', 'emulate_tty', 'sigterm_timeout', 'sigkill_timeout',
             'respawn_max_retries', 'exec_name', 'node-name'},
    'executable': {'launch-prefix', 'shell', 'emulate_tty', 'sigterm_timeout', 'sigkill_timeout',
                   'respawn_max_retries'},
}
_HINTS = {
    'choices': "Jazzy's form is choice: [{value: a}, {value: b}]",
    'on_exit': 'on_exit takes only the value shutdown',
}
_PARAM_TYPES = {'str', 'bool', 'int', 'float', 'list_of_str', 'list_of_bool', 'list_of_int',
                'list_of_float', 'yaml'}
_SCALARS = (bool, int, float, str)


class LaunchContext:
    """
    Evaluation state: launch configurations, environment, files, plan being built.

    Mirrors Jazzy: launch configurations (including ``ros_namespace``) and the environment are
    one mutable state; only a scoped ``group`` pushes and pops them, includes do not.
    """

    def __init__(self, path, configs, env, resolver, plan):
        """Create a context for evaluating the file at path."""
        self.path = path
        self.current_file = path
        self.configs = configs
        self.env = env
        self.launch_env = dict(env)
        self.resolver = resolver
        self.plan = plan
        self.stack = [path]

    def sub(self, value):
        """Evaluate substitutions in a text value."""
        return substitutions.evaluate(value, self)

    def text(self, body, key, tag, default=None):
        """Evaluate attribute key of tag, which Jazzy requires to be YAML text."""
        if key not in body:
            if default is None:
                raise LaunchError(f"tag '{tag}' needs attribute '{key}'", self.path)
            return default
        value = body[key]
        if not isinstance(value, str):
            raise LaunchError(f"attribute '{key}' of '{tag}' must be a string (quote it in YAML), "
                              f'got {type(value).__name__} {value!r}', self.path)
        return self.sub(value)

    def literal(self, body, key, tag):
        """Return a text attribute Jazzy reads without substitutions (escapes removed)."""
        value = body[key]
        if not isinstance(value, str):
            raise LaunchError(f"attribute '{key}' of '{tag}' must be a string, got {value!r}",
                              self.path)
        return substitutions.unescape(value)

    def entities(self, body, key, tag, fields):
        """Return the list-of-mappings attribute key; each mapping may hold only fields."""
        value = body.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not value or not all(isinstance(e, dict) for e in value):
            raise LaunchError(f"attribute '{key}' of '{tag}' must be a non-empty list of "
                              "mappings, "
                              f'got {value!r}', self.path)
        for entry in value:
            extra = set(entry) - set(fields)
            if extra:
                raise LaunchError(f"unexpected key(s) {', '.join(sorted(extra))} in '{key}' of "
                                  f"'{tag}'; allowed: {', '.join(sorted(fields))}", self.path)
        return value


def load_launch(path, arguments=None, resolver=None, base_env=None):
    """
    Evaluate the launch file at path with CLI arguments {name: value}; return a LaunchPlan.

    Raises LaunchError on unknown tags/attributes, unknown or missing arguments, bad
    substitutions, parameter values that are not valid YAML, and unresolvable packages.
    """
    path = os.path.abspath(path)
    resolver = resolver or PackageResolver()
    arguments = {str(k): str(v) for k, v in (arguments or {}).items()}
    plan = LaunchPlan(path=path)
    env = dict(os.environ if base_env is None else base_env)
    ctx = LaunchContext(path, dict(arguments), env, resolver, plan)
    _load_file(path, ctx)
    unknown = sorted(set(arguments) - set(plan.declared))
    if unknown:
        known = ', '.join(sorted(plan.declared)) or '(none)'
        raise LaunchError(f'unknown launch argument(s) {", ".join(unknown)}; known: {known}', path)
    plan.arguments = {name: info['value'] for name, info in plan.declared.items()}
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
        raise LaunchError("a YAML launch file is a mapping with the single key 'launch' holding "
                          'a list', path)
    _check_substitutions(doc['launch'], ctx.path, None)
    _run_actions(doc['launch'], ctx)


#: Attributes Jazzy reads as plain text (escapes only), never as substitutions.
_TEXT_ONLY = {('arg', 'name'), ('arg', 'description'), ('choice', 'value'), (None, 'on_exit'),
              (None, 'type')}


def _check_substitutions(node, path, key, tag=None):
    """
    Reject bad syntax and non-Jazzy substitutions anywhere in the file, as Jazzy's parser does.

    Jazzy parses the whole file before running any of it, so an error in a branch that a
    condition skips still fails the launch.
    """
    if isinstance(node, dict):
        for child_key, child in node.items():
            inner_tag = child_key if isinstance(child, dict) and len(node) == 1 else tag
            _check_substitutions(child, path, child_key, inner_tag)
    elif isinstance(node, list):
        for child in node:
            _check_substitutions(child, path, key, 'choice' if key == 'choice' else tag)
    elif isinstance(node, str) and (tag, key) not in _TEXT_ONLY and (None, key) not in _TEXT_ONLY:
        for part in _walk_parts(substitutions.parse_or_raise(node, path)):
            if part.name not in substitutions.JAZZY_SUBSTITUTIONS:
                hint = substitutions.HINTS.get(part.name)
                raise LaunchError(f'$({part.name}) is not a ROS 2 Jazzy substitution'
                                  + (f'; {hint}' if hint else ''), path)


def _walk_parts(parts):
    for part in parts:
        if isinstance(part, substitutions.Substitution):
            yield part
            for arg in part.args:
                yield from _walk_parts(arg)


def _run_actions(items, ctx):
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            raise LaunchError(f'each launch entry is a one-key mapping (tag: attributes), got '
                              f'{item!r}', ctx.path)
        (tag, body), = item.items()
        tag = _ALIASES.get(tag, tag)
        if tag in _JAZZY_TAGS_UNSUPPORTED:
            raise LaunchError(f"tag '{tag}' is ROS 2 Jazzy launch but not supported by aloe "
                              "launch; "
                              f"run this file with ros2 launch", ctx.path)
        if tag not in _ATTRS:
            raise LaunchError(f"unknown launch tag '{tag}' (not a ROS 2 Jazzy YAML tag); aloe "
                              f"launch supports: {', '.join(sorted(_ATTRS))}", ctx.path)
        if tag == 'group' and isinstance(body, list):
            body = {'children': body}
        if not isinstance(body, dict):
            raise LaunchError(f"tag '{tag}' needs a mapping of attributes, got {body!r}", ctx.path)
        _check_attributes(tag, body, ctx)
        if not _condition_holds(body, tag, ctx):
            continue
        _HANDLERS[tag](body, ctx)


def _check_attributes(tag, body, ctx):
    extra = set(body) - _ATTRS[tag] - _CONDITIONS
    jazzy = sorted(extra & _JAZZY_ATTRS_UNSUPPORTED.get(tag, set()))
    if jazzy:
        raise LaunchError(f"attribute(s) {', '.join(jazzy)} of '{tag}' are ROS 2 Jazzy launch but "
                          f'not supported by aloe launch; run this file with ros2 launch',
                          ctx.path)
    if extra:
        hints = ''.join(f'; {_HINTS[e]}' for e in sorted(extra) if e in _HINTS)
        raise LaunchError(f"unexpected attribute(s) {', '.join(sorted(extra))} on '{tag}'; "
                          f"allowed: {', '.join(sorted(_ATTRS[tag] | _CONDITIONS))}{hints}",
                          ctx.path)


def _condition_holds(body, tag, ctx):
    if 'if' in body and 'unless' in body:
        raise LaunchError(f"'{tag}': if and unless conditions can't be used simultaneously",
                          ctx.path)
    for key, wanted in (('if', True), ('unless', False)):
        if key in body:
            value = ctx.text(body, key, tag)
            return substitutions.condition(value, ctx.path, f"'{key}' of {tag}") == wanted
    return True


def _do_arg(body, ctx):
    if 'name' not in body:
        raise LaunchError("tag 'arg' needs attribute 'name'", ctx.path)
    name = ctx.literal(body, 'name', 'arg')
    description = ctx.literal(body, 'description', 'arg') if 'description' in body else ''
    choices = None
    if 'choice' in body:
        entries = ctx.entities(body, 'choice', 'arg', ('value',))
        choices = []
        for entry in entries:
            if 'value' not in entry:
                raise LaunchError(f"arg '{name}': each choice is {{value: ...}}", ctx.path)
            choices.append(ctx.literal(entry, 'value', 'choice'))
    if name not in ctx.configs:
        if 'default' not in body:
            raise LaunchError(f"missing required launch argument '{name}' (no default); pass "
                              f'{name}:=VALUE' + (f' ({description})' if description else ''),
                              ctx.path)
        ctx.configs[name] = ctx.text(body, 'default', 'arg')
    if choices is not None and ctx.configs[name] not in choices:
        raise LaunchError(f"argument '{name}' is {ctx.configs[name]!r}; valid choices: "
                          f"{', '.join(choices)}", ctx.path)
    info = ctx.plan.declared.setdefault(name, {'default': body.get('default'),
                                               'description': description, 'file': ctx.path})
    info.setdefault('value', ctx.configs[name])


def _do_let(body, ctx):
    name = ctx.text(body, 'name', 'let')
    if name == RETIRED_REQUIRED_NODES_CONFIG:
        raise LaunchError(f"'{RETIRED_REQUIRED_NODES_CONFIG}' is no longer read: mark each "
                          "required "
                          "node or executable with 'on_exit: shutdown' (ROS 2 Jazzy)", ctx.path)
    ctx.configs[name] = ctx.text(body, 'value', 'let')


def _do_set_env(body, ctx):
    name = ctx.text(body, 'name', 'set_env')
    ctx.env[name] = ctx.text(body, 'value', 'set_env')


def _do_unset_env(body, ctx):
    ctx.env.pop(ctx.text(body, 'name', 'unset_env'), None)


def _do_include(body, ctx):
    target = ctx.text(body, 'file', 'include')
    # Jazzy resolves a relative include against the working directory, not the including file.
    target = os.path.normpath(os.path.abspath(target))
    if not target.endswith(('.launch.yaml', '.launch.yml')):
        raise LaunchError(f'include of {target}: Python and XML launch files are ROS 2 Jazzy '
                          'launch '
                          f'but aloe launch reads only YAML launch files (*.launch.yaml)',
                          ctx.path)
    if not os.path.isfile(target):
        raise LaunchError(f'included launch file not found: {target}', ctx.path)
    if target in ctx.stack:
        raise LaunchError(f'include cycle through {target}', ctx.path)
    # Jazzy: include arguments are set as launch configurations of the including scope, in
    # order, before the included file runs; nothing is scoped.
    for entry in ctx.entities(body, 'arg', 'include', ('name', 'value')):
        ctx.configs[ctx.text(entry, 'name', 'include arg')] = ctx.text(entry, 'value',
                                                                       'include arg')
    outer_path = ctx.path
    ctx.stack.append(target)
    ctx.path = ctx.current_file = target
    try:
        _load_file(target, ctx)
    finally:
        ctx.stack.pop()
        ctx.path = outer_path


def _do_group(body, ctx):
    scoped = _bool_attr(body, 'scoped', 'group', ctx, True)
    forwarding = _bool_attr(body, 'forwarding', 'group', ctx, True)
    children = body.get('children')
    if not isinstance(children, list):
        raise LaunchError('group needs a list of children (group: [...] or group: {children: '
                          '[...]})', ctx.path)
    keeps = [(ctx.text(e, 'name', 'keep'), ctx.text(e, 'value', 'keep'))
             for e in ctx.entities(body, 'keep', 'group', ('name', 'value'))]
    if not scoped:
        ctx.configs.update(keeps)
        _run_actions(children, ctx)
        return
    saved_configs, saved_env = dict(ctx.configs), dict(ctx.env)
    if forwarding:
        ctx.configs.update(keeps)
    else:
        ctx.env.clear()
        ctx.env.update(ctx.launch_env)
        ctx.configs.clear()
        ctx.configs.update(keeps)
    try:
        _run_actions(children, ctx)
    finally:
        ctx.configs.clear()
        ctx.configs.update(saved_configs)
        ctx.env.clear()
        ctx.env.update(saved_env)


def _bool_attr(body, key, tag, ctx, default):
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return substitutions.condition(substitutions.unescape(value), ctx.path,
                                       f"'{key}' of {tag}")
    raise LaunchError(f"attribute '{key}' of '{tag}' must be true or false, got {value!r}",
                      ctx.path)


def _do_push_ns(body, ctx):
    pushed = ctx.text(body, 'namespace', 'push-ros-namespace')
    ctx.configs[NAMESPACE_CONFIG] = _absolute(_prefix_ns(ctx.configs.get(NAMESPACE_CONFIG),
                                                         pushed))


def _prefix_ns(base, ns):
    """Jazzy's prefix_namespace: ns if absolute or base is None, else base/ns; no trailing '/'."""
    if base is None and ns is None:
        return None
    if ns is None:
        combined = base
    elif base is None or ns.startswith('/'):
        combined = ns
    else:
        combined = base.rstrip('/') + '/' + ns
    return combined.rstrip('/') if combined not in ('', '/') else combined


def _absolute(ns):
    if ns is None:
        return None
    return ns if ns.startswith('/') else '/' + ns


def _split_cmdline(text, what, ctx):
    """Split a command line like Jazzy: shell rules on literal text, substitution results whole."""
    try:
        parts = substitutions.parse_or_raise(text, ctx.path)
        result, current, have = [], [], False
        for part in parts:
            if not isinstance(part, str):
                current.append(substitutions.join([part], ctx))
                have = True
                continue
            tokens = shlex.split(part)
            if not tokens:
                if have:
                    result.append(''.join(current))
                current, have = [], False
                continue
            if part[0].isspace() and have:
                result.append(''.join(current))
                current, have = [], False
            current.append(tokens[0])
            have = True
            if len(tokens) > 1:
                result.append(''.join(current))
                result.extend(tokens[1:-1])
                current = [tokens[-1]]
            if part[-1].isspace():
                result.append(''.join(current))
                current, have = [], False
        if have:
            result.append(''.join(current))
        return result
    except ValueError as exc:
        raise LaunchError(f'{what}: {exc}', ctx.path) from None


def _common_process(spec, body, tag, ctx):
    spec.output = ctx.text(body, 'output', tag, default='log')
    if 'respawn' in body:
        spec.respawn = substitutions.condition(ctx.text(body, 'respawn', tag), ctx.path,
                                               f"'respawn' of {tag}")
    if 'respawn_delay' in body:
        delay = body['respawn_delay']
        if isinstance(delay, bool) or not isinstance(delay, (int, float, str)):
            raise LaunchError(f"'respawn_delay' of {tag} must be a number, got {delay!r}",
                              ctx.path)
        try:
            spec.respawn_delay = float(delay)
        except ValueError:
            raise LaunchError(f"'respawn_delay' of {tag} must be a number, got {delay!r}",
                              ctx.path) from None
        if spec.respawn_delay < 0:
            raise LaunchError(f"'respawn_delay' of {tag} must be non-negative", ctx.path)
    if 'on_exit' in body:
        if body['on_exit'] != 'shutdown':
            raise LaunchError(f"'on_exit' of {tag} must be shutdown (the only value Jazzy's YAML "
                              f"frontend accepts), got {body['on_exit']!r}", ctx.path)
        spec.required = True
    if 'cwd' in body:
        spec.cwd = ctx.text(body, 'cwd', tag)
    env = dict(ctx.env)
    for entry in ctx.entities(body, 'env', tag, ('name', 'value')):
        env[ctx.text(entry, 'name', f'{tag} env')] = ctx.text(entry, 'value', f'{tag} env')
    spec.env = {k: v for k, v in env.items() if ctx.launch_env.get(k) != v}
    spec.env.update({k: None for k in ctx.launch_env if k not in env})
    ctx.plan.processes.append(spec)


def _do_node(body, ctx):
    spec = ProcessSpec(kind='node', source=ctx.path)
    spec.package = ctx.text(body, 'pkg', 'node')
    spec.executable = ctx.text(body, 'exec', 'node')
    if not ctx.resolver.has_package(spec.package):
        ctx.resolver.prefix(spec.package, ctx.path)
    if 'args' in body:
        spec.args = _split_cmdline(_raw(body, 'args', 'node', ctx), 'node args', ctx)
    if 'ros_args' in body:
        spec.ros_args = _split_cmdline(_raw(body, 'ros_args', 'node', ctx), 'node ros_args', ctx)
    spec.name = ctx.text(body, 'name', 'node') if 'name' in body else ''
    given = ctx.text(body, 'namespace', 'node') if 'namespace' in body else None
    namespace = _absolute(_prefix_ns(ctx.configs.get(NAMESPACE_CONFIG), given))
    spec.namespace_given = namespace is not None
    spec.namespace = namespace if namespace is not None else '/'
    for entry in ctx.entities(body, 'param', 'node', ('name', 'value', 'type', 'from', 'param',
                                                      'allow_substs')):
        spec.param_entries.append(_param_entry(entry, spec, ctx))
    for entry in ctx.entities(body, 'remap', 'node', ('from', 'to')):
        spec.remaps.append((ctx.text(entry, 'from', 'remap'), ctx.text(entry, 'to', 'remap')))
    _common_process(spec, body, 'node', ctx)


def _raw(body, key, tag, ctx):
    value = body[key]
    if not isinstance(value, str):
        raise LaunchError(f"attribute '{key}' of '{tag}' must be a string, got {value!r}",
                          ctx.path)
    return value


def _param_entry(entry, spec, ctx):
    """Return ('file', path) or ('inline', {name: value}) for one ``param`` entry, as Jazzy."""
    if 'allow_substs' in entry:
        raise LaunchError("param attribute 'allow_substs' is ROS 2 Jazzy launch but not supported "
                          'by aloe launch', ctx.path)
    if 'param' in entry:
        raise LaunchError('nested parameter groups (param inside param) are ROS 2 Jazzy launch '
                          'but '
                          'not supported by aloe launch; use a parameter file (from:)', ctx.path)
    if 'from' in entry:
        if set(entry) != {'from'}:
            raise LaunchError("param 'from' cannot be combined with "
                              f"{sorted(set(entry) - {'from'})}",
                              ctx.path)
        return ('file', os.path.abspath(ctx.text(entry, 'from', 'param')))
    if 'name' not in entry:
        raise LaunchError(f'param entry needs name (with value) or from, got {entry!r}', ctx.path)
    name = ctx.text(entry, 'name', 'param')
    if entry.get('value') is None:
        raise LaunchError(f"param '{name}' needs a value", ctx.path)
    type_name = entry.get('type')
    if type_name is not None and type_name not in _PARAM_TYPES:
        raise LaunchError(f"param '{name}': invalid type {type_name!r}; Jazzy's types: "
                          f"{', '.join(sorted(_PARAM_TYPES))}", ctx.path)
    if type_name == 'yaml':
        type_name = None
    return ('inline', {name: _param_value(name, entry['value'], type_name, ctx)})


def _param_value(name, value, type_name, ctx):
    """
    Evaluate one inline parameter value with Jazzy's rules.

    Text with substitutions is evaluated, then coerced: by YAML rules without ``type`` (a
    YAML error, a mapping or null is fatal), or to the given type. Literal text and YAML
    scalars keep their value; with ``type`` they must already be of that type.
    """
    if isinstance(value, list):
        return _param_list(name, value, type_name, ctx)
    if isinstance(value, dict):
        raise LaunchError(f"param '{name}': a value cannot be a mapping; use a parameter file",
                          ctx.path)
    if isinstance(value, str):
        parts = substitutions.parse_or_raise(value, ctx.path)
        if any(not isinstance(p, str) for p in parts):
            return coerce(name, substitutions.join(parts, ctx), type_name, ctx.path)
        value = ''.join(parts)
    if type_name is not None and not _is_instance(value, type_name):
        raise LaunchError(f"param '{name}': value {value!r} is not of type {type_name} (a literal "
                          f'is not converted; quote or retype it)', ctx.path)
    return value


def _param_list(name, items, type_name, ctx):
    if any(isinstance(v, (list, dict)) or v is None for v in items):
        raise LaunchError(f"param '{name}': list items must be scalars, got {items!r}", ctx.path)
    kinds = set()
    out = []
    for item in items:
        if isinstance(item, str):
            parts = substitutions.parse_or_raise(item, ctx.path)
            if any(not isinstance(p, str) for p in parts):
                out.append(('sub', substitutions.join(parts, ctx)))
                continue
            item = ''.join(parts)
            kinds.add(str)
        else:
            kinds.add(type(item))
        out.append(('lit', item))
    if len(kinds) > 1:
        raise LaunchError(f"param '{name}': list items have different types {items!r}", ctx.path)
    values = []
    for kind, item in out:
        if kind == 'sub':
            item_type = type_name[len('list_of_'):] if type_name else None
            values.append(coerce(name, item, item_type, ctx.path))
        else:
            values.append(item)
    if values and (type(values[0]) not in _SCALARS
                   or any(type(v) is not type(values[0]) for v in values)):
        raise LaunchError(f"param '{name}': list items must be of one type (bool, int, float or "
                          f'str), got {values!r}', ctx.path)
    if type_name is not None and not _is_instance(values, type_name):
        raise LaunchError(f"param '{name}': value {values!r} is not of type {type_name}", ctx.path)
    return values


def _is_instance(value, type_name):
    if type_name.startswith('list_of_'):
        item_type = type_name[len('list_of_'):]
        return isinstance(value, list) and all(_is_instance(v, item_type) for v in value)
    if type_name == 'int':
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, {'str': str, 'bool': bool, 'float': float}[type_name])


def coerce(name, text, type_name, path):
    """Coerce substituted text to a parameter value (Jazzy's coerce_to_type)."""
    def as_yaml(what):
        if not text:
            return text
        try:
            result = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problem = str(exc).splitlines()[0]
            raise LaunchError(f"param '{name}': {what}: {text[:80]!r} is not valid YAML "
                              f"({problem}); "
                              f'add type: str to pass it as text', path) from None
        valid = isinstance(result, _SCALARS) or (
            isinstance(result, list) and all(isinstance(v, _SCALARS) for v in result)
            and len({type(v) for v in result}) <= 1)
        if not valid:
            raise LaunchError(f"param '{name}': {what}: {text[:80]!r} reads as "
                              f'{type(result).__name__}, not a parameter value; add type: str to '
                              f'pass it as text', path)
        return result

    if type_name is None:
        return as_yaml('value')
    if type_name == 'str':
        return text
    if type_name in ('int', 'float'):
        try:
            return int(text) if type_name == 'int' else float(text)
        except ValueError:
            raise LaunchError(f"param '{name}': cannot convert {text!r} to {type_name}",
                              path) from None
    if type_name == 'bool':
        result = as_yaml('bool') if text not in ('1', '0') else text == '1'
        if not isinstance(result, bool):
            raise LaunchError(f"param '{name}': cannot convert {text!r} to bool", path)
        return result
    result = as_yaml(type_name)
    if not _is_instance(result, type_name):
        raise LaunchError(f"param '{name}': cannot convert {text!r} to {type_name}", path)
    return result


def _do_executable(body, ctx):
    spec = ProcessSpec(kind='executable', source=ctx.path)
    spec.cmd = _split_cmdline(_raw(body, 'cmd', 'executable', ctx), 'executable cmd', ctx)
    if not spec.cmd:
        raise LaunchError('executable cmd is empty', ctx.path)
    spec.name = ctx.text(body, 'name', 'executable') if 'name' in body else ''
    _common_process(spec, body, 'executable', ctx)


_HANDLERS = {
    'arg': _do_arg, 'let': _do_let, 'set_env': _do_set_env, 'unset_env': _do_unset_env,
    'include': _do_include, 'group': _do_group, 'push-ros-namespace': _do_push_ns,
    'node': _do_node, 'executable': _do_executable,
}

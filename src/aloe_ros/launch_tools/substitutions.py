# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Parse and evaluate launch substitutions such as ``$(var x)`` and ``$(eval '1 + 2')``.

Grammar (the part of the ROS 2 frontend grammar we accept): text with embedded
``$(name arg arg ...)``; an argument is a run of plain characters, quoted strings
(``'...'`` or ``"..."``, quotes removed) and nested substitutions, separated by whitespace.
Outside a substitution, text is kept verbatim.
"""

import ast
import math
import operator
import os

from aloe_ros.launch_tools.errors import LaunchError

SUPPORTED = ('var', 'env', 'optenv', 'find-pkg-share', 'find-pkg-prefix', 'dirname', 'filename',
             'eval', 'not', 'and', 'or', 'equals', 'command')


class Substitution:
    """One ``$(name args...)``; each argument is a list of parts (str or Substitution)."""

    def __init__(self, name, args):
        """Keep the substitution name and its unevaluated arguments."""
        self.name = name
        self.args = args

    def __repr__(self):
        """Show the substitution for debugging."""
        return f'Substitution({self.name!r}, {self.args!r})'


def parse(text):
    """Split text into a list of literal strings and Substitution objects."""
    parts, pos = _parse_text(text, 0, top=True)
    return parts


def _parse_text(text, pos, top):
    parts = []
    buf = []
    while pos < len(text):
        if text.startswith('$(', pos):
            if buf:
                parts.append(''.join(buf))
                buf = []
            sub, pos = _parse_sub(text, pos + 2)
            parts.append(sub)
        else:
            buf.append(text[pos])
            pos += 1
    if buf:
        parts.append(''.join(buf))
    return parts, pos


def _parse_sub(text, pos):
    """Parse after ``$(`` up to and including the matching ``)``."""
    start = pos
    while pos < len(text) and not text[pos].isspace() and text[pos] != ')':
        pos += 1
    name = text[start:pos]
    if not name:
        raise ValueError(f'empty substitution in {text!r}')
    args = []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            raise ValueError(f'unterminated substitution $({name} ...) in {text!r}')
        if text[pos] == ')':
            return Substitution(name, args), pos + 1
        arg, pos = _parse_arg(text, pos)
        args.append(arg)


def _parse_arg(text, pos):
    parts = []
    buf = []
    while pos < len(text) and not text[pos].isspace() and text[pos] != ')':
        if text.startswith('$(', pos):
            if buf:
                parts.append(''.join(buf))
                buf = []
            sub, pos = _parse_sub(text, pos + 2)
            parts.append(sub)
        elif text[pos] in '\'"':
            quote = text[pos]
            pos += 1
            while True:
                if pos >= len(text):
                    raise ValueError(f'unterminated quote {quote} in {text!r}')
                if text[pos] == quote:
                    pos += 1
                    break
                if text.startswith('$(', pos):
                    if buf:
                        parts.append(''.join(buf))
                        buf = []
                    sub, pos = _parse_sub(text, pos + 2)
                    parts.append(sub)
                else:
                    buf.append(text[pos])
                    pos += 1
        else:
            buf.append(text[pos])
            pos += 1
    if buf:
        parts.append(''.join(buf))
    return parts, pos


def evaluate(text, context):
    """Return text with every substitution evaluated against context (a LaunchContext)."""
    try:
        parts = parse(text)
    except ValueError as exc:
        raise LaunchError(f'bad substitution syntax: {exc}', context.path) from None
    return _join(parts, context)


def _join(parts, context):
    return ''.join(p if isinstance(p, str) else _eval_sub(p, context) for p in parts)


def _eval_sub(sub, context):
    args = [_join(a, context) for a in sub.args]
    name = sub.name

    def need(low, high):
        if not low <= len(args) <= high:
            raise LaunchError(f'$({name}) takes {low}..{high} arguments, got {len(args)}', context.path)

    if name == 'var':
        need(1, 1)
        if args[0] not in context.configs:
            known = ', '.join(sorted(context.configs)) or '(none)'
            raise LaunchError(f'$(var {args[0]}): undefined launch configuration; defined: {known}',
                              context.path)
        return context.configs[args[0]]
    if name in ('env', 'optenv'):
        need(1, 2)
        if args[0] in context.env:
            return context.env[args[0]]
        if len(args) == 2:
            return args[1]
        if name == 'optenv':
            return ''
        raise LaunchError(f'$(env {args[0]}): environment variable not set and no default', context.path)
    if name == 'find-pkg-share':
        need(1, 1)
        return context.resolver.share_dir(args[0], context.path)
    if name == 'find-pkg-prefix':
        need(1, 1)
        return context.resolver.prefix(args[0], context.path)
    if name == 'dirname':
        need(0, 0)
        return os.path.dirname(os.path.abspath(context.path))
    if name == 'filename':
        need(0, 0)
        return os.path.abspath(context.path)
    if name == 'eval':
        need(1, 1)
        return str(safe_eval(args[0], context.path))
    if name == 'not':
        need(1, 1)
        return str(not to_bool(args[0], context.path, '$(not)')).lower()
    if name in ('and', 'or'):
        need(2, 2)
        a, b = (to_bool(x, context.path, f'$({name})') for x in args)
        return str(a and b if name == 'and' else a or b).lower()
    if name == 'equals':
        need(2, 2)
        return str(args[0] == args[1]).lower()
    if name == 'command':
        need(1, 2)
        return _run_command(args[0], args[1] if len(args) == 2 else 'fail', context)
    raise LaunchError(f'unsupported substitution $({name}); supported: {", ".join(SUPPORTED)}',
                      context.path)


def _run_command(command, on_stderr, context):
    """$(command CMD [fail|warn|ignore]): stdout of CMD, split like a shell line, run without a shell."""
    import shlex
    import subprocess
    if on_stderr not in ('fail', 'warn', 'ignore', 'capture'):
        raise LaunchError(f'$(command): second argument must be fail, warn, ignore or capture, '
                          f'got {on_stderr!r}', context.path)
    try:
        result = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=60,
                                env=dict(context.env))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LaunchError(f'$(command {command}): {exc}', context.path) from None
    if result.returncode != 0 or (result.stderr and on_stderr == 'fail'):
        raise LaunchError(f'$(command {command}) failed (exit {result.returncode}): '
                          f'{result.stderr.strip()[:500]}', context.path)
    return result.stdout + (result.stderr if on_stderr == 'capture' else '')


def to_bool(value, path, what):
    """Convert a launch condition value ('true'/'false'/'1'/'0', any case) to bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', '1'):
        return True
    if text in ('false', '0'):
        return False
    raise LaunchError(f'{what}: expected true/false/1/0, got {value!r}', path)


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b}
_NAMES = {'True': True, 'False': False, 'None': None, 'pi': math.pi, 'e': math.e}
_FUNCS = {'abs': abs, 'min': min, 'max': max, 'round': round, 'int': int, 'float': float,
          'str': str, 'bool': bool, 'len': len}
_MAX_POW = 64


def safe_eval(expression, path=None):
    """Evaluate the arithmetic/boolean/comparison subset of Python used in ``$(eval ...)``.

    Allowed: literals, ``and or not``, ``+ - * / // % **`` (exponent at most 64), comparisons,
    ``x if c else y``, tuples/lists, ``True False None pi e`` and ``abs min max round int float
    str bool len`` (and ``math.<name>``). Anything else (attributes, imports, lambdas) is rejected
    because ros2 launch would run it as arbitrary Python.
    """
    try:
        tree = ast.parse(expression.strip(), mode='eval')
    except SyntaxError as exc:
        raise LaunchError(f'$(eval {expression!r}): syntax error: {exc.msg}', path) from None
    return _eval_node(tree.body, expression, path)


def _eval_node(node, expression, path):
    def ev(n):
        return _eval_node(n, expression, path)

    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result = True
            for v in node.values:
                result = ev(v)
                if not result:
                    return result
            return result
        result = False
        for v in node.values:
            result = ev(v)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = ev(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return +operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = ev(node.left), ev(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > _MAX_POW:
            raise LaunchError(f'$(eval {expression!r}): exponent too large', path)
        try:
            return _BINOPS[type(node.op)](left, right)
        except (TypeError, ZeroDivisionError) as exc:
            raise LaunchError(f'$(eval {expression!r}): {exc}', path) from None
    if isinstance(node, ast.Compare):
        left = ev(node.left)
        for op, comp in zip(node.ops, node.comparators):
            if type(op) not in _CMPOPS:
                break
            right = ev(comp)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        else:
            return True
    if isinstance(node, ast.IfExp):
        return ev(node.body) if ev(node.test) else ev(node.orelse)
    if isinstance(node, (ast.Tuple, ast.List)):
        values = [ev(e) for e in node.elts]
        return tuple(values) if isinstance(node, ast.Tuple) else values
    if isinstance(node, ast.Call) and not node.keywords:
        func = _call_target(node.func)
        if func is not None:
            return func(*[ev(a) for a in node.args])
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == 'math'
            and isinstance(getattr(math, node.attr, None), float)):
        return getattr(math, node.attr)
    raise LaunchError(f'$(eval {expression!r}): only arithmetic, comparisons and boolean logic are '
                      f'allowed (rejected {type(node).__name__})', path)


def _call_target(func):
    if isinstance(func, ast.Name) and func.id in _FUNCS:
        return _FUNCS[func.id]
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == 'math'
            and func.attr in ('sqrt', 'floor', 'ceil', 'sin', 'cos', 'tan', 'radians', 'degrees',
                              'fabs', 'log', 'exp', 'atan2', 'hypot')):
        return getattr(math, func.attr)
    return None

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
Parse and evaluate launch substitutions such as ``$(var x)`` and ``$(eval '1 + 2')``.

The grammar is ROS 2 Jazzy's frontend grammar (launch/frontend/grammar.lark), written out by
hand: text with embedded ``$(name arg arg ...)``; arguments are separated by exactly one
space; an argument is either a run of plain characters and nested substitutions, or one
quoted string (``'...'`` or ``"..."``) that may contain spaces and substitutions. A backslash
escapes the next character everywhere (a backslash before ``$(`` makes it literal text).

The substitution set is Jazzy's. ``$(log_dir)``/``$(launch_log_dir)`` are Jazzy substitutions
aloe launch does not implement (it says so); anything else (``$(optenv)``, ...) is not Jazzy.
"""

import ast
import math
import operator
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys

import yaml

from aloe_ros.launch_tools.errors import LaunchError

#: Every substitution of ROS 2 Jazzy (launch 3.4 + launch_ros 0.26).
JAZZY_SUBSTITUTIONS = (
    'all', 'and', 'anon', 'any', 'command', 'dirname', 'env', 'equals', 'eval', 'exec-in-pkg',
    'file-content', 'filename', 'find-exec', 'find-pkg-prefix', 'find-pkg-share', 'if',
    'launch_log_dir', 'log_dir', 'not', 'not-equals', 'or', 'param', 'var')
#: The Jazzy substitutions aloe launch does not evaluate.
NOT_SUPPORTED = ('launch_log_dir', 'log_dir')
SUPPORTED = tuple(n for n in JAZZY_SUBSTITUTIONS if n not in NOT_SUPPORTED)
HINTS = {'optenv': 'use $(env NAME default)'}
_IDENTIFIER = re.compile(r'[A-Za-z][A-Za-z0-9_-]*')
_ESCAPE = re.compile(r'\\(.)', re.DOTALL)


class Substitution:
    """One ``$(name args...)``; each argument is a list of parts (str or Substitution)."""

    def __init__(self, name, args):
        """Keep the substitution name and its unevaluated arguments."""
        self.name = name
        self.args = args

    def __repr__(self):
        """Show the substitution for debugging."""
        return f'Substitution({self.name!r}, {self.args!r})'


def unescape(text):
    """Drop the backslash of every escaped character, as the Jazzy frontend does."""
    return _ESCAPE.sub(r'\1', text)


def parse(text):
    """Split text into a list of literal strings and Substitution objects (Jazzy grammar)."""
    return _Parser(text).template()


def has_substitutions(text):
    """Return whether text contains at least one substitution."""
    return any(isinstance(p, Substitution) for p in parse(text))


class _Parser:
    """Recursive-descent parser for one attribute value; raises ValueError on bad syntax."""

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def _error(self, what):
        raise ValueError(f'{what} at character {self.pos + 1} of {self.text!r}')

    def _at_sub(self):
        return self.text.startswith('$(', self.pos)

    def _take_escaped(self, buf):
        """Append a backslash and the character it escapes (if any) to buf."""
        buf.append(self.text[self.pos:self.pos + 2])
        self.pos += 2

    def template(self):
        parts, buf = [], []
        while self.pos < len(self.text):
            if self._at_sub():
                if buf:
                    parts.append(unescape(''.join(buf)))
                    buf = []
                parts.append(self.substitution(None))
            elif self.text[self.pos] == '\\':
                self._take_escaped(buf)
            else:
                buf.append(self.text[self.pos])
                self.pos += 1
        if buf or not parts:
            parts.append(unescape(''.join(buf)))
        return parts

    def substitution(self, quote):
        """Parse ``$(name[ arg[ arg...]])`` starting at ``$(``; quote is the enclosing quote."""
        self.pos += 2
        match = _IDENTIFIER.match(self.text, self.pos)
        if not match:
            self._error('expected a substitution name after "$("')
        name = match.group(0)
        self.pos = match.end()
        args = []
        while True:
            if self.pos >= len(self.text):
                self._error(f'unterminated substitution $({name} ...)')
            char = self.text[self.pos]
            if char == ')':
                self.pos += 1
                return Substitution(name, args)
            if char != ' ':
                self._error(f'expected one space or ")" in $({name} ...)')
            self.pos += 1
            args.append(self.value(quote))

    def value(self, quote):
        """Parse one argument: a quoted string (outside quotes only) or parts up to space/``)``."""
        if quote is None and self.pos < len(self.text) and self.text[self.pos] in '\'"':
            return self.quoted(self.text[self.pos])
        parts, buf = [], []
        forbidden = ' ()' + ('\'"' if quote is None else quote)
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if self._at_sub():
                if buf:
                    parts.append(unescape(''.join(buf)))
                    buf = []
                parts.append(self.substitution(quote))
            elif char == '\\':
                self._take_escaped(buf)
            elif char in forbidden:
                break
            else:
                buf.append(char)
                self.pos += 1
        if buf:
            parts.append(unescape(''.join(buf)))
        if not parts:
            self._error('empty substitution argument (arguments are separated by exactly one '
                        'space)')
        return parts

    def quoted(self, quote):
        """Parse ``'...'`` or ``"..."``: text and substitutions up to the closing quote."""
        self.pos += 1
        parts, buf = [], []
        while True:
            if self.pos >= len(self.text):
                self._error(f'unterminated quote {quote}')
            char = self.text[self.pos]
            if char == quote:
                self.pos += 1
                break
            if self._at_sub():
                if buf:
                    parts.append(unescape(''.join(buf)))
                    buf = []
                parts.append(self.substitution(quote))
            elif char == '\\':
                self._take_escaped(buf)
            else:
                buf.append(char)
                self.pos += 1
        if buf or not parts:
            parts.append(unescape(''.join(buf)))
        if self.pos < len(self.text) and self.text[self.pos] not in ' )':
            self._error(f'text after the closing quote {quote} (a quoted argument must be whole)')
        return parts


def parse_or_raise(text, path):
    """Parse text, turning syntax errors into a LaunchError naming the file."""
    try:
        return parse(text)
    except ValueError as exc:
        raise LaunchError(f'bad substitution syntax: {exc}', path) from None


def evaluate(text, context):
    """Return text with every substitution evaluated against context (a LaunchContext)."""
    return join(parse_or_raise(text, context.path), context)


def join(parts, context):
    """Evaluate a parsed parts list to text."""
    return ''.join(p if isinstance(p, str) else _eval_sub(p, context) for p in parts)


def _eval_sub(sub, context):
    name = sub.name
    if name in NOT_SUPPORTED:
        raise LaunchError(f'$({name}) is a ROS 2 Jazzy substitution that aloe launch does not '
                          f'support; run this file with ros2 launch', context.path)
    if name not in SUPPORTED:
        hint = f'; {HINTS[name]}' if name in HINTS else ''
        raise LaunchError(f'$({name}) is not a ROS 2 Jazzy substitution{hint}; the Jazzy set is: '
                          f'{", ".join(JAZZY_SUBSTITUTIONS)}', context.path)

    def need(low, high):
        if not low <= len(sub.args) <= high:
            raise LaunchError(f'$({name}) takes {low}..{high} arguments, got {len(sub.args)}',
                              context.path)

    def arg(i):
        return join(sub.args[i], context)

    if name == 'if':
        need(2, 3)
        if typed_bool(arg(0), context.path, '$(if)'):
            return arg(1)
        return arg(2) if len(sub.args) == 3 else ''
    args = [arg(i) for i in range(len(sub.args))]
    return _EVALUATORS[name](args, need, context)


def _var(args, need, context):
    need(1, 2)
    if args[0] in context.configs:
        return context.configs[args[0]]
    if len(args) == 2:
        return args[1]
    known = ', '.join(sorted(context.configs)) or '(none)'
    raise LaunchError(f'$(var {args[0]}): undefined launch configuration; defined: {known}',
                      context.path)


def _env(args, need, context):
    need(1, 2)
    if args[0] in context.env:
        return context.env[args[0]]
    if len(args) == 2:
        return args[1]
    raise LaunchError(f'$(env {args[0]}): environment variable not set and no default',
                      context.path)


def _find_pkg_share(args, need, context):
    need(1, 1)
    return context.resolver.share_dir(args[0], context.path)


def _find_pkg_prefix(args, need, context):
    need(1, 1)
    return context.resolver.prefix(args[0], context.path)


def _exec_in_pkg(args, need, context):
    need(2, 2)
    return context.resolver.executable_path(args[1], args[0], context.path)


def _find_exec(args, need, context):
    need(1, 1)
    found = shutil.which(args[0], path=context.env.get('PATH', os.defpath))
    if found is None:
        raise LaunchError(f"$(find-exec {args[0]}): executable '{args[0]}' not found on the PATH",
                          context.path)
    return found


def _file_content(args, need, context):
    need(1, 1)
    try:
        with open(args[0], encoding='utf-8') as stream:
            return stream.read()
    except OSError as exc:
        raise LaunchError(f'$(file-content {args[0]}): {exc.strerror}', context.path) from None


def _dirname(args, need, context):
    need(0, 0)
    return os.path.dirname(os.path.abspath(context.current_file))


def _filename(args, need, context):
    need(0, 0)
    return os.path.abspath(context.current_file)


def _eval(args, need, context):
    need(1, 1)
    return str(safe_eval(args[0], context.path))


def _not(args, need, context):
    need(1, 1)
    return str(not typed_bool(args[0], context.path, '$(not)')).lower()


def _binary_bool(args, need, context, name, combine):
    need(2, 2)
    values = [typed_bool(a, context.path, f'$({name})') for a in args]
    return str(combine(values)).lower()


def _equals(args, need, context):
    need(2, 2)
    return str(values_equal(args[0], args[1])).lower()


def _not_equals(args, need, context):
    need(2, 2)
    return str(not values_equal(args[0], args[1])).lower()


def _anon(args, need, context):
    need(1, 1)
    key = 'anon' + args[0]
    if key not in context.configs:
        salt = int.from_bytes(os.urandom(7), 'big')
        raw = f'{args[0]}_{socket.gethostname()}_{os.getpid()}_{salt}'
        context.configs[key] = raw.replace('.', '_').replace('-', '_').replace(':', '_')
    return context.configs[key]


def _param(args, need, context):
    # Jazzy reads global parameters set by <set_parameter>, which aloe launch rejects; with none
    # set, the default is the value, as under ros2 launch.
    need(1, 2)
    if len(args) == 2:
        return args[1]
    raise LaunchError(f"$(param {args[0]}): parameter '{args[0]}' not found (no set_parameter "
                      f'sets it) and no default', context.path)


def _command(args, need, context):
    """$(command CMD [fail|warn|ignore|capture]): stdout of CMD, split like a shell line."""
    need(1, 2)
    command = args[0]
    on_stderr = args[1] if len(args) == 2 else 'fail'
    if on_stderr not in ('fail', 'warn', 'ignore', 'capture'):
        raise LaunchError(f'$(command): second argument must be fail, warn, ignore or capture, '
                          f'got {on_stderr!r}', context.path)
    try:
        result = subprocess.run(
            shlex.split(command), stdout=subprocess.PIPE, text=True, timeout=60,
            stderr=subprocess.STDOUT if on_stderr == 'capture' else subprocess.PIPE,
            env=dict(context.env))
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise LaunchError(f'$(command {command}): {exc}', context.path) from None
    if result.returncode != 0 or (result.stderr and on_stderr == 'fail'):
        raise LaunchError(f'$(command {command}) failed (exit {result.returncode}): '
                          f'{(result.stderr or "").strip()[:500]}', context.path)
    if result.stderr and on_stderr == 'warn':
        print(f'[aloe launch] $(command {command}) wrote to stderr: {result.stderr.strip()[:500]}',
              file=sys.stderr)
    return result.stdout


_EVALUATORS = {
    'var': _var, 'env': _env, 'find-pkg-share': _find_pkg_share,
    'find-pkg-prefix': _find_pkg_prefix, 'exec-in-pkg': _exec_in_pkg, 'find-exec': _find_exec,
    'file-content': _file_content, 'dirname': _dirname, 'filename': _filename, 'eval': _eval,
    'not': _not, 'equals': _equals, 'not-equals': _not_equals, 'anon': _anon, 'param': _param,
    'command': _command,
    'and': lambda a, n, c: _binary_bool(a, n, c, 'and', all),
    'or': lambda a, n, c: _binary_bool(a, n, c, 'or', any),
}


def _variadic_bool(name, combine):
    def evaluate_all(args, need, context):
        return str(combine(typed_bool(a, context.path, f'$({name})') for a in args)).lower()
    return evaluate_all


_EVALUATORS['all'] = _variadic_bool('all', all)
_EVALUATORS['any'] = _variadic_bool('any', any)


def condition(value, path, what):
    """Evaluate an ``if``/``unless`` value as Jazzy does: true/1 or false/0, any case."""
    text = str(value).strip().lower()
    if text in ('true', '1'):
        return True
    if text in ('false', '0'):
        return False
    raise LaunchError(f'{what}: expected true/false/1/0, got {value!r}', path)


def typed_bool(text, path, what):
    """Coerce substitution text to bool by YAML rules ('1'/'0' too), as Jazzy's typed ones do."""
    mapped = {'1': 'true', '0': 'false'}.get(text, text)
    try:
        value = yaml.safe_load(mapped) if mapped else None
    except Exception:  # noqa: B902 - any YAML failure is "not a bool"
        value = None
    if not isinstance(value, bool):
        raise LaunchError(f'{what}: cannot convert {text!r} to a bool', path)
    return value


def _is_bool_text(text):
    return text.lower() in ('true', 'false', '1', '0')


def _is_float_text(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def values_equal(left, right):
    """Compare like Jazzy's $(equals): as booleans, else as floats, else as text."""
    if _is_bool_text(left) and _is_bool_text(right):
        return (left.lower() in ('true', '1')) == (right.lower() in ('true', '1'))
    if _is_float_text(left) and _is_float_text(right):
        return math.isclose(float(left), float(right))
    return left == right


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
           ast.NotIn: lambda a, b: a not in b}
_MATH_FUNCS = ('sqrt', 'floor', 'ceil', 'sin', 'cos', 'tan', 'radians', 'degrees', 'fabs', 'log',
               'exp', 'atan2', 'hypot')
_NAMES = {'True': True, 'False': False, 'None': None, 'pi': math.pi, 'e': math.e, 'tau': math.tau,
          'inf': math.inf}
_FUNCS = {'abs': abs, 'min': min, 'max': max, 'round': round, 'int': int, 'float': float,
          'str': str, 'bool': bool, 'len': len}
_FUNCS.update({name: getattr(math, name) for name in _MATH_FUNCS})
_MAX_POW = 64


def safe_eval(expression, path=None):
    """
    Evaluate the arithmetic/boolean/comparison subset of Python used in ``$(eval ...)``.

    Allowed: literals, ``and or not``, ``+ - * / // % **`` (exponent at most 64), comparisons,
    ``x if c else y``, tuples/lists, ``True False None pi e tau inf``, ``abs min max round int
    float str bool len`` and the math functions (bare or as ``math.<name>``, as Jazzy's eval
    exposes them). Anything else (attributes, imports, lambdas) is rejected because ros2 launch
    would run it as arbitrary Python.
    """
    try:
        tree = ast.parse(expression.strip(), mode='eval')
    except SyntaxError as exc:
        raise LaunchError(f'$(eval {expression!r}): syntax error: {exc.msg}', path) from None
    return _eval_node(tree.body, expression, path)


def _eval_node(node, expression, path):
    def ev(n):
        return _eval_node(n, expression, path)

    if isinstance(node,
                  ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.BoolOp):
        stop_when = not isinstance(node.op, ast.And)
        result = not stop_when
        for v in node.values:
            result = ev(v)
            if bool(result) == stop_when:
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
        if isinstance(node.op,
                      ast.Pow) and isinstance(right, (int, float)) and abs(right) > _MAX_POW:
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
            try:
                return func(*[ev(a) for a in node.args])
            except (TypeError, ValueError) as exc:
                raise LaunchError(f'$(eval {expression!r}): {exc}', path) from None
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == 'math' and isinstance(getattr(math, node.attr, None), float)):
        return getattr(math, node.attr)
    raise LaunchError(f'$(eval {expression!r}): only arithmetic, comparisons and boolean logic '
                      'are '
                      f'allowed (rejected {type(node).__name__})', path)


def _call_target(func):
    if isinstance(func, ast.Name) and func.id in _FUNCS:
        return _FUNCS[func.id]
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == 'math' and func.attr in _MATH_FUNCS):
        return getattr(math, func.attr)
    return None

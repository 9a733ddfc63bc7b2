#!/usr/bin/env python3
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
Wrap Python lines longer than ROS's flake8 limit (99) in the project's own style.

Idempotent and conservative, so it can be re-run after merges: a line is only changed when a
break keeps the code equivalent, and the continuation is aligned with the opening bracket
(the hanging style the code already uses). Breaks, in order of preference:

- after a ``,`` or before a binary ``and``/``or``/``+``/``if``/``else``/``for`` inside brackets;
- inside a single-line string literal within brackets, at a space, as two adjacent literals
  (an f-string only outside ``{...}``);
- a ``#`` comment on its own line, at a space, into two comment lines;
- a docstring line, at a space, continuing at the same indentation.

Every rewrite is checked: the file's syntax tree must be unchanged (docstrings compared with
whitespace collapsed), or the file is left alone and reported.

Lines it cannot break safely are listed and left for a person. Usage:
``scripts/wrap_long_lines.py [--check] [--limit 99] PATH...`` (files or folders).
"""

import argparse
import ast
import io
import os
import sys
import tokenize

OPENERS = {'(': ')', '[': ']', '{': '}'}
BREAK_BEFORE = {'and', 'or', 'if', 'else', 'for', '+', '-', '*', '/', '%', '|', '&'}


def python_files(paths):
    """Yield the .py files under paths."""
    for path in paths:
        if os.path.isfile(path):
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in ('__pycache__', '.git', '.venv', 'build',
                                                          'install', 'log'))
            for name in sorted(files):
                if name.endswith('.py'):
                    yield os.path.join(root, name)


def _tokens(source):
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None


def _candidates(line_no, tokens, limit):
    """Yield (column, kind, token) break points of line line_no, best first, last first."""
    depth_stack = []
    points = []
    for tok in tokens:
        if tok.start[0] > line_no:
            break
        if tok.type == tokenize.OP and tok.string in OPENERS:
            depth_stack.append(tok)
        elif tok.type == tokenize.OP and tok.string in OPENERS.values() and depth_stack:
            depth_stack.pop()
        if tok.start[0] != line_no or not depth_stack:
            continue
        opener = depth_stack[-1]
        indent = opener.end[1] if opener.start[0] == line_no else None
        if tok.type == tokenize.OP and tok.string == ',':
            points.append((tok.end[1], 'comma', tok, list(depth_stack)))
        elif tok.string in BREAK_BEFORE and tok.type in (tokenize.OP, tokenize.NAME):
            points.append((tok.start[1], 'before', tok, list(depth_stack)))
        elif tok.type == tokenize.STRING and tok.start[0] == tok.end[0]:
            points.append((tok.start[1], 'string', tok, list(depth_stack)))
        del indent
    return points


def _continuation_column(stack, line_no, lines):
    """Column to align a continuation with: after the innermost opener on an earlier/this line."""
    opener = stack[-1]
    row, col = opener.start
    text = lines[row - 1]
    after = text[col + 1:].strip()
    if not after or after.startswith('#'):
        # Hanging indent: keep the current continuation's indent, or open one four spaces in.
        if row < line_no:
            current = lines[line_no - 1]
            return len(current) - len(current.lstrip())
        return len(text) - len(text.lstrip()) + 4
    return col + 1


def _split_string(token_text, room):
    """Split a one-line string literal into two adjacent literals, the first at most room long."""
    prefix = ''
    while token_text and token_text[0] in 'rRbBfFuU':
        prefix += token_text[0]
        token_text = token_text[1:]
    if len(token_text) < 2 or token_text[0] not in '\'"' or token_text[:3] in ('"""', "'''"):
        return None
    quote = token_text[0]
    body = token_text[1:-1]
    is_f = 'f' in prefix.lower()
    depth = 0
    best = None
    for i, char in enumerate(body):
        if is_f and char == '{':
            depth += 1
        elif is_f and char == '}':
            depth -= 1
        if char == ' ' and depth == 0 and i > 0 and body[i - 1] != '\\':
            first = f'{prefix}{quote}{body[:i + 1]}{quote}'
            if len(first) <= room:
                best = i
    if best is None:
        return None
    plain = prefix.replace('f', '').replace('F', '')
    first_prefix = prefix if is_f and '{' in body[:best + 1] else plain
    second_prefix = prefix if is_f and '{' in body[best + 1:] else plain
    return (f'{first_prefix}{quote}{body[:best + 1]}{quote}',
            f'{second_prefix}{quote}{body[best + 1:]}{quote}')


def wrap_source(source, limit):
    """Return (new source, [line numbers still too long])."""
    lines = source.split('\n')
    changed = True
    guard = 0
    while changed and guard < 2000:
        changed = False
        guard += 1
        tokens = _tokens('\n'.join(lines))
        if tokens is None:
            break
        for index, line in enumerate(lines):
            if len(line) <= limit:
                continue
            new = _wrap_line(index + 1, lines, tokens, limit)
            if new is not None:
                replaced = 1
                if isinstance(new, tuple):
                    new, realigned = new
                    replaced += realigned
                lines[index:index + replaced] = new
                changed = True
                break
    stuck = [i + 1 for i, line in enumerate(lines) if len(line) > limit]
    return '\n'.join(lines), stuck


def _wrap_line(line_no, lines, tokens, limit):
    line = lines[line_no - 1]
    stripped = line.lstrip()
    if stripped.startswith('#'):
        return _wrap_comment(line, limit)
    line_tokens = [t for t in tokens if t.start[0] <= line_no]
    inside = [i for i, t in enumerate(tokens)
              if t.type == tokenize.STRING and t.start[0] < line_no <= t.end[0]]
    if inside:
        index = inside[0]
        previous = tokens[index - 1].type if index else tokenize.NEWLINE
        if tokens[index].end[0] == line_no or previous not in (
                tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            return None  # the last line of a string, or a string that is not a docstring
        return _wrap_text_line(line, limit)
    if any(t.type == tokenize.STRING and t.start[0] == line_no and t.end[0] > line_no
           for t in tokens):
        return None
    if any(t.type == tokenize.COMMENT and t.start[0] == line_no and 'noqa' in t.string
           for t in tokens):
        return None  # a noqa applies to its own line: a person decides
    moved = _move_trailing_comment(line, line_no, tokens, limit)
    if moved:
        return moved
    points = _candidates(line_no, line_tokens, limit)
    for col, kind, tok, stack in sorted(points, key=lambda p: -p[0]):
        cont = _continuation_column(stack, line_no, lines)
        if kind == 'comma':
            head, tail = line[:col].rstrip(), line[col:].strip()
        elif kind == 'before':
            head, tail = line[:col].rstrip(), line[col:].strip()
        else:
            continue
        if not tail or tail.startswith('#') or len(head) > limit or head.strip() == '':
            continue
        if cont + len(tail) > limit and len(tail) >= len(line) - cont:
            continue
        if cont >= col or cont > limit // 2:
            continue  # a continuation far to the right is harder to read than the long line
        old_col = len(line) - len(line[col:].lstrip())
        following = []
        for later in lines[line_no:]:
            indent = len(later) - len(later.lstrip())
            if not later.strip() or indent < old_col:
                break
            # Lines aligned with the moved text (or deeper) move with it.
            following.append(' ' * (indent + cont - old_col) + later.lstrip())
        return [head, ' ' * cont + tail] + following, len(following)
    for col, kind, tok, stack in sorted(points, key=lambda p: -p[0]):
        if kind != 'string' or tok.start[1] >= limit:
            continue
        cont = _continuation_column(stack, line_no, lines)
        room = limit - tok.start[1]
        parts = _split_string(tok.string, room)
        if parts is None or cont > limit // 2:
            continue
        head = line[:tok.start[1]] + parts[0]
        tail = ' ' * cont + parts[1] + line[tok.end[1]:]
        if len(tail) >= len(line):
            continue
        return [head, tail]
    return _parenthesise_import(line)


def _move_trailing_comment(line, line_no, tokens, limit):
    """Put a trailing ``# comment`` of a too-long line on its own line above it."""
    comments = [t for t in tokens if t.type == tokenize.COMMENT and t.start[0] == line_no]
    if not comments or comments[0].start[1] == len(line) - len(line.lstrip()):
        return None
    if any(marker in comments[0].string for marker in ('noqa', 'type:', 'pragma')):
        return None  # these apply to their own line
    code = line[:comments[0].start[1]].rstrip()
    if len(code) > limit:
        return None
    indent = line[:len(line) - len(line.lstrip())]
    return [indent + comments[0].string, code]


def _parenthesise_import(line):
    """``from m import a, b`` -> ``from m import (a, b)`` so it can break after a comma."""
    stripped = line.lstrip()
    if not stripped.startswith('from ') or ' import ' not in stripped or '(' in stripped:
        return None
    if '#' in stripped or stripped.endswith('\\'):
        return None
    head, _, names = line.partition(' import ')
    return [f'{head} import ({names.strip()})']


def _wrap_text_line(line, limit):
    indent = line[:len(line) - len(line.lstrip())]
    text = line.strip()
    cut = text.rfind(' ', 0, limit - len(indent))
    if cut <= 0:
        return None
    return [f'{indent}{text[:cut]}', f'{indent}{text[cut + 1:]}']


def _wrap_comment(line, limit):
    indent = line[:len(line) - len(line.lstrip())]
    text = line.lstrip()[1:].strip()
    room = limit - len(indent) - 2
    cut = text.rfind(' ', 0, room)
    if cut <= 0:
        return None
    return [f'{indent}# {text[:cut]}', f'{indent}# {text[cut + 1:]}']


def _normalised_dump(source):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                body[0].value.value = ' '.join(body[0].value.value.split())
    return ast.dump(tree)


def _same_tree(old, new):
    try:
        return _normalised_dump(old) == _normalised_dump(new)
    except SyntaxError:
        return False


def main(argv=None):
    """Wrap (or with --check, list) the lines over the limit in the given files."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('paths', nargs='+')
    parser.add_argument('--limit', type=int, default=99)
    parser.add_argument('--check', action='store_true')
    options = parser.parse_args(argv)
    left = 0
    for path in python_files(options.paths):
        with open(path, encoding='utf-8') as stream:
            source = stream.read()
        new, stuck = wrap_source(source, options.limit)
        if new != source and not _same_tree(source, new):
            print(f'{path}: wrapping would change the code; left alone')
            left += 1
            continue
        if new != source and not options.check:
            with open(path, 'w', encoding='utf-8') as stream:
                stream.write(new)
        for line_no in stuck:
            print(f'{path}:{line_no}: longer than {options.limit}, not wrapped')
        left += len(stuck)
    return 1 if left else 0


if __name__ == '__main__':
    sys.exit(main())

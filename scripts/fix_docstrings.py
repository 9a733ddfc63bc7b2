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
Put multi-line docstrings into the layout ament_pep257 checks at its defaults.

ament_pep257 ignores D212 and enforces D213 ("multi-line docstring summary should start at the
second line") and D209 ("closing quotes on a separate line"). This rewrites each module, class
and function docstring (found with ``ast``, so no other string literal is touched) that spans
several lines:

    before:  '''Summary.           after:  '''
                                            Summary.
             More text.'''                  More text.
                                            '''

The summary moves to the line after the opening quotes and the closing quotes get a line of
their own, both at the docstring's own indentation; every other line is kept byte for byte.
One-line docstrings are left alone. Code that takes a docstring's first line
(``__doc__.splitlines()[0]``, e.g. for argparse) gets ``.strip()`` so it still finds the
summary. Running it again changes nothing (idempotent), so it can be
re-run after merges.

    python3 scripts/fix_docstrings.py [--check] PATH...   (files or directories)

--check rewrites nothing and exits 1 if some file would change (listing them).
"""

import argparse
import ast
import io
import os
import re
import sys
import tokenize

SKIP_DIRS = {'.git', '.venv', '__pycache__', 'build', 'install', 'log', 'fixtures'}
_OPENING = re.compile(r'(?P<prefix>[rRuU]?)(?P<quotes>"""|\'\'\')')


def _docstring_nodes(tree):
    """Yield the string constants that are docstrings (module, class, function)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, 'body', [])
            if (body and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                yield body[0].value


def _char_col(line, byte_col):
    """Convert an ast column (UTF-8 bytes) to a str index into line."""
    return len(line.encode('utf-8')[:byte_col].decode('utf-8'))


def _rewrite(literal, indent):
    """Return the docstring literal in D213/D209 layout, or None if it needs no change."""
    match = _OPENING.match(literal)
    if not match or not literal.endswith(match.group('quotes')):
        return None  # a one-quote string or implicit concatenation: left to a person
    quotes = match.group('quotes')
    head = match.group(0)
    inner = literal[len(head):-len(quotes)]
    if '\n' not in inner:
        return None  # one-line docstring
    first, rest = inner.split('\n', 1)
    if first.strip():
        inner = '\n' + indent + first.lstrip() + '\n' + rest
    body, last = inner.rsplit('\n', 1)
    if last.strip():  # closing quotes after text on the last line
        inner = body + '\n' + last.rstrip() + '\n' + indent
    new = head + inner + quotes
    return None if new == literal else new


def fix_source(source):
    """Return source with every multi-line docstring in D213/D209 layout."""
    tree = ast.parse(source)
    # Not str.splitlines: it also splits at form feeds and other separators ast ignores.
    lines = _lines(source)
    # Line start offsets, to turn (line, column) into an index into source.
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    edits = []
    for const in _docstring_nodes(tree):
        first_line = lines[const.lineno - 1]
        start = starts[const.lineno - 1] + _char_col(first_line, const.col_offset)
        end = (starts[const.end_lineno - 1]
               + _char_col(lines[const.end_lineno - 1], const.end_col_offset))
        prefix = first_line[:_char_col(first_line, const.col_offset)]
        if prefix.strip():
            continue  # docstring shares its line with code (`def f(): """..."""`)
        new = _rewrite(source[start:end], prefix)
        if new is not None:
            edits.append((start, end, new))
    for start, end, new in sorted(edits, reverse=True):
        source = source[:start] + new + source[end:]
    return _strip_doc_before_first_line(source)


# String arguments of ``__doc__.split(...)[0]`` that take the first line or paragraph.
_SPLIT_ARGS = ("'\\n'", '"\\n"', "'\\n\\n'", '"\\n\\n"')


def _strip_doc_before_first_line(source):
    r"""
    Make code that takes a docstring's first line skip the new empty first line.

    ``__doc__.splitlines()[0]`` and ``__doc__.split('\n')[0]`` (also ``'\n\n'``), e.g. an
    argparse description, become ``__doc__.strip().splitlines()[0]`` and so on. They are found
    as tokens, so text in strings and comments is never touched.
    """
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline)
              if t.type not in (tokenize.NL, tokenize.COMMENT)]
    inserts = []
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME or tok.string != '__doc__':
            continue
        rest = [t.string for t in tokens[i + 1:i + 9]]
        if (rest[:7] == ['.', 'splitlines', '(', ')', '[', '0', ']']
                or (rest[:3] == ['.', 'split', '('] and len(rest) == 8
                    and rest[3] in _SPLIT_ARGS and rest[4:] == [')', '[', '0', ']'])):
            inserts.append(tok.end)
    lines = _lines(source)
    for row, col in sorted(inserts, reverse=True):
        offset = sum(len(line) for line in lines[:row - 1]) + col
        source = source[:offset] + '.strip()' + source[offset:]
    return source


def _lines(source):
    """Split source into lines as ast and tokenize count them (keeping the line ends)."""
    return re.findall(r'.*?(?:\r\n|\r|\n)|.+\Z', source, re.S)


def _python_files(paths):
    for path in paths:
        if os.path.isfile(path):
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith('.'))
            for name in sorted(files):
                if name.endswith('.py'):
                    yield os.path.join(root, name)


def main(argv=None):
    """Rewrite (or with --check, list) the files whose docstrings need the layout."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('paths', nargs='+')
    parser.add_argument('--check', action='store_true', help='change nothing; exit 1 if needed')
    args = parser.parse_args(argv)
    changed = []
    for path in _python_files(args.paths):
        with open(path, encoding='utf-8', newline='') as f:
            source = f.read()
        fixed = fix_source(source)
        if fixed != source:
            changed.append(path)
            if not args.check:
                with open(path, 'w', encoding='utf-8', newline='') as f:
                    f.write(fixed)
    for path in changed:
        print(('would fix ' if args.check else 'fixed ') + path)
    return 1 if args.check and changed else 0


if __name__ == '__main__':
    sys.exit(main())

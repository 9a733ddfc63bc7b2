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
Give every project file the full Apache-2.0 licence header that ament_copyright recognises.

Idempotent: a file already in the canonical form is left byte-for-byte alone, so it can be
re-run after merges. A file's own copyright line (year, holder) is kept; a file without one
gets ``Copyright <this year> aloe_ros maintainers``. The old two-line short form
(``# Licensed under the Apache License, Version 2.0``) is replaced by the full notice.

Files: every tracked or new (not ignored) Python file, shell script (``*.sh`` or a
``#!`` line naming sh/bash), ``*.cmake`` and ``CMakeLists.txt``.

Usage: ``scripts/fix_headers.py [--check] [--root DIR]``; ``--check`` changes nothing and
exits 1 listing the files that are not in the canonical form.
"""

import argparse
import datetime
import os
import re
import subprocess
import sys

HOLDER = 'aloe_ros maintainers'
LICENSE_LINES = (
    'Licensed under the Apache License, Version 2.0 (the "License");',
    'you may not use this file except in compliance with the License.',
    'You may obtain a copy of the License at',
    '',
    '    http://www.apache.org/licenses/LICENSE-2.0',
    '',
    'Unless required by applicable law or agreed to in writing, software',
    'distributed under the License is distributed on an "AS IS" BASIS,',
    'WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.',
    'See the License for the specific language governing permissions and',
    'limitations under the License.',
)
_COPYRIGHT = re.compile(r'^#\s*Copyright\s+(?:\(c\)\s+)?\d{4}(?:-\d{4})?(?:,\s*\d{4}(?:-\d{4})?)*'
                        r',?\s+\S.*$', re.IGNORECASE)
_SHORT_LICENSE = '# Licensed under the Apache License, Version 2.0'
_SHELL_SHEBANG = re.compile(r'^#!.*\b(?:ba|z|da)?sh\b')


def header_lines(copyright_line):
    """Return the canonical header (comment lines) for a file whose copyright line is given."""
    return [copyright_line, '#'] + [('# ' + line).rstrip() for line in LICENSE_LINES]


def project_files(root):
    """Return the repo-relative paths of the files that carry the header."""
    listed = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard',
                             '-z'],
                            cwd=root, check=True, capture_output=True).stdout.decode()
    files = []
    for rel in sorted(set(p for p in listed.split('\0') if p)):
        path = os.path.join(root, rel)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        name = os.path.basename(rel)
        if rel.endswith(('.py', '.sh', '.cmake')) or name == 'CMakeLists.txt':
            files.append(rel)
        elif '.' not in name and _first_line(path) and _SHELL_SHEBANG.match(_first_line(path)):
            files.append(rel)
    return files


def _first_line(path):
    try:
        with open(path, encoding='utf-8') as stream:
            return stream.readline().rstrip('\n')
    except (OSError, UnicodeDecodeError):
        return ''


def canonical_text(text, year=None):
    """Return text with its leading licence header in the canonical form."""
    lines = text.split('\n')
    head = []
    while lines and (lines[0].startswith('#!') or re.match(r'^#.*coding[:=]', lines[0])):
        head.append(lines.pop(0))
    # The leading comment block (the one ament_copyright reads).
    block_end = 0
    while block_end < len(lines) and lines[block_end].startswith('#'):
        block_end += 1
    block, rest = lines[:block_end], lines[block_end:]
    copyright_index = next((i for i, line in enumerate(block) if _COPYRIGHT.match(line)), None)
    if copyright_index is None:
        copyright_line = f'# Copyright {year or datetime.date.today().year} {HOLDER}'
        kept_before, kept_after = [], block
    else:
        copyright_line = block[copyright_index]
        kept_before = block[:copyright_index]
        kept_after = _strip_license(block[copyright_index + 1:])
    new_block = kept_before + header_lines(copyright_line)
    if kept_after:
        new_block += ['#'] + kept_after
    if rest and rest[0].strip() and not kept_after:
        rest = [''] + rest
    return '\n'.join(head + new_block + rest)


def _strip_license(lines):
    """Drop an existing licence notice (short or full) and blank comment lines around it."""
    out = list(lines)
    while out and out[0].strip() == '#':
        out.pop(0)
    if out and out[0].strip() == _SHORT_LICENSE:
        out.pop(0)
    elif out and out[0].startswith('# ' + LICENSE_LINES[0]):
        end = next((i for i, line in enumerate(out) if line.strip() == '# ' + LICENSE_LINES[-1]),
                   None)
        if end is not None:
            out = out[end + 1:]
    while out and out[0].strip() == '#':
        out.pop(0)
    return out


def main(argv=None):
    """Rewrite (or with --check, list) the files whose header is not canonical."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--check', action='store_true', help='change nothing; exit 1 if any file '
                        'needs a new header')
    parser.add_argument('--root',
                        default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    options = parser.parse_args(argv)
    wrong = []
    for rel in project_files(options.root):
        path = os.path.join(options.root, rel)
        with open(path, encoding='utf-8') as stream:
            text = stream.read()
        fixed = canonical_text(text)
        if fixed == text:
            continue
        wrong.append(rel)
        if not options.check:
            with open(path, 'w', encoding='utf-8') as stream:
                stream.write(fixed)
    verb = 'need' if options.check else 'rewrote'
    for rel in wrong:
        print(f'{verb} header: {rel}')
    print(f'{len(wrong)} file(s) {"need a new header" if options.check else "rewritten"}',
          file=sys.stderr)
    return 1 if (options.check and wrong) else 0


if __name__ == '__main__':
    sys.exit(main())

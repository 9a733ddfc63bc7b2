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
Every project file carries an Apache-2.0 header that ament_copyright recognises.

ament_copyright reads the first ``#`` comment block after any shebang/coding lines, needs a
``Copyright <years> <holder>`` line in it, and then the Apache-2.0 notice text in order (whitespace
ignored). The check below restates that rule; scripts/fix_headers.py rewrites files into it.
"""

import importlib.util
import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_spec = importlib.util.spec_from_file_location(
    'fix_headers', os.path.join(ROOT, 'scripts', 'fix_headers.py'))
fix_headers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fix_headers)

# The notice as ament_copyright's apache2 template has it, in pieces that must appear in order.
APACHE_NOTICE = [
    'Licensed under the Apache License, Version 2.0 (the "License");',
    'you may not use this file except in compliance with the License.',
    'You may obtain a copy of the License at',
    'http://www.apache.org/licenses/LICENSE-2.0',
    'Unless required by applicable law or agreed to in writing, software',
    'distributed under the License is distributed on an "AS IS" BASIS,',
    'WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.',
    'See the License for the specific language governing permissions and',
    'limitations under the License.',
]
COPYRIGHT = re.compile(r'^\s*copyright(?:\s+\(c\))?\s+\d{4}(?:-\d{4})?(?:,\s*\d{4}(?:-\d{4})?)*,?'
                       r'\s+\S', re.IGNORECASE)


def recognised(text):
    """Return None if text has a recognised Apache-2.0 header, else what is wrong."""
    lines = text.splitlines()
    while lines and (lines[0].startswith('#!') or re.match('#.*coding[:=]', lines[0])):
        lines.pop(0)
    while lines and not lines[0].strip():
        lines.pop(0)
    block = []
    for line in lines:
        if not line.startswith('#'):
            break
        block.append(line[2:] if line.startswith('# ') else line[1:])
    if not block:
        return 'no leading comment block'
    start = next((i for i, line in enumerate(block) if COPYRIGHT.match(line)), None)
    if start is None:
        return 'no copyright line in the leading comment block'
    flat = ' '.join(' '.join(block[start + 1:]).split())
    position = -1
    for piece in APACHE_NOTICE:
        found = flat.find(' '.join(piece.split()), position + 1)
        if found <= position:
            return f'Apache-2.0 notice missing or out of order at: {piece!r}'
        position = found
    return None


def test_every_project_file_has_a_recognised_header():
    files = fix_headers.project_files(ROOT)
    assert any(f.endswith('.py') for f in files) and 'run-tests' in files
    wrong = []
    for rel in files:
        with open(os.path.join(ROOT, rel), encoding='utf-8') as stream:
            problem = recognised(stream.read())
        if problem:
            wrong.append(f'{rel}: {problem}')
    assert not wrong, ('run scripts/fix_headers.py; files without a recognised licence header:\n'
                       + '\n'.join(wrong))


SHORT = ('#!/usr/bin/env bash\n# Copyright 2025 someone\n# Licensed under the Apache License, '
         'Version 2.0\n#\n# What this script does.\nset -e\n')


def test_fix_headers_rewrites_the_short_form_and_is_idempotent():
    fixed = fix_headers.canonical_text(SHORT)
    assert recognised(SHORT) is not None
    assert recognised(fixed) is None
    assert fixed.startswith('#!/usr/bin/env bash\n# Copyright 2025 someone\n#\n# Licensed under')
    assert '# limitations under the License.\n#\n# What this script does.\nset -e\n' in fixed
    assert fix_headers.canonical_text(fixed) == fixed


@pytest.mark.parametrize('text', ['"""Doc."""\n', '', 'import os\n'])
def test_fix_headers_adds_a_header_where_none_is(text):
    fixed = fix_headers.canonical_text(text, year=2031)
    assert fixed.startswith('# Copyright 2031 aloe_ros maintainers\n#\n# Licensed under')
    assert recognised(fixed) is None
    assert fixed.endswith(text)
    assert fix_headers.canonical_text(fixed) == fixed


def test_the_check_catches_a_broken_notice():
    good = fix_headers.canonical_text('x = 1\n', year=2030)
    assert recognised(good.replace('WITHOUT WARRANTIES', 'WITH WARRANTIES')) is not None
    assert recognised(good.replace('# Copyright 2030', '# (c) 2030')) is not None
    assert recognised('\n' + good) is None
    assert recognised('x = 1\n' + good) == 'no leading comment block'

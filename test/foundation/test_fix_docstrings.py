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

"""scripts/fix_docstrings.py: the D213/D209 layout, only on docstrings, idempotent."""

import importlib.util
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
_spec = importlib.util.spec_from_file_location(
    'fix_docstrings', os.path.join(ROOT, 'scripts', 'fix_docstrings.py'))
fix_docstrings = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fix_docstrings)

BEFORE = '''"""Module summary.

Module text.
"""

TEXT = """Not a docstring.
Left alone."""


class Thing:
    r"""Class summary with a \\d raw string.

    Text.
    """

    def method(self):
        """One line: left alone."""
        value = """also
        not a docstring"""
        return value

    async def run(self):
        \'\'\'Summary with single quotes.

        Text ending on the closing line.\'\'\'


def ünïcode(x='é'): return x


def nested():
    def inner():
        """Inner summary — with a non-ASCII dash.
        Second line."""
    return inner
'''

AFTER = '''"""
Module summary.

Module text.
"""

TEXT = """Not a docstring.
Left alone."""


class Thing:
    r"""
    Class summary with a \\d raw string.

    Text.
    """

    def method(self):
        """One line: left alone."""
        value = """also
        not a docstring"""
        return value

    async def run(self):
        \'\'\'
        Summary with single quotes.

        Text ending on the closing line.
        \'\'\'


def ünïcode(x='é'): return x


def nested():
    def inner():
        """
        Inner summary — with a non-ASCII dash.
        Second line.
        """
    return inner
'''


def test_multi_line_docstrings_get_the_summary_on_the_second_line():
    assert fix_docstrings.fix_source(BEFORE) == AFTER


def test_a_second_run_changes_nothing():
    assert fix_docstrings.fix_source(AFTER) == AFTER


ARGPARSE_BEFORE = '''"""
Tool summary.

More.
"""
import argparse


def main():
    """
    Run it.

    More.
    """
    # __doc__.splitlines()[0] in a comment stays
    text = "__doc__.splitlines()[0] in a string stays"
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    b = __doc__.split('\\n')[0], __doc__.split("\\n\\n")[0], main.__doc__.split('\\n')[0]
    c = __doc__.split(',')[0], __doc__.splitlines()[1]
    return a, b, c, text
'''


def test_code_taking_the_first_line_gets_the_summary():
    after = fix_docstrings.fix_source(ARGPARSE_BEFORE)
    assert 'description=__doc__.strip().splitlines()[0])' in after
    assert ("b = __doc__.strip().split('\\n')[0], __doc__.strip().split(\"\\n\\n\")[0], "
            "main.__doc__.strip().split('\\n')[0]") in after
    assert "c = __doc__.split(',')[0], __doc__.splitlines()[1]" in after, 'other uses: untouched'
    assert '# __doc__.splitlines()[0] in a comment stays' in after
    assert 'text = "__doc__.splitlines()[0] in a string stays"' in after
    assert fix_docstrings.fix_source(after) == after
    namespace = {}
    exec(compile(after, 'tool.py', 'exec'), namespace)
    assert namespace['main']()[0].description == 'Tool summary.'
    assert namespace['main']()[1] == ('Tool summary.', 'Tool summary.', 'Run it.')


def test_check_mode_lists_files_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / 'pkg' / 'mod.py'
    path.parent.mkdir()
    path.write_text(BEFORE, encoding='utf-8')
    assert fix_docstrings.main(['--check', str(tmp_path)]) == 1
    assert path.read_text(encoding='utf-8') == BEFORE
    assert f'would fix {path}' in capsys.readouterr().out
    assert fix_docstrings.main([str(tmp_path)]) == 0
    assert path.read_text(encoding='utf-8') == AFTER
    assert fix_docstrings.main(['--check', str(tmp_path)]) == 0


def test_the_project_is_in_the_layout():
    """Every project Python file already has it (run the script after merges if this fails)."""
    paths = [os.path.join(ROOT, p) for p in ('src', 'test', 'bench', 'scripts', 'setup.py')]
    assert fix_docstrings.main(['--check', *paths]) == 0

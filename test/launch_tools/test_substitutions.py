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

"""Substitution parsing and evaluation, including the safe $(eval)."""

import os

import pytest

from aloe_ros.launch_tools.errors import LaunchError
from aloe_ros.launch_tools.substitutions import evaluate, safe_eval


class Ctx:
    """Minimal stand-in for LaunchContext."""

    def __init__(self, resolver=None):
        self.path = '/tmp/x/demo.launch.yaml'
        self.current_file = self.path
        self.configs = {'rate': '50', 'mode': 'sim', 'name': 'rate'}
        self.env = {'HOME_X': '/home/x', 'PATH': os.environ.get('PATH', '')}
        self.resolver = resolver


def test_var_env_dirname_and_nesting():
    ctx = Ctx()
    assert evaluate('hz=$(var rate)', ctx) == 'hz=50'
    assert evaluate('$(var $(var name))', ctx) == '50'
    assert evaluate('$(env HOME_X)/a', ctx) == '/home/x/a'
    assert evaluate('$(env MISSING fallback)', ctx) == 'fallback'
    assert evaluate('$(var missing fallback)', ctx) == 'fallback'
    assert evaluate('$(dirname)/p.yaml', ctx) == '/tmp/x/p.yaml'
    assert evaluate("plain 'quoted' text", ctx) == "plain 'quoted' text"


def test_eval_arithmetic_and_logic():
    ctx = Ctx()
    assert evaluate("$(eval '1.0 / $(var rate)')", ctx) == '0.02'
    assert evaluate('$(eval "\'$(var mode)\' == \'sim\'")', ctx) == 'True'
    assert evaluate("$(eval '2 ** 3 + 1 if True else 0')", ctx) == '9'
    assert evaluate('$(not false)', ctx) == 'true'
    assert evaluate('$(and true 0)', ctx) == 'false'
    assert evaluate('$(equals $(var mode) sim)', ctx) == 'true'


@pytest.mark.parametrize('expr', ["__import__('os').system('true')", '(1).__class__', 'open("f")',
                                  '[x for x in (1,)]', '2 ** 1000', 'lambda: 1'])
def test_eval_rejects_code(expr):
    with pytest.raises(LaunchError):
        safe_eval(expr)


def test_errors_name_file_and_problem():
    ctx = Ctx()
    with pytest.raises(LaunchError,
                       match=r'demo\.launch\.yaml.*undefined launch configuration.*rate'):
        evaluate('$(var nope)', ctx)
    with pytest.raises(LaunchError, match='environment variable not set'):
        evaluate('$(env MISSING)', ctx)
    with pytest.raises(LaunchError, match=r'\$\(optenv\) is not a ROS 2 Jazzy substitution'):
        evaluate('$(optenv MISSING)', ctx)
    with pytest.raises(LaunchError,
                       match=r"\$\(find-exec no_such_tool_x\): .* not found on the PATH"):
        evaluate('$(find-exec no_such_tool_x)', ctx)
    with pytest.raises(LaunchError, match=r'\$\(command false\) failed \(exit 1\)'):
        evaluate('$(command false)', ctx)
    with pytest.raises(LaunchError, match='unterminated'):
        evaluate('$(var rate', ctx)


def test_command_substitution_returns_stdout(tmp_path):
    """$(command) runs the program (no shell) and substitutes its output, as ros2 launch does."""
    f = tmp_path / 'robot.urdf'
    f.write_text('<robot name="x"/>')
    assert evaluate(f'$(command \'cat {f}\')', Ctx()) == '<robot name="x"/>'


def test_find_pkg_share_uses_ament_prefix(resolver, fake_prefix):
    ctx = Ctx(resolver)
    assert evaluate('$(find-pkg-share fake_pkg)/launch',
                    ctx) == f'{fake_prefix}/share/fake_pkg/launch'
    with pytest.raises(LaunchError, match="package 'ghost' not found in AMENT_PREFIX_PATH"):
        evaluate('$(find-pkg-share ghost)', ctx)


def test_jazzy_conditional_and_comparison_substitutions():
    ctx = Ctx()
    assert evaluate('$(if $(equals $(var mode) sim) fast slow)', ctx) == 'fast'
    assert evaluate('$(if false fast)', ctx) == ''
    assert evaluate("$(if true 'a b' $(var undefined_is_not_evaluated))", ctx) == 'a b'
    assert evaluate('$(not-equals $(var rate) 50.0)', ctx) == 'false'  # compared as numbers
    assert evaluate('$(equals TRUE 1)', ctx) == 'true'                  # compared as booleans
    assert evaluate('$(all true 1 yes)', ctx) == 'true'
    assert evaluate('$(any false 0 true)', ctx) == 'true'
    assert evaluate('$(any false 0)', ctx) == 'false'
    with pytest.raises(LaunchError, match=r"\$\(not\): cannot convert 'maybe' to a bool"):
        evaluate('$(not maybe)', ctx)
    assert evaluate("$(eval 'sqrt(16) + math.floor(pi)')", ctx) == '7.0'


def test_file_content_find_exec_anon_param(tmp_path):
    ctx = Ctx()
    (tmp_path / 'f.txt').write_text('a: 1\n')
    assert evaluate(f'$(file-content {tmp_path}/f.txt)', ctx) == 'a: 1\n'
    with pytest.raises(LaunchError, match='file-content'):
        evaluate(f'$(file-content {tmp_path}/missing.txt)', ctx)
    assert evaluate('$(find-exec sh)', ctx).endswith('/sh')
    first = evaluate('$(anon talker)', ctx)
    assert first.startswith('talker_') and evaluate('$(anon talker)', ctx) == first
    assert evaluate('$(anon other)', ctx) != first
    assert evaluate('$(param rate 10)', ctx) == '10'
    with pytest.raises(LaunchError, match="parameter 'rate' not found"):
        evaluate('$(param rate)', ctx)


def test_exec_in_pkg(resolver, fake_prefix):
    ctx = Ctx(resolver)
    assert evaluate('$(exec-in-pkg talker fake_pkg)', ctx) == f'{fake_prefix}/lib/fake_pkg/talker'
    with pytest.raises(LaunchError, match="executable 'ghost' of package 'fake_pkg' not found"):
        evaluate('$(exec-in-pkg ghost fake_pkg)', ctx)


@pytest.mark.parametrize('text,message', [
    ('$(var  x)', 'exactly one space'), ('$(var x )', 'exactly one space'),
    ("$(var 'a'b)", 'a quoted argument must be whole'), ('$(var x', 'unterminated'),
    ('$(1var)', 'expected a substitution name'), ("$(var 'x)", 'unterminated quote'),
])
def test_grammar_errors(text, message):
    with pytest.raises(LaunchError, match=message):
        evaluate(text, Ctx())


def test_escapes_and_quotes():
    ctx = Ctx()
    assert evaluate('cost \\$(var rate)', ctx) == 'cost $(var rate)'
    assert evaluate('$(var "$(var name)")', ctx) == '50'
    assert evaluate("it's $(var mode)", ctx) == "it's sim"

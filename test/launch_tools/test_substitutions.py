# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Substitution parsing and evaluation, including the safe $(eval)."""

import pytest

from aloe_ros.launch_tools.errors import LaunchError
from aloe_ros.launch_tools.substitutions import evaluate, safe_eval


class Ctx:
    """Minimal stand-in for LaunchContext."""

    def __init__(self, resolver=None):
        self.path = '/tmp/x/demo.launch.yaml'
        self.configs = {'rate': '50', 'mode': 'sim', 'name': 'rate'}
        self.env = {'HOME_X': '/home/x'}
        self.resolver = resolver


def test_var_env_dirname_and_nesting():
    ctx = Ctx()
    assert evaluate('hz=$(var rate)', ctx) == 'hz=50'
    assert evaluate('$(var $(var name))', ctx) == '50'
    assert evaluate('$(env HOME_X)/a', ctx) == '/home/x/a'
    assert evaluate('$(env MISSING fallback)', ctx) == 'fallback'
    assert evaluate('$(optenv MISSING)', ctx) == ''
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
    with pytest.raises(LaunchError, match=r'demo\.launch\.yaml.*undefined launch configuration.*rate'):
        evaluate('$(var nope)', ctx)
    with pytest.raises(LaunchError, match='environment variable not set'):
        evaluate('$(env MISSING)', ctx)
    with pytest.raises(LaunchError, match='unsupported substitution \\$\\(find-exec\\)'):
        evaluate('$(find-exec ls)', ctx)
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
    assert evaluate('$(find-pkg-share fake_pkg)/launch', ctx) == f'{fake_prefix}/share/fake_pkg/launch'
    with pytest.raises(LaunchError, match="package 'ghost' not found in AMENT_PREFIX_PATH"):
        evaluate('$(find-pkg-share ghost)', ctx)

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

"""Parsing launch files into a plan: args, conditions, includes, namespaces, errors."""

import pathlib
import textwrap

import pytest

from aloe_ros.launch_tools.cli import main
from aloe_ros.launch_tools.errors import LaunchError
from aloe_ros.launch_tools.loader import load_launch
from aloe_ros.launch_tools.packages import PackageResolver

FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures'


def write(tmp_path, text, name='t.launch.yaml'):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_basic_plan_defaults(resolver):
    plan = load_launch(FIXTURES / 'basic.launch.yaml', resolver=resolver)
    assert [s.fully_qualified_name
            for s in plan.processes] == ['/arm/talker', '/left/listener_left']
    talker = plan.processes[0]
    assert talker.param_files == [str(FIXTURES / 'params.yaml')]
    assert talker.parameters == {'rate': 50, 'period': 0.02, 'label': 'hello', 'joints': [1, 2]}
    assert talker.remaps == [('chatter', '/aloe/chatter')]
    assert talker.respawn and not talker.required
    assert talker.env == {'ALOE_TEST_ROBOT': 'sim'}
    assert plan.arguments == {'robot': 'sim', 'rate': '50', 'side': 'left'}
    assert talker.ros_arguments() == [
        '--ros-args', '-r', '__node:=talker', '-r', '__ns:=/arm',
        '--params-file', str(FIXTURES / 'params.yaml'),
        '--params-file', '<inline parameters #2>', '--params-file', '<inline parameters #3>',
        '--params-file', '<inline parameters #4>', '--params-file', '<inline parameters #5>',
        '-r', 'chatter:=/aloe/chatter']
    # Named node with a namespace: inline parameters go to its own section, as Jazzy writes them.
    assert talker.inline_document({'rate': 50}) == {
        '/arm/talker': {'ros__parameters': {'rate': 50}}}
    assert talker.effective_parameters() == {'rate': 50, 'filter.alpha': 0.5, 'period': 0.02,
                                             'label': 'hello', 'joints': [1, 2]}


def test_override_and_if_condition(resolver):
    plan = load_launch(FIXTURES / 'basic.launch.yaml', {'robot': 'real', 'rate': '100'},
                       resolver=resolver)
    names = [s.name for s in plan.processes]
    assert names == ['talker', 'real_only', 'listener_left']
    assert plan.processes[0].parameters['period'] == 0.01


def test_arg_errors(resolver):
    with pytest.raises(LaunchError,
                       match=r'unknown launch argument\(s\) rat; known: rate, robot, side'):
        load_launch(FIXTURES / 'basic.launch.yaml', {'rat': '1'}, resolver=resolver)
    with pytest.raises(LaunchError, match="valid choices: sim, real"):
        load_launch(FIXTURES / 'basic.launch.yaml', {'robot': 'moon'}, resolver=resolver)
    with pytest.raises(LaunchError,
                       match="run.launch.yaml: missing required launch argument 'pid_dir'"):
        load_launch(FIXTURES / 'run.launch.yaml', resolver=resolver)


@pytest.mark.parametrize('entry,message', [
    ('- timer: {period: 1}',
     r"tag 'timer' is ROS 2 Jazzy launch but not supported by aloe launch"),
    ('- set_use_sim_time: {value: "true"}', r"tag 'set_use_sim_time' is ROS 2 Jazzy launch"),
    ('- rosparam: {file: x}', r"unknown launch tag 'rosparam' \(not a ROS 2 Jazzy YAML tag\)"),
    ('- node: {pkg: fake_pkg, exec: talker, launch-prefix: gdb}',
     r"launch-prefix of 'node' are ROS 2 Jazzy launch but not supported"),
    ('- node: {pkg: fake_pkg, exec: talker, on_exit: restart}',
     r"'on_exit' of node must be shutdown"),
    ('- node: {pkg: fake_pkg, exec: talker, respawn: true}',
     r"attribute 'respawn' of 'node' must be a string \(quote it in YAML\)"),
    ('- arg: {name: a, default: x, choices: [x, y]}',
     r"unexpected attribute\(s\) choices on 'arg'.*choice: \[\{value: a\}, \{value: b\}\]"),
    ('- arg: {name: a, default: 5}', r"attribute 'default' of 'arg' must be a string"),
    ('- include: {file: other.launch.py}', r'aloe launch reads only YAML launch files'),
    ('- let: {name: aloe_required_nodes, value: "a b"}',
     r"mark each required node .*on_exit: shutdown"),
    ('- node: {pkg: fake_pkg, exec: talker, param: [{name: p, param: [{name: q, value: "1"}]}]}',
     r'nested parameter groups .* not supported by aloe launch'),
])
def test_unsupported_and_invalid_entries_are_named(tmp_path, resolver, entry, message):
    path = write(tmp_path, 'launch:\n' + textwrap.indent(entry, '  ') + '\n')
    with pytest.raises(LaunchError, match=message):
        load_launch(path, resolver=resolver)


def test_non_jazzy_substitution_fails_even_in_a_skipped_branch(tmp_path, resolver):
    """Jazzy parses the whole file first, so $(optenv) fails the launch wherever it is."""
    path = write(tmp_path, """
        launch:
          - node: {pkg: fake_pkg, exec: talker, if: "false", name: "$(optenv X)"}
        """)
    with pytest.raises(LaunchError, match=r'\$\(optenv\) is not a ROS 2 Jazzy substitution; use '
                                          r'\$\(env NAME default\)'):
        load_launch(path, resolver=resolver)
    path = write(tmp_path, """
        launch:
          - node: {pkg: fake_pkg, exec: talker, if: "false", name: "$(var  two_spaces)"}
        """)
    with pytest.raises(LaunchError, match='exactly one space'):
        load_launch(path, resolver=resolver)
    path = write(tmp_path, """
        launch:
          - node: {pkg: fake_pkg, exec: talker, if: "false", name: "$(log_dir)"}
          - node: {pkg: fake_pkg, exec: listener, name: "$(log_dir)"}
        """)
    with pytest.raises(LaunchError, match=r'\$\(log_dir\) is a ROS 2 Jazzy substitution that aloe '
                                          r'launch does not support'):
        load_launch(path, resolver=resolver)


def test_choice_accepts_listed_values(tmp_path, resolver):
    path = write(tmp_path, """
        launch:
          - arg: {name: station, default: sim, choice: [{value: sim}, {value: robot}]}
          - node: {pkg: fake_pkg, exec: talker, name: "$(var station)"}
        """)
    assert load_launch(path, {'station': 'robot'}, resolver=resolver).processes[0].name == 'robot'


def test_includes_are_not_scoped(tmp_path, resolver):
    """Jazzy: an include's args, lets, env and namespace stay set in the including file."""
    write(tmp_path, """
        launch:
          - arg: {name: who, default: inner}
          - let: {name: leaked, value: "yes"}
          - set_env: {name: INNER_ONLY, value: "1"}
          - push-ros-namespace: {namespace: inner_ns}
          - node: {pkg: fake_pkg, exec: talker, name: "$(var who)"}
        """, name='inc.launch.yaml')
    path = write(tmp_path, """
        launch:
          - include: {file: "$(dirname)/inc.launch.yaml", arg: [{name: who, value: outer},
                                                                {name: extra, value: "x"}]}
          - node: {pkg: fake_pkg, exec: listener,
                   name: "after_$(var leaked)_$(var extra)_$(var who)"}
          - group:
            - let: {name: scoped_only, value: "1"}
          - node: {pkg: fake_pkg, exec: listener, name: last,
                   if: "$(equals $(var scoped_only none) none)"}
        """)
    plan = load_launch(path, resolver=resolver, base_env={})
    assert [s.fully_qualified_name for s in plan.processes] == [
        '/inner_ns/outer', '/inner_ns/after_yes_x_outer', '/inner_ns/last']
    assert plan.processes[1].env == {'INNER_ONLY': '1'}


def test_group_forwarding_false_keeps_only_keep(tmp_path, resolver):
    path = write(tmp_path, """
        launch:
          - let: {name: a, value: "1"}
          - let: {name: b, value: "2"}
          - group:
              forwarding: false
              keep: [{name: b, value: "$(var b)"}]
              children:
                - node: {pkg: fake_pkg, exec: talker, name: "n_$(var b)_$(var a unset)"}
          - node: {pkg: fake_pkg, exec: listener, name: "m_$(var a)"}
        """)
    plan = load_launch(path, resolver=resolver, base_env={})
    assert [s.name for s in plan.processes] == ['n_2_unset', 'm_1']


def test_params_apply_in_declaration_order(tmp_path, resolver):
    """Jazzy passes every param entry as its own --params-file, in order: the later one wins."""
    (tmp_path / 'p.yaml').write_text('/**:\n  ros__parameters:\n    rate: 10\n    gain: 2.0\n')
    path = write(tmp_path, """
        launch:
          - node:
              pkg: fake_pkg
              exec: talker
              name: t
              param:
                - {name: rate, value: 99}
                - {from: "$(dirname)/p.yaml"}
                - {name: gain, value: 3.0}
        """)
    spec = load_launch(path, resolver=resolver).processes[0]
    assert spec.effective_parameters() == {'rate': 10, 'gain': 3.0}
    assert spec.inline_section_key() == '/**'  # a node without namespace: Jazzy uses the wildcard


def test_param_values_follow_jazzy_yaml_rules(tmp_path, resolver):
    path = write(tmp_path, """
        launch:
          - arg: {name: cams, default: "[a, b]"}
          - arg: {name: text, default: "key: value"}
          - node:
              pkg: fake_pkg
              exec: talker
              param:
                - {name: cams, value: "$(var cams)"}
                - {name: literal, value: "[not, a, list]"}
                - {name: flag, value: "$(var cams)", type: str}
                - {name: n, value: "$(eval '2 * 3')", type: int}
                - {name: as_text, value: "$(var text)", type: str}
                - {name: suffixed, value: "$(var text)x", type: str}
        """)
    params = load_launch(path, resolver=resolver).processes[0].parameters
    assert params == {'cams': ['a', 'b'], 'literal': '[not, a, list]', 'flag': '[a, b]', 'n': 6,
                      'as_text': 'key: value', 'suffixed': 'key: valuex'}


@pytest.mark.parametrize('value,message', [
    ('"$(var text)"', r"param 'p': value: 'key: value' reads as dict.*add type: str"),
    ('"$(var bad)"', r"param 'p': value: 'a: b: c' is not valid YAML.*add type: str"),
    ('"50"\n                  type: int', r"value '50' is not of type int"),
    ('"$(var text)"\n                  type: float', r"cannot convert 'key: value' to float"),
])
def test_param_yaml_errors_are_fatal(tmp_path, resolver, value, message):
    path = write(tmp_path, f"""
        launch:
          - let: {{name: text, value: "key: value"}}
          - let: {{name: bad, value: "a: b: c"}}
          - node:
              pkg: fake_pkg
              exec: talker
              param:
                - name: p
                  value: {value}
        """)
    with pytest.raises(LaunchError, match=message):
        load_launch(path, resolver=resolver)


def test_cmdline_splits_literal_text_not_substitution_results(tmp_path, resolver):
    path = write(tmp_path, """
        launch:
          - let: {name: spaced, value: "a b"}
          - node: {pkg: fake_pkg, exec: talker,
                   args: "--x $(var spaced) 'q r' pre$(var spaced)post"}
          - executable: {cmd: "tool --flag=$(var spaced) last"}
        """)
    plan = load_launch(path, resolver=resolver)
    assert plan.processes[0].args == ['--x', 'a b', 'q r', 'prea bpost']
    assert plan.processes[1].cmd == ['tool', '--flag=a b', 'last']


def test_find_pkg_share_include_and_on_exit(tmp_path, resolver, fake_prefix):
    write(fake_prefix / 'share' / 'fake_pkg' / 'launch', """
        launch:
          - node: {pkg: fake_pkg, exec: talker, name: core, on_exit: shutdown}
        """, name='core.launch.yaml')
    path = write(tmp_path, """
        launch:
          - group:
              scoped: true
              children:
                - push-ros-namespace: {namespace: robot1}
                - include: {file: "$(find-pkg-share fake_pkg)/launch/core.launch.yaml"}
          - node: {pkg: fake_pkg, exec: listener, name: side}
        """)
    plan = load_launch(path, resolver=resolver)
    assert [(s.fully_qualified_name, s.required) for s in plan.processes] == [
        ('/robot1/core', True), ('/side', False)]
    assert plan.processes[0].namespace_given and not plan.processes[1].namespace_given


def test_unknown_package(tmp_path, resolver):
    path = write(tmp_path, """
        launch:
          - node: {pkg: ghost_pkg, exec: talker}
        """)
    with pytest.raises(LaunchError, match="package 'ghost_pkg' not found"):
        load_launch(path, resolver=resolver)


def test_source_tree_resolution_is_explicit(tmp_path):
    tree = tmp_path / 'repo'
    (tree / 'launch').mkdir(parents=True)
    (tree / 'setup.py').write_text("SCRIPTS = ['demo_node = demo.nodes.demo_node:main']\n")
    resolver = PackageResolver(ament_prefix_path='', source_trees={'demo': str(tree)})
    assert resolver.share_dir('demo') == str(tree)
    cmd = resolver.executable('demo', 'demo_node')
    assert 'from demo.nodes.demo_node import main' in cmd[-1]
    with pytest.raises(LaunchError, match="not among the console scripts"):
        resolver.executable('demo', 'other')
    with pytest.raises(LaunchError, match='not found in AMENT_PREFIX_PATH'):
        PackageResolver(ament_prefix_path='').share_dir('demo')


def test_cli_dry_run_prints_plan(capsys, fake_prefix, monkeypatch):
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(fake_prefix))
    launch_dir = fake_prefix / 'share' / 'fake_pkg' / 'launch'
    for name in ('basic.launch.yaml', 'child.launch.yaml', 'params.yaml'):
        (launch_dir / name).write_text((FIXTURES / name).read_text())
    assert main(['fake_pkg', 'basic.launch.yaml', 'rate:=25', '--dry-run']) == 0
    out = capsys.readouterr().out
    assert '/arm/talker (fake_pkg/talker) [respawn]' in out
    assert f'{fake_prefix}/lib/fake_pkg/talker --ros-args -r __node:=talker -r __ns:=/arm' in out
    assert 'param #3 period = 0.04' in out
    assert 'in effect: period = 0.04' in out
    assert 'remap chatter -> /aloe/chatter' in out
    assert main(['fake_pkg', 'basic.launch.yaml', 'bogus:=1', '--dry-run']) == 2
    assert 'unknown launch argument(s) bogus' in capsys.readouterr().err

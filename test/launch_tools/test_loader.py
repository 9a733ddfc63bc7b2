# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
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
    assert [s.fully_qualified_name for s in plan.processes] == ['/arm/talker', '/left/listener_left']
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
        '-p', 'rate:=50', '-p', 'period:=0.02', '-p', 'label:=hello', '-p', 'joints:=[1, 2]',
        '-r', 'chatter:=/aloe/chatter']


def test_override_and_if_condition(resolver):
    plan = load_launch(FIXTURES / 'basic.launch.yaml', {'robot': 'real', 'rate': '100'}, resolver=resolver)
    names = [s.name for s in plan.processes]
    assert names == ['talker', 'real_only', 'listener_left']
    assert plan.processes[0].parameters['period'] == 0.01


def test_arg_errors(resolver):
    with pytest.raises(LaunchError, match=r'unknown launch argument\(s\) rat; known: rate, robot, side'):
        load_launch(FIXTURES / 'basic.launch.yaml', {'rat': '1'}, resolver=resolver)
    with pytest.raises(LaunchError, match="choices: sim, real"):
        load_launch(FIXTURES / 'basic.launch.yaml', {'robot': 'moon'}, resolver=resolver)
    with pytest.raises(LaunchError, match="run.launch.yaml: missing required launch argument 'pid_dir'"):
        load_launch(FIXTURES / 'run.launch.yaml', resolver=resolver)


def test_unsupported_tags_and_attributes_are_errors(tmp_path, resolver):
    path = write(tmp_path, """
        launch:
          - timer: {period: 1}
        """)
    with pytest.raises(LaunchError, match=r"t\.launch\.yaml: unsupported launch tag 'timer'"):
        load_launch(path, resolver=resolver)
    path = write(tmp_path, """
        launch:
          - node: {pkg: fake_pkg, exec: talker, on_exit: shutdown}
        """)
    with pytest.raises(LaunchError, match="unsupported attribute.*on_exit.*aloe_required_nodes"):
        load_launch(path, resolver=resolver)
    path = write(tmp_path, """
        launch:
          - include: {file: other.launch.py}
        """)
    with pytest.raises(LaunchError, match=r'only YAML launch files'):
        load_launch(path, resolver=resolver)


def test_include_scoping_and_unknown_include_arg(tmp_path, resolver):
    write(tmp_path, """
        launch:
          - arg: {name: who, default: inner}
          - let: {name: leaked, value: "yes"}
          - set_env: {name: INNER_ONLY, value: "1"}
          - node: {pkg: fake_pkg, exec: talker, name: "$(var who)"}
        """, name='inc.launch.yaml')
    path = write(tmp_path, """
        launch:
          - include: {file: "$(dirname)/inc.launch.yaml", arg: [{name: who, value: outer}]}
          - node:
              {pkg: fake_pkg, exec: listener, name: after,
               if: "$(eval '\\"$(optenv INNER_ONLY)\\" == \\"\\"')"}
        """)
    plan = load_launch(path, resolver=resolver, base_env={})
    assert [s.name for s in plan.processes] == ['outer', 'after']
    assert plan.processes[0].env == {'INNER_ONLY': '1'}
    assert plan.processes[1].env == {}
    bad = write(tmp_path, """
        launch:
          - include: {file: inc.launch.yaml, arg: [{name: whom, value: x}]}
        """, name='bad.launch.yaml')
    with pytest.raises(LaunchError, match=r'undeclared argument\(s\) whom; declared there: who'):
        load_launch(bad, resolver=resolver)


def test_find_pkg_share_include_and_required(tmp_path, resolver, fake_prefix):
    write(fake_prefix / 'share' / 'fake_pkg' / 'launch', """
        launch:
          - let: {name: aloe_required_nodes, value: "core"}
          - node: {pkg: fake_pkg, exec: talker, name: core}
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


def test_unknown_package_and_required_typo(tmp_path, resolver):
    path = write(tmp_path, """
        launch:
          - node: {pkg: ghost_pkg, exec: talker}
        """)
    with pytest.raises(LaunchError, match="package 'ghost_pkg' not found"):
        load_launch(path, resolver=resolver)
    path = write(tmp_path, """
        launch:
          - let: {name: aloe_required_nodes, value: "tallker"}
          - node: {pkg: fake_pkg, exec: talker}
        """)
    with pytest.raises(LaunchError, match='names no started process: tallker'):
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
    assert 'param period = 0.04' in out
    assert 'remap chatter -> /aloe/chatter' in out
    assert main(['fake_pkg', 'basic.launch.yaml', 'bogus:=1', '--dry-run']) == 2
    assert 'unknown launch argument(s) bogus' in capsys.readouterr().err

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

"""Package metadata, install tree and linters (flake8, pep257, license headers, package.xml)."""

import ast
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PY_DIRS = ['src/aloe_ros', 'test', 'bench', 'scripts', 'setup.py']


def _python_files():
    for entry in PY_DIRS:
        path = os.path.join(ROOT, entry)
        if os.path.isfile(path):
            yield path
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d not in ('__pycache__', 'fixtures')]
            for name in files:
                if name.endswith('.py'):
                    yield os.path.join(root, name)


def _console_scripts():
    tree = ast.parse(open(os.path.join(ROOT, 'setup.py')).read())
    for node in ast.walk(tree):
        if isinstance(node,
                      ast.Assign) and getattr(node.targets[0], 'id', '') == 'CONSOLE_SCRIPTS':
            return [ast.literal_eval(e) for e in node.value.elts]
    raise AssertionError('CONSOLE_SCRIPTS not found in setup.py')


@pytest.mark.parametrize('xml', ['package.xml', 'src/aloe_msgs/package.xml'])
def test_package_xml_is_valid_format_3(xml):
    """catkin_pkg (what colcon and rosdep use) parses it: format 3, a valid maintainer email."""
    from catkin_pkg.package import parse_package

    pkg = parse_package(os.path.join(ROOT, xml))
    pkg.validate()
    assert pkg.package_format == 3
    assert pkg.licenses == ['Apache-2.0']
    assert pkg.maintainers and '@' in pkg.maintainers[0].email


def _readme_command(tool):
    """Return the arguments of the README's `tool` line in the ROS 2 workspace section."""
    with open(os.path.join(ROOT, 'README.md')) as f:
        for line in f:
            words = line.split('#')[0].split()
            if words[:2] == tool.split():
                return words[2:]
    raise AssertionError(f'README has no `{tool}` line')


def _workspace_paths(arguments, option):
    """Map the README's workspace paths (the repo cloned as ws/src/aloe_ros) to this checkout."""
    index = arguments.index(option)
    paths = []
    for arg in arguments[index + 1:]:
        if arg.startswith('-'):
            break
        assert arg.startswith('src/aloe_ros'), f'{option} {arg}: expected a path in the clone'
        paths.append(os.path.join(ROOT, arg[len('src/aloe_ros'):].lstrip('/')))
    return paths


def test_readme_rosdep_command_finds_both_packages():
    """The README's rosdep paths: rosdep reads them with catkin_pkg (stops at a package.xml)."""
    from catkin_pkg.packages import find_packages

    paths = _workspace_paths(_readme_command('rosdep install'), '--from-paths')
    found = {pkg.name for path in paths for pkg in find_packages(path).values()}
    assert found == {'aloe_ros', 'aloe_msgs'}, found
    # Why the README names the nested package: from the clone alone catkin_pkg sees one package.
    assert {p.name for p in find_packages(ROOT).values()} == {'aloe_ros'}
    assert _workspace_paths(_readme_command('colcon build'), '--base-paths') == paths


# rosdep keys of the Python modules whose key is not the module's own name (a ROS package's
# module is its package name, which is its rosdep key).
ROSDEP_KEY_OF_MODULE = {
    'numpy': 'python3-numpy', 'yaml': 'python3-yaml', 'torch': 'python3-torch',
    'cv2': 'python3-opencv', 'mujoco': 'python3-mujoco-pip', 'mcap_ros2': 'mcap-ros2-support',
    'tqdm': 'python3-tqdm', 'matplotlib': 'python3-matplotlib', 'pinocchio': 'pinocchio',
}


def _third_party_imports():
    """Top-level modules src/aloe_ros imports (anywhere, also lazily) that are not stdlib/ours."""
    found = {}
    for root, dirs, files in os.walk(os.path.join(ROOT, 'src', 'aloe_ros')):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        for name in files:
            if not name.endswith('.py'):
                continue
            path = os.path.join(root, name)
            with open(path) as f:
                tree = ast.parse(f.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split('.')[0]
                    if top not in sys.stdlib_module_names and top != 'aloe_ros':
                        found.setdefault(top, os.path.relpath(path, ROOT))
    return found


def _package_xml_comments(path):
    import xml.etree.ElementTree as ET

    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.parse(path, parser).getroot()
    text = ' '.join(el.text for el in root.iter() if el.tag is ET.Comment)
    return set(re.findall(r'[A-Za-z0-9_-]+', text))


def _requirement_names():
    names = set()
    for name in os.listdir(os.path.join(ROOT, 'requirements')):
        with open(os.path.join(ROOT, 'requirements', name)) as f:
            names.update(line.split('==')[0].strip().lower() for line in f
                         if '==' in line and not line.startswith('#'))
    return names


def test_third_party_imports_are_found():
    """The import scan sees what the code uses, lazy imports inside functions included."""
    imports = _third_party_imports()
    assert {'numpy', 'torch', 'rclpy', 'aloe_msgs', 'av', 'pyarrow', 'tf2_msgs', 'control_msgs',
            'interbotix_xs_msgs'} <= set(imports), sorted(imports)
    assert not {'os', 'json', 'aloe_ros'} & set(imports)


def test_every_third_party_import_has_a_rosdep_key_or_a_note():
    """
    Each module src/aloe_ros imports has a rosdep key, or a package.xml comment naming it.

    Modules without a key that come from pip are also pinned in requirements/*.txt. The list is
    derived from the code: a new import fails here, with its name, until it is declared.
    """
    from importlib.metadata import packages_distributions

    from catkin_pkg.package import parse_package

    xml = os.path.join(ROOT, 'package.xml')
    pkg = parse_package(xml)
    declared = {d.name for d in pkg.exec_depends}
    comments = _package_xml_comments(xml)
    pinned = _requirement_names()
    distributions = packages_distributions()
    missing = []
    for module, where in sorted(_third_party_imports().items()):
        if ROSDEP_KEY_OF_MODULE.get(module, module) in declared:
            continue
        # No key: a comment must name the module or its pip distribution ...
        pip_names = [d.lower() for d in distributions.get(module, [])]
        if not {module, *pip_names} & comments:
            missing.append(f'{module} (imported in {where}): no rosdep key in package.xml and no '
                           f'comment there saying how to get it')
        # ... and a pip-installed one is pinned.
        elif pip_names and not set(pip_names) & pinned:
            missing.append(f'{module}: pip package {pip_names} is not pinned in requirements/')
    assert not missing, '\n'.join(missing)


def test_package_xml_declares_what_the_launch_files_and_tests_need():
    """Every package a launch file starts, the launch frontend itself, and the test tools."""
    from catkin_pkg.package import parse_package

    pkg = parse_package(os.path.join(ROOT, 'package.xml'))
    run = {d.name for d in pkg.exec_depends}
    launched = set()
    for name in os.listdir(os.path.join(ROOT, 'launch')):
        with open(os.path.join(ROOT, 'launch', name)) as f:
            launched.update(line.split('pkg:')[1].strip() for line in f if 'pkg:' in line)
    assert launched - {'aloe_ros', 'ros_gz_sim', 'ros_gz_bridge', 'controller_manager'} <= run, (
        launched - run)
    assert {'launch', 'launch_ros', 'launch_yaml', 'ros2launch'} <= run
    tests = {d.name for d in pkg.test_depends}
    assert {'ament_copyright', 'ament_flake8', 'ament_pep257', 'ament_xmllint', 'launch_pytest',
            'python3-pytest', 'python3-catkin-pkg', 'python3-lxml'} <= tests


def test_build_types():
    """Root is ament_python, aloe_msgs ament_cmake (plain python would break ros2 run)."""
    from catkin_pkg.package import parse_package

    assert parse_package(os.path.join(ROOT, 'package.xml')).get_build_type() == 'ament_python'
    msgs = parse_package(os.path.join(ROOT, 'src/aloe_msgs/package.xml'))
    assert msgs.get_build_type() == 'ament_cmake'


def test_flake8():
    """flake8 with setup.cfg: ROS's line length (99) and the checks the project adds."""
    paths = [os.path.join(ROOT, p) for p in PY_DIRS if os.path.exists(os.path.join(ROOT, p))]
    config = os.path.join(ROOT, 'setup.cfg')
    result = subprocess.run([sys.executable, '-m', 'flake8', '--config', config, *paths],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def _ament_flake8(paths):
    code = ('import sys; from ament_flake8.main import main_with_errors; '
            'rc, errors = main_with_errors(argv=sys.argv[1:]); sys.exit(rc)')
    return subprocess.run([sys.executable, '-c', code, *paths], capture_output=True, text=True,
                          cwd=ROOT)


def test_ament_flake8_with_ros_defaults():
    """What a lab's standard `ament_flake8` lint test runs: its own configuration, no setup.cfg."""
    pytest.importorskip('ament_flake8')
    paths = []
    for entry in PY_DIRS:
        for root, dirs, files in os.walk(os.path.join(ROOT, entry)):
            dirs[:] = [d for d in dirs if d != '__pycache__']
            paths += [os.path.relpath(os.path.join(root, n), ROOT) for n in files
                      if n.endswith('.py')]
    paths.append('setup.py')
    assert len(paths) > 100
    result = _ament_flake8(paths)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


# colcon's outputs, which sit inside this checkout (a lab's workspace keeps them outside).
COLCON_OUTPUTS = ('build', 'install', 'log')


def _xml_files():
    """Return the files ament_xmllint checks from the package root, plus the URDF (XML too)."""
    files = []
    for root, dirs, names in os.walk(ROOT):
        if 'AMENT_IGNORE' in dirs + names:
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if d[0] not in '._'
                         and not (root == ROOT and d in COLCON_OUTPUTS))
        files += [os.path.relpath(os.path.join(root, n), ROOT) for n in sorted(names)
                  if n.endswith('.xml')]
    return files + ['urdf/aloe_bimanual.urdf']


def test_xml_files_are_well_formed():
    """
    Every XML file parses with libxml2 (lxml, pinned in requirements/test.txt), offline.

    libxml2 is the parser of xmllint, which ament_xmllint runs; where xmllint is installed
    (apt: libxml2-utils) it runs too, with --nonet. ament_xmllint's schema check (package.xml's
    xml-model, package_format3.xsd on download.ros.org) needs the network: not done here.
    """
    import shutil

    from lxml import etree

    files = _xml_files()
    assert {'package.xml', 'src/aloe_msgs/package.xml',
            'config/dds/fastdds_large_data.xml'} <= set(files), files
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    errors = []
    for name in files:
        try:
            etree.parse(os.path.join(ROOT, name), parser)
        except etree.XMLSyntaxError as exc:
            errors.append(f'{name}: {exc}')
    assert not errors, '\n'.join(errors)
    if shutil.which('xmllint') is not None:
        result = subprocess.run(['xmllint', '--noout', '--nonet', *files], capture_output=True,
                                text=True, cwd=ROOT)
        assert result.returncode == 0, result.stderr


def test_a_malformed_xml_file_is_caught(tmp_path):
    """The parser settings of the test above reject what xmllint rejects, and fetch nothing."""
    from lxml import etree

    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    bad = tmp_path / 'bad.xml'
    bad.write_text('<package><name>x</nmae></package>')
    with pytest.raises(etree.XMLSyntaxError, match='mismatch'):
        etree.parse(str(bad), parser)
    remote = tmp_path / 'remote.xml'
    remote.write_text('<!DOCTYPE p SYSTEM "http://example.invalid/p.dtd"><p/>')
    etree.parse(str(remote), parser)  # a DTD on the network is not fetched


# Build outputs a colcon workspace keeps outside the package; here they sit in the checkout.
PEP257_EXCLUDES = ['build', 'install', 'log', 'results', 'runs', 'data']


def test_pep257():
    """
    The standard ament_pep257 test: ``main(argv=['.', 'test'])`` with ament's default ignores.

    Those are D100-D107, D203, D212 and D404, so D213 (the summary on the second line of a
    multi-line docstring; scripts/fix_docstrings.py applies it), D205, D209, D400, D401, D402,
    D403 and D415 are enforced on every Python file of the package, tests, benches and scripts.
    """
    pytest.importorskip('ament_pep257')
    excludes = [e for e in PEP257_EXCLUDES if os.path.isdir(os.path.join(ROOT, e))]
    code = ('import sys; from ament_pep257.main import main; '
            'sys.exit(main(argv=sys.argv[1:]))')
    argv = ['.', 'test'] + (['--exclude', *excludes] if excludes else [])
    result = subprocess.run([sys.executable, '-c', code, *argv], capture_output=True, text=True,
                            cwd=ROOT)
    errors = sorted({line for line in result.stdout.splitlines() if ': D' in line})
    assert result.returncode == 0, '\n'.join(errors)[-6000:] + result.stderr[-2000:]
    checked = [line for line in result.stdout.splitlines() if line.startswith('checking ')]
    assert any('src/aloe_ros/nodes/policy.py' in line for line in checked), 'nothing checked?'


def test_installed_tree_has_every_console_script_in_lib_aloe_ros():
    """`ros2 run aloe_ros <exe>` looks in <prefix>/lib/aloe_ros: every entry point is there."""
    prefix = os.path.join(ROOT, 'install', 'aloe_ros')
    if not os.path.isdir(prefix):
        pytest.skip('no colcon install tree: run ./run-tests (it builds one)')
    names = [entry.split('=')[0].strip() for entry in _console_scripts()]
    assert 'aloe' in names
    for name in names:
        exe = os.path.join(prefix, 'lib', 'aloe_ros', name)
        assert os.path.isfile(exe) and os.access(exe,
                                                 os.X_OK), f'{name} not installed in lib/aloe_ros'
    index = os.path.join(prefix, 'share', 'ament_index', 'resource_index', 'packages', 'aloe_ros')
    assert os.path.isfile(index)
    assert os.path.isfile(os.path.join(prefix, 'share', 'aloe_ros', 'package.xml'))


def test_console_scripts_point_at_importable_mains():
    import importlib

    for entry in _console_scripts():
        name, target = (s.strip() for s in entry.split('='))
        module, func = target.split(':')
        assert callable(getattr(importlib.import_module(module), func)), name


def test_core_sim_storage_do_not_import_rclpy():
    """The ROS-free rule: math, storage, simulation and file transfer never import rclpy."""
    offenders = []
    for sub in ('learning', 'sim', 'storage', 'transfer'):
        for root, _dirs, files in os.walk(os.path.join(ROOT, 'src', 'aloe_ros', sub)):
            for name in files:
                if name.endswith('.py'):
                    tree = ast.parse(open(os.path.join(root, name)).read())
                    for node in ast.walk(tree):
                        mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                                else [node.module or ''] if isinstance(node, ast.ImportFrom)
                                else [])
                        if any(m.split('.')[0] == 'rclpy' for m in mods):
                            offenders.append(os.path.join(sub, name))
    assert not offenders, offenders

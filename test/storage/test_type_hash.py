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

"""RIHS01 type hashes (REP-2011) as rosbag2 Jazzy records them, against ROS's own generator."""

import glob
import json
import os
import pathlib
import sys

import pytest

from aloe_ros.storage.schema import (hash_of_definition, message_definition, search_prefixes,
                                     type_description, type_description_hash)

# Published Jazzy hashes (sensor_msgs/std_msgs/builtin_interfaces 5.x): fixed by the type
# definitions, so any Jazzy install prints the same (`ros2 topic info -v /image`).
JAZZY_HASHES = {
    'sensor_msgs/msg/Image':
        'RIHS01_d31d41a9a4c4bc8eae9be757b0beed306564f7526c88ea6a4588fb9582527d47',
    'std_msgs/msg/Header':
        'RIHS01_f49fb3ae2cf070f793645ff749683ac6b06203e41c891e17701b1cb597ce6a01',
    'builtin_interfaces/msg/Time':
        'RIHS01_b106235e25a4c5ed35098aa0a61a3ee9c9b18d197f398b0e4206cea9acf9c197',
    'std_msgs/msg/Empty':
        'RIHS01_20b625256f32d5dbc0d04fee44f43c41e51c70d3502f84b4a08e7a9c26a96312',
}


def _generated_hashes():
    """Return ``{(prefix, type): hash}`` from the type-description JSON rosidl installs per msg."""
    found = {}
    for prefix in search_prefixes():
        for path in glob.glob(os.path.join(prefix, 'share', '*', 'msg', '*.json')):
            with open(path) as f:
                doc = json.load(f)
            if 'type_hashes' in doc:
                top = doc['type_hashes'][0]
                found[(prefix, top['type_name'])] = top['hash_string']
    return found


@pytest.mark.parametrize('type_name', sorted(JAZZY_HASHES))
def test_hash_of_standard_messages_is_jazzys(type_name):
    assert type_description_hash(type_name) == JAZZY_HASHES[type_name]


def test_hash_matches_every_hash_rosidl_generated_here():
    """Every message type installed here (the ROS wheels and aloe_msgs) hashes as rosidl did."""
    generated = _generated_hashes()
    types = {t for _, t in generated}
    assert {'sensor_msgs/msg/Image', 'aloe_msgs/msg/Observation',
            'aloe_msgs/msg/ExecutedStep'} <= types, sorted(types)
    wrong = [(t, h) for (prefix, t), h in sorted(generated.items())
             if type_description_hash(t, [prefix] + search_prefixes()) != h]
    assert wrong == []
    assert len(generated) > 100


def test_hash_matches_rosidl_generator_on_every_field_form(tmp_path):
    """Bounded strings, arrays, sequences, char/byte/bool, constants, defaults, nesting."""
    rosidl_adapter = pytest.importorskip('rosidl_adapter.msg')
    parser = pytest.importorskip('rosidl_parser.parser')
    definition = pytest.importorskip('rosidl_parser.definition')
    gen = pytest.importorskip('rosidl_generator_type_description')
    pkg = tmp_path / 'hash_pkg'
    (pkg / 'msg').mkdir(parents=True)
    inner = 'int32 a\nstring<=4[<=3] names\n'
    outer = '\n'.join([
        '# A comment with = in it',
        'uint8 MODE_A=1',
        'string GREETING = "a=b"',
        'std_msgs/Header header',
        'char c',
        'byte b 7',
        'bool[2] flags [true, false]',
        'float32[] xs',
        'float64[<=5] ys',
        'wstring w',
        'wstring<=9 bw',
        'string<=3[4] fixed',
        'Inner one  # nested from this package',
        'Inner[] many',
        'hash_pkg/Inner[<=2] few',
        'builtin_interfaces/Time[3] stamps',
        'int64 i64',
        'uint64 u64',
        'int16 i16',
        'uint16 u16',
        'int8 i8',
        '',
    ])
    (pkg / 'msg' / 'Inner.msg').write_text(inner)
    (pkg / 'msg' / 'Outer.msg').write_text(outer)
    texts = {'hash_pkg/msg/Inner': inner, 'hash_pkg/msg/Outer': outer}
    out = tmp_path / 'idl'
    (out / 'msg').mkdir(parents=True)
    individual = {}
    for name in ('Inner', 'Outer'):
        idl = rosidl_adapter.convert_msg_to_idl(pkg, 'hash_pkg',
                                                pathlib.Path('msg', name + '.msg'),
                                                out / 'msg')
        locator = definition.IdlLocator(out, pathlib.Path(idl).relative_to(out))
        for el in parser.parse_idl_file(locator).content.elements:
            if isinstance(el, definition.Message):
                st = el.structure
                individual[gen.to_type_name(st.namespaced_type)] = (
                    gen.serialize_individual_type_description(st.namespaced_type, st.members))
    for dep in ('std_msgs/msg/Header', 'builtin_interfaces/msg/Time'):
        with open(os.path.join(sys.prefix, 'share', *dep.split('/')) + '.json') as f:
            individual[dep] = json.load(f)['type_description_msg']['type_description']
    expected = gen.extract_full_type_description('hash_pkg/msg/Outer', individual)
    concatenated = outer
    for dep in ('hash_pkg/Inner', 'std_msgs/Header', 'builtin_interfaces/Time'):
        pkg_name, _, name = dep.partition('/')
        text = texts.get(f'{pkg_name}/msg/{name}')
        if text is None:
            text = message_definition(dep).split('\n' + '=' * 80)[0]
        concatenated += '\n' + '=' * 80 + f'\nMSG: {dep}\n' + text
    ours = type_description('hash_pkg/msg/Outer', concatenated)
    strip = json.loads(json.dumps(expected))
    for td in [strip['type_description']] + strip['referenced_type_descriptions']:
        for field in td['fields']:
            field.pop('default_value')
    assert ours == strip
    assert hash_of_definition('hash_pkg/msg/Outer',
                              concatenated) == gen.calculate_type_hash(expected)


def test_a_definition_missing_a_dependency_is_refused():
    with pytest.raises(LookupError, match='lacks std_msgs/msg/Header'):
        hash_of_definition('x/msg/Y', 'std_msgs/Header header\n')

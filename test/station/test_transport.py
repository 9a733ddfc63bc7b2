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
The DDS transport check of the observation node (ROS-free).

What the shipped and other profiles carry, and when a camera's frames are reported as too
large.
"""

import os

from aloe_ros.station import transport

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SHIPPED = os.path.join(ROOT, 'config', 'dds', 'fastdds_large_data.xml')
FRAME_480P = 480 * 640 * 3 + 100  # serialized rgb8 Image: pixels + header


def profile(tmp_path, segment='<segment_size>1048576</segment_size>', builtin='false',
            transports=('shm',),
            default='true'):
    ids = ''.join(f'<transport_id>{t}</transport_id>' for t in transports)
    text = f'''<?xml version="1.0"?>
<dds xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"><profiles>
  <transport_descriptors>
    <transport_descriptor><transport_id>shm</transport_id><type>SHM</type>{segment}</transport_descriptor>
    <transport_descriptor><transport_id>udp</transport_id><type>UDPv4</type></transport_descriptor>
  </transport_descriptors>
  <participant profile_name="p" is_default_profile="{default}"><rtps>
    <userTransports>{ids}</userTransports><useBuiltinTransports>{builtin}</useBuiltinTransports>
  </rtps></participant>
</profiles></dds>'''
    path = tmp_path / 'profile.xml'
    path.write_text(text)
    return str(path)


def test_shipped_profile_carries_three_480p_cameras():
    info = transport.transport_info({'FASTRTPS_DEFAULT_PROFILES_FILE': SHIPPED}, ROOT)
    assert info.segment_bytes == 32 * 2**20 and info.source == SHIPPED and not info.problem
    assert transport.frame_warning('cam_high', FRAME_480P, info) is None
    # 4K rgb8 frames do not fit four to the segment: warned.
    assert 'cam_high' in transport.frame_warning('cam_high', 2160 * 3840 * 3, info)


def test_fastdds_3_variable_wins_and_default_transports_do_not_carry_480p(tmp_path):
    env = {'FASTDDS_DEFAULT_PROFILES_FILE': SHIPPED,
           'FASTRTPS_DEFAULT_PROFILES_FILE': '/nonexistent.xml'}
    assert transport.transport_info(env, str(tmp_path)).segment_bytes == 32 * 2**20
    info = transport.transport_info({}, str(tmp_path))
    assert info.segment_bytes == transport.FASTDDS_DEFAULT_SEGMENT
    warning = transport.frame_warning('cam_left_wrist', FRAME_480P, info)
    assert warning and 'cam_left_wrist' in warning and transport.SHIPPED_PROFILE in warning
    assert transport.frame_warning('cam_left_wrist', 64 * 64 * 3, info) is None


def test_profile_in_working_directory_is_found(tmp_path):
    path = profile(tmp_path, segment='<segment_size>8388608</segment_size>')
    os.rename(path, tmp_path / 'DEFAULT_FASTRTPS_PROFILES.xml')
    assert transport.transport_info({}, str(tmp_path)).segment_bytes == 8 * 2**20


def test_small_segment_profile_warns(tmp_path):
    info = transport.transport_info({'FASTRTPS_DEFAULT_PROFILES_FILE': profile(tmp_path)}, '.')
    assert info.segment_bytes == 2**20
    assert transport.frame_warning('cam_high', FRAME_480P, info)


def test_profile_without_shared_memory_warns(tmp_path):
    info = transport.transport_info(
        {'FASTRTPS_DEFAULT_PROFILES_FILE': profile(tmp_path, transports=('udp',))}, '.')
    assert info.segment_bytes == 0 and 'no SHM' in info.problem
    assert transport.frame_warning('cam_high', 200_000, info)


def test_unreadable_or_unusable_profile_falls_back_to_builtin_and_says_why(tmp_path):
    bad = tmp_path / 'bad.xml'
    bad.write_text('<dds><profiles>')
    info = transport.transport_info({'FASTRTPS_DEFAULT_PROFILES_FILE': str(bad)}, '.')
    assert info.segment_bytes == transport.FASTDDS_DEFAULT_SEGMENT
    assert 'cannot read' in info.problem
    no_default = profile(tmp_path, default='false')
    info = transport.transport_info({'FASTRTPS_DEFAULT_PROFILES_FILE': no_default}, '.')
    assert 'is_default_profile' in info.problem
    assert transport.frame_warning('cam_high', FRAME_480P, info)


def test_cyclone_is_reported_as_unknown_with_advice():
    info = transport.transport_info({'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'}, '.')
    assert info.segment_bytes is None
    assert 'Cyclone' in transport.frame_warning('cam_high', FRAME_480P, info)
    assert 'not known' in transport.describe(info)

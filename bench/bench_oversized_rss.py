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
RSS of the observation node and the recorder before and after a burst of oversized messages.

Usage: ``python bench/bench_oversized_rss.py [--mb 80] [--count 10] [--readers POLICY]``.
Needs the workspace sourced (``. scripts/env.sh``). Starts a real observation node and a real
recorder (an episode open) in a private ROS domain, feeds them ordinary traffic, then publishes
``--count`` messages of ``--mb`` MB on the topics both read: a camera Image (above the
observation node's ``max_image_bytes`` and the recorder's ``max_message_bytes``), a JointState
and an Observation (recorder). It prints each node's RSS [MB] at start, after the ordinary
traffic, after each oversized message and after ordinary traffic again, and what each node
refused. Both nodes refuse these messages on their serialized byte count (never deserialized,
converted or written), so what RSS keeps is below Python: rclpy's copy of the serialized bytes
(freed) and the DDS reader's history. The nodes run on the shipped profile
(``config/dds/fastdds_large_data.xml``, ``RMW_FASTRTPS_USE_QOS_FROM_XML=1``), whose readers use
the DYNAMIC history memory policy. ``--readers rmw`` runs them as before that profile set it
(``RMW_FASTRTPS_USE_QOS_FROM_XML=0``: rmw_fastrtps's PREALLOCATED_WITH_REALLOC, whose queue
slots keep buffers grown to the largest sample); ``--readers DYNAMIC_REUSABLE`` (or another
Fast DDS policy) runs them on a copy of the profile with that reader policy.
"""

import argparse
import array
import os
import random
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'reliability'))
# Domains above 101 put DDS ports into Linux's ephemeral range: stay in 1..101.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 101)))
os.environ.setdefault('PYTHONUNBUFFERED', '1')

from reliability_harness import Driver, NodeProcess, observation_msg  # noqa: E402

PROFILE = os.path.join(ROOT, 'config', 'dds', 'fastdds_large_data.xml')
POLICIES = ('DYNAMIC', 'DYNAMIC_REUSABLE', 'PREALLOCATED_WITH_REALLOC')


def main(argv=None):
    """Run the burst; print the RSS figures."""
    ap = argparse.ArgumentParser(description=__doc__.strip().split('\n')[0])
    ap.add_argument('--mb', type=float, default=80.0, help='size of each oversized message [MB]')
    ap.add_argument('--count', type=int, default=10, help='oversized messages per topic')
    ap.add_argument('--readers', choices=('profile', 'rmw') + POLICIES, default='profile',
                    help="DDS readers' history memory policy: the shipped profile's, "
                         "rmw_fastrtps's own (RMW_FASTRTPS_USE_QOS_FROM_XML=0), or the one named")
    args = ap.parse_args(argv)
    from aloe_msgs.msg import Observation
    from aloe_msgs.srv import StartEpisode
    from sensor_msgs.msg import Image, JointState
    from aloe_ros.nodes.common import SENSOR_DATA
    tmp = tempfile.mkdtemp(prefix='bench_rss_')
    profile = PROFILE
    if args.readers in POLICIES:
        import re
        with open(PROFILE) as f:
            text = f.read()
        text, n = re.subn(r'(<data_reader .*?<historyMemoryPolicy>)\w+(</historyMemoryPolicy>)',
                          rf'\g<1>{args.readers}\g<2>', text, flags=re.S)
        assert n == 1, 'no data_reader historyMemoryPolicy in the shipped profile'
        profile = os.path.join(tmp, 'fastdds_readers.xml')
        with open(profile, 'w') as f:
            f.write(text)
    os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = profile
    os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = profile
    os.environ['RMW_FASTRTPS_USE_QOS_FROM_XML'] = '0' if args.readers == 'rmw' else '1'
    nodes = {
        'observation': NodeProcess('aloe_ros.nodes.observation',
                                   {'camera_names': ['cam_high']},
                                   log_path=os.path.join(tmp, 'observation.log')),
        'recorder': NodeProcess('aloe_ros.nodes.recorder',
                                {'storage_root': os.path.join(tmp, 'store'),
                                 'camera_topics': ['cam_high/image_raw'],
                                 'camera_info_topics': [], 'record_tf': False},
                                log_path=os.path.join(tmp, 'recorder.log')),
    }
    driver = Driver('bench_rss')
    try:
        return _run(args, driver, nodes, Observation, StartEpisode, Image, JointState,
                    SENSOR_DATA)
    finally:
        driver.close()
        for proc in nodes.values():
            proc.stop()
        for name, proc in nodes.items():
            with open(proc.log_path) as f:
                refused = [line.strip() for line in f
                           if 'bytes above' in line or 'Traceback' in line]
            print(f'{name}: {len(refused)} log lines on refusals; first: '
                  f'{refused[0] if refused else None}')


def _run(args, driver, nodes, Observation, StartEpisode, Image, JointState, qos):
    node = driver.node
    cam = node.create_publisher(Image, '/cam_high/image_raw', qos)
    joints = {arm: node.create_publisher(JointState, f'/follower_{arm}/joint_states', qos)
              for arm in ('left', 'right')}
    obs_pub = node.create_publisher(Observation, '/aloe/observation', qos)
    start = driver.call(node.create_client(StartEpisode, '/aloe/start_episode'),
                        StartEpisode.Request(task='handover'), 600)
    assert start is not None and start.success, 'recorder did not start an episode'

    def ordinary():
        img = Image(height=48, width=64, encoding='rgb8', step=192, data=bytes(48 * 192))
        img.header.stamp = driver.stamp()
        cam.publish(img)
        for arm, pub in joints.items():
            msg = JointState(name=[f'{arm}_j{i}' for i in range(7)], position=[0.0] * 7)
            msg.header.stamp = driver.stamp()
            pub.publish(msg)
        obs_pub.publish(observation_msg(driver))

    def rss():
        return {name: round(proc.rss_mb() or 0.0) for name, proc in nodes.items()}

    table = [('start', rss())]
    driver.spin_for(10.0, ordinary)
    table.append(('after 10 s of ordinary traffic', rss()))
    nbytes = int(args.mb * 1e6)
    huge_image = Image(height=nbytes // 3000, width=1000, encoding='rgb8', step=3000)
    huge_image.data = bytes(huge_image.height * 3000)
    huge_joints = JointState(name=['j'] * 7, position=array.array('d', bytes(nbytes // 8 * 8)))
    huge_obs = Observation(camera_names=['cam_high'], images=[huge_image])
    for k in range(args.count):
        for msg, pub in ((huge_image, cam), (huge_joints, joints['left']), (huge_obs, obs_pub)):
            msg.header.stamp = driver.stamp()
            pub.publish(msg)
            driver.spin_for(0.5, ordinary)
        driver.spin_for(2.0, ordinary)
        table.append((f'after oversized set {k + 1}', rss()))
    driver.spin_for(20.0, ordinary)
    table.append(('after 20 s of ordinary traffic again', rss()))
    print(f'RSS [MB], {args.count} x ({args.mb:.0f} MB Image, JointState, Observation)'
          f', DDS readers: {args.readers}:')
    for label, row in table:
        print(f'  {label:40s} ' + '  '.join(f'{k} {v:5d}' for k, v in row.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())

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
Recorder cost of keeping raw cameras: MB per minute and recorder CPU at 3 x 480 x 640 @ 30 Hz.

Usage: ``python bench/bench_recorder.py [--quick] [--modes keep,jpeg,png,skip] [--frames sim,noise]
[--out results]``; needs the workspace sourced (``. scripts/env.sh``). Writes
``<out>/bench_recorder.json`` and prints the figures.

Processes (private ROS domain): ``aloe_recorder`` (its defaults: the three cameras, both arms'
joint states and ``/joint_states`` recorded next to the aloe topics) and a sensor publisher
(this file with ``--publisher``) standing in for the robot: three 480x640 rgb8
``sensor_msgs/Image`` at 30 Hz, both arms' ``JointState`` and ``/joint_states`` at 50 Hz. Its
frames are either MuJoCo renders of the sim station at 480x640 (``sim``: what a camera of a
table scene gives a compressor; 30 distinct frames per camera of the arms moving) or uniform
noise (``noise``: incompressible, the worst case). Fast DDS runs with a shared-memory transport
profile large enough for a frame (../shared/ENV.md: the default transport loses most 0.9 MB
frames on one host).

For each camera mode (``camera_transcode``: keep, jpeg, png, skip) and frame source, one
episode of ``window_s`` seconds is recorded. Figures: the finished bag's size per minute of
episode, the recorder process's CPU (user + system, from /proc) over the episode as a share of
one core, and the camera messages in the bag vs. those published while it was open. On a machine
too loaded for the recorder to keep up, ``cpu_ms_per_camera_frame`` and ``mb_per_min_all_frames``
scale the figures to every published frame.
"""

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'reliability'))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(201, 230)))
os.environ.setdefault('PYTHONUNBUFFERED', '1')

import numpy as np  # noqa: E402

CAMERAS = ['cam_high', 'cam_left_wrist', 'cam_right_wrist']
HEIGHT, WIDTH, CAMERA_HZ, JOINT_HZ, FRAMES = 480, 640, 30.0, 50.0, 30
SIZES = {'quick': {'window_s': 12.0}, 'default': {'window_s': 60.0}}

SHM_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<profiles xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles">
  <transport_descriptors>
    <transport_descriptor>
      <transport_id>aloe_shm</transport_id>
      <type>SHM</type>
      <segment_size>33554432</segment_size>
    </transport_descriptor>
  </transport_descriptors>
  <participant profile_name="aloe_shm_participant" is_default_profile="true">
    <rtps>
      <userTransports><transport_id>aloe_shm</transport_id></userTransports>
      <useBuiltinTransports>false</useBuiltinTransports>
    </rtps>
  </participant>
</profiles>
"""


def make_frames(source):
    """Return {camera: [FRAMES uint8 (480, 640, 3)]}: sim renders of the arms moving, or noise."""
    rng = np.random.default_rng(0)
    if source == 'noise':
        return {c: [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
                    for _ in range(FRAMES)]
                for c in CAMERAS}
    os.environ.setdefault('MUJOCO_GL', 'egl')
    from aloe_ros.sim.env import BimanualEnv
    env = BimanualEnv(cameras=(), image_size=(HEIGHT, WIDTH), seed=0, max_steps=10 ** 6)
    env.reset(seed=0)
    home = np.asarray(env.proprio(), dtype=np.float64)
    frames = {c: [] for c in CAMERAS}
    for k in range(FRAMES):
        target = home + 0.3 * math.sin(2 * math.pi * k / FRAMES)
        env.step(target)
        for c in CAMERAS:
            frames[c].append(np.ascontiguousarray(env.render(c, HEIGHT, WIDTH)))
    env.close()
    return frames


def publisher_main(counts_path, source):
    """Publish the cameras and joint states until SIGTERM; write what was published."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image, JointState

    from aloe_ros.nodes.common import SENSOR_DATA, reliable, sec_to_stamp
    from aloe_ros.sim.robot import SIDE_JOINT_NAMES, camera_frame_id

    frames = make_frames(source)
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = {'flag': False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    node = rclpy.create_node(f'bench_recorder_sensors_{os.getpid()}')
    cams = {}
    for cam in CAMERAS:
        msgs = []
        for arr in frames[cam]:
            msg = Image(height=HEIGHT, width=WIDTH, encoding='rgb8', step=WIDTH * 3,
                        data=arr.tobytes())
            msg.header.frame_id = camera_frame_id(cam)
            msgs.append(msg)
        cams[cam] = (node.create_publisher(Image, f'/{cam}/image_raw', SENSOR_DATA), msgs)
    joints = {f'/follower_{s}/joint_states': (node.create_publisher(
        JointState, f'/follower_{s}/joint_states', SENSOR_DATA), list(SIDE_JOINT_NAMES[s]))
        for s in ('left', 'right')}
    joints['/joint_states'] = (node.create_publisher(JointState, '/joint_states', reliable(10)),
                               list(SIDE_JOINT_NAMES['left'] + SIDE_JOINT_NAMES['right']))
    counts = {'published': {c: 0 for c in CAMERAS}, 'marks': []}
    # The driver asks "how many so far?" by touching <counts>.mark; answered in <counts>.marks.
    t0 = time.monotonic()
    next_cam = next_joint = t0
    k = 0
    while not stop['flag']:
        now = time.monotonic()
        if now >= next_cam:
            stamp = sec_to_stamp(node.get_clock().now().nanoseconds * 1e-9)
            for cam, (pub, msgs) in cams.items():
                msg = msgs[counts['published'][cam] % FRAMES]
                msg.header.stamp = stamp
                pub.publish(msg)
                counts['published'][cam] += 1
            next_cam += 1.0 / CAMERA_HZ
        if now >= next_joint:
            stamp = sec_to_stamp(node.get_clock().now().nanoseconds * 1e-9)
            k += 1
            for pub, names in joints.values():
                position = [0.2 * math.sin(0.02 * k + j) for j in range(len(names))]
                msg = JointState(name=names, position=position)
                msg.header.stamp = stamp
                pub.publish(msg)
            next_joint += 1.0 / JOINT_HZ
        if os.path.exists(counts_path + '.mark'):
            os.remove(counts_path + '.mark')
            with open(counts_path + '.tmp', 'w') as f:
                json.dump(counts['published'], f)
            os.replace(counts_path + '.tmp', counts_path)
        time.sleep(max(0.0, min(next_cam, next_joint) - time.monotonic()))
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def published_now(counts_path, timeout=10.0):
    """Ask the publisher for its counts; return them."""
    if os.path.exists(counts_path):
        os.remove(counts_path)
    open(counts_path + '.mark', 'w').close()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(counts_path):
            with open(counts_path) as f:
                return json.load(f)
        time.sleep(0.02)
    raise RuntimeError('the sensor publisher did not answer')


def cpu_seconds(pid):
    """Return user + system CPU seconds of ``pid`` from /proc."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run_one(mode, source, window_s, tmp, log):
    """Record an episode with ``camera_transcode: mode`` and ``source`` frames; return figures."""
    from aloe_msgs.msg import EpisodeSummary
    from aloe_msgs.srv import EndEpisode, StartEpisode

    from aloe_ros.nodes.common import reliable
    from aloe_ros.storage.bag import read_bag_metadata
    from reliability_harness import Driver, NodeProcess

    work = os.path.join(tmp, f'{mode}_{source}')
    os.makedirs(work)
    counts = os.path.join(work, 'published.json')
    pub = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--publisher', counts,
                            '--frames', source],
                           stdout=open(os.path.join(work, 'publisher.log'), 'w'),
                           stderr=subprocess.STDOUT, env=dict(os.environ))
    rec = NodeProcess('aloe_ros.nodes.recorder', {'storage_root': os.path.join(work, 'store'),
                                                  'camera_transcode': mode},
                      os.path.join(work, 'recorder.log'))
    driver = Driver('bench_recorder')
    try:
        summaries = driver.collect(EpisodeSummary, '/aloe/episode_summary', reliable(10))
        start = driver.node.create_client(StartEpisode, '/aloe/start_episode')
        end = driver.node.create_client(EndEpisode, '/aloe/end_episode')
        # Start-up takes minutes on a loaded machine: wait for the service, then let the first
        # frames flow before the window opens.
        if not driver.spin_until(start.service_is_ready, 600):
            raise RuntimeError(f'the recorder never offered /aloe/start_episode\n{rec.output()}')
        driver.spin_for(5.0)
        res = driver.call(start, StartEpisode.Request(task='bench_recorder'), 120)
        if not (res and res.success):
            raise RuntimeError(f'StartEpisode failed: {res and res.message}\n{rec.output()}')
        before, cpu0, t0 = published_now(counts), cpu_seconds(rec.pid), time.monotonic()
        driver.spin_for(window_s)
        after, cpu1, t1 = published_now(counts), cpu_seconds(rec.pid), time.monotonic()
        res = driver.call(end, EndEpisode.Request(outcome=EndEpisode.Request.OUTCOME_SUCCESS), 120)
        if not (res and res.success):
            raise RuntimeError(f'EndEpisode failed: {res and res.message}\n{rec.output()}')
        if not driver.spin_until(lambda: summaries, 60):
            raise RuntimeError('no EpisodeSummary')
        summary = summaries[-1]
        bag = summary.uri[len('file://'):]
        info = read_bag_metadata(bag)
        topics = {t['topic_metadata']['name']: t['message_count']
                  for t in info['topics_with_message_count']}
        size = sum(os.path.getsize(os.path.join(bag, f)) for f in os.listdir(bag))
        minutes = (t1 - t0) / 60.0
        cam_topics = {c: (f'/{c}/image_raw' if mode == 'keep' else f'/{c}/image_raw/compressed')
                      for c in CAMERAS}
        result = {
            'mode': mode, 'frames': source, 'window_s': round(t1 - t0, 2),
            'bag_bytes': size, 'mb_per_min': round(size / 1e6 / minutes, 1),
            'recorder_cpu_core_fraction': round((cpu1 - cpu0) / (t1 - t0), 3),
            'published_per_camera': {c: after[c] - before[c] for c in CAMERAS},
            'recorded_per_camera': {c: topics.get(cam_topics[c], 0) for c in CAMERAS}
            if mode != 'skip'
            else {c: 0 for c in CAMERAS},
            'joint_state_messages': {t: topics.get(t, 0) for t in
                                     ('/follower_left/joint_states',
                                      '/follower_right/joint_states',
                                      '/joint_states')},
        }
        recorded = sum(result['recorded_per_camera'].values())
        published = sum(result['published_per_camera'].values())
        result['camera_delivery'] = round(recorded / published, 3) if published else None
        if recorded:
            # What the figures would be with every published frame recorded (a loaded machine
            # drops some).
            result['cpu_ms_per_camera_frame'] = round(1000 * (cpu1 - cpu0) / recorded, 2)
            result['mb_per_min_all_frames'] = round(result['mb_per_min'] * published / recorded, 1)
        log(f'[bench_recorder] {mode:5s} {source:5s}: {result["mb_per_min"]:8.1f} MB/min, '
            'recorder CPU '
            f'{100 * result["recorder_cpu_core_fraction"]:5.1f} % of a core, camera messages '
            f'{result["recorded_per_camera"]} of {result["published_per_camera"]} published')
        return result
    finally:
        driver.close()
        rec.stop()
        pub.send_signal(signal.SIGTERM)
        try:
            pub.wait(20)
        except subprocess.TimeoutExpired:
            pub.kill()


def main(argv=None):
    """Run the bench (or the publisher role); write ``<out>/bench_recorder.json``."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='12 s episodes instead of 60 s')
    parser.add_argument('--modes', default='keep,jpeg,png,skip',
                        help='camera_transcode modes to run')
    parser.add_argument('--frames', default='sim,noise', help='frame sources: sim, noise')
    parser.add_argument('--out', default=os.path.join(ROOT, 'results'), help='results directory')
    parser.add_argument('--publisher', metavar='COUNTS_JSON', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.publisher:
        return publisher_main(args.publisher, args.frames)
    import _common as C
    tmp = tempfile.mkdtemp(prefix='bench_recorder_')
    profile = os.path.join(tmp, 'fastdds_shm.xml')
    with open(profile, 'w') as f:
        f.write(SHM_PROFILE)
    os.environ['FASTRTPS_DEFAULT_PROFILES_FILE'] = profile
    size = 'quick' if args.quick else 'default'
    runs = []
    for source in args.frames.split(','):
        for mode in args.modes.split(','):
            runs.append(run_one(mode, source, SIZES[size]['window_s'], tmp, print))
    path = C.write_results('recorder', {
        'size': size, 'cameras': CAMERAS, 'image': [HEIGHT, WIDTH], 'camera_hz': CAMERA_HZ,
        'joint_hz': JOINT_HZ, 'compression': 'zstd (MCAP chunks)', 'runs': runs}, args.out)
    print(f'wrote {path} (work files in {tmp})')
    return 0


if __name__ == '__main__':
    sys.exit(main())

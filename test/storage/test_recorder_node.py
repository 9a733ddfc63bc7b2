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

"""The recorder node as a real process, driven over ROS by a test node."""

import glob
import os
import random
import signal
import subprocess
import sys
import time

from mcap.reader import make_reader
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')
from aloe_msgs.msg import EpisodeEvent, EpisodeSummary, ExecutedStep, Observation  # noqa: E402
from aloe_msgs.srv import EndEpisode, StartEpisode  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

from aloe_ros.learning.episode import (  # noqa: E402
    OUTCOME_ABORTED, OUTCOME_FAILURE, OUTCOME_SUCCESS, OUTCOME_TIMEOUT, SOURCE_HUMAN,
    SOURCE_POLICY)
from aloe_ros.storage import EpisodeStore  # noqa: E402
from aloe_ros.storage.convert import proprio_from  # noqa: E402
from aloe_ros.storage.episode_file import read_partial  # noqa: E402
from aloe_ros.storage.store import STEP_TOPIC  # noqa: E402

pytestmark = pytest.mark.ros
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 100)))

LATCHED = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
BEST_EFFORT = QoSProfile(depth=2, reliability=ReliabilityPolicy.BEST_EFFORT)
MAX_STEPS = 8


class Driver:
    """Test-side node: calls the services, publishes inputs, collects outputs."""

    def __init__(self, proc, root):
        self.proc = proc
        self.root = root
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx)
        self.node = rclpy.create_node('recorder_test_driver', context=self.ctx)
        self.executor = SingleThreadedExecutor(context=self.ctx)
        self.executor.add_node(self.node)
        self._settled = set()
        n = self.node
        self.start_cli = n.create_client(StartEpisode, '/aloe/start_episode')
        self.end_cli = n.create_client(EndEpisode, '/aloe/end_episode')
        self.obs_pub = n.create_publisher(Observation, '/aloe/observation', BEST_EFFORT)
        self.step_pub = n.create_publisher(ExecutedStep, '/aloe/executed_step', 200)
        self.cam_pub = n.create_publisher(Image, '/cam_high/image_raw', BEST_EFFORT)
        self.events, self.summaries, self.diagnostics = [], [], []
        n.create_subscription(EpisodeEvent, '/aloe/episode_event', self.events.append, LATCHED)
        n.create_subscription(EpisodeSummary, '/aloe/episode_summary', self.summaries.append, 10)
        n.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics.append, 10)

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.01)

    def wait_for(self, predicate, timeout=60.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            assert self.proc.poll() is None, 'recorder exited'
            self.executor.spin_once(timeout_sec=0.02)
        return predicate()

    def recorded(self, episode_id, n, timeout=120.0, observations=0):
        """
        Spin until the open episode's ``.partial`` holds ``n`` steps (and ``observations``).

        The recorder makes the open episode durable every flush_period (0.5 s): waiting on the
        file replaces a fixed pause before EndEpisode that a loaded machine can overrun.
        """
        pattern = os.path.join(self.root, 'episodes', '*', episode_id,
                               episode_id + '_0.mcap.partial')

        def counts():
            for path in glob.glob(pattern):
                try:
                    topics = [m[0] for m in read_partial(path).messages]
                except OSError:
                    return 0, 0
                return topics.count(STEP_TOPIC), topics.count('/aloe/observation')
            return 0, 0
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            steps, obs = counts()
            if steps >= n and obs >= observations:
                return True
            self.spin(0.1)
        return False

    def call(self, client, request, timeout=60.0):
        # Generous: on a loaded 2-core machine the recorder's start-up alone has taken 75 s.
        assert self.wait_for(client.service_is_ready, 300.0), 'service not available'
        if id(client) not in self._settled:
            # The server may not have discovered this client's response reader yet (see
            # reliability_harness.Driver.call): a margin before the first request.
            self.spin(1.0)
            self._settled.add(id(client))
        future = client.call_async(request)
        assert self.wait_for(future.done, timeout), 'service call timed out'
        return future.result()

    def start(self, **kw):
        return self.call(self.start_cli, StartEpisode.Request(**kw))

    def end(self, outcome, reason=''):
        return self.call(self.end_cli, EndEpisode.Request(outcome=outcome, reason=reason))

    def step(self, episode_id, k, t, action=None, source=SOURCE_POLICY, version=3):
        msg = ExecutedStep(episode_id=episode_id, step_index=k, source=source,
                           policy_version=version if source == SOURCE_POLICY else 0,
                           intervention=source == SOURCE_HUMAN,
                           action=list(action if action is not None else np.full(14, 0.1 * k)),
                           observed_position=[0.0] * 14)
        msg.header.stamp.sec, msg.header.stamp.nanosec = t, 0
        self.step_pub.publish(msg)

    def close(self):
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


@pytest.fixture(scope='module')
def driver(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('recorder_store'))
    proc = subprocess.Popen(
        [sys.executable, '-m', 'aloe_ros.nodes.recorder', '--ros-args',
         '-p', f'storage_root:={root}', '-p', f'max_episode_steps:={MAX_STEPS}',
         '-p', 'default_task:=handover', '-p', "camera_topics:=['/cam_high/image_raw']"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    d = Driver(proc, root)
    try:
        yield d
    finally:
        d.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        print(proc.stdout.read())


def test_records_an_episode_end_to_end(driver):
    res = driver.start(task_instruction='pick the cube')
    assert res.success, res.message
    eid = res.episode_id
    assert driver.wait_for(lambda: any(e.episode_id == eid and e.event == 0
                                       for e in driver.events))
    sources = [SOURCE_POLICY, SOURCE_POLICY, SOURCE_HUMAN, SOURCE_HUMAN, SOURCE_POLICY,
               SOURCE_POLICY]
    for k, src in enumerate(sources):
        obs = Observation(camera_names=['cam_high'], position=list(0.1 * k + np.arange(12.0)),
                          gripper=[k / 10, 1 - k / 10], joint_names=[f'j{i}' for i in range(12)])
        obs.header.stamp.sec = 100 + k
        obs.images = [Image(height=4, width=6, encoding='rgb8', step=18, data=bytes([k]) * 72)]
        driver.obs_pub.publish(obs)
        driver.cam_pub.publish(Image(height=2, width=2, encoding='rgb8', step=6, data=bytes(12)))
        driver.spin(0.03)
        driver.step(eid, k, 100 + k, source=src)
        driver.spin(0.03)
    assert driver.recorded(eid, 6, observations=6), 'the recorder did not take every input'
    res = driver.end(OUTCOME_SUCCESS, 'placed')
    assert res.success and res.episode_id == eid and res.num_steps == 6, res.message
    assert driver.wait_for(lambda: driver.summaries)
    summary = driver.summaries[-1]
    assert summary.episode_id == eid and summary.num_steps == 6 and summary.num_human_steps == 2
    assert summary.num_interventions == 1 and list(summary.policy_versions) == [3]
    assert summary.terminated and not summary.truncated and summary.uri.endswith('/' + eid)
    assert driver.wait_for(lambda: [e for e in driver.events if e.episode_id == eid
                                    and e.event == 1])
    ended = [e for e in driver.events if e.episode_id == eid and e.event == 1]
    assert ended[0].outcome == OUTCOME_SUCCESS and ended[0].policy_version == 3

    store = EpisodeStore(driver.root)
    ep = store.load_episode(eid)
    assert ep.task == 'handover' and ep.instruction == 'pick the cube'
    assert ep.outcome == OUTCOME_SUCCESS and ep.terminated and not ep.truncated
    np.testing.assert_array_equal(ep.sources, sources)
    np.testing.assert_array_equal(ep.interventions, [s == SOURCE_HUMAN for s in sources])
    np.testing.assert_allclose(ep.actions[:, 0], 0.1 * np.arange(6), rtol=1e-6)
    np.testing.assert_array_equal(ep.rewards, [0, 0, 0, 0, 0, 1])
    assert ep.images['cam_high'].shape == (6, 4, 6, 3)
    assert [int(ep.images['cam_high'][k].max()) for k in range(6)] == list(range(6))
    for k in range(6):
        np.testing.assert_allclose(ep.proprio[k], proprio_from(0.1 * k + np.arange(12.0),
                                                               [k / 10, 1 - k / 10]), rtol=1e-6)
    rec = store.catalog.get(eid)
    assert rec.status == 'complete' and rec.num_steps == 6 and rec.size_bytes > 0
    with open(store.path_of(eid), 'rb') as f:
        summary = make_reader(f).get_summary()
    types = {c.topic: summary.schemas[c.schema_id].name for c in summary.channels.values()}
    assert types['/cam_high/image_raw'] == 'sensor_msgs/msg/Image'
    assert types['/aloe/episode_event'] == 'aloe_msgs/msg/EpisodeEvent'
    counts = summary.statistics.channel_message_counts
    by_topic = {c.topic: counts.get(cid, 0) for cid, c in summary.channels.items()}
    assert by_topic['/aloe/episode_event'] == 2 and by_topic['/cam_high/image_raw'] >= 1


def test_bad_input_is_rejected_and_node_keeps_running(driver):
    eid = driver.start().episode_id
    again = driver.start()
    assert not again.success and eid in again.message
    driver.step(eid, 0, 1)
    driver.step(eid, 1, 2, action=[float('nan')] * 14)
    driver.step(eid, 1, 2, action=[0.0] * 7)
    driver.step(eid, 0, 2)
    driver.step('someone-else', 1, 2)
    driver.step(eid, 1, 2)
    # The two valid steps on disk (in order after the refused ones: one reliable publisher).
    assert driver.recorded(eid, 2)
    bogus = driver.end(9)
    assert not bogus.success and 'unknown outcome' in bogus.message
    res = driver.end(OUTCOME_FAILURE)
    assert res.success and res.num_steps == 2 and res.episode_id == eid, res.message
    assert not driver.end(OUTCOME_SUCCESS).success
    assert driver.proc.poll() is None

    def rejected():
        for msg in driver.diagnostics:
            for status in msg.status:
                values = {kv.key: kv.value for kv in status.values}
                if ('aloe_recorder' in status.name and int(values.get('rejected', 0)) >= 6
                        and status.level == b'\x01'):
                    return status
        return None
    assert driver.wait_for(rejected, 60.0)
    ep = EpisodeStore(driver.root).load_episode(eid)
    np.testing.assert_array_equal(ep.extra['step_index'], [0, 1])
    assert ep.outcome == OUTCOME_FAILURE and ep.terminated


def test_max_episode_steps_ends_as_timeout(driver):
    eid = driver.start().episode_id
    for k in range(MAX_STEPS + 3):
        driver.step(eid, k, 10 + k)
    assert driver.wait_for(lambda: any(e.episode_id == eid and e.event == 1
                                       for e in driver.events))
    event = [e for e in driver.events if e.episode_id == eid and e.event == 1][0]
    assert event.outcome == OUTCOME_TIMEOUT and event.truncated and not event.terminated
    rec = EpisodeStore(driver.root).catalog.get(eid)
    assert rec.num_steps == MAX_STEPS and rec.truncated and rec.outcome == OUTCOME_TIMEOUT
    assert not driver.end(OUTCOME_SUCCESS).success


def test_sigterm_closes_open_episode_as_aborted(driver):
    eid = driver.start().episode_id
    for k in range(3):
        driver.step(eid, k, 20 + k)
    assert driver.recorded(eid, 3)
    driver.proc.send_signal(signal.SIGTERM)
    assert driver.proc.wait(120) == 0  # finalizing has taken more than 15 s under a CPU hog
    store = EpisodeStore(driver.root)
    rec = store.catalog.get(eid)
    assert rec.status == 'complete' and rec.outcome == OUTCOME_ABORTED and rec.truncated
    assert rec.num_steps == 3
    assert store.load_episode(eid).truncated
    partials = [f for _d, _s, fs in os.walk(driver.root) for f in fs if f.endswith('.partial')]
    assert partials == []


def test_invalid_parameter_exits_nonzero(tmp_path):
    proc = subprocess.run(
        [sys.executable, '-m', 'aloe_ros.nodes.recorder', '--ros-args',
         '-p', f'storage_root:={tmp_path}', '-p', 'action_dim:=0'],
        capture_output=True, text=True, timeout=300)  # start-up is slow on a loaded machine
    assert proc.returncode != 0
    assert 'action_dim' in proc.stdout + proc.stderr


def test_sigint_with_an_open_episode_closes_it_without_a_traceback(tmp_path, monkeypatch):
    """
    Ctrl-C (SIGINT) while an episode is open: closed as ABORTED, exit 0, no traceback.

    rclpy's SIGINT handler shuts the context down before the node is destroyed, so the shutdown
    path must neither publish nor call anything that needs the context. A recorder of its own
    on another ROS domain, so the module's recorder (and its services) stay out of the way.
    """
    domain = (int(os.environ['ROS_DOMAIN_ID']) + 1) % 101 + 1
    monkeypatch.setenv('ROS_DOMAIN_ID', str(domain))
    root = str(tmp_path / 'store')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'aloe_ros.nodes.recorder', '--ros-args',
         '-p', f'storage_root:={root}', '-p', "camera_topics:=['/cam_high/image_raw']"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ))
    d = Driver(proc, root)
    try:
        eid = d.start(task='handover').episode_id
        for k in range(3):
            d.step(eid, k, 30 + k)
        assert d.recorded(eid, 3)
        # Steps keep arriving (the executor publishes at 50 Hz) while the recorder stops.
        proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 120  # finalizing has taken more than 15 s under a CPU hog
        k = 3
        while proc.poll() is None and time.monotonic() < deadline:
            d.step(eid, k, 30 + k)
            k += 1
            d.spin(0.02)
        code = proc.wait(10)
    finally:
        d.close()
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read()
    assert code == 0, out
    assert 'Traceback' not in out and 'RCLError' not in out, out
    assert 'context is invalid' not in out, out  # nothing sent after rclpy's shutdown
    assert f'episode {eid} ended: aborted (truncated)' in out, out
    rec = EpisodeStore(root).catalog.get(eid)
    assert rec.status == 'complete' and rec.outcome == OUTCOME_ABORTED and rec.truncated
    assert rec.num_steps >= 3

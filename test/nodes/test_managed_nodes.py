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
Managed (lifecycle) nodes as real processes, driven through the standard lifecycle services.

The chunk executor commands only while active and holds when deactivated, survives cleanup and
a second configure, refuses invalid transitions with an answer, and a configure that fails on
a bad parameter leaves the process alive and unconfigured. The recorder opens no episode while
inactive, closes an open one as ABORTED when deactivated, and releases its store at cleanup.
"""

from aloe_msgs.msg import ActionChunk, EpisodeEvent, ExecutedStep, Observation
from aloe_msgs.srv import SetMode, StartEpisode
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
import numpy as np
import pytest

from aloe_ros.station.executor_core import DEFAULT_JOINT_NAMES
from aloe_ros.nodes.common import LATCHED, SENSOR_DATA, reliable
from aloe_ros.storage.store import EpisodeStore

pytestmark = pytest.mark.ros

ARM = ['left_waist', 'left_shoulder', 'left_elbow', 'left_forearm_roll', 'left_wrist_angle',
       'left_wrist_rotate', 'right_waist', 'right_shoulder', 'right_elbow',
       'right_forearm_roll', 'right_wrist_angle', 'right_wrist_rotate']
# Generous: under a CPU hog a node's start alone has taken 75 s.
START = 300.0
CALL = 120.0


def _call(ros, client, request, timeout=CALL):
    assert client.wait_for_service(timeout_sec=timeout), f'{client.srv_name} never appeared'
    future = client.call_async(request)
    assert ros.spin_until(future.done, timeout=timeout), f'{client.srv_name}: no answer'
    return future.result()


class Lifecycle:
    """get_state / change_state of one node, from the test's harness."""

    def __init__(self, ros, name):
        """Make the two clients for node ``name`` (at the root namespace)."""
        self.ros = ros
        self.get = ros.node.create_client(GetState, f'/{name}/get_state')
        self.change = ros.node.create_client(ChangeState, f'/{name}/change_state')

    def state(self):
        """Return the node's state id."""
        return _call(self.ros, self.get, GetState.Request()).current_state.id

    def transition(self, transition_id):
        """Ask a transition; return its success flag."""
        return _call(self.ros, self.change,
                     ChangeState.Request(transition=Transition(id=transition_id))).success


def _observation(node):
    msg = Observation(joint_names=ARM, position=[0.0] * 12, velocity=[0.0] * 12,
                      gripper=[0.5, 0.5])
    msg.header.stamp = node.get_clock().now().to_msg()
    return msg


def _chunk(node, horizon=1000):
    names = list(DEFAULT_JOINT_NAMES)
    msg = ActionChunk(chunk_id=1, policy_version=3, horizon=horizon, action_dim=len(names),
                      joint_names=names, dt=0.02,
                      actions=np.zeros((horizon, len(names)), np.float32).ravel().tolist())
    msg.header.stamp = node.get_clock().now().to_msg()
    return msg


def test_executor_commands_only_while_active_and_holds_when_deactivated(ros, start_node):
    proc = start_node('aloe_ros.nodes.chunk_executor', {
        'autostart': False, 'observation_timeout': 0.5, 'command_interface': 'trajectory'})
    node = ros.node
    steps = ros.collect(ExecutedStep, '/aloe/executed_step', reliable(200))
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    feed = lambda: obs_pub.publish(_observation(node))  # noqa: E731
    life = Lifecycle(ros, 'chunk_executor')

    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED, proc.output()
    # rclpy leaves an invalid transition unanswered; the managed node answers false.
    assert life.transition(Transition.TRANSITION_ACTIVATE) is False
    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert life.transition(Transition.TRANSITION_CONFIGURE), proc.output()
    assert life.state() == State.PRIMARY_STATE_INACTIVE
    set_mode = node.create_client(SetMode, '/aloe/executor/set_mode')
    refused = _call(ros, set_mode, SetMode.Request(mode=SetMode.Request.MODE_RUN))
    assert not refused.success and 'inactive' in refused.message
    # Inactive: observations arrive, nothing is commanded.
    ros.spin_until(lambda: False, timeout=3.0, every=feed, period=0.05)
    assert not steps and proc.alive()

    assert life.transition(Transition.TRANSITION_ACTIVATE), proc.output()
    assert ros.spin_until(lambda: len(steps) > 5, timeout=START, every=feed), proc.output()
    # A running chunk (20 s long): the policy commands until the deactivation.
    chunk_pub = node.create_publisher(ActionChunk, '/aloe/action_chunk', reliable(5))
    assert ros.wait_matched(chunk_pub)
    chunk_pub.publish(_chunk(node))
    assert ros.spin_until(lambda: steps[-1].source == ExecutedStep.SOURCE_POLICY,
                          timeout=CALL, every=feed), proc.output()

    assert life.transition(Transition.TRANSITION_DEACTIVATE), proc.output()
    ros.spin_for(0.5)  # steps published before the deactivation still in flight
    count = len(steps)
    assert steps[-1].source == ExecutedStep.SOURCE_HOLD
    ros.spin_until(lambda: False, timeout=3.0, every=feed, period=0.05)
    assert len(steps) == count, 'commands sent while inactive'

    # Cleanup releases everything; a second configure declares nothing twice and works.
    assert life.transition(Transition.TRANSITION_CLEANUP), proc.output()
    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert life.transition(Transition.TRANSITION_CONFIGURE), proc.output()
    assert life.transition(Transition.TRANSITION_ACTIVATE), proc.output()
    assert ros.spin_until(lambda: len(steps) > count + 5, timeout=START, every=feed), \
        proc.output()
    assert proc.alive()
    assert proc.stop() == 0, proc.output()


def test_a_failed_configure_leaves_the_executor_running_unconfigured(ros, start_node, tmp_path):
    missing = tmp_path / 'no_such_profile.yaml'
    proc = start_node('aloe_ros.nodes.chunk_executor', {
        'autostart': False, 'robot_profile': str(missing)})
    life = Lifecycle(ros, 'chunk_executor')
    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED, proc.output()
    assert life.transition(Transition.TRANSITION_CONFIGURE) is False
    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert proc.alive()
    out = proc.output()
    assert 'configure failed: invalid configuration' in out and 'robot_profile' in out, out
    assert proc.stop() == 0, proc.output()


def test_the_recorder_records_only_while_active(ros, start_node, tmp_path):
    root = tmp_path / 'store'
    proc = start_node('aloe_ros.nodes.recorder', {'autostart': False,
                                                  'storage_root': str(root)})
    node = ros.node
    events = ros.collect(EpisodeEvent, '/aloe/episode_event', LATCHED)
    life = Lifecycle(ros, 'aloe_recorder')
    start = node.create_client(StartEpisode, '/aloe/start_episode')

    assert life.state() == State.PRIMARY_STATE_UNCONFIGURED, proc.output()
    assert life.transition(Transition.TRANSITION_CONFIGURE), proc.output()
    refused = _call(ros, start, StartEpisode.Request(task='handover'))
    assert not refused.success and 'inactive' in refused.message

    assert life.transition(Transition.TRANSITION_ACTIVATE), proc.output()
    opened = _call(ros, start, StartEpisode.Request(task='handover'))
    assert opened.success, opened.message
    assert life.transition(Transition.TRANSITION_DEACTIVATE), proc.output()
    assert ros.spin_until(lambda: any(e.event == EpisodeEvent.EVENT_ENDED
                                      and e.episode_id == opened.episode_id for e in events),
                          timeout=CALL), proc.output()
    ended = [e for e in events if e.event == EpisodeEvent.EVENT_ENDED][-1]
    assert ended.outcome == EpisodeEvent.OUTCOME_ABORTED and ended.truncated

    # Cleanup closes the store: its lock is free for another writer while the node lives.
    assert life.transition(Transition.TRANSITION_CLEANUP), proc.output()
    store = EpisodeStore(str(root), mode='w')
    try:
        assert opened.episode_id in store.episode_ids()
    finally:
        store.close()
    assert proc.alive()
    assert proc.stop() == 0, proc.output()

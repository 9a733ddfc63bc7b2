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

"""StationClient, the public scripting API, against real recorder and executor processes."""

import pytest

from aloe_ros.learning.episode import OUTCOME_FAILURE, OUTCOME_SUCCESS

pytestmark = pytest.mark.ros


@pytest.fixture
def station_client():
    """Yield a StationClient in rclpy's default context (as a user's script has it)."""
    import rclpy
    from aloe_ros.station import StationClient
    context_was_up = rclpy.ok()
    if not context_was_up:
        rclpy.init()
    client = StationClient('test_station_client')
    yield client
    client.destroy_node()
    if not context_was_up:
        rclpy.shutdown()


def test_station_client_drives_episodes_and_modes(station_client, start_node, tmp_path):
    recorder = start_node('aloe_ros.nodes.recorder', {'storage_root': str(tmp_path / 'store')})
    executor = start_node('aloe_ros.nodes.chunk_executor', {})
    station = station_client
    # generous: a recorder has taken 84 s to start on the loaded 2-core machine
    station.wait_until_ready(timeout=300, sim=False, need_learner=False, policy_version=0)

    first = station.start_episode(task='handover', seed=7)
    with pytest.raises(RuntimeError, match='start_episode refused'):
        station.start_episode(task='handover')          # one is open: the station says so
    station.set_mode(station.MODE_RUN, 'test')
    station.set_mode(station.MODE_HOLD, 'test')
    res = station.end_episode(station.SUCCESS, 'scripted')
    assert res.episode_id == first
    summary = station.wait_for_summary(first, timeout=60)
    assert summary.outcome == OUTCOME_SUCCESS and summary.task == 'handover'

    second = station.start_episode(task='handover', seed=8)
    assert second != first
    station.end_episode(station.FAILURE)
    assert station.wait_for_summary(timeout=60).episode_id == second
    assert station.summaries[second].outcome == OUTCOME_FAILURE
    assert station.ended[second].outcome == OUTCOME_FAILURE
    with pytest.raises(RuntimeError, match='no episode is open'):
        station.end_episode(station.ABORTED)
    with pytest.raises(TimeoutError, match='train_iteration'):
        station.wait_until_ready(timeout=1, sim=False, need_learner=True, policy_version=0)
    assert recorder.alive() and executor.alive()


def test_episodes_record_the_instruction_the_sim_reports(station_client, start_node, tmp_path):
    """
    The sim reports each task's instruction; episodes started through the graph record it.

    StationClient sends it in StartEpisode; a bare StartEpisode with no instruction gets it from
    the recorder (which hears the same report); an explicit instruction is kept as given.
    """
    from aloe_msgs.srv import StartEpisode
    from aloe_ros.sim.tasks import make_task
    from aloe_ros.storage import EpisodeStore
    root = str(tmp_path / 'store')
    sim = start_node('aloe_ros.nodes.sim_node', {'camera_rate_hz': 0.0, 'image_height': 8,
                                                 'image_width': 8, 'task': 'handover'})
    recorder = start_node('aloe_ros.nodes.recorder', {'storage_root': root,
                                                      'default_instruction': 'stale default'})
    station = station_client
    for client in (station.reset_cli, station.start_cli, station.end_cli):
        assert client.wait_for_service(timeout_sec=300), client.srv_name
    sort = make_task('sort').instruction
    assert sort and sort != make_task('handover').instruction
    # Generous deadlines: on a loaded machine node start-up alone can take minutes.
    station.reset_scene(task='sort', seed=3)
    first = station.start_episode(task='sort', instruction_timeout=300)
    station.end_episode(station.SUCCESS)
    assert station.wait_for_summary(first, timeout=120).task == 'sort'
    assert station.ended[first].task_instruction == sort
    # A StartEpisode without an instruction (another client): the recorder fills it in.
    assert station.instruction_for('sort') == sort  # the report reached this client ...
    station.spin_until(lambda: 'instruction for task \'sort\'' in recorder.output(), 300,
                       'the recorder to hear the instruction')
    res = station.call(station.start_cli, StartEpisode.Request(), 120)
    assert res.success, res.message
    station.end_episode(station.FAILURE)
    station.wait_for_summary(res.episode_id, timeout=120)
    assert station.ended[res.episode_id].task_instruction == sort
    # An explicit instruction wins.
    third = station.start_episode(task='sort', instruction='sort them, quickly')
    station.end_episode(station.SUCCESS)
    station.wait_for_summary(third, timeout=120)
    assert station.ended[third].task_instruction == 'sort them, quickly'
    assert recorder.alive() and sim.alive()
    recorded = {r.episode_id: r.instruction for r in EpisodeStore(root).records()}
    assert recorded == {first: sort, res.episode_id: sort, third: 'sort them, quickly'}, recorded


def test_a_call_whose_response_is_lost_is_settled_from_its_effect(station_client):
    """
    A StartEpisode/EndEpisode whose response never arrives is settled from the episode event.

    rmw_fastrtps drops a response when the server has not matched the client's response reader
    within 100 ms, which a loaded machine hit in a fresh-clone run (the first StartEpisode of
    test_fleet timed out). The stand-in recorder here acts (publishes the latched
    EpisodeEvent) and withholds its response until the test ends: the client must return the
    announced episode instead of timing out, and must not call again.
    """
    import threading

    import rclpy
    from rclpy.callback_groups import ReentrantCallbackGroup
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node

    from aloe_msgs.msg import EpisodeEvent
    from aloe_msgs.srv import EndEpisode, StartEpisode
    from aloe_ros.nodes.common import latched

    release = threading.Event()
    calls = []

    class SilentRecorder(Node):
        def __init__(self):
            super().__init__('silent_recorder')
            self.events = self.create_publisher(EpisodeEvent, '/aloe/episode_event', latched(10))
            group = ReentrantCallbackGroup()   # the end is served while the start still waits
            self.create_service(StartEpisode, '/aloe/start_episode', self.start,
                                callback_group=group)
            self.create_service(EndEpisode, '/aloe/end_episode', self.end, callback_group=group)

        def announce(self, event, **fields):
            self.events.publish(EpisodeEvent(episode_id='ep-lost-1', event=event, **fields))
            calls.append(event)
            release.wait(timeout=600)   # the response is "lost" until the test is over

        def start(self, request, response):
            self.announce(EpisodeEvent.EVENT_STARTED, task=request.task, seed=request.seed)
            return response

        def end(self, request, response):
            self.announce(EpisodeEvent.EVENT_ENDED, outcome=request.outcome)
            return response

    server = SilentRecorder()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(server)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        assert station_client.start_episode(task='handover', seed=7) == 'ep-lost-1'
        res = station_client.end_episode(station_client.SUCCESS, 'scripted')
        assert res.success and res.episode_id == 'ep-lost-1'
        assert calls == [EpisodeEvent.EVENT_STARTED, EpisodeEvent.EVENT_ENDED]  # no repeat
    finally:
        release.set()
        executor.shutdown(timeout_sec=30)
        server.destroy_node()
        spinner.join(timeout=60)
    assert rclpy.ok()

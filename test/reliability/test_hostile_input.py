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
Hostile input on the ROS domain, through real node processes.

Bad /clock, forged episode events, bad and good messages alternating. No single message may
stop a node or cost recorded steps.
"""

import time

from aloe_msgs.msg import ActionChunk, EpisodeEvent, Observation, SafetyEvent
from aloe_msgs.srv import EndEpisode, StartEpisode
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
import numpy as np
import pytest
from reliability_harness import (CommandMonitor, JOINTS, TINY_CONFIG, diag_counter, make_weights,
                                 observation_msg, recorded_steps, wait_recorded)
from rosgraph_msgs.msg import Clock

from aloe_ros.learning.episode import OUTCOME_SUCCESS, SOURCE_HOLD, SOURCE_POLICY
from aloe_ros.nodes.common import DIAGNOSTICS, EVENTS, SENSOR_DATA, latched, reliable

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DT = 0.02


class ChunkFeed:
    """Publishes observations, and a fresh 2 s chunk (constant pose 0.1) every 0.5 s."""

    def __init__(self, driver, clock_pub=None):
        """Create the publishers; ``clock_pub`` also gets the driver's time as /clock."""
        self.driver = driver
        self.obs_pub = driver.node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
        self.chunk_pub = driver.node.create_publisher(ActionChunk, '/aloe/action_chunk',
                                                      reliable(5))
        self.clock_pub = clock_pub
        self.next_chunk = 0.0
        self.chunk_id = 0

    def __call__(self):
        """Publish one round (the driver's spin calls this every 20 ms)."""
        d = self.driver
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=d.stamp()))
        self.obs_pub.publish(observation_msg(d))
        if d.now() >= self.next_chunk:
            self.chunk_id += 1
            chunk = ActionChunk(chunk_id=self.chunk_id, policy_version=1, horizon=100,
                                action_dim=14,
                                joint_names=JOINTS, dt=DT, actions=[0.1] * 1400)
            chunk.header.stamp = d.stamp()
            self.chunk_pub.publish(chunk)
            self.next_chunk = d.now() + 0.5


def _messages(events, text):
    return [e.message for e in events if text in e.message]


def test_bad_clock_kills_no_node_and_executor_holds_then_recovers(driver, start_node, tmp_path):
    make_weights(str(tmp_path / 'weights'), TINY_CONFIG)
    sim = {'use_sim_time': True}
    executor = start_node('aloe_ros.nodes.chunk_executor', {**sim, 'observation_timeout': 0.5})
    others = [
        start_node('aloe_ros.nodes.observation', sim),
        start_node('aloe_ros.nodes.teleop', sim),
        start_node('aloe_ros.nodes.recorder', {**sim, 'storage_root': str(tmp_path / 'store')}),
        # No initial weights: the policy waits for a PolicyUpdate (its chunks would mix with the
        # feed's).
        start_node('aloe_ros.nodes.policy', {**sim, 'learner_config': TINY_CONFIG,
                                             'weights_dir': str(tmp_path / 'weights')}),
        start_node('aloe_ros.nodes.learner', {**sim, 'learner_config': TINY_CONFIG,
                                              'store_root': str(tmp_path / 'store2'),
                                              'weights_dir': str(tmp_path / 'weights2')}),
    ]
    clock_pub = driver.node.create_publisher(Clock, '/clock', reliable(10))
    feed = ChunkFeed(driver, clock_pub)
    monitor = CommandMonitor(driver)
    events = driver.collect(SafetyEvent, '/aloe/safety_event', EVENTS)

    def policy_steps():
        return sum(s.source == SOURCE_POLICY for s in monitor.steps)

    assert driver.spin_until(lambda: policy_steps() > 20, 600, feed), executor.output()

    def inject(bad, everyone=False):
        """
        Publish the sample ``bad()`` until the executor (``everyone``: every node) rejected it.

        A /clock subscription keeps one sample, so each try leaves the bad one alone for 0.3 s
        (a good one right after would replace it before it is taken) and, if it was not taken,
        sends one good sample before the next try: repeated jumps would otherwise form a
        'consistent new timeline' that the guard adopts after 2 s. Waiting on the rejection
        itself, not on a fixed pause, keeps this from passing vacuously under load.
        """
        n_events = len(events)
        feed.clock_pub = None

        def taken():
            return bool(_messages(events[n_events:], '/clock rejected'))

        def done():
            return taken() and (not everyone or all('/clock rejected' in p.output(100000)
                                                    for p in others))
        deadline = time.monotonic() + 300
        while not done() and time.monotonic() < deadline:
            clock_pub.publish(Clock(clock=bad()))
            driver.spin_until(taken, 0.3, feed)
            if not done():
                clock_pub.publish(Clock(clock=driver.stamp()))
                driver.spin_for(0.05, feed)
        feed.clock_pub = clock_pub
        assert done(), [e.message for e in events[n_events:]] + [p.output() for p in others]
        return n_events

    # Invalid samples (negative sec: it killed every use_sim_time node; nanosec >= 1e9), then a
    # jump back by 1000 s and one forward by 1e6 s: none is applied, every node stays up.
    samples = [(lambda: Time(sec=-1, nanosec=0), True),
               (lambda: Time(sec=0, nanosec=1_500_000_000), False),
               (lambda: Time(sec=int(driver.now() - 1000.0), nanosec=0), False),
               (lambda: Time(sec=int(driver.now() + 1e6), nanosec=0), False)]
    first = len(monitor.steps)
    for bad, everyone in samples:
        n_events = inject(bad, everyone)
        # The executor says so and holds, then resumes the policy once the clock has been sane 0.5
        # s.
        assert driver.spin_until(lambda: _messages(events[n_events:], 'clock rejected cleared'),
                                 300, feed), \
            [e.message for e in events[n_events:]] + [executor.output()]
        resumed_at = len(monitor.steps)
        assert driver.spin_until(
            lambda: sum(s.source == SOURCE_POLICY for s in monitor.steps[resumed_at:]) > 10, 300,
            feed), \
            executor.output()
    # ROS time never left the driver's timeline: every step is stamped within seconds of the wall
    # time it arrived at (a jump of 1000 s or 1e6 s would show; under load the rounds above take
    # minutes, so not "within 60 s of now").
    lags = monitor.stamp_lags(first)
    assert np.all(np.abs(lags) < 60), (lags.min(), lags.max())
    holds = [s for s in monitor.steps if s.source == SOURCE_HOLD]
    assert holds and monitor.violations == []
    for proc in [executor] + others:
        assert proc.alive(), proc.output()
        assert 'Traceback' not in proc.output(100000), proc.output()


def test_forged_episode_event_costs_no_step_of_the_real_episode(driver, start_node, tmp_path):
    recorder = start_node('aloe_ros.nodes.recorder', {'storage_root': str(tmp_path / 'store')})
    executor = start_node('aloe_ros.nodes.chunk_executor', {'observation_timeout': 0.5})
    feed = ChunkFeed(driver)
    monitor = CommandMonitor(driver)
    events = driver.collect(SafetyEvent, '/aloe/safety_event', EVENTS)
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    # Generous deadlines throughout: under a CPU hog a node's start-up alone has taken 75 s.
    start = driver.call(driver.node.create_client(StartEpisode, '/aloe/start_episode'),
                        StartEpisode.Request(task='handover'), 600)
    assert start is not None and start.success, recorder.output()

    def labelled():
        return [s for s in monitor.steps if s.episode_id == start.episode_id]

    assert driver.spin_until(lambda: len(labelled()) > 20, 600, feed), executor.output()
    forger = driver.node.create_publisher(EpisodeEvent, '/aloe/episode_event', latched(10))
    for k in range(20):
        forger.publish(EpisodeEvent(episode_id=f'forged-{k % 2}',
                                    event=EpisodeEvent.EVENT_STARTED))
        driver.spin_for(0.05, feed)
    n = len(monitor.steps)
    assert driver.spin_until(lambda: len(monitor.steps) > n + 50, 300, feed)
    # End once the recorder has received every labelled step seen so far (its counters, 1 Hz).
    n_labelled = len(labelled())
    assert driver.spin_until(
        lambda: diag_counter(diags, 'aloe_recorder', 'msgs_aloe_executed_step') >= n_labelled, 300,
        feed)
    end = driver.call(driver.node.create_client(EndEpisode, '/aloe/end_episode'),
                      EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success, recorder.output()
    # Every step the executor published while the episode was open carries its id, in order...
    first = next(i for i, s in enumerate(monitor.steps) if s.episode_id == start.episode_id)
    during = [s for s in monitor.steps[first:] if s.episode_id]
    assert {s.episode_id for s in during} == {start.episode_id}
    assert [s.step_index for s in during] == list(range(len(during)))
    # ... and the recorder kept every one of them: none refused, none lost.
    assert end.num_steps >= n_labelled, (end.num_steps, n_labelled)
    assert 'ExecutedStep rejected' not in recorder.output(100000)
    # Said once per forged id, not once per event.
    forged = _messages(events, 'forged')
    assert 1 <= len(forged) <= 2, forged
    assert executor.alive() and recorder.alive()


def _open_episode_with_forger(driver, start_node, tmp_path):
    """
    Start recorder and executor, open an episode with 20+ labelled steps, match a forger.

    The forger is a publisher on /aloe/episode_event matched to both processes.
    """
    from types import SimpleNamespace
    root = str(tmp_path / 'store')
    recorder = start_node('aloe_ros.nodes.recorder', {'storage_root': root})
    executor = start_node('aloe_ros.nodes.chunk_executor', {'observation_timeout': 0.5})
    feed = ChunkFeed(driver)
    monitor = CommandMonitor(driver)
    start_cli = driver.node.create_client(StartEpisode, '/aloe/start_episode')
    end_cli = driver.node.create_client(EndEpisode, '/aloe/end_episode')
    # Generous deadlines throughout: under a CPU hog a node's start-up alone has taken 75 s.
    start = driver.call(start_cli, StartEpisode.Request(task='handover'), 600)
    assert start is not None and start.success, recorder.output()
    eid = start.episode_id

    def labelled(episode_id):
        return [s for s in monitor.steps if s.episode_id == episode_id]

    assert driver.spin_until(lambda: len(labelled(eid)) > 20, 600, feed), executor.output()
    forger = driver.node.create_publisher(EpisodeEvent, '/aloe/episode_event', latched(10))
    assert driver.spin_until(lambda: forger.get_subscription_count() > 0, 60, feed)
    return SimpleNamespace(root=root, recorder=recorder, executor=executor, feed=feed,
                           monitor=monitor, start_cli=start_cli, end_cli=end_cli, eid=eid,
                           labelled=labelled, forger=forger)


def _next_episode_followed_from_its_start(driver, st):
    """
    Start the next real episode; its steps are labelled from step_index 0 on, in order.

    Returns (its StartEpisode response, the step indices seen so far).
    """
    again = driver.call(st.start_cli, StartEpisode.Request(task='handover'), 300)
    assert again is not None and again.success, st.recorder.output()
    assert driver.spin_until(lambda: len(st.labelled(again.episode_id)) > 20, 300, st.feed), \
        st.executor.output()
    indices = [s.step_index for s in st.labelled(again.episode_id)]
    assert indices[0] == 0 and indices == sorted(set(indices)), indices
    return again, indices


def test_forged_episode_ended_with_the_real_id_costs_no_step(driver, start_node, tmp_path):
    """
    A forged EVENT_ENDED naming the open episode: the executor keeps labelling its steps.

    The forger copies the real episode's id from the latched EVENT_STARTED. Every step the
    executor publishes while the episode is open must still be recorded; after the real end the
    next real episode is followed as usual, and the recorder refuses nothing on the way.
    """
    st = _open_episode_with_forger(driver, start_node, tmp_path)
    root, recorder, executor, feed = st.root, st.recorder, st.executor, st.feed
    monitor, end_cli, eid = st.monitor, st.end_cli, st.eid
    labelled, forger = st.labelled, st.forger
    first = monitor.steps.index(labelled(eid)[0])
    forged = EpisodeEvent(episode_id=eid, event=EpisodeEvent.EVENT_ENDED,
                          outcome=OUTCOME_SUCCESS, terminated=True, task='handover')
    forged.header.stamp = driver.stamp()
    forger.publish(forged)
    # 100 more steps (2 s of control ticks) after the forged event reached the executor's queue.
    n = len(monitor.steps)
    assert driver.spin_until(lambda: len(monitor.steps) > n + 100, 300, feed), executor.output()
    # Every step the executor published since the episode started carries its id, in order ...
    during = monitor.steps[first:]
    assert [s.episode_id for s in during] == [eid] * len(during), \
        sorted({s.episode_id for s in during})
    indices = [s.step_index for s in during]
    assert indices[0] == 0 and indices == sorted(set(indices)), indices
    # ... and reaches the episode: wait until the recorder has them all on disk (with the forged
    # end followed, the unlabelled ones never arrive and this times out). Counted by step_index,
    # so a step this monitor missed under load still counts.
    published = indices[-1] + 1
    assert wait_recorded(driver, root, eid, published, 120, feed), \
        (recorded_steps(root, eid), published, recorder.output())
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success and end.num_steps >= published, \
        (end, published, recorder.output())
    # The lifecycle still works: the next real episode is labelled from its start on.
    again, indices = _next_episode_followed_from_its_start(driver, st)
    published = indices[-1] + 1
    assert wait_recorded(driver, root, again.episode_id, published, 120, feed), \
        (recorded_steps(root, again.episode_id), published, recorder.output())
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success and end.num_steps >= published, end
    # Nothing was refused: steps still labelled with the ended episode while the next one opened
    # are not part of it and are dropped without a complaint.
    assert 'ExecutedStep rejected' not in recorder.output(100000), recorder.output()
    assert executor.alive() and recorder.alive()
    assert monitor.violations == []


def test_forged_ended_started_pair_costs_no_step_of_the_real_episode(
        driver, start_node, tmp_path):
    """
    A forged EVENT_ENDED for the open episode then EVENT_STARTED with another id.

    The executor cannot tell the pair from a real end and start, so it relabels its steps (and
    restarts its step_index); the recorder, which opened no other episode, records them into
    its open episode anyway. Counted by step_index: every step the executor published from the
    episode's first labelled step to the real end is on disk in the real episode, the recorder
    says so once, and the next real episode is followed from its start.
    """
    st = _open_episode_with_forger(driver, start_node, tmp_path)
    root, recorder, executor, feed = st.root, st.recorder, st.executor, st.feed
    monitor, end_cli, eid = st.monitor, st.end_cli, st.eid
    labelled, forger = st.labelled, st.forger
    ended = EpisodeEvent(episode_id=eid, event=EpisodeEvent.EVENT_ENDED,
                         outcome=OUTCOME_SUCCESS, terminated=True, task='handover')
    ended.header.stamp = driver.stamp()
    forger.publish(ended)
    started = EpisodeEvent(episode_id='forged-episode', event=EpisodeEvent.EVENT_STARTED,
                           task='handover')
    started.header.stamp = driver.stamp()
    forger.publish(started)
    # The executor follows the pair (it is indistinguishable from a real end and start) ...
    assert driver.spin_until(lambda: len(labelled('forged-episode')) > 100, 300, feed), \
        executor.output()
    real = [s.step_index for s in labelled(eid)]
    forged = [s.step_index for s in labelled('forged-episode')]
    assert forged[0] == 0, forged[:5]
    # ... and the real episode keeps every step: all the executor published under its id and
    # under the forged one (by step_index, so a step this monitor missed under load counts).
    executed = (real[-1] + 1) + (forged[-1] + 1)
    assert wait_recorded(driver, root, eid, executed, 120, feed), \
        (recorded_steps(root, eid), executed, recorder.output())
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success, recorder.output()
    assert end.num_steps >= executed, (end.num_steps, executed, recorder.output())
    out = recorder.output(100000)
    assert 'ExecutedStep rejected' not in out, out
    assert out.count('followed a forged EpisodeEvent') == 1, out
    # The real end reached the executor: the next real episode is followed from its start.
    _next_episode_followed_from_its_start(driver, st)
    assert 'forged EVENT_STARTED' in executor.output(100000), executor.output()
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success, end
    assert executor.alive() and recorder.alive()
    assert monitor.violations == []


def test_forged_start_of_a_closed_episode_between_episodes_costs_no_step(
        driver, start_node, tmp_path):
    """
    A forged start of an already closed episode, between two real episodes, costs no step.

    Between a real end and the next real start, a forged EVENT_STARTED names an episode that has
    already ended (its id is public: the latched events carry it).

    Followed, it would label the executor's steps with that closed id and make it ignore the
    next real start as "another episode is open", so the recorder would drop every step of the
    next episode. An ended episode is never reopened: the executor ignores the event and says
    so once, and the next real episode is followed from step 0 and recorded whole.
    """
    st = _open_episode_with_forger(driver, start_node, tmp_path)
    root, recorder, executor, feed = st.root, st.recorder, st.executor, st.feed
    monitor, end_cli, first = st.monitor, st.end_cli, st.eid
    # Episode one ends, episode two runs and ends: both ids are closed.
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success, recorder.output()
    second, _ = _next_episode_followed_from_its_start(driver, st)
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success, recorder.output()
    # Make sure the executor has taken episode two's end before the forged start: a copy of the
    # end is reported as "received twice" only once both reached it.
    again = EpisodeEvent(episode_id=second.episode_id, event=EpisodeEvent.EVENT_ENDED,
                         outcome=OUTCOME_SUCCESS, terminated=True, task='handover')
    again.header.stamp = driver.stamp()
    st.forger.publish(again)
    assert driver.spin_until(lambda: 'received twice' in executor.output(), 300, feed), \
        executor.output()
    forged = EpisodeEvent(episode_id=first, event=EpisodeEvent.EVENT_STARTED, task='handover')
    forged.header.stamp = driver.stamp()
    n = len(monitor.steps)
    st.forger.publish(forged)

    # Taken by the executor: either followed (steps relabelled with the closed id, step_index
    # back to 0: the old behaviour) or ignored and said so.
    def taken():
        return (any(s.episode_id == first for s in monitor.steps[n:])
                or f'EVENT_STARTED for {first!r}, an episode that has ended' in executor.output())

    assert driver.spin_until(taken, 300, feed), executor.output()
    assert not any(s.episode_id == first for s in monitor.steps[n:]), \
        'the executor reopened a closed episode'
    # The next real episode is followed from its start and recorded whole.
    third, indices = _next_episode_followed_from_its_start(driver, st)
    published = indices[-1] + 1
    assert wait_recorded(driver, root, third.episode_id, published, 120, feed), \
        (recorded_steps(root, third.episode_id), published, recorder.output())
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success and end.num_steps >= published, \
        (end, published, recorder.output())
    out = executor.output(100000)
    assert out.count('an episode that has ended') == 1, out
    assert 'ExecutedStep rejected' not in recorder.output(100000), recorder.output()
    assert second.episode_id != first and executor.alive() and recorder.alive()
    assert monitor.violations == []


def test_recorder_adopts_steps_labelled_with_an_older_closed_episode(
        driver, start_node, tmp_path):
    """
    The recorder records steps labelled with an older closed episode into the open one.

    The recorder alone, steps published as an executor would: while episode three is open,
    steps labelled with episode two (the label an executor keeps until it hears the next start)
    are dropped, steps labelled with episode one (closed earlier: only a forged EVENT_STARTED
    gives an executor that label now) are recorded into episode three, indices continued.
    """
    from aloe_msgs.msg import ExecutedStep
    recorder = start_node('aloe_ros.nodes.recorder', {'storage_root': str(tmp_path / 'store')})
    node = driver.node
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)

    def written(n):  # the recorder's count of steps written (1 Hz diagnostics)
        return driver.spin_until(
            lambda: diag_counter(diags, 'aloe_recorder', 'msgs_aloe_executed_step') >= n, 300)
    step_pub = node.create_publisher(ExecutedStep, '/aloe/executed_step', reliable(200))
    start_cli = node.create_client(StartEpisode, '/aloe/start_episode')
    end_cli = node.create_client(EndEpisode, '/aloe/end_episode')

    def publish(label, indices):
        for k in indices:
            step = ExecutedStep(episode_id=label, step_index=k, source=SOURCE_POLICY,
                                policy_version=1, action=[0.0] * 14,
                                observed_position=[0.0] * 14)
            step.header.stamp = driver.stamp()
            step_pub.publish(step)
            driver.spin_for(0.01)

    ids = []
    for _ in range(3):
        # Generous deadlines: on a loaded machine node start-up alone can take minutes.
        start = driver.call(start_cli, StartEpisode.Request(task='handover'), 600)
        assert start is not None and start.success, recorder.output()
        ids.append(start.episode_id)
        if len(ids) < 3:
            publish(start.episode_id, range(5))
            assert written(5 * len(ids)), recorder.output()
            end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
            assert end is not None and end.success and end.num_steps == 5, end
    first, second, third = ids
    publish(second, range(5, 10))  # the previous episode's label: not part of episode three
    publish(first, range(0, 7))  # a forged label: executed during episode three
    publish(third, range(7, 10))  # the executor follows episode three
    # 10 written in episodes one and two, 10 now (5 dropped, not counted)
    assert written(20), recorder.output()
    assert driver.spin_until(
        lambda: diag_counter(diags, 'aloe_recorder', 'ignored_unlabelled_steps') >= 5, 60), \
        recorder.output()
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 300)
    assert end is not None and end.success and end.num_steps == 10, (end, recorder.output())
    out = recorder.output(100000)
    assert out.count(f'executed steps labelled {first!r}') == 1, out
    assert f'executed steps labelled {second!r}' not in out, out
    assert 'ExecutedStep rejected' not in out and recorder.alive(), out


def test_alternating_bad_and_good_observations_bounded_reports(driver, start_node):
    executor = start_node('aloe_ros.nodes.chunk_executor',
                          {'observation_timeout': 0.5, 'report_window': 5.0, 'report_burst': 3})
    feed = ChunkFeed(driver)
    monitor = CommandMonitor(driver)
    events = driver.collect(SafetyEvent, '/aloe/safety_event', EVENTS)
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    assert driver.spin_until(lambda: sum(s.source == SOURCE_POLICY for s in monitor.steps) > 10,
                             600, feed)
    n_events = len(events)
    state = {'k': 0}

    def alternate():
        state['k'] += 1
        feed()
        bad = observation_msg(driver)
        if state['k'] % 2:
            bad.position = bad.position[:5]          # wrong size: rejected
        else:
            bad.stale = True                        # valid, but stale: the executor holds
        feed.obs_pub.publish(bad)

    # 10 s of flapping, as fast as the driver can publish (~50 rounds/s, 3 messages each).
    driver.spin_for(10.0, alternate, period=0.02)
    assert state['k'] > 100
    flood = events[n_events:]
    # observation rejected, stale observation hold, its clearing shares that budget, chunk
    causes = 4
    assert len(flood) <= causes * 3 * 3, [e.message for e in flood]
    assert driver.spin_until(
        lambda: diag_counter(diags, 'chunk_executor', 'reports_suppressed') > 50, 30,
        feed), [e.message for e in flood]
    assert any('suppressed' in e.message for e in events), [e.message for e in flood]
    assert executor.alive() and monitor.violations == []
    assert np.all(np.isfinite([s.action for s in monitor.steps]))


def test_evaluate_chunk_refuses_what_the_robot_could_not_execute(driver, start_node, tmp_path):
    from aloe_msgs.srv import EvaluateChunk
    from reliability_harness import synthetic_episode

    from aloe_ros.storage import EpisodeStore
    store_root = str(tmp_path / 'store')
    store = EpisodeStore(store_root, mode='w')
    store.add_episode(synthetic_episode('ep0'))
    store.close()
    learner = start_node('aloe_ros.nodes.learner', {
        'learner_config': TINY_CONFIG, 'store_root': store_root,
        'weights_dir': str(tmp_path / 'weights'),
        'trigger': 'action'})
    client = driver.node.create_client(EvaluateChunk, '/aloe/evaluate_chunk')
    horizon = 10  # tiny_learner.yaml

    def evaluate(actions, h=horizon, d=14):
        req = EvaluateChunk.Request(observation=observation_msg(driver), actions=actions,
                                    horizon=h,
                                    action_dim=d)
        # the learner's start-up (torch) is slow under load
        res = driver.call(client, req, timeout=600)
        assert res is not None, learner.output()
        return res

    ok = evaluate([0.1] * (horizon * 14))
    assert ok.success and np.isfinite(ok.q), ok.message
    far = evaluate([1e30] * (horizon * 14))          # finite, far outside every joint limit
    assert not far.success and 'joint limits' in far.message, far.message
    near = [0.1] * (horizon * 14)
    near[6] = 1.02                                   # a gripper 0.02 over: clipped, and said so
    res = evaluate(near)
    assert res.success and 'clipped' in res.message, res.message
    # An oversized request (horizon 1,000,000: 56 MB) is refused on its sizes alone.
    import array
    huge = array.array('f', bytes(4 * 14 * 1_000_000))
    res = evaluate(huge, h=1_000_000)
    assert not res.success and 'horizon 1000000' in res.message, res.message
    assert evaluate([0.1] * (horizon * 14)).success
    assert learner.alive() and 'Traceback' not in learner.output(100000)


def test_oversized_small_messages_refused_unread_before_conversion(driver, start_node):
    """
    A 2 MB JointState (a real one is ~1 kB) and a 2 MB EpisodeEvent are refused unread.

    Refused on their byte count (never deserialized), said once per cause, counted; good input
    goes on being used.
    """
    from sensor_msgs.msg import JointState
    obs_node = start_node('aloe_ros.nodes.observation', {'camera_names': ['cam_high']})
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    joints = driver.node.create_publisher(JointState, '/follower_left/joint_states',
                                          SENSOR_DATA)
    events = driver.node.create_publisher(EpisodeEvent, '/aloe/episode_event', latched(1))
    huge = JointState(name=['j'] * 7, position=[0.0] * (2 * 1024 * 1024 // 8))
    forged = EpisodeEvent(episode_id='x', event=EpisodeEvent.EVENT_STARTED,
                          task_instruction='y' * (2 * 1024 * 1024))

    def send():
        huge.header.stamp = driver.stamp()
        joints.publish(huge)

    events.publish(forged)

    # Generous: on a loaded machine node start-up alone can take minutes.
    def refused():
        out = obs_node.output(100000)
        return 'JointState message of' in out and 'EpisodeEvent message of' in out

    assert driver.spin_until(refused, 300, send, period=0.5), obs_node.output()
    assert driver.spin_until(
        lambda: diag_counter(diags, 'observation', 'rejected_oversized') >= 2, 60, send,
        period=0.5), obs_node.output()
    out = obs_node.output(100000)
    assert out.count('JointState message of') == 1, out  # once per cause, not per message
    assert 'Traceback' not in out and obs_node.alive()


#: RSS [chunks] one oversized chunk in flight may take: the fragment reassembly buffer, the DDS
#: reader's sample and rclpy's serialized copy (DYNAMIC reader policy: nothing kept after).
CHUNKS_IN_FLIGHT = 3


def test_oversized_chunks_refused_unread_and_their_memory_freed(driver, start_node):
    """
    Ten 56 MB chunks: each is refused unread, and the executor keeps no memory of them.

    Its RSS stays within what one chunk in flight needs, not what the number of chunks or the
    subscription's queue depth would keep.

    Measured (issue 14 point 5/6): with rmw_fastrtps's own reader history memory policy
    (PREALLOCATED_WITH_REALLOC: each of the queue's sample slots keeps a buffer grown to the
    largest sample it held) RSS stepped up by about one chunk at a time and levelled off at
    base + 3.6..6.5 chunks (111 MB -> 305-470 MB). The shipped DDS profile gives readers the
    DYNAMIC policy (a sample's buffer is freed once taken; ``config/dds/fastdds_large_data.xml``
    with RMW_FASTRTPS_USE_QOS_FROM_XML=1, set by scripts/env.sh and the launch files): the same
    ten chunks left RSS at base + 0.6 chunk (111 -> 144 MB, flat from the first chunk on). The
    bound asserted is 3 chunks: one chunk in flight (the fragment reassembly buffer, the
    reader's sample, the serialized copy rclpy takes); the old policy exceeded it in every run.

    The 50 Hz loop's longest gap between steps while the chunks arrive is printed, not asserted:
    before the size check came first, checking such a chunk stalled the loop 0.4 s (20 ticks),
    but on a loaded machine the gap measures CPU starvation, not the check. Under ``nice -n 19``
    on two cores at load 4-10 (the size check in O(1)): 0.88 s in one run; 10.4 s and 11.3 s in
    others, against 0.32 s and 0.35 s in as many steps before the chunks (taking a 56 MB sample
    still copies it: milliseconds of work that a starved process spreads over seconds). At load
    2 (``bench/bench_faults.py --only chunk_stall --trials 3``): 0.137, 0.129 and 1.77 s against
    0.02-0.05 s: taking such a chunk still costs the loop about 0.1 s (5 ticks) when little else
    runs. No bound that passes on a loaded machine would fail on the old 0.4 s; the
    bench measures it, with that baseline.
    """
    figures = oversized_chunks(driver, start_node)
    print(f'executor RSS [MB] before and after each of ten chunks of {figures["chunk_mb"]:.0f} '
          f'MB: {[round(r) for r in figures["rss_mb"]]}; longest gap between steps '
          f'{figures["longest_gap_s"]:.3f} s during the chunks, '
          f'{figures["baseline_gap_s"]:.3f} s in as many steps before them '
          f'({figures["steps_not_received"]} steps not received here)')
    bound = CHUNKS_IN_FLIGHT * figures['chunk_mb']
    assert max(figures['rss_mb']) - figures['rss_mb'][0] < bound, (figures['rss_mb'], bound)


def oversized_chunks(driver, start_node, count=10):
    """
    Publish ``count`` 56 MB chunks to a fresh executor; check each is refused unread.

    Returns the executor's RSS [MB] before and after each chunk (``rss_mb``), the chunk size
    (``chunk_mb``), the longest gap [s] between executed steps while the chunks arrive
    (``longest_gap_s``) and in as many steps just before (``baseline_gap_s``: the same loop on
    the same machine without them). Used by bench/bench_faults.py (``chunk_stall``) too.
    """
    import array
    executor = start_node('aloe_ros.nodes.chunk_executor', {'observation_timeout': 0.5})
    feed = ChunkFeed(driver)
    monitor = CommandMonitor(driver)
    events = driver.collect(SafetyEvent, '/aloe/safety_event', EVENTS)
    assert driver.spin_until(lambda: sum(s.source == SOURCE_POLICY for s in monitor.steps) > 50,
                             600, feed)
    # the baseline: as many steps as the chunks take below (50 after each)
    before = len(monitor.steps)
    assert driver.spin_until(lambda: len(monitor.steps) > before + 50 * count, 600, feed)
    horizon = 1_000_000
    chunk_mb = 4 * 14 * horizon / 2 ** 20
    huge = ActionChunk(chunk_id=10_000, policy_version=1, horizon=horizon, action_dim=14,
                       joint_names=JOINTS, dt=DT,
                       actions=array.array('f', bytes(4 * 14 * horizon)))
    rss = [executor.rss_mb()]
    n = len(monitor.steps)
    for k in range(count):
        huge.chunk_id = 10_000 + k
        huge.header.stamp = driver.stamp()
        feed.chunk_pub.publish(huge)
        # the executor keeps stepping: 50 more steps after each chunk (taken and refused by then)
        steps = len(monitor.steps)
        assert driver.spin_until(lambda: len(monitor.steps) > steps + 50, 300, feed)
        rss.append(executor.rss_mb())
    # Refused on its byte count: the 56 MB chunk was never deserialized into Python.
    assert driver.spin_until(lambda: _messages(events, 'bytes above the maximum'), 300, feed), \
        [e.message for e in events]
    assert all(s.chunk_id < 10_000 for s in monitor.steps[n:])
    assert executor.alive() and monitor.violations == []

    def longest_gap(steps):
        # Between steps of consecutive step_index only (the executor counts every tick): a late
        # tick of the executor, not steps this process missed under load.
        stamps = np.array([s.header.stamp.sec + s.header.stamp.nanosec * 1e-9 for s in steps])
        indices = np.array([s.step_index for s in steps])
        consecutive = np.diff(indices) == 1
        return float(np.diff(stamps)[consecutive].max())

    seen = monitor.steps[before:]
    return {'chunk_mb': chunk_mb, 'rss_mb': rss, 'longest_gap_s': longest_gap(monitor.steps[n:]),
            'baseline_gap_s': longest_gap(monitor.steps[before:n]),
            'steps_not_received': int(seen[-1].step_index - seen[0].step_index + 1 - len(seen))}


def test_sim_reset_refused_during_an_episode_and_episodes_record_the_sims_task(driver, start_node,
                                                                               tmp_path):
    from aloe_msgs.srv import ResetScene
    from aloe_ros.sim.tasks import task_names
    other = next(t for t in task_names() if t != 'handover')
    sim = start_node('aloe_ros.nodes.sim_node', {'camera_rate_hz': 0.0, 'image_height': 8,
                                                 'image_width': 8,
                                                 'task': 'handover'})
    recorder = start_node('aloe_ros.nodes.recorder', {'storage_root': str(tmp_path / 'store'),
                                                      'default_task': 'stale_default'})
    node = driver.node
    reset_cli = node.create_client(ResetScene, '/sim/reset')
    start_cli = node.create_client(StartEpisode, '/aloe/start_episode')
    end_cli = node.create_client(EndEpisode, '/aloe/end_episode')
    events = driver.collect(EpisodeEvent, '/aloe/episode_event', latched(10))

    # Generous deadlines: on a loaded machine node start-up alone can take minutes.
    reset = driver.call(reset_cli, ResetScene.Request(seed=3, task=other), 300)
    assert reset is not None and reset.success, sim.output()
    # The recorder hears the sim's task (latched): an empty StartEpisode records it, not the
    # default.
    assert driver.spin_until(lambda: f'task {other!r}' in recorder.output(),
                             300), recorder.output()
    start = driver.call(start_cli, StartEpisode.Request(), 120)
    assert start is not None and start.success, recorder.output()
    assert driver.spin_until(lambda: any(e.event == EpisodeEvent.EVENT_STARTED for e in events),
                             120)
    assert [e.task for e in events if e.episode_id == start.episode_id] == [other]
    # While the episode is open the scene cannot be reset (a task change would split it).
    refused = driver.call(reset_cli, ResetScene.Request(seed=4, task='handover'), 120)
    assert refused is not None and not refused.success and 'is open' in refused.message, refused
    end = driver.call(end_cli, EndEpisode.Request(outcome=OUTCOME_SUCCESS), 120)
    assert end is not None and end.success
    # A start naming another task than the sim runs is refused.
    wrong = driver.call(start_cli, StartEpisode.Request(task='handover'), 120)
    assert wrong is not None and not wrong.success and other in wrong.message, wrong
    # Once the episode has ended the reset goes through again.
    # (the sim hears EVENT_ENDED asynchronously: retry for a while)
    request = ResetScene.Request(seed=5, task='handover')
    assert driver.spin_until(lambda: (driver.call(reset_cli, request, 30)
                                      or ResetScene.Response()).success, 120,
                             period=0.5), sim.output()
    assert sim.alive() and recorder.alive()

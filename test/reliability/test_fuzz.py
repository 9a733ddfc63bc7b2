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
Hypothesis fuzzing of every subscription and service of the node processes.

Malformed messages (wrong sizes, NaN/Inf, huge values, unknown joint names, empty arrays,
stale/future/out-of-order stamps, oversized images, bad encodings, bogus uris) go to a live
node over DDS. The node must stay alive and answering, count the rejections in /diagnostics,
and the executor's every published command must stay inside the configured limits.
Bounded for CI: ``FUZZ_EXAMPLES`` messages per node (env ``ALOE_FUZZ_EXAMPLES`` overrides).
"""

import os

from aloe_msgs.msg import ActionChunk, EpisodeEvent, ExecutedStep, InterventionState, Observation
from aloe_msgs.msg import PolicyUpdate, SafetyEvent
from aloe_msgs.srv import EndEpisode, LoadPolicy, SetMode, StartEpisode
from diagnostic_msgs.msg import DiagnosticArray
import fuzz_strategies as fz
from hypothesis import assume, given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from reliability_harness import (CommandMonitor, JOINTS, TINY_CONFIG, diag_counter, make_weights,
                                 observation_msg, wait_recorded)
from sensor_msgs.msg import Image, JointState, Joy
from std_msgs.msg import String

from aloe_ros.learning.episode import SOURCE_POLICY
from aloe_ros.nodes.common import (COMMANDS, DIAGNOSTICS, EVENTS, LATCHED, SENSOR_DATA, latched,
                                   reliable)

pytestmark = [pytest.mark.ros, pytest.mark.slow]
FUZZ_EXAMPLES = int(os.environ.get('ALOE_FUZZ_EXAMPLES', '300'))


def fuzz(driver, targets, examples=FUZZ_EXAMPLES, between=None, spin=0.004):
    """
    Publish ``examples`` generated messages; ``targets`` is a list of (send, recipe strategy).

    ``send(message)`` publishes (or calls); ``between()`` runs after every message (e.g. a valid
    observation that keeps the node working). Returns the number of messages sent.
    """
    sent = [0]

    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(*[st.tuples(st.just(send), strategy) for send, strategy in targets]))
    def run(item):
        send, recipe = item
        try:
            msg = recipe(driver)
        except (AssertionError, ValueError, TypeError, OverflowError):
            assume(False)  # a value the message type itself cannot hold: not sendable at all
        send(msg)
        sent[0] += 1
        if between is not None:
            between()
        driver.spin_for(spin)

    run()
    return sent[0]


def _finite_observation(obs):
    return (len(obs.position) == 12 and len(obs.gripper) == 2
            and np.all(np.isfinite(obs.position)) and np.all(np.isfinite(obs.gripper)))


def test_fuzz_chunk_executor(driver, start_node):
    proc = start_node('aloe_ros.nodes.chunk_executor', {'observation_timeout': 0.5})
    monitor = CommandMonitor(driver)
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    events = driver.collect(SafetyEvent, '/aloe/safety_event', EVENTS)
    node = driver.node
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    chunk_pub = node.create_publisher(ActionChunk, '/aloe/action_chunk', reliable(5))
    iv_pub = node.create_publisher(InterventionState, '/aloe/intervention', LATCHED)
    tele_pub = node.create_publisher(JointState, '/aloe/teleop_command', COMMANDS)
    ev_pub = node.create_publisher(EpisodeEvent, '/aloe/episode_event', LATCHED)
    mode_cli = node.create_client(SetMode, '/aloe/executor/set_mode')

    def feed():
        obs_pub.publish(observation_msg(driver))

    def set_mode(request):
        res = driver.call(mode_cli, request, timeout=60, every=feed)
        assert res is not None, 'set_mode did not answer: ' + proc.output()
        assert res.success == (request.mode in (0, 1, 2)), (request.mode, res.message)

    # Start-up deadlines are generous: under a CPU hog a node's start-up alone has taken 75 s.
    assert driver.spin_until(lambda: len(monitor.steps) > 10, 300, feed), proc.output()
    good = ActionChunk(chunk_id=1, policy_version=1, horizon=400, action_dim=14,
                       joint_names=JOINTS, dt=0.02,
                       actions=np.tile(np.linspace(-3, 3, 14, dtype=np.float32), 400).tolist())
    good.header.stamp = driver.stamp()
    chunk_pub.publish(good)
    # Regression: a denormal dt once overflowed (now - stamp) / dt in the control tick and killed
    # the node.
    for dt in (5e-324, 1e-300, 1e300):
        tiny = ActionChunk(chunk_id=9, policy_version=9, horizon=5, action_dim=14,
                           joint_names=JOINTS, dt=dt,
                           actions=[0.1] * 70)
        tiny.header.stamp = driver.stamp(-1.0)
        chunk_pub.publish(tiny)
        driver.spin_for(0.2, feed)
        assert proc.alive(), proc.output()
    modes = st.builds(lambda m, r: (lambda d: SetMode.Request(mode=m, reason=r)),
                      st.one_of(st.integers(0, 255), st.just(0)), fz.text)
    sent = fuzz(driver, [(obs_pub.publish, fz.observations()), (chunk_pub.publish, fz.chunks()),
                         (chunk_pub.publish, fz.chunks()), (iv_pub.publish, fz.interventions),
                         (tele_pub.publish, fz.joint_states()),
                         (ev_pub.publish, fz.episode_events),
                         (set_mode, modes)], between=feed)
    # Back to a sane state: the node still answers and still plays a valid chunk.
    set_mode(SetMode.Request(mode=0, reason='after fuzz'))
    iv_pub.publish(InterventionState(active=False))
    driver.spin_for(0.3, feed)
    good.chunk_id, good.policy_version = 2, 2
    good.header.stamp = driver.stamp()
    chunk_pub.publish(good)
    assert driver.spin_until(lambda: monitor.steps[-1].source == SOURCE_POLICY
                             and monitor.steps[-1].policy_version == 2, 60, feed), proc.output()
    driver.spin_for(1.5, feed)
    assert proc.alive(), proc.output()
    assert sent >= FUZZ_EXAMPLES // 2
    for key in ('chunks_rejected', 'observations_rejected', 'teleop_rejected'):
        assert diag_counter(diags, 'chunk_executor', key) > 0, key
    assert any(e.kind == SafetyEvent.KIND_REJECTED_INPUT for e in events)
    assert len(monitor.steps) > 100 and monitor.violations == [], monitor.violations[:5]
    assert 'Traceback' not in proc.output(100000)


def test_fuzz_observation(driver, start_node):
    proc = start_node('aloe_ros.nodes.observation', {
        'camera_names': ['cam_high'], 'image_height': 8, 'image_width': 8,
        'max_image_bytes': 20000})
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    out = driver.collect(Observation, '/aloe/observation', SENSOR_DATA)
    node = driver.node
    cam_pub = node.create_publisher(Image, '/cam_high/image_raw', SENSOR_DATA)
    pubs = {a: node.create_publisher(JointState, f'/follower_{a}/joint_states', SENSOR_DATA)
            for a in ('left', 'right')}
    ev_pub = node.create_publisher(EpisodeEvent, '/aloe/episode_event', LATCHED)

    def valid():
        stamp = driver.stamp()
        img = Image(height=8, width=8, encoding='rgb8', step=24, data=bytes(192))
        img.header.stamp = stamp
        cam_pub.publish(img)
        for arm, pub in pubs.items():
            msg = JointState(name=[n for n in JOINTS if n.startswith(arm)], position=[0.1] * 7)
            msg.header.stamp = stamp
            pub.publish(msg)

    assert driver.spin_until(lambda: out, 300, valid), proc.output()
    # Deterministic bad input first (each must be counted under its cause), then the fuzzer.
    left = [n for n in JOINTS if n.startswith('left')]
    known_bad = [
        (pubs['left'], JointState(name=left, position=[float('nan')] + [0.0] * 6), 0.0,
         'rejected_nan'),
        (pubs['left'], JointState(name=left + ['extra'], position=[0.0] * 8), 0.0,
         'rejected_unknown_joint'),
        (pubs['left'], JointState(name=left, position=[0.0] * 6), 0.0, 'rejected_bad_size'),
        (pubs['left'], JointState(name=left, position=[0.0] * 7), -5.0, 'rejected_stale'),
        (pubs['left'], JointState(name=left, position=[0.0] * 7), 30.0, 'rejected_future_stamp'),
        (cam_pub, Image(height=8, width=8, encoding='bogus', step=24, data=bytes(192)), 0.0,
         'rejected_bad_image'),
        (cam_pub, Image(height=100, width=100, encoding='rgb8', step=300, data=bytes(30000)), 0.0,
         'rejected_oversized_image'),
    ]
    for pub, msg, offset, _cause in known_bad:
        msg.header.stamp = driver.stamp(offset)
        pub.publish(msg)
        driver.spin_for(0.05)
    for _pub, _msg, _offset, cause in known_bad:
        assert driver.spin_until(lambda: diag_counter(diags, 'observation', cause) > 0, 30), cause
    sent = fuzz(driver, [(cam_pub.publish, fz.images_fields()),
                         (cam_pub.publish, fz.images_fields()),
                         (pubs['left'].publish, fz.joint_states('left')),
                         (pubs['right'].publish, fz.joint_states('right')),
                         (ev_pub.publish, fz.episode_events)])
    n_before = len(out)
    assert driver.spin_until(lambda: len(out) > n_before + 20 and not out[-1].stale, 60,
                             valid), proc.output()
    # The 1 Hz diagnostics catch up with the fuzzing: wait for the count, not a fixed pause.
    assert driver.spin_until(lambda: diag_counter(diags, 'observation', 'rejected')
                             > len(known_bad) + sent // 4, 30, valid), \
        (diag_counter(diags, 'observation', 'rejected'), sent)
    assert proc.alive() and sent >= FUZZ_EXAMPLES // 2
    assert all(_finite_observation(o) for o in out)
    assert all(len(o.images) == 1 and o.images[0].height == 8 and len(o.images[0].data) == 192
               for o in out)
    assert 'Traceback' not in proc.output(100000)


def test_fuzz_recorder(driver, start_node, tmp_path):
    from aloe_ros.storage import EpisodeStore
    root = str(tmp_path / 'store')
    proc = start_node('aloe_ros.nodes.recorder', {'storage_root': root})
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    node = driver.node
    step_pub = node.create_publisher(ExecutedStep, '/aloe/executed_step', reliable(200))
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    iv_pub = node.create_publisher(InterventionState, '/aloe/intervention', LATCHED)
    chunk_pub = node.create_publisher(ActionChunk, '/aloe/action_chunk', reliable(5))
    start_cli = node.create_client(StartEpisode, '/aloe/start_episode')
    end_cli = node.create_client(EndEpisode, '/aloe/end_episode')
    current = {'id': ''}

    def start(request):
        # generous: the first call waits for the recorder's start-up (75 s under a CPU hog)
        res = driver.call(start_cli, request, timeout=300)
        assert res is not None, 'StartEpisode did not answer: ' + proc.output()
        if res.success:
            current['id'] = res.episode_id

    def end(request):
        res = driver.call(end_cli, request, timeout=60)
        assert res is not None, 'EndEpisode did not answer: ' + proc.output()
        assert res.success == (current['id'] != ''
                               and request.outcome in (1, 2, 3, 4)), res.message

        if res.success:
            current['id'] = ''

    # Regression: an episode ended before its first step once made the whole store unloadable.
    start(StartEpisode.Request(task='empty'))
    end(EndEpisode.Request(outcome=3, reason='ended at once'))
    start(StartEpisode.Request(task='fuzz'))
    assert current['id']
    starts = st.builds(lambda t, i,
                       s: (lambda d: StartEpisode.Request(task=t, task_instruction=i, seed=s)),
                       fz.text, fz.text, st.integers(-2 ** 63, 2 ** 63 - 1))
    ends = st.builds(lambda o, r: (lambda d: EndEpisode.Request(outcome=o, reason=r)),
                     st.integers(0, 255), fz.text)
    steps = fz.executed_steps().map(lambda make: (lambda d: make(d, current['id'])))
    sent = fuzz(driver, [(step_pub.publish, steps), (step_pub.publish, steps),
                         (obs_pub.publish, fz.observations()), (iv_pub.publish, fz.interventions),
                         (chunk_pub.publish, fz.chunks()),
                         (start, starts), (end, ends)])
    if current['id']:
        end(EndEpisode.Request(outcome=3, reason='fuzz over'))
    # Still recording correctly: a clean episode keeps every step.
    start(StartEpisode.Request(task='clean'))
    for k in range(20):
        msg = ExecutedStep(episode_id=current['id'], step_index=k, source=SOURCE_POLICY,
                           policy_version=1,
                           action=[0.01 * k] * 14, observed_position=[0.0] * 14)
        msg.header.stamp = driver.stamp()
        step_pub.publish(msg)
        driver.spin_for(0.005)
    # Every step on disk before the end (a fixed pause was overrun under load).
    assert wait_recorded(driver, root, current['id'], 20), proc.output()
    res = driver.call(end_cli, EndEpisode.Request(outcome=1), timeout=60)
    assert res is not None and res.success and res.num_steps == 20, (res, proc.output())
    assert driver.spin_until(lambda: diag_counter(diags, 'aloe_recorder', 'rejected') > 0, 30)
    assert proc.alive() and sent >= FUZZ_EXAMPLES // 2
    assert 'Traceback' not in proc.output(100000)
    store = EpisodeStore(root)
    try:
        assert store.catalog.integrity_ok()
        ids = store.episode_ids()
        assert res.episode_id in ids
        for eid in ids:  # every episode the fuzzing left complete must still load
            store.load_episode(eid)
    finally:
        store.close()


def test_fuzz_policy(driver, start_node, tmp_path):
    weights = str(tmp_path / 'weights')
    info = make_weights(weights, TINY_CONFIG)
    proc = start_node('aloe_ros.nodes.policy', {
        'learner_config': TINY_CONFIG, 'weights_dir': weights, 'initial_weights': info.path,
        'initial_sha256': info.sha256, 'initial_version': 1, 'replan_period': 0.05})
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    chunks = driver.collect(ActionChunk, '/aloe/action_chunk', reliable(5))
    node = driver.node
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    upd_pub = node.create_publisher(PolicyUpdate, '/aloe/policy_update', latched(1))
    load_cli = node.create_client(LoadPolicy, '/aloe/policy/load')

    def load(request):
        res = driver.call(load_cli, request, timeout=60)
        assert res is not None, 'LoadPolicy did not answer: ' + proc.output()
        assert not res.success and res.running_version == 1, res.message

    def feed():
        obs_pub.publish(observation_msg(driver))

    # the policy's start-up (torch) has taken minutes under a CPU hog
    assert driver.spin_until(lambda: chunks, 600, feed), proc.output()
    tampered = info.sha256[:-1] + ('0' if info.sha256[-1] != '0' else '1')
    loads = st.builds(lambda u, s, v: (lambda d: LoadPolicy.Request(uri=u, sha256=s, version=v)),
                      st.one_of(fz.text,
                                st.sampled_from(['file:///etc/passwd', '/dev/zero', info.path,
                                                 'file://' + info.path + '/../x', weights])),
                      st.one_of(fz.text, st.just(tampered)),
                      st.integers(0, 2 ** 32 - 1))
    sent = fuzz(driver, [(obs_pub.publish, fz.observations()),
                         (obs_pub.publish, fz.observations()),
                         (upd_pub.publish, fz.policy_updates), (load, loads)])
    n_before = len(chunks)
    assert driver.spin_until(lambda: len(chunks) > n_before + 5, 60, feed), proc.output()
    assert proc.alive() and sent >= FUZZ_EXAMPLES // 2
    assert all(c.policy_version == 1 and c.horizon * c.action_dim == len(c.actions)
               and np.all(np.isfinite(c.actions)) for c in chunks)
    assert driver.spin_until(lambda: diag_counter(diags, 'policy', 'updates_rejected') > 0
                             and diag_counter(diags, 'policy', 'inference_errors') > 0, 30,
                             feed)
    assert 'Traceback' not in proc.output(100000)


def test_fuzz_teleop(driver, start_node):
    proc = start_node('aloe_ros.nodes.teleop')
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    node = driver.node
    pubs = [(node.create_publisher(JointState, f'/teleop/leader_{a}/joint_states', SENSOR_DATA), a)
            for a in ('left', 'right')]
    pubs += [(node.create_publisher(JointState, f'/follower_{a}/joint_states', SENSOR_DATA), a)
             for a in ('left', 'right')]
    commands = driver.collect(JointState, '/aloe/teleop_command', COMMANDS)
    joy_pub = node.create_publisher(Joy, '/teleop/joy', COMMANDS)
    key_pub = node.create_publisher(String, '/teleop/keyboard', COMMANDS)
    joys = st.builds(lambda a, b: (lambda d: Joy(axes=a, buttons=b)),
                     st.lists(fz.floats32, max_size=20),
                     st.lists(st.integers(-2 ** 31, 2 ** 31 - 1), max_size=20))
    keys = st.builds(lambda s: (lambda d: String(data=s)), fz.text)
    assert driver.spin_until(lambda: diags, 300), proc.output()
    sent = fuzz(driver, [(p.publish, fz.joint_states(a)) for p, a in pubs]
                + [(joy_pub.publish, joys), (key_pub.publish, keys)])
    diags.clear()
    assert driver.spin_until(lambda: diags, 30), 'teleop stopped reporting: ' + proc.output()
    assert proc.alive() and sent >= FUZZ_EXAMPLES // 2
    assert diag_counter(diags, 'teleop', 'rejected') > 0
    # whatever the fuzzing made the operator do, every human target it sent was whole and finite
    assert all(len(c.name) == 14 and len(c.position) == 14 and np.all(np.isfinite(c.position))
               for c in commands)
    assert 'Traceback' not in proc.output(100000)


def test_fuzz_learner(driver, start_node, tmp_path):
    from aloe_msgs.srv import EvaluateChunk
    from reliability_harness import synthetic_episode

    from aloe_ros.storage import EpisodeStore
    store_root, weights = str(tmp_path / 'store'), str(tmp_path / 'weights')
    store = EpisodeStore(store_root, mode='w')
    store.add_episode(synthetic_episode('ep0'))
    store.close()
    proc = start_node('aloe_ros.nodes.learner', {
        'learner_config': TINY_CONFIG, 'store_root': store_root, 'weights_dir': weights,
        'trigger': 'action', 'poll_period': 0.2})
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    node = driver.node
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    chunk_pub = node.create_publisher(ActionChunk, '/aloe/action_chunk', reliable(5))
    eval_cli = node.create_client(EvaluateChunk, '/aloe/evaluate_chunk')
    answers = {'ok': 0, 'refused': 0}

    def evaluate(request):
        # generous: the first call waits for the learner's start-up (torch), minutes under load
        res = driver.call(eval_cli, request, timeout=300)
        assert res is not None, 'EvaluateChunk did not answer: ' + proc.output()
        if res.success:
            assert np.all(np.isfinite([res.q, res.v, res.advantage])) or not np.all(
                np.isfinite(request.actions)), res
            answers['ok'] += 1
        else:
            assert res.message, 'a refusal must say why'
            answers['refused'] += 1

    @st.composite
    def requests(draw):
        make_obs = draw(fz.observations())
        actions = draw(st.one_of(st.just([]), st.lists(fz.floats32, max_size=30),
                                 st.just([0.1] * 140)))
        horizon, dim = draw(st.sampled_from([0, 1, 10, 2 ** 32
                                             - 1])), draw(st.sampled_from([0, 14, 7]))
        return lambda d: EvaluateChunk.Request(observation=make_obs(d), actions=actions,
                                               horizon=horizon,
                                               action_dim=dim)

    good = EvaluateChunk.Request(observation=observation_msg(driver), actions=[0.1] * 140,
                                 horizon=10,
                                 action_dim=14)
    evaluate(good)
    sent = fuzz(driver, [(obs_pub.publish, fz.observations()), (chunk_pub.publish, fz.chunks()),
                         (evaluate, requests())], examples=max(FUZZ_EXAMPLES // 3, 20))
    good.observation = observation_msg(driver)
    before = answers['ok']
    evaluate(good)
    assert answers['ok'] == before + 1 and answers['refused'] > 0
    assert driver.spin_until(lambda: diag_counter(diags, 'learner', 'evaluation_errors') > 0, 30)
    assert proc.alive() and sent > 0
    assert 'Traceback' not in proc.output(100000)


def test_fuzz_sim(driver, start_node):
    from aloe_msgs.srv import ResetScene
    from builtin_interfaces.msg import Duration
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint
    proc = start_node('aloe_ros.nodes.sim_node',
                      {'camera_rate_hz': 0.0, 'image_height': 8, 'image_width': 8})
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    states = driver.collect(JointState, '/follower_left/joint_states', SENSOR_DATA)
    node = driver.node
    pubs = {s: node.create_publisher(JointTrajectory, f'/{s}_arm_controller/joint_trajectory',
                                     COMMANDS)
            for s in ('left', 'right')}
    reset_cli = node.create_client(ResetScene, '/sim/reset')
    # The sim follows episode events (a reset is refused while one is open): fuzz them too.
    ev_pub = node.create_publisher(EpisodeEvent, '/aloe/episode_event', LATCHED)

    @st.composite
    def trajectories(draw):
        joint_names = draw(fz.names)
        points = draw(st.lists(st.tuples(st.lists(fz.floats64, max_size=15),
                                         st.integers(-2 ** 31, 2 ** 31 - 1),
                                         st.integers(0, 2 ** 32 - 1)),
                               max_size=4))

        def make(d):
            return JointTrajectory(joint_names=joint_names, points=[
                JointTrajectoryPoint(positions=p, time_from_start=Duration(sec=s, nanosec=n))
                for p, s, n in points])
        return make

    def reset(request):
        res = driver.call(reset_cli, request, timeout=60)
        assert res is not None, '/sim/reset did not answer: ' + proc.output()

    resets = st.builds(lambda s, t: (lambda d: ResetScene.Request(seed=s, task=t)),
                       st.one_of(st.integers(-2 ** 63, 2 ** 63 - 1), st.integers(-1, 10)),
                       st.one_of(fz.text, st.just('handover'), st.just('')))
    assert driver.spin_until(lambda: states, 300), proc.output()
    sent = fuzz(driver, [(pubs['left'].publish, trajectories()),
                         (pubs['right'].publish, trajectories()),
                         (reset, resets), (ev_pub.publish, fz.episode_events)],
                examples=max(FUZZ_EXAMPLES // 3, 20))
    n_before = len(states)
    assert driver.spin_until(lambda: len(states) > n_before + 10, 60), 'sim stopped publishing'
    assert all(np.all(np.isfinite(s.position)) for s in states[-10:])
    assert driver.spin_until(lambda: diag_counter(diags, 'sim', 'rejected_commands') > 0, 30)
    assert proc.alive() and sent > 0
    assert 'Traceback' not in proc.output(100000)


def test_fuzz_clock_and_control_events_under_sim_time(driver, start_node, tmp_path):
    """/clock, EpisodeEvent, InterventionState and PolicyUpdate fuzzed at use_sim_time nodes."""
    from rosgraph_msgs.msg import Clock
    sim = {'use_sim_time': True}
    (tmp_path / 'weights').mkdir()   # the policy node refuses a weights_dir that does not exist
    executor = start_node('aloe_ros.nodes.chunk_executor', {**sim, 'observation_timeout': 0.5})
    others = [start_node('aloe_ros.nodes.teleop', sim),
              start_node('aloe_ros.nodes.policy', {**sim, 'learner_config': TINY_CONFIG,
                                                   'weights_dir': str(tmp_path / 'weights')})]
    monitor = CommandMonitor(driver)
    diags = driver.collect(DiagnosticArray, '/diagnostics', DIAGNOSTICS)
    node = driver.node
    clock_pub = node.create_publisher(Clock, '/clock', reliable(10))
    obs_pub = node.create_publisher(Observation, '/aloe/observation', SENSOR_DATA)
    iv_pub = node.create_publisher(InterventionState, '/aloe/intervention', LATCHED)
    ev_pub = node.create_publisher(EpisodeEvent, '/aloe/episode_event', LATCHED)
    upd_pub = node.create_publisher(PolicyUpdate, '/aloe/policy_update', latched(1))

    def feed():
        clock_pub.publish(Clock(clock=driver.stamp()))
        obs_pub.publish(observation_msg(driver))

    assert driver.spin_until(lambda: len(monitor.steps) > 10, 300, feed), executor.output()
    sent = fuzz(driver, [(clock_pub.publish, fz.clocks), (clock_pub.publish, fz.clocks),
                         (ev_pub.publish, fz.episode_events), (iv_pub.publish, fz.interventions),
                         (upd_pub.publish, fz.policy_updates)], between=feed)
    iv_pub.publish(InterventionState(active=False))
    n = len(monitor.steps)
    # Sane again: the executor keeps stepping on the driver's timeline, every node is up.
    assert driver.spin_until(lambda: len(monitor.steps) > n + 50, 120, feed), executor.output()
    # (judged against each step's arrival time: under load the wait above can take minutes)
    lags = monitor.stamp_lags(n + 10)
    assert np.all(np.abs(lags) < 60), (lags.min(), lags.max())
    assert driver.spin_until(lambda: diag_counter(diags, 'chunk_executor', 'clock_rejected') > 0,
                             30, feed)
    assert sent >= FUZZ_EXAMPLES // 2 and monitor.violations == []
    for proc in [executor] + others:
        assert proc.alive(), proc.output()
        assert 'Traceback' not in proc.output(100000), proc.output()

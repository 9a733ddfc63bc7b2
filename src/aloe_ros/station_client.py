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
StationClient: drive an aloe station from a Python script, without knowing its graph.

In the style of nav2_simple_commander's ``BasicNavigator``: one object wraps the station's
services, actions and topics behind plain blocking methods::

    import rclpy
    from aloe_ros.station import StationClient

    rclpy.init()
    station = StationClient()
    station.wait_until_ready(need_learner=True)
    station.reset_scene(task='handover', seed=3)        # sim stations: /sim/reset
    episode_id = station.start_episode(task='handover')
    station.set_mode(StationClient.MODE_RUN)
    summary = station.wait_for_summary(episode_id, timeout=120)
    version, metrics = station.train_iteration(critic_steps=200, actor_steps=200)
    station.wait_for_policy_version(version)
    station.request_takeover()       # the operator's leader arms drive (teleop keyboard toggle)
    station.handback()               # the policy drives again
    station.destroy_node()
    rclpy.shutdown()

Every method waits for its answer by spinning this node, so call them from one thread (a
script's main thread); none may be called from inside a callback. A refused request raises
RuntimeError with the station's message; an answer that does not come raises TimeoutError
saying what was awaited. ``namespace`` is the station's (``station_a`` for one launched with
``namespace:=station_a``): every station name (``/aloe/...``, ``/sim/...``, ``/teleop/...``)
becomes
``/station_a/aloe/...``. ``learner_namespace`` is where the learner's action and status are: the
station's namespace by default (a learner launched with the station), ``/`` for a fleet's learner
at the root (``learner_only.launch.yaml stations:=[...]``).
"""

import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from rcl_interfaces.msg import Parameter as ParameterMsg, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.action import ActionClient
from rclpy.node import Node
from std_msgs.msg import Bool, String, UInt32

from aloe_msgs.action import TrainIteration
from aloe_msgs.msg import (EpisodeEvent, EpisodeSummary, InterventionState, LearnerStatus,
                           SafetyEvent)
from aloe_msgs.srv import EndEpisode, ResetScene, SetMode, StartEpisode
from aloe_ros.nodes.common import EVENTS, latched, reliable


class StationClient(Node):
    """A scriptable client of one station (and its learner): episodes, modes, training."""

    MODE_RUN = SetMode.Request.MODE_RUN
    MODE_HOLD = SetMode.Request.MODE_HOLD
    MODE_ESTOP = SetMode.Request.MODE_ESTOP
    SUCCESS = EndEpisode.Request.OUTCOME_SUCCESS
    FAILURE = EndEpisode.Request.OUTCOME_FAILURE
    ABORTED = EndEpisode.Request.OUTCOME_ABORTED
    TIMEOUT = EndEpisode.Request.OUTCOME_TIMEOUT

    def __init__(self, node_name: str = 'station_client', namespace: str = '',
                 learner_namespace: Optional[str] = None, takeover_key: str = 't'):
        """
        Create the clients and subscriptions (rclpy must be initialised).

        ``namespace``: the station's (``''`` or ``/``: the root); ``learner_namespace``: the
        learner's (None: the station's); ``takeover_key``: a key of the teleop node's
        ``keys.takeover`` (what :meth:`request_takeover` and :meth:`handback` press).
        """
        super().__init__(node_name)
        ns = _absolute(namespace)
        self.namespace = ns
        self.learner_namespace = ns if learner_namespace is None else _absolute(learner_namespace)
        learner_ns = self.learner_namespace
        self.takeover_key = takeover_key
        self.reset_cli = self.create_client(ResetScene, f'{ns}/sim/reset')
        self.start_cli = self.create_client(StartEpisode, f'{ns}/aloe/start_episode')
        self.end_cli = self.create_client(EndEpisode, f'{ns}/aloe/end_episode')
        self.mode_cli = self.create_client(SetMode, f'{ns}/aloe/executor/set_mode')
        self.sim_params_cli = self.create_client(SetParameters, f'{ns}/aloe_sim/set_parameters')
        self.train_cli = ActionClient(self, TrainIteration, f'{learner_ns}/aloe/train_iteration')
        self.keyboard_pub = self.create_publisher(String, f'{ns}/teleop/keyboard', reliable(10))
        #: Summaries of the episodes that ended while this client ran, by episode id.
        self.summaries: Dict[str, EpisodeSummary] = {}
        #: ENDED events by episode id (they arrive before the summary).
        self.ended: Dict[str, EpisodeEvent] = {}
        #: STARTED events by episode id.
        self.started: Dict[str, EpisodeEvent] = {}
        #: The version the policy node runs now (0: none yet).
        self.policy_version = 0
        #: The learner's latest LearnerStatus, if one arrived.
        self.learner_status: Optional[LearnerStatus] = None
        #: The id of the episode this client started last.
        self.last_episode_id: Optional[str] = None
        #: The sim's latest success flag (sim stations).
        self.sim_success = False
        #: The teleop node's latest InterventionState (None until one arrives).
        self.intervention: Optional[InterventionState] = None
        # : The station's SafetyEvents received, oldest first (the teleop node's refusals among
        # them).
        self.safety_events: List[SafetyEvent] = []
        self.executor_diag: Dict[str, str] = {}
        self.create_subscription(EpisodeSummary, f'{ns}/aloe/episode_summary',
                                 lambda m: self.summaries.__setitem__(m.episode_id, m),
                                 reliable(10))
        self.create_subscription(EpisodeEvent, f'{ns}/aloe/episode_event', self._on_event,
                                 latched(10))
        self.create_subscription(UInt32, f'{ns}/aloe/policy/version',
                                 lambda m: setattr(self, 'policy_version', m.data), latched(1))
        self.create_subscription(LearnerStatus, f'{learner_ns}/aloe/learner_status',
                                 lambda m: setattr(self, 'learner_status', m), reliable(10))
        self.create_subscription(Bool, f'{ns}/sim/success', self._on_success, reliable(10))
        #: The task the sim reports it runs ('' until it reports one) and each task's
        #: instruction as the sim reports it (``/sim/task_instruction``).
        self.sim_task = ''
        self.task_instructions: Dict[str, str] = {}
        self.create_subscription(String, f'{ns}/sim/task',
                                 lambda m: setattr(self, 'sim_task', m.data), latched(1))
        self.instruction_sub = self.create_subscription(
            KeyValue, f'{ns}/sim/task_instruction',
            lambda m: self.task_instructions.__setitem__(m.key, m.value), latched(1))
        self.create_subscription(InterventionState, f'{ns}/aloe/intervention',
                                 lambda m: setattr(self, 'intervention', m), latched(10))
        self.create_subscription(SafetyEvent, f'{ns}/aloe/safety_event',
                                 self.safety_events.append, EVENTS)
        self.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                 reliable(50))

    # ------------------------------------------------------------------ plumbing

    def _on_success(self, msg: Bool) -> None:
        self.sim_success = bool(msg.data)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        # /diagnostics is shared by every station of a domain: the status is named after the
        # node's full name, so this station's executor is told apart from the others'.
        for status in msg.status:
            if status.name == f'{self.namespace}/chunk_executor':
                self.executor_diag = {kv.key: kv.value for kv in status.values}

    def _on_event(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_ENDED:
            self.ended[msg.episode_id] = msg
        elif msg.event == EpisodeEvent.EVENT_STARTED:
            self.started[msg.episode_id] = msg

    def spin_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Spin this node until ``predicate()``; raise TimeoutError naming ``what`` on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f'timed out after {timeout:.0f} s waiting for {what}')
            rclpy.spin_once(self, timeout_sec=0.05)

    def call(self, client, request, timeout: float = 20.0, effect=None):
        """
        Call a service and return its response (TimeoutError if absent or silent).

        ``effect``: a function that returns a stand-in response once the call's effect shows on
        a topic, else None. rmw_fastrtps drops a response when the server has not yet matched
        the client's response reader within the writer's max_blocking_time (100 ms by default),
        which happens on a first call under load; the server did act, so the call is not
        repeated (opening an episode twice would be refused) but settled from its effect.
        """
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f'service {client.srv_name} not available after {timeout:.0f} '
                               's')
        future = client.call_async(request)
        seen = []

        def settled() -> bool:
            if future.done():
                return True
            stand_in = effect() if effect is not None else None
            if stand_in is not None:
                seen.append(stand_in)
            return bool(seen)
        self.spin_until(settled, timeout, f'{client.srv_name} to answer')
        if future.done():
            return future.result()
        # The effect can show a moment before the response: give the response the same time.
        try:
            self.spin_until(future.done, 2.0, f'{client.srv_name} to answer')
            return future.result()
        except TimeoutError:
            self.get_logger().warning(
                f'{client.srv_name}: no response (dropped by the middleware); settled from its '
                f'effect: {seen[0].message}')
            return seen[0]

    # ------------------------------------------------------------------ readiness

    def wait_until_ready(self, timeout: float = 90.0, sim: bool = True,
                         need_learner: bool = True, policy_version: int = 1) -> None:
        """
        Wait until the station answers; raise TimeoutError naming what did not come up.

        Waits for the recorder's and executor's services (and the sim's with ``sim``), the
        learner's action (``need_learner``) and the policy running at least ``policy_version``
        (0: don't wait).
        """
        clients = [self.start_cli, self.end_cli, self.mode_cli]
        if sim:
            clients += [self.reset_cli, self.sim_params_cli]
        for client in clients:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f'{client.srv_name} did not come up within {timeout:.0f} s')
        if need_learner and not self.train_cli.wait_for_server(timeout_sec=timeout):
            raise TimeoutError(f'learner action {self.learner_namespace}/aloe/train_iteration '
                               'did not come up')
        if policy_version:
            self.wait_for_policy_version(policy_version, timeout)

    def wait_for_policy_version(self, version: int, timeout: float = 60.0) -> int:
        """Wait until the policy runs ``version`` or newer; return the version it runs."""
        self.spin_until(lambda: self.policy_version >= version, timeout,
                        f'the policy to run v{version}')
        return self.policy_version

    # ------------------------------------------------------------------ station control

    def reset_scene(self, task: str = '', seed: int = -1) -> int:
        """Reset the (sim) scene; return the seed used. Raises RuntimeError when refused."""
        res = self.call(self.reset_cli, ResetScene.Request(seed=seed, task=task))
        if not res.success:
            raise RuntimeError(f'{self.reset_cli.srv_name} refused: {res.message}')
        if task:  # the sim's latched report of the new task follows: take it before going on
            try:
                self.spin_until(lambda: self.sim_task == task, 10.0, f'/sim/task {task!r}')
            except TimeoutError:
                pass  # start_episode then waits for the instruction of the task it names
        return int(res.seed)

    def start_episode(self, task: str = '', seed: int = -1, instruction: str = '',
                      instruction_timeout: float = 10.0) -> str:
        """
        Open an episode at the recorder; return its id. Raises RuntimeError when refused.

        Without ``instruction`` the episode gets the task's instruction as the sim reports it
        (``/sim/task_instruction``; a station without a sim reports none, then the recorder's
        ``default_instruction`` applies). When a sim publishes but its report has not arrived
        yet, this waits up to ``instruction_timeout`` s for it.
        """
        if not instruction:
            instruction = self.instruction_for(task, instruction_timeout)
        known = set(self.started)

        def opened() -> Optional[StartEpisode.Response]:
            for episode_id, event in self.started.items():
                if (episode_id not in known and episode_id not in self.ended
                        and event.seed == seed and (not task or event.task == task)):
                    return StartEpisode.Response(
                        success=True, episode_id=episode_id,
                        message=f'the recorder announced episode {episode_id} as started')
            return None
        res = self.call(self.start_cli, StartEpisode.Request(task=task, seed=seed,
                                                             task_instruction=instruction),
                        effect=opened)
        if not res.success:
            raise RuntimeError(f'{self.start_cli.srv_name} refused: {res.message}')
        self.last_episode_id = res.episode_id
        return res.episode_id

    def instruction_for(self, task: str = '', timeout: float = 10.0) -> str:
        """
        Return the instruction the sim reports for ``task`` ('' : the task it runs).

        '' when no sim publishes ``/sim/task_instruction`` or its report for the task does not
        arrive within ``timeout`` s.
        """
        def known() -> bool:
            return (task or self.sim_task) in self.task_instructions
        if not known() and self.instruction_sub.get_publisher_count() > 0:
            try:
                self.spin_until(known, timeout, f'the sim\'s instruction for {task!r}')
            except TimeoutError:
                self.get_logger().warning(f'no instruction reported for task {task!r}: the '
                                          'episode records the recorder\'s default')
        return self.task_instructions.get(task or self.sim_task, '')

    def end_episode(self, outcome: int, reason: str = '') -> EndEpisode.Response:
        """Close the open episode with ``outcome`` (SUCCESS, FAILURE, ABORTED, TIMEOUT)."""
        open_id = self.last_episode_id

        def closed() -> Optional[EndEpisode.Response]:
            event = self.ended.get(open_id) if open_id else None
            if event is None or event.outcome != int(outcome):
                return None
            return EndEpisode.Response(
                success=True, episode_id=open_id,
                message=f'the recorder announced episode {open_id} as ended')
        res = self.call(self.end_cli, EndEpisode.Request(outcome=int(outcome), reason=reason),
                        effect=closed)
        if not res.success:
            raise RuntimeError(f'{self.end_cli.srv_name} refused: {res.message}')
        return res

    def set_mode(self, mode: int, reason: str = '') -> None:
        """Set the chunk executor's mode (MODE_RUN, MODE_HOLD, MODE_ESTOP)."""
        res = self.call(self.mode_cli, SetMode.Request(mode=int(mode), reason=reason))
        if not res.success:
            raise RuntimeError(f'{self.mode_cli.srv_name} refused: {res.message}')

    def set_operator_intervenes(self, intervene: bool) -> None:
        """Let the simulated operator take over (training) or only watch (operator-free eval)."""
        value = ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=bool(intervene))
        res = self.call(self.sim_params_cli, SetParameters.Request(
            parameters=[ParameterMsg(name='operator_intervenes', value=value)]))
        if not res.results or not res.results[0].successful:
            reason = res.results[0].reason if res.results else 'no result'
            raise RuntimeError(f'aloe_sim refused operator_intervenes={intervene}: {reason}')

    def wait_for_summary(self, episode_id: Optional[str] = None,
                         timeout: float = 120.0) -> EpisodeSummary:
        """
        Return the summary of ``episode_id`` once the recorder has written the episode.

        ``None``: the episode this client started last (whoever ends it: the operator's button,
        the simulated operator, a timeout or :meth:`end_episode`).
        """
        if episode_id is None:
            if self.last_episode_id is None:
                raise ValueError('no episode started by this client: name the episode id')
            episode_id = self.last_episode_id
        self.spin_until(lambda: episode_id in self.summaries, timeout,
                        f'episode {episode_id} to end')
        return self.summaries[episode_id]

    # ------------------------------------------------------------------ takeover

    def intervening(self) -> bool:
        """Return whether the operator has control now (an intervention is active or aligning)."""
        return self.intervention is not None and bool(self.intervention.active)

    def request_takeover(self, timeout: float = 10.0) -> InterventionState:
        """
        Hand control to the operator; return the teleop node's InterventionState.

        Presses the takeover key on the teleop node's keyboard topic once (the teleop node
        toggles), unless an intervention is already active, and waits until the teleop node
        announces it (``active``; with leader arms ``aligning`` until the leader meets the
        follower, the executor holding meanwhile). Raises RuntimeError with the teleop node's
        reason when it refuses (no follower joint states yet), TimeoutError when nothing answers.
        """
        return self._toggle_intervention(True, timeout)

    def handback(self, timeout: float = 10.0) -> InterventionState:
        """
        Hand control back to the policy; return the teleop node's InterventionState.

        Presses the takeover key once if an intervention is active and waits until the teleop
        node announces it ended (the executor blends the policy in from the last human target).
        """
        return self._toggle_intervention(False, timeout)

    def _toggle_intervention(self, active: bool, timeout: float) -> InterventionState:
        what = 'takeover' if active else 'handback'
        topic = self.keyboard_pub.topic_name
        # The latched state arrives once the teleop node is matched: wait for it, so a toggle is
        # pressed only when the state really differs from the one asked for.
        self.spin_until(lambda: self.intervention is not None, timeout,
                        f'the teleop node\'s intervention state ({self.namespace}/aloe/'
                        'intervention)')
        seen = len(self.safety_events)
        if self.intervening() != active:
            self.spin_until(lambda: self.count_subscribers(topic) > 0, timeout,
                            f'the teleop node to subscribe to {topic}')
            self.keyboard_pub.publish(String(data=self.takeover_key))
        teleop = f'{self.namespace}/teleop'

        def refusal() -> Optional[SafetyEvent]:
            return next((e for e in self.safety_events[seen:] if e.node == teleop
                         and e.kind == SafetyEvent.KIND_REJECTED_INPUT), None)
        self.spin_until(lambda: self.intervening() == active or refusal() is not None, timeout,
                        f'the teleop node to announce the {what} on {self.namespace}/aloe/'
                        'intervention')
        if self.intervening() != active:
            raise RuntimeError(f'{teleop} refused the {what}: {refusal().message}')
        return self.intervention

    # ------------------------------------------------------------------ learner

    def train_iteration(self, critic_steps: int = 0, actor_steps: int = 0,
                        feedback: Optional[Callable[[str, int, int], None]] = None,
                        timeout: float = 3600.0) -> Tuple[int, Dict[str, float]]:
        """
        Run one learner iteration now; return (new policy version, metrics).

        ``0`` steps take the learner's configured numbers; ``feedback(phase, step, total)`` is
        called with the learner's progress. Raises RuntimeError when the learner refuses or fails.
        """
        goal = TrainIteration.Goal(critic_steps=critic_steps, actor_steps=actor_steps)

        def on_feedback(fb):
            if feedback is not None:
                f = fb.feedback
                feedback(f.phase, int(f.step), int(f.total_steps))
        send = self.train_cli.send_goal_async(goal, feedback_callback=on_feedback)
        self.spin_until(send.done, 30.0, 'the learner to accept the iteration')
        handle = send.result()
        if not handle.accepted:
            raise RuntimeError('learner rejected the TrainIteration goal')
        result_future = handle.get_result_async()
        self.spin_until(result_future.done, timeout, 'the learner iteration')
        result = result_future.result().result
        if not result.success:
            raise RuntimeError(f'learner iteration failed: {result.message}')
        return int(result.policy_version), {m.name: m.value for m in result.metrics}

    # ------------------------------------------------------------------ executor health

    def missed_ticks(self) -> int:
        """Return the executor's missed-tick counter (from its latest /diagnostics report)."""
        return int(self.executor_diag.get('missed_ticks', 0))

    def wait_diagnostics(self, timeout: float = 3.0) -> None:
        """Wait for the next executor diagnostics report, so counters are current."""
        self.executor_diag = {}
        self.spin_until(lambda: bool(self.executor_diag), timeout, 'executor diagnostics')

    # ------------------------------------------------------------------ a whole episode

    def run_episode(self, task: str, seed: int, timeout: float) -> Dict[str, Any]:
        """
        Reset the sim and run one episode under the policy (and operator) until it ends.

        Returns its figures: outcome, steps by source, interventions, durations, policy versions.
        """
        self.set_mode(self.MODE_HOLD, 'scene reset')
        self.reset_scene(task, seed)
        # let the observation pipeline see the reset scene before the policy acts
        time.sleep(0.2)
        eid = self.start_episode(task, seed)
        self.set_mode(self.MODE_RUN, 'episode start')
        t0 = time.monotonic()
        s = self.wait_for_summary(eid, timeout)
        # Freeze the robot, then read the sim's own success signal to cross-check the label.
        self.set_mode(self.MODE_HOLD, 'episode ended')
        t_end = time.monotonic()
        self.spin_until(lambda: time.monotonic() - t_end > 0.3, 1.0,
                        'the sim state after the episode')
        return {'sim_success_after_end': bool(self.sim_success), 'episode_id': eid,
                'seed': seed,
                'outcome': int(s.outcome), 'steps': int(s.num_steps),
                'human_steps': int(s.num_human_steps), 'policy_steps': int(s.num_policy_steps),
                'interventions': int(s.num_interventions), 'duration': float(s.duration),
                'wall_s': time.monotonic() - t0, 'policy_versions': list(s.policy_versions)}


def _absolute(namespace: str) -> str:
    """Return a namespace as a prefix of absolute names: ``''`` for the root, else ``/name``."""
    name = namespace.strip('/')
    return f'/{name}' if name else ''

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
Episode manager and recorder node: owns the episode lifecycle and writes every episode.

Services ``/aloe/start_episode`` and ``/aloe/end_episode`` open and close episodes; the node
publishes ``/aloe/episode_event`` (reliable, transient local) on each change and
``/aloe/episode_summary`` once an episode's file is complete. While an episode is open it
records, as serialized CDR exactly as received (``raw=True``), observations, executed steps,
intervention states, action chunks, safety events and its own episode events into the episode's
rosbag2 bag directory (see :mod:`aloe_ros.storage`), and next to them what the station's
drivers publish, so the bag plays in Foxglove / RViz and trains models of any input size:

- every camera at its native resolution: ``camera_topics`` (sensor_msgs/Image) kept as they
  arrive, or transcoded to JPEG / PNG on ``<topic>/compressed`` (``camera_transcode``), or not
  recorded (``skip``); ``compressed_camera_topics`` (sensor_msgs/CompressedImage) as they arrive;
- ``camera_info_topics`` (sensor_msgs/CameraInfo, each camera's calibration) as they arrive;
- ``joint_state_topics`` (per-arm and whole-robot sensor_msgs/JointState);
- ``/tf`` and ``/tf_static`` (``record_tf``) when tf2_msgs is installed (every ROS 2 install has
  it; the PyPI-only development set-up does not, and the node says so once at start).

Task: when a station reports its task on ``/sim/task`` (std_msgs/String, latched; the sim does),
every episode records that task: StartEpisode with an empty task takes it, one naming another
task is refused. Without such a report the request's task, or ``default_task``, is used. The
instruction recorded is the request's, else the one the station reports for the task on
``/sim/task_instruction`` (diagnostic_msgs/KeyValue, latched: task name, instruction), else
``default_instruction``.

With ``robot_profile`` (``aloe_ros.station.command_mapping``) the station topics come from the
robot profile instead: its cameras' image and CameraInfo topics, its joint-state topics and
``/joint_states``.

Outcomes: SUCCESS/FAILURE terminate, TIMEOUT/ABORTED truncate. ``max_episode_steps`` > 0 ends
an episode as TIMEOUT when that many steps were accepted. SIGINT/SIGTERM close the open
episode as ABORTED and announce it (EVENT_ENDED, summary) while the ROS context is still valid
(``run_node(clean_stop=True)``), with no traceback. Bad input (invalid ExecutedStep, EndEpisode
with nothing open, StartEpisode while one is open) is refused with one log line, counted in
``/diagnostics``, and the node keeps running. The open episode is flushed to disk every
``flush_period`` (<= 1 s): after a kill -9 its quarantined ``.partial`` holds it up to the last
flush, and ``aloe salvage`` turns that into a truncated episode; the restarted recorder publishes
EVENT_ENDED (ABORTED) for it. Steps still labelled with the episode opened before the open one
(the executor keeps its label until the next EVENT_STARTED) are dropped like unlabelled ones.
Forged control events cost no step: anyone on the domain can publish on the event topic, and
a forged EVENT_ENDED + EVENT_STARTED pair makes the executor relabel its steps mid-episode; a
forged EVENT_STARTED naming an old, closed episode between two episodes makes it label the next
one's steps with that id (and ignore its real start). Only this node opens episodes, so while
one is open a step labelled with any id but the episode opened before it, or with any other id
once the executor has labelled steps with the open episode's, was executed during it: it is
recorded into the open episode (id replaced, step_index continued), counted in
``adopted_steps`` and reported once per episode.

Complete episodes are served to learners on other machines (``<serve_episodes>/list_episodes``
and ``<serve_episodes>/read_episode``: the catalog, then each MCAP in sha256-checked chunks; see
:mod:`aloe_ros.nodes.transfer`); recording is never held up by a transfer beyond one chunk read.
"""

import os
import sys
from typing import Any, List, Optional

from aloe_msgs.msg import (ActionChunk, EpisodeEvent, EpisodeSummary, ExecutedStep,
                           InterventionState, Observation, SafetyEvent)
from aloe_msgs.srv import EndEpisode, StartEpisode
from diagnostic_msgs.msg import KeyValue
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from std_msgs.msg import String

from aloe_ros.learning.episode import OUTCOME_ABORTED, OUTCOME_NAMES, OUTCOME_TIMEOUT
from aloe_ros.nodes.managed import AUTOSTART, ManagedNode
from aloe_ros.nodes.common import (COMMANDS, ConfigError, DiagnosticsPublisher, EVENTS, LATCHED,
                                   load_robot_profile, OncePerCause, ParamSpec, declare_parameters,
                                   latched, reliable, run_node)
from aloe_ros.nodes.transfer import serve_episodes
from aloe_ros.storage import EpisodeStore, RewardConfig, StoreLockedError, check_executed_step
from aloe_ros.storage.convert import EVENT_ENDED, EVENT_STARTED, outcome_flags
from aloe_ros.storage.camera_frames import (COMPRESSED_TYPE, IMAGE_TYPE, TRANSCODE_MODES,
                                            compressed_topic, transcode)
from aloe_ros.storage.episode_file import BEST_EFFORT, RELIABLE, TRANSIENT_LOCAL, VOLATILE, decode
from aloe_ros.storage.store import EVENT_TOPIC, STEP_TOPIC, STEP_TYPE

#: The recorder reads observations best effort (as published) with a deeper queue than a
#: controller would, so a slow disk write does not drop the next one.
OBSERVATION_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                             reliability=ReliabilityPolicy.BEST_EFFORT,
                             durability=DurabilityPolicy.VOLATILE)
#: Cameras and joint states: best effort like their publishers (sensor data), deep enough that
#: three 30 Hz cameras are not dropped while a chunk is written.
CAMERA_QOS = OBSERVATION_QOS
JOINT_STATE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50,
                             reliability=ReliabilityPolicy.BEST_EFFORT,
                             durability=DurabilityPolicy.VOLATILE)
TF_QOS = reliable(100)
TF_STATIC_QOS = latched(100)

# topic -> (message class, subscription QoS); recorded raw while an episode is open. The keys
# are the names inside the episode file; the node subscribes to them relative to its namespace
# (``recorded_name``), so a station under ``/station_a`` records the same names as one at ``/``.
RECORDED = {
    '/aloe/observation': (Observation, OBSERVATION_QOS),
    '/aloe/executed_step': (ExecutedStep, reliable(200)),
    '/aloe/intervention': (InterventionState, LATCHED),
    '/aloe/action_chunk': (ActionChunk, reliable(5)),
    '/aloe/safety_event': (SafetyEvent, EVENTS),
}


def recorded_name(topic: str) -> str:
    """
    Return the name a subscribed topic is recorded under: relative names as if at ``/``.

    ``cam_high/image_raw`` (the station's own, resolved under the recorder's namespace) is
    recorded as ``/cam_high/image_raw`` whatever the namespace; an absolute name stays as given.
    """
    return topic if topic.startswith('/') else '/' + topic


def subscribed_name(name: str) -> str:
    """Return the relative name the recorder subscribes to for a recorded ``/aloe/...`` name."""
    return name.lstrip('/')


def _check_topic(names: List[str]) -> Optional[str]:
    for n in names:
        if not n or n.endswith('/') or any(c.isspace() for c in n):
            return f'invalid topic name {n!r}'
    if len(set(names)) != len(names):
        return 'topics listed twice'
    return None


PARAMS = [
    ParamSpec('storage_root', '~/aloe_data',
              'Episode store root (~ expanded): episodes/<YYYYMMDD>/<id>/ (bag directories), '
              'catalog.sqlite, '
              'quarantine/.',
              read_only=True, allow_empty=False),
    ParamSpec('compression', 'zstd', 'MCAP chunk compression.', read_only=True,
              choices=('zstd', 'lz4', 'none')),
    ParamSpec('action_dim', 14, 'Action size D every ExecutedStep must have.', min=1, max=256,
              read_only=True),
    ParamSpec('max_episode_steps', 0,
              'End the episode as TIMEOUT after this many accepted steps (0 = no limit).',
              min=0, max=100_000_000),
    ParamSpec('default_task', 'default', 'Task used when StartEpisode leaves it empty.',
              allow_empty=False),
    ParamSpec('default_instruction', '', 'Instruction used when StartEpisode leaves it empty.'),
    ParamSpec('success_reward', 1.0, 'Reward at the last step of a successful episode.',
              min=-1e6, max=1e6, read_only=True),
    ParamSpec('step_penalty', 0.0, 'Reward subtracted at every step.', min=0.0, max=1e6,
              read_only=True),
    ParamSpec('camera_topics', ['cam_high/image_raw', 'cam_left_wrist/image_raw',
                                'cam_right_wrist/image_raw'],
              'sensor_msgs/Image topics recorded at native resolution (see camera_transcode); '
              'relative names resolve in the recorder\'s namespace and are recorded as if at /.',
              kind='string_array', read_only=True, check=_check_topic),
    ParamSpec('compressed_camera_topics', [],
              'sensor_msgs/CompressedImage topics recorded as they arrive.',
              kind='string_array', read_only=True, check=_check_topic),
    ParamSpec('camera_transcode', 'keep',
              'camera_topics: keep (raw Image as it arrives), jpeg or png (recorded as '
              'CompressedImage on '
              '<topic>/compressed), skip (not recorded).', read_only=True,
              choices=TRANSCODE_MODES),
    ParamSpec('jpeg_quality', 90, 'JPEG quality of camera_transcode: jpeg.', min=1, max=100,
              read_only=True),
    ParamSpec('camera_info_topics', ['cam_high/camera_info', 'cam_left_wrist/camera_info',
                                     'cam_right_wrist/camera_info'],
              'sensor_msgs/CameraInfo topics recorded as they arrive (each camera\'s '
              'calibration).',
              kind='string_array', read_only=True, check=_check_topic),
    ParamSpec('joint_state_topics', ['follower_left/joint_states', 'follower_right/joint_states',
                                     'joint_states'],
              'sensor_msgs/JointState topics recorded (per arm and the whole robot).',
              kind='string_array', read_only=True, check=_check_topic),
    ParamSpec('robot_profile', '',
              'Robot profile YAML (config/robots/): record its cameras\' image and CameraInfo '
              'topics and its joint-state topics (with /joint_states); replaces camera_topics, '
              'camera_info_topics and joint_state_topics (empty: those parameters).',
              read_only=True),
    ParamSpec('record_tf', True, 'Record /tf and /tf_static (needs tf2_msgs).', read_only=True),
    ParamSpec('flush_period', 0.5,
              'The open episode is made durable (chunk written, fsync) this often: '
              'a killed recorder loses at most this much of it [s].', min=0.05, max=1.0,
              read_only=True),
    ParamSpec('diagnostics_period', 1.0, 'Period of /diagnostics reports [s].', min=0.1, max=60.0,
              read_only=True),
    ParamSpec('serve_episodes', 'aloe/recorder',
              'Namespace of the list_episodes / read_episode services through which a learner '
              'pulls complete episodes over ROS 2 (relative: under the node\'s namespace; '
              'empty: not served).', read_only=True),
    ParamSpec('station', '',
              'Station name written into every episode (its source, kept when a learner pulls '
              'it); empty: the node\'s namespace (/station_a, or / for a station at the root)',
              read_only=True),
    ParamSpec('max_message_bytes', 64 * 1024 * 1024,
              'Largest message recorded [bytes]: a larger one (on any recorded topic) is '
              'refused on its serialized size, never decoded, transcoded or written.',
              min=1024, max=2 ** 40, read_only=True),
    ParamSpec('max_chunk_bytes', 4 * 1024 * 1024, 'Largest episode chunk served [bytes].',
              min=1024, max=8 * 1024 * 1024, read_only=True),
]
PARAMETERS = {'use_sim_time': False, AUTOSTART.name: AUTOSTART.default,
              **{spec.name: spec.default for spec in PARAMS}}
#: Managed (lifecycle) node: ``autostart`` is declared by ManagedNode (param_docs lists it).
MANAGED = True
#: Parameters a robot profile replaces (setting one of them with ``robot_profile`` is refused).
PROFILE_REPLACES = ('camera_topics', 'camera_info_topics', 'joint_state_topics')
#: Newest complete episodes whose label a step may still carry before this process's first
#: episode (the executor outlives a recorder restart with the label of the last one it heard).
LINGERING_AT_START = 3


class RecorderNode(ManagedNode):
    """
    Episode manager + recorder: services, events, raw recording into the episode store.

    Managed (``ManagedNode``): configure validates the parameters and opens the store (taking
    its lock, recovering leftovers); activate lets StartEpisode open episodes; deactivate
    closes an open episode as ABORTED (truncated, every step kept) and StartEpisode is refused
    while inactive; cleanup closes the store (releasing its lock). Completed episodes are
    served to learners while inactive too.
    """

    def __init__(self, **kwargs: Any):
        """Declare parameters; configure and activate unless ``autostart`` is false."""
        super().__init__('aloe_recorder', PARAMS, **kwargs)
        self.store = None
        self.bring_up()

    def configure(self) -> None:
        """Validate parameters, open the store (recovering leftovers), wire topics."""
        self.params = declare_parameters(self, PARAMS)
        profile = load_robot_profile(self.params, PARAMS, PROFILE_REPLACES)
        if profile is not None:
            self.params.update(
                camera_topics=list(profile.cameras.values()),
                camera_info_topics=list(profile.camera_info.values()),
                joint_state_topics=[s.topic for s in profile.sources] + ['joint_states'])
        self._log_once = OncePerCause(self.get_logger())
        try:
            self.store = EpisodeStore(
                os.path.expanduser(self.params['storage_root']), mode='w',
                compression=self.params['compression'],
                rewards=RewardConfig(self.params['success_reward'], self.params['step_penalty']))
        except (StoreLockedError, OSError) as exc:
            raise ConfigError('storage_root', str(exc)) from exc
        for path in self.store.quarantined:
            self.get_logger().warning(
                f'found an incomplete episode from a stopped recorder: moved to {path} (not used '
                f'for training); its steps up to the last flush can be kept as a truncated '
                f'episode, once this recorder has stopped: aloe salvage --root '
                f'{self.store.root} --all')
        self.diag = DiagnosticsPublisher(self, self.params['diagnostics_period'])
        self.diag.declare('rejected', 'ignored_outside_episode', 'episodes_recorded',
                          'write_errors',
                          'bytes_written', *[f'msgs{t.replace("/", "_")}' for t in RECORDED])
        self.diag.set('quarantined_on_start', len(self.store.quarantined))
        self._last_policy_version = 0
        self._rejected_seen = 0
        self._closed_ids = set()  # episodes this process ended (see ignored_unlabelled_steps)
        # The labels the executor may still put on steps before it hears the open episode's start:
        # the episode opened before it (it keeps that label until the next EVENT_STARTED). Any
        # other label on a step while an episode is open came from a forged EVENT_STARTED (see
        # _adopt_step), an id never issued or one of an episode closed earlier. At start, before
        # this process opened one: the newest complete episodes and the quarantined ones.
        self._lingering = set(list(self.store.episode_ids())[-LINGERING_AT_START:])
        self._last_opened = ''
        self._following = False  # the executor labels steps with the open episode's id
        self._adopted = {}  # foreign label -> step_index offset into the open episode
        self.station = self.params['station'] or self.get_namespace()
        self._event_pub = self.create_publisher(EpisodeEvent, subscribed_name(EVENT_TOPIC),
                                                latched(10))
        # A killed recorder never announced the end of the episode it had open: announce it now
        # (ABORTED, truncated), or followers that ignore a new EVENT_STARTED while an episode is
        # open (the executor: a forged start must not split an episode) would miss the next one.
        for path in self.store.quarantined:
            episode_id = os.path.basename(path).split('.mcap', 1)[0]
            self._closed_ids.add(episode_id)
            self._lingering.add(episode_id)
            ended = EpisodeEvent(episode_id=episode_id, event=EVENT_ENDED,
                                 outcome=OUTCOME_ABORTED, terminated=False, truncated=True)
            ended.header.stamp = self.get_clock().now().to_msg()
            self._event_pub.publish(ended)
        self._summary_pub = self.create_publisher(EpisodeSummary, 'aloe/episode_summary',
                                                  COMMANDS)
        self._subs = []
        for topic, (cls, qos) in RECORDED.items():
            self._subs.append(self.create_subscription(
                cls, subscribed_name(topic), self._recorder_for(topic), qos, raw=True))
        # topic -> (type, reliability, durability, depth) of the station topics recorded as well.
        self._station_topics = {}
        self._tf_static: List[bytes] = []
        mode = self.params['camera_transcode']
        if mode != 'skip':
            for name in self.params['camera_topics']:
                topic = recorded_name(name)
                if mode == 'keep':
                    callback = self._recorder_for(topic)
                    self._station_topics[topic] = (IMAGE_TYPE, BEST_EFFORT, VOLATILE,
                                                   CAMERA_QOS.depth)
                else:
                    callback = self._transcoder_for(topic, mode)
                    self._station_topics[compressed_topic(topic)] = (
                        COMPRESSED_TYPE, BEST_EFFORT, VOLATILE, CAMERA_QOS.depth)
                self._subs.append(self.create_subscription(Image, name, callback, CAMERA_QOS,
                                                           raw=True))
        for name in self.params['compressed_camera_topics']:
            topic = recorded_name(name)
            self._station_topics[topic] = (COMPRESSED_TYPE, BEST_EFFORT, VOLATILE,
                                           CAMERA_QOS.depth)
            self._subs.append(self.create_subscription(
                CompressedImage, name, self._recorder_for(topic), CAMERA_QOS, raw=True))
        for name in self.params['camera_info_topics']:
            topic = recorded_name(name)
            self._station_topics[topic] = ('sensor_msgs/msg/CameraInfo', BEST_EFFORT, VOLATILE,
                                           CAMERA_QOS.depth)
            self._subs.append(self.create_subscription(
                CameraInfo, name, self._recorder_for(topic), CAMERA_QOS, raw=True))
        for name in self.params['joint_state_topics']:
            topic = recorded_name(name)
            self._station_topics[topic] = ('sensor_msgs/msg/JointState', BEST_EFFORT, VOLATILE,
                                           JOINT_STATE_QOS.depth)
            self._subs.append(self.create_subscription(
                JointState, name, self._recorder_for(topic), JOINT_STATE_QOS, raw=True))
        if self.params['record_tf']:
            self._subscribe_tf()
        self._station_task = ''
        self._station_instructions = {}  # task name -> instruction, as the station reports them
        self.create_subscription(String, 'sim/task', self._on_station_task, latched(1))
        self.create_subscription(KeyValue, 'sim/task_instruction', self._on_station_instruction,
                                 latched(1))
        self.create_service(StartEpisode, 'aloe/start_episode', self._on_start)
        self.create_service(EndEpisode, 'aloe/end_episode', self._on_end)
        if self.params['serve_episodes']:
            serve_episodes(self, self.store, self.params['serve_episodes'],
                           self.params['max_chunk_bytes'])
        self.create_timer(self.params['diagnostics_period'], self._update_diagnostics)
        self.create_timer(self.params['flush_period'], self._flush)
        self.get_logger().info(f'station {self.station}: recording episodes into '
                               f'{self.store.root} '
                               f'({len(self.store.episode_ids())} complete episodes in the '
                               'catalog)')

    # ------------------------------------------------------------------ episode lifecycle

    def _reject(self, what: str) -> None:
        """Log one line saying what was refused, and count it."""
        self.get_logger().warning(what)
        self.diag.count('rejected')
        self.diag.set_status(DiagnosticsPublisher.WARN,
                             f'{self.diag.counter("rejected")} inputs rejected, last: {what}')

    def _on_station_task(self, msg: String) -> None:
        if msg.data != self._station_task:
            self.get_logger().info(f'station reports task {msg.data!r}: episodes record it')
        self._station_task = msg.data

    def _on_station_instruction(self, msg: KeyValue) -> None:
        if len(msg.key) > 256 or len(msg.value) > 4096:
            self._reject(f'/sim/task_instruction refused: task name of {len(msg.key)} or '
                         f'instruction of {len(msg.value)} characters (at most 256 / 4096)')
            return
        if self._station_instructions.get(msg.key) != msg.value:
            self.get_logger().info(f'station reports the instruction for task {msg.key!r}: '
                                   f'{msg.value!r}')
        self._station_instructions[msg.key] = msg.value

    def _on_start(self, req: StartEpisode.Request, res: StartEpisode.Response):
        """Open a new episode and announce it with EVENT_STARTED."""
        if not self.active:
            res.success = False
            res.message = 'the recorder is inactive: activate it first (lifecycle)'
            self._reject(f'StartEpisode refused: {res.message}')
            return res
        rec = self.store.recording
        if rec is not None:
            res.success = False
            res.message = f'episode {rec.episode_id} is still open: end it first'
            self._reject(f'StartEpisode refused: {res.message}')
            return res
        if self._station_task and req.task and req.task != self._station_task:
            res.success = False
            res.message = (f'task {req.task!r} requested but the station runs '
                           f'{self._station_task!r}: '
                           'reset the scene to that task first')
            self._reject(f'StartEpisode refused: {res.message}')
            return res
        task = self._station_task or req.task or self.params['default_task']
        instruction = (req.task_instruction or self._station_instructions.get(task)
                       or self.params['default_instruction'])
        try:
            rec = self.store.begin_episode(task, instruction, int(req.seed),
                                           station=self.station)
        except Exception as exc:  # disk full, permissions: refuse, keep running
            res.success = False
            res.message = f'cannot open an episode file: {exc}'
            self.diag.count('write_errors')
            self.get_logger().error(f'StartEpisode failed: {res.message}')
            return res
        if self._last_opened:
            self._lingering = {self._last_opened}
        self._last_opened = rec.episode_id
        self._following = False
        self._adopted = {}
        self._log_once.clear('forged_label')
        try:
            for topic, (type_name, rel, dur, depth) in self._station_topics.items():
                rec.add_topic(topic, type_name, rel, dur, depth)
            now = self.get_clock().now().nanoseconds
            for data in self._tf_static:
                rec.write('/tf_static', data, now)
            self._publish_event(EVENT_STARTED, 0)
        except Exception as exc:
            self.store.abandon_recording()
            res.success = False
            res.message = (f'cannot write episode {rec.episode_id}: {exc}; abandoned (quarantined '
                           'on restart)')
            self.diag.count('write_errors')
            self.get_logger().error(f'StartEpisode failed: {res.message}')
            return res
        res.success = True
        res.episode_id = rec.episode_id
        res.message = f'episode {rec.episode_id} started (task {task!r})'
        self.get_logger().info(res.message)
        return res

    def _on_end(self, req: EndEpisode.Request, res: EndEpisode.Response):
        """Close the open episode with the requested outcome."""
        if self.store.recording is None:
            res.success = False
            res.message = 'no episode is open'
            self._reject('EndEpisode refused: no episode is open')
            return res
        if req.outcome not in OUTCOME_NAMES or req.outcome == 0:
            res.success = False
            res.message = (f'unknown outcome {req.outcome} (1 success, 2 failure, 3 aborted, '
                           '4 timeout)')
            self._reject(f'EndEpisode refused: {res.message}; episode stays open')
            return res
        record = self.end_episode(int(req.outcome), req.reason)
        res.success = record is not None
        res.episode_id = record.episode_id if record else ''
        res.num_steps = record.num_steps if record else 0
        res.message = (f'episode {res.episode_id} ended: {OUTCOME_NAMES[req.outcome]}, '
                       f'{res.num_steps} steps' if record
                       else 'episode file could not be finalized')
        return res

    def end_episode(self, outcome: int, reason: str = '', publish: bool = True):
        """Write EVENT_ENDED, finalize the file, publish event and summary; return the record."""
        rec = self.store.recording
        terminated, truncated = outcome_flags(outcome)
        event = self._event(EVENT_ENDED, outcome)
        try:
            rec.write(EVENT_TOPIC, _serialize(event), self.get_clock().now().nanoseconds)
            record = rec.close(outcome, reason)
        except Exception as exc:
            self.diag.count('write_errors')
            self.get_logger().error(f'episode {rec.episode_id}: finalizing failed ({exc}); the '
                                    'partial file is quarantined on the next start')
            self.store.abandon_recording()
            return None
        self.diag.count('episodes_recorded')
        self._closed_ids.add(record.episode_id)
        self.get_logger().info(
            f'episode {record.episode_id} ended: {OUTCOME_NAMES[outcome]} '
            f'({"terminated" if terminated else "truncated"}), {record.num_steps} steps, '
            f'{record.num_human_steps} human, {record.size_bytes} bytes -> {record.uri}'
            + (f' ({reason})' if reason else ''))
        if publish:
            self._event_pub.publish(event)
            self._summary_pub.publish(_summary(record, self.get_clock().now().to_msg()))
        return record

    def _event(self, kind: int, outcome: int) -> EpisodeEvent:
        rec = self.store.recording
        terminated, truncated = outcome_flags(outcome)
        msg = EpisodeEvent(episode_id=rec.episode_id, event=kind, outcome=outcome,
                           terminated=terminated, truncated=truncated, task=rec.task,
                           task_instruction=rec.instruction,
                           policy_version=self._last_policy_version, seed=int(rec.seed))
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg

    def _publish_event(self, kind: int, outcome: int) -> None:
        event = self._event(kind, outcome)
        self.store.recording.write(EVENT_TOPIC, _serialize(event),
                                   self.get_clock().now().nanoseconds)
        self._event_pub.publish(event)

    # ------------------------------------------------------------------ recording

    def _recorder_for(self, topic: str):
        count_key = f'msgs{topic.replace("/", "_")}'

        def callback(data: bytes) -> None:
            rec = self.store.recording
            if rec is None:
                self.diag.count('ignored_outside_episode')
                return
            if self._oversized(topic, data):
                return
            decoded = None
            if topic == STEP_TOPIC:
                decoded = decode(STEP_TYPE, data)
                label = decoded.episode_id
                if label == rec.episode_id:
                    self._following = True
                elif label and (self._following or label not in self._lingering):
                    # The executor followed a forged EVENT_STARTED: the step is still this
                    # episode's (nothing else is open), so it is recorded as one of them.
                    decoded, data = self._adopt_step(rec, data)
                else:
                    # The executor has not seen this episode's start yet (no label, or still the
                    # label of an episode closed here: it keeps one until the next start, so a
                    # forged EVENT_ENDED cannot unlabel steps): not part of this episode.
                    self.diag.count('ignored_unlabelled_steps')
                    return
                problem = check_executed_step(decoded, self.params['action_dim'],
                                              rec.last_step_index, rec.episode_id)
                if problem:
                    self._reject(f'ExecutedStep rejected, not recorded: {problem}')
                    return
                if decoded.source == ExecutedStep.SOURCE_POLICY:
                    self._last_policy_version = int(decoded.policy_version)
            try:
                n = rec.write(topic, data, self.get_clock().now().nanoseconds, decoded=decoded)
            except Exception as exc:
                self.diag.count('write_errors')
                self._log_once.report('write',
                                      f'writing {topic} to {rec.episode_id} failed: {exc}',
                                      'error')
                return
            self.diag.count(count_key)
            self.diag.count('bytes_written', n)
            limit = self.params['max_episode_steps']
            if topic == STEP_TOPIC and limit and rec.stats.num_steps >= limit:
                self.end_episode(OUTCOME_TIMEOUT, f'max_episode_steps={limit} reached')

        return callback

    def _adopt_step(self, rec, data: bytes):
        """
        Relabel a step the executor labelled after a forged EVENT_STARTED into ``rec``.

        Only this recorder opens episodes and it announced no other while ``rec`` is open, so
        a step labelled with an id other than the episode opened before ``rec`` (or with any
        other id once the executor had followed ``rec``) was executed during ``rec``: a forged
        EVENT_STARTED gave it a label never issued or one of an episode closed earlier. It
        keeps its place in the episode, with the episode's id and its step_index continued from
        the last accepted one. Said once per episode (rate-limited), counted in
        ``adopted_steps``.
        """
        step = deserialize_message(bytes(data), ExecutedStep)
        label = step.episode_id
        last = rec.last_step_index
        offset = self._adopted.get(label)
        index = None if offset is None else int(step.step_index) + offset
        if index is None or not 0 <= index < 2 ** 63 or (last is not None and index <= last):
            # First step of this label, or its indices went back: continue from the last one.
            offset = (0 if last is None else last + 1) - int(step.step_index)
            self._adopted[label] = offset
        if self._log_once.report('forged_label',
                                 f'executed steps labelled {label!r} while episode '
                                 f'{rec.episode_id!r} is open: the executor followed a forged '
                                 'EpisodeEvent; recorded into the open episode', 'warning'):
            self.diag.set_status(DiagnosticsPublisher.WARN,
                                 f'forged EpisodeEvent: steps labelled {label!r} adopted')
        self.diag.count('adopted_steps')
        step.episode_id = rec.episode_id
        step.step_index = int(step.step_index) + offset
        return step, serialize_message(step)

    def _oversized(self, topic: str, data: bytes) -> bool:
        """Refuse (once per topic, counted) a message above max_message_bytes; True if so."""
        if len(data) <= self.params['max_message_bytes']:
            return False
        self.diag.count('oversized_refused')
        self._log_once.report(f'oversized{topic}',
                              f'{topic}: message of {len(data)} bytes above max_message_bytes '
                              f'({self.params["max_message_bytes"]}): not recorded', 'warning')
        return True

    def _transcoder_for(self, topic: str, mode: str):
        """
        Return a callback that records an Image as a JPEG/PNG CompressedImage.

        An image that cannot be transcoded (an encoding cv2 cannot write) is recorded raw on its
        own topic instead, so nothing is lost; the cause is logged once.
        """
        record_compressed = self._recorder_for(compressed_topic(topic))
        record_raw = self._recorder_for(topic)

        def callback(data: bytes) -> None:
            if self.store.recording is None:
                self.diag.count('ignored_outside_episode')
                return
            if self._oversized(topic, data):
                return
            try:
                out = transcode(data, mode, self.params['jpeg_quality'])
            except Exception as exc:
                self.diag.count('transcode_errors')
                self._log_once.report(f'transcode{topic}',
                                      f'{topic}: cannot transcode to {mode} ({exc}); '
                                      'recording it raw as it arrives', 'warning')
                rec = self.store.recording
                if not rec._writer.has_topic(topic):
                    rec.add_topic(topic, IMAGE_TYPE, BEST_EFFORT, VOLATILE, CAMERA_QOS.depth)
                record_raw(data)
                return
            record_compressed(out)

        return callback

    def _subscribe_tf(self) -> None:
        """Record /tf and /tf_static when tf2_msgs is installed; say once when it is not."""
        try:
            from tf2_msgs.msg import TFMessage
        except ImportError:
            self.get_logger().warning('record_tf: tf2_msgs is not installed here, so /tf and '
                                      '/tf_static '
                                      'cannot be subscribed: they are not recorded')
            self.diag.set('tf_recorded', False)
            return
        for topic, qos, rel, dur in (('/tf', TF_QOS, RELIABLE, VOLATILE),
                                     ('/tf_static', TF_STATIC_QOS, RELIABLE, TRANSIENT_LOCAL)):
            self._station_topics[topic] = ('tf2_msgs/msg/TFMessage', rel, dur, qos.depth)
            callback = self._recorder_for(topic)
            if topic == '/tf_static':
                callback = self._static_tf_recorder(callback)
            self._subs.append(self.create_subscription(TFMessage, topic, callback, qos, raw=True))
        self.diag.set('tf_recorded', True)

    def _static_tf_recorder(self, record):
        """Keep every /tf_static message: latched transforms come once; each episode needs them."""
        def callback(data: bytes) -> None:
            if self._oversized('/tf_static', data):
                return
            self._tf_static.append(bytes(data))
            record(data)
        return callback

    def _flush(self) -> None:
        rec = self.store.recording
        if rec is None:
            return
        try:
            rec.flush_pending()
        except Exception as exc:
            self.diag.count('write_errors')
            self._log_once.report('flush', f'making {rec.episode_id} durable failed: {exc}',
                                  'error')
            return

    def _update_diagnostics(self) -> None:
        rec = self.store.recording
        self.diag.set('state', 'recording' if rec else 'idle')
        self.diag.set('episode_id', rec.episode_id if rec else '')
        self.diag.set('episode_steps', rec.stats.num_steps if rec else 0)
        self.diag.set('episode_bytes', rec.bytes_written if rec else 0)
        rejected = self.diag.counter('rejected')
        if self.diag.counter('write_errors'):
            self.diag.set_status(DiagnosticsPublisher.ERROR, 'episode file write errors')
        elif rejected == self._rejected_seen:
            # WARN (set when an input is refused) stays for one full period after the last one.
            self.diag.set_status(DiagnosticsPublisher.OK, 'recording' if rec else 'idle')
        self._rejected_seen = rejected

    # ------------------------------------------------------------------ shutdown

    def deactivate(self) -> None:
        """Close an open episode as ABORTED (truncated): every step recorded so far is kept."""
        if self.store is not None and self.store.recording is not None:
            self.end_episode(OUTCOME_ABORTED, 'recorder deactivated')

    def release(self) -> None:
        """Close an open episode as ABORTED (truncated), then close the store (its lock)."""
        if getattr(self, 'store', None) is not None:
            if self.store.recording is not None:
                # run_node(clean_stop=True) keeps the context valid here, so followers hear
                # the end; without it (a node destroyed after rclpy.shutdown) nothing is sent.
                self.end_episode(OUTCOME_ABORTED, 'recorder shut down',
                                 publish=self.context.ok())
            self.store.close()
            self.store = None

    def destroy_node(self) -> None:
        """Close an open episode as ABORTED (truncated), then release the store."""
        self.release()
        super().destroy_node()


def _serialize(msg: Any) -> bytes:
    return serialize_message(msg)


def _summary(record, stamp) -> EpisodeSummary:
    msg = EpisodeSummary(
        episode_id=record.episode_id, task=record.task, outcome=record.outcome,
        terminated=record.terminated, truncated=record.truncated, num_steps=record.num_steps,
        num_policy_steps=record.num_policy_steps, num_human_steps=record.num_human_steps,
        num_scripted_steps=record.num_scripted_steps, num_interventions=record.num_interventions,
        policy_versions=list(record.policy_versions), episode_return=float(record.episode_return),
        duration=float(record.duration), uri=record.uri, size_bytes=record.size_bytes)
    msg.header.stamp = stamp
    return msg


def main(args: Optional[List[str]] = None) -> None:
    """Run the recorder until Ctrl-C / SIGTERM (exit code 2 on an invalid configuration)."""
    # clean_stop: on SIGINT/SIGTERM the open episode is closed and its EVENT_ENDED published
    # while the context is still valid (rclpy's handlers would shut it down first).
    sys.exit(run_node(RecorderNode, args, clean_stop=True))


if __name__ == '__main__':
    main()

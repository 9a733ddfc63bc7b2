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
Observation node: time-aligns cameras and joint states, publishes aloe_msgs/Observation.

Thin shell around ``aloe_ros.station.ingest.ObservationIngest`` (validation and alignment live
there).

Subscribes: per camera ``/<camera>/image_raw`` (sensor_msgs/Image, sensor data) or, with
``compressed: true``, ``/<camera>/image_raw/compressed`` (CompressedImage); per arm the
``joint_state_topics`` (JointState, sensor data); with a ``task_state_topic``, that topic
(aloe_msgs/TaskState, sensor data: object state aligned like another source);
``/aloe/episode_event`` (latched; its
task_instruction replaces the parameter's).
Publishes: ``/aloe/observation`` (Observation, sensor data) once every source has delivered: with
``publish_on: arrival`` (default) in the callback of the input that completes a fresher aligned
set, so no observation waits for a timer (the last set is repeated after ``keepalive_period``
without a fresher one), with ``publish_on: timer`` the freshest set at ``rate``;
``/diagnostics`` at 1 Hz (received/rejected counts per cause, input age, waiting).
Bad input is rejected with one log line per source and cause, counted, and the node keeps running.
Sizes are checked before any conversion: an image message above ``max_image_bytes`` and any
other input above ``SMALL_MESSAGE_BYTES`` (1 MiB) is refused on its serialized byte count,
never deserialized.
At start it logs the DDS transport it runs on; the first camera frame too large for that transport
(see ``aloe_ros.station.transport``) is reported with a warning, once.

With ``robot_profile`` (``aloe_ros.station.command_mapping``) the profile gives the joint names,
arms and per-arm joint-state topics, and each JointState is converted from the robot's joint
names and units into action names and units (its inverse map) before it is validated; a camera
the profile names a topic for (``cameras``) is read from that topic.

Camera calibration: per camera the node reads ``sensor_msgs/CameraInfo`` from the profile's
``info`` topic, by default ``camera_info`` next to the image topic (``/<camera>/camera_info``),
keeps the latest, and publishes it for the policy image it makes of that camera (resized to
``image_width`` x ``image_height``, ``aloe_ros.station.camera_info.scaled``) on
``/aloe/observation/<camera>/camera_info`` (latched, sent again only when the calibration
changes). A camera without CameraInfo is fine (the observation does not wait for one); a
calibration that cannot describe the images (another size than the camera's frames, binning, a
region of interest, no focal length) is reported once and not passed on.
"""

import os
import sys

from aloe_msgs.msg import EpisodeEvent, Observation, TaskState
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState

from aloe_ros.station import camera_info, command_mapping, conversions, transport
from aloe_ros.station.executor_core import DEFAULT_JOINT_NAMES
from aloe_ros.station.ingest import (IngestConfig, InputRejected, ObservationIngest,
                                     PUBLISH_ON_ARRIVAL, PUBLISH_ON_TIMER, PublishGate, TASK_STATE)
from aloe_ros.nodes.common import (ConfigError, DiagnosticsPublisher, LATCHED,
                                   load_robot_profile, OncePerCause, ParamSpec, SENSOR_DATA,
                                   SMALL_MESSAGE_BYTES, declare_parameters, latched, run_node,
                                   sec_to_stamp, stamp_to_sec, subscribe_bounded)

#: Parameters a robot profile replaces (setting one of them with ``robot_profile`` is refused).
PROFILE_REPLACES = ('joint_names', 'arms', 'joint_state_topics')
#: A rejection cause is reported again only after its source was clean for this long [s].
RECOVERY_TIME = 2.0
# : Bytes of an Image message beyond its pixel data (header, encoding) accepted before
# deserializing.
IMAGE_OVERHEAD_BYTES = 64 * 1024


def parameter_specs():
    """Return the observation node's parameters."""
    return [
        ParamSpec('publish_on', PUBLISH_ON_ARRIVAL,
                  'arrival: publish as soon as an input completes a fresher aligned set (no wait '
                  'for a timer); timer: publish the freshest set at every tick of rate',
                  choices=[PUBLISH_ON_ARRIVAL, PUBLISH_ON_TIMER], read_only=True),
        ParamSpec('rate', 50.0, 'timer rate [Hz]: the publish rate with publish_on timer; with '
                  'arrival, how often the keep-alive is checked', min=1.0, max=1000.0,
                  read_only=True),
        ParamSpec('keepalive_period', 0.1,
                  'publish_on arrival: the last set is published again when no fresher one came '
                  'for this long, so a stopped input shows downstream as a stale observation [s]',
                  min=0.001, max=10.0, read_only=True),
        ParamSpec('camera_names', ['cam_high', 'cam_left_wrist', 'cam_right_wrist'],
                  'cameras, in the order of Observation.images', read_only=True,
                  allow_empty=False),
        ParamSpec('image_topic', '{camera}/image_raw',
                  'image topic per camera; {camera} is replaced',
                  read_only=True, check=lambda v: None if '{camera}' in v
                  else 'must contain {camera}'),
        ParamSpec('compressed', False,
                  'subscribe to <image_topic>/compressed (CompressedImage) instead',
                  read_only=True),
        ParamSpec('joint_names', list(DEFAULT_JOINT_NAMES), 'joints of both arms incl. grippers, '
                  'each named <arm>_<joint>', read_only=True, allow_empty=False),
        ParamSpec('arms', ['left', 'right'], 'arm prefixes, in the order of joint_state_topics',
                  read_only=True, allow_empty=False),
        ParamSpec('joint_state_topics', ['follower_left/joint_states',
                                         'follower_right/joint_states'],
                  'JointState topic per arm', length_of='arms', read_only=True),
        ParamSpec('task_state_topic', '',
                  'aloe_msgs/TaskState topic (object state from a tracker or the simulator) '
                  'aligned into every Observation; empty: none. Models with '
                  'model.extra_state_dim > 0 need it', read_only=True),
        ParamSpec('image_height', 64, 'policy image height [px]', min=1, max=4096, read_only=True),
        ParamSpec('image_width', 64, 'policy image width [px]', min=1, max=4096, read_only=True),
        ParamSpec('slop', 0.02, 'max stamp spread of one aligned set [s]', min=0.0, max=1.0,
                  read_only=True),
        ParamSpec('staleness_limit', 0.2,
                  'inputs older than this are rejected, observations older '
                  'than this are flagged stale [s]', min=0.001, max=10.0, read_only=True),
        ParamSpec('max_future', 0.5, 'stamps further than this in the future are rejected [s]',
                  min=0.0, max=10.0, read_only=True),
        ParamSpec('max_image_bytes', 16 * 1024 * 1024,
                  'images with more data are rejected [bytes]',
                  min=1, max=1 << 30, read_only=True),
        ParamSpec('robot_profile', '',
                  'robot profile YAML (config/robots/): joint-state topics, joint names and unit '
                  'conversion per arm, image topic per camera; replaces joint_names, arms and '
                  'joint_state_topics (empty: those parameters, joint states in action units)',
                  read_only=True),
        ParamSpec('task_instruction', '', 'instruction until an episode event brings one'),
        ParamSpec('frame_id', 'world', 'Observation.header.frame_id'),
    ]


#: Parameter name -> default, for static launch-file checks (``use_sim_time`` comes from rclpy).
PARAMETERS = {'use_sim_time': False, **{spec.name: spec.default for spec in parameter_specs()}}


class ObservationNode(Node):
    """ROS shell of ObservationIngest."""

    def __init__(self, **kwargs):
        """Declare parameters, create subscriptions, the publisher and the publish timer."""
        super().__init__('observation', **kwargs)
        p = declare_parameters(self, parameter_specs(), on_change=self._on_param)
        self.p = p
        self.profile = load_robot_profile(p, parameter_specs(), PROFILE_REPLACES)
        if self.profile:
            profile = self.profile
            p.update(joint_names=profile.action_names, arms=profile.arms,
                     joint_state_topics=[profile.sources[profile.source_for_arm(a)].topic
                                         for a in profile.arms])
        try:
            self.ingest = ObservationIngest(IngestConfig(
                camera_names=p['camera_names'], joint_names=p['joint_names'], arms=p['arms'],
                image_height=p['image_height'], image_width=p['image_width'], slop=p['slop'],
                staleness_limit=p['staleness_limit'], max_future=p['max_future'],
                max_image_bytes=p['max_image_bytes'], task_state=bool(p['task_state_topic'])))
        except ValueError as exc:
            raise ConfigError('arms', str(exc)) from exc
        self.task_instruction = p['task_instruction']
        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('published', 'stale_published', 'rejected', 'unaligned_ticks',
                          'camera_info_rejected')
        self.diag.set('camera_info', '-')
        self.once = OncePerCause(self.get_logger())
        self._last_rejection = {}
        self.pub = self.create_publisher(Observation, 'aloe/observation', SENSOR_DATA)
        # Images arrive serialized: one above max_image_bytes is refused on its byte count, unread.
        self._max_image_msg_bytes = p['max_image_bytes'] + IMAGE_OVERHEAD_BYTES
        # camera -> (native width, height) of its latest frame, (calibration, frame id) kept
        self._image_size = {}
        self.calibration = {}
        self._info_pubs = {}
        for camera in p['camera_names']:
            topic = p['image_topic'].replace('{camera}', camera)
            info_topic = command_mapping.camera_info_topic(topic)
            if self.profile and camera in self.profile.cameras:
                topic = self.profile.cameras[camera]
                info_topic = self.profile.camera_info[camera]
            subscribe_bounded(self, CameraInfo, info_topic,
                              lambda m, c=camera: self._on_camera_info(c, m), SENSOR_DATA,
                              SMALL_MESSAGE_BYTES, self._oversized(camera, 'CameraInfo'))
            self._info_pubs[camera] = self.create_publisher(
                CameraInfo, f'aloe/observation/{camera}/camera_info', latched(1))
            if p['compressed']:
                self.create_subscription(
                    CompressedImage, topic + '/compressed',
                    lambda d, c=camera: self._on_data(c, d, CompressedImage, self._on_compressed),
                    SENSOR_DATA, raw=True)
            else:
                self.create_subscription(Image, topic, lambda d, c=camera: self._on_data(
                    c, d, Image, self._on_image), SENSOR_DATA, raw=True)
        for arm, topic in zip(p['arms'], p['joint_state_topics']):
            subscribe_bounded(self, JointState, topic, lambda m, a=arm: self._on_joints(a, m),
                              SENSOR_DATA, SMALL_MESSAGE_BYTES,
                              self._oversized(arm, 'JointState'))
        if p['task_state_topic']:
            subscribe_bounded(self, TaskState, p['task_state_topic'], self._on_task_state,
                              SENSOR_DATA, SMALL_MESSAGE_BYTES,
                              self._oversized(TASK_STATE, 'TaskState'))
        subscribe_bounded(self, EpisodeEvent, 'aloe/episode_event', self._on_episode, LATCHED,
                          SMALL_MESSAGE_BYTES, self._oversized('episode_event', 'EpisodeEvent'))
        self.gate = PublishGate(p['publish_on'], p['keepalive_period'])
        self.timer = self.create_timer(1.0 / p['rate'], self._on_timer)
        # Checked against the first frame's size: frames the transport cannot carry are dropped
        # silently by DDS, so the only place to say so is here, once.
        self.transport = transport.transport_info(os.environ, os.getcwd())
        self._transport_checked = False
        self.get_logger().info(f'DDS transport: {transport.describe(self.transport)}')
        self.get_logger().info(
            f'observation: {list(p["camera_names"])} + {list(p["joint_state_topics"])}'
            + (f' + {p["task_state_topic"]}' if p['task_state_topic'] else '') + ' -> '
            '/aloe/observation '
            + (f'at {p["rate"]:.0f} Hz' if p['publish_on'] == PUBLISH_ON_TIMER else
               'on arrival of each fresher aligned set (keep-alive '
               f'{p["keepalive_period"]:g} s)')
            + f', images {p["image_width"]}x{p["image_height"]}, slop {p["slop"]} s, '
            f'image conversion: {conversions.IMAGE_BACKEND}')

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_param(self, name, value):
        if name == 'task_instruction':
            self.task_instruction = value

    def _oversized(self, source: str, kind: str):
        """Return the refusal of a ``kind`` message above SMALL_MESSAGE_BYTES (never read)."""
        def refuse(nbytes: int) -> None:
            def reject():
                raise InputRejected(source, 'oversized',
                                    f'{kind} message of {nbytes} bytes above '
                                    f'{SMALL_MESSAGE_BYTES}: rejected unread')
            self._accept(source, reject)
        return refuse

    def _accept(self, source: str, add) -> None:
        self.diag.count(f'received_{source}')
        now = self._now()
        try:
            add()
        except InputRejected as exc:
            self.diag.count('rejected')
            self.diag.count(f'rejected_{exc.cause}')
            key = f'{source}:{exc.cause}'
            self._last_rejection[key] = now
            self.once.report(key, f'{exc} (logged once until {source} is clean for '
                                  f'{RECOVERY_TIME:.0f} s; counted in /diagnostics)')
            return
        # A cause counts as cleared only after a quiet period, so good/bad interleaving logs once.
        for key in [c for c in self.once.active if c.startswith(source + ':')]:
            if now - self._last_rejection.get(key, now) > RECOVERY_TIME:
                self.once.clear(key,
                                f'{source}: no {key.split(":", 1)[1]} input for '
                                f'{RECOVERY_TIME:.0f} s')
        if self.gate.mode == PUBLISH_ON_ARRIVAL:
            obs = self.ingest.assemble(now)
            if self.gate.on_input(obs, now):
                self._send(obs, now)

    def _on_data(self, camera: str, data: bytes, cls, handle) -> None:
        if not self._transport_checked:
            warning = transport.frame_warning(camera, len(data), self.transport)
            if warning:
                self._transport_checked = True
                self.get_logger().warning(warning)
        if len(data) > self._max_image_msg_bytes:
            def refuse():
                raise InputRejected(camera, 'oversized_image',
                                    f'image message of {len(data)} bytes above '
                                    'max_image_bytes: rejected unread')
            self._accept(camera, refuse)
            return
        handle(camera, deserialize_message(data, cls))

    def _on_camera_info(self, camera: str, msg: CameraInfo) -> None:
        """Keep a camera's calibration; publish it for the policy image when it changed."""
        cause = f'{camera}:camera_info'
        try:
            info = camera_info.from_msg(msg)
            size = self._image_size.get(camera)
            if size is not None and size != (info.width, info.height):
                raise ValueError(f'CameraInfo for {info.width}x{info.height} images, the camera '
                                 f'sends {size[0]}x{size[1]}')
        except ValueError as exc:
            self.diag.count('camera_info_rejected')
            self.once.report(cause, f'{camera}: {exc}: its calibration is not passed on')
            return
        self.once.clear(cause, f'{camera}: CameraInfo valid again')
        kept = (info, msg.header.frame_id)
        if self.calibration.get(camera) == kept:
            return
        self.calibration[camera] = kept
        out = camera_info.fill_msg(camera_info.scaled(info, self.p['image_width'],
                                                      self.p['image_height']), CameraInfo(),
                                   msg.header.frame_id)
        out.header.stamp = msg.header.stamp
        self._info_pubs[camera].publish(out)
        self.diag.set('camera_info', ','.join(sorted(self.calibration)))

    def _on_image(self, camera: str, msg: Image) -> None:
        self._image_size[camera] = (int(msg.width), int(msg.height))
        self._accept(camera,
                     lambda: self.ingest.add_image(camera, msg, stamp_to_sec(msg.header.stamp),
                                                   self._now()))

    def _on_compressed(self, camera: str, msg: CompressedImage) -> None:
        self._accept(camera, lambda: self.ingest.add_compressed_image(
            camera, msg.data, msg.header.frame_id, stamp_to_sec(msg.header.stamp), self._now()))

    def _joint_fields(self, arm: str, msg: JointState):
        """Return (names, positions, velocities) of ``msg`` in action names and units."""
        if not self.profile:
            return list(msg.name), msg.position, msg.velocity
        try:
            return self.profile.state_to_action(self.profile.source_for_arm(arm),
                                                list(msg.name), msg.position, msg.velocity)
        except ValueError as exc:
            raise InputRejected(arm, 'unknown_joint', f'{exc}: rejected') from exc

    def _on_joints(self, arm: str, msg: JointState) -> None:
        self._accept(arm, lambda: self.ingest.add_joint_state(
            arm, *self._joint_fields(arm, msg), stamp_to_sec(msg.header.stamp),
            self._now()))

    def _on_task_state(self, msg: TaskState) -> None:
        self._accept(TASK_STATE, lambda: self.ingest.add_task_state(
            list(msg.names), msg.values, stamp_to_sec(msg.header.stamp), self._now()))

    def _on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_STARTED and msg.task_instruction:
            self.task_instruction = msg.task_instruction

    def _on_timer(self) -> None:
        now = self._now()
        if not self.gate.on_timer(now):
            return
        obs = self.ingest.assemble(now)
        if obs is None:
            waiting = self.ingest.waiting_for()
            self.diag.set('waiting_for', ','.join(waiting) or 'alignment')
            if not waiting:
                self.once.report('no_alignment',
                                 f'inputs never aligned within slop {self.p["slop"]} s: '
                                 'not publishing yet')
            return
        self._send(obs, now)

    def _send(self, obs, now: float) -> None:
        """Publish ``obs`` (assembled at ``now``) and update the diagnostics."""
        self.gate.published(obs, now)
        self.once.clear('no_alignment', 'inputs aligned: publishing observations')
        msg = Observation(camera_names=[c for c, _ in obs.images], joint_names=obs.arm_joint_names,
                          position=obs.position.tolist(), velocity=obs.velocity.tolist(),
                          gripper=obs.gripper.tolist(), task_instruction=self.task_instruction,
                          max_input_age=float(obs.max_input_age), stale=bool(obs.stale),
                          task_state_names=obs.task_state_names,
                          task_state=obs.task_state.tolist())
        msg.header.stamp = sec_to_stamp(obs.stamp)
        msg.header.frame_id = self.p['frame_id']
        for _camera, sample in obs.images:
            img = conversions.numpy_to_image(sample.data, 'rgb8', msg_factory=Image)
            img.header.stamp = sec_to_stamp(sample.stamp)
            img.header.frame_id = sample.frame_id
            msg.images.append(img)
        self.pub.publish(msg)
        self.diag.count('published')
        if not obs.realigned:
            self.diag.count('unaligned_ticks')
        if obs.stale:
            self.diag.count('stale_published')
            self.once.report('stale', f'inputs {now - obs.oldest:.3f} s old (limit '
                                      f'{self.p["staleness_limit"]} s): observations flagged '
                             'stale')
        else:
            self.once.clear('stale', 'inputs fresh again: observations no longer stale')
        if obs.stale or self.once.active:
            self.diag.set_status(DiagnosticsPublisher.WARN, 'stale inputs' if obs.stale
                                 else 'rejecting input: ' + ', '.join(sorted(self.once.active)))
        else:
            self.diag.set_status(DiagnosticsPublisher.OK, 'publishing')
        self.diag.set('max_input_age', float(obs.max_input_age))
        self.diag.set('input_age', float(now - obs.oldest))
        self.diag.set('publish_age_ms', float(self._now() - obs.stamp) * 1e3)
        self.diag.set('waiting_for', '-')


def main(args=None):
    """Run the observation node."""
    sys.exit(run_node(ObservationNode, args))


if __name__ == '__main__':
    main()

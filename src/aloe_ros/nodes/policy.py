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
Policy node: action chunks from observations, verified hot-swap of weights between chunks.

Re-planning is event-driven: when an ``Observation`` arrives and a re-plan is due (every
``replan_period`` seconds on an absolute schedule, ``aloe_ros.station.replan``), the node turns
that
observation into an ``ActionChunk`` (H x D joint targets) at once, stamped with the observation's
time, a chunk id and the policy version that produced it. Stale observations produce no chunk
(the next fresh one is planned from as soon as it arrives); when none arrives for
``max_observation_age`` past a due re-plan, the node says so once. The executor holds when its
running chunk runs out. An episode start (``/aloe/episode_event`` EVENT_STARTED) and an operator's
hand-back (``/aloe/intervention`` going inactive) make the next observation due at once: the
executor drops its chunk at both, and holds until a chunk planned from the new scene arrives.

Weights arrive as ``PolicyUpdate`` (latched, from the learner) or through the ``LoadPolicy``
service. With ``weights_transfer: ros`` (the default) an announced actor that is not already in
``weights_dir`` with the announced sha256 is fetched from the learner's
``/aloe/learner/read_weights`` service in sha256-checked chunks into ``weights_dir`` (a damaged
chunk is refused and read again; an interrupted fetch resumes), so the learner may run on another
machine with no shared file system; ``shared`` loads the announced path itself, which must then
be visible here. Each candidate is checked before anything changes: the file must lie inside
``weights_dir``, its sha256 must match, its model config hash must match the node's
``learner_config``, and its version must be newer than the running one. Loading runs on a
worker thread; the swap itself is a pointer exchange taken only between two chunks, so
inference never waits for a load and no chunk mixes two versions.

Threads: the node spins a single-threaded executor, so an observation reaches planning without a
thread hand-off (rclpy's multi-threaded executor added several milliseconds to every hop:
``bench/bench_system.py``, stamp -> observation at the policy). Observations are taken serialized
and deserialized only when a re-plan is due. Fetches and loads announced by ``PolicyUpdate`` run
on the weights-loader thread; a ``LoadPolicy`` call verifies and loads in its callback, so
planning waits for it (a fraction of a second while the executor plays its current chunk).
"""

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional
from urllib.parse import unquote, urlparse

import numpy as np
from rclpy.serialization import deserialize_message
from std_msgs.msg import UInt32

from aloe_msgs.msg import (ActionChunk, EpisodeEvent, InterventionState, Observation,
                           PolicyUpdate, SafetyEvent)
from aloe_msgs.srv import LoadPolicy
from aloe_ros.nodes.common import run_node
from aloe_ros.nodes.managed import AUTOSTART, ManagedNode
from aloe_ros.nodes.common import (ConfigError, DiagnosticsPublisher, EVENTS, LATCHED,
                                   OncePerCause,
                                   ParamSpec,
                                   SENSOR_DATA, SMALL_MESSAGE_BYTES, declare_parameters, latched,
                                   oversized_refusal, reliable, stamp_to_sec, subscribe_bounded)
from aloe_ros.station.replan import ReplanSchedule
from aloe_ros.storage.convert import observation_to_obs

DEFAULT_JOINTS = [f'{side}_{j}' for side in ('left', 'right')
                  for j in ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle',
                            'wrist_rotate',
                            'gripper')]

PARAMS = [
    ParamSpec('learner_config', '', 'Learner YAML whose model config the weights must match '
              '(its config hash is checked on every load)', read_only=True, allow_empty=False),
    ParamSpec('weights_dir', '', 'Only weights inside this directory are ever loaded',
              read_only=True,
              allow_empty=False),
    ParamSpec('initial_weights', '',
              'Weights to run at start (path or file:// uri); empty = wait for '
              'the first PolicyUpdate', read_only=True),
    ParamSpec('initial_sha256', '', 'sha256 of initial_weights (required when it is set)',
              read_only=True),
    ParamSpec('initial_version', 0, 'Version reported for initial_weights', min=0, read_only=True),
    ParamSpec('replan_period', 0.5,
              'Seconds between two chunks (h_exec * dt); each chunk is computed '
              'from the first observation that arrives once it is due', min=0.02, max=10.0,
              read_only=True),
    ParamSpec('max_observation_age', 0.25, 'Observations older than this [s] produce no chunk',
              min=0.01, max=10.0),
    ParamSpec('max_observation_bytes', 64 * 1024 * 1024,
              'Largest serialized Observation read; larger ones are refused unread [bytes]',
              min=1024, max=2 ** 40, read_only=True),
    ParamSpec('control_period', 0.02, 'dt between chunk steps [s] written into ActionChunk.dt',
              min=0.001, max=1.0, read_only=True),
    ParamSpec('joint_names', DEFAULT_JOINTS, 'Names of the action dimensions, in order',
              read_only=True,
              allow_empty=False),
    ParamSpec('torch_threads', 1, 'CPU threads for inference (leave cores to the control loop)',
              min=1, max=64, read_only=True),
    ParamSpec('seed', 0, 'Seed of the sampler noise', min=0, read_only=True),
    ParamSpec('weights_transfer', 'ros',
              'ros: fetch announced weights from the learner over ROS 2 into weights_dir '
              'unless already there; shared: load the announced path (a shared file system)',
              choices=['ros', 'shared'], read_only=True),
    ParamSpec('weights_service', 'aloe/learner/read_weights',
              'The learner\'s ReadChunk service (weights_transfer: ros)', read_only=True,
              allow_empty=False),
    ParamSpec('weights_chunk_bytes', 1024 * 1024, 'Bytes asked per chunk when fetching weights',
              min=1024, max=8 * 1024 * 1024, read_only=True),
    ParamSpec('weights_fetch_timeout', 10.0,
              'Seconds to wait for the learner\'s service and for each chunk', min=0.1,
              max=600.0, read_only=True),
]
PARAMETERS = {'use_sim_time': False, AUTOSTART.name: AUTOSTART.default,
              **{spec.name: spec.default for spec in PARAMS}}
#: Managed (lifecycle) node: ``autostart`` is declared by ManagedNode (param_docs lists it).
MANAGED = True


def uri_to_path(uri: str) -> str:
    """Return the local path of a ``file://`` uri or an absolute path; ValueError otherwise."""
    if uri.startswith('file://'):
        parsed = urlparse(uri)
        if parsed.netloc not in ('', 'localhost'):
            raise ValueError(f'uri {uri!r} names host {parsed.netloc!r}; only local files are '
                             'loaded')
        return unquote(parsed.path)
    if '://' in uri:
        raise ValueError(f'uri {uri!r}: only file:// uris and absolute paths are supported')
    if not os.path.isabs(uri):
        raise ValueError(f'path {uri!r} is not absolute')
    return uri


def check_inside(path: str, allowed_dir: str) -> str:
    """Return the real path of ``path`` if inside ``allowed_dir``; PermissionError otherwise."""
    real = os.path.realpath(path)
    root = os.path.realpath(allowed_dir)
    if os.path.commonpath([real, root]) != root or real == root:
        raise PermissionError(f'{path} resolves outside the allowed directory {root}; refused')
    return real


# What a fresh machine runs first to start from a trained policy (the README's main job).
FIRST_RUN_HINT = ('To start from a trained policy, run `aloe train-sim` first (the main job) '
                  'and pass initial_weights:='
                  '<runs/sim_train-<time>/weights/policy_v000001.safetensors> '
                  'initial_sha256:=<the sha256 in its .json>')


def ensure_weights_dir(weights_dir: str, log) -> None:
    """
    Create a missing weights_dir (a fresh machine), saying so through log; refuse a non-dir.

    An empty directory lets nothing in: the policy still runs only verified weights, and the
    learner writes its first actor there.
    """
    if os.path.isdir(weights_dir):
        return
    if os.path.exists(weights_dir):
        raise ConfigError('weights_dir', f'{weights_dir} exists and is not a directory')
    try:
        os.makedirs(weights_dir)
    except OSError as exc:
        raise ConfigError('weights_dir', f'{weights_dir} does not exist and cannot be created: '
                                         f'{exc.strerror}') from exc
    log(f'weights_dir {weights_dir} did not exist: created it (empty); no chunks until the '
        f'learner publishes its first weights. {FIRST_RUN_HINT}')


class PolicyNode(ManagedNode):
    """
    Publishes action chunks and hot-swaps verified weights between chunks.

    Managed (``ManagedNode``): configure validates the parameters, checks the learner config
    against ``joint_names`` and loads and verifies ``initial_weights``; activate starts
    planning; while inactive no chunk is published (announced weights are still fetched and
    swapped in, so activation runs the newest version).
    """

    def __init__(self, **kwargs):
        """Declare parameters; configure and activate unless ``autostart`` is false."""
        super().__init__('policy', PARAMS, **kwargs)
        self._loader = None
        self.bring_up()

    def configure(self) -> None:
        """Validate parameters, load the initial weights if any, create the interfaces."""
        self.cfg = declare_parameters(self, PARAMS)
        if self.cfg['initial_weights'] and not self.cfg['initial_sha256']:
            raise ConfigError('initial_sha256', 'is required when initial_weights is set')
        ensure_weights_dir(self.cfg['weights_dir'], self.get_logger().info)
        # Torch and the core are imported here, not at module level, so `--help`-style imports
        # of this module (launch validation) stay cheap.
        import torch
        from aloe_ros.learning.config import load_config, model_config_hash
        from aloe_ros.learning.runtime import load_actor
        torch.set_num_threads(self.cfg['torch_threads'])
        try:
            learner_cfg = load_config(self.cfg['learner_config'])
        except Exception as exc:
            raise ConfigError('learner_config', str(exc)) from exc
        self._load_actor = load_actor
        self._expected_hash = model_config_hash(learner_cfg.model)
        self._joint_names = list(self.cfg['joint_names'])
        if learner_cfg.model.action_dim != len(self._joint_names):
            raise ConfigError('joint_names',
                              f'{len(self._joint_names)} names but the model acts in '
                              f'{learner_cfg.model.action_dim} dimensions')

        self._lock = threading.Lock()
        self._runtime = None
        self._pending = None
        # Held while a chunk is computed and while pending weights are swapped in: a swap lands
        # between two chunks, never inside one.
        self._plan_lock = threading.Lock()
        self._schedule = ReplanSchedule(self.cfg['replan_period'])
        self._last_observation_time: Optional[float] = None
        self._chunk_id = 0
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix='weights-loader')
        # Announcements waiting for the loader: only the newest is fetched (a burst of updates
        # does not queue a fetch each).
        self._wanted: Optional[PolicyUpdate] = None
        self._weights_files = None
        if self.cfg['weights_transfer'] == 'ros':
            from aloe_ros.nodes.transfer import RemoteFiles
            self._weights_files = RemoteFiles(self, self.cfg['weights_service'],
                                              self.cfg['weights_fetch_timeout'])

        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('chunks_published', 'observations', 'rejected_observations',
                          'skipped_stale',
                          'updates_received', 'updates_rejected', 'swaps', 'inference_errors',
                          'weights_fetched', 'weight_chunks_refused')
        self._safety_pub = self.create_publisher(SafetyEvent, 'aloe/safety_event', EVENTS)
        self.once = OncePerCause(self.get_logger(), self._on_safety)
        self._chunk_pub = self.create_publisher(ActionChunk, 'aloe/action_chunk', reliable(5))
        self._version_pub = self.create_publisher(UInt32, 'aloe/policy/version', latched(1))

        # Sizes are checked on the serialized bytes, before any conversion. Observations arrive
        # serialized: one is deserialized only when a re-plan is due (most are not).
        self._refuse_observation = self._oversized('Observation', 'rejected_observations')
        self.create_subscription(Observation, 'aloe/observation', self._on_observation_data,
                                 SENSOR_DATA, raw=True)
        subscribe_bounded(self, PolicyUpdate, 'aloe/policy_update', self._on_update, latched(1),
                          SMALL_MESSAGE_BYTES, self._oversized('PolicyUpdate', 'updates_rejected'))
        self._intervening = False
        subscribe_bounded(self, EpisodeEvent, 'aloe/episode_event', self._on_episode, LATCHED,
                          SMALL_MESSAGE_BYTES, self._oversized('EpisodeEvent'))
        subscribe_bounded(self, InterventionState, 'aloe/intervention', self._on_intervention,
                          LATCHED, SMALL_MESSAGE_BYTES, self._oversized('InterventionState'))
        self.create_service(LoadPolicy, 'aloe/policy/load', self._on_load_service)
        # Chunks are computed in the observation callback; this timer only swaps weights while no
        # observations arrive and reports when a due re-plan finds none.
        self.create_timer(self.cfg['replan_period'], self._on_watchdog)

        if self.cfg['initial_weights']:
            try:
                runtime = self._verify_and_load(self.cfg['initial_weights'],
                                                self.cfg['initial_sha256'],
                                                self.cfg['initial_version'], announced=False)
            except Exception as exc:
                raise ConfigError('initial_weights', f'refused: {exc}') from exc
            self._install(runtime)
        else:
            self.once.report('no_weights', 'no weights yet: waiting for a PolicyUpdate; no chunks '
                             'until then', level='info')
        self._publish_version()

    # ------------------------------------------------------------------ weights

    def _verify_and_load(self, uri: str, sha256: str, version: int, announced: bool = True):
        """Check place, checksum and config, then load; raises with the reason on any failure."""
        path = check_inside(uri_to_path(uri), self.cfg['weights_dir'])
        runtime = self._load_actor(path, sha256, self._expected_hash)
        # An announced version must be the file's own: a false high label would block every later
        # update.
        if announced and runtime.version and runtime.version != int(version):
            raise ValueError(f'announced as v{version} but the file holds v{runtime.version}')
        runtime.version = int(version)
        runtime.seed(self.cfg['seed'] + int(version))
        return runtime

    def _install(self, runtime) -> None:
        with self._lock:
            self._runtime = runtime
        self.diag.set('running_version', runtime.version)
        self.get_logger().info(f'running policy v{runtime.version} (sha256 {runtime.sha256[:12]})')
        self.once.clear('no_weights')

    def running_version(self) -> int:
        """Return the version of the weights producing chunks now (0 = none)."""
        with self._lock:
            return self._runtime.version if self._runtime is not None else 0

    def _newest_known_version(self) -> int:
        with self._lock:
            pending = self._pending.version if self._pending is not None else 0
            return max(pending, self._runtime.version if self._runtime is not None else 0)

    def _on_update(self, msg: PolicyUpdate) -> None:
        """Queue a verified background load of announced weights (never blocks inference)."""
        self.diag.count('updates_received')
        if msg.version <= self._newest_known_version():
            self.diag.count('updates_rejected')
            self.get_logger().warning(f'PolicyUpdate v{msg.version} is not newer than '
                                      f'v{self._newest_known_version()}: ignored')
            return
        if msg.config_hash and msg.config_hash != self._expected_hash:
            self.diag.count('updates_rejected')
            self.get_logger().error(f'PolicyUpdate v{msg.version}: config hash '
                                    f'{msg.config_hash[:12]} '
                                    f'differs from this node\'s {self._expected_hash[:12]}: '
                                    'refused')
            return
        with self._lock:
            if self._wanted is None or self._wanted.version < msg.version:
                self._wanted = msg
        self._loader.submit(self._load_wanted)

    def _load_wanted(self) -> None:
        """Loader thread: fetch (weights_transfer: ros) and load the newest announced weights."""
        with self._lock:
            msg, self._wanted = self._wanted, None
        if msg is not None:
            self._background_load(msg.checkpoint_uri, msg.sha256, msg.version)

    def _fetch(self, uri: str, sha256: str) -> str:
        """Return the local path of announced weights, fetched from the learner if not here."""
        from aloe_ros.learning.checkpoint import sha256_file
        from aloe_ros.transfer.chunks import Download, TransferStats, check_item_name, fetch
        name = os.path.basename(uri_to_path(uri))
        local = os.path.join(self.cfg['weights_dir'], name)
        if os.path.exists(local) and sha256_file(local) == sha256.lower():
            return local  # same machine or shared file system: nothing to move
        check_item_name(name, '.safetensors')
        if not sha256:
            raise ValueError('no sha256 announced: nothing to verify a fetch against')
        stats = TransferStats()
        try:
            fetch(lambda offset, n: self._weights_files.read(name, offset, n),
                  Download(local, sha256), self.cfg['weights_chunk_bytes'], stats=stats)
        finally:
            self.diag.count('weight_chunks_refused', stats.refused_chunks)
        self.diag.count('weights_fetched')
        self.get_logger().info(f'fetched {name} from {self.cfg["weights_service"]}: '
                               f'{stats.bytes} bytes in {stats.seconds:.2f} s'
                               + (f', resumed at byte {stats.resumed_from}'
                                  if stats.resumed_from else '')
                               + (f', {stats.refused_chunks} damaged chunks refused and read '
                                  'again' if stats.refused_chunks else ''))
        return local

    def _background_load(self, uri: str, sha256: str, version: int) -> None:
        try:
            if self._weights_files is not None:
                uri = self._fetch(uri, sha256)
            runtime = self._verify_and_load(uri, sha256, version)
        except Exception as exc:  # every refusal reason is reported, none crashes the node
            self.diag.count('updates_rejected')
            self.get_logger().error(f'weights v{version} from {uri} refused: {exc}')
            return
        with self._lock:
            if self._pending is None or self._pending.version < runtime.version:
                self._pending = runtime
        self.get_logger().info(f'weights v{version} verified and loaded; swapping at the next '
                               'chunk')

    def _on_load_service(self, request: LoadPolicy.Request, response: LoadPolicy.Response):
        """Verify and load here (planning waits for it); the swap is at the next chunk."""
        try:
            if request.version <= self._newest_known_version():
                raise ValueError(f'version {request.version} is not newer than '
                                 f'v{self._newest_known_version()}')
            runtime = self._verify_and_load(request.uri, request.sha256, request.version)
        except Exception as exc:
            self.diag.count('updates_rejected')
            response.success = False
            response.message = f'refused: {exc}'
            response.running_version = self.running_version()
            self.get_logger().error(f'LoadPolicy {request.uri}: {response.message}')
            return response
        with self._lock:
            self._pending = runtime
        response.success = True
        response.message = f'v{request.version} verified; runs from the next chunk'
        response.running_version = self.running_version()
        return response

    def _publish_version(self) -> None:
        self._version_pub.publish(UInt32(data=self.running_version()))

    # ------------------------------------------------------------------ chunks

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _oversized(self, kind: str, counter: str = ''):
        """Return the refusal of a ``kind`` message above its byte limit (never deserialized)."""
        return oversized_refusal(self.diag, self.once, kind, counter)

    def _on_observation_data(self, data: bytes) -> None:
        """Plan from this observation at once when a re-plan is due (event-driven re-planning)."""
        self.diag.count('observations')
        now = self._now()
        self._last_observation_time = now
        if not self._schedule.due(now):
            return
        if len(data) > self.cfg['max_observation_bytes']:
            self._refuse_observation(len(data))
            return
        self._on_observation(deserialize_message(data, Observation), now)

    def _on_observation(self, msg: Observation, now: float) -> None:
        """Plan from ``msg``, which arrived at ``now`` when a re-plan was due."""
        with self._plan_lock:
            self._swap_pending()
            if self.active and self._plan(msg, now):
                self._schedule.planned(now)

    def _on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_STARTED:
            with self._plan_lock:
                self._schedule.restart()

    def _on_intervention(self, msg: InterventionState) -> None:
        if self._intervening and not msg.active:
            with self._plan_lock:
                self._schedule.restart()
        self._intervening = bool(msg.active)

    def _on_watchdog(self) -> None:
        """Swap in pending weights while no chunk is planned; report a due re-plan with no obs."""
        with self._plan_lock:
            self._swap_pending()
            now = self._now()
            overdue = self._schedule.overdue(now, self.cfg['max_observation_age'])
            if self.running_version() == 0 or not overdue or not self.active:
                return
            last = self._last_observation_time
            self.diag.count('skipped_stale')
            self.once.report('stale', 'no fresh observation for a due re-plan (last one arrived '
                             + (f'{now - last:.3f} s ago' if last is not None else 'never')
                             + '): no chunk; the executor holds when its chunk runs out')

    def _obs_dict(self, msg: Observation, runtime) -> dict:
        model = runtime.cfg.model
        obs = observation_to_obs(msg, model.cameras)
        for name, arr in obs['images'].items():
            if arr.shape[:2] != tuple(model.image_size):
                raise ValueError(f'camera {name} is {arr.shape[1]}x{arr.shape[0]}, the model '
                                 'wants '
                                 f'{model.image_size[1]}x{model.image_size[0]}: set the '
                                 'observation '
                                 'node\'s image size to the model\'s')
        missing = [c for c in model.cameras if c not in obs['images']]
        if missing:
            raise ValueError(f'observation lacks cameras {missing}')
        if model.extra_state_dim:
            state = obs.get('state')
            if state is None:
                raise ValueError(f'this model needs a task state of {model.extra_state_dim} '
                                 'values (model.extra_state_dim) and the Observation carries '
                                 "none: set the observation node's task_state_topic")
            if state.shape != (model.extra_state_dim,):
                raise ValueError(f'the Observation carries {state.size} task-state values, the '
                                 f'model wants {model.extra_state_dim} (model.extra_state_dim)')
        else:
            obs.pop('state', None)
        return obs

    def _swap_pending(self) -> None:
        """Install verified pending weights (called between chunks, under the plan lock)."""
        with self._lock:
            if self._pending is None:
                return
            self._runtime, self._pending = self._pending, None
            swapped = self._runtime
        self.diag.count('swaps')
        self.diag.set('running_version', swapped.version)
        self.get_logger().info(f'now running policy v{swapped.version}')
        self._publish_version()
        self.once.clear('no_weights')

    def _plan(self, msg: Observation, now: float) -> bool:
        """Publish one chunk computed from ``msg``; return whether one was published."""
        with self._lock:
            runtime = self._runtime
        if runtime is None:
            return False
        age = now - stamp_to_sec(msg.header.stamp)
        if msg.stale or age > self.cfg['max_observation_age']:
            self.diag.count('skipped_stale')
            self.once.report('stale', f'observation is stale (age {age:.3f} s, flag {msg.stale}): '
                                      'no chunk; the executor holds when its chunk runs out')
            return False
        try:
            obs = self._obs_dict(msg, runtime)
            t0 = time.perf_counter()
            chunk = runtime.act(obs)
            latency = time.perf_counter() - t0
        except Exception as exc:
            self.diag.count('inference_errors')
            self.once.report('inference', f'no chunk: {exc}', level='error')
            return False
        self.once.clear('inference', 'inference recovered')
        self._chunk_id += 1
        out = ActionChunk()
        out.header = msg.header
        out.chunk_id = self._chunk_id
        out.policy_version = runtime.version
        out.horizon, out.action_dim = int(chunk.shape[0]), int(chunk.shape[1])
        out.joint_names = self._joint_names
        out.dt = self.cfg['control_period']
        out.actions = np.ascontiguousarray(chunk, dtype=np.float32).reshape(-1).tolist()
        self._chunk_pub.publish(out)
        self.once.clear('stale', 'fresh observations again: producing chunks')
        self.diag.count('chunks_published')
        sent = self._now()
        self.diag.set('inference_ms', latency * 1e3)
        self.diag.set('planning_delay_ms', (sent - now) * 1e3)
        # Latency budget: the planned observation's age when it arrived and when its chunk left.
        self.diag.set('observation_age_ms', age * 1e3)
        self.diag.set('chunk_age_ms', (sent - now + age) * 1e3)
        return True

    def _on_safety(self, level: str, cause: str, message: str) -> None:
        levels = {'info': SafetyEvent.LEVEL_INFO, 'warn': SafetyEvent.LEVEL_WARN,
                  'error': SafetyEvent.LEVEL_ERROR}
        ev = SafetyEvent(level=levels.get(level, SafetyEvent.LEVEL_WARN), node=self.get_name(),
                         kind=SafetyEvent.KIND_STALE_INPUT if cause == 'stale'
                         else SafetyEvent.KIND_HOLD,
                         message=message)
        ev.header.stamp = self.get_clock().now().to_msg()
        self._safety_pub.publish(ev)

    def deactivate(self) -> None:
        """Stop planning: return once a chunk being computed now is out; none follows it."""
        with self._plan_lock:
            pass  # the plan in progress (if any) has ended; later ones see active false

    def release(self) -> None:
        """Stop the loader thread and drop the running weights."""
        if self._loader is not None:
            self._loader.shutdown(wait=False, cancel_futures=True)
            self._loader = None
        self._runtime = None
        self._pending = None

    def destroy_node(self):
        """Stop the loader thread before the node goes."""
        self.release()
        return super().destroy_node()


def main(args=None) -> int:
    """Run the policy node on a single-threaded executor (weights load on the loader thread)."""
    return run_node(PolicyNode, args)


if __name__ == '__main__':
    sys.exit(main())

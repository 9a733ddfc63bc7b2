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
Learner node: ALOE critic + actor over the episode store, versioned weights to the policy.

Every name is relative to the node's namespace (``aloe/policy_update`` is ``/aloe/policy_update``
at the root, ``/station_a/aloe/policy_update`` for a learner launched inside ``station_a``).

Episodes: with ``pull_from`` and ``stations`` empty the learner reads the recorder's store at
``store_root`` (read-only; the same machine, or a shared file system). With ``stations`` listing
station namespaces (``[/station_a, /station_b]``; ``/`` is a station at the root) and/or
``pull_from`` listing recorders' service namespaces (``/aloe/recorder``) it owns ``store_root`` and
pulls into it every complete episode a recorder (``<station>/aloe/recorder`` for each station)
lists and it lacks, over ROS 2 in sha256-checked chunks, resuming a transfer cut by a station that
went away (:mod:`aloe_ros.transfer.episodes`); a station that is not there is retried each
``poll_period`` and never stops the others. Each pulled episode's catalog row names its station
(``station``: the one the recorder wrote into the file, else the station, or ``pull_from``
recorder, it was pulled from) and, in ``reason``, where it was pulled from.

Weights: it trains in iterations on the one store and exports each iteration's actor as
``policy_vNNNNNN.safetensors`` in ``weights_dir`` (atomic write + sha256), announces it on
``aloe/policy_update`` and on every station's ``<station>/aloe/policy_update`` (reliable,
transient-local: a policy node that starts later still gets the newest version) and serves the
file on ``weights_service`` and on every station's ``<station>/aloe/learner/read_weights``
(``aloe_msgs/srv/ReadChunk``), from which a station's policy node, with its default relative
``weights_service``, fetches it into its own ``weights_dir``; the policy verifies the sha256 and
config hash before loading, so a damaged or half-copied file is refused, never run.

An iteration starts when ``episodes_per_iteration`` new episodes are in the store
(``trigger: episodes``) or when a ``TrainIteration`` goal arrives (either trigger). The full
learner state (nets, target critic, optimizers, RNGs, version) is saved after every iteration;
on start the node resumes from it, so a restarted learner continues where it stopped.
Training runs on a worker thread in short slices, so services and status stay responsive.

Data-parallel training: launched by ``torchrun --nproc_per_node N -m aloe_ros.nodes.learner
--ros-args ...`` (``WORLD_SIZE`` > 1), rank 0 is this node (ROS I/O, episode pulls, weights,
checkpoints) and drives ranks 1..N-1, which run no ROS node: they read rank 0's ``store_root``
read-only (same host or a shared mount), ingest exactly the episodes rank 0 announces and train
each step on their shard of the global batch (:mod:`aloe_ros.learning.distributed`). The backend
is NCCL on a machine with CUDA, gloo otherwise (``ALOE_DIST_BACKEND`` overrides it); the learner
config's ``device`` must fit it.

``aloe/evaluate_chunk`` (and the scoring of running chunks) answers only for input the robot
could execute: the chunk's sizes are checked first, in O(1) (horizon and action_dim equal to the
model's, the data length equal to their product; observation data at most
``max_observation_bytes``), then its values: finite and within the joint limits
(``lower_limits``/``upper_limits``, the executor's defaults). Values at most ``limit_tolerance``
outside are clipped (the executor would clip them too) and the answer says so; anything further
out is refused with the joint and value.
"""

import os
import sys
import threading
import time
from typing import Dict, Optional

import numpy as np
from rclpy.action import ActionServer, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node

from aloe_msgs.action import TrainIteration
from aloe_msgs.msg import ActionChunk, ChunkValue, LearnerStatus, Metric, Observation, PolicyUpdate
from aloe_msgs.srv import EvaluateChunk
from aloe_ros.nodes.chunk_executor import _ARM_LOWER, _ARM_UPPER
from aloe_ros.nodes.common import run_node
from aloe_ros.nodes.transfer import (RemoteStation, WEIGHTS_SERVICE, recorder_of,
                                     serve_file_chunks, station_namespaces)
from aloe_ros.nodes.common import (ConfigError, DiagnosticsPublisher, ParamSpec, SENSOR_DATA,
                                   declare_parameters, latched, reliable)
from aloe_ros.station.executor_core import check_limits, sized_chunk
from aloe_ros.storage.convert import observation_to_obs
from aloe_ros.transfer.chunks import directory_server

SLICE = 10  # gradient steps per slice; the lock is released between slices
#: The policy's announcement topic inside a station's namespace.
UPDATE_TOPIC = 'aloe/policy_update'

PARAMS = [
    ParamSpec('learner_config', '', 'Learner YAML (method, model, critic, actor, data)',
              read_only=True,
              allow_empty=False),
    ParamSpec('store_root', '', 'Episode store written by the recorder', read_only=True,
              allow_empty=False),
    ParamSpec('weights_dir', '', 'Where actors and the learner state are written', read_only=True,
              allow_empty=False),
    ParamSpec('trigger', 'episodes', 'episodes: train after episodes_per_iteration new episodes; '
              'action: only on TrainIteration goals', choices=['episodes', 'action']),
    ParamSpec('episodes_per_iteration', 4,
              'New episodes that start an iteration (trigger: episodes)',
              min=1, max=100000),
    ParamSpec('min_episodes', 1, 'Episodes needed before the first iteration', min=1, max=100000),
    ParamSpec('critic_steps', 200, 'Critic gradient steps per iteration', min=0, max=10000000),
    ParamSpec('actor_steps', 200, 'Actor gradient steps per iteration', min=0, max=10000000),
    ParamSpec('resume', True, 'Resume from weights_dir/learner_state.safetensors when present',
              read_only=True),
    ParamSpec('poll_period', 1.0, 'Seconds between store polls', min=0.05, max=60.0),
    ParamSpec('status_period', 1.0, 'Seconds between LearnerStatus messages', min=0.05, max=60.0),
    ParamSpec('evaluate_running_chunks', True,
              'Publish the critic\'s Q, V, A of each new chunk on '
              'aloe/chunk_value (RViz)'),
    ParamSpec('torch_threads', 1, 'CPU threads for training', min=1, max=256, read_only=True),
    ParamSpec('lower_limits', _ARM_LOWER * 2,
              'Lower joint limit per action dimension: chunks further out '
              'are not evaluated [rad | 0..1]', read_only=True),
    ParamSpec('upper_limits', _ARM_UPPER * 2,
              'Upper joint limit per action dimension [rad | 0..1]',
              length_of='lower_limits', read_only=True),
    ParamSpec('limit_tolerance', 0.05,
              'Chunk values at most this far outside the limits are clipped, '
              'further out refused', min=0.0, max=10.0, read_only=True),
    ParamSpec('max_observation_bytes', 64 * 1024 * 1024,
              'Largest observation (image data) evaluated',
              min=1, max=2 ** 40, read_only=True),
    ParamSpec('weights_service', 'aloe/learner/read_weights',
              'ReadChunk service serving the exported actors to policy nodes', read_only=True,
              allow_empty=False),
    ParamSpec('max_chunk_bytes', 4 * 1024 * 1024,
              'Largest chunk served or asked for (weights and episodes)',
              min=1024, max=8 * 1024 * 1024, read_only=True),
    ParamSpec('pull_from', [],
              'Recorders to pull episodes from over ROS 2 (service namespaces, e.g. '
              '/aloe/recorder) into store_root, which the learner then owns; with stations '
              'empty too: read the recorder\'s store_root directly (empty entries are ignored)',
              kind='string_array', read_only=True),
    ParamSpec('stations', [],
              'Station namespaces this learner serves (e.g. [/station_a, /station_b]; / is a '
              'station at the root): it pulls each one\'s episodes from '
              '<station>/aloe/recorder into store_root (as pull_from) and offers every new '
              'version to each one on <station>/aloe/policy_update and '
              '<station>/aloe/learner/read_weights (empty entries are ignored)',
              kind='string_array', read_only=True),
    ParamSpec('pull_timeout', 10.0,
              'Seconds to wait for a recorder\'s service and for each chunk', min=0.1,
              max=600.0, read_only=True),
]
PARAMETERS = {'use_sim_time': False, **{spec.name: spec.default for spec in PARAMS}}


def metrics_to_msgs(metrics: Dict[str, float]):
    """Return a list of aloe_msgs/Metric from a dict (non-finite values kept: they diagnose)."""
    return [Metric(name=str(k), value=float(v)) for k, v in sorted(metrics.items())]


class LearnerNode(Node):
    """ALOE learner over the episode store; publishes versioned, checksummed weights."""

    def __init__(self):
        """Declare parameters, build or resume the trainer, start the worker thread."""
        super().__init__('learner')
        self.cfg = declare_parameters(self, PARAMS)
        self.cfg['pull_from'] = [prefix for prefix in self.cfg['pull_from'] if prefix]
        try:
            self.stations = station_namespaces(self.cfg['stations'])
        except ValueError as exc:
            raise ConfigError('stations', str(exc)) from exc
        # source -> its recorder's service namespace: each station by its name (episodes pulled
        # from it name it as their station), then each pull_from recorder by its namespace
        self._sources = {ns: recorder_of(ns) for ns in self.stations}
        for prefix in self.cfg['pull_from']:
            if prefix not in self._sources.values():
                self._sources[prefix] = prefix
        import torch
        from aloe_ros.learning.config import load_config
        from aloe_ros.learning.trainer import AloeTrainer, STATE_FILE
        from aloe_ros.storage.store import EpisodeStore, StoreLockedError
        torch.set_num_threads(self.cfg['torch_threads'])
        try:
            self.learner_cfg = load_config(self.cfg['learner_config'])
        except Exception as exc:
            raise ConfigError('learner_config', str(exc)) from exc
        os.makedirs(self.cfg['weights_dir'], exist_ok=True)
        if not os.path.isdir(self.cfg['store_root']):
            os.makedirs(self.cfg['store_root'], exist_ok=True)
        if len(self.cfg['lower_limits']) != self.learner_cfg.model.action_dim:
            raise ConfigError('lower_limits',
                              f"has {len(self.cfg['lower_limits'])} entries, the model's "
                              f'action_dim is {self.learner_cfg.model.action_dim}')
        self._lower = np.asarray(self.cfg['lower_limits'], dtype=float)
        self._upper = np.asarray(self.cfg['upper_limits'], dtype=float)
        try:
            self.store = EpisodeStore(self.cfg['store_root'],
                                      mode='w' if self._sources else 'r')
        except StoreLockedError as exc:
            raise ConfigError('store_root', f'{exc}: with pull_from or stations set the learner '
                              'owns its store; give it its own directory') from exc
        from aloe_ros.learning.distributed import DataParallel, LeadTrainer
        self.parallel = DataParallel.from_env()
        if self.parallel is None:
            self.trainer = AloeTrainer(self.learner_cfg, self.store)
        else:
            try:
                self.trainer = LeadTrainer(self.learner_cfg, self.store, self.parallel,
                                           self.cfg['store_root'],
                                           torch_threads=self.cfg['torch_threads'])
            except ValueError as exc:
                raise ConfigError('learner_config', str(exc)) from exc
            self.get_logger().info(
                f'data-parallel: rank 0 of {self.parallel.world_size} '
                f'({self.parallel.backend}), global batch {self.learner_cfg.data.batch_size}')
        state = os.path.join(self.cfg['weights_dir'], STATE_FILE)
        if self.cfg['resume'] and os.path.exists(state):
            try:
                self.trainer.load_state(self.cfg['weights_dir'])
            except Exception as exc:
                raise ConfigError('resume',
                                  f'cannot resume from {state}: {exc} (move it away to start '
                                  'fresh)') from exc
            self.get_logger().info(f'resumed learner state at v{self.trainer.version} from '
                                   f'{state}')
        self._lock = threading.Lock()
        self._state = LearnerStatus.STATE_WAITING_FOR_DATA
        self._iteration = 0
        self._episodes_at_last_iteration = 0
        self._metrics: Dict[str, float] = {}
        self._message = 'waiting for episodes'
        self._ups = 0.0
        self._stop = threading.Event()
        # One iteration at a time, whether the store trigger or a TrainIteration goal started it.
        self._iteration_lock = threading.Lock()
        self._latest_obs: Optional[Observation] = None

        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('iterations', 'exports', 'evaluations', 'evaluation_errors',
                          'train_errors', 'episodes_pulled', 'bytes_pulled')
        # One latched PolicyUpdate publisher per distinct topic: its own, then each station's.
        self._update_pubs = {}
        for topic in [UPDATE_TOPIC] + [f'{ns.rstrip("/")}/{UPDATE_TOPIC}' for ns in self.stations]:
            resolved = self.resolve_topic_name(topic)
            if resolved not in self._update_pubs:
                self._update_pubs[resolved] = self.create_publisher(PolicyUpdate, topic,
                                                                    latched(1))
        self._status_pub = self.create_publisher(LearnerStatus, 'aloe/learner_status',
                                                 reliable(10))
        self._value_pub = self.create_publisher(ChunkValue, 'aloe/chunk_value', reliable(10))
        group = ReentrantCallbackGroup()
        self.create_service(EvaluateChunk, 'aloe/evaluate_chunk', self._on_evaluate,
                            callback_group=group)
        self.create_subscription(Observation, 'aloe/observation', self._on_observation,
                                 SENSOR_DATA,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        if self.cfg['evaluate_running_chunks']:
            self.create_subscription(ActionChunk, 'aloe/action_chunk', self._on_chunk,
                                     reliable(5),
                                     callback_group=MutuallyExclusiveCallbackGroup())
        self._action = ActionServer(self, TrainIteration, 'aloe/train_iteration',
                                    self._execute_goal,
                                    goal_callback=lambda _g: GoalResponse.ACCEPT,
                                    callback_group=group)
        self.create_timer(self.cfg['status_period'], self._publish_status)
        if self.trainer.version > 0:
            self._announce_existing()
        weights = directory_server(self.cfg['weights_dir'], '.safetensors',
                                   self.cfg['max_chunk_bytes'], prefix='policy_v')
        self.weights_services = []
        for name in [self.cfg['weights_service']] + [f'{ns.rstrip("/")}/{WEIGHTS_SERVICE}'
                                                     for ns in self.stations]:
            resolved = self.resolve_service_name(name)
            if resolved not in self.weights_services:
                serve_file_chunks(self, name, weights, callback_group=group)
                self.weights_services.append(resolved)
        if self.stations:
            self.get_logger().info(
                f'serving {len(self.stations)} stations {self.stations}: episodes pulled from '
                f'{sorted(self._sources.values())}, versions announced on '
                f'{sorted(self._update_pubs)}, weights served on {self.weights_services}')
        self._puller = None
        if self._sources:
            # SIGTERM shuts the context down before destroy_node: stop pulling then, so a
            # station call failing on the dead context is not reported as the station gone
            self.context.on_shutdown(self._stop.set)
            self._puller_thread = threading.Thread(target=self._pull_loop, name='learner-puller',
                                                   daemon=True)
            self._puller = self._make_puller()
            self._puller_thread.start()
        self._worker = threading.Thread(target=self._loop, name='learner-worker', daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ episodes over ROS 2

    def _make_puller(self):
        from aloe_ros.transfer.episodes import EpisodePuller
        stations = {source: RemoteStation(self, prefix, self.cfg['pull_timeout'])
                    for source, prefix in self._sources.items()}
        return EpisodePuller(
            self.store, lambda source: stations[source].list_episodes(),
            lambda source, item, offset, n: stations[source].files.read(item, offset, n),
            chunk_bytes=self.cfg['max_chunk_bytes'], log=self.get_logger().info)

    def _pull_loop(self) -> None:
        """Puller thread: every poll_period, pull what each station has and the store lacks."""
        while not self._stop.is_set():
            for source in self._sources:
                if self._stop.is_set():
                    break
                try:
                    pulled = self._puller.pull(source, stop=self._stop.is_set)
                # a store error (disk full) is reported and retried, never ends the pulls
                except Exception as exc:
                    self.get_logger().error(f'pulling from {source} failed: '
                                            f'{type(exc).__name__}: {exc}; retrying after the '
                                            'next poll')
                    continue
                for result in pulled:
                    self.diag.count('episodes_pulled')
                    self.diag.count('bytes_pulled', result.bytes)
                    self.diag.set('last_pull_mb_per_s', result.mb_per_s)
            self.diag.set('stations_unreachable', len(self._puller.unreachable))
            self._stop.wait(self.cfg['poll_period'])

    # ------------------------------------------------------------------ training

    def _announce_existing(self) -> None:
        """Re-announce the newest exported actor after a restart (the policy may restart too)."""
        from aloe_ros.learning.checkpoint import actor_filename, sha256_file
        path = os.path.join(self.cfg['weights_dir'], actor_filename(self.trainer.version))
        if os.path.exists(path):
            self._publish_update(path, sha256_file(path), self.trainer.version, {})

    def _publish_update(self, path: str, sha256: str, version: int,
                        metrics: Dict[str, float]) -> None:
        msg = PolicyUpdate(version=int(version), checkpoint_uri='file://' + os.path.abspath(path),
                           sha256=sha256, config_hash=self.learner_cfg.config_hash(),
                           metrics=metrics_to_msgs(metrics))
        msg.header.stamp = self.get_clock().now().to_msg()
        for pub in self._update_pubs.values():
            pub.publish(msg)
        self.get_logger().info(f'published policy v{version} ({os.path.basename(path)}, '
                               f'sha256 {sha256[:12]}) on {sorted(self._update_pubs)}')

    def _loop(self) -> None:
        """Worker: poll the store, run an iteration when triggered."""
        while not self._stop.is_set():
            try:
                with self._lock:
                    self.trainer.refresh()
                n = len(self.trainer.replay.episode_ids)
                due = (self.cfg['trigger'] == 'episodes' and n >= self.cfg['min_episodes']
                       and n
                       - self._episodes_at_last_iteration >= self.cfg['episodes_per_iteration'])
                if due:
                    with self._iteration_lock:
                        self.run_iteration(self.cfg['critic_steps'], self.cfg['actor_steps'])
                elif n < self.cfg['min_episodes']:
                    self._state = LearnerStatus.STATE_WAITING_FOR_DATA
                    self._message = f'{n} episodes, need {self.cfg["min_episodes"]}'
            # the robot keeps its last policy; the error is reported, not fatal
            except Exception as exc:
                self.diag.count('train_errors')
                self._state = LearnerStatus.STATE_ERROR
                self._message = f'{type(exc).__name__}: {exc}'
                self.get_logger().error(f'learner iteration failed: {self._message}; retrying '
                                        'after the '
                                        'next poll')
            self._stop.wait(self.cfg['poll_period'])

    def run_iteration(self, critic_steps: int, actor_steps: int,
                      feedback=None) -> Dict[str, float]:
        """Train critic then actor in slices, save state, export and announce the new actor."""
        self._state = LearnerStatus.STATE_TRAINING
        self._iteration += 1
        self._message = f'iteration {self._iteration}'
        t0 = time.monotonic()
        acc: Dict[str, list] = {}
        for phase, total in (('critic', critic_steps), ('actor', actor_steps)):
            done = 0
            while done < total and not self._stop.is_set():
                n = min(SLICE, total - done)
                with self._lock:
                    m = self.trainer.train(n if phase == 'critic' else 0, n if phase == 'actor'
                                           else 0)
                done += n
                for k, v in m.items():
                    acc.setdefault(k, []).append(v)
                self._metrics = {k: float(v) for k, v in m.items()}
                if feedback is not None:
                    feedback(phase, done, total, self._metrics)
        skip = ('critic_steps', 'actor_steps')
        metrics = {k: float(np.mean(v)) for k, v in acc.items() if k not in skip}
        elapsed = max(time.monotonic() - t0, 1e-6)
        self._ups = (critic_steps + actor_steps) / elapsed
        self._state = LearnerStatus.STATE_EXPORTING
        with self._lock:
            info = self.trainer.export(self.cfg['weights_dir'])
            self.trainer.save_state(self.cfg['weights_dir'])
        self._episodes_at_last_iteration = len(self.trainer.replay.episode_ids)
        metrics['iteration_seconds'] = elapsed
        self._metrics = metrics
        self._publish_update(info.path, info.sha256, info.version, metrics)
        self.diag.count('iterations')
        self.diag.count('exports')
        self.diag.set('policy_version', info.version)
        self._state = LearnerStatus.STATE_IDLE
        self._message = f'exported v{info.version} after iteration {self._iteration}'
        return metrics

    def _execute_goal(self, handle):
        """Run one iteration now for a TrainIteration goal, with progress feedback."""
        goal = handle.request
        critic = goal.critic_steps or self.cfg['critic_steps']
        actor = goal.actor_steps or self.cfg['actor_steps']

        def feedback(phase, step, total, metrics):
            handle.publish_feedback(TrainIteration.Feedback(
                phase=phase, step=step, total_steps=total, metrics=metrics_to_msgs(metrics)))
        result = TrainIteration.Result()
        with self._iteration_lock:
            try:
                with self._lock:
                    self.trainer.refresh()
                if len(self.trainer.replay.episode_ids) < self.cfg['min_episodes']:
                    raise RuntimeError(f'{len(self.trainer.replay.episode_ids)} episodes in the '
                                       'store, '
                                       f'need {self.cfg["min_episodes"]}')
                metrics = self.run_iteration(critic, actor, feedback)
            except Exception as exc:
                handle.abort()
                result.success = False
                result.message = f'{type(exc).__name__}: {exc}'
                return result
        handle.succeed()
        result.success = True
        result.message = self._message
        result.policy_version = self.trainer.version
        result.metrics = metrics_to_msgs(metrics)
        return result

    # ------------------------------------------------------------------ critic queries

    def _evaluate(self, obs_msg: Observation, actions, horizon: int, action_dim: int) -> dict:
        model = self.learner_cfg.model
        # Sizes first, in O(1): an oversized request costs nothing but this check.
        nbytes = sum(len(image.data) for image in obs_msg.images)
        if nbytes > self.cfg['max_observation_bytes'] or len(obs_msg.position) > 1024 \
                or len(obs_msg.gripper) > 1024:
            raise ValueError(f'observation too large ({nbytes} image bytes, '
                             f'{len(obs_msg.position)} '
                             f'positions; limit {self.cfg["max_observation_bytes"]} bytes)')
        clipped = 0
        if len(actions):
            table = sized_chunk(actions, horizon, action_dim, model.horizon, model.action_dim)
            if horizon != model.horizon:
                raise ValueError(f'chunk: horizon {horizon}, the critic evaluates {model.horizon}')
            table, clipped = check_limits(table, self._lower, self._upper,
                                          self.cfg['limit_tolerance'])
        obs = observation_to_obs(obs_msg, model.cameras)
        if not np.all(np.isfinite(obs['proprio'])):
            raise ValueError('observation has non-finite joint positions or grippers')
        with self._lock:
            if len(actions) == 0:
                from aloe_ros.learning.runtime import obs_to_batch
                batch = obs_to_batch(self.trainer.acting_policy, self.learner_cfg, obs)
                chunk = self.trainer.acting_policy.sample(batch)[0].detach().numpy()
            else:
                chunk = table.astype(np.float32)
            out = self.trainer.evaluate(obs, chunk)
        out['clipped'] = clipped
        values = np.asarray([out['q'], out['v'], out['adv'], *out['q_heads']], dtype=float)
        if not np.all(np.isfinite(values)):
            raise FloatingPointError('the critic produced a non-finite value for this input')
        return out

    def _on_evaluate(self, request: EvaluateChunk.Request, response: EvaluateChunk.Response):
        """Q per head, aggregated Q, V and A for an observation and a chunk."""
        try:
            out = self._evaluate(request.observation, request.actions, request.horizon,
                                 request.action_dim)
        except Exception as exc:
            self.diag.count('evaluation_errors')
            response.success = False
            response.message = f'{type(exc).__name__}: {exc}'
            return response
        self.diag.count('evaluations')
        response.success = True
        if out['clipped']:
            response.message = (f"{out['clipped']} values within limit_tolerance outside the "
                                "joint limits "
                                'were clipped into them (as the executor would) before evaluation')
        response.q_heads = [float(v) for v in out['q_heads']]
        response.q, response.v = float(out['q']), float(out['v'])
        response.advantage = float(out['adv'])
        return response

    def _on_observation(self, msg: Observation) -> None:
        self._latest_obs = msg

    def _on_chunk(self, msg: ActionChunk) -> None:
        """Score the chunk the robot is about to run (skipped while training holds the lock)."""
        obs = self._latest_obs
        if obs is None or self.trainer.critic is None or not self.trainer.normalized:
            return
        if self._state == LearnerStatus.STATE_TRAINING:
            return  # the critic is mid-iteration; scoring resumes after the export
        try:
            out = self._evaluate(obs, msg.actions, msg.horizon, msg.action_dim)
        except Exception as exc:
            self.diag.count('evaluation_errors')
            self.get_logger().debug(f'chunk {msg.chunk_id} not evaluated: {exc}')
            return
        value = ChunkValue(chunk_id=msg.chunk_id, policy_version=msg.policy_version,
                           q=float(out['q']),
                           v=float(out['v']), advantage=float(out['adv']),
                           q_heads=[float(v) for v in out['q_heads']])
        value.header = msg.header
        self._value_pub.publish(value)

    # ------------------------------------------------------------------ status

    def _publish_status(self) -> None:
        msg = LearnerStatus(state=self._state, policy_version=self.trainer.version,
                            iteration=self._iteration,
                            gradient_steps=self.trainer.critic_updates
                            + self.trainer.actor_updates,
                            num_episodes=len(self.trainer.replay.episode_ids),
                            num_transitions=len(self.trainer.replay), updates_per_second=self._ups,
                            metrics=metrics_to_msgs(self._metrics), message=self._message)
        msg.header.stamp = self.get_clock().now().to_msg()
        self._status_pub.publish(msg)
        self.diag.set('episodes', msg.num_episodes)
        self.diag.set('state', self._message)

    def destroy_node(self):
        """Stop the worker (it finishes its current slice) before the node goes."""
        self._stop.set()
        if self._worker.is_alive():
            self._worker.join(timeout=30)
        if self._puller is not None and self._puller_thread.is_alive():
            self._puller_thread.join(timeout=30)
        if self.parallel is not None:
            self.trainer.stop()  # the follower ranks leave the group and exit
        self.store.close()
        return super().destroy_node()


def main(args=None) -> int:
    """Run the learner on a multi-threaded executor (under torchrun: ranks > 0 follow rank 0)."""
    from aloe_ros.learning.distributed import env_world_size, run_follower
    if env_world_size() > 1 and int(os.environ.get('RANK', '0')) > 0:
        return run_follower()
    return run_node(LearnerNode, args, threads=4)


if __name__ == '__main__':
    sys.exit(main())

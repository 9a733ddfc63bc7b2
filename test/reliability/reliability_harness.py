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
Shared plumbing of the reliability tests and benches: node processes, a driver node, weights.

Used by ``test/reliability`` and by ``bench/bench_faults.py`` / ``bench/bench_soak.py`` (which put
this folder on ``sys.path``), so a bench measures exactly what the CI tests check.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TINY_CONFIG = os.path.join(HERE, 'tiny_learner.yaml')
OTHER_CONFIG = os.path.join(HERE, 'tiny_learner_other.yaml')
#: Seconds a new client spins after its service looks ready, before its first request (call()).
DISCOVERY_SETTLE = 1.0

JOINTS = [f'{side}_{j}' for side in ('left', 'right')
          for j in ('waist', 'shoulder', 'elbow', 'forearm_roll', 'wrist_angle', 'wrist_rotate',
                    'gripper')]
ARM_JOINTS = [n for n in JOINTS if 'gripper' not in n]


def _param(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(_param(v) if not isinstance(v, str) else f"'{v}'"
                              for v in value) + ']'
    if isinstance(value, str):
        return value
    return repr(value)


class NodeProcess:
    """
    One aloe node as an OS process: ``python -m <module> --ros-args -p k:=v ...``.

    ``namespace`` runs it under that namespace (``-r __ns:=/station_a``, as a launch file's
    ``push-ros-namespace`` does); ``remaps`` adds ``-r from:=to`` rules.
    """

    def __init__(self, module, params=None, log_path=None, namespace=None, remaps=None):
        """Start the process with its output in ``log_path``."""
        self.module = module
        self.namespace = namespace
        self.remaps = dict(remaps or {})
        self.params = dict(params or {})
        self.log_path = log_path
        self._log = None
        self.proc = None
        self.start()

    def start(self):
        """(Re)start the process with the same parameters; the log is appended to."""
        args = [sys.executable, '-m', self.module, '--ros-args']
        if self.namespace:
            args += ['-r', f'__ns:=/{self.namespace.strip("/")}']
        for src, dst in self.remaps.items():
            args += ['-r', f'{src}:={dst}']
        for key, value in self.params.items():
            args += ['-p', f'{key}:={_param(value)}']
        self._log = open(self.log_path, 'a')
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=dict(os.environ))

    @property
    def pid(self):
        """Return the process id."""
        return self.proc.pid

    def alive(self):
        """Return whether the process still runs."""
        return self.proc.poll() is None

    def output(self, tail=4000):
        """Return the last ``tail`` characters the process printed."""
        self._log.flush()
        with open(self.log_path) as f:
            return f.read()[-tail:]

    def kill9(self):
        """SIGKILL the process (no clean-up of any kind) and reap it."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log.close()

    def stop(self, sig=signal.SIGTERM, timeout=60.0):
        """Send ``sig``, wait (SIGKILL after ``timeout``); return the exit code."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode

    def rss_mb(self):
        """Return the resident set size [MB] from /proc/<pid>/status (None when gone)."""
        return rss_mb(self.pid)


def rss_mb(pid):
    """Return VmRSS of ``pid`` in MB, or None when the process is gone."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class Driver:
    """A test-side rclpy node in a private context: publishers, collectors, service calls."""

    def __init__(self, name='reliability_driver'):
        """Init a private context, node and single-threaded executor."""
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f'{name}_{os.getpid()}', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._settled_clients = set()

    def now(self):
        """Return the driver's ROS time in seconds."""
        return self.node.get_clock().now().nanoseconds * 1e-9

    def stamp(self, offset=0.0):
        """Return a builtin_interfaces/Time at now + ``offset``."""
        from aloe_ros.nodes.common import sec_to_stamp
        return sec_to_stamp(self.now() + offset)

    def spin_for(self, seconds, every=None, period=0.02):
        """Process callbacks for ``seconds``, calling ``every()`` each ``period`` s."""
        self.spin_until(lambda: False, seconds, every, period)

    def spin_until(self, predicate, timeout=10.0, every=None, period=0.02):
        """Spin until ``predicate()``; call ``every()`` each ``period`` s. Return the predicate."""
        end = time.monotonic() + timeout
        next_call = 0.0
        while time.monotonic() < end:
            if every is not None and time.monotonic() >= next_call:
                every()
                next_call = time.monotonic() + period
            self.executor.spin_once(timeout_sec=0.005)
            if predicate():
                return True
        return bool(predicate())

    def collect(self, msg_type, topic, qos, keep=None):
        """Subscribe; return the list every message (or ``keep(msg)``) is appended to."""
        received = []
        cb = received.append if keep is None else (lambda m: received.append(keep(m)))
        self.node.create_subscription(msg_type, topic, cb, qos)
        return received

    def call(self, client, request, timeout=20.0, every=None):
        """
        Call a service and return the response (None on timeout).

        A client's first request waits ``DISCOVERY_SETTLE`` s (spinning) after the service looks
        ready. Ready means this side discovered the server; the server learns of the client's
        response reader separately, and rmw_fastrtps drops a response to a reader it has not
        discovered after waiting 100 ms ("failed to send response (timeout)"). Under a CPU hog
        that came later than a StartEpisode request, which the recorder then executed without the
        caller ever hearing of it. Nothing on this side can observe the server's discovery, so
        the settle is a margin, not a guarantee.
        """
        if not self.spin_until(client.service_is_ready, timeout, every):
            return None
        if id(client) not in self._settled_clients:
            self.spin_for(DISCOVERY_SETTLE, every)
            self._settled_clients.add(id(client))
        future = client.call_async(request)
        self.spin_until(future.done, timeout, every)
        return future.result() if future.done() else None

    def close(self):
        """Destroy the node and shut the private context down."""
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def diag_counter(diags, name_contains, key):
    """Return the largest integer value of ``key`` in the ``name_contains`` status of ``diags``."""
    best = 0
    for msg in diags:
        for status in msg.status:
            if name_contains in status.name:
                for kv in status.values:
                    if kv.key == key:
                        try:
                            best = max(best, int(float(kv.value)))
                        except ValueError:
                            pass
    return best


def diag_sum(diags, name_contains, prefix):
    """Return the sum over keys starting with ``prefix`` (rates excluded) of the newest report."""
    for msg in reversed(diags):
        for status in msg.status:
            if name_contains in status.name:
                return sum(int(float(kv.value)) for kv in status.values
                           if kv.key.startswith(prefix) and not kv.key.endswith('_rate'))
    return 0


def recorded_steps(root, episode_id):
    """
    Return how many ExecutedSteps of the open episode ``episode_id`` are on disk under ``root``.

    Reads the recorder's ``.partial`` (made durable every ``flush_period``, 0.5 s by default), so
    a test can wait until the recorder has taken every step it published before it ends the
    episode, instead of sleeping a fixed time that a loaded machine may overrun. Only accepted
    steps are written, so the count never includes a refused one.
    """
    import glob
    from aloe_ros.storage.episode_file import read_partial
    from aloe_ros.storage.store import STEP_TOPIC
    pattern = os.path.join(root, 'episodes', '*', episode_id, episode_id + '_0.mcap.partial')
    for path in glob.glob(pattern):
        try:
            return sum(m[0] == STEP_TOPIC for m in read_partial(path).messages)
        except OSError:  # renamed away (the episode ended) between glob and open
            return 0
    return 0


def wait_recorded(driver, root, episode_id, n, timeout=120.0, every=None):
    """Spin until the recorder has ``n`` steps of ``episode_id`` on disk; return whether it has."""
    state = {'next': 0.0, 'n': 0}

    def enough():  # the file is read at most every 0.1 s, not on every spin
        if time.monotonic() >= state['next']:
            state['n'] = recorded_steps(root, episode_id)
            state['next'] = time.monotonic() + 0.1
        return state['n'] >= n
    return driver.spin_until(enough, timeout, every)


def sha256_of(path):
    """Return the sha256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def synthetic_episode(episode_id, steps=30, seed=0):
    """Return a small proprio-only Episode (policy then human steps, success)."""
    from aloe_ros.learning.episode import OUTCOME_SUCCESS, SOURCE_HUMAN, SOURCE_POLICY
    from aloe_ros.storage import make_episode
    rng = np.random.default_rng(seed)
    sources = np.full(steps, SOURCE_POLICY, np.uint8)
    sources[steps // 2:] = SOURCE_HUMAN
    return make_episode(episode_id, actions=rng.normal(scale=0.1, size=(steps, 14)),
                        proprio=rng.normal(scale=0.1, size=(steps, 14)), sources=sources,
                        policy_versions=np.where(sources == SOURCE_POLICY, 1, 0),
                        outcome=OUTCOME_SUCCESS,
                        task='handover', instruction='', seed=seed)


def noise_camera_episode(episode_id, steps, seed, cameras=('cam_high',), size=(96, 128)):
    """
    Return a successful policy Episode whose cameras are uniform noise (incompressible frames).

    ``size`` is (height, width); each step carries one such frame per camera, so an episode's
    bytes are known in advance (transfer tests and bench_transfer).
    """
    from aloe_ros.learning.episode import OUTCOME_SUCCESS, SOURCE_POLICY
    from aloe_ros.storage import make_episode
    rng = np.random.default_rng(seed)
    return make_episode(episode_id, actions=rng.normal(size=(steps, 14)),
                        proprio=rng.normal(size=(steps, 14)),
                        sources=np.full(steps, SOURCE_POLICY, np.uint8),
                        policy_versions=np.ones(steps, np.uint32),
                        images={c: rng.integers(0, 256, (steps, size[0], size[1], 3),
                                                dtype=np.uint8)
                                for c in cameras},
                        outcome=OUTCOME_SUCCESS, task='handover', seed=seed)


def make_weights(out_dir, config_path=TINY_CONFIG, versions=1):
    """Export ``versions`` actors of ``config_path`` to ``out_dir``; return the last's info."""
    from aloe_ros.learning.config import load_config
    from aloe_ros.learning.episode import InMemoryEpisodeSource
    from aloe_ros.learning.trainer import AloeTrainer
    os.makedirs(out_dir, exist_ok=True)
    trainer = AloeTrainer(load_config(config_path),
                          InMemoryEpisodeSource([synthetic_episode('w0')]))
    trainer.refresh()
    info = None
    for _ in range(versions):
        info = trainer.export(out_dir)
    return info


def observation_msg(driver, position=None, gripper=(0.5, 0.5), stale=False):
    """Return an aloe_msgs/Observation stamped now (12 arm joints + 2 grippers, no images)."""
    from aloe_msgs.msg import Observation
    pos = list(position) if position is not None else [0.0] * 12
    msg = Observation(joint_names=ARM_JOINTS, position=pos, velocity=[0.0] * 12,
                      gripper=list(gripper),
                      stale=stale)
    msg.header.stamp = driver.stamp()
    return msg


def executor_limits():
    """Return (lower, upper, vmax) arrays of the executor's default limits in action order."""
    from aloe_ros.nodes.chunk_executor import _ARM_LOWER, _ARM_UPPER, _ARM_VMAX
    return np.array(_ARM_LOWER * 2), np.array(_ARM_UPPER * 2), np.array(_ARM_VMAX * 2)


class CommandMonitor:
    """
    Checks every command the executor publishes against its position and velocity limits.

    Collects the per-arm JointTrajectory commands and the ExecutedStep stream; ``violations``
    lists every command outside ``[lower, upper]`` or moving more than ``v_max * dt`` (plus a
    tiny tolerance) from the previous executed step, unless it lies that close to the measured
    pose the same step reports (a resync: RUN after the robot was moved while holding).
    """

    def __init__(self, driver, dt=0.02, tol=1e-6):
        """Subscribe to the command topics of both arms and to /aloe/executed_step."""
        from aloe_msgs.msg import ExecutedStep
        from trajectory_msgs.msg import JointTrajectory
        from aloe_ros.nodes.common import COMMANDS, reliable
        self.lower, self.upper, self.vmax = executor_limits()
        self.dt = dt
        self.tol = tol
        self.violations = []
        self.steps = []
        self.arrivals = []  # wall time [s] each step arrived here (same clock as driver.now())
        self.commands = {'left': [], 'right': []}
        for arm, sl in (('left', slice(0, 7)), ('right', slice(7, 14))):
            driver.node.create_subscription(
                JointTrajectory, f'/{arm}_arm_controller/joint_trajectory',
                lambda m, a=arm, s=sl: self._on_command(a, s, m), COMMANDS)
        driver.node.create_subscription(ExecutedStep, '/aloe/executed_step', self._on_step,
                                        reliable(200))

    def _on_command(self, arm, sl, msg):
        if len(msg.points) != 1 or len(msg.points[0].positions) != 7:
            self.violations.append(f'{arm}: malformed command {msg}')
            return
        pos = np.array(msg.points[0].positions)
        self.commands[arm].append(pos)
        if not np.all(np.isfinite(pos)) or np.any(pos < self.lower[sl] - self.tol) \
                or np.any(pos > self.upper[sl] + self.tol):
            self.violations.append(f'{arm}: command {pos.tolist()} outside the position limits')

    def _on_step(self, msg):
        action = np.array(msg.action)
        if action.shape != (14,) or not np.all(np.isfinite(action)) \
                or np.any(action < self.lower
                          - self.tol) or np.any(action > self.upper + self.tol):
            self.violations.append(f'step {msg.step_index}: action {action.tolist()} outside the '
                                   'limits')
        elif self.steps:
            # a step lost on the way to this monitor (reliable history overrun under load) spans
            # ticks; across a relabelled episode (the index restarts) the stamps say how many
            prev = self.steps[-1]
            restarted = int(msg.step_index) <= int(prev.step_index)
            if restarted:
                from aloe_ros.nodes.common import stamp_to_sec
                gap = stamp_to_sec(msg.header.stamp) - stamp_to_sec(prev.header.stamp)
                ticks = max(int(round(gap / self.dt)), 1)
            else:
                ticks = int(msg.step_index) - int(prev.step_index)
            jump = np.abs(action - np.array(prev.action))
            step_max = ticks * self.vmax * self.dt + self.tol
            # The executor's one exception (executor_core): RUN after the robot was moved while
            # holding restarts from the measured pose, which this step reports.
            measured = np.array(msg.observed_position)
            resynced = measured.shape == action.shape and np.all(
                np.abs(action - np.clip(measured, self.lower, self.upper)) <= step_max)
            if np.any(jump > step_max) and not resynced:
                self.violations.append(
                    f'step {msg.step_index} (after step {prev.step_index}'
                    f'{", index restarted" if restarted else ""}): jump {jump.max():.4f} above '
                    f'v_max*dt over {ticks} tick(s)')
        self.steps.append(msg)
        self.arrivals.append(time.time())

    def stamp_lags(self, first=0):
        """Return arrival time minus stamp [s] of the steps from index ``first`` on."""
        from aloe_ros.nodes.common import stamp_to_sec
        return np.array([t - stamp_to_sec(s.header.stamp)
                         for s, t in zip(self.steps[first:], self.arrivals[first:])])

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
Run a LaunchPlan: one OS process per node, prefixed output, signal forwarding, no orphans.

Every child starts in its own session (process group), so a signal to the group reaches the
node and anything it spawned. Shutdown (SIGINT/SIGTERM to us, or a required process exiting):
forward the signal to every group, escalate to SIGTERM after ``sigterm_timeout`` and to
SIGKILL after ``sigkill_timeout``, then kill whatever is left in each group.
"""

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import yaml

from aloe_ros.launch_tools.errors import LaunchError

_PR_SET_PDEATHSIG = 1


def _death_signal_setter():
    """Return a preexec function making the kernel SIGTERM the child if the runner dies (Linux)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec():
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    return preexec


class _Child:
    """Bookkeeping for one ProcessSpec: current Popen, restarts, output thread."""

    def __init__(self, spec, argv, env):
        self.spec = spec
        self.argv = argv
        self.env = env
        self.popen = None
        self.starts = 0
        self.respawn_at = None
        self.returncode = None
        self.reader = None


class LaunchRunner:
    """Start the processes of a plan and supervise them until shutdown."""

    def __init__(self, plan, resolver, out=None, sigterm_timeout=5.0, sigkill_timeout=5.0,
                 poll_s=0.05):
        """Resolve every executable up front so nothing starts when one is missing."""
        self.plan = plan
        self.out = out or sys.stdout
        self.sigterm_timeout = sigterm_timeout
        self.sigkill_timeout = sigkill_timeout
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._shutdown_signal = None
        self._preexec = _death_signal_setter()
        self.children = []
        self._params_dir = None
        for spec in plan.processes:
            if spec.kind == 'node':
                exe = resolver.executable(spec.package, spec.executable, spec.source)
                argv = spec.command(exe, self._write_inline_parameters(spec))
                extra_env = resolver.source_env(spec.package)
            else:
                argv = spec.command()
                extra_env = {}
            env = dict(os.environ)
            env.update(extra_env)
            for key, value in spec.env.items():
                if value is None:
                    env.pop(key, None)
                else:
                    env[key] = value
            env.setdefault('PYTHONUNBUFFERED', '1')
            self.children.append(_Child(spec, argv, env))

    def _write_inline_parameters(self, spec):
        """Write each inline param entry of spec to its own file, as ros2 launch does."""
        files = {}
        for index, (kind, params) in enumerate(spec.param_entries):
            if kind == 'file' and not os.path.isfile(params):
                raise LaunchError(f'{spec.label}: parameter file not found: {params} (ros2 launch '
                                  f'would warn and start the node without it)', spec.source)
            if kind != 'inline':
                continue
            if self._params_dir is None:
                self._params_dir = tempfile.mkdtemp(prefix='aloe_launch_params_')
            fd, path = tempfile.mkstemp(prefix=f'{spec.label}_', suffix='.yaml',
                                        dir=self._params_dir)
            with os.fdopen(fd, 'w', encoding='utf-8') as stream:
                yaml.safe_dump(spec.inline_document(params), stream, default_flow_style=False)
            files[index] = path
        return files

    def log(self, message):
        """Write one runner message, serialised with the children's output."""
        with self._lock:
            self.out.write(f'[aloe launch] {message}\n')
            self.out.flush()

    def request_shutdown(self, signum=signal.SIGINT):
        """Ask the supervise loop to shut everything down, forwarding signum first."""
        if self._shutdown_signal is None:
            self._shutdown_signal = signum

    def _start(self, child):
        spec = child.spec
        try:
            child.popen = subprocess.Popen(
                child.argv, env=child.env, cwd=spec.cwd or None, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=self._preexec)
        except OSError as exc:
            raise LaunchError(f'cannot start {spec.label}: {exc}', spec.source) from None
        child.starts += 1
        child.respawn_at = None
        child.returncode = None
        self.log(f'started {spec.label} [pid {child.popen.pid}]'
                 + (f' (restart {child.starts - 1})' if child.starts > 1 else ''))
        child.reader = threading.Thread(target=self._pump, args=(child.popen, spec.label),
                                        daemon=True)
        child.reader.start()

    def _pump(self, popen, label):
        for raw in iter(popen.stdout.readline, b''):
            line = raw.decode(errors='replace').rstrip('\n')
            with self._lock:
                self.out.write(f'[{label}] {line}\n')
                self.out.flush()
        popen.stdout.close()

    def run(self, install_signal_handlers=True):
        """
        Start everything, supervise, shut down; return 0, or 1 when a required node failed.

        A process with ``on_exit: shutdown`` that exits shuts the whole launch down (also when
        it has respawn set, as under ros2 launch); otherwise a process with respawn is
        restarted after respawn_delay. The launch also ends when no process
        is left running or waiting to respawn.
        """
        previous = {}
        if install_signal_handlers:
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, lambda s, _f: self.request_shutdown(s))
        status = 0
        try:
            for child in self.children:
                if self._shutdown_signal is not None:
                    break
                self._start(child)
            status = self._supervise()
        finally:
            self._shutdown()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            if self._params_dir is not None:
                shutil.rmtree(self._params_dir, ignore_errors=True)
        return status

    def _supervise(self):
        while self._shutdown_signal is None:
            now = time.monotonic()
            alive = False
            for child in self.children:
                if child.popen is None:
                    continue
                if child.respawn_at is not None:
                    if now >= child.respawn_at:
                        self._start(child)
                    alive = True
                    continue
                code = child.popen.poll()
                if code is None:
                    alive = True
                    continue
                if child.returncode is not None:
                    continue
                child.returncode = code
                self._kill_group_leftovers(child.popen.pid)
                spec = child.spec
                self.log(f'{spec.label} exited with {_describe(code)}')
                if spec.required:
                    self.log(f'{spec.label} has on_exit: shutdown: shutting down the launch')
                    self._shutdown_signal = signal.SIGINT
                    return 1 if code != 0 else 0
                if spec.respawn:
                    child.respawn_at = now + spec.respawn_delay
                    self.log(f'respawning {spec.label} in {spec.respawn_delay:g} s')
                    alive = True
            if not alive:
                self.log('all processes have exited')
                return 0
            time.sleep(self.poll_s)
        self.log(f'received {signal.Signals(self._shutdown_signal).name}: shutting down')
        return 0

    def _running(self):
        return [c for c in self.children if c.popen is not None and c.popen.poll() is None]

    def _signal_all(self, signum, children):
        for child in children:
            try:
                os.killpg(child.popen.pid, signum)
            except (ProcessLookupError, PermissionError):
                pass

    def _wait(self, timeout):
        deadline = time.monotonic() + timeout
        while self._running() and time.monotonic() < deadline:
            time.sleep(self.poll_s)
        return self._running()

    def _shutdown(self):
        first = self._shutdown_signal or signal.SIGINT
        running = self._running()
        if running:
            self._signal_all(first, running)
            running = self._wait(self.sigterm_timeout)
        if running and first != signal.SIGTERM:
            self.log('still running after ' + f'{self.sigterm_timeout:g} s: '
                     + ', '.join(c.spec.label for c in running) + '; sending SIGTERM')
            self._signal_all(signal.SIGTERM, running)
            running = self._wait(self.sigkill_timeout)
        if running:
            self.log('still running: ' + ', '.join(c.spec.label for c in running)
                     + '; sending SIGKILL')
            self._signal_all(signal.SIGKILL, running)
            self._wait(self.sigkill_timeout)
        for child in self.children:
            if child.popen is not None:
                child.popen.wait()
                self._kill_group_leftovers(child.popen.pid)
                if child.reader is not None:
                    child.reader.join(timeout=1.0)

    def _kill_group_leftovers(self, pgid):
        """SIGKILL what is left in a child's group after its leader exited (grandchildren)."""
        for pid in _group_members(pgid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _group_members(pgid):
    members = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat', encoding='ascii', errors='replace') as stream:
                fields = stream.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != 'Z':
            members.append(int(entry))
    return members


def _describe(code):
    if code < 0:
        try:
            return f'signal {signal.Signals(-code).name}'
        except ValueError:
            return f'signal {-code}'
    return f'code {code}'

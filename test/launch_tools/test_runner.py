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

"""Real runs of ``aloe launch``: shutdown on signals without orphans, required nodes, respawn."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

FIXTURES = pathlib.Path(__file__).resolve().parent / 'fixtures'


def alive(pid):
    """Return whether pid exists and is not a zombie."""
    try:
        with open(f'/proc/{pid}/stat') as stream:
            return stream.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def recorded(pid_dir, prefix=''):
    """Return {file name: [pids]} written by worker.py."""
    return {p.name: [int(x) for x in p.read_text().split()]
            for p in pathlib.Path(pid_dir).iterdir() if p.name.startswith(prefix)
            and p.read_text()}


def start(launch_env, tmp_path, mode, *extra):
    pid_dir = tmp_path / 'pids'
    pid_dir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, '-m', 'aloe_ros.launch_tools.cli', str(FIXTURES / 'run.launch.yaml'),
         f'mode:={mode}', f'pid_dir:={pid_dir}', *extra],
        env=launch_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc, pid_dir


def wait_for(predicate, timeout=120.0):
    """Poll ``predicate``; generous by default (a launch starts slowly on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_signal_shuts_down_everything(launch_env, tmp_path, signum):
    proc, pid_dir = start(launch_env, tmp_path, 'steady')
    try:
        assert wait_for(lambda: recorded(pid_dir, 'sleeper')), 'sleeper never started'
        pids = [p for ps in recorded(pid_dir).values() for p in ps]
        assert len(pids) == 2 and all(alive(p) for p in pids)
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert '[sleeper] sleeper up, ros args: -r __node:=sleeper --params-file ' in out
    # Inline parameters reach the node as a parameter file, written before start (as Jazzy does).
    assert "[sleeper] sleeper params file: /**: ros__parameters: rate: 50" in out
    # An orphan lives on (the workers sleep 120 s): 30 s tells one from a slow exit under load.
    assert wait_for(lambda: not any(alive(p) for p in pids), 30.0), f'orphans left: {pids}'


def test_required_process_exit_fails_launch(launch_env, tmp_path):
    proc, pid_dir = start(launch_env, tmp_path, 'crash')
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, out
    assert 'crasher exited with code 3' in out
    assert 'crasher has on_exit: shutdown: shutting down the launch' in out
    pids = [p for ps in recorded(pid_dir).values() for p in ps]
    assert wait_for(lambda: not any(alive(p) for p in pids), 30.0)


def test_respawn_restarts_process(launch_env, tmp_path):
    proc, pid_dir = start(launch_env, tmp_path, 'respawn')
    try:
        assert wait_for(lambda: len(recorded(pid_dir, 'phoenix')) >= 3), 'phoenix not respawned'
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert 'respawning phoenix in 0.1 s' in out


def test_escalates_to_sigkill(launch_env, tmp_path):
    proc, pid_dir = start(launch_env, tmp_path, 'stubborn', '--sigterm-timeout', '0.5',
                          '--sigkill-timeout', '0.5')
    try:
        assert wait_for(lambda: recorded(pid_dir, 'stubborn'))
        pids = [p for ps in recorded(pid_dir).values() for p in ps]
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert 'sending SIGKILL' in out
    assert wait_for(lambda: not any(alive(p) for p in pids), 30.0)


def test_missing_executable_starts_nothing(launch_env, tmp_path, fake_prefix):
    os.remove(fake_prefix / 'lib' / 'fake_pkg' / 'worker')
    proc, pid_dir = start(launch_env, tmp_path, 'steady')
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "executable 'worker' of package 'fake_pkg' not found" in out
    assert not recorded(pid_dir)

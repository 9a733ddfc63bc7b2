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
Callback errors in a real process (``run_node``): ordinary ones survived, FatalNodeError ends.

An ordinary exception in a callback is logged, counted and survived; FatalNodeError ends the
node with exit code 1 and says why.
"""

import os

import pytest
from std_msgs.msg import String

from aloe_ros.nodes.common import reliable

pytestmark = pytest.mark.ros


def test_a_raising_callback_is_logged_counted_and_survived_and_fatal_ends_it(
        driver, start_node, monkeypatch):
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        [here] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    proc = start_node('raising_node')
    pub = driver.node.create_publisher(String, '/t14/raise', reliable(10))
    echoes = driver.collect(String, '/t14/echo', reliable(10))

    def send(text):
        pub.publish(String(data=text))
    # Start-up under a CPU hog can take a minute: wait until the node answers at all.
    assert driver.spin_until(lambda: echoes, 300, every=lambda: send('hello')), proc.output()
    for _ in range(3):
        send('value')
    assert driver.spin_until(lambda: '(3 so far)' in proc.output(), 120), proc.output()
    out = proc.output()
    assert 'callback raised ValueError: bad payload' in out and 'Traceback' in out, out
    n = len(echoes)
    assert driver.spin_until(lambda: len(echoes) > n, 60, every=lambda: send('after')), out
    assert proc.alive() and echoes[-1].data == 'after'
    send('fatal')
    assert driver.spin_until(lambda: not proc.alive(), 120), proc.output()
    out = proc.output()
    assert proc.stop() == 1, out
    assert 'fatal: FatalNodeError: told to stop; exiting (code 1)' in out, out

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
A stand-in managed node (test_lifecycle_manager.py): a LifecycleNode that says what it did.

Every transition callback publishes ``<node> <transition> <ok|failed> <monotonic ns>`` on
``lifecycle_events`` (std_msgs/String, latched), so the test sees the order across processes.
``fail_configure`` / ``fail_activate``: how many of the first configure / activate calls fail
(the callback returns FAILURE, as a node whose parameters or weights do not load would).
"""

import sys
import time

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from std_msgs.msg import String

from aloe_ros.nodes.common import latched, run_node


class LifecycleStandIn(LifecycleNode):
    """Succeeds or fails each transition as its parameters say; publishes each one."""

    def __init__(self):
        """Declare the failure counts and the event publisher."""
        super().__init__('lifecycle_standin')
        self.fail = {'configure': self.declare_parameter('fail_configure', 0).value,
                     'activate': self.declare_parameter('fail_activate', 0).value}
        self.calls = {'configure': 0, 'activate': 0}
        self.events = self.create_publisher(String, 'lifecycle_events', latched(50))

    def _transition(self, name: str) -> TransitionCallbackReturn:
        self.calls[name] = self.calls.get(name, 0) + 1
        ok = self.calls[name] > self.fail.get(name, 0)
        self.events.publish(String(data=f'{self.get_name()} {name} {"ok" if ok else "failed"} '
                                        f'{time.monotonic_ns()}'))
        return TransitionCallbackReturn.SUCCESS if ok else TransitionCallbackReturn.FAILURE

    def on_configure(self, state):
        """Configure, unless one of the first ``fail_configure`` calls."""
        return self._transition('configure')

    def on_activate(self, state):
        """Activate, unless one of the first ``fail_activate`` calls."""
        return self._transition('activate')

    def on_deactivate(self, state):
        """Deactivate."""
        return self._transition('deactivate')

    def on_cleanup(self, state):
        """Clean up."""
        return self._transition('cleanup')


def main():
    """Run the stand-in."""
    sys.exit(run_node(LifecycleStandIn))


if __name__ == '__main__':
    main()

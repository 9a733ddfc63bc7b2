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
A test node under ``run_node`` whose callback raises on command (test_callback_errors.py).

On ``/t14/raise`` (std_msgs/String): ``value`` raises ValueError, ``fatal`` raises
FatalNodeError; anything else is echoed on ``/t14/echo``.
"""

import sys

from rclpy.node import Node
from std_msgs.msg import String

from aloe_ros.nodes.common import FatalNodeError, reliable, run_node


class RaisingNode(Node):
    """Echo strings; raise what the payload names."""

    def __init__(self):
        super().__init__('raising_node')
        self.echo = self.create_publisher(String, '/t14/echo', reliable(10))
        self.create_subscription(String, '/t14/raise', self._on_msg, reliable(10))

    def _on_msg(self, msg):
        if msg.data == 'value':
            raise ValueError('bad payload')
        if msg.data == 'fatal':
            raise FatalNodeError('told to stop')
        self.echo.publish(msg)


def main():
    sys.exit(run_node(RaisingNode))


if __name__ == '__main__':
    main()

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
The station's own logic, ROS-free: executor, teleop, ingestion, image conversions, chunk FK.

The node shells in ``aloe_ros.nodes`` convert messages and call these modules; everything here is
tested without a ROS graph.

``StationClient`` (the scriptable client of a running station) is the one ROS piece reachable
from here: it lives in :mod:`aloe_ros.station_client` and is imported only when first named, so
``import aloe_ros.station`` stays ROS-free.
"""


def __getattr__(name):
    """Import ``StationClient`` (rclpy) on first use only."""
    if name == 'StationClient':
        from aloe_ros.station_client import StationClient
        return StationClient
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')

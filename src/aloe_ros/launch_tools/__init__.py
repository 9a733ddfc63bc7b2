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
ROS-free runner and static checker for ROS 2 YAML launch files (``*.launch.yaml``).

The same files run under real ``ros2 launch`` on a robot and under ``aloe launch`` here,
where the ROS launch tools cannot be installed. See docs/LAUNCH.md for the supported subset.
"""

from aloe_ros.launch_tools.errors import LaunchError
from aloe_ros.launch_tools.loader import load_launch
from aloe_ros.launch_tools.packages import PackageResolver
from aloe_ros.launch_tools.plan import LaunchPlan, ProcessSpec
from aloe_ros.launch_tools.runner import LaunchRunner
from aloe_ros.launch_tools.validate import validate_launch_file

__all__ = [
    'LaunchError', 'LaunchPlan', 'LaunchRunner', 'PackageResolver', 'ProcessSpec',
    'load_launch', 'validate_launch_file',
]

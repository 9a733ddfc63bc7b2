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
Moving files between machines over ROS 2, ROS-free: chunked, resumable, sha256-verified.

``chunks`` serves a file by (offset, length) and assembles one on the other side, refusing any
chunk whose sha256 is wrong and any file whose whole-file sha256 is wrong; ``episodes`` decides
which of a station's episodes a learner still needs and pulls them into its own store. The node
shells in :mod:`aloe_ros.nodes.transfer` carry the requests and replies as ROS services.
"""

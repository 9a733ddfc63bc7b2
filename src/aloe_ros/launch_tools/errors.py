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

"""The one exception type of the launch tools."""


class LaunchError(Exception):
    """A launch file is invalid, or cannot be resolved or run; the message names the file."""

    def __init__(self, message, path=None):
        """Prefix the message with the launch file it concerns, when known."""
        self.path = str(path) if path is not None else None
        super().__init__(f'{self.path}: {message}' if self.path else message)

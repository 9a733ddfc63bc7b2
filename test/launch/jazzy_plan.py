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
Print, as JSON, the processes the real ROS 2 launch would start for a launch file.

Usage: ``python jazzy_plan.py FILE [name:=value ...]``. Runs the file through
``launch.LaunchService`` exactly as ``ros2 launch`` does (an IncludeLaunchDescription of the
file with the arguments), but replaces the coroutine that spawns each process with one that
records what would have been spawned. Run in its own process: importing launch reconfigures
logging. Exit status 0 with the plan on stdout, or the launch service's non-zero status.
"""

import json
import sys

import launch
from launch.actions.execute_local import ExecuteLocal
from launch.launch_description_sources import AnyLaunchDescriptionSource
import yaml

RECORDS = []


async def _record_instead_of_spawning(self, context):
    details = self.process_details
    on_exit = getattr(self, '_ExecuteLocal__on_exit')
    RECORDS.append({
        'cmd': list(details['cmd']),
        'cwd': details['cwd'],
        'on_exit_shutdown': isinstance(on_exit, list)
        and any(type(a).__name__ == 'Shutdown' for a in on_exit),
        'respawn': bool(getattr(self, '_ExecuteLocal__respawn')),
        'node_name': getattr(self, 'node_name', None),
        'param_documents': _param_documents(details['cmd']),
    })
    getattr(self, '_ExecuteLocal__completed_future').set_result(None)


def _param_documents(cmd):
    """Read every --params-file of cmd (Jazzy writes inline params to temporary files)."""
    docs = []
    for flag, value in zip(cmd, cmd[1:]):
        if flag == '--params-file':
            with open(value, encoding='utf-8') as stream:
                docs.append(yaml.load(stream, Loader=yaml.FullLoader))
    return docs


def main(argv):
    """Run the launch file of argv[0] with name:=value arguments; print the recorded plan."""
    path, arguments = argv[0], [a.split(':=', 1) for a in argv[1:]]
    setattr(ExecuteLocal, '_ExecuteLocal__execute_process', _record_instead_of_spawning)
    service = launch.LaunchService(argv=argv[1:], noninteractive=True)
    service.include_launch_description(launch.LaunchDescription([
        launch.actions.IncludeLaunchDescription(AnyLaunchDescriptionSource(path),
                                                launch_arguments=[tuple(a) for a in arguments]),
    ]))
    status = service.run()
    if status != 0:
        return status
    print(json.dumps(RECORDS, default=list))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

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
launch_pytest: ``sim.launch.yaml`` through the real ROS 2 launch, as a lab's launch test does.

Not collected by the project's pytest run (launch_pytest's plugin needs pytest < 9): run by
test/launch/test_launch_pytest.py with the pytest and launch_pytest that
scripts/install_jazzy_launch.sh puts in ``.launch-pytest/``. Asserts that the station's topics
flow (``/joint_states``, ``/aloe/observation``, ``/aloe/executed_step``) and that killing the
chunk executor takes the whole launch down (its ``on_exit: shutdown``).
"""

import os
import signal
import tempfile
import time

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import AnyLaunchDescriptionSource
import launch_pytest
import pytest

DEADLINE_S = float(os.environ.get('ALOE_LAUNCH_TEST_DEADLINE', '600'))


def _aloe_processes():
    """Return ``{pid: executable name}`` of this package's node processes (lib/aloe_ros/aloe_*)."""
    found = {}
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            continue
        for arg in argv[:3]:
            name = os.path.basename(arg.decode(errors='replace'))
            if '/lib/aloe_ros/' in arg.decode(errors='replace') and name.startswith('aloe_'):
                found[int(pid)] = name
    return found


def _alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return False


@launch_pytest.fixture
def sim_launch():
    """sim.launch.yaml as its header shows it here (no robot_state_publisher), small images."""
    tmp = tempfile.mkdtemp(prefix='aloe_launch_pytest_')
    path = os.path.join(get_package_share_directory('aloe_ros'), 'launch', 'sim.launch.yaml')
    args = {'use_rsp': 'false', 'store_root': os.path.join(tmp, 'store'),
            'weights_dir': os.path.join(tmp, 'weights'), 'image_height': '96',
            'image_width': '128', 'camera_rate_hz': '10.0'}
    return LaunchDescription([
        IncludeLaunchDescription(AnyLaunchDescriptionSource(path),
                                 launch_arguments=list(args.items())),
        launch_pytest.actions.ReadyToTest(),
    ])


@pytest.mark.launch(fixture=sim_launch)
def test_station_topics_flow_and_the_executor_takes_the_launch_down():
    import rclpy
    from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    from aloe_msgs.msg import ExecutedStep, Observation

    rclpy.init()
    node = rclpy.create_node('aloe_launch_pytest_probe')
    counts = {'/joint_states': 0, '/aloe/observation': 0, '/aloe/executed_step': 0}

    def counter(topic):
        def count(_msg):
            counts[topic] += 1
        return count

    reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    node.create_subscription(JointState, '/joint_states', counter('/joint_states'), reliable)
    node.create_subscription(Observation, '/aloe/observation', counter('/aloe/observation'),
                             qos_profile_sensor_data)
    node.create_subscription(ExecutedStep, '/aloe/executed_step',
                             counter('/aloe/executed_step'), reliable)
    try:
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end and min(counts.values()) < 5:
            rclpy.spin_once(node, timeout_sec=0.5)
        assert min(counts.values()) >= 5, counts
    finally:
        node.destroy_node()
        rclpy.shutdown()

    nodes = _aloe_processes()
    executors = [pid for pid, name in nodes.items() if name == 'aloe_chunk_executor']
    assert len(executors) == 1, nodes
    others = [pid for pid in nodes if pid not in executors]
    assert {'aloe_sim', 'aloe_observation', 'aloe_policy', 'aloe_recorder'} <= set(
        nodes.values()), nodes
    os.kill(executors[0], signal.SIGKILL)
    end = time.monotonic() + 120
    while time.monotonic() < end and any(_alive(pid) for pid in others):
        time.sleep(0.5)
    left = {pid: nodes[pid] for pid in others if _alive(pid)}
    assert not left, f'still running 120 s after the executor died: {left}'

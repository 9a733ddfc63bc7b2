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
Station joint states node: the arms' JointState topics -> one ``/joint_states``, URDF names.

Thin shell around ``aloe_ros.station.joint_state_merge.JointStateMerger``. On a real station
nothing else publishes the combined joint state robot_state_publisher, RViz and the recorder's
``/tf`` need (the sim and Gazebo's joint_state_broadcaster do; do not run it there).

Subscribes: every joint-state source of the robot profile (JointState, sensor data).
Publishes: ``/joint_states`` (JointState, reliable 10) on every arrival once each source has
delivered; ``/diagnostics`` at 1 Hz. A malformed message is dropped, counted and reported once
per source until that source is clean again.
"""

import sys

from rclpy.node import Node
from sensor_msgs.msg import JointState

from aloe_ros.nodes.common import (ConfigError, DiagnosticsPublisher, load_robot_profile,
                                   OncePerCause, ParamSpec, SENSOR_DATA, declare_parameters,
                                   reliable, run_node, sec_to_stamp, stamp_to_sec)
from aloe_ros.station.joint_state_merge import JointStateMerger

PARAMS = [
    ParamSpec('robot_profile', '', 'robot profile YAML (config/robots/): the joint-state topics '
              'and their URDF names (urdf_prefix, urdf_names)', read_only=True,
              allow_empty=False),
]
PARAMETERS = {'use_sim_time': False, **{spec.name: spec.default for spec in PARAMS}}


class StationJointStatesNode(Node):
    """Merges the profile's joint-state sources into /joint_states."""

    def __init__(self, **kwargs):
        """Load the profile, subscribe to every source, create the publisher."""
        super().__init__('station_joint_states', **kwargs)
        self.p = declare_parameters(self, PARAMS)
        profile = load_robot_profile(self.p, PARAMS, ())
        try:
            self.merger = JointStateMerger(profile)
        except ValueError as exc:
            raise ConfigError('robot_profile', str(exc)) from exc
        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('published', 'rejected')
        self.once = OncePerCause(self.get_logger())
        self.pub = self.create_publisher(JointState, 'joint_states', reliable(10))
        for k, source in enumerate(profile.sources):
            self.create_subscription(JointState, source.topic,
                                     lambda m, k=k: self._on_joints(k, m), SENSOR_DATA)
        self.get_logger().info(
            f'/joint_states from {[s.topic for s in profile.sources]} (robot profile '
            f'{profile.name!r}); waiting for every source')

    def _on_joints(self, index: int, msg: JointState) -> None:
        topic = self.merger.profile.sources[index].topic
        try:
            self.merger.add(index, list(msg.name), msg.position, msg.velocity, msg.effort,
                            stamp_to_sec(msg.header.stamp))
            combined = self.merger.combined()
        except ValueError as exc:
            self.diag.count('rejected')
            self.once.report(topic, f'{exc}: dropped (counted in /diagnostics)')
            return
        self.once.clear(topic, f'{topic}: valid again')
        if combined is None:
            self.diag.set('waiting_for', ','.join(self.merger.waiting_for()) or '-')
            return
        out = JointState(name=combined.name, position=combined.position,
                         velocity=combined.velocity, effort=combined.effort)
        out.header.stamp = sec_to_stamp(combined.stamp)
        self.pub.publish(out)
        self.diag.count('published')
        self.diag.set('waiting_for', '-')
        self.diag.set_status(DiagnosticsPublisher.OK, 'publishing')


def main(args=None):
    """Run the station joint states node."""
    sys.exit(run_node(StationJointStatesNode, args))


if __name__ == '__main__':
    main()

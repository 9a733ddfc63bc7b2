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
RViz helper node: the running chunk, the critic's view of it and who is in control, as markers.

Publishes ``/aloe/viz/markers`` (visualization_msgs/MarkerArray, frame ``world``):

- ``chunk/<side>``: LINE_STRIP of each arm's tool point along the newest ActionChunk (URDF FK),
  coloured by the critic's advantage of that chunk (green A > 0, red A < 0, grey unknown);
- ``value``: TEXT with policy version, chunk id, Q, V and A (from /aloe/chunk_value);
- ``control``: TEXT ``POLICY`` or ``HUMAN (<device>: <reason>)`` from /aloe/intervention.
"""

import sys
from typing import Optional

import numpy as np
from geometry_msgs.msg import Point
from rclpy.node import Node
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from aloe_msgs.msg import ActionChunk, ChunkValue, InterventionState
from aloe_ros.nodes.common import (ConfigError, DiagnosticsPublisher, ParamSpec,
                                   declare_parameters, latched)
from aloe_ros.nodes.common import reliable, run_node

PARAMS = [
    ParamSpec('urdf', '', 'Robot URDF (the one robot_state_publisher uses)', read_only=True,
              allow_empty=False),
    ParamSpec('frame_id', 'world', 'Frame of the markers (the URDF root)', read_only=True),
    ParamSpec('advantage_scale', 0.1, 'Advantage at which the path colour saturates', min=1e-6,
              max=1e6),
]
PARAMETERS = {'use_sim_time': False, **{spec.name: spec.default for spec in PARAMS}}


def advantage_color(adv: Optional[float], scale: float) -> ColorRGBA:
    """Green for positive, red for negative advantage, grey when the critic has not scored it."""
    if adv is None or not np.isfinite(adv):
        return ColorRGBA(r=0.6, g=0.6, b=0.6, a=0.9)
    x = float(np.clip(adv / scale, -1.0, 1.0))
    return ColorRGBA(r=float(min(1.0, 1.0 - x)), g=float(min(1.0, 1.0 + x)), b=0.1, a=0.9)


class VizNode(Node):
    """Turns chunks, chunk values and intervention state into RViz markers."""

    def __init__(self):
        """Load the URDF for FK and subscribe."""
        super().__init__('aloe_viz')
        self.cfg = declare_parameters(self, PARAMS)
        from aloe_ros.station.viz import ChunkFK
        try:
            self.fk = ChunkFK(self.cfg['urdf'])
        except Exception as exc:
            raise ConfigError('urdf', f'cannot load {self.cfg["urdf"]}: {exc}') from exc
        self.diag = DiagnosticsPublisher(self)
        self.diag.declare('chunks', 'rejected_chunks')
        self.pub = self.create_publisher(MarkerArray, 'aloe/viz/markers', reliable(5))
        self.create_subscription(ActionChunk, 'aloe/action_chunk', self._on_chunk, reliable(5))
        self.create_subscription(ChunkValue, 'aloe/chunk_value', self._on_value, reliable(10))
        self.create_subscription(InterventionState, 'aloe/intervention', self._on_intervention,
                                 latched(10))
        self._paths = None
        self._chunk_id = 0
        self._value: Optional[ChunkValue] = None
        self._control = 'POLICY'

    def _on_chunk(self, msg: ActionChunk) -> None:
        try:
            if msg.action_dim != 14 or len(msg.actions) != msg.horizon * msg.action_dim:
                raise ValueError(f'{len(msg.actions)} values for {msg.horizon} x {msg.action_dim}')
            chunk = np.asarray(msg.actions, dtype=float).reshape(msg.horizon, msg.action_dim)
            if not np.all(np.isfinite(chunk)):
                raise ValueError('non-finite actions')
            self._paths = self.fk.tcp_paths(chunk)
        except ValueError as exc:
            self.diag.count('rejected_chunks')
            self.get_logger().warning(f'chunk {msg.chunk_id} not shown: {exc}',
                                      throttle_duration_sec=5.0)
            return
        self._chunk_id = msg.chunk_id
        self.diag.count('chunks')
        self._publish()

    def _on_value(self, msg: ChunkValue) -> None:
        self._value = msg
        self._publish()

    def _on_intervention(self, msg: InterventionState) -> None:
        self._control = f'HUMAN ({msg.device}: {msg.reason})' if msg.active else 'POLICY'
        self._publish()

    def _marker(self, ns: str, mid: int, kind: int) -> Marker:
        m = Marker(ns=ns, id=mid, type=kind, action=Marker.ADD)
        m.header.frame_id = self.cfg['frame_id']
        m.header.stamp = self.get_clock().now().to_msg()
        m.pose.orientation.w = 1.0
        return m

    def _publish(self) -> None:
        out = MarkerArray()
        current = self._value is not None and self._value.chunk_id == self._chunk_id
        value = self._value if current else None
        color = advantage_color(value.advantage if value else None, self.cfg['advantage_scale'])
        if self._paths is not None:
            for i, (side, path) in enumerate(self._paths.items()):
                m = self._marker('chunk', i, Marker.LINE_STRIP)
                m.scale.x = 0.006
                m.color = color
                m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in path]
                out.markers.append(m)
        text = self._marker('value', 0, Marker.TEXT_VIEW_FACING)
        text.pose.position.z = 0.75
        text.scale.z = 0.04
        text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        text.text = (f'chunk {self._chunk_id} v{value.policy_version}: Q={value.q:.3f} '
                     f'V={value.v:.3f} '
                     f'A={value.advantage:+.3f}' if value
                     else f'chunk {self._chunk_id}: not scored yet')
        out.markers.append(text)
        control = self._marker('control', 0, Marker.TEXT_VIEW_FACING)
        control.pose.position.z = 0.82
        control.scale.z = 0.05
        human = self._control != 'POLICY'
        control.color = ColorRGBA(r=1.0 if human else 0.2, g=0.3 if human else 1.0, b=0.2, a=1.0)
        control.text = self._control
        out.markers.append(control)
        self.pub.publish(out)


def main(args=None) -> int:
    """Run the viz node."""
    return run_node(VizNode, args)


if __name__ == '__main__':
    sys.exit(main())

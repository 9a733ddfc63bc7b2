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

"""ament_python package aloe_ros (src layout)."""

from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'aloe_ros'

# One entry per ROS node or tool; `ros2 run aloe_ros <name>` finds them in lib/aloe_ros.
CONSOLE_SCRIPTS = [
    'aloe = aloe_ros.cli:main',
    'smoke_graph = aloe_ros.nodes.smoke_graph:main',
    'aloe_observation = aloe_ros.nodes.observation:main',
    'aloe_chunk_executor = aloe_ros.nodes.chunk_executor:main',
    'aloe_teleop = aloe_ros.nodes.teleop:main',
    'aloe_recorder = aloe_ros.nodes.recorder:main',
    'aloe_policy = aloe_ros.nodes.policy:main',
    'aloe_learner = aloe_ros.nodes.learner:main',
    'aloe_sim = aloe_ros.nodes.sim_node:main',
    'aloe_viz = aloe_ros.nodes.viz:main',
    'aloe_joint_states = aloe_ros.nodes.station_joint_states:main',
    'aloe_lifecycle_manager = aloe_ros.nodes.lifecycle_manager:main',
]


def tree(folder):
    """Return data_files entries installing every file under folder to share/aloe_ros/folder."""
    entries = []
    for root, _dirs, files in os.walk(folder):
        if files:
            entries.append((os.path.join('share', PACKAGE, root),
                            [os.path.join(root, f) for f in files]))
    return entries


setup(
    name=PACKAGE,
    version='0.1.0',
    package_dir={'': 'src'},
    packages=find_packages(where='src', exclude=['aloe_msgs*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        *tree('launch'), *tree('config'), *tree('urdf'), *tree('rviz'),
    ] + ([('share/' + PACKAGE + '/meshes', glob('meshes/*'))] if glob('meshes/*') else []),
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='aloe_ros maintainers',
    maintainer_email='maintainers@aloe-ros.dev',
    description='ALOE human-in-the-loop post-training for chunked bimanual policies on ROS 2.',
    license='Apache-2.0',
    entry_points={'console_scripts': CONSOLE_SCRIPTS},
)

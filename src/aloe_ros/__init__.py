# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""aloe_ros: ALOE human-in-the-loop post-training for chunked bimanual policies on ROS 2."""

__version__ = '0.1.0'

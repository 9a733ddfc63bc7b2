# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""The station's own logic, ROS-free: executor, teleop, ingestion, image conversions, chunk FK.

The node shells in ``aloe_ros.nodes`` convert messages and call these modules; everything here is
tested without a ROS graph.
"""

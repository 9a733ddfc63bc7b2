# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Session-wide test set-up: an isolated ROS domain and headless rendering."""

import os
import random

# Each pytest session gets its own DDS domain so concurrent runs on one machine never cross-talk.
# Set before any test module imports rclpy; subprocesses inherit it through os.environ.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 100)))
os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('PYTHONUNBUFFERED', '1')

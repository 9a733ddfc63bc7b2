# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Shared fixtures of the sim tests: offscreen rendering on the CPU (EGL)."""

import os

os.environ.setdefault('MUJOCO_GL', 'egl')

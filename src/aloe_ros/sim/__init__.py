# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""MuJoCo bimanual simulation, scripted expert and simulated operator (no rclpy)."""

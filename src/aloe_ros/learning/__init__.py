# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""ALOE learning core (no rclpy): episodes, transitions, replay, models, critic, actor update, trainer.

Modules are imported explicitly (``from aloe_ros.learning.trainer import AloeTrainer``) so that
``aloe_ros.learning.episode`` stays importable without torch.
"""

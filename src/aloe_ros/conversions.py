# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Moved to ``aloe_ros.station.conversions``; this alias keeps ``train_sim`` importing until it is updated.

``train_sim.py`` is being changed on another branch (issue 14 keeps its hands off it); when that
branch imports ``aloe_ros.station.conversions``, delete this module.
"""

from aloe_ros.station.conversions import resize  # noqa: F401

__all__ = ['resize']

# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""The one exception type of the launch tools."""


class LaunchError(Exception):
    """A launch file is invalid, or cannot be resolved or run; the message names the file."""

    def __init__(self, message, path=None):
        """Prefix the message with the launch file it concerns, when known."""
        self.path = str(path) if path is not None else None
        super().__init__(f'{self.path}: {message}' if self.path else message)

# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Episode storage: a rosbag2 bag directory per episode, a SQLite catalog, exports (no rclpy)."""

from aloe_ros.storage.catalog import Catalog, EpisodeRecord
from aloe_ros.storage.convert import check_executed_step, make_episode, outcome_flags
from aloe_ros.storage.episode_file import EpisodeFileWriter, TOPIC_TYPES
from aloe_ros.storage.export import export_npz, load_npz
from aloe_ros.storage.schema import message_definition
from aloe_ros.storage.store import EpisodeRecording, EpisodeStore, RewardConfig, StoreLockedError

__all__ = [
    'Catalog', 'EpisodeRecord', 'EpisodeFileWriter', 'EpisodeRecording', 'EpisodeStore',
    'RewardConfig', 'StoreLockedError', 'TOPIC_TYPES', 'check_executed_step', 'export_npz',
    'load_npz', 'make_episode', 'message_definition', 'outcome_flags']

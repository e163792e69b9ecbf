"""Experiment tracking and the model registry, in one SQLite file shared by all runs."""

from toolkit.tracking.registry import ModelRegistry
from toolkit.tracking.subscribers import RegistryCallback, TrackerCallback
from toolkit.tracking.tracker import ExperimentTracker

__all__ = ["ExperimentTracker", "ModelRegistry", "RegistryCallback", "TrackerCallback"]

"""Dialogue-summarization training toolkit: a hand-written Accelerate loop, an event bus,
experiment tracking, a model registry and sweeps."""

from toolkit.config import ConfigManager
from toolkit.engine.result import TrainingResult
from toolkit.engine.trainer import DialogueSummarizationTrainer, create_trainer
from toolkit.evaluation.rouge import compute_rouge
from toolkit.events import Callback, Event, StopTraining

__all__ = ["Callback", "ConfigManager", "DialogueSummarizationTrainer", "Event", "StopTraining",
           "TrainingResult", "compute_rouge", "create_trainer"]
__version__ = "0.1.0"

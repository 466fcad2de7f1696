"""Training of the three models: data from shards, losses, the resumable loop, synthetic data."""
from midi_ddsp.training.datasets import CorpusPool
from midi_ddsp.training.loop import MODEL_NAMES, TrainConfig, TrainResult, build_model, train
from midi_ddsp.training.synthetic import write_synthetic_corpus

__all__ = ["CorpusPool", "MODEL_NAMES", "TrainConfig", "TrainResult", "build_model", "train",
           "write_synthetic_corpus"]

"""The course's training loop: ``Trainer(model, TrainConfig(...), train_dataset).fit()``.

Modules, in reading order: ``config`` (the knobs, the learning-rate schedule), ``data`` (which samples
each step sees), ``trainer`` (the loop), ``callbacks`` (hooks a chapter adds: EMA, pruning masks, DP-SGD),
``budget`` (a time budget -> a number of steps), ``checkpoint`` (saving that survives kill -9),
``distributed`` (torchrun), ``plot`` (loss curves).
"""

from .budget import plan_steps
from .callbacks import HOOKS
from .checkpoint import best_checkpoint, latest_checkpoint, load_weights
from .config import TrainConfig, lr_at
from .distributed import launch_torchrun
from .plot import plot_history
from .trainer import Trainer, TrainingDiverged, accuracy

__all__ = [
           "HOOKS",
           "TrainConfig",
           "Trainer",
           "TrainingDiverged",
           "accuracy",
           "best_checkpoint",
           "latest_checkpoint",
           "launch_torchrun",
           "load_weights",
           "lr_at",
           "plan_steps",
           "plot_history",
]

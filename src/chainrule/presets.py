"""Named recipes from the course: a data set, a network and every training option.

    planar()          Course 1, week 3: the planar classifier (the command line's default)
    optimization()    Course 2, week 2: the Optimization assignment on moons

Each returns ``(ModelConfig, TrainConfig)`` for the library; ``PRESETS`` holds them with
their data for the command line (``chainrule train --preset NAME``), whose defaults they are:
the command line's choices are visible there, not a second set of defaults.

>>> config, train = planar()
>>> config.layer_dims, train.learning_rate, train.num_epochs, train.init_draws
((2, 4, 1), 1.2, 10000, 'course')
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .model import ModelConfig
from .training import TrainConfig


class Preset(NamedTuple):
    """A recipe: ``data`` (a built-in data set's name) with ``data_options`` for
    ``datasets.load`` and the share of it held out, the hidden layers, and the training options."""

    name: str
    description: str
    data: str
    data_options: dict
    test_fraction: float
    hidden_layers: tuple[int, ...]
    hidden_activation: str
    train: TrainConfig

    def config(self, n_x: int, n_y: int, output: str) -> ModelConfig:
        """The preset's network for data of n_x features and n_y outputs."""
        return ModelConfig([n_x, *self.hidden_layers, n_y], self.hidden_activation, output)


PLANAR = Preset(
    "planar", "Course 1, week 3: the flower, 4 tanh units, weights 0.01·randn after np.random.seed(2), "
    "learning rate 1.2, 10 000 full-batch epochs",
    "flower", {}, 0.0, (4,), "tanh",
    TrainConfig(learning_rate=1.2, num_epochs=10_000, init="random", scale=0.01, init_draws="course", seed=2))

OPTIMIZATION = Preset(
    "optimization", "Course 2, week 2: moons(300, noise 0.2, seed 3), all for training, [5, 2] relu, He "
    "weights after np.random.seed(3), the course's mini-batches of 64, Adam with learning rate 0.0007, "
    "10 000 epochs",
    "moons", {"m": 300, "noise": 0.2, "seed": 3}, 0.0, (5, 2), "relu",
    TrainConfig(optimizer="adam", learning_rate=0.0007, num_epochs=10_000, mini_batch_size=64, batches="course",
                init="he", init_draws="course", seed=3))

PRESETS: dict[str, Preset] = {p.name: p for p in (PLANAR, OPTIMIZATION)}


def planar() -> tuple[ModelConfig, TrainConfig]:
    """The course's planar classifier: [2, 4, 1], tanh, sigmoid; cost 0.693048 at epoch 0."""
    return PLANAR.config(2, 1, "sigmoid"), PLANAR.train


def optimization(optimizer: str = "adam", **hyperparameters: Any) -> tuple[ModelConfig, TrainConfig]:
    """The Optimization assignment's network and training, with ``optimizer`` ("gd",
    "momentum" with beta=0.9, or "adam", the course's three): accuracy 0.7967, 0.7967, 0.94."""
    import dataclasses

    return (OPTIMIZATION.config(2, 1, "sigmoid"),
            dataclasses.replace(OPTIMIZATION.train, optimizer=optimizer, **hyperparameters))

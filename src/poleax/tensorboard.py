"""TensorBoard event files per seed (``--tensorboard``), through the light ``tensorboardX``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from poleax.config import ConfigError, TrainConfig
from poleax.history import ENV_STEPS


class ChunkWriter:
    """Writes every update's metrics of each seed to ``<folder>/seed_<n>``."""

    def __init__(self, folder: Path, config: TrainConfig) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ConfigError(
                "--tensorboard needs tensorboardX: pip install 'poleax[tensorboard]'"
            ) from None
        self.writers = [
            SummaryWriter(str(folder / f"seed_{config.seed + i}")) for i in range(config.seeds)
        ]
        self.steps = np.zeros(config.seeds, np.int64)

    def __call__(self, report) -> None:
        metrics = report.metrics
        per_update = np.cumsum(metrics[ENV_STEPS], axis=1) + self.steps[:, None]
        for i, writer in enumerate(self.writers):
            for u in range(per_update.shape[1]):
                for name, values in metrics.items():
                    value = float(values[i, u])
                    if np.isfinite(value):
                        writer.add_scalar(name, value, int(per_update[i, u]))
            if report.greedy is not None and report.active[i]:
                step = int(report.env_steps[i])
                writer.add_scalar("eval/greedy_return", float(report.greedy[i]), step)
                writer.add_scalar("eval/sampled_return", float(report.sampled[i]), step)
            writer.flush()
        self.steps = report.env_steps.astype(np.int64)

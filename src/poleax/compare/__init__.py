"""``poleax compare``: several algorithms x seeds on one or more envs, trained to the same
budget of env steps, scored on a fixed grid, and summarised with rliable's statistics.

Each (env, algorithm) is one ``trainer.train`` call of all its seeds, with no early stop. Its
result is written to ``DIR/runs/<env>__<algo>.json`` as soon as it ends (atomically), so an
interrupted comparison keeps every finished pair and ``--resume DIR`` trains only the rest.

The return of a seed at grid point ``g`` is its latest in-JAX evaluation at or before ``g``
(mean of the greedy and the sampled episodes); chunk ends differ per algorithm, the grid does
not. A seed not yet evaluated at ``g`` has no return there (an empty cell in ``results.csv``)
and counts as a random policy (score 0) in the statistics.
"""

from poleax.compare.outputs import print_table, summarise, write_outputs
from poleax.compare.pairs import PairResult, returns_on_grid
from poleax.compare.settings import (
    CompareInterrupted,
    CompareSettings,
    check_settings,
    differences,
    grid_for,
    pair_config,
    read_settings,
)
from poleax.compare.training import run_compare, train_pair

__all__ = [
    "CompareInterrupted",
    "CompareSettings",
    "PairResult",
    "check_settings",
    "differences",
    "grid_for",
    "pair_config",
    "print_table",
    "read_settings",
    "returns_on_grid",
    "run_compare",
    "summarise",
    "train_pair",
    "write_outputs",
]

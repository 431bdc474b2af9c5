"""hpsearch: hyperparameter search for the NumPy ``MultiLayerNet`` of "Deep Learning from Scratch".

Example:
    >>> from hpsearch import Study
    >>> Study("demo", strategy="random", n_trials=100, n_jobs=2).optimize()  # doctest: +SKIP
"""

__version__ = "0.1.0"

from hpsearch.space import (  # noqa: E402
    Categorical,
    Dimension,
    IntUniform,
    LogUniform,
    SearchSpace,
    Uniform,
    default_space,
)
from hpsearch.storage import StudyError  # noqa: E402
from hpsearch.strategies import (  # noqa: E402
    BayesStrategy,
    GridStrategy,
    RandomStrategy,
    Strategy,
)
from hpsearch.study import Study, StudyInterrupted  # noqa: E402
from hpsearch.training import TrainConfig, TrialResult, TrialState, train_trial  # noqa: E402

__all__ = [
    "BayesStrategy",
    "Categorical",
    "Dimension",
    "GridStrategy",
    "IntUniform",
    "LogUniform",
    "RandomStrategy",
    "SearchSpace",
    "Strategy",
    "Study",
    "StudyError",
    "StudyInterrupted",
    "TrainConfig",
    "TrialResult",
    "TrialState",
    "Uniform",
    "__version__",
    "default_space",
    "train_trial",
]

"""sklearn-mcnn: multiclass classification and neural networks for scikit-learn."""

from ._check_build import check_build as _check_build

_check_build()

from ._mlp import MLPBackpropClassifier  # noqa: E402
from ._multiclass import OneVsAllClassifier, OneVsOneClassifier  # noqa: E402
from ._output_code import OutputCodeClassifier  # noqa: E402
from ._softmax import SoftmaxClassifier  # noqa: E402
from ._tournament import TournamentClassifier  # noqa: E402

# The one source of the version: pyproject.toml, doc/conf.py and the
# installed metadata read it; CHANGELOG.md names it (tests/test_packaging.py).
__version__ = "0.2.0.dev0"

__all__ = [
    "MLPBackpropClassifier",
    "OneVsAllClassifier",
    "OneVsOneClassifier",
    "OutputCodeClassifier",
    "SoftmaxClassifier",
    "TournamentClassifier",
    "__version__",
]

"""scikit-learn models in skops files: exact-type allow-list, no callables, bounded reads.

skops rebuilds an object tree from ``schema.json``: every node names a
module and a class (or function) that is imported and called. Allowing whole
packages by prefix (``numpy.``, ``scipy.``, ``sklearn.``) let a file call
helpers in them that run shell commands or Python source
(``numpy.testing._private.utils.runstring`` execs its argument). Here a file
loads untrusted only when

- every node's type is in :data:`ALLOWED_TYPES`, an explicit list of the
  estimator, tree, loss, array and scalar types that the bundled samples and
  common scikit-learn models need (checked against skops' own
  ``get_untrusted_types`` on fitted examples by the tests), and
- no node is a function, bound method, ``functools.partial`` or ``operator``
  callable (``FunctionTransformer(np.log1p)``, a custom kernel...).

Anything else is named in the refusal and needs trust. Members are read
through :class:`~engine.archives.SafeZip` under the model size cap, each at
most once, so neither a decompression bomb nor a schema that names one
member a million times can exhaust memory.
"""

from __future__ import annotations

import re
import sys
import threading
from dataclasses import dataclass
from typing import Any

from engine.archives import SafeZip
from engine.errors import FrontierError, first_line
from engine.models.formats.limits import open_zip

# Exact type names (module.qualname as skops records them). Families: builtins and numpy
# containers/scalars; estimators by scikit-learn module; fitted internals (trees, losses,
# links, binning, neighbour trees and metrics, optimizers).
_BUILTINS = (
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set", "builtins.str", "builtins.int",
    "builtins.float", "builtins.bool", "builtins.slice", "builtins.bytes", "builtins.bytearray",
    "collections.OrderedDict", "collections.defaultdict",
)
_NUMPY = (
    "numpy.ndarray", "numpy.dtype", "numpy.ma.core.MaskedArray",
    "numpy.random.mtrand.RandomState", "numpy.random._generator.Generator",
    "numpy.bool", "numpy.int8", "numpy.int16", "numpy.int32", "numpy.int64", "numpy.longlong",
    "numpy.uint8", "numpy.uint16", "numpy.uint32", "numpy.uint64", "numpy.ulonglong",
    "numpy.float16", "numpy.float32", "numpy.float64", "numpy.longdouble",
    "numpy.complex64", "numpy.complex128", "numpy.str_", "numpy.bytes_", "numpy.object_",
    "numpy.datetime64", "numpy.timedelta64",
)
_ESTIMATORS = (
    # linear models
    "sklearn.linear_model._base.LinearRegression", "sklearn.linear_model._bayes.BayesianRidge",
    "sklearn.linear_model._coordinate_descent.ElasticNet", "sklearn.linear_model._coordinate_descent.Lasso",
    "sklearn.linear_model._huber.HuberRegressor", "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._logistic.LogisticRegressionCV", "sklearn.linear_model._perceptron.Perceptron",
    "sklearn.linear_model._ridge.Ridge", "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.linear_model._ridge.RidgeCV", "sklearn.linear_model._ridge.RidgeClassifierCV",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDRegressor",
    "sklearn.linear_model._sgd_fast.Hinge", "sklearn.linear_model._sgd_fast.ModifiedHuber",
    "sklearn.linear_model._sgd_fast.SquaredHinge", "sklearn.linear_model._sgd_fast.EpsilonInsensitive",
    "sklearn.linear_model._sgd_fast.SquaredEpsilonInsensitive",
    "sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
    "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis",
    "sklearn.dummy.DummyClassifier", "sklearn.dummy.DummyRegressor",
    # trees, forests, boosting
    "sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.tree._classes.ExtraTreeClassifier", "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier", "sklearn.ensemble._forest.RandomForestRegressor",
    "sklearn.ensemble._forest.ExtraTreesClassifier", "sklearn.ensemble._forest.ExtraTreesRegressor",
    "sklearn.ensemble._gb.GradientBoostingClassifier", "sklearn.ensemble._gb.GradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._weight_boosting.AdaBoostClassifier", "sklearn.ensemble._weight_boosting.AdaBoostRegressor",
    "sklearn.ensemble._bagging.BaggingClassifier", "sklearn.ensemble._bagging.BaggingRegressor",
    "sklearn.ensemble._voting.VotingClassifier", "sklearn.ensemble._voting.VotingRegressor",
    "sklearn.ensemble._stacking.StackingClassifier", "sklearn.ensemble._stacking.StackingRegressor",
    # SVM, neighbours, naive Bayes, MLP
    "sklearn.svm._classes.SVC", "sklearn.svm._classes.NuSVC", "sklearn.svm._classes.SVR",
    "sklearn.svm._classes.NuSVR", "sklearn.svm._classes.LinearSVC", "sklearn.svm._classes.LinearSVR",
    "sklearn.neighbors._classification.KNeighborsClassifier",
    "sklearn.neighbors._classification.RadiusNeighborsClassifier",
    "sklearn.neighbors._regression.KNeighborsRegressor", "sklearn.neighbors._regression.RadiusNeighborsRegressor",
    "sklearn.neighbors._nearest_centroid.NearestCentroid",
    "sklearn.naive_bayes.GaussianNB", "sklearn.naive_bayes.MultinomialNB", "sklearn.naive_bayes.BernoulliNB",
    "sklearn.naive_bayes.ComplementNB", "sklearn.naive_bayes.CategoricalNB",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
    # pipelines and preprocessing
    "sklearn.pipeline.Pipeline", "sklearn.pipeline.FeatureUnion",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.compose._column_transformer.make_column_selector",
    "sklearn.compose._target.TransformedTargetRegressor",
    "sklearn.preprocessing._data.StandardScaler", "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler", "sklearn.preprocessing._data.RobustScaler",
    "sklearn.preprocessing._data.Normalizer", "sklearn.preprocessing._data.QuantileTransformer",
    "sklearn.preprocessing._data.PowerTransformer", "sklearn.preprocessing._data.Binarizer",
    "sklearn.preprocessing._discretization.KBinsDiscretizer",
    "sklearn.preprocessing._encoders.OneHotEncoder", "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._target_encoder.TargetEncoder",
    "sklearn.preprocessing._polynomial.PolynomialFeatures",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelEncoder", "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.impute._base.SimpleImputer", "sklearn.impute._base.MissingIndicator",
    "sklearn.impute._knn.KNNImputer",
    "sklearn.decomposition._pca.PCA", "sklearn.decomposition._truncated_svd.TruncatedSVD",
    "sklearn.feature_selection._variance_threshold.VarianceThreshold",
    # probability calibration (the tuned svm family: CalibratedClassifierCV(SVC, method="sigmoid")).
    # Plain data holders: rebuilt by skops as __new__ plus a __dict__ of their fitted attributes
    # (BaseEstimator.__setstate__ only checks the version), with no __reduce__/__setstate__ of their
    # own; predicting calls fixed methods (the wrapped estimator's decision_function or predict_proba,
    # named in scikit-learn's code, never in the file) and expit(-(a_ * T + b_)). What they wrap is
    # audited like every other node, so they cannot smuggle in a type or callable. Isotonic and
    # temperature calibration (IsotonicRegression's scipy interpolator, _TemperatureScaling) are not
    # allowed: a file using them still needs trust.
    "sklearn.calibration.CalibratedClassifierCV", "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)
_INTERNALS = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfSquaredError", "sklearn._loss.loss.AbsoluteError", "sklearn._loss.loss.PinballLoss",
    "sklearn._loss.loss.HuberLoss", "sklearn._loss.loss.HalfPoissonLoss", "sklearn._loss.loss.HalfGammaLoss",
    "sklearn._loss.loss.HalfTweedieLoss", "sklearn._loss.loss.HalfTweedieLossIdentity",
    "sklearn._loss.loss.HalfBinomialLoss", "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.ExponentialLoss",
    "sklearn._loss._loss.CyHalfSquaredError", "sklearn._loss._loss.CyAbsoluteError",
    "sklearn._loss._loss.CyPinballLoss", "sklearn._loss._loss.CyHuberLoss", "sklearn._loss._loss.CyHalfPoissonLoss",
    "sklearn._loss._loss.CyHalfGammaLoss", "sklearn._loss._loss.CyHalfTweedieLoss",
    "sklearn._loss._loss.CyHalfTweedieLossIdentity", "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss", "sklearn._loss._loss.CyExponentialLoss",
    "sklearn._loss.link.Interval", "sklearn._loss.link.IdentityLink", "sklearn._loss.link.LogLink",
    "sklearn._loss.link.LogitLink", "sklearn._loss.link.HalfLogitLink", "sklearn._loss.link.MultinomialLogit",
    "sklearn.neighbors._kd_tree.KDTree", "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64", "sklearn.metrics._dist_metrics.SEuclideanDistance64",
    "sklearn.metrics._dist_metrics.ManhattanDistance64", "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64", "sklearn.metrics._dist_metrics.MahalanobisDistance64",
    "sklearn.metrics._dist_metrics.HaversineDistance64", "sklearn.metrics._dist_metrics.HammingDistance64",
    "sklearn.metrics._dist_metrics.CanberraDistance64", "sklearn.metrics._dist_metrics.BrayCurtisDistance64",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.utils._bunch.Bunch",
)
ALLOWED_TYPES: frozenset[str] = frozenset(_BUILTINS + _NUMPY + _ESTIMATORS + _INTERNALS)
_MEMBER_RE = re.compile(r"schema\.json|[A-Za-z0-9_-]{1,64}\.(?:npy|npz|bin)")


@dataclass(frozen=True)
class Audit:
    """What a skops file would rebuild that Frontier does not load untrusted."""

    foreign: tuple[str, ...]    # types outside ALLOWED_TYPES
    callables: tuple[str, ...]  # functions, methods, partials, operator callables

    @property
    def refused(self) -> list[str]:
        return sorted({*self.foreign, *self.callables})


class _Members:
    """The archive as skops reads it (``.read(name)``): SafeZip reads, each member once."""

    def __init__(self, zf: SafeZip) -> None:
        self._zf = zf
        self._cache: dict[str, bytes] = {}

    def read(self, name: str) -> bytes:
        if not isinstance(name, str):
            raise FrontierError("the skops file's schema names a member that is not text")
        if name not in self._cache:
            data = self._zf.read(name)
            if name.endswith(".npy"):
                _check_npy(data, name)
            self._cache[name] = data
        return self._cache[name]


def _check_npy(data: bytes, name: str) -> None:
    """An array member's header must describe no more data than the member holds (NumPy allocates
    what the header claims before reading: a 1 KB member claiming 10^12 values would ask for TBs)."""
    import io

    import numpy as np
    from numpy.lib import format as npy_format

    try:
        fp = io.BytesIO(data)
        version = npy_format.read_magic(fp)
        read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, _, dtype = read(fp, max_header_size=10_000)
    except Exception as exc:
        raise FrontierError(f"the skops file's array '{name}' has an unreadable header: {first_line(exc)}") from None
    count = int(np.prod(shape, dtype=object))
    if np.dtype(dtype).hasobject or count * np.dtype(dtype).itemsize > len(data) - fp.tell():
        raise FrontierError(f"the skops file's array '{name}' declares more data than it holds; the file is "
                            "corrupt or crafted")


_IMPORT_LOCK = threading.Lock()


def import_skops() -> None:
    """Import ``skops.io`` without scikit-learn's estimator discovery importing torch.

    skops builds its default trusted types with ``sklearn.utils.all_estimators()``,
    whose ``pkgutil.walk_packages`` imports every scikit-learn package, including
    ``sklearn.externals.array_api_compat.torch``, which imports torch: 1.1 s of a
    2.2 s import here, paid by every CLI run and worker that only touches
    scikit-learn models. No estimator lives there and ``walk_packages`` skips a
    package that fails to import, so ``import torch`` is made to fail, in the importing
    thread only, for the length of that one import and then works again (scikit-learn and scipy import torch only
    lazily, so nothing caches its absence). Nothing is blocked when torch is
    already imported.
    """
    if "skops.io" in sys.modules:
        return
    with _IMPORT_LOCK:
        if "torch" in sys.modules:
            import skops.io
            return
        finder = _NoTorch(threading.get_ident())
        sys.meta_path.insert(0, finder)
        try:
            import skops.io  # noqa: F401
        finally:
            sys.meta_path.remove(finder)


class _NoTorch:
    """A finder that makes ``import torch`` fail in one thread (``sys.modules`` is left alone;
    other threads of a server import torch as usual meanwhile)."""

    def __init__(self, thread: int) -> None:
        self.thread = thread

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if (name == "torch" or name.startswith("torch.")) and threading.get_ident() == self.thread:
            raise ImportError(f"{name} is not imported while skops is (see import_skops)")
        return None


def _tree(data: bytes, what: str) -> Any:
    """skops' node tree for ``data`` (nothing imported or constructed yet)."""
    import_skops()
    from skops.io._audit import get_tree
    from skops.io._utils import read_schema

    zf = open_zip(data, what, allowed=lambda name: _MEMBER_RE.fullmatch(name) is not None)
    if "schema.json" not in zf.names:
        raise FrontierError(f"{what} is not a skops file (no schema.json); save it with skops.io.dump")
    try:
        schema, context = read_schema(_Members(zf))
        return get_tree(schema, context, trusted=None)
    except FrontierError:
        raise
    except RecursionError:
        raise FrontierError(f"{what} nests objects too deeply to be a model") from None
    except Exception as exc:
        raise FrontierError(f"{what} is not a valid skops file: {first_line(exc)}") from None


def _nodes(root: Any):
    """Every node of a tree once (cycles and shared nodes included)."""
    from skops.io._audit import CachedNode, Node

    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, CachedNode):
            stack.append(node.cached)
        for child in node.children.values():
            items = child if isinstance(child, list) else child.values() if isinstance(child, dict) else [child]
            stack.extend(c for c in items if isinstance(c, Node))


def _audit_tree(tree: Any) -> Audit:
    from skops.io._general import FunctionNode, JsonNode, MethodNode, OperatorFuncNode, PartialNode
    from skops.io._utils import get_module

    foreign: set[str] = set()
    callables: set[str] = set()
    for node in _nodes(tree):
        name = f"{node.module_name}.{node.class_name}"
        if isinstance(node, MethodNode):
            callables.add(f"{node.obj.module_name}.{node.obj.class_name}.{node.func}")
        elif isinstance(node, FunctionNode | PartialNode | OperatorFuncNode):
            callables.add(name)
        elif not isinstance(node, JsonNode) and name not in ALLOWED_TYPES:
            foreign.add(name)
        for child in node.children.values():  # raw types some nodes keep as children
            if isinstance(child, type) and f"{get_module(child)}.{child.__name__}" not in ALLOWED_TYPES:
                foreign.add(f"{get_module(child)}.{child.__name__}")
    # skops' own audit, as a second opinion: anything it flags must be allowed by name too
    foreign |= {t for t in tree.get_unsafe_set() if t not in ALLOWED_TYPES and t not in callables}
    return Audit(tuple(sorted(foreign)), tuple(sorted(callables)))


def audit(data: bytes, *, what: str = "the skops file") -> Audit:
    """The types and callables in a skops file that need trust (loads nothing)."""
    return _audit_tree(_tree(data, what))


def refusal(found: Audit, what: str = "the skops file") -> FrontierError:
    from engine.errors import option

    names = found.refused
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    kinds = []
    if found.callables:
        kinds.append("functions or methods")
    if found.foreign:
        kinds.append("types outside Frontier's scikit-learn allow-list")
    return FrontierError(
        f"{what} contains {' and '.join(kinds)} ({shown}); rebuilding them can run code — "
        f"mark it trusted ({option('trust')}) only if you trust its author")


@dataclass(frozen=True)
class Checked:
    """A skops file's node tree with its audit; :meth:`construct` rebuilds the object."""

    tree: Any
    audit: Audit
    what: str

    def construct(self, *, trusted: bool) -> Any:
        if self.audit.refused and not trusted:
            raise refusal(self.audit, self.what)
        try:
            return self.tree.construct()
        except FrontierError:
            raise
        except Exception as exc:
            raise FrontierError(f"{self.what} could not be loaded: {first_line(exc)}") from None


def inspect(data: bytes, *, what: str = "the skops file") -> Checked:
    """Read and audit a skops file once (nothing imported or constructed)."""
    tree = _tree(data, what)
    return Checked(tree, _audit_tree(tree), what)


def load(data: bytes, *, trusted: bool, what: str = "the skops file") -> Any:
    """The estimator in a skops file; refused unless everything in it is allowed or ``trusted``."""
    return inspect(data, what=what).construct(trusted=trusted)

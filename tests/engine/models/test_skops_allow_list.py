"""The skops allow-list is checked, not guessed: fitted models of every listed family pass it.

For each family the oracle is skops' own ``get_untrusted_types`` on a freshly
fitted model: everything it flags must be in Frontier's list, Frontier must
load the file without trust, and the loaded model must predict exactly like
the one that was saved.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import skops.io as sio
from frontier_support import SAMPLES_DIR

from engine import models
from engine.models import SKOPS_ALLOWED_TYPES

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning", "ignore::FutureWarning")


def _families():
    from sklearn import decomposition as dec
    from sklearn import discriminant_analysis as da
    from sklearn import dummy, impute, svm, tree
    from sklearn import ensemble as en
    from sklearn import linear_model as lm
    from sklearn import naive_bayes as nbayes
    from sklearn import neighbors as nb
    from sklearn import neural_network as nn
    from sklearn import preprocessing as pp
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.pipeline import make_pipeline

    X, y = load_iris(return_X_y=True, as_frame=True)
    Xr, yr = load_diabetes(return_X_y=True, as_frame=True)
    Xc = X.copy()
    Xc["cat"] = np.where(X.iloc[:, 0] > 5.8, "big", "small")
    Xc.iloc[3, 1] = np.nan
    binary = (y == 1).astype(int)

    def c(e):
        return e, X, y

    def r(e):
        return e, Xr, yr

    return {
        "logistic-pipeline": c(make_pipeline(pp.StandardScaler(), lm.LogisticRegression(max_iter=300))),
        "logistic-cv": c(lm.LogisticRegressionCV(cv=2, max_iter=100)),
        "ridge": r(lm.Ridge()), "linear": r(lm.LinearRegression()), "lasso": r(lm.Lasso()),
        "elastic-net": r(lm.ElasticNet()), "bayesian-ridge": r(lm.BayesianRidge()),
        "huber": r(lm.HuberRegressor(max_iter=50)), "ridge-classifier": c(lm.RidgeClassifier()),
        "perceptron": c(lm.Perceptron()), "sgd-log": c(lm.SGDClassifier(loss="log_loss", max_iter=50)),
        "sgd-hinge": c(lm.SGDClassifier(max_iter=50)), "sgd-regressor": r(lm.SGDRegressor(max_iter=50)),
        "lda": c(da.LinearDiscriminantAnalysis()), "qda": c(da.QuadraticDiscriminantAnalysis()),
        "dummy": c(dummy.DummyClassifier()), "dummy-regressor": r(dummy.DummyRegressor()),
        "decision-tree": c(tree.DecisionTreeClassifier(max_depth=3)),
        "decision-tree-regressor": r(tree.DecisionTreeRegressor(max_depth=3)),
        "extra-tree": c(tree.ExtraTreeClassifier()),
        "random-forest": c(en.RandomForestClassifier(n_estimators=3, random_state=0)),
        "random-forest-regressor": r(en.RandomForestRegressor(n_estimators=3, random_state=0)),
        "extra-trees": c(en.ExtraTreesClassifier(n_estimators=3, random_state=0)),
        "gradient-boosting": c(en.GradientBoostingClassifier(n_estimators=3)),
        "gradient-boosting-binary": (en.GradientBoostingClassifier(n_estimators=3), X, binary),
        "gradient-boosting-huber": r(en.GradientBoostingRegressor(n_estimators=3, loss="huber")),
        "gradient-boosting-quantile": r(en.GradientBoostingRegressor(n_estimators=3, loss="quantile")),
        "hist-gradient-boosting": c(en.HistGradientBoostingClassifier(max_iter=3)),
        "hist-gradient-boosting-binary": (en.HistGradientBoostingClassifier(max_iter=3), X, binary),
        "hist-gradient-boosting-early-stopping": c(en.HistGradientBoostingClassifier(
            max_iter=3, early_stopping=True, validation_fraction=0.3, random_state=0)),
        "hist-gradient-boosting-regressor": r(en.HistGradientBoostingRegressor(max_iter=3)),
        "hist-gradient-boosting-poisson": r(en.HistGradientBoostingRegressor(max_iter=3, loss="poisson")),
        "hist-gradient-boosting-absolute": r(en.HistGradientBoostingRegressor(max_iter=3, loss="absolute_error")),
        "hist-gradient-boosting-quantile": r(en.HistGradientBoostingRegressor(max_iter=3, loss="quantile",
                                                                              quantile=0.5)),
        "adaboost": c(en.AdaBoostClassifier(n_estimators=3)), "bagging": c(en.BaggingClassifier(n_estimators=2)),
        "voting": c(en.VotingClassifier([("a", lm.LogisticRegression(max_iter=300)),
                                         ("b", tree.DecisionTreeClassifier())], voting="soft")),
        "stacking": c(en.StackingClassifier([("a", lm.LogisticRegression(max_iter=300)),
                                             ("b", nbayes.GaussianNB())], cv=2)),
        "svc": c(svm.SVC(probability=True, random_state=0)), "linear-svc": c(svm.LinearSVC()),
        "nu-svc": c(svm.NuSVC()), "svr": r(svm.SVR()), "linear-svr": r(svm.LinearSVR()),
        "knn": c(nb.KNeighborsClassifier()), "knn-regressor": r(nb.KNeighborsRegressor()),
        "knn-ball-tree-manhattan": c(nb.KNeighborsClassifier(algorithm="ball_tree", metric="manhattan")),
        "knn-chebyshev": c(nb.KNeighborsClassifier(metric="chebyshev")), "knn-minkowski-3": c(nb.KNeighborsClassifier(p=3)),
        "knn-brute-cosine": c(nb.KNeighborsClassifier(algorithm="brute", metric="cosine")),
        "radius-neighbors": c(nb.RadiusNeighborsClassifier(radius=5.0)), "nearest-centroid": c(nb.NearestCentroid()),
        "gaussian-nb": c(nbayes.GaussianNB()), "multinomial-nb": c(nbayes.MultinomialNB()),
        "bernoulli-nb": c(nbayes.BernoulliNB()), "complement-nb": c(nbayes.ComplementNB()),
        "mlp-adam": c(nn.MLPClassifier(max_iter=5, random_state=0)),
        "mlp-sgd": c(nn.MLPClassifier(solver="sgd", max_iter=5, random_state=0)),
        "mlp-regressor": r(nn.MLPRegressor(max_iter=5, random_state=0)),
        "scalers-and-transformers": c(make_pipeline(
            pp.StandardScaler(), pp.MinMaxScaler(), pp.RobustScaler(), pp.MaxAbsScaler(), pp.Normalizer(),
            pp.QuantileTransformer(n_quantiles=10), pp.PowerTransformer(), pp.PolynomialFeatures(2),
            pp.KBinsDiscretizer(n_bins=3), lm.LogisticRegression(max_iter=100))),
        "imputers-and-pca": c(make_pipeline(impute.SimpleImputer(add_indicator=True), dec.PCA(2, whiten=True),
                                            svm.SVC())),
        "truncated-svd-knn-imputer": c(make_pipeline(dec.TruncatedSVD(2), impute.KNNImputer(),
                                                     lm.LogisticRegression())),
        "column-transformer-encoders": (make_pipeline(ColumnTransformer([
            ("num", make_pipeline(impute.SimpleImputer(strategy="median"), pp.StandardScaler()),
             make_column_selector(dtype_include="number")),
            ("onehot", pp.OneHotEncoder(handle_unknown="ignore"), ["cat"]),
            ("ordinal", pp.OrdinalEncoder(), ["cat"]), ("target", pp.TargetEncoder(), ["cat"])]),
            lm.LogisticRegression(max_iter=300)), Xc, y),
        "column-transformer-passthrough": (make_pipeline(
            ColumnTransformer([("oh", pp.OneHotEncoder(dtype=np.float32), ["cat"])], remainder="passthrough"),
            impute.SimpleImputer(), en.HistGradientBoostingClassifier(max_iter=3)), Xc, y),
        "string-labels": (tree.DecisionTreeClassifier(max_depth=2), X,
                          np.array(["setosa", "versicolor", "virginica"])[y]),
    }


FAMILIES = _families()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fitted_family_needs_no_trust(family):
    est, X, y = FAMILIES[family]
    est.fit(X, y)
    data = sio.dumps(est)
    flagged = set(sio.get_untrusted_types(data=data))
    assert flagged <= SKOPS_ALLOWED_TYPES, sorted(flagged - SKOPS_ALLOWED_TYPES)
    assert models.skops_untrusted_types(data) == []
    loaded = models.load_skops(data, trusted=False)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_bundled_samples_need_no_trust():
    for path in sorted(SAMPLES_DIR.glob("*.skops")):
        data = path.read_bytes()
        assert set(sio.get_untrusted_types(data=data)) <= SKOPS_ALLOWED_TYPES, path.name
        assert models.skops_untrusted_types(data) == [], path.name


@pytest.mark.parametrize("name", sorted(SKOPS_ALLOWED_TYPES))
def test_every_allowed_name_is_a_class_not_a_function(name):
    module, _, qualname = name.rpartition(".")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    assert isinstance(obj, type), f"{name} is a {type(obj).__name__}"
    assert f"{obj.__module__}.{obj.__qualname__}" == name or module.startswith(("numpy", "collections", "builtins"))

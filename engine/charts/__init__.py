"""Charts: ``<chart>_info`` records and ``<chart>_figure`` Plotly figures, shared by pages and reports."""

from engine.charts.core import *  # noqa: F403
from engine.charts.core import CLASSIFICATION_METRICS, REGRESSION_METRICS, __all__  # noqa: F401

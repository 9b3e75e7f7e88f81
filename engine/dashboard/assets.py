"""Where the page's files are: ``static/`` inside the package (an installed wheel and a checkout alike).

The chart library (Apache ECharts) is one of them, committed from the npm registry by ``.ci/vendor-echarts``, so the
page loads nothing from a CDN and works with no network.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def static_dir() -> Path:
    """The folder holding ``index.html``, the page's script and styles, and ``vendor/echarts``."""
    return Path(str(files("unimeter.dashboard") / "static"))

"""The one version string of unimeter (setuptools reads it for the package metadata)."""

__version__ = "0.2.0"

"""The package version, in one place for packaging and for code."""

__version__ = "0.1.0"

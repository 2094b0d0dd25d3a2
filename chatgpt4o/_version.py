"""The package version, kept in exactly one place."""

__version__ = "0.2.0"

"""The package version, in one place (the User-Agent header and ``trio_realtime.__version__``)."""

__version__ = "0.1.0"

"""The ``trio-realtime`` command: one module per subcommand, sharing ``_common``."""

from ._main import main as main

__all__ = ["main"]

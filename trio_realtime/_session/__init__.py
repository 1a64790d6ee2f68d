"""The client session: ``connect()``, ``RealtimeSession`` and the parts it owns.

Imports :mod:`trio_realtime._core` and :mod:`trio_realtime._wire` below it.
"""

"""Bytes on sockets: WebSocket framing, the client WebSocket, socket I/O, connecting.

Imports only :mod:`trio_realtime._core` below it.
"""

"""The server's view of one TCP stream: stall detection and no writes after a torn frame.

The server's WebSocket writes each frame with one ``send_all``. Two things about that call
matter to a server and are invisible from above it:

* **A client that stopped reading.** Its kernel buffers fill, then ours, then ``send_all``
  blocks for good, holding the WebSocket's write lock (so pongs and close frames queue behind
  it). :class:`GuardedStream` writes in slices and gives up when a slice makes no progress for
  ``stall_timeout`` seconds: the write raises :class:`trio.BrokenResourceError`, which the
  WebSocket turns into an abnormal closure, and :attr:`GuardedStream.stalled` says why.
* **A write cancelled part-way** leaves half a frame on the wire; anything written after it
  would be read as that frame's payload. Once a write has been interrupted the stream is
  *torn* and refuses further writes, so no close frame is ever appended to garbage (the
  transport pitfall "cancelled sends" in client-pitfalls.md).
"""

from __future__ import annotations

import math
from typing import Final, final

import trio

__all__ = ["GuardedStream"]

#: Bytes per write. A client that reads anything at all frees this much within the stall
#: timeout; a bigger slice would make a slow reader look like a stuck one.
_SLICE: Final = 16 * 1024


@final
class GuardedStream(trio.abc.Stream):
    """Wraps the accepted TCP stream of one connection.

    Args:
        inner: The accepted stream.
        stall_timeout: Seconds a write may make no progress before the client is declared
            stuck; ``math.inf`` never gives up.
    """

    def __init__(self, inner: trio.abc.Stream, *, stall_timeout: float = math.inf) -> None:
        self._inner = inner
        self._stall_timeout = stall_timeout
        self._torn = False
        self._stalled = False

    @property
    def stalled(self) -> bool:
        """Whether a write gave up because the client accepted no data in time."""
        return self._stalled

    @property
    def torn(self) -> bool:
        """Whether a write was interrupted, so nothing more may be written."""
        return self._torn

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write ``data`` in slices, each within the stall timeout.

        Raises:
            trio.BrokenResourceError: The stream is torn, the peer is gone, or it stalled.
            trio.ClosedResourceError: The stream was closed.
        """
        if self._torn:
            raise trio.BrokenResourceError("an earlier write was interrupted part-way")
        # A cancellation delivered here has written nothing, so it need not tear the stream.
        await trio.lowlevel.checkpoint_if_cancelled()
        view = memoryview(data)
        try:
            for start in range(0, max(len(view), 1), _SLICE):
                with trio.move_on_after(self._stall_timeout) as slice_scope:
                    await self._inner.send_all(view[start : start + _SLICE])
                if slice_scope.cancelled_caught:
                    self._stalled = True
                    raise trio.BrokenResourceError(
                        f"the client accepted no data for {self._stall_timeout:g} s"
                    )
        except BaseException:
            self._torn = True
            raise

    async def wait_send_all_might_not_block(self) -> None:
        """Pass through to the wrapped stream."""
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        """Pass through to the wrapped stream."""
        return await self._inner.receive_some(max_bytes)

    async def aclose(self) -> None:
        """Close the wrapped stream (at once: no close handshake happens at this level)."""
        await self._inner.aclose()

"""What is scheduled on a connection's clock: running responses and pending transcripts."""

from __future__ import annotations

from ._responses import ResponseRun
from ._transcription import TranscriptionJob

__all__ = ["Timeline"]


class Timeline:
    """The sources of timed events of one connection, and which is due first.

    Attributes:
        runs: Running responses (default conversation and out-of-band), oldest first.
        transcriptions: Transcriptions scheduled and not yet sent, oldest first.
    """

    __slots__ = ("runs", "transcriptions")

    def __init__(self) -> None:
        self.runs: list[ResponseRun] = []
        self.transcriptions: list[TranscriptionJob] = []

    def next_due(self) -> float | None:
        """When the earliest scheduled event is due, or ``None`` if nothing is scheduled."""
        dues = [due for run in self.runs if (due := run.next_due()) is not None]
        dues += [job.due for job in self.transcriptions]
        return min(dues, default=None)

    def pop_due(self, limit: float) -> tuple[ResponseRun | TranscriptionJob, float] | None:
        """The source whose next event is due first, at or before ``limit``, and its time.

        Ties go to responses, in the order they started, then to transcriptions, oldest
        first. A transcription is taken off the timeline (it sends everything at once); a
        response stays until its ``response.done`` has gone out.
        """
        best: ResponseRun | TranscriptionJob | None = None
        best_due = limit
        for run in self.runs:
            due = run.next_due()
            if due is not None and (due < best_due or (best is None and due <= best_due)):
                best, best_due = run, due
        for job in self.transcriptions:
            if job.due < best_due or (best is None and job.due <= best_due):
                best, best_due = job, job.due
        if best is None:
            return None
        if isinstance(best, TranscriptionJob):
            self.transcriptions.remove(best)
        return best, best_due

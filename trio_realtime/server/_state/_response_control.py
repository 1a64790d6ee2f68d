"""Which responses of one connection run: ``response.create``, ``response.cancel`` and turns.

:class:`ResponseControl` starts responses (a client's ``response.create``, or the one a VAD
turn asks for), keeps the default conversation's active one, cancels (the client's
``response.cancel``, or a barge-in), and notices when a response finishes, so that a turn that
waited for it gets its own (5.3). How a response unfolds is :mod:`.._responses`; what it is
given, :mod:`.._response_config`.
"""

from __future__ import annotations

from typing import final

from ..._core._events import ResponseCancel, ResponseConfig, ResponseCreate, ServerEvent
from .._errors import Refusal, active_response, cancel_not_active, invalid_value
from .._item_requests import resolve_input
from .._items import StoredItem
from .._response_config import ResponseOptions, response_options, start_response
from .._responses import ResponseRun
from .._usage import PromptCache, RateLimits
from ._shared import SharedState

__all__ = ["ResponseControl"]


@final
class ResponseControl:
    """The responses of one connection, and the default conversation's active one.

    Args:
        shared: The connection's shared state.
        now: The connection's start (the rate limits count from it).

    Attributes:
        assistant_audio: The model has responded with audio at least once (voice can no
            longer change).
        started: Responses started so far.
    """

    __slots__ = (
        "_active",
        "_prompt_cache",
        "_rate_limits",
        "_shared",
        "_turn_response_pending",
        "assistant_audio",
        "started",
    )

    def __init__(self, shared: SharedState, now: float) -> None:
        options = shared.options
        self._shared = shared
        self._active: ResponseRun | None = None  # the running default-conversation response
        self._turn_response_pending = False  # a VAD turn waits for the active response
        self._rate_limits = RateLimits(options.requests_per_minute, options.tokens_per_minute, now)
        self._prompt_cache = PromptCache()
        self.assistant_audio = False
        self.started = 0

    def create(self, event: ResponseCreate, now: float, out: list[ServerEvent]) -> None:
        """``response.create``: start the response it asks for (5.9: refused, not queued,
        while the default conversation has one running)."""
        shared = self._shared
        if shared.transcription:
            raise _no_responses()
        config = event.response if isinstance(event.response, ResponseConfig) else ResponseConfig()
        options = response_options(config, shared.config, assistant_audio=self.assistant_audio)
        if options.in_conversation and self._active is not None:
            raise active_response(self._active.id)
        context: list[StoredItem]
        if options.input is None:
            context = list(shared.conversation)
        else:
            context = resolve_input(
                options.input,
                shared.conversation,
                new_id=shared.new_item_id,
                input_format=shared.config.input_audio_format,
            )
        self._start(options, context, now, out)

    def cancel(self, event: ResponseCancel, now: float, out: list[ServerEvent]) -> None:
        """``response.cancel``: the one named, else the default conversation's active one."""
        if self._shared.transcription:
            raise _no_responses()
        if isinstance(event.response_id, str):
            runs = self._shared.timeline.runs
            run = next((r for r in runs if r.id == event.response_id), None)
        else:
            run = self._active
        if run is None:
            raise cancel_not_active()
        out += run.cancel("client_cancelled", now)
        self.after_step(run, now, out)

    def speech_started(self, now: float, out: list[ServerEvent]) -> None:
        """The user started speaking: cancel the active response if the turn detection
        interrupts (5.3 barge-in)."""
        turn = self._shared.config.turn_detection
        active = self._active
        if turn is not None and turn.interrupt_response and active is not None:
            out += active.cancel("turn_detected", now)
            self.after_step(active, now, out)

    def turn_ended(self, now: float, out: list[ServerEvent]) -> None:
        """A VAD turn was committed: start its response if the session asks for one."""
        turn = self._shared.config.turn_detection
        if self._shared.transcription or turn is None or not turn.create_response:
            return
        if self._active is None:
            self._start_default(now, out)
        else:  # interrupt_response false: answer once the running response is done [inf]
            self._turn_response_pending = True

    def after_step(self, run: ResponseRun, now: float, out: list[ServerEvent]) -> None:
        """Take note of what ``run`` just sent: its audio, and whether it finished."""
        if run.has_audio:  # "once the model has responded with audio at least once"
            self.assistant_audio = True
        if run.finished:
            self._shared.timeline.runs.remove(run)
            if run is self._active:
                self._active = None
                if self._turn_response_pending:  # 5.3: the waiting turn's response starts
                    self._turn_response_pending = False
                    self._start_default(now, out)

    def _start_default(self, now: float, out: list[ServerEvent]) -> None:
        """The response a VAD turn asks for (create_response): session settings only."""
        options = response_options(ResponseConfig(), self._shared.config, assistant_audio=False)
        self._start(options, list(self._shared.conversation), now, out)

    def _start(
        self,
        options: ResponseOptions,
        context: list[StoredItem],
        now: float,
        out: list[ServerEvent],
    ) -> None:
        shared = self._shared
        run = start_response(
            options,
            context,
            now=now,
            engine=shared.engine,
            conversation=shared.conversation,
            ids=shared.ids,
            rate_limits=self._rate_limits,
            prompt_cache=self._prompt_cache,
            work=shared.engine_work,
        )
        self.started += 1
        out.append(run.created_event())
        shared.timeline.runs.append(run)
        if run.conversation is not None:
            self._active = run


def _no_responses() -> Refusal:
    return invalid_value("type", "Responses are not supported in transcription sessions.")

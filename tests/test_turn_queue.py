"""TurnQueue: the sans-I/O decision of when a ``response.create`` may go out.

Unit tests pin each rule; a Hypothesis state machine then runs the queue against a model of
the server (one default-conversation response at a time, requests refused while one runs,
VAD starting responses on its own) with messages in flight both ways, and checks that the
client never sends while it knows the conversation is busy, that every refusal is a race
with a response the client could not have seen, and that every request is answered once.
"""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from trio_realtime._core._turns import QueueFull, TurnQueue


def test_an_idle_queue_lets_the_first_request_out_and_holds_the_next() -> None:
    queue = TurnQueue()
    queue.submit("a")
    queue.submit("b")
    assert queue.take_ready() == "a"
    assert queue.in_flight == "a"
    assert queue.take_ready() is None  # a is in flight
    queue.created("resp_a", "a")
    assert queue.in_flight is None
    assert queue.take_ready() is None  # resp_a runs
    queue.done("resp_a")
    assert queue.take_ready() == "b"


def test_a_response_someone_else_started_keeps_the_queue_waiting() -> None:
    queue = TurnQueue()
    queue.created("resp_vad", None)
    queue.submit("a")
    assert queue.busy
    assert queue.take_ready() is None
    queue.done("resp_vad")
    assert queue.take_ready() == "a"


def test_a_refusal_for_an_active_response_requeues_at_the_front_until_max_attempts() -> None:
    queue = TurnQueue(max_attempts=2)
    queue.submit("a")
    queue.submit("b")
    assert queue.take_ready() == "a"
    queue.created("resp_vad", None)  # VAD won the race
    assert queue.refused("a", retry=True)
    assert queue.waiting == ("a", "b")
    queue.done("resp_vad")
    assert queue.take_ready() == "a"
    assert not queue.refused("a", retry=True)  # second attempt refused: given up
    assert queue.take_ready() == "b"


def test_other_refusals_give_the_request_up_and_free_the_queue() -> None:
    queue = TurnQueue()
    queue.submit("a")
    queue.submit("b")
    assert queue.take_ready() == "a"
    assert not queue.refused("a", retry=False)
    assert queue.take_ready() == "b"
    assert not queue.refused("zzz", retry=True)  # not in flight: ignored


def test_a_hold_keeps_everything_back_and_the_follow_up_goes_first() -> None:
    queue = TurnQueue()
    queue.submit("app")
    queue.created("resp_1", None)
    queue.hold()  # the response had tool calls
    queue.done("resp_1")
    assert queue.take_ready() is None
    queue.submit_first("follow_up")
    queue.release()
    assert queue.take_ready() == "follow_up"
    with pytest.raises(RuntimeError):
        queue.release()


def test_the_bound_applies_to_submit_only() -> None:
    queue = TurnQueue(max_waiting=1)
    queue.created("resp_1", None)
    queue.submit("a")
    assert queue.full
    with pytest.raises(QueueFull):
        queue.submit("b")
    queue.submit_first("follow_up")
    assert queue.waiting == ("follow_up", "a")
    with pytest.raises(ValueError, match="already queued"):
        queue.submit_first("a")
    with pytest.raises(ValueError, match="at least 1"):
        TurnQueue(max_waiting=0)


def test_abandon_and_withdraw_forget_a_request() -> None:
    queue = TurnQueue()
    queue.submit("a")
    queue.submit("b")
    assert queue.take_ready() == "a"
    queue.abandon("a")  # its send was cancelled
    assert queue.in_flight is None
    assert queue.withdraw("b")
    assert not queue.withdraw("b")
    assert queue.take_ready() is None
    queue.submit("a")  # a forgotten tag can be used again
    assert "TurnQueue" in repr(queue)


class ClientServerModel(RuleBasedStateMachine):
    """The queue as the client's brain, a faithful model of the server, and two FIFO pipes."""

    def __init__(self) -> None:
        super().__init__()
        self.queue = TurnQueue(max_waiting=4, max_attempts=1000)
        self.to_server: deque[str] = deque()
        self.to_client: deque[tuple[str, str, str | None]] = deque()
        self.server_active: tuple[str, str | None] | None = None  # (response id, tag)
        self.next_id = 0
        self.submitted: list[str] = []
        self.started: list[str] = []  # tags the server started, in order
        self.client_active: set[str] = set()  # what the client has seen running
        self.holds = 0

    def _pump(self) -> None:
        while (tag := self.queue.take_ready()) is not None:
            # The client only sends when, as far as it knows, nothing runs or is in flight.
            assert not self.client_active
            self.to_server.append(tag)

    @rule()
    def app_asks(self) -> None:
        if self.queue.full:
            return
        tag = f"t{len(self.submitted)}"
        self.submitted.append(tag)
        self.queue.submit(tag)
        self._pump()

    @rule()
    def server_reads_a_request(self) -> None:
        if not self.to_server:
            return
        tag = self.to_server.popleft()
        if self.server_active is not None:
            # Refused: only possible if the running response is one the client did not ask for
            # (VAD), since the client waits for its own responses to finish.
            assert self.server_active[1] is None
            self.to_client.append(("error", "", tag))
        else:
            self._start(tag)

    @rule()
    def vad_starts_a_response(self) -> None:
        if self.server_active is None:
            self._start(None)

    def _start(self, tag: str | None) -> None:
        self.next_id += 1
        rid = f"resp_{self.next_id}"
        self.server_active = (rid, tag)
        if tag is not None:
            self.started.append(tag)
        self.to_client.append(("created", rid, tag))

    @rule()
    def server_finishes(self) -> None:
        if self.server_active is not None:
            self.to_client.append(("done", self.server_active[0], None))
            self.server_active = None

    @rule()
    def client_reads(self) -> None:
        if not self.to_client:
            return
        kind, rid, tag = self.to_client.popleft()
        if kind == "created":
            self.client_active.add(rid)
            self.queue.created(rid, tag)
        elif kind == "done":
            self.client_active.discard(rid)
            self.queue.done(rid)
        else:
            assert tag is not None
            assert self.queue.refused(tag, retry=True)
        self._pump()

    @rule()
    def tools_start(self) -> None:
        self.queue.hold()
        self.holds += 1

    @precondition(lambda self: self.holds > 0)
    @rule(follow_up=st.booleans())
    def tools_finish(self, follow_up: bool) -> None:
        if follow_up:
            tag = f"f{len(self.submitted)}"
            self.submitted.append(tag)
            self.queue.submit_first(tag)
        self.queue.release()
        self.holds -= 1
        self._pump()

    @invariant()
    def never_more_than_one_request_in_flight(self) -> None:
        assert len(self.to_server) <= 1
        assert len(self.started) == len(set(self.started))

    def teardown(self) -> None:
        # Let everything settle: tools finish, the server and the network drain.
        while self.holds:
            self.tools_finish(False)
        for _ in range(10 * len(self.submitted) + 10):
            self.server_reads_a_request()
            self.server_finishes()
            self.client_reads()
            self.client_reads()
        assert sorted(self.started) == sorted(self.submitted)  # each answered exactly once
        app = [int(tag[1:]) for tag in self.started if tag.startswith("t")]
        assert app == sorted(app)  # the application's requests keep their order
        assert not self.queue.waiting
        assert self.queue.in_flight is None


TestClientServerModel = ClientServerModel.TestCase

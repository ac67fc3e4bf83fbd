"""agents.web_params: the worker views' query parameters, parsed without a
server. A bad value is a BadQuery, which the view answers with 400
invalid_request and the exception's text as the message."""

from __future__ import annotations

import math

import pytest

from orderflow.agents.web_params import BadQuery, LongPoll, Page, int_param, long_poll, page

MAX_S = 25.0


# --- long-poll ---------------------------------------------------------------------

def test_no_parameters_do_not_wait_and_default_to_the_longest_timeout() -> None:
    poll = long_poll({}, MAX_S)
    assert poll == LongPoll(wait_s=MAX_S, wait_while=None, after_revision=None)
    assert not poll.must_wait(None)


def test_wait_while_status_is_a_comma_separated_set() -> None:
    poll = long_poll({"waitWhileStatus": "pending,pending_payment", "timeout": "10"}, MAX_S)
    assert poll == LongPoll(wait_s=10.0, wait_while=frozenset({"pending", "pending_payment"}), after_revision=None)


@pytest.mark.parametrize(("timeout", "wait_s"), [("0.5", 0.5), ("1e3", MAX_S), ("-3", 0.0), ("0", 0.0)])
def test_timeout_is_capped_at_the_maximum_and_never_negative(timeout: str, wait_s: float) -> None:
    assert long_poll({"timeout": timeout}, MAX_S).wait_s == wait_s


def test_a_nan_timeout_is_passed_through_as_today() -> None:
    assert math.isnan(long_poll({"timeout": "nan"}, MAX_S).wait_s)


def test_after_revision_is_an_integer() -> None:
    assert long_poll({"afterRevision": "7"}, MAX_S).after_revision == 7


@pytest.mark.parametrize(("query", "message"), [
    ({"timeout": "soon"}, "timeout must be a number, not 'soon'"),
    ({"afterRevision": "x"}, "afterRevision must be an integer, not 'x'"),
    ({"afterRevision": "1.5"}, "afterRevision must be an integer, not '1.5'"),
    ({"timeout": "soon", "afterRevision": "x"}, "timeout must be a number, not 'soon'"),
])
def test_a_bad_long_poll_value_is_a_bad_query(query: dict[str, str], message: str) -> None:
    with pytest.raises(BadQuery) as caught:
        long_poll(query, MAX_S)
    assert str(caught.value) == message


ROW = {"status": "pending", "revision": 3}


@pytest.mark.parametrize(("poll", "row", "wait"), [
    (LongPoll(5.0, frozenset({"pending"}), None), None, True),  # not there yet
    (LongPoll(5.0, frozenset({"pending"}), None), ROW, True),
    (LongPoll(5.0, frozenset({"confirmed"}), None), ROW, False),
    (LongPoll(5.0, None, 3), ROW, True),  # not past revision 3 yet
    (LongPoll(5.0, None, 2), ROW, False),
    (LongPoll(5.0, frozenset({"confirmed"}), 3), ROW, True),  # either reason waits
    (LongPoll(5.0, None, None), None, False),  # a plain read answers at once, even 404
])
def test_must_wait_while_the_row_is_missing_in_a_waited_status_or_not_newer(
        poll: LongPoll, row: dict[str, object] | None, wait: bool) -> None:
    assert poll.must_wait(row) is wait


# --- pages -------------------------------------------------------------------------

def test_page_defaults_to_the_first_twenty() -> None:
    assert page({}) == Page(page=1, limit=20)
    assert page({"page": "3", "limit": "100"}) == Page(page=3, limit=100)


@pytest.mark.parametrize(("query", "message"), [
    ({"page": "0"}, "page must be between 1 and 1000000"),
    ({"page": "1000001"}, "page must be between 1 and 1000000"),
    ({"limit": "0"}, "limit must be between 1 and 100"),
    ({"limit": "101"}, "limit must be between 1 and 100"),
    ({"page": "0", "limit": "0"}, "page must be between 1 and 1000000"),  # page is checked first
    ({"page": "two"}, "page must be an integer, not 'two'"),
])
def test_a_page_out_of_range_or_not_a_number_is_a_bad_query(query: dict[str, str], message: str) -> None:
    with pytest.raises(BadQuery) as caught:
        page(query)
    assert str(caught.value) == message


def test_int_param_is_the_default_when_absent() -> None:
    assert int_param({}, "n", 5, 1, 9) == 5
    assert int_param({"n": "9"}, "n", 5, 1, 9) == 9

"""Reading a batch in pieces gives exactly the records of reading it whole, whatever the
strings hold, and hands any other shape (or a malformed body) back to the whole parse."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import BadRequest
from service.ingestion import pieces
from service.ingestion.body import parse_records
from service.ingestion.pieces import split_document

TRICKY = ["},{", "}, {", '"},{"', "\\", "]}", "\n", "{", "[{}]", "é", "\u2028"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.sampled_from(TRICKY),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=12,
)
records = st.lists(st.dictionaries(st.sampled_from(["id", "a", "},{", "b"]), values, max_size=4), max_size=12)


@pytest.fixture
def tiny_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cut at every boundary, so that every false one is met."""
    monkeypatch.setattr(pieces, "PIECE_BYTES", 1)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(batch=records, indent=st.booleans())
def test_pieces_give_the_records_of_the_whole(batch: list[dict[str, Any]], indent: bool) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pieces, "PIECE_BYTES", 1)
        body = orjson.dumps({"predictions": batch}, option=orjson.OPT_INDENT_2 if indent else 0)
        split = split_document(body, "predictions")
        assert split is not None
        outer, found = split
        assert outer == {"predictions": []}
        assert found == batch


@pytest.mark.usefixtures("tiny_pieces")
def test_simple_fields_before_and_after_the_records_are_kept() -> None:
    body = (
        b'{"version": "v2", "rows": [{"a": 1}, {"a": "},{"}, {"b": [{"c": 2}, {"d": 3}]}], "replace": true}'
    )
    split = split_document(body, "rows")
    assert split == ({"version": "v2", "rows": [], "replace": True}, json.loads(body)["rows"])


@pytest.mark.usefixtures("tiny_pieces")
def test_nan_in_a_piece_is_read_by_the_stdlib_parser() -> None:
    body = b'{"predictions": [{"x": 1}, {"x": NaN}, {"x": -Infinity}]}'
    split = split_document(body, "predictions")
    assert split is not None
    assert repr(split[1]) == "[{'x': 1}, {'x': nan}, {'x': -inf}]"


@pytest.mark.parametrize(
    "body",
    [
        b'[{"a": 1}]',
        b'{"other": [{"a": 1}]}',
        b'{"predictions": [{"a": 1}], "extra": {"nested": 1}}',
        b'{"predictions": [{"a": 1},]}',
        b'{"predictions": [{"a": 1}, {"a": }]}',
        b'{"predictions": [{"a": "unterminated}]}',
    ],
)
@pytest.mark.usefixtures("tiny_pieces")
def test_other_shapes_and_malformed_bodies_are_left_to_the_whole_parse(body: bytes) -> None:
    assert split_document(body, "predictions") is None


def test_a_malformed_batch_names_its_position_in_the_whole_body() -> None:
    body = orjson.dumps({"predictions": [{"a": i} for i in range(30_000)]})[:-3] + b",]}"
    with pytest.raises(BadRequest) as refused:
        parse_records(body, "application/json", "predictions", max_errors_listed=10)
    assert refused.value.detail.startswith(f"malformed JSON at line 1, column {len(body) - 1}")


@pytest.mark.slow
def test_a_nul_deep_in_a_piece_is_named_with_its_record() -> None:
    batch = [{"id": str(i)} for i in range(40_000)] + [{"id": "x\u0000"}]
    with pytest.raises(BadRequest) as refused:
        parse_records(
            orjson.dumps({"predictions": batch}), "application/json", "predictions", max_errors_listed=10
        )
    assert refused.value.errors[0].field == "predictions[40000].id"

"""The JSON fast path returns what the record checks return, and leaves every record with
anything to name (or anything unusual) to them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.ingestion.plain import plain_prediction
from service.ingestion.records import prediction_record
from service.ingestion.validation import Checker
from service.registry.schemas import Task
from service.registry.service import RegisteredModel
from tests.factories import prediction
from tests.ingestion.test_vectorised import MODEL, SPEC, TIMES, pseudonym

REGRESSION_SPEC = dataclasses.replace(SPEC, task=Task.REGRESSION, classes=(), class_set=frozenset())
REGRESSION = RegisteredModel(2, "price", {"v1": REGRESSION_SPEC}, REGRESSION_SPEC)


def checked(record: dict[str, Any], model: RegisteredModel = MODEL) -> Any:
    checker = Checker([])
    built = prediction_record(checker, 0, record, model, TIMES, pseudonym)
    return built, checker.errors


PLAIN = [
    prediction(1),
    prediction(2, version="v1", subject_id="alice"),
    prediction(3, score=None, attributes=None),
    prediction(4, score=1, prediction="1", timestamp="2026-11-20T10:00:00.123456+05:30"),
    prediction(5, attributes={"sex": None}),
]


@pytest.mark.parametrize("record", PLAIN)
def test_a_plain_record_is_what_the_record_checks_build(record: dict[str, Any]) -> None:
    record["features"]["num_03"] = 7  # an integer: stored as 7.0 both ways
    record["features"]["cat_2"] = None
    fast = plain_prediction(record, MODEL, TIMES, pseudonym)
    built, errors = checked(record)
    assert fast is not None and errors == []
    assert fast == built and fast.content_hash() == built.content_hash()


def test_a_plain_regression_record_is_what_the_record_checks_build() -> None:
    record = prediction(1, prediction=1234.5)
    del record["score"]
    fast = plain_prediction(record, REGRESSION, TIMES, pseudonym)
    assert fast is not None and fast == checked(record, REGRESSION)[0]


UNUSUAL = [
    {"id": 7},  # integer ids: the record checks turn them into text
    {"id": ""},
    {"timestamp": "2026-11-20T10:00:00"},  # no zone
    {"timestamp": "2027-11-20T10:00:00Z"},  # in the future
    {"prediction": True},
    {"prediction": 2},
    {"prediction": "é"},
    {"score": 1.5},
    {"score": float("nan")},
    {"score": True},
    {"version": "v9"},
    {"subject_id": 12},
    {"scores": {"0": 0.2, "1": 0.8}},
    {"attributions": {"num_00": 0.1}},
    {"attributes": {"sex": 1}},
    {"attributes": {"religion": "x"}},
    {"attributes": []},
    {"colour": "red"},
]


@pytest.mark.parametrize("change", UNUSUAL)
def test_anything_unusual_goes_to_the_record_checks(change: dict[str, Any]) -> None:
    assert plain_prediction({**prediction(1), **change}, MODEL, TIMES, pseudonym) is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("num_00", float("nan")),
        ("num_00", float("inf")),
        ("num_00", 1e51),
        ("num_00", "12.5"),
        ("num_00", True),
        ("num_00", [1]),
        ("cat_0", "é"),  # NFC is the record checks' work
        ("cat_0", "x" * 201),
        ("cat_0", 3),  # an integer category: the record checks write it as text
        ("cat_0", 1.5),
    ],
)
def test_unusual_feature_values_go_to_the_record_checks(name: str, value: Any) -> None:
    record = prediction(1)
    record["features"][name] = value
    assert plain_prediction(record, MODEL, TIMES, pseudonym) is None


def test_a_missing_or_an_unknown_feature_goes_to_the_record_checks() -> None:
    missing = prediction(1)
    del missing["features"]["num_00"]
    unknown = prediction(1)
    unknown["features"]["colour"] = "red"
    assert plain_prediction(missing, MODEL, TIMES, pseudonym) is None
    assert plain_prediction(unknown, MODEL, TIMES, pseudonym) is None
    assert plain_prediction({"id": "x"}, MODEL, TIMES, pseudonym) is None
    assert plain_prediction(["not", "a", "dict"], MODEL, TIMES, pseudonym) is None

"""Label columns that carry their dictionary encoding (``kernel.coded``): what they equal, that
only the array built with the encoding carries it, and that a vocabulary codes them as it codes
the plain column, value for value."""

from __future__ import annotations

import io
import math
import unicodedata
from dataclasses import replace
from typing import Any

import numpy as np

from service.kernel.coded import CodedLabels, coded_labels, encoding_of, per_value, take
from service.stats.layout import Batch, Vocabulary, fit_layout
from service.stats.profile import build_profile, build_profiles
from service.storage.columnar import CopyPlan, parse_csv

# A non-NFC spelling of a reference value, NaN (pandas' missing), None, an unseen value, a
# known value beyond the top values, and the empty string.
DECOMPOSED = unicodedata.normalize("NFD", "Zürich")
CATEGORIES = np.array(["a", "b", DECOMPOSED, math.nan, "", "never seen", "rare", None], dtype=object)
VOCABULARY = Vocabulary("city", ("a", "b", "Zürich", ""), known=("rare",), known_complete=True)


def _column(rows: int = 5_000, seed: int = 3) -> CodedLabels:
    codes = np.random.default_rng(seed).integers(0, len(CATEGORIES), size=rows).astype(np.int32)
    return coded_labels(CATEGORIES, codes)


def test_the_column_equals_its_categories_at_its_codes() -> None:
    column = _column()
    encoded = encoding_of(column)
    assert encoded is not None and column.dtype == object and len(column) == 5_000
    categories, codes = encoded
    assert all(value is categories[code] for value, code in zip(column, codes, strict=True))


def test_arrays_made_from_the_column_do_not_carry_its_encoding() -> None:
    column = _column()
    assert encoding_of(column) is not None
    for derived in (column[::2], column[column != "a"], column[np.arange(10)], column.copy(), column == "b"):
        assert encoding_of(derived) is None
    assert encoding_of(np.asarray(column, dtype=object)) is None
    assert encoding_of(np.array(["a", "b"], dtype=object)) is None


def test_take_keeps_the_encoding_and_the_values() -> None:
    column = _column()
    index = np.random.default_rng(4).permutation(len(column))[:1_234]
    taken = take(column, index)
    assert encoding_of(taken) is not None
    assert taken.tolist() == column[index].tolist()
    plain = np.asarray(column, dtype=object)
    assert encoding_of(take(plain, index)) is None and take(plain, index).tolist() == taken.tolist()


def test_a_vocabulary_codes_a_coded_column_as_the_plain_one() -> None:
    column = _column()
    plain = np.array(column.tolist(), dtype=object)
    coded = VOCABULARY.codes(column)
    np.testing.assert_array_equal(coded, VOCABULARY.codes(plain))
    # Every kind of code occurs: the values, other-known, unseen, missing.
    assert set(coded.tolist()) == {0, 1, 2, 3, VOCABULARY.other, VOCABULARY.unseen, VOCABULARY.missing}
    np.testing.assert_array_equal(VOCABULARY.group_codes(column), VOCABULARY.group_codes(plain))


def test_profiles_of_coded_and_plain_columns_are_equal() -> None:
    rng = np.random.default_rng(5)
    reference = Batch(
        rows=4_000,
        numeric={"x": rng.normal(size=4_000)},
        categorical={"city": np.array(_column(4_000, seed=6).tolist(), dtype=object)},
        predictions=np.where(rng.random(4_000) < 0.4, "1", "0").astype(object),
        labels=np.where(rng.random(4_000) < 0.5, "1", "0").astype(object),
        attributes={"sex": np.array(rng.choice(["F", "M"], 4_000), dtype=object)},
    )
    layout = fit_layout(task="binary_classification", reference=reference, positive_label="1")
    city = _column(3_000, seed=7)
    sex = coded_labels(np.array(["F", "M", None], dtype=object), rng.integers(0, 3, 3_000))

    def batch(city: np.ndarray[Any, Any], sex: np.ndarray[Any, Any]) -> Batch:
        return Batch(
            rows=3_000,
            numeric={"x": rng.normal(size=3_000)},
            categorical={"city": city},
            predictions=np.where(rng.random(3_000) < 0.4, "1", "0").astype(object),
            labels=rng.choice(np.array(["0", "1", None], dtype=object), 3_000),
            attributes={"sex": sex},
        )

    coded = batch(city, sex)
    plain = replace(
        coded,
        categorical={"city": np.array(city.tolist(), dtype=object)},
        attributes={"sex": np.array(sex.tolist(), dtype=object)},
    )
    assert build_profile(layout, coded) == build_profile(layout, plain)
    assert build_profiles(layout, coded, [0, 1_000, 3_000]) == build_profiles(
        layout, plain, [0, 1_000, 3_000]
    )


def test_text_columns_read_from_csv_carry_their_encoding() -> None:
    """What a columnar read hands the profile (``storage.columnar.parse_csv``): NULL is None,
    an empty string stays "", and the column carries the codes of its values."""
    buffer = io.BytesIO()
    buffer.write(b'1,a\n2,\n3,""\n4,b\n5,a\n')
    columns = parse_csv(buffer, CopyPlan((("id", "int"), ("city", "text"))))
    assert columns["city"].tolist() == ["a", None, "", "b", "a"]
    assert encoding_of(columns["city"]) is not None
    np.testing.assert_array_equal(
        VOCABULARY.codes(columns["city"]), VOCABULARY.codes(np.array(columns["city"].tolist(), dtype=object))
    )


def test_a_test_per_value_equals_the_test_per_row() -> None:
    column = _column()
    plain = np.array(list(column), dtype=object)
    missing = lambda c: np.asarray(c == None, dtype=bool) | np.asarray(c != c, dtype=bool)  # noqa: E711, E731
    for test in (missing, lambda c: np.asarray(c == "b", dtype=bool)):
        coded, rows = per_value(column, test), per_value(plain, test)
        assert coded.dtype == bool and np.array_equal(coded, rows) and np.array_equal(rows, test(plain))
    assert per_value(plain, missing).sum() == sum(v is None or v != v for v in plain)

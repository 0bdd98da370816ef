"""Flat columns are normalised as ingestion normalises JSON records, and what ingestion would
refuse stops a job with the column named."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from service.profiles.columns import batch_of, texts
from service.profiles.commands import default_source
from service.stats.layout import Layout, Vocabulary

LAYOUT = Layout(
    task="binary_classification",
    classes=("0", "1"),
    positive_label="1",
    attributes=(Vocabulary("sex", ("F", "M")),),
)


def test_categories_become_the_text_ingestion_stores() -> None:
    column = ["e\u0301", 7, True, False, None, math.nan, 3.0, np.int64(5)]
    assert list(texts(column)) == ["\u00e9", "7", "true", "false", None, None, "3", "5"]
    with pytest.raises(ValueError, match="not a category"):
        texts([2.5])


def test_outputs_are_checked_against_the_model() -> None:
    good: dict[str, list[Any]] = {
        "prediction": [1, 0],
        "score": [0.9, 0.1],
        "label": [1, None],
        "sex": ["F", None],
    }
    batch = batch_of(LAYOUT, good, 2)
    assert batch.predictions is not None and list(batch.predictions) == ["1", "0"]
    assert batch.labels is not None and list(batch.labels) == ["1", None]
    assert list(batch.attributes["sex"]) == ["F", None]
    with pytest.raises(ValueError, match="'prediction' holds"):
        batch_of(LAYOUT, good | {"prediction": [2, 0]}, 2)
    with pytest.raises(ValueError, match="outside"):
        batch_of(LAYOUT, good | {"score": [1.5, 0.1]}, 2)


def test_a_score_only_binary_model_leaves_the_decision_to_the_threshold() -> None:
    batch = batch_of(LAYOUT, {"score": [0.9, 0.1]}, 2)
    assert batch.predictions is None
    assert batch.scores is not None and list(batch.scores) == [0.9, 0.1]


def test_the_default_source_names_the_input_in_allowed_characters() -> None:
    assert default_source("data/book 2026-12/") == "spark-backfill:book_2026-12"

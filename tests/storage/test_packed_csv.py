"""Reading packed floats out of a COPY's CSV (``storage/columnar.py``): hex cells, the document
where there is none, NULL, several pyarrow chunks, and a cell of the wrong width refused."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from service.storage.columnar import CopyPlan, pack_floats, parse_csv

PLAN = CopyPlan((("id", "int"),), (("f:a", "a"), ("f:b", "b")))


def _csv(lines: list[str]) -> io.BytesIO:
    buffer = io.BytesIO()
    buffer.write(("\n".join(lines) + "\n").encode())
    return buffer


def _hex(*values: float | None) -> str:
    return pack_floats(list(values)).hex()


def test_hex_cells_documents_and_nulls_give_the_same_floats() -> None:
    lines = [
        f"1,{_hex(1.5, None)}",
        '2,"{""a"": 2.25, ""b"": null}"',  # no packed value: the document, quoted by COPY
        "3,",  # neither: every number missing
        f"4,{_hex(-0.0, 1e300)}",
        '5,"{""b"": 7}"',
    ]
    columns = parse_csv(_csv(lines), PLAN)
    assert columns["id"].tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(columns["f:a"], [1.5, 2.25, math.nan, -0.0, math.nan])
    np.testing.assert_array_equal(columns["f:b"], [math.nan, math.nan, math.nan, 1e300, 7.0])
    assert columns["f:a"].flags.c_contiguous and columns["f:a"].dtype == np.float64


def test_many_chunks_are_decoded_in_order() -> None:
    """~1 MB of CSV per pyarrow chunk: 60,000 rows of 40 characters span several."""
    rng = np.random.default_rng(1)
    values = rng.normal(size=(60_000, 2))
    values[::7, 1] = math.nan
    lines = [
        f"{i},{_hex(*row)}" if i % 1000 else f'{i},"{{""a"": {float(row[0])!r}}}"'
        for i, row in enumerate(values)
    ]
    columns = parse_csv(_csv(lines), PLAN)
    expected_b = values[:, 1].copy()
    expected_b[::1000] = math.nan  # the document rows carry no "b"
    np.testing.assert_array_equal(columns["f:a"], values[:, 0])
    np.testing.assert_array_equal(columns["f:b"], expected_b)


def test_no_rows_give_empty_float_columns() -> None:
    columns = parse_csv(io.BytesIO(), PLAN)
    assert columns["f:a"].dtype == np.float64 and columns["f:a"].size == 0


def test_a_cell_of_another_width_is_refused() -> None:
    """Rows packed with other keys than the read expects must not be read as these."""
    with pytest.raises(ValueError, match="48 characters where 32 were expected"):
        parse_csv(_csv([f"1,{_hex(1.0, 2.0)}", f"2,{_hex(1.0, 2.0, 3.0)}"]), PLAN)

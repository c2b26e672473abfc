"""The API's small reads (rows in binary) give the frames COPY's CSV gives, on either side of
the probe's limit."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from stats_platform.storage import warehouse

SCHEMA = {"n": pl.Int64, "label": pl.String, "half": pl.Int64}
# Awkward text (quotes, a comma, a backslash, NULL) in the columns CSV has to quote.
ROWS = """
SELECT n, CASE WHEN n %% 7 = 0 THEN NULL ELSE 'a "b", c\\' || n END, n / 2
FROM generate_series(1, %(last)s) AS n
"""


@pytest.mark.parametrize(
    "last", [0, 3, warehouse.SMALL_READ_ROWS, warehouse.SMALL_READ_ROWS + 1, 2500]
)
def test_select_or_copy_equals_copy_out(db, last):
    expected = warehouse.copy_out(db, ROWS, {"last": last}, SCHEMA)
    found = warehouse.select_or_copy(db, ROWS, {"last": last}, SCHEMA)
    assert_frame_equal(found, expected)
    assert found.height == last
    assert found["label"].null_count() == last // 7


def test_select_frame_reads_rows_with_their_types(db):
    found = warehouse.select_frame(db, ROWS, {"last": 7}, SCHEMA)
    assert found.schema == SCHEMA
    assert found.rows() == [
        (1, 'a "b", c\\1', 0),
        (2, 'a "b", c\\2', 1),
        (3, 'a "b", c\\3', 1),
        (4, 'a "b", c\\4', 2),
        (5, 'a "b", c\\5', 2),
        (6, 'a "b", c\\6', 3),
        (7, None, 3),
    ]

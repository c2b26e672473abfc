"""The response models' literals are written out for the OpenAPI schema; they must match the domain."""

from __future__ import annotations

from typing import get_args

from stats_api.schemas import Resolution
from stats_platform.domain.grains import RESOLUTIONS


def test_resolution_literal_is_the_domain_resolutions_finest_first() -> None:
    assert get_args(Resolution) == RESOLUTIONS

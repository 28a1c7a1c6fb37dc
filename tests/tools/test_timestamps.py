"""Every provider's time formats become one compact UTC form."""

from __future__ import annotations

import pytest

from tasklens.tools.timestamps import iso_time


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2018-03-10T20:38:12.818792Z", "2018-03-10T20:38:12Z"),
        ("2019-08-24T14:15:22Z", "2019-08-24T14:15:22Z"),
        ("2024-01-15T10:30:00+02:00", "2024-01-15T08:30:00Z"),
        ("2023-05-04 08:06:23", "2023-05-04T08:06:23Z"),
        (1692790838027, "2023-08-23T11:40:38Z"),
        (1692790838, "2023-08-23T11:40:38Z"),
        (None, None),
        ("", None),
        ("not a time", None),
        (True, None),
    ],
)
def test_iso_time(value: object, expected: str | None) -> None:
    assert iso_time(value) == expected

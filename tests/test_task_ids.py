"""Ids from the model are checked and encoded so they can never change an upstream URL's structure."""

from __future__ import annotations

import pytest
from urllib.parse import unquote

from tasklens.tools.errors import ProviderError
from tasklens.tools.task_ids import checked_id, path_segment

GOOD = ["269999729", "6453677fc47af30015be5a58", "task_abcdef123456", "497f6eca-6276-4993-bfeb-53cbbbba6f08", "a.b:c"]
BAD = ["", " ", "..", ".", "../etc", "a/b", "a?b=1", "a#frag", "%2e%2e", "a b", "a\nb", "a\x00b", "é", "x" * 129, "-lead"]


@pytest.mark.parametrize("value", GOOD)
def test_real_id_shapes_pass_unchanged(value: str) -> None:
    assert checked_id("ango", "task_id", value, "e.g.") == value
    segment = path_segment("ango", "task_id", value, "e.g.")
    assert unquote(segment) == value and "/" not in segment


@pytest.mark.parametrize("value", BAD)
def test_structure_changing_ids_are_refused_with_a_sentence(value: str) -> None:
    with pytest.raises(ProviderError) as caught:
        checked_id("deepomatic", "task_id", value, "269999729")
    error = caught.value
    assert error.kind == "invalid_argument"
    assert "task_id" in error.for_model() and "269999729" in error.for_model()
    assert "\n" not in error.for_model()

"""`IdentifierTable`: the vocabulary it lists follows every append, in order of first appearance."""

from __future__ import annotations

import pytest

from genrec.errors import DataError
from genrec.tokenizers.table import IdentifierTable


def test_vocabulary_lists_distinct_tokens_in_order_of_first_appearance() -> None:
    table = IdentifierTable()
    table.append("a", ["<a_1>", "<b_2>"])
    assert table.vocabulary() == ["<a_1>", "<b_2>"]
    table.append("b", ["<a_3>", "<b_2>", "<c_0>"])
    assert table.vocabulary() == ["<a_1>", "<b_2>", "<a_3>", "<c_0>"]
    table.append("c", ["<a_1>", "<b_9>"])
    assert table.vocabulary() == ["<a_1>", "<b_2>", "<a_3>", "<c_0>", "<b_9>"]


def test_rejected_identifiers_add_no_tokens() -> None:
    table = IdentifierTable()
    table.append("a", ["<a_1>", "<b_2>"])
    with pytest.raises(DataError, match="share the identifier"):
        table.append("b", ["<a_1>", "<b_2>"])
    with pytest.raises(DataError, match="non-empty tuple of strings"):
        table.append("c", ["<a_7>", ""])
    assert table.vocabulary() == ["<a_1>", "<b_2>"]
    assert len(table) == 1


def test_vocabulary_survives_the_index_json_round_trip() -> None:
    table = IdentifierTable()
    for item, ident in {"x": ["<a_2>", "<b_0>"], "y": ["<a_0>", "<b_0>"], "z": ["<a_2>", "<b_1>"]}.items():
        table.append(item, ident)
    again = IdentifierTable.from_index_json(table.to_index_json())
    assert again.vocabulary() == table.vocabulary() == ["<a_2>", "<b_0>", "<a_0>", "<b_1>"]

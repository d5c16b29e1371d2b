"""Conversation state updates, grounding (clauses, ordinals, titles, brands) and the schema-only parser."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genrec.recommenders.conversation_grounding import Grounder, title_aliases
from genrec.recommenders.conversation_parser import ConversationParser
from genrec.recommenders.conversation_state import (
    ACTION_KINDS,
    Action,
    CatalogueFacets,
    ConversationState,
)
from recommenders.conversation_fixtures import make_parser, show_catalogue

CAT = show_catalogue()
FACETS = CatalogueFacets(CAT)


def test_later_action_wins_and_updates_are_immutable() -> None:
    start = ConversationState()
    s1 = start.apply([Action("include category", value="comedy"), Action("like", item=1)])
    s2 = s1.apply([Action("exclude category", value="comedy"), Action("avoid", item=1)])
    assert start == ConversationState()  # untouched
    assert s1.include_categories == ("comedy",) and s1.references == (1,)
    assert s2.include_categories == () and s2.exclude_categories == ("comedy",)
    assert s2.references == () and s2.avoided == (1,)
    s3 = s2.apply([Action("include brand", value="acme"), Action("exclude brand", value="acme")])
    assert s3.include_brands == () and s3.exclude_brands == ("acme",)
    assert s2.apply([Action("exclude category", value="comedy")]) == s2  # idempotent
    moved = s3.next_turn([4, 2])
    assert moved.turn == 1 and moved.shown == (4, 2) and s3.turn == 0


def test_action_needs_the_right_argument() -> None:
    with pytest.raises(ValueError, match="needs an item"):
        Action("like", value="x")
    with pytest.raises(ValueError, match="needs a value"):
        Action("include category", item=3)
    with pytest.raises(ValueError, match="unknown action kind"):
        Action("buy", value="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown category"):
        FACETS.check(Action("include category", value="western"))
    with pytest.raises(ValueError, match="unknown brand"):
        FACETS.check(Action("exclude brand", value="globex"))


def test_banned_items_follow_the_filters() -> None:
    state = ConversationState().apply(
        [Action("include category", value="comedy"), Action("include category", value="drama")]
    )
    assert set(range(len(CAT))) - set(FACETS.banned(state)) == {7}  # both categories required
    state = ConversationState().apply(
        [Action("include brand", value="acme"), Action("include brand", value="zeta")]
    )
    assert set(range(len(CAT))) - set(FACETS.banned(state)) == {0, 1, 2, 3}  # brands are alternatives
    state = ConversationState().apply(
        [
            Action("exclude category", value="crime"),
            Action("exclude brand", value="orbit"),
            Action("avoid", item=2),
        ]
    )
    assert set(range(len(CAT))) - set(FACETS.banned(state)) == {1, 3, 5}
    assert FACETS.categories[5] == frozenset({"pens & refills"})  # HTML unescaped, lower-cased


def test_clauses_split_on_but_and_semicolons_but_not_inside_values() -> None:
    g = Grounder(FACETS)
    assert [c for c, _ in g.clauses("More like the second one, but not Horror")] == [
        "more like the second one",
        "not horror",
    ]
    assert [c for c, _ in g.clauses("no comedy and no horror; drama please")] == [
        "no comedy",
        "no horror",
        "drama please",
    ]
    assert [c for c, _ in g.clauses("anything but horror")] == ["anything but horror"]
    ((clause, spans),) = g.clauses("I want pens and refills")  # "&" written "and" stays one value
    assert clause == "i want pens and refills" and [s.mention for s in spans] == [
        ("category", "pens & refills")
    ]


def test_ordinals_titles_and_brand_anaphora_ground_to_items() -> None:
    g = Grounder(FACETS)
    state = ConversationState(shown=(4, 2, 6))

    def mentions(text: str, s: ConversationState = state) -> list:
        return [m for clause, spans in g.clauses(text) for m in g.mentions(clause, spans, s)]

    assert mentions("more like the second one") == [("item", 2)]
    assert mentions("not the 3rd") == [("item", 6)] and mentions("the last one") == [("item", 6)]
    assert mentions("number 1 please") == [("item", 4)]
    assert mentions("the fifth one") == []  # only three were shown
    assert "the godfather" in title_aliases("Godfather, The (1972)")
    assert mentions("something like the godfather") == [("item", 6)]
    assert mentions("similar to laugh") == [("item", 2)]  # title search
    assert mentions("something under another brand") == [("brand", "orbit")]  # brand of the first shown
    liked = ConversationState(references=(3,), shown=(4,))
    assert mentions("same brand please", liked) == [("brand", "zeta")]  # latest reference first
    assert mentions("a comedy from acme") == [("category", "comedy"), ("brand", "acme")]
    assert mentions("hello there") == []


@pytest.fixture(scope="module")
def parsers(tmp_path_factory: pytest.TempPathFactory) -> list[ConversationParser]:
    return [make_parser(tmp_path_factory.mktemp(f"lm{s}"), CAT, seed=s) for s in range(3)]


def test_random_lms_only_ever_output_schema_actions(parsers: list[ConversationParser]) -> None:
    state = ConversationState(shown=(0, 1, 2))
    utterances = ["more like the second one, but not horror", "no comedy and some drama from acme", "hello"]
    for parser in parsers:
        for text in utterances:
            result = parser.parse(text, state)
            for action in result.actions:
                assert action.kind in ACTION_KINDS
                FACETS.check(action)  # every argument is a catalogue value
        first = parser.parse(utterances[0], state).actions
        assert [(a.item, a.value) for a in first] == [(1, ""), (None, "horror")]
        assert first[0].kind in ("like", "avoid") and first[1].kind in (
            "include category",
            "exclude category",
        )
        assert parser.parse("hello", state).actions == ()


def test_choice_is_the_best_scored_allowed_action_and_is_memoised(
    parsers: list[ConversationParser], monkeypatch: pytest.MonkeyPatch
) -> None:
    parser = parsers[0]
    calls: list[tuple[str, list]] = []

    def fake(clause: str, options: list) -> torch.Tensor:
        calls.append((clause, list(options)))
        return torch.tensor([0.0, 1.0]) if "not" in clause else torch.tensor([1.0, 0.0])

    monkeypatch.setattr(parser, "channel_scores", fake)
    got = parser.parse("not comedy, but some drama", ConversationState())
    assert [a.text(CAT) for a in got.actions] == ["exclude category comedy", "include category drama"]
    assert calls[0][1] == [("include category", "comedy"), ("exclude category", "comedy")]
    parser.parse("not comedy", ConversationState())
    assert len(calls) == 2  # the repeated (clause, argument) came from the memo
    liked = parser.parse("more like the second one", ConversationState(shown=(5, 6)))
    assert [a.text(CAT) for a in liked.actions] == ["like Godfather, The (1972)"]
    assert calls[-1][1] == [("like", "Godfather, The (1972)"), ("avoid", "Godfather, The (1972)")]


def test_channel_scores_are_log_likelihoods_of_the_clause(parsers: list[ConversationParser]) -> None:
    scores = parsers[1].channel_scores(
        "no comedy", [("include category", "comedy"), ("exclude category", "comedy")]
    )
    assert scores.shape == (2,) and bool((scores < 0).all()) and bool(torch.isfinite(scores).all())
    assert scores[0] != scores[1]


def test_parser_file_is_not_a_loader_for_missing_lms(tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - any loader error, reported by the endpoint as 503
        ConversationParser.from_path(str(tmp_path / "missing"), FACETS)

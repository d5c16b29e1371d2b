"""Live catalogue changes through the serving core: `RecommendService.upsert_item` and `hide_item`."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.data.catalogue import Catalogue
from genrec.data.split import TrainData
from genrec.errors import DataError
from genrec.recommenders.run_dir import save_run
from genrec.serving.service import Query, RecommendService, UnknownItemsError


def ranked(service: RecommendService, history: tuple[int, ...], k: int, **rules: object) -> list[int]:
    (answer,) = service.recommend_batch([Query(history=history, k=k, **rules)])  # type: ignore[arg-type]
    return answer.items


def test_a_new_item_is_known_at_once_but_an_id_model_never_recommends_it(popularity_run: Path) -> None:
    service = RecommendService.from_run(popularity_run)
    n = len(service.catalogue)
    index = service.upsert_item("new1", {"title": "Brand New Stapler", "categories": "Staplers"})
    assert index == n and service.catalogue.id_of(index) == "new1"
    assert service.resolve(["new1", "Brand New Stapler"]) == (index, index)
    assert service.search("stapler") == [index]
    assert service.check_categories(["staplers"]) == ("staplers",)
    assert index not in ranked(service, (index, 0), k=n + 1)  # popularity never saw it
    assert index not in ranked(service, (), k=n + 1)  # nor does the empty-history fallback
    # A filter to its category leaves nothing the model can score: an empty list, never an error.
    assert ranked(service, (0,), k=5, include_categories=("Staplers",)) == []


def test_hidden_items_are_never_recommended_until_upserted_again(popularity_run: Path) -> None:
    service = RecommendService.from_run(popularity_run)
    assert ranked(service, (5,), k=2) == [0, 1]
    service.hide_item("i0")
    service.hide_item("i0")  # hiding twice is the same as once
    assert service.hidden == frozenset({0})
    assert ranked(service, (5,), k=2) == [1, 2]
    assert 0 not in ranked(service, (), k=12)  # the fallback honours it too
    assert ranked(service, (0,), k=2) == [1, 2]  # a hidden item may still be in a history
    assert service.resolve(["i0"]) == (0,)
    with pytest.raises(UnknownItemsError) as err:
        service.hide_item("nope")
    assert err.value.field_name == "item" and err.value.unknown == ["nope"]

    title = service.catalogue.title(0)
    assert service.upsert_item("i0", {"title": "Renamed Pen"}) == 0
    assert service.hidden == frozenset()
    assert ranked(service, (5,), k=2) == [0, 1]
    assert service.resolve(["Renamed Pen"]) == (0,)
    with pytest.raises(UnknownItemsError):
        service.resolve([title])  # the old title no longer names it
    assert service.catalogue.text(0, "categories") == ""  # PUT semantics: fields not given are cleared


def test_lookups_are_replaced_not_mutated(popularity_run: Path) -> None:
    service = RecommendService.from_run(popularity_run)
    catalogue, lower, categories = service.catalogue, service._lower_titles, service._categories
    snapshot = (len(catalogue), list(lower), list(categories))
    service.upsert_item("new1", {"title": "Fresh", "categories": "Pens"})
    service.upsert_item("i3", {"title": "Changed"})
    assert (len(catalogue), list(lower), list(categories)) == snapshot  # readers of the old ones are safe
    assert service.catalogue is not catalogue and service._lower_titles is not lower
    assert service._lower_titles[3] == "changed" and service._lower_titles[-1] == "fresh"


@pytest.mark.parametrize(
    ("item_id", "fields", "field"),
    [
        ("", {"title": "x"}, "id"),
        (" padded ", {"title": "x"}, "id"),
        ("ok", {"title": 3}, "title"),
        ("ok", {"title": "x" * 20_001}, "title"),
        ("ok", ["title"], "fields"),
    ],
)
def test_bad_items_are_refused_naming_the_field(
    popularity_run: Path, item_id: str, fields: object, field: str
) -> None:
    service = RecommendService.from_run(popularity_run)
    with pytest.raises(DataError) as err:
        service.upsert_item(item_id, fields)  # type: ignore[arg-type]
    assert err.value.field == field
    assert len(service.catalogue) == 12


def test_sasrec_accepts_new_items_in_histories_exclusions_and_hides(sasrec_run: Path) -> None:
    service = RecommendService.from_run(sasrec_run)
    n = len(service.catalogue)
    new = service.upsert_item("new1", {"title": "Something Else", "categories": "Pens"})
    before = ranked(service, (1, 2, 3), k=5)
    assert ranked(service, (1, 2, 3, new), k=5) == before  # an item it never trained on is ignored
    assert ranked(service, (1, 2, 3), k=5, exclude_items=(new,)) == before
    got = ranked(service, (1, 2, 3), k=n, include_categories=("Pens",))
    assert new not in got and got
    service.hide_item(service.catalogue.id_of(before[0]))
    service.hide_item("new1")
    after = ranked(service, (1, 2, 3), k=5)
    assert before[0] not in after and after[:4] == before[1:]


@pytest.fixture(scope="module")
def generative_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny atomic-ID generative model, trained for one epoch and saved as a servable run."""
    from genrec.recommenders.generative import GenerativeRecommender
    from genrec.training.config import config_from_dict

    n = 20
    catalogue = Catalogue(tuple(f"i{i}" for i in range(n)), {"title": tuple(f"Item {i}" for i in range(n))})
    train = TrainData(
        catalogue, [[(u + j) % n for j in range(5)] for u in range(30)], tuple(f"u{u}" for u in range(30))
    )
    config = config_from_dict(
        {
            "identifiers": {"kind": "atomic"},
            "backbone": {"num_layers": 1, "hidden_size": 16, "num_heads": 2, "intermediate_size": 32},
            "training": {
                "epochs": 1, "batch_size": 16, "eval_every": 0, "progress": False, "num_threads": 1,
                "checkpoint_every": 0,
            },
            "decoding": {"num_beams": 8, "batch_size": 16},
        }
    )  # fmt: skip
    directory = tmp_path_factory.mktemp("generative_run")
    model = GenerativeRecommender(config, output_dir=directory / "training")
    model.fit(train)
    return save_run(model, catalogue, directory / "run", dataset="tiny20", train=train)


def test_a_served_generative_model_recommends_an_item_added_after_training(generative_run: Path) -> None:
    service = RecommendService.from_run(generative_run)
    model = service.recommender
    n = len(service.catalogue)
    identifiers = [model.item_tokenizer.encode(i) for i in range(n)]  # type: ignore[attr-defined]

    new = service.upsert_item("n1", {"title": "A Late Arrival"})
    everything_else = tuple(i for i in range(n))
    assert ranked(service, (0, 1), k=3, exclude_items=everything_else) == [new]
    assert new in ranked(service, (0,), k=n)
    assert [model.item_tokenizer.encode(i) for i in range(n)] == identifiers  # type: ignore[attr-defined]
    assert service.upsert_item("n1", {"title": "A Late Arrival, renamed"}) == new
    assert model.item_tokenizer.encode(new) == ("<item_20>",)  # type: ignore[attr-defined]
    assert model.titles[new] == "A Late Arrival, renamed"  # type: ignore[attr-defined]

    service.hide_item("n1")
    assert new not in ranked(service, (0,), k=n)
    assert ranked(service, (0, 1), k=3, exclude_items=everything_else) == []
    assert new not in ranked(service, (new, 3), k=4)  # a hidden item in the history is fine
    service.upsert_item("n1", {"title": "A Late Arrival"})
    assert ranked(service, (0, 1), k=3, exclude_items=everything_else) == [new]


def test_replaying_the_same_changes_after_a_restart_gives_the_same_answers(generative_run: Path) -> None:
    changes = [("n1", "Late One"), ("n2", "Late Two"), ("i4", "Item 4, renamed"), ("n3", "Late Three")]
    services = [RecommendService.from_run(generative_run) for _ in range(2)]
    for service in services:
        indices = [service.upsert_item(item_id, {"title": title}) for item_id, title in changes]
        service.hide_item("n2")
        assert indices == [20, 21, 4, 22]
    first, second = (s.recommender for s in services)
    assert [first.item_ids[i] for i in range(23)] == [second.item_ids[i] for i in range(23)]  # type: ignore[attr-defined]
    assert ranked(services[0], (0, 1), k=10) == ranked(services[1], (0, 1), k=10)
    assert services[0].hidden == services[1].hidden == frozenset({21})


def test_updated_lookups_equal_those_built_from_scratch(popularity_run: Path) -> None:
    service = RecommendService.from_run(popularity_run)
    twin = service.upsert_item("twin", {"title": service.catalogue.title(0), "categories": "Ink, Glue"})
    assert service.resolve([service.catalogue.title(0)]) == (0,)  # the first item keeps a shared title
    service.upsert_item("i0", {"title": "Unique Now", "categories": "Desks"})
    assert service.resolve(["Item Alpha 0"]) == (twin,)
    for i in range(12):  # every "Pens" item loses the category: it must stop being known
        if "Pens" in service.catalogue.text(i, "categories"):
            service.upsert_item(service.catalogue.id_of(i), {"title": service.catalogue.title(i)})
    fresh = RecommendService(service.recommender, service.catalogue, service.info)
    assert service._titles == fresh._titles and service._lower_titles == fresh._lower_titles
    assert service._categories == fresh._categories
    assert service._known_categories == fresh._known_categories and "pens" not in fresh._known_categories
    with pytest.raises(UnknownItemsError):
        service.check_categories(["Pens"])

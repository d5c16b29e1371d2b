"""Grounded explanations: attributes, the constrained explainer, the independent checker, HTTP and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from genrec.cli import app as cli_app
from genrec.data.catalogue import Catalogue
from genrec.data.split import TrainData
from genrec.errors import GenrecError
from genrec.recommenders.grounded_explain import (
    GroundedExplainer,
    GroundedExplainerSlot,
    check_explanation,
    item_attributes,
)
from genrec.recommenders.popularity import PopularityRecommender
from genrec.recommenders.run_dir import save_run
from genrec.serving.app import create_app
from genrec.serving.batching import BatchingConfig
from genrec.serving.service import RecommendService
from recommenders.grounded_fixtures import make_word_lm, shop_catalogue

CATALOGUE = shop_catalogue()
P = {item_id: CATALOGUE.index_of(item_id) for item_id in CATALOGUE.item_ids}


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("word_lm")
    make_word_lm(directory, CATALOGUE, seed=0)
    return directory


def explainer(seed: int, tmp_path: Path) -> GroundedExplainer:
    model, tokenizer = make_word_lm(tmp_path / f"lm{seed}", CATALOGUE, seed=seed)
    return GroundedExplainer(model, tokenizer, CATALOGUE)


def test_item_attributes_read_the_catalogue_text() -> None:
    assert item_attributes(CATALOGUE, P["p5"]) == {
        "brand": ["Orbit & Co"],  # HTML entities decoded
        "category": ["Lighting"],
        "title word": ["orbit", "desk", "lamp"],
    }
    movies = Catalogue.from_records(
        ["1"], {"1": {"title": "The Big Sleep (1946)", "categories": "Film-Noir, Mystery"}}
    )
    assert item_attributes(movies, 0, "genre") == {
        "genre": ["Film-Noir", "Mystery"],
        "title word": ["big", "sleep"],
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_lm_names_only_true_attributes_and_catalogue_items(seed: int, tmp_path: Path) -> None:
    """Whatever a random LM prefers, every sentence is one built from shared facts: the checker agrees."""
    grounded = explainer(seed, tmp_path)
    wordings = set()
    for history, item in [([P["p1"], P["p3"]], P["p2"]), ([P["p3"]], P["p4"]), ([P["p1"]], P["p6"])]:
        result = grounded.explain(history, item)
        facts, own = grounded.facts(history, item)
        assert result.text in grounded.sentences(item, facts, own)
        assert result.grounded and result.mentions
        wordings.add(result.text.split("“")[0])
        report = check_explanation(result.text, history, item, CATALOGUE)
        assert report["all_attributes_true"] and not report["names_unknown_item"], report
        assert all(t["involved"] for t in report["titles"])
        found = {
            (a["attribute"].replace("genre", "category"), a["value"].lower()) for a in report["attributes"]
        }
        for mention in result.mentions:
            assert (mention.attribute, mention.value.lower()) in found
            holders = [CATALOGUE.index_of(i) for i in mention.items]
            assert all(
                mention.value in item_attributes(CATALOGUE, h).get(mention.attribute, []) for h in holders
            )
    assert len(wordings) >= 1


def test_facts_prefer_shared_brand_and_fall_back_to_own(tmp_path: Path) -> None:
    grounded = explainer(0, tmp_path)
    facts, own = grounded.facts([P["p3"], P["p1"]], P["p2"])
    assert not own and (facts[0].kind, facts[0].value, facts[0].history_items) == (
        "brand",
        "Acme",
        (P["p1"],),
    )
    lonely, own = grounded.facts([P["p1"]], P["p6"])
    assert own and [(f.kind, f.value) for f in lonely] == [("category", "Desk Tools")]
    result = grounded.explain([P["p1"]], P["p6"])
    assert [m.to_dict() for m in result.mentions] == [
        {"attribute": "category", "value": "Desk Tools", "items": ["p6"]}
    ]
    with pytest.raises(GenrecError, match="unknown item index 99"):
        grounded.explain([P["p1"]], 99)
    with pytest.raises(GenrecError, match="unknown history"):
        grounded.explain([-1], P["p2"])


def test_checker_catches_false_attributes_and_made_up_titles() -> None:
    history, item = [P["p1"]], P["p2"]
    honest = check_explanation(
        "Like “Acme Blue Gel Pen”, it is made by Acme and sits in Pens.", history, item, CATALOGUE
    )
    assert honest["all_attributes_true"] and not honest["names_unknown_item"]
    assert {(a["attribute"], a["value"]) for a in honest["attributes"]} == {
        ("brand", "Acme"),
        ("category", "Pens"),
    }
    false_brand = check_explanation("It is made by Zeta, like your pens.", history, item, CATALOGUE)
    assert not false_brand["all_attributes_true"]
    assert next(a for a in false_brand["attributes"] if not a["true"])["value"] == "Zeta"
    false_word = check_explanation("Its title has the word “lamp”.", history, item, CATALOGUE)
    assert false_word["attributes"][0] == {
        "attribute": "title word",
        "value": "lamp",
        "items": [],
        "true": False,
    }
    quoted = check_explanation("You loved “The Golden Quill Deluxe”.", history, item, CATALOGUE)
    assert quoted["names_unknown_item"] and quoted["unknown_titles"] == ["The Golden Quill Deluxe"]
    capitalised = check_explanation("Try it if you enjoyed Midnight Ink Masters.", history, item, CATALOGUE)
    assert capitalised["unknown_titles"] == ["Midnight Ink Masters"]
    real = check_explanation("If you liked Acme Blue Gel Pen, try this.", history, item, CATALOGUE)
    assert not real["names_unknown_item"] and real["titles"][0]["items"] == ["p1"]


def shop_run(directory: Path) -> Path:
    train = TrainData(CATALOGUE, [[0, 1, 2], [0, 1], [0]], ("u0", "u1", "u2"))
    model = PopularityRecommender(seed=0)
    model.fit(train)
    return save_run(model, CATALOGUE, directory, dataset="shop", train=train)


def test_http_explain_returns_grounded_mentions_and_rejects_bad_input(tmp_path: Path, lm_dir: Path) -> None:
    service = RecommendService.from_run(shop_run(tmp_path / "run"))
    slot = GroundedExplainerSlot(lambda cat: GroundedExplainer.from_path(str(lm_dir), cat))
    with TestClient(create_app(service, BatchingConfig(enabled=False), grounded_explainer=slot)) as client:
        r = client.post("/v1/explain", json={"history": ["p1"], "item": "p2", "grounded": True})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["grounded"] and body["generated"] and not body["names_unknown_item"]
        assert {"attribute": "brand", "value": "Acme", "items": ["p2", "p1"], "holds": True} in body[
            "mentions"
        ]
        assert "“Acme Red Gel Pen”" in body["reason"]
        # a popularity model has no language head: free text stays a 501, grounded works
        assert client.post("/v1/explain", json={"history": ["p1"], "item": "p2"}).status_code == 501
        unknown = client.post("/v1/explain", json={"history": ["nope"], "item": "p2", "grounded": True})
        assert unknown.status_code == 422 and unknown.json()["unknown"] == ["nope"]
        assert client.post("/v1/explain", json={"item": "p2", "grounded": "maybe"}).status_code == 422
        assert client.post("/v1/explain", json={"history": ["p1"]}).status_code == 422


def test_cli_explain_runs_on_a_run_directory(tmp_path: Path, lm_dir: Path) -> None:
    run = shop_run(tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(cli_app, ["explain", "--model", str(run), "--history", "p3", "--lm", str(lm_dir)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["grounded"] and payload["check"]["all_attributes_true"]
    assert not payload["check"]["names_unknown_item"] and payload["item"]["id"] != "p3"
    named = runner.invoke(
        cli_app,
        [
            "explain",
            "--model",
            str(run),
            "--history",
            "p3",
            "--item",
            "Zeta Graph Paper Pad",
            "--lm",
            str(lm_dir),
        ],
    )
    assert named.exit_code == 0 and json.loads(named.stdout)["item"]["id"] == "p4"
    bad = runner.invoke(cli_app, ["explain", "--model", str(run), "--history", "zz", "--lm", str(lm_dir)])
    assert bad.exit_code != 0 and "zz" in str(bad.exception)

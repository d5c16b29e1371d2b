"""The shared config machinery: one ``dotted.key=value`` override syntax, YAML loading naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.config import ConfigModel, apply_overrides, load_yaml_mapping, parse_override, validate_config
from genrec.errors import ConfigError


class _Inner(ConfigModel):
    rate: float = 0.5


class _Outer(ConfigModel):
    name: str = "x"
    inner: _Inner = _Inner()


def test_override_values_are_read_as_yaml() -> None:
    assert parse_override("training.lr=0.01") == (["training", "lr"], 0.01)
    assert parse_override("epochs=3") == (["epochs"], 3)
    assert parse_override("a.b=[x, y]") == (["a", "b"], ["x", "y"])
    assert parse_override("flag=true") == (["flag"], True)
    assert parse_override("text=a=b") == (["text"], "a=b")


def test_exponent_floats_without_a_dot_are_floats() -> None:
    """PyYAML (YAML 1.1) reads ``1e-5`` as a string; overrides and YAML files read it as YAML 1.2 does."""
    assert parse_override("lr=1e-5") == (["lr"], 1e-5)
    assert parse_override("lr=-2E3") == (["lr"], -2000.0)
    assert parse_override("name=e5") == (["name"], "e5")
    assert parse_override("version=1.2.3") == (["version"], "1.2.3")


@pytest.mark.parametrize("bad", ["lr", "=3", "training..lr=1", "training.=1"])
def test_a_malformed_override_names_itself(bad: str) -> None:
    with pytest.raises(ConfigError, match=f"override '{bad}' must look like section.key=value"):
        parse_override(bad)


def test_a_value_that_is_not_yaml_is_an_error() -> None:
    with pytest.raises(
        ConfigError, match=r"override 'a=\[1': the value is not valid YAML \(expected ',' or ']'"
    ):
        parse_override("a=[1")


def test_overrides_create_sections_and_never_change_the_input() -> None:
    raw = {"training": {"lr": 0.1}, "seed": 0}
    out = apply_overrides(raw, ["training.lr=0.2", "data.dataset=office", "seed=4"])
    assert out == {"training": {"lr": 0.2}, "data": {"dataset": "office"}, "seed": 4}
    assert raw == {"training": {"lr": 0.1}, "seed": 0}
    with pytest.raises(ConfigError, match="'seed' is not a section"):
        apply_overrides(raw, ["seed.value=1"])


def test_validation_errors_name_the_key_and_list_the_allowed_ones() -> None:
    assert validate_config(_Outer, {"inner": {"rate": 1}}).inner.rate == 1.0
    with pytest.raises(ConfigError, match=r"^inner: unknown keys \['rte'\]; allowed: \['rate'\]$"):
        validate_config(_Outer, {"inner": {"rte": 1}})
    with pytest.raises(ConfigError, match=r"inner.rate: Input should be a valid number \(got 'fast'\)"):
        validate_config(_Outer, {"inner": {"rate": "fast"}})
    with pytest.raises(ConfigError, match=r"^model.json: unknown keys \['nme'\]"):
        validate_config(_Outer, {"nme": 1}, "model.json")


def test_direct_construction_names_the_class_and_nested_validation_the_full_path() -> None:
    with pytest.raises(ConfigError, match=r"^_Inner.rate: Input should be a valid number \(got 'x'\)$"):
        _Inner(rate="x")
    message = r"^name: Input should be a valid string \(got 3\); inner.rate: Input should be a valid number"
    with pytest.raises(ConfigError, match=message):
        validate_config(_Outer, {"inner": {"rate": "x"}, "name": 3})


def test_yaml_loading_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read"):
        load_yaml_mapping(tmp_path / "missing.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_yaml_mapping(empty) == {}

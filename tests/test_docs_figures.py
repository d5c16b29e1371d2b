"""The README and docs/ tell the truth about the repository: their figures and their links.

A figure printed with three or more decimals (0.0449, 0.03199, 1.234) in README.md or docs/**/*.md must equal,
at its printed precision, some number in a JSON file under benchmarks/results/ (searched recursively, so
archived rows count). A figure that cannot come from such a file, such as a number published in a paper, goes
in ``ALLOWED`` below with the reason. A hand-typed or stale figure fails the test with its file and line.

The net is coarse: the results files hold thousands of numbers, and at four decimals about 40% of the values
between 0 and 0.2 occur somewhere in them, so a wrong four-decimal figure passes by chance about that often.
It reliably catches figures of five or more decimals and figures outside the recorded range.

Every relative link must also point at a file or folder that exists, so moving a results file cannot leave
a dangling reference behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

#: A decimal number with at least three decimals, not part of a dotted version (6.0.12.20261113) or a word.
FIGURE = re.compile(r"(?<![\w.])([-−]?)(\d+\.(\d{3,}))(?![\w]|\.\d)")

#: The most decimals a figure may have; more cannot be told apart from float noise.
MAX_DECIMALS = 12

#: Figures that are in no results file on purpose, with the reason. Keep it short: prefer fixing the text.
ALLOWED: dict[str, str] = {
    # TIGER's published beauty figures (Rajput et al., 2023), quoted as the yardstick; from the paper.
    "0.0454": "TIGER HR@5 (published)",
    "0.0321": "TIGER NDCG@5 (published)",
    "0.0648": "TIGER HR@10 (published)",
    "0.0384": "TIGER NDCG@10 (published)",
    # `genrec demo` on a second machine of the same kind (generative HR@10 / NDCG@10), quoted to show the figures
    # move across machines; that run's summary.json was not kept. This machine's run is demo/ml100k-seed0.json.
    "0.1304": "demo, generative HR@10, other machine",
    "0.0647": "demo, generative NDCG@10, other machine",
    # docs/experiments.md: a seed's HR@10 change between two recorded rows (weight decay 0.1 against 0.05).
    "-0.0010": "difference of two recorded HR@10 values",
}


def _numbers(payload: object) -> Iterator[float]:
    """Every int and float in a parsed JSON document (booleans excluded)."""
    if isinstance(payload, bool):
        return
    if isinstance(payload, int | float):
        yield float(payload)
    elif isinstance(payload, dict):
        for value in payload.values():
            yield from _numbers(value)
    elif isinstance(payload, list):
        for value in payload:
            yield from _numbers(value)


def _recorded_numbers() -> list[float]:
    numbers: list[float] = []
    for path in sorted(RESULTS.rglob("*.json")):
        try:
            payload = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            pytest.fail(f"{path.relative_to(ROOT)} is not valid JSON: {exc}")
        numbers.extend(_numbers(payload))
    return numbers


def figures(text: str) -> Iterator[tuple[int, str, int]]:
    """(line number, figure as printed, decimals) for every figure with three or more decimals in ``text``."""
    for number, line in enumerate(text.splitlines(), start=1):
        for match in FIGURE.finditer(line):  # a leading minus (ASCII or typographic) is part of the figure
            sign = "-" if match.group(1) else ""
            yield number, sign + match.group(2), len(match.group(3))


def test_the_figure_pattern_takes_precise_figures_and_skips_versions_and_short_ones() -> None:
    line = "NDCG@10 0.0449 (0.03199 unrounded), 1.50x, torch==2.13.0, types==6.0.12.20261113, 22,363, 12.345"
    assert [(figure, decimals) for _, figure, decimals in figures(line)] == [
        ("0.0449", 4),
        ("0.03199", 5),
        ("12.345", 3),
    ]
    signed = "differences −0.0072 and -0.0160, ranges 0.1-0.2500"
    assert [figure for _, figure, _ in figures(signed)] == ["-0.0072", "-0.0160", "0.2500"]


def test_documents_exist() -> None:
    assert (ROOT / "README.md").is_file() and (ROOT / "docs" / "index.md").is_file()


def recorded_at_each_precision(numbers: Iterable[float]) -> dict[int, set[float]]:
    """decimals -> the numbers rounded to that many decimals, for 3 to MAX_DECIMALS decimals."""
    pool = list(numbers)
    return {decimals: {round(n, decimals) for n in pool} for decimals in range(3, MAX_DECIMALS + 1)}


def unrecorded(text: str, recorded: dict[int, set[float]]) -> list[tuple[int, str]]:
    """(line, figure) of each precise figure in ``text`` that is neither recorded nor allowlisted."""
    return [
        (line, figure)
        for line, figure, decimals in figures(text)
        if figure not in ALLOWED and (decimals > MAX_DECIMALS or float(figure) not in recorded[decimals])
    ]


def test_a_figure_matches_only_a_number_that_rounds_to_it_at_its_printed_precision() -> None:
    recorded = recorded_at_each_precision([0.044912, 0.1, 0.0320999959])
    text = (
        "0.0449 and 0.04491 and 0.045\n0.0450, 0.044, 0.100 and 0.0321 (TIGER) and 0.0320999959 and 0.03210"
    )
    assert unrecorded(text, recorded) == [(2, "0.0450"), (2, "0.044")]


def test_every_precise_figure_in_the_readme_and_docs_is_in_a_committed_results_file() -> None:
    numbers = _recorded_numbers()
    assert numbers, f"no numbers found in the JSON files under {RESULTS}"
    recorded = recorded_at_each_precision(numbers)
    missing = [
        f"{document.relative_to(ROOT)}:{line}: {figure}"
        for document in DOCUMENTS
        for line, figure in unrecorded(document.read_text(), recorded)
    ]
    assert not missing, (
        "figures in no JSON file under benchmarks/results/ (fix the text, record the figure, or allowlist it "
        "in tests/test_docs_figures.py with a reason):\n" + "\n".join(missing)
    )


#: A Markdown link or image target: ``[text](target)``; the target ends at whitespace or ``)``.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_every_relative_link_in_the_readme_and_docs_resolves() -> None:
    broken = []
    for document in DOCUMENTS:
        for number, line in enumerate(document.read_text().splitlines(), start=1):
            for target in LINK.findall(line):
                if re.match(r"[a-z]+:", target) or target.startswith("#"):
                    continue  # a URL or an anchor in the same page
                path = target.split("#", 1)[0]
                if not (document.parent / path).exists():
                    broken.append(f"{document.relative_to(ROOT)}:{number}: {target}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)


def test_the_readme_stays_a_front_door() -> None:
    """At most 12 KB: experiment narratives and full tables belong in docs/ and benchmarks/results/."""
    size = len((ROOT / "README.md").read_bytes())
    assert size <= 12_000, f"README.md is {size:,} bytes; move detail to docs/ (limit 12,000)"

"""Tests of the report page's structure: templates, sections as data, escaping, package data."""

from __future__ import annotations

import fnmatch
import math
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup
from test_report import IMAGE, N_INPUTS, make_record

from regulab.errors import InvalidParameterError
from regulab.report import Section, render_report, section, table_html, write_report

EVIL = 'x"><script>alert(1)</script>'
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
OWN_SCRIPT = '<script>window.addEventListener("load"'


def _user_records(text: str) -> list[Any]:
    """Compare, path and curve runs whose config, feature and penalty names hold ``text``."""
    kept = [i % 3 != 0 for i in range(N_INPUTS)]
    names = [f"px{i} {text}" for i in range(N_INPUTS)]
    records = []
    for seed in range(2):
        records.append(
            make_record(
                f"l1 {text}",
                seed,
                accuracy=0.93,
                kind="l1",
                kept=kept,
                feature_names=names,
                best_epoch=5,
            )
        )
        records.append(make_record(f"none {text}", seed, accuracy=0.9))
        for strength in (1e-4, 1e-3, 1e-2):
            records.append(
                make_record(
                    f"l1={strength} {text}",
                    seed,
                    accuracy=0.9,
                    kind="l1",
                    group=f"path:{text}",
                    extra={"strength": strength},
                )
            )
        for rate in (0.0, 0.5):
            records.append(
                make_record(
                    f"dropout={rate} {text}",
                    seed,
                    accuracy=0.9,
                    group="dropout_curve",
                    extra={"rate": rate},
                )
            )
        for patience in (1, 3):
            records.append(
                make_record(
                    f"patience={patience} {text}",
                    seed,
                    accuracy=0.9,
                    group="patience_curve",
                    extra={"patience": patience},
                    best_epoch=3,
                    epochs=3 + patience,
                )
            )
    return records


def _render_with(text: str) -> str:
    page, _, _ = render_report(
        _user_records(text),
        title=text,
        dataset=f"{text}.csv",
        image_shape=IMAGE,
        diagnostics_html=table_html([{"feature": text, "value": 1.0}]),
        lead_sections=[section("advice", f"Advice {text}", table_html([{text: text}]), lead=text)],
        extra_sections=[Section("notes", text, text, lead=text)],
    )
    return page


class _Tags(HTMLParser):
    """The page's element structure: every start tag with its attribute names, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))


def _tags(page: str) -> list[tuple[str, tuple[str, ...]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def _sections(page: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)" class="card">(.*?)</section>', page, re.S))


@pytest.fixture(scope="module")
def pages() -> tuple[str, str]:
    """The same report with a hostile user string and with a harmless one."""
    return _render_with(EVIL), _render_with("harmless")


def test_script_in_user_strings_is_escaped_in_every_section(pages: tuple[str, str]) -> None:
    evil, _ = pages
    sections = _sections(evil)
    assert list(sections) == [
        "advice",
        "comparison",
        "diagnostics",
        "learning-curves",
        "generalization-gap",
        "weights",
        "sparsity",
        "path",
        "dropout-curve",
        "patience-curve",
        "notes",
    ]
    # the curve sections show no names (their figures plot a parameter against the metric)
    shown = [sid for sid in sections if sid not in ("dropout-curve", "patience-curve")]
    for sid in shown:
        assert ESCAPED in sections[sid], sid
    for sid, body in sections.items():
        assert "<script" not in body and "alert(1)</" not in body, sid
    # feature names (sparsity table), config names (comparison), data set name (header, summary)
    assert f"px0 x&#34;&gt;{ESCAPED}" in sections["sparsity"]
    assert f"l1 x&#34;&gt;{ESCAPED}" in sections["comparison"]
    header = evil[evil.index("<header") : evil.index("</header>")]
    assert f"Data set <b>x&#34;&gt;{ESCAPED}.csv</b>" in header
    assert f'<a href="#notes">x&#34;&gt;{ESCAPED}</a>' in header
    summary = re.search(r'<p class="summary">(.*?)</p>', evil, re.S)
    assert summary is not None and f"on <b>x&#34;&gt;{ESCAPED}.csv</b>" in summary.group(1)
    # nowhere on the page does user data open a tag: one script, the report's own
    assert evil.count("<script") == 1 and OWN_SCRIPT in evil
    assert EVIL not in evil and "alert(1)</script>" not in evil


def test_user_strings_add_no_element_or_attribute(pages: tuple[str, str]) -> None:
    evil, harmless = pages
    assert ESCAPED in evil and "harmless" in harmless
    assert _tags(evil) == _tags(harmless)
    assert not [tag for tag in _tags(evil) if any(a.startswith("on") for a in tag[1])]


def test_table_of_contents_comes_from_the_sections() -> None:
    page, _, _ = render_report(
        [],
        lead_sections=[section("first", "First & <foremost>", "")],
        extra_sections=[Section("last", "Last", "plain <text>"), section("more", "More", "<p>")],
    )
    toc = re.search(r'<nav class="toc"[^>]*>(.*?)</nav>', page, re.S)
    assert toc is not None
    links = re.findall(r'<a href="#([^"]+)">([^<]*)</a>', toc.group(1))
    assert links == [
        ("first", "First &amp; &lt;foremost&gt;"),
        ("comparison", "Comparison"),
        ("learning-curves", "Learning curves"),
        ("generalization-gap", "Generalization gap"),
        ("weights", "Weight distributions"),
        ("sparsity", "Sparsity"),
        ("last", "Last"),
        ("more", "More"),
    ]
    assert [sid for sid, _ in links] == list(_sections(page))
    # a plain-text body is escaped, a section() body is trusted HTML
    assert "plain &lt;text&gt;" in _sections(page)["last"]
    assert "<p>" in _sections(page)["more"]


def test_section_is_data_that_renders_itself() -> None:
    advice = section("advice", "Advice <1>", table_html([{"a": 1}]), lead="Read <this>")
    assert (advice.id, advice.title, advice.lead) == ("advice", "Advice <1>", "Read <this>")
    assert isinstance(advice.body, Markup) and advice.body.startswith('<div class="table-scroll">')
    html = Markup(advice)
    assert html.startswith('<section id="advice" class="card"><h2>Advice &lt;1&gt;</h2>')
    assert '<p class="lead">Read &lt;this&gt;</p>' in html and html.endswith("</section>")
    assert "&lt;b&gt;" in Markup(Section("s", "t", "<b>"))
    with pytest.raises(InvalidParameterError, match=r"starting with a letter\. Got '1x' instead\."):
        Section("1x", "t", "")


def test_caller_sections_must_be_sections_with_new_ids() -> None:
    with pytest.raises(
        InvalidParameterError,
        match=r"^The 'extra_sections' parameter of write_report must hold sections built with "
        r"regulab\.report\.section\. Got str instead\.$",
    ):
        render_report([], extra_sections=['<section id="x" class="card"><h2>x</h2></section>'])  # type: ignore[list-item]
    with pytest.raises(
        InvalidParameterError,
        match=r"^The 'lead_sections' parameter of write_report must use section ids not already "
        r"in the report \(comparison, generalization-gap, learning-curves, sparsity, weights\)\. "
        r"Got 'weights' instead\.$",
    ):
        render_report([], lead_sections=[section("weights", "again", "")])
    with pytest.raises(InvalidParameterError, match=r"\(a, comparison, .*\)\. Got 'a' instead"):
        render_report([], extra_sections=[section("a", "A", ""), section("a", "B", "")])


def test_diagnostics_may_be_a_whole_section() -> None:
    page, _, _ = render_report([], diagnostics_html=section("checks", "Checks", "<p>fine</p>"))
    assert list(_sections(page))[:2] == ["comparison", "checks"]
    assert "<p>fine</p>" in _sections(page)["checks"]


def test_table_cells_show_the_text_the_data_gives() -> None:
    table = [
        {
            "config": "sgd+l2",
            "test_accuracy_mean": "diverged",
            "test_accuracy_ci": math.nan,
            "gap_mean": math.inf,
            "epochs_mean": 3,
            "stop_reasons": {"non_finite": 2},
            "best": False,
        },
        {"config": "l2", "test_accuracy_mean": 0.9, "test_accuracy_ci": 0.02, "best": True},
    ]
    page, _, _ = render_report([], table=table)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", _sections(page)["comparison"], re.S)
    assert rows[1] == (
        '<td class="name">sgd+<wbr>l2</td><td class="num">diverged</td><td class="num">—</td>'
        '<td class="num">3.0</td>'
        '<td><span class="nowrap">non-finite loss ×2</span></td>'
    )
    assert '<td class="num">0.900 <span class="ci">± 0.020</span></td>' in rows[2]


def test_figure_files_stay_in_figures_dir(tmp_path: Path) -> None:
    records = [
        make_record(
            "l1", seed, accuracy=0.9, kind="l1", group="path:../../up/x", extra={"strength": s}
        )
        for seed in range(2)
        for s in (1e-3, 1e-2)
    ]
    info = write_report(records, tmp_path / "r.html", figures_dir=tmp_path / "figures")
    assert "path_../../up/x" in info.figures
    assert all(p.parent == tmp_path / "figures" and p.exists() for p in info.figure_paths)
    assert (tmp_path / "figures" / "path_.._.._up_x.png") in info.figure_paths


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_templates_ship_as_package_data() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["regulab.report"]
    assert "jinja2>=3.1" in config["project"]["dependencies"]
    package = root / "src" / "regulab" / "report"
    templates = [p.relative_to(package).as_posix() for p in (package / "templates").iterdir()]
    assert {"page.html.j2", "section.html.j2", "report.css"} <= {Path(t).name for t in templates}
    for name in templates:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name

"""The HTML report renderer: self-contained, every user string shown as typed, written atomically."""

from __future__ import annotations

import json
import math
import os
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from plotly.offline import get_plotlyjs

from engine.report import Report, Section, Table, render, write
from engine.report import html as report_html

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(1)</script>"
TEMPLATE = "{{ 7*7 }}"
COMMENT = "<!--"
LINE_SEP = "\u2028"
HOSTILE = (IMG, SCRIPT, TEMPLATE, COMMENT, LINE_SEP)
EVERYTHING = "".join(HOSTILE)  # all of them at once, e.g. "<!--" before "<script>"
PLOTLY_MARKER = re.search(r"plotly\.js v\d+\.\d+\.\d+", get_plotlyjs()[:500]).group()  # the banner


class _Document(HTMLParser):
    """Tags, attributes, script and style contents, and the text of each element, as a browser parses them."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[tuple[str, dict[str, str | None], list[str]]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in {"meta", "br", "img", "input", "link", "hr"}:
            self._open.append((tag, attributes, []))

    def handle_endtag(self, tag):
        while self._open:
            name, attributes, parts = self._open.pop()
            text = "".join(parts)
            if self._open:
                self._open[-1][2].append(text)
            if name == "script":
                self.scripts.append((attributes, text))
            elif name == "style":
                self.styles.append(text)
            self.texts.setdefault(name, []).append(text)
            if name == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)


def _scatter(name: str, ys=(1.0, 3.0, 2.0)) -> go.Figure:
    fig = go.Figure(go.Scatter(x=list(range(len(ys))), y=list(ys), name=name, mode="lines+markers",
                               hovertext=[name] * len(ys)))
    fig.update_layout(title=f"Chart of {name}", xaxis_title=name, showlegend=True)
    return fig


def _hostile_report() -> Report:
    frame = pd.DataFrame({"model": [IMG, SCRIPT, TEMPLATE, "plain"],
                          EVERYTHING: [0.91, np.nan, 0.87, 0.5],
                          "latency (ms)": ["1.2 ± 0.1", None, COMMENT, LINE_SEP]})
    table = Table(title=EVERYTHING, frame=frame, note=EVERYTHING, highlight={EVERYTHING: [0]})
    section = Section(title=EVERYTHING, figures=[_scatter(EVERYTHING), _scatter("ordinary")],
                      tables=[table], notes=[EVERYTHING])
    provenance = {"runs": [{"id": "run-1", "model": EVERYTHING}], EVERYTHING: {"nested": [1, 2.5, None]},
                  "versions": {"frontier": "0.1.0"}}
    return Report(title=EVERYTHING, verdict=EVERYTHING, sections=[section, Section(title=IMG)],
                  provenance=provenance, warnings=[EVERYTHING, IMG], generated_at="2025-01-02T03:04:05+00:00")


@pytest.fixture(scope="module")
def hostile_html() -> str:
    return render(_hostile_report())


@pytest.fixture(scope="module")
def hostile_doc(hostile_html) -> _Document:
    return _Document(hostile_html)


def _without_plotly_js(text: str) -> str:
    js = get_plotlyjs()
    assert text.count(js) == 1
    return text.replace(js, "")


# ---- escaping ----

@pytest.mark.parametrize("payload", [IMG, SCRIPT, "<script>alert", "</script><script>", COMMENT])
def test_no_hostile_payload_appears_raw(hostile_html, payload):
    assert payload not in hostile_html


def test_the_template_payload_is_shown_literally(hostile_html, hostile_doc):
    assert TEMPLATE in hostile_html
    assert hostile_doc.texts["title"] == [EVERYTHING]
    assert hostile_doc.texts["h1"] == [EVERYTHING]
    assert "49" not in "".join(hostile_doc.texts["h1"] + hostile_doc.texts["h2"])


def test_every_user_string_reads_back_as_typed(hostile_doc):
    texts = hostile_doc.texts
    assert texts["h2"][:2] == [EVERYTHING, IMG]
    assert EVERYTHING in texts["h3"]
    assert texts["p"].count(EVERYTHING) >= 3  # verdict, section note, table note
    assert EVERYTHING in texts["li"] and IMG in texts["li"]  # warnings, and the contents
    cells = texts["td"]
    assert {IMG, SCRIPT, TEMPLATE, COMMENT, LINE_SEP} <= set(cells)
    assert EVERYTHING in texts["th"]  # a column name
    assert EVERYTHING in texts["dt"]  # a provenance key
    assert EVERYTHING in texts["span"]  # a provenance value


def test_only_the_expected_elements_exist(hostile_doc):
    tags = {tag for tag, _ in hostile_doc.tags}
    assert "img" not in tags and "iframe" not in tags and "link" not in tags and "object" not in tags
    assert all("onerror" not in attrs for _, attrs in hostile_doc.tags)
    assert not [a for _, attrs in hostile_doc.tags for a in attrs if a.startswith("on")]


def test_figure_json_cannot_break_out_of_its_script(hostile_html, hostile_doc):
    data_blocks = [body for attrs, body in hostile_doc.scripts
                   if attrs.get("type") == "application/json" and attrs.get("id", "").endswith("-data")]
    assert len(data_blocks) == 2  # the two figures, each whole in its own block
    executable = [attrs for attrs, _ in hostile_doc.scripts if attrs.get("type") is None]
    assert len(executable) == 2  # plotly.js and the drawing code, nothing a string smuggled in
    for body in data_blocks:
        assert "<" not in body and ">" not in body and "&" not in body
        assert LINE_SEP not in body and "\u2029" not in body
        assert "\n" not in body  # compact, not pretty-printed
    fig = json.loads(data_blocks[0])
    assert fig["data"][0]["name"] == EVERYTHING
    assert fig["data"][0]["hovertext"][0] == EVERYTHING
    assert fig["layout"]["xaxis"]["title"]["text"] == EVERYTHING
    assert json.loads(data_blocks[1])["data"][0]["name"] == "ordinary"


def test_figures_are_drawn_with_newplot_and_the_config(hostile_doc):
    code = next(body for attrs, body in hostile_doc.scripts
                if attrs.get("type") is None and "frontier-plotly-config" in body)
    assert "Plotly.newPlot(div, fig.data || [], fig.layout || {}, config)" in code
    config_block = next(body for attrs, body in hostile_doc.scripts if attrs.get("id") == "frontier-plotly-config")
    assert json.loads(config_block) == {"responsive": True, "displaylogo": False}
    charts = [attrs for tag, attrs in hostile_doc.tags if tag == "div" and "frontier-chart" in (attrs.get("class") or "")]
    assert [c["data-figure"] for c in charts] == ["section-1-figure-1-data", "section-1-figure-2-data"]


# ---- self-contained ----

def test_plotly_js_is_inlined_exactly_once(hostile_html):
    assert PLOTLY_MARKER.startswith("plotly.js v")
    assert hostile_html.count(PLOTLY_MARKER) == 1
    assert hostile_html.count(get_plotlyjs()) == 1


def test_a_report_without_figures_carries_no_plotly_js():
    text = render(Report(title="t", verdict=None, sections=[Section("only text", notes=["hi"])], provenance={}))
    assert PLOTLY_MARKER not in text
    assert len(text.encode()) < 50_000


def test_nothing_is_loaded_from_anywhere(hostile_html, hostile_doc):
    for tag, attrs in hostile_doc.tags:
        for name in ("src", "href", "srcset", "action", "data", "poster", "xlink:href"):
            value = (attrs.get(name) or "").strip()
            assert not value or value.startswith("#"), f"<{tag} {name}={value!r}>"
    assert not [attrs for attrs, _ in hostile_doc.scripts if "src" in attrs]
    page = _without_plotly_js(hostile_html)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page
    for css in hostile_doc.styles:
        assert "@import" not in css and "url(" not in css and "@font-face" not in css


def test_a_restrictive_content_security_policy_is_set(hostile_doc):
    csp = [attrs["content"] for tag, attrs in hostile_doc.tags
           if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(csp) == 1
    rules = {part.split()[0]: part.split()[1:] for part in csp[0].split(";") if part.strip()}
    assert rules["default-src"] == ["'none'"]
    assert rules["script-src"] == ["'unsafe-inline'"]
    assert rules["style-src"] == ["'unsafe-inline'"]
    assert rules["img-src"] == ["data:"]
    # the policy comes before anything it should govern
    names = [tag for tag, _ in hostile_doc.tags]
    assert names.index("meta") < names.index("style") < names.index("script")


# ---- content ----

def test_tables_show_na_and_mark_the_best_cells():
    frame = pd.DataFrame({"model": ["a", "b", None], "accuracy": [0.9, math.nan, 0.95],
                          "latency": [pd.NA, 2, 3]}, dtype=object)
    table = Table("Scores", frame, note="higher is better", highlight={"accuracy": [2], "latency": (1,)})
    doc = _Document(render(Report("r", None, [Section("s", tables=[table])], {})))
    cells = [(attrs.get("class") or "", text) for (tag, attrs), text in
             zip([t for t in doc.tags if t[0] == "td"], doc.texts["td"], strict=True)]
    assert [text for _, text in cells] == ["a", "0.9", "n/a", "b", "n/a", "2", "n/a", "0.95", "3"]
    best = [text for css, text in cells if "best" in css.split()]
    assert best == ["2", "0.95"]
    assert sum("na" in css.split() for css, _ in cells) == 3
    assert all("num" in css.split() for css, text in cells if text in {"0.9", "0.95", "2", "3"})
    assert doc.texts["th"] == ["model", "accuracy", "latency"]
    assert "higher is better" in doc.texts["p"]


def test_a_named_index_is_shown_as_row_headers():
    frame = pd.DataFrame({"f1": [0.5, 0.25]}, index=pd.Index(["m1", "m2"], name="model"))
    doc = _Document(render(Report("r", None, [Section("s", tables=[Table("t", frame)])], {})))
    assert doc.texts["th"] == ["model", "f1", "m1", "m2"]
    assert doc.texts["td"] == ["0.5", "0.25"]


@pytest.mark.parametrize("highlight", [{"nope": [0]}, {"a": [5]}, {"a": [-1]}])
def test_a_highlight_outside_the_table_is_an_error(highlight):
    table = Table("t", pd.DataFrame({"a": [1, 2]}), highlight=highlight)
    with pytest.raises(ValueError, match="highlight"):
        render(Report("r", None, [Section("s", tables=[table])], {}))


def test_an_empty_table_says_so():
    doc = _Document(render(Report("r", None, [Section("s", tables=[Table("t", pd.DataFrame({"a": []}))])], {})))
    assert doc.texts["td"] == ["No rows"]


def test_provenance_is_a_nested_definition_list():
    provenance = {"run": {"id": "r1", "folds": 5, "seeds": [0, 1]}, "empty": {}, "missing": None}
    doc = _Document(render(Report("r", None, [], provenance)))
    assert doc.texts["dt"] == ["run", "id", "folds", "seeds", "empty", "missing"]
    assert doc.texts["span"] == ["r1", "5", "0", "1", "(empty)", "n/a"]


def test_the_verdict_comes_first_and_the_contents_link_to_every_part(hostile_doc, hostile_html):
    assert hostile_html.index('id="verdict"') < hostile_html.index('id="warnings"') < hostile_html.index(
        'id="section-1"') < hostile_html.index('id="provenance"')
    links = [attrs["href"] for tag, attrs in hostile_doc.tags if tag == "a"]
    ids = {attrs.get("id") for _, attrs in hostile_doc.tags}
    assert links == ["#verdict", "#warnings", "#section-1", "#section-2", "#provenance"]
    assert all(link[1:] in ids for link in links)


def test_no_verdict_no_warnings_no_boxes():
    text = render(Report("r", None, [Section("s")], {}))
    assert 'id="verdict"' not in text and 'id="warnings"' not in text and 'id="provenance"' not in text


def test_print_styles_and_sticky_headers_are_present(hostile_doc):
    css = "".join(hostile_doc.styles)
    assert "@media print" in css and "position: sticky" in css and "overflow: auto" in css


def test_the_template_ships_next_to_the_module():
    assert (report_html.TEMPLATES / report_html.TEMPLATE).is_file()
    assert report_html._environment().autoescape is True


# ---- writing ----

def test_write_replaces_an_existing_file_whole_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old " * 2_000_000)  # larger than the new report
    report = _hostile_report()
    n = write(report, target)
    assert n == target.stat().st_size == len(render(report).encode("utf-8"))
    assert target.read_text(encoding="utf-8") == render(report)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    target.write_text("the previous report")

    def broken_replace(src, dst):
        assert Path(src).parent == Path(dst).parent == tmp_path  # same folder: a rename, never a copy
        raise OSError("disk trouble")

    monkeypatch.setattr(os, "replace", broken_replace)  # the shared atomic writer renames
    with pytest.raises(OSError, match="disk trouble"):
        write(Report("r", "v", [Section("s", figures=[_scatter("a")])], {}), target)
    assert target.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_typical_report_is_plotly_js_plus_a_little(tmp_path):
    report = Report("r", "v", [Section("s", figures=[_scatter(f"m{i}", ys=np.linspace(0, 1, 50)) for i in range(3)])],
                    {"run": "x"})
    size = write(report, tmp_path / "r.html")
    plotly_bytes = len(get_plotlyjs().encode())
    assert plotly_bytes < size < plotly_bytes + 100_000

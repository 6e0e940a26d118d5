"""Exports (DESIGN A7): a standalone, offline HTML page (the explorer's own drawing code), and node-link JSON."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import networkx as nx
import pytest
from models import BUILDERS, Course, register_all, sample

from ecs_notebook import CallableRegistry, EntityRegistry, lineage_graph, upstream
from ecs_notebook.lineage.export import to_html, to_json
from ecs_notebook.lineage.page import STATIC

ROOT = Path(__file__).resolve().parent.parent

HOSTILE_IMG = "<img src=x onerror=alert(1)>"
HOSTILE_SCRIPT = "</script><img src=x onerror=alert(2)>"  # 37 characters: fits in a label whole


class Page(HTMLParser):
    """Every element and attribute of a page, and the text of its scripts."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def elements(self, tag):
        return [a for t, a in self.tags if t == tag]


def _data(page: Page) -> dict:
    """The JSON the page embeds (heading, payload, details), parsed back."""
    (data,) = [a for a in page.elements("script") if a.get("type") == "application/json"]
    assert data.get("id") == "ecs-data"
    return json.loads(page.scripts[0])


def _nodes(page: Page) -> list[dict]:
    return _data(page)["payload"]["nodes"]


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """A fresh, empty working directory."""
    d = tmp_path / "cwd"
    d.mkdir()
    monkeypatch.chdir(d)
    return d


def _hostile_lineage():
    register_all()
    a = sample(HOSTILE_IMG, 1.0)
    c = Course(name=HOSTILE_SCRIPT)
    c.promote_to_root()
    r = CallableRegistry.execute("report", a=a)
    return a, c, r


# -- one standalone file ---------------------------------------------------------------------------


def test_html_writes_nothing_but_path(cwd):
    BUILDERS["pipeline"]()
    assert os.listdir(cwd) == []
    out = to_html("lineage.html")
    assert sorted(os.listdir(cwd)) == ["lineage.html"], "no lib/ folder, no temporary files"
    assert out.resolve() == (cwd / "lineage.html").resolve()
    assert (cwd / "lineage.html").stat().st_size > 10_000  # vis-network is inlined


def test_html_to_another_directory_writes_nothing_in_cwd(cwd, tmp_path):
    BUILDERS["fan_in"]()
    target = tmp_path / "elsewhere" / "page.html"
    target.parent.mkdir()
    to_html(target)
    assert os.listdir(cwd) == []
    assert os.listdir(target.parent) == ["page.html"]


def test_html_loads_nothing_from_the_network(cwd):
    BUILDERS["pipeline"]()
    page = Page(to_html("p.html").read_text(encoding="utf-8"))
    for tag, attrs in page.tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or not re.match(r"\s*(https?:)?//", value), (tag, attrs)
    assert [a for a in page.elements("script") if "src" in a] == []
    assert [a for a in page.elements("link") if "href" in a] == []
    csp = [a for a in page.elements("meta") if (a.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(csp) == 1
    policy = csp[0]["content"]
    assert "default-src 'none'" in policy
    assert "connect-src" not in policy or "connect-src 'none'" in policy
    assert "http" not in policy


def test_html_is_one_page_with_the_explorer_drawing_code_inlined(cwd):
    BUILDERS["pipeline"]()
    page = Page(to_html("p.html").read_text(encoding="utf-8"))
    assert len(page.elements("html")) == 1
    assert len(page.scripts) == 2, "the data (JSON, never run), then the page's script"
    assert [a.get("type") for a in page.elements("script")] == ["application/json", None]
    bundle = (STATIC / "lineage-page.js").read_text(encoding="utf-8")
    assert page.scripts[1].strip() == bundle.strip(), "the script is the bundle built from js/src (the widget's sources)"
    assert "vis" in bundle and len(bundle) > 100_000


# -- entity data is text ---------------------------------------------------------------------------


def test_hostile_text_is_not_html(cwd):
    a, c, r = _hostile_lineage()
    html = to_html("p.html").read_text(encoding="utf-8")
    assert HOSTILE_IMG not in html
    assert "</script><img" not in html
    page = Page(html)
    assert page.elements("img") == []
    assert len(page.elements("script")) == 2, "no script element smuggled in"
    by_id = {n["id"]: n for n in _nodes(page)}
    assert by_id[str(a.ecs_id)]["label"] == f"Sample {HOSTILE_IMG}", "the data decodes back to the original text"
    assert by_id[str(c.ecs_id)]["label"] == f"Course {HOSTILE_SCRIPT}"
    assert by_id[str(r.ecs_id)]["label"] == f"Report {HOSTILE_IMG}"
    assert _data(page)["details"][str(a.ecs_id)]["fields"]["name"] == HOSTILE_IMG


def test_hostile_heading_is_text(cwd):
    BUILDERS["pipeline"]()
    html = to_html("p.html", title="</title><script>alert(3)</script>").read_text(encoding="utf-8")
    page = Page(html)
    assert len(page.elements("script")) == 2
    assert _data(page)["heading"] == "</title><script>alert(3)</script>"
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(3)&lt;/script&gt;</title>" in html


def test_embedded_json_cannot_end_its_script_or_open_a_comment(cwd):
    register_all()
    sample("</script><!-- \u2028 \u2029 & <b>", 1.0)
    sample("line\u2028separator", 2.0)
    html = to_html("p.html").read_text(encoding="utf-8")
    data_text = Page(html).scripts[0]
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in data_text
    labels = {n["label"] for n in _nodes(Page(html))}
    assert "Sample </script><!-- \u2028 \u2029 & <b>" in labels


def test_page_script_shows_data_through_text_only():
    for name in ("page.js", "panel.js", "dom.js", "index.js", "transform.js"):
        source = (ROOT / "js" / "src" / name).read_text(encoding="utf-8")
        assert "innerHTML" not in source and "document.write" not in source and "eval(" not in source, name
    bundle = (STATIC / "lineage-page.js").read_text(encoding="utf-8")
    assert "innerHTML" not in bundle and "document.write" not in bundle


def test_page_embeds_the_explorer_payload_with_positions_and_version_labels(cwd):
    register_all()
    a = sample("ada", 1.0)
    a.value = 2.0
    EntityRegistry.version_entity(a)
    page = Page(to_html("p.html").read_text(encoding="utf-8"))
    payload = _data(page)["payload"]
    assert payload["version"] == 1 and payload["nodes"], "the widget's payload (layout included)"
    assert all(isinstance(n["x"], (int, float)) and isinstance(n["y"], (int, float)) for n in payload["nodes"])
    labels = sorted(n["label"] for n in payload["nodes"])
    assert labels == ["Sample ada v1", "Sample ada v2"]


def test_every_drawn_node_has_its_details_fields_and_provenance(cwd):
    names = BUILDERS["pipeline"]()
    data = _data(Page(to_html("p.html").read_text(encoding="utf-8")))
    drawn = {n["id"] for n in data["payload"]["nodes"]}
    assert set(data["details"]) == drawn
    report = data["details"][names["r"]]
    assert report["kind"] == "entity" and report["fields"], "fields of the version"
    assert "provenance" in report and report["versions"][0]["id"] == names["r"]
    execution = data["details"][names["x:report"]]
    assert execution["kind"] == "execution" and execution["inputs"] and execution["outputs"]


def test_html_nodes_and_edges_are_the_graph(cwd):
    names = BUILDERS["fan_in"]()
    payload = _data(Page(to_html("p.html").read_text(encoding="utf-8")))["payload"]
    assert {n["id"] for n in payload["nodes"]} == set(names.values())
    g = lineage_graph()
    assert sorted((e["from"], e["to"]) for e in payload["edges"]) == sorted((u, v) for u, v in g.edges())


def test_html_around_a_target(cwd):
    names = BUILDERS["pipeline"]()
    page = Page(to_html("p.html", target=names["r"], depth=1, direction="up").read_text(encoding="utf-8"))
    expected = {names["r"], *upstream(names["r"], 1, include_executions=True)}
    assert {n["id"] for n in _nodes(page)} == expected
    assert _data(page)["payload"]["focus"] == names["r"]


def test_html_accepts_a_short_id_as_target(cwd):
    names = BUILDERS["pipeline"]()
    page = Page(to_html("p.html", target=names["r"][:8], depth=1).read_text(encoding="utf-8"))
    assert _data(page)["payload"]["focus"] == names["r"]


def test_failed_and_stale_nodes_are_marked_in_the_data(cwd):
    register_all()
    a = sample()
    first = CallableRegistry.execute("report", a=a)
    with pytest.raises(RuntimeError):
        CallableRegistry.execute("boom", a=a)
    a.value = 5.0
    EntityRegistry.version_entity(a)
    data = _data(Page(to_html("p.html").read_text(encoding="utf-8")))
    by_id = {n["id"]: n for n in data["payload"]["nodes"]}
    failed = [n for n in by_id.values() if n["kind"] == "execution" and n["succeeded"] is False]
    assert len(failed) == 1 and data["details"][failed[0]["id"]]["fields"]["error_type"] == "RuntimeError"
    assert by_id[str(first.ecs_id)]["stale"] is True, "marked as in the widget (js/src/transform.js draws the marks)"


# -- node-link JSON --------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(BUILDERS), ids=list(BUILDERS))
def test_json_round_trips_through_networkx(cwd, scenario):
    BUILDERS[scenario]()
    out = to_json("lineage.json")
    assert os.listdir(cwd) == ["lineage.json"]
    data = json.loads(out.read_text(encoding="utf-8"))
    back = nx.node_link_graph(data, edges="links")
    g = lineage_graph()
    assert isinstance(back, nx.MultiDiGraph)
    assert dict(back.nodes(data=True)) == dict(g.nodes(data=True))
    assert sorted((u, v, json.dumps(a, sort_keys=True)) for u, v, a in back.edges(data=True)) == sorted(
        (u, v, json.dumps(a, sort_keys=True)) for u, v, a in g.edges(data=True)
    )


def test_json_is_deterministic(cwd):
    BUILDERS["fan_out"]()
    first = to_json("a.json").read_text(encoding="utf-8")
    second = to_json("b.json").read_text(encoding="utf-8")
    assert first == second
    data = json.loads(first)
    ids = [n["id"] for n in data["nodes"]]
    assert ids == sorted(ids)


def test_json_keeps_text_as_data(cwd):
    a, c, _ = _hostile_lineage()
    data = json.loads(to_json("x.json").read_text(encoding="utf-8"))
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    assert labels[str(a.ecs_id)] == f"Sample {HOSTILE_IMG}"
    assert labels[str(c.ecs_id)] == f"Course {HOSTILE_SCRIPT}"


def test_json_around_a_target(cwd):
    names = BUILDERS["pipeline"]()
    data = json.loads(to_json("x.json", target=names["a1"], depth=1, direction="down").read_text(encoding="utf-8"))
    assert {n["id"] for n in data["nodes"]} == {names["a1"], names["x:report"], names["r"], names["x:summarize"]}
    assert {(e["source"], e["target"]) for e in data["links"]} == {
        (names["a1"], names["x:report"]),
        (names["x:report"], names["r"]),
        (names["r"], names["x:summarize"]),
    }


@pytest.mark.parametrize("export", [to_html, to_json], ids=["html", "json"])
def test_export_rejects_an_unknown_direction(cwd, export):
    names = BUILDERS["pipeline"]()
    with pytest.raises(ValueError, match="direction"):
        export("x.out", target=names["a0"], direction="downstream")

"""Recorded matplotlib Figures (DESIGN A11): stored as their PNG rendering, read back by ``get`` as an image,
and shown in the explorer's details panel (``node_details``: the widget and the HTML export).

Figures are made in a real IPython shell (Agg backend) and kept in real SQLite / PostgreSQL stores; the
damaged cases tamper with a real store or write a Variable whose stored "PNG" is something else.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import struct
import subprocess
import sys
import textwrap

import pytest
from ipython_shell import interactive_shell, run
from pg_support import fresh_schema

from ecs_notebook import EntityRegistry, StoreError, connect, get, ref
from ecs_notebook.core.values.codecs import PngImage, part_key
from ecs_notebook.core.variable import StoredValue, Variable
from ecs_notebook.lineage.details import MAX_IMAGE_BYTES, PNG_SIGNATURE, node_details
from ecs_notebook.lineage.page import page_data

pytest.importorskip("matplotlib")

SETUP = "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt"
ONE_PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
PLOT = "%%ecs_exec plot\nfig, ax = plt.subplots(figsize=(4, 3), dpi=50)\nax.plot([1, 3, 2])"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'figures.db'}"
        return
    if not os.environ.get("ECS_TEST_POSTGRES_URL"):
        pytest.skip("set ECS_TEST_POSTGRES_URL (scripts/postgres.sh starts a server)")
    with fresh_schema() as url:
        yield url


def _record_figure(ip, url: str) -> str:
    assert run(ip, f"%ecs_store {url}").error is None
    assert run(ip, SETUP).error is None
    ran = run(ip, PLOT)
    assert ran.error is None, ran.stdout + ran.stderr
    return str(ref(ip.user_ns["fig"]))


def test_a_recorded_figure_reads_back_as_its_png_and_shows_in_the_details(tmp_path, monkeypatch, store_url):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        eid = _record_figure(ip, store_url)
        image = get(f"@{eid}.value")
        assert isinstance(image, PngImage)
        assert png_size(image.data) == (200, 150), "the figure's own size: 4 x 3 inches at 50 dpi"
        assert image._repr_png_() == image.data

        details = node_details(eid)
        assert details["fields"]["name"] == "fig"
        assert details["image"]["mime"] == "image/png"
        assert base64.b64decode(details["image"]["base64"], validate=True) == image.data
        assert details["image"]["bytes"] == len(image.data)
        json.dumps(details)  # the widget syncs it as JSON

        # The HTML export embeds the details of drawn nodes: the figure's PNG is in the page data.
        data = page_data(None)
        assert data["details"][eid]["image"]["base64"] == details["image"]["base64"]
        others = [d for k, d in data["details"].items() if k != eid]
        assert others and all("image" not in d for d in others), "only the figure node carries an image"

    # After a restart: a new process reads the same image from the store.
    script = textwrap.dedent(
        f"""
        import base64, json
        from ecs_notebook import connect, get
        from ecs_notebook.lineage.details import node_details
        connect({store_url!r})
        image = get("@{eid}.value")
        d = node_details("{eid}")
        print(json.dumps([type(image).__name__, base64.b64encode(image.data).decode(), d["image"]["base64"]]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    kind, got, shown = json.loads(proc.stdout.strip().splitlines()[-1])
    assert kind == "PngImage" and got == shown == details["image"]["base64"]


def test_other_variables_carry_no_image(tmp_path, monkeypatch):
    with interactive_shell(tmp_path, monkeypatch) as ip:
        assert run(ip, "%%ecs_exec values\nxs = [1, 2, 3]\nname = 'iVBORw0KGgo'").error is None
        for name in ("xs", "name"):
            assert "image" not in node_details(str(ref(ip.user_ns[name])))


def _variable_with_png_part(data: bytes | None, header: dict | None = None) -> str:
    """A Variable version whose value claims to be a PNG figure; its part holds ``data`` (None: never stored)."""
    key = part_key(data if data is not None else b"gone")
    if data is not None:
        EntityRegistry.store.put_parts({key: data})
    header = header if header is not None else {"format": 1, "codec": "png", "part": key}
    value = StoredValue("matplotlib.figure.Figure", "0" * 32, "<Figure size 640x480 with 1 Axes>", header, (key,), len(data or b""))
    v = Variable(name="fig", notebook="hostile.ipynb", value=value)
    v.promote_to_root()
    return str(v.ecs_id)


HOSTILE = [
    ("a GIF", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", None, "not a PNG"),
    ("html", b"<img src=x onerror=alert(1)>", None, "not a PNG"),
    ("empty", b"", None, "not a PNG"),
    ("a PNG signature late", b"x" + PNG_SIGNATURE + b"IHDR", None, "not a PNG"),
    ("over 5 MiB", PNG_SIGNATURE + bytes(MAX_IMAGE_BYTES), None, "MiB"),
    ("part missing", None, None, "figure not shown: "),
    ("header part not a string", b"", {"format": 1, "codec": "png", "part": ["x"]}, "damaged"),
    ("header part not among the parts", b"", {"format": 1, "codec": "png", "part": "f" * 32}, "damaged"),
]


@pytest.mark.parametrize(("data", "header", "note"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_a_stored_png_that_is_not_one_shows_no_image_but_a_note(tmp_path, data, header, note):
    connect(f"sqlite:///{tmp_path / 'hostile.db'}")
    eid = _variable_with_png_part(data, header)
    details = node_details(eid)
    assert set(details["image"]) == {"note"}, details["image"]
    assert note in details["image"]["note"] and "\n" not in details["image"]["note"]
    assert details["fields"]["name"] == "fig", "the rest of the panel is still there"


TAMPERED = {
    "script": b"<script>alert(1)</script>",
    "another valid PNG": base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    ),
    "truncated": None,
}


@pytest.mark.parametrize(
    "header",
    [
        {"codec": "png", "part": "0" * 32},
        {"format": 2, "codec": "png", "part": "0" * 32},
        {"format": 1, "codec": "npy", "part": "0" * 32},
        None,
    ],
    ids=["no format", "a newer format", "another codec", "no header"],
)
def test_values_our_png_codec_did_not_write_are_no_figures(tmp_path, header):
    connect(f"sqlite:///{tmp_path / 'other.db'}")
    value = StoredValue("x.Y", "0" * 32, "<Y>", header, ("0" * 32,) if header else ())
    v = Variable(name="y", value=value)
    v.promote_to_root()
    assert "image" not in node_details(str(v.ecs_id))


@pytest.mark.parametrize("what", list(TAMPERED))
def test_a_tampered_figure_in_a_real_store_shows_no_image(tmp_path, monkeypatch, what):
    db = tmp_path / "figures.db"
    with interactive_shell(tmp_path, monkeypatch) as ip:
        eid = _record_figure(ip, f"sqlite:///{db}")
        key = EntityRegistry.record(eid).plain_dict()["value"].header["part"]
        replacement = TAMPERED[what] or get(f"@{eid}.value").data[:100]
    with sqlite3.connect(db) as con:  # someone edits the object area behind the store's back
        assert con.execute("UPDATE objects SET data = ?, size = ? WHERE key = ?", (replacement, len(replacement), key)).rowcount == 1
    con.close()
    connect(f"sqlite:///{db}")
    details = node_details(eid)
    assert details["image"] == {"note": "figure not shown: its stored bytes do not match their key (changed or truncated)"}
    with pytest.raises(StoreError, match="do not match its key"):
        get(f"@{eid}.value")


def test_an_oversized_png_is_not_embedded_but_get_returns_it(tmp_path):
    connect(f"sqlite:///{tmp_path / 'big.db'}")
    data = PNG_SIGNATURE + bytes(MAX_IMAGE_BYTES)
    eid = _variable_with_png_part(data)
    assert "5.0 MiB" in node_details(eid)["image"]["note"]
    assert get(f"@{eid}.value").data == data


def test_node_details_reads_only_the_selected_figure(tmp_path, monkeypatch):
    """Lazy: drawing the graph reads no PNG; building one node's details reads that node's part only."""
    with interactive_shell(tmp_path, monkeypatch) as ip:
        assert run(ip, f"%ecs_store sqlite:///{tmp_path / 'lazy.db'}").error is None
        assert run(ip, SETUP).error is None
        assert run(ip, PLOT).error is None
        assert run(ip, "%%ecs_exec plot2\nfig2, ax2 = plt.subplots(figsize=(2, 2), dpi=50)\nax2.bar([1], [2])").error is None
        read: list[str] = []
        store = EntityRegistry.store
        real = store.get_part

        def counting(key: str):
            read.append(key)
            return real(key)

        monkeypatch.setattr(store, "get_part", counting)
        from ecs_notebook.lineage.payload import build_payload

        build_payload(None)
        assert read == []
        fig2 = str(ref(ip.user_ns["fig2"]))
        assert png_size(base64.b64decode(node_details(fig2)["image"]["base64"])) == (100, 100)
        assert read == [EntityRegistry.record(fig2).plain_dict()["value"].header["part"]]


def test_the_figure_cell_warns_only_about_the_axes(tmp_path, monkeypatch):
    """The figure is stored (no 'cannot be stored' line for it); the Axes still has no codec."""
    with interactive_shell(tmp_path, monkeypatch) as ip:
        assert run(ip, f"%ecs_store sqlite:///{tmp_path / 'w.db'}").error is None
        assert run(ip, SETUP).error is None
        ran = run(ip, PLOT)
        assert "fig (Figure) cannot be stored" not in ran.stdout + ran.stderr

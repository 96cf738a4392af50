"""The workflow state diagram: valid, accessible, escaped, deterministic SVG whose boxes
and labels never overlap, for the real workflow and for awkward synthetic ones."""

from __future__ import annotations

import itertools
import math
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import workflow
from workflow import WorkflowDefinition, load_workflow, parse_workflow
from workflow.diagram import render_svg, wrap

NS = {"s": "http://www.w3.org/2000/svg"}
REAL = Path(workflow.__file__).parent / "definitions" / "dog_registration.yaml"


@pytest.fixture(scope="module")
def dog() -> WorkflowDefinition:
    return load_workflow(REAL)


def svg_root(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def states(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-state"): g for g in root.iterfind(".//s:g[@data-state]", NS)}


def text_of(g: ET.Element) -> str:
    return " ".join(t.text or "" for t in g.iterfind(".//s:text", NS))


def box(g: ET.Element) -> tuple[float, float, float, float]:
    r = g.find("s:rect[@class='box']", NS)
    assert r is not None
    x, y = float(r.get("x")), float(r.get("y"))
    return x, y, x + float(r.get("width")), y + float(r.get("height"))


def edges(root: ET.Element, cls: str = "edge") -> list[ET.Element]:
    return [
        g
        for g in root.iterfind(".//s:g[@data-transition]", NS)
        if cls in g.get("class", "").split()
    ]


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def assert_no_overlap(svg: str) -> None:
    root = svg_root(svg)
    boxes = [(f"state {n}", box(g)) for n, g in states(root).items()]
    boxes += [
        (f"label {g.get('data-transition')} from {g.get('data-from')}", box(g))
        for g in edges(root, "edge-label")
    ]
    for (na, a), (nb, b) in itertools.combinations(boxes, 2):
        assert not overlap(a, b), f"{na} {a} overlaps {nb} {b}"
    # everything inside the viewBox, no NaN or infinity anywhere
    _, _, w, h = map(float, root.get("viewBox").split())
    for name, (x0, y0, x1, y1) in boxes:
        assert 0 <= x0 and x1 <= w and 0 <= y0 and y1 <= h, name
    numbers = re.findall(r"-?[\d.]+(?:e-?\d+)?|nan|inf", " ".join(re.findall(r'd="([^"]*)"', svg)))
    assert numbers and all(math.isfinite(float(n)) for n in numbers)


def synthetic(states_: dict, transitions: list[dict], **extra) -> WorkflowDefinition:
    raw = {"id": "test", "version": 1, "initial": next(iter(states_)), "states": states_}
    raw["transitions"] = [{"role": "clerk", **t} for t in transitions]
    return parse_workflow({**raw, **extra})


def test_real_workflow_states_labels_and_current(dog: WorkflowDefinition) -> None:
    svg = render_svg(dog, current="in_review", visited=["submitted", "in_review", "gone"])
    root = svg_root(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == "100%" and root.get("role") == "img"
    assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", root.get("viewBox"))
    assert "Liberation Sans" in root.get("font-family")
    found = states(root)
    assert list(found) == list(dog.states)  # one group per state, in definition order
    for name, g in found.items():
        assert text_of(g) == " ".join(wrap(dog.states[name].label.de, 18, 3))
        assert " ".join(text_of(g).split()) == " ".join(dog.states[name].label.de.split())
    current = root.findall(".//*[@aria-current]")
    assert [(e.get("aria-current"), e.get("data-state")) for e in current] == [
        ("step", "in_review")
    ]
    assert "visited" in found["submitted"].get("class").split()
    assert "visited" not in found["in_review"].get("class").split()  # current wins
    for name, sd in dog.states.items():  # terminal states have a double border
        rects = found[name].findall("s:rect", NS)
        assert len(rects) == (2 if sd.terminal else 1) + (name == "in_review")
    # self-contained: no external references, no CSS that a strict CSP would block
    assert "<style" not in svg and "style=" not in svg and "href" not in svg
    assert "@import" not in svg and "url(http" not in svg


def test_an_edge_per_transition_source_each_with_its_label(dog: WorkflowDefinition) -> None:
    root = svg_root(render_svg(dog, current="in_review"))
    expected = {(t.name, s, t.to) for t in dog.transitions for s in t.from_}
    assert any(len(t.from_) >= 2 for t in dog.transitions)
    drawn = [(g.get("data-transition"), g.get("data-from"), g.get("data-to")) for g in edges(root)]
    assert sorted(drawn) == sorted(expected)
    for g in edges(root):
        path = g.find("s:path", NS)
        assert path is not None and path.get("marker-end", "").startswith("url(#")
    labels = {(g.get("data-transition"), g.get("data-from")): g for g in edges(root, "edge-label")}
    assert set(labels) == {(n, s) for n, s, _ in expected}
    roles = {"clerk": "Sachbearbeitung", "approver": "Sachgebietsleitung"}
    roles |= {"citizen": "Antragsteller/in", "system": "System", "admin": "Administration"}
    for t in dog.transitions:
        for s in t.from_:
            text = " ".join(text_of(labels[(t.name, s)]).split())
            assert text == f"{' '.join(t.label.de.split())} ({roles[t.role]})"
    # the transitions leaving the current state stand out
    active = {g.get("data-transition") for g in edges(root) if "active" in g.get("class")}
    assert active == {t.name for t in dog.transitions if "in_review" in t.from_}


def test_title_and_description_in_both_languages(dog: WorkflowDefinition) -> None:
    de = svg_root(render_svg(dog, current="in_review"))
    en = svg_root(render_svg(dog, current="in_review", lang="en"))
    assert de.find("s:title", NS).text == "Zustandsdiagramm: dog_registration"
    assert de.find("s:desc", NS).text.startswith(
        "Zustandsdiagramm des Verfahrens dog_registration; aktueller Status: In Prüfung."
    )
    t = dog.transitions[0]  # the description spells out every transition
    move = f"{dog.states[t.from_[0]].label.de} → {dog.states[t.to].label.de}: {t.label.de}"
    assert move in de.find("s:desc", NS).text
    assert en.find("s:title", NS).text == "State diagram: dog_registration"
    assert en.find("s:desc", NS).text.startswith(
        "State diagram of the procedure dog_registration; current state: In review."
    )
    assert de.get("aria-labelledby") == "wfd-dog_registration-title wfd-dog_registration-desc"
    assert text_of(states(en)["in_review"]) == "In review"
    assert any("(Clerk)" in text_of(g) for g in edges(en, "edge-label"))
    none = svg_root(render_svg(dog, lang="en"))
    assert "current state: none." in none.find("s:desc", NS).text
    assert none.find(".//*[@aria-current]") is None
    bare = svg_root(render_svg(dog, show_roles=False))
    assert not any("(Sachbearbeitung)" in text_of(g) for g in edges(bare, "edge-label"))


def test_text_is_escaped() -> None:
    nasty = "A <b>&amp; \"quoted\" 'single'"
    wf = parse_workflow(
        {
            "id": 'x"<y>&z',
            "version": 1,
            "initial": "new",
            "states": {
                "new": {"label": {"de": nasty, "en": "<en>"}},
                "done": {"label": "Fertig & <gut>", "terminal": True},
            },
            "transitions": [
                {"name": "go", "label": 'Los "<&>"', "from": "new", "to": "done", "role": "clerk"}
            ],
        }
    )
    svg = render_svg(wf, current="new")
    root = svg_root(svg)  # well-formed
    found = states(root)
    assert " ".join(text_of(found["new"]).split()) == " ".join(nasty.split())
    assert found["new"].get("aria-label") == nasty
    assert text_of(found["done"]) == "Fertig & <gut>"
    assert text_of(edges(root, "edge-label")[0]).startswith('Los "<&>"')
    assert root.find("s:title", NS).text == 'Zustandsdiagramm: x"<y>&z'
    assert "<b>" not in svg and '"quoted"' not in svg.split("<desc")[0]
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids) and len(ids) == len(set(ids))
    assert "<en>" in text_of(states(svg_root(render_svg(wf, lang="en")))["new"])


def test_output_is_deterministic(dog: WorkflowDefinition) -> None:
    first = render_svg(dog, current="answer_received", visited=["submitted", "in_review"])
    again = render_svg(dog, current="answer_received", visited=["in_review", "submitted"])
    assert first == again
    code = (
        "import sys; from workflow import load_workflow; from workflow.diagram import render_svg;"
        f"sys.stdout.write(render_svg(load_workflow({str(REAL)!r}), current='answer_received',"
        " visited=['submitted', 'in_review']))"
    )
    for seed in ("1", "4242"):  # another process, other hash seed (object ids, sets)
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        assert out.stdout == first


def test_real_workflow_has_no_overlaps(dog: WorkflowDefinition) -> None:
    for lang in ("de", "en"):
        assert_no_overlap(render_svg(dog, current="in_review", lang=lang))


def test_cycles_parallel_edges_and_self_loops() -> None:
    wf = synthetic(
        {
            "a": {"label": "Anfang"},
            "b": {"label": "Prüfung mit einem recht langen Namen, der umbrechen muss"},
            "c": {"label": "Rückfrage"},
            "d": {"label": "Zweitprüfung"},
            "e": {"label": "Ende", "terminal": True},
        },
        [
            {"name": "start", "label": "Starten", "from": "a", "to": "b"},
            {"name": "ask", "label": "Rückfrage stellen", "from": "b", "to": "c"},
            {"name": "answer", "label": "Antworten", "from": "c", "to": "b", "role": "citizen"},
            {"name": "ask_again", "label": "Nochmals fragen", "from": "b", "to": "c"},
            {"name": "propose", "label": "Vorschlagen", "from": "b", "to": "d"},
            {"name": "back", "label": "Zurück", "from": "d", "to": "b", "role": "approver"},
            {"name": "restart", "label": "Neu beginnen", "from": ["d", "c"], "to": "a"},
            {"name": "note", "label": "Notiz anlegen", "from": "b", "to": "b"},
            {"name": "remind", "label": "Erinnern", "from": "b", "to": "b", "role": "system"},
            {"name": "finish", "label": "Abschließen", "from": ["b", "d"], "to": "e"},
        ],
    )
    for current in wf.states:
        svg = render_svg(wf, current=current)
        assert_no_overlap(svg)
    root = svg_root(svg)
    drawn = sorted((g.get("data-transition"), g.get("data-from")) for g in edges(root))
    assert drawn == sorted((t.name, s) for t in wf.transitions for s in t.from_)
    loops = [g for g in edges(root) if "loop" in g.get("class").split()]
    assert {g.get("data-transition") for g in loops} == {"note", "remind"}
    # the initial state is on top
    tops = {n: box(g)[1] for n, g in states(root).items()}
    assert tops["a"] == min(tops.values())


def test_several_components_side_by_side() -> None:
    # the loader refuses unreachable states, the renderer copes anyway
    wf = WorkflowDefinition.model_validate(
        {
            "id": "split",
            "version": 1,
            "initial": "a",
            "states": {
                "x": {"label": "Insel oben"},
                "a": {"label": "Anfang"},
                "b": {"label": "Ende A", "terminal": True},
                "y": {"label": "Insel unten", "terminal": True},
                "lonely": {"label": "Allein"},
                "p": {"label": "Kreis 1"},
                "q": {"label": "Kreis 2"},
            },
            "transitions": [
                {"name": "ab", "label": "A nach B", "from": "a", "to": "b", "role": "clerk"},
                {"name": "xy", "label": "X nach Y", "from": "x", "to": "y", "role": "clerk"},
                {"name": "pq", "label": "P nach Q", "from": "p", "to": "q", "role": "clerk"},
                {"name": "qp", "label": "Q nach P", "from": "q", "to": "p", "role": "clerk"},
            ],
        }
    )
    svg = render_svg(wf, current="y")
    assert_no_overlap(svg)
    root = svg_root(svg)
    boxes = {n: box(g) for n, g in states(root).items()}
    assert set(boxes) == set(wf.states)
    comps = [["a", "b"], ["x", "y"], ["lonely"], ["p", "q"]]
    spans = [(min(boxes[s][0] for s in c), max(boxes[s][2] for s in c)) for c in comps]
    assert all(left[1] < right[0] for left, right in itertools.pairwise(spans))  # l-to-r
    assert boxes["a"][1] < boxes["b"][1] and boxes["x"][1] < boxes["y"][1]
    assert len(edges(root)) == 4


def test_single_state_and_unknown_current() -> None:
    wf = synthetic({"only": {"label": "Einzig"}}, [])
    root = svg_root(render_svg(wf, current="only"))
    assert list(states(root)) == ["only"] and edges(root) == []
    with pytest.raises(ValueError, match="nope"):
        render_svg(wf, current="nope")


def test_wrap_keeps_every_word_within_the_line_limit() -> None:
    text = "Genehmigung bestätigen und Bescheid erstellen"
    lines = wrap(text, 18, 3)
    assert " ".join(lines) == text and len(lines) <= 3
    assert all(len(line) <= 18 for line in lines)
    long = "Donaudampfschifffahrtsgesellschaftskapitänsmütze " * 5
    lines = wrap(long, 10, 2)
    assert len(lines) <= 2 and " ".join(lines) == " ".join(long.split())
    assert wrap("", 10, 2) == [""]


def test_render_real_workflow_to_file(dog: WorkflowDefinition, tmp_path: Path) -> None:
    """Writes /tmp/workflow.svg for a look with an image viewer (see the module doc)."""
    svg = render_svg(dog, current="in_review", visited=["submitted", "completeness_check"])
    out = Path("/tmp/workflow.svg")
    try:
        out.write_text(svg, encoding="utf-8")
    except OSError:
        out = tmp_path / "workflow.svg"
        out.write_text(svg, encoding="utf-8")
    assert svg_root(out.read_text(encoding="utf-8")) is not None

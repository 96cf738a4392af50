"""A workflow definition drawn as a self-contained SVG state diagram (for staff).

Pure: no I/O, the same input gives byte-identical output (so it can be cached and
tested). The layout is grandalf's Sugiyama (layered) layout, top to bottom with the
initial state on top, so no Graphviz binary is needed.

How the drawing is built:

* Every state is a vertex sized after its (wrapped) label.
* Every transition *source* (a transition from two states gives two edges) gets its own
  small label vertex between its two states, as Graphviz ``dot`` does: the layout then
  keeps labels clear of boxes and of each other, including for parallel edges and
  transitions in both directions between the same states.
* Cycles (a rückfrage loop, "return to review") are broken before the layout by a
  depth-first search from the initial state; the edges that close a cycle are laid out
  upwards and drawn with their arrow pointing up.
* Self-loops are drawn on the right of their state, outside the layered layout.
* Each connected component is laid out on its own and placed side by side.

The SVG uses presentation attributes only (no ``<style>``, no ``style=``), so it can be
inlined on a page under a strict ``style-src 'self'`` Content-Security-Policy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from grandalf.graphs import Edge, Vertex, graph_core
from grandalf.layouts import Layer, SugiyamaLayout

from workflow.model import TransitionDef, WorkflowDefinition

__all__ = ["ROLE_LABELS", "render_svg"]

FONT_FAMILY = "Liberation Sans, Arial, sans-serif"

# Sizes (SVG user units, i.e. CSS px at natural size).
STATE_FONT = 13.0
LABEL_FONT = 11.0
ROLE_FONT = 10.0
LINE = 1.25  # line height in em
CHAR_EM = 0.55  # approximate average advance of one character, in em
STATE_CHARS, STATE_LINES = 18, 3
LABEL_CHARS, LABEL_LINES = 18, 3
STATE_PAD_X, STATE_PAD_Y = 14.0, 9.0
STATE_MIN_W = 112.0
LABEL_PAD_X, LABEL_PAD_Y = 4.0, 2.0
RADIUS = 8.0
XSPACE, YSPACE = 24.0, 30.0
COMPONENT_GAP = 48.0
MARGIN = 16.0
ARROW = 8.0  # arrowhead length
PORT_GAP = 26.0  # preferred distance between edge ends on one side of a box
PORT_MIN = 16.0  # boxes grow so that their edge ends are at least this far apart
LOOP_REACH, LOOP_STEP = 30.0, 14.0  # how far self-loops reach out right of their box
START_GAP = 30.0  # room above the initial state for the start marker

# Colours; contrast against white (or against the fill they sit on) is at least
# 4.5:1 for text and at least 3:1 for lines and borders (WCAG 2.1 AA).
INK = "#1f2328"  # 15.8:1 on white, 13:1 on VISITED_FILL
MUTED = "#4f5b66"  # 6.9:1 on white: role names, edges, borders
WHITE = "#ffffff"
CURRENT_FILL = "#003064"  # white text on it: 13.6:1
VISITED_FILL = "#dce8f5"
VISITED_STROKE = "#2f5d8c"  # 6.9:1 on white
ACTIVE_EDGE = "#003064"  # transitions leaving the current state

ROLE_LABELS: dict[str, tuple[str, str]] = {
    "clerk": ("Sachbearbeitung", "Clerk"),
    "approver": ("Sachgebietsleitung", "Approver"),
    "citizen": ("Antragsteller/in", "Applicant"),
    "system": ("System", "System"),
    "admin": ("Administration", "Administrator"),
}

_TEXTS = {
    "de": {
        "title": "Zustandsdiagramm: {wf}",
        "desc": "Zustandsdiagramm des Verfahrens {wf}; aktueller Status: {current}.",
        "none": "keiner",
        "start": "Startzustand: {s}.",
        "ends": "Endzustände: {s}.",
        "visited": "Bereits durchlaufen: {s}.",
        "moves": "Übergänge: {s}.",
        "legend_current": "aktueller Status",
        "legend_visited": "bereits durchlaufen",
        "legend_terminal": "Endzustand",
    },
    "en": {
        "title": "State diagram: {wf}",
        "desc": "State diagram of the procedure {wf}; current state: {current}.",
        "none": "none",
        "start": "Initial state: {s}.",
        "ends": "Final states: {s}.",
        "visited": "Already passed: {s}.",
        "moves": "Transitions: {s}.",
        "legend_current": "current state",
        "legend_visited": "already passed",
        "legend_terminal": "final state",
    },
}


# ---------------------------------------------------------------------------- helpers


def _n(x: float) -> str:
    """A coordinate for the SVG: one decimal, no trailing ``.0``, no ``-0``."""
    s = f"{x:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
    return "0" if s == "-0" else s


def _text_w(line: str, size: float) -> float:
    return len(line) * CHAR_EM * size


def _greedy(words: list[str], width: int) -> list[str]:
    lines: list[str] = []
    cur = ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
    lines.append(cur)
    return lines


def wrap(text: str, max_chars: int, max_lines: int) -> list[str]:
    """Break ``text`` at spaces into at most ``max_lines`` lines of about ``max_chars``
    characters (wider when it would not fit otherwise), balanced so the last line is not
    a lone short word. Never drops text."""
    words = text.split()
    if not words:
        return [""]
    width = max(max_chars, 1)
    lines = _greedy(words, width)
    while len(lines) > max_lines:
        width += 1
        lines = _greedy(words, width)
    # balance: the narrowest width that still needs no more lines
    while width > 1:
        narrower = _greedy(words, width - 1)
        if len(narrower) != len(lines) or max(map(len, narrower)) > width - 1:
            break
        width -= 1
        lines = narrower
    return lines


def _role(role: str, lang: str) -> str:
    names = ROLE_LABELS.get(role)
    if names is None:
        return role
    return names[1] if lang == "en" else names[0]


def _id_prefix(wf_id: str) -> str:
    return "wfd-" + re.sub(r"[^A-Za-z0-9_-]", "-", wf_id)


# ---------------------------------------------------------------------------- model


class _View:
    """What grandalf's layout reads (w, h) and writes (xy: the centre)."""

    __slots__ = ("w", "h", "xy")

    def __init__(self, w: float, h: float) -> None:
        self.w = w
        self.h = h
        self.xy: tuple[float, float] = (0.0, 0.0)


@dataclass
class _State:
    name: str
    lines: list[str]
    box_w: float
    box_h: float
    loops: list[_Loop] = field(default_factory=list)
    view: _View | None = None

    # box geometry, valid after placement
    def box(self) -> tuple[float, float, float, float]:
        """left, top, right, bottom of the drawn box."""
        assert self.view is not None
        cx, cy = self.view.xy
        left = cx - self.view.w / 2
        top = cy - self.box_h / 2
        return left, top, left + self.box_w, top + self.box_h

    def center(self) -> tuple[float, float]:
        left, top, right, bottom = self.box()
        return (left + right) / 2, (top + bottom) / 2


@dataclass
class _Label:
    lines: list[str]
    role: str | None
    w: float
    h: float


@dataclass
class _Loop:
    transition: TransitionDef
    label: _Label


@dataclass
class _Arc:
    """One drawn edge: a transition leaving one of its source states."""

    transition: TransitionDef
    source: str
    target: str
    back: bool  # closes a cycle: laid out from target down to source, drawn upwards
    label: _Label
    view: _View
    upper: str = ""
    lower: str = ""
    edges: tuple[Edge, Edge] | None = None
    points: list[tuple[float, float]] = field(default_factory=list)  # in layout direction
    exit_y: float = 0.0  # bottom of the upper state's layer
    entry_y: float = 0.0  # top of the lower state's layer


def _make_label(t: TransitionDef, lang: str, show_roles: bool) -> _Label:
    lines = wrap(t.label.get(lang), LABEL_CHARS, LABEL_LINES)
    role = f"({_role(t.role, lang)})" if show_roles else None
    widths = [_text_w(ln, LABEL_FONT) for ln in lines]
    height = len(lines) * LABEL_FONT * LINE
    if role:
        widths.append(_text_w(role, ROLE_FONT))
        height += ROLE_FONT * LINE
    return _Label(lines, role, max(widths) + 2 * LABEL_PAD_X, height + 2 * LABEL_PAD_Y)


# ---------------------------------------------------------------------------- layout


def _back_edges(wf: WorkflowDefinition, arcs: list[_Arc]) -> None:
    """Mark the arcs that close a cycle: depth-first search from the initial state (then
    from states nobody leads to, then from the rest), following primary transitions
    before the others and otherwise definition order."""
    out: dict[str, list[int]] = {s: [] for s in wf.states}
    has_in: set[str] = set()
    # main-line ("primary") transitions first, so that side steps such as a query to the
    # applicant or a return to review become the edges that go back up
    order = sorted(range(len(arcs)), key=lambda i: (arcs[i].transition.style != "primary", i))
    for i in order:
        out[arcs[i].source].append(i)
        has_in.add(arcs[i].target)
    starts = [wf.initial]
    starts += [s for s in wf.states if s != wf.initial and s not in has_in]
    starts += [s for s in wf.states if s != wf.initial and s in has_in]
    gray, black = 1, 2
    colour: dict[str, int] = {}
    for start in starts:
        if start in colour:
            continue
        colour[start] = gray
        stack = [(start, iter(out[start]))]
        while stack:
            node, it = stack[-1]
            for i in it:
                nxt = arcs[i].target
                c = colour.get(nxt)
                if c is None:
                    colour[nxt] = gray
                    stack.append((nxt, iter(out[nxt])))
                    break
                if c == gray:
                    arcs[i].back = True
            else:
                colour[node] = black
                stack.pop()


def _components(wf: WorkflowDefinition, arcs: list[_Arc]) -> list[list[str]]:
    parent = {s: s for s in wf.states}

    def find(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for a in arcs:
        ra, rb = find(a.source), find(a.target)
        if ra != rb:
            parent[rb] = ra
    groups: dict[str, list[str]] = {}
    for s in wf.states:  # definition order inside each component
        groups.setdefault(find(s), []).append(s)
    comps = list(groups.values())
    comps.sort(key=lambda c: (wf.initial not in c, list(wf.states).index(c[0])))
    return comps


def _layout_component(names: list[str], states: dict[str, _State], arcs: list[_Arc]) -> list[_View]:
    """Place one connected component; returns every view it used (incl. dummies)."""
    views: list[_View] = [states[s].view for s in names]  # type: ignore[misc]
    if len(names) == 1 and not arcs:
        states[names[0]].view.xy = (states[names[0]].view.w / 2, 0.0)  # type: ignore[union-attr]
        return views
    vertex: dict[str, Vertex] = {}
    for s in names:
        v = Vertex(s)
        v.view = states[s].view
        vertex[s] = v
    all_v = [vertex[s] for s in names]
    edges: list[Edge] = []
    for i, a in enumerate(arcs):
        lv = Vertex(("label", i))
        lv.view = a.view
        all_v.append(lv)
        views.append(a.view)
        e1, e2 = Edge(vertex[a.upper], lv), Edge(lv, vertex[a.lower])
        a.edges = (e1, e2)
        edges += [e1, e2]
    g = graph_core(all_v, edges)
    sug = SugiyamaLayout(g)
    sug.xspace, sug.yspace = XSPACE, YSPACE
    sug.dw, sug.dh = 6.0, 6.0  # the bends of long edges take little room
    # our own ranking instead of init_all()'s: it puts each label next to the state the
    # transition leaves (the drawn source) unless that row is already crowded
    rank = _ranks(names, states, arcs)
    order = sorted(range(len(all_v)), key=lambda k: (rank[k], k))
    sug.alt_e = []
    for k in order:
        v, r = all_v[k], rank[k]
        while len(sug.layers) <= r:
            sug.layers.append(Layer([]))
        sug.grx[v].rank = r
        sug.layers[r].append(v)
    for e in g.E():
        sug.setdummies(e)
    for layer in sug.layers:
        layer.setup(sug)
    sug.initdone = True
    sug.draw(N=8.5)
    # grandalf averages four alignments, which can let neighbours in a layer overlap
    # when their widths differ: push them apart, then recentre the layer.
    for layer in sug.layers:
        row = sorted(layer, key=lambda v: sug.grx[v].pos)
        xs = [v.view.xy[0] for v in row]
        before = (xs[0] + xs[-1]) / 2
        for k in range(1, len(row)):
            need = xs[k - 1] + (row[k - 1].view.w + row[k].view.w) / 2 + XSPACE
            xs[k] = max(xs[k], need)
        shift = before - (xs[0] + xs[-1]) / 2 if xs != [v.view.xy[0] for v in row] else 0.0
        for v, x in zip(row, xs, strict=True):
            v.view.xy = (x + shift, v.view.xy[1])
    # Each layer is a horizontal band as high as its highest vertex. Edges cross a band
    # vertically (through their label or bend) and bend only in the gaps between bands,
    # so a curve never runs through a label or box beside it.
    band = []
    for layer in sug.layers:
        cy = layer[0].view.xy[1]
        half = max(v.view.h for v in layer) / 2
        band.append((cy - half, cy + half))
    for a in arcs:
        assert a.edges is not None
        pts: list[tuple[float, float]] = []
        for e in a.edges:
            ctrl = sug.ctrls.get(e)
            inner = []
            if ctrl:
                r0, r1 = sug.grx[e.v[0]].rank, sug.grx[e.v[1]].rank
                inner = [ctrl[r] for r in range(r0 + 1, r1)]
                views += [d.view for d in inner]
            if e is a.edges[0]:
                inner.append(e.v[1])  # the label
            for v in inner:
                top, bottom = band[sug.grx[v].rank]
                pts += [(v.view.xy[0], top), (v.view.xy[0], bottom)]
        a.points = pts  # the inner points: bends and the label, each as (top, bottom)
        a.exit_y = band[sug.grx[a.edges[0].v[0]].rank][1]
        a.entry_y = band[sug.grx[a.edges[1].v[1]].rank][0]
    return views


def _ranks(names: list[str], states: dict[str, _State], arcs: list[_Arc]) -> list[int]:
    """Layer of every vertex: states first (in ``names`` order), then one label per arc.

    States get the longest-path rank (an arc spans two layers: label, then state). A
    label whose arc spans more goes next to the transition's source (below it, or above
    it for an arc drawn upwards) unless that layer is already wider than the widest
    layer of states and fixed labels; then it moves along the arc to a layer with room.
    """
    index = {s: k for k, s in enumerate(names)}
    rank = [0] * (len(names) + len(arcs))
    indeg = {s: 0 for s in names}
    down: dict[str, list[_Arc]] = {s: [] for s in names}
    for a in arcs:
        indeg[a.lower] += 1
        down[a.upper].append(a)
    ready = [s for s in names if indeg[s] == 0]
    while ready:
        s = ready.pop(0)
        for a in down[s]:
            rank[index[a.lower]] = max(rank[index[a.lower]], rank[index[s]] + 2)
            indeg[a.lower] -= 1
            if indeg[a.lower] == 0:
                ready.append(a.lower)
    width: dict[int, float] = {}
    for s in names:
        r = rank[index[s]]
        width[r] = width.get(r, 0.0) + states[s].view.w + XSPACE  # type: ignore[union-attr]
    flexible = []
    for k, a in enumerate(arcs):
        top, bottom = rank[index[a.upper]] + 1, rank[index[a.lower]] - 1
        if top == bottom:
            rank[len(names) + k] = top
            width[top] = width.get(top, 0.0) + a.view.w + XSPACE
        else:
            flexible.append((k, a, top, bottom))
    limit = max(width.values(), default=0.0)
    for k, a, top, bottom in flexible:
        cand = list(range(top, bottom + 1))
        if a.back:  # drawn from the lower state upwards: start next to it
            cand.reverse()
        room = [r for r in cand if width.get(r, 0.0) + a.view.w + XSPACE <= limit]
        r = room[0] if room else min(cand, key=lambda r: (width.get(r, 0.0), cand.index(r)))
        rank[len(names) + k] = r
        width[r] = width.get(r, 0.0) + a.view.w + XSPACE
    used = sorted(set(rank))  # no empty layers
    squeeze = {r: i for i, r in enumerate(used)}
    return [squeeze[r] for r in rank]


def _extent(
    views: list[_View], states: list[_State], initial: _State | None
) -> tuple[float, float, float, float]:
    xs0 = [v.xy[0] - v.w / 2 for v in views]
    xs1 = [v.xy[0] + v.w / 2 for v in views]
    ys0 = [v.xy[1] - v.h / 2 for v in views]
    ys1 = [v.xy[1] + v.h / 2 for v in views]
    for s in states:
        if s.loops:  # the outermost loop can reach a little above and below the box
            _, top, _, bottom = s.box()
            ys0.append(top - 4)
            ys1.append(bottom + 4)
    if initial is not None:
        ys0.append(initial.box()[1] - START_GAP)
    return min(xs0), min(ys0), max(xs1), max(ys1)


def _move(views: list[_View], dx: float, dy: float) -> None:
    seen: set[int] = set()
    for v in views:
        if id(v) in seen:
            continue
        seen.add(id(v))
        v.xy = (v.xy[0] + dx, v.xy[1] + dy)


def _assign_ports(states: dict[str, _State], arcs: list[_Arc]) -> dict[tuple[int, str], float]:
    """x of each arc's end on the bottom (leaving downwards) or top (arriving) of a box,
    spread along the side in the order of where the arcs go."""
    sides: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for i, a in enumerate(arcs):
        sides.setdefault((a.upper, "bottom"), []).append((a.points[0][0], i))
        sides.setdefault((a.lower, "top"), []).append((a.points[-1][0], i))
    ports: dict[tuple[int, str], float] = {}
    for (name, side), ends in sorted(sides.items()):
        left, _, right, _ = states[name].box()
        ends.sort()
        inner = right - left - 2 * RADIUS
        if len(ends) == 1:
            x = min(max(ends[0][0], left + RADIUS + 4), right - RADIUS - 4)
            ports[(ends[0][1], side)] = x
            continue
        gap = min(PORT_GAP, inner / (len(ends) - 1))
        mid = (left + right) / 2
        first = mid - gap * (len(ends) - 1) / 2
        for k, (_, i) in enumerate(ends):
            ports[(i, side)] = first + k * gap
    return ports


def _curve(pts: list[tuple[float, float]]) -> str:
    """Vertical-tangent cubic segments through the points (a dot-like spline); the last
    segment stops ARROW short so the arrowhead's tip lands on the box."""
    x0, y0 = pts[0]
    d = [f"M{_n(x0)},{_n(y0)}"]
    for k in range(1, len(pts)):
        (ax, ay), (bx, by) = pts[k - 1], pts[k]
        if k == len(pts) - 1:
            by -= ARROW if by > ay else -ARROW
        if abs(ax - bx) < 0.05:
            d.append(f"L{_n(bx)},{_n(by)}")
        else:
            my = (ay + by) / 2
            d.append(f"C{_n(ax)},{_n(my)} {_n(bx)},{_n(my)} {_n(bx)},{_n(by)}")
    return " ".join(d)


# ---------------------------------------------------------------------------- SVG parts


def _text_lines(
    lines: list[tuple[str, float, str, str]], cx: float, cy: float, extra: str = ""
) -> list[str]:
    """Centred lines of text (text, font size, fill, weight) around (cx, cy)."""
    heights = [size * LINE for _, size, _, _ in lines]
    y = cy - sum(heights) / 2
    out = []
    for (txt, size, fill, weight), h in zip(lines, heights, strict=True):
        base = y + h / 2 + 0.35 * size
        wt = f' font-weight="{weight}"' if weight != "normal" else ""
        out.append(
            f'<text x="{_n(cx)}" y="{_n(base)}" font-size="{_n(size)}" fill="{fill}"'
            f' text-anchor="middle"{wt}{extra}>{escape(txt)}</text>'
        )
        y += h
    return out


def _label_svg(lab: _Label, cx: float, cy: float) -> list[str]:
    out = [
        f'<rect class="box" x="{_n(cx - lab.w / 2)}" y="{_n(cy - lab.h / 2)}"'
        f' width="{_n(lab.w)}"'
        f' height="{_n(lab.h)}" rx="3" fill="{WHITE}"/>'
    ]
    rows = [(ln, LABEL_FONT, INK, "normal") for ln in lab.lines]
    if lab.role:
        rows.append((lab.role, ROLE_FONT, MUTED, "normal"))
    return out + _text_lines(rows, cx, cy)


def _state_svg(s: _State, label: str, *, current: bool, visited: bool, terminal: bool) -> list[str]:
    left, top, right, bottom = s.box()
    w, h = right - left, bottom - top
    cx, cy = (left + right) / 2, (top + bottom) / 2
    if current:
        fill, stroke, width, ink, weight = CURRENT_FILL, CURRENT_FILL, 3.0, WHITE, "bold"
    elif visited:
        fill, stroke, width, ink, weight = VISITED_FILL, VISITED_STROKE, 1.5, INK, "normal"
    else:
        fill, stroke, width, ink, weight = WHITE, MUTED, 1.5, INK, "normal"
    attrs = f" data-state={quoteattr(s.name)} aria-label={quoteattr(label)}"
    if current:
        attrs += ' aria-current="step"'
    cls = "state" + (" current" if current else "") + (" visited" if visited else "")
    cls += " terminal" if terminal else ""
    out = [f'<g class="{cls}"{attrs}>']
    if current:  # a ring around the box, visible in greyscale and high contrast too
        out.append(
            f'<rect x="{_n(left - 4)}" y="{_n(top - 4)}" width="{_n(w + 8)}"'
            f' height="{_n(h + 8)}" rx="{_n(RADIUS + 4)}" fill="none"'
            f' stroke="{CURRENT_FILL}" stroke-width="1.5"/>'
        )
    out.append(
        f'<rect class="box" x="{_n(left)}" y="{_n(top)}" width="{_n(w)}" height="{_n(h)}"'
        f' rx="{_n(RADIUS)}" fill="{fill}" stroke="{stroke}" stroke-width="{_n(width)}"/>'
    )
    if terminal:  # double border
        inner = WHITE if current else stroke
        out.append(
            f'<rect x="{_n(left + 4)}" y="{_n(top + 4)}" width="{_n(w - 8)}"'
            f' height="{_n(h - 8)}" rx="{_n(RADIUS - 3)}" fill="none"'
            f' stroke="{inner}" stroke-width="1.25"/>'
        )
    out += _text_lines([(ln, STATE_FONT, ink, weight) for ln in s.lines], cx, cy)
    out.append("</g>")
    return out


def _marker(mid: str, colour: str) -> str:
    return (
        f'<marker id="{mid}" viewBox="0 0 10 10" refX="0" refY="5"'
        f' markerWidth="{_n(ARROW)}" markerHeight="{_n(ARROW)}"'
        f' markerUnits="userSpaceOnUse" orient="auto">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
    )


# ---------------------------------------------------------------------------- render


def render_svg(
    wf: WorkflowDefinition,
    *,
    current: str | None = None,
    lang: str = "de",
    visited: Iterable[str] = (),
    show_roles: bool = True,
) -> str:
    """The workflow ``wf`` as an SVG state diagram (a string to inline in HTML).

    ``current``: the state to highlight (dark box, ``aria-current="step"``); it must be a
    state of ``wf``. ``visited``: states the case has passed (from its history), drawn
    in a light tint; names that are not states of ``wf`` (older versions) are ignored.
    ``lang``: "de" or "en" for labels, title and description. ``show_roles``: add the
    role allowed to take each transition in parentheses under its label.
    """
    if current is not None and current not in wf.states:
        raise ValueError(f'"{current}" is not a state of workflow "{wf.id}"')
    lang = "en" if lang == "en" else "de"
    texts = _TEXTS[lang]
    seen = {s for s in visited if s in wf.states and s != current}

    # --- measure
    states: dict[str, _State] = {}
    for name, sd in wf.states.items():
        lines = wrap(sd.label.get(lang), STATE_CHARS, STATE_LINES)
        w = max(STATE_MIN_W, max(_text_w(ln, STATE_FONT) for ln in lines) + 2 * STATE_PAD_X)
        h = len(lines) * STATE_FONT * LINE + 2 * STATE_PAD_Y
        states[name] = _State(name, lines, w, h)
    arcs: list[_Arc] = []
    for t in wf.transitions:
        for src in dict.fromkeys(t.from_):  # a source listed twice is one edge
            lab = _make_label(t, lang, show_roles)
            if src == t.to:
                states[src].loops.append(_Loop(t, lab))
            else:
                arcs.append(_Arc(t, src, t.to, False, lab, _View(lab.w, lab.h)))
    _back_edges(wf, arcs)
    ends: dict[tuple[str, str], int] = {}
    for a in arcs:
        a.upper, a.lower = (a.target, a.source) if a.back else (a.source, a.target)
        ends[(a.upper, "bottom")] = ends.get((a.upper, "bottom"), 0) + 1
        ends[(a.lower, "top")] = ends.get((a.lower, "top"), 0) + 1
    for s in states.values():
        crowd = max(ends.get((s.name, "bottom"), 0), ends.get((s.name, "top"), 0))
        s.box_w = max(s.box_w, (crowd - 1) * PORT_MIN + 2 * RADIUS + 8)
        w, h = s.box_w, s.box_h
        if s.loops:  # room on the right for the loops and their labels
            reach = LOOP_REACH + LOOP_STEP * (len(s.loops) - 1)
            w += reach + 6 + max(lp.label.w for lp in s.loops)
            h = max(h, sum(lp.label.h + 4 for lp in s.loops))
        s.view = _View(w, h)

    # --- layout, one component after the other from left to right
    x = MARGIN
    bottom = 0.0
    for comp in _components(wf, arcs):
        members = set(comp)
        comp_arcs = [a for a in arcs if a.source in members]
        views = _layout_component(comp, states, comp_arcs)
        initial = states[wf.initial] if wf.initial in members else None
        x0, y0, x1, y1 = _extent(views, [states[s] for s in comp], initial)
        _move(views, x - x0, MARGIN - y0)
        for a in comp_arcs:
            a.points = [(px + x - x0, py + MARGIN - y0) for px, py in a.points]
            a.exit_y += MARGIN - y0
            a.entry_y += MARGIN - y0
        x += x1 - x0 + COMPONENT_GAP
        bottom = max(bottom, MARGIN + y1 - y0)
    width = x - COMPONENT_GAP + MARGIN

    # --- legend
    legend: list[tuple[str, str]] = []
    if current is not None:
        legend.append(("current", texts["legend_current"]))
    if seen:
        legend.append(("visited", texts["legend_visited"]))
    if any(sd.terminal for sd in wf.states.values()):
        legend.append(("terminal", texts["legend_terminal"]))
    legend_y = bottom + 14
    legend_w = sum(28 + _text_w(t, LABEL_FONT) + 20 for _, t in legend)
    height = (legend_y + 14 + MARGIN) if legend else bottom + MARGIN
    width = max(width, legend_w + 2 * MARGIN)

    # --- SVG
    pid = _id_prefix(wf.id)
    cur_label = wf.states[current].label.get(lang) if current else texts["none"]
    title = texts["title"].format(wf=wf.id)
    desc_parts = [texts["desc"].format(wf=wf.id, current=cur_label)]
    desc_parts.append(texts["start"].format(s=wf.states[wf.initial].label.get(lang)))
    ends = [sd.label.get(lang) for sd in wf.states.values() if sd.terminal]
    if ends:
        desc_parts.append(texts["ends"].format(s=", ".join(ends)))
    if seen:
        desc_parts.append(
            texts["visited"].format(
                s=", ".join(wf.states[s].label.get(lang) for s in wf.states if s in seen)
            )
        )
    moves = []
    for t in wf.transitions:
        for src in dict.fromkeys(t.from_):
            role = f" ({_role(t.role, lang)})" if show_roles else ""
            moves.append(
                f"{wf.states[src].label.get(lang)} → {wf.states[t.to].label.get(lang)}: "
                f"{t.label.get(lang)}{role}"
            )
    if moves:
        desc_parts.append(texts["moves"].format(s="; ".join(moves)))
    desc = " ".join(desc_parts)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram"'
        f' viewBox="0 0 {_n(width)} {_n(height)}" width="100%" role="img"'
        f' aria-labelledby="{pid}-title {pid}-desc"'
        f' font-family={quoteattr(FONT_FAMILY)} lang="{lang}">',
        f'<title id="{pid}-title">{escape(title)}</title>',
        f'<desc id="{pid}-desc">{escape(desc)}</desc>',
        "<defs>",
        _marker(f"{pid}-arrow", MUTED),
        _marker(f"{pid}-arrow-active", ACTIVE_EDGE),
        "</defs>",
        f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="{WHITE}"/>',
    ]

    # edges
    ports = _assign_ports(states, arcs)
    out.append('<g class="edges" fill="none">')
    labels: list[str] = []
    for i, a in enumerate(arcs):
        _, _, _, ub = states[a.upper].box()
        _, lt, _, _ = states[a.lower].box()
        px0, px1 = ports[(i, "bottom")], ports[(i, "top")]
        pts = [(px0, ub)]
        if a.exit_y > ub + 0.5:
            pts.append((px0, a.exit_y))
        pts += a.points
        if a.entry_y < lt - ARROW - 4:  # else the arrowhead covers that stretch
            pts.append((px1, a.entry_y))
        pts.append((px1, lt))
        if a.back:
            pts.reverse()
        active = current is not None and a.source == current
        colour, sw = (ACTIVE_EDGE, 2.0) if active else (MUTED, 1.5)
        marker = f"{pid}-arrow-active" if active else f"{pid}-arrow"
        ident = (
            f" data-transition={quoteattr(a.transition.name)}"
            f" data-from={quoteattr(a.source)} data-to={quoteattr(a.target)}"
        )
        out.append(
            f'<g class="edge{" active" if active else ""}"{ident}>'
            f'<path d="{_curve(pts)}" stroke="{colour}" stroke-width="{_n(sw)}"'
            f' marker-end="url(#{marker})"/></g>'
        )
        cx, cy = a.view.xy
        labels += [f'<g class="edge-label"{ident}>', *_label_svg(a.label, cx, cy), "</g>"]
    # self-loops, on the right of their state
    for s in states.values():
        if not s.loops:
            continue
        _, top, right, bottom_ = s.box()
        cy = (top + bottom_) / 2
        n = len(s.loops)
        outer = LOOP_REACH + LOOP_STEP * (n - 1)
        lab_x = right + outer + 6
        total = sum(lp.label.h + 4 for lp in s.loops) - 4
        ly = cy - total / 2
        for k, lp in enumerate(s.loops):
            active = current is not None and s.name == current
            colour, sw = (ACTIVE_EDGE, 2.0) if active else (MUTED, 1.5)
            marker = f"{pid}-arrow-active" if active else f"{pid}-arrow"
            reach = LOOP_REACH + LOOP_STEP * k
            dy = min(7 + 5 * k, s.box_h / 2 - 3)
            y0, y1 = cy - dy, cy + dy
            d = (
                f"M{_n(right)},{_n(y0)} C{_n(right + reach)},{_n(y0 - 12)}"
                f" {_n(right + reach)},{_n(y1 + 4)} {_n(right + ARROW)},{_n(y1)}"
            )
            ident = (
                f" data-transition={quoteattr(lp.transition.name)}"
                f" data-from={quoteattr(s.name)} data-to={quoteattr(s.name)}"
            )
            out.append(
                f'<g class="edge loop{" active" if active else ""}"{ident}>'
                f'<path d="{d}" stroke="{colour}" stroke-width="{_n(sw)}"'
                f' marker-end="url(#{marker})"/></g>'
            )
            lcx = lab_x + lp.label.w / 2
            lcy = ly + lp.label.h / 2
            labels += [f'<g class="edge-label"{ident}>', *_label_svg(lp.label, lcx, lcy), "</g>"]
            ly += lp.label.h + 4
    out.append("</g>")

    # start marker
    init = states[wf.initial]
    ix = init.center()[0]
    itop = init.box()[1]
    out.append(
        f'<g class="start" aria-hidden="true"><circle cx="{_n(ix)}" cy="{_n(itop - 24)}"'
        f' r="5" fill="{INK}"/><path d="M{_n(ix)},{_n(itop - 19)} L{_n(ix)},'
        f'{_n(itop - ARROW)}" stroke="{MUTED}" stroke-width="1.5" fill="none"'
        f' marker-end="url(#{pid}-arrow)"/></g>'
    )

    out.append('<g class="states">')
    for name, sd in wf.states.items():
        out += _state_svg(
            states[name],
            sd.label.get(lang),
            current=name == current,
            visited=name in seen,
            terminal=sd.terminal,
        )
    out.append("</g>")
    out.append('<g class="edge-labels">')
    out += labels
    out.append("</g>")

    if legend:
        out.append('<g class="legend" aria-hidden="true">')
        lx = MARGIN
        for kind, txt in legend:
            y = legend_y
            if kind == "current":
                box = f'fill="{CURRENT_FILL}" stroke="{CURRENT_FILL}" stroke-width="1.5"'
            elif kind == "visited":
                box = f'fill="{VISITED_FILL}" stroke="{VISITED_STROKE}" stroke-width="1.5"'
            else:
                box = f'fill="{WHITE}" stroke="{MUTED}" stroke-width="1.5"'
            out.append(f'<rect x="{_n(lx)}" y="{_n(y - 7)}" width="22" height="14" rx="3" {box}/>')
            if kind == "terminal":
                out.append(
                    f'<rect x="{_n(lx + 3)}" y="{_n(y - 4)}" width="16" height="8" rx="1.5"'
                    f' fill="none" stroke="{MUTED}" stroke-width="1"/>'
                )
            out.append(
                f'<text x="{_n(lx + 28)}" y="{_n(y + 0.35 * LABEL_FONT)}"'
                f' font-size="{_n(LABEL_FONT)}" fill="{INK}">{escape(txt)}</text>'
            )
            lx += 28 + _text_w(txt, LABEL_FONT) + 20
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)

"""Statistics for the administration, on SQLite and PostgreSQL: hand-computed figures, the
municipality boundary, periods, the page with its SVG charts, the CSV export, the admin role."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.audit import service as audit
from services.cases.models import Case
from services.statistics import charts
from services.statistics.service import Period, compute, processing_days, resolve_period
from services.timeutil import BERLIN, today_local
from tests.conftest import login, make_staff

SVG = "{http://www.w3.org/2000/svg}"
Q1_2025 = Period(date(2025, 1, 1), date(2025, 3, 31), "custom")
Q1_PARAMS = {"period": "custom", "from": "2025-01-01", "to": "2025-03-31"}


def utc(y: int, m: int, d: int, h: int = 12, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def local_noon(days_ago: int) -> datetime:
    """Noon (Berlin) of the calendar day ``days_ago`` days before today."""
    return datetime.combine(today_local() - timedelta(days=days_ago), time(12), BERLIN)


def shape(db, case: Case, **values) -> Case:
    """Set timestamps etc. directly on the row, as if the case had lived through them."""
    for key, value in values.items():
        setattr(case, key, value)
    db.add(case)
    db.commit()
    return case


def ask(db, case: Case) -> None:
    audit.record(
        db,
        case_id=case.id,
        municipality_id=case.municipality_id,
        actor_kind="staff",
        actor_id=None,
        actor_name="Petra Schulze",
        action="request_information",
        from_state="in_review",
        to_state="information_requested",
        comment="Bitte Chipnummer nachreichen.",
    )
    db.commit()


@pytest.fixture
def admin(db, municipality):
    return make_staff(db, municipality, "admin", "Anna Admin", ["clerk", "admin"])


@pytest.fixture
def scenario(db, municipality, other_municipality, case_factory):
    """Cases of the first quarter of 2025, open cases of today, and a foreign municipality.

    Filed in Q1 2025 (Berlin days): c1, c2, c3, c4, c5, c8 = 6
      (c6 was filed on 31.03. 22:30 UTC = 01.04. 00:30 in Berlin: April; c7 in December;
       c8 on 31.12.2024 23:30 UTC = 01.01.2025 00:30 in Berlin: January)
    Decided in Q1 2025: c1 (Jan), c2, c3, c4 (Feb), c7 (Mar) = 5
      approved (closed, notice issued, tag issued) c1, c3, c7 = 3; rejected c2; withdrawn c4
    Processing days (without the withdrawal c4), decision day minus filing day minus paused:
      c1 20.01.−10.01. = 10; c2 10.02.−15.01. = 26 − 5 = 21; c3 08.02.−01.02. = 7;
      c7 03.03.2025−20.12.2024 = 73 − 2 = 71  → sorted 7, 10, 21, 71 → median 15.5
    On time (decision day ≤ due date): c1 20.01. ≤ 24.01. yes; c2 10.02. > 03.02. no;
      c3 08.02. ≤ 15.02. yes; c7 03.03. > 05.01. no  → 2 of 4 = 50 %
    Information requests among the filed: c1, c2 (twice), c5 = 3 of 6 = 50 %
      (c7 was asked too, but filed in December)
    Monthly: filed Jan 3 (c1, c2, c8), Feb 2 (c3, c4), Mar 1 (c5);
             decided Jan 1 (c1), Feb 3 (c2, c3, c4), Mar 1 (c7)
    Open today (is_open): c3 notice_issued, c5 in_review, c6 submitted, c7 tag_issued,
      c8 approved (all older than 30 days) and o1–o7 = 12
      by state: submitted 2 (c6, o1), completeness_check 1 (o2), information_requested 1 (o3),
      answer_received 1 (o7), in_review 3 (c5, o4, o5), awaiting_second_approval 1 (o6),
      approved 1 (c8), notice_issued 1 (c3), tag_issued 1 (c7)
      by age: 0–7: o1 (0), o2 (7) = 2; 8–14: o3 (8), o4 (14) = 2; 15–30: o5 (15), o6 (30) = 2;
      over 30: c3, c5, c6, c7, c8, o7 (31) = 6
    """
    f = case_factory
    # name: (state, filed (UTC), decided (UTC), paused days, due date)
    rows = {
        "c1": ("closed", utc(2025, 1, 10), utc(2025, 1, 20), 0, date(2025, 1, 24)),
        "c2": ("rejected", utc(2025, 1, 15), utc(2025, 2, 10), 5, date(2025, 2, 3)),
        "c3": ("notice_issued", utc(2025, 2, 1), utc(2025, 2, 8), 0, date(2025, 2, 15)),
        "c4": ("withdrawn", utc(2025, 2, 20), utc(2025, 2, 22), 0, date(2025, 3, 6)),
        "c5": ("in_review", utc(2025, 3, 5), None, 0, date(2025, 3, 19)),
        "c6": ("submitted", utc(2025, 3, 31, 22, 30), None, 0, date(2025, 4, 15)),
        "c7": ("tag_issued", utc(2024, 12, 20), utc(2025, 3, 3), 2, date(2025, 1, 5)),
        "c8": ("approved", utc(2024, 12, 31, 23, 30), utc(2025, 4, 1, 10), 0, date(2025, 1, 15)),
    }
    c = {
        name: shape(
            db, f(state), submitted_at=filed, decided_at=decided, paused_days=paused, due_date=due
        )
        for name, (state, filed, decided, paused, due) in rows.items()
    }
    for name in ("c1", "c2", "c2", "c5", "c7"):
        ask(db, c[name])

    for days, state in [
        (0, "submitted"), (7, "completeness_check"), (8, "information_requested"),
        (14, "in_review"), (15, "in_review"), (30, "awaiting_second_approval"),
        (31, "answer_received"),
    ]:  # fmt: skip
        shape(db, f(state), submitted_at=local_noon(days))
    shape(db, f("rejected"), submitted_at=local_noon(3))  # closed today: not open, not in Q1

    # Another municipality: busy in the same quarter, never counted for Herzberg.
    o = other_municipality
    f1 = shape(db, f("in_review", m=o), submitted_at=utc(2025, 2, 1), due_date=date(2025, 2, 15))
    f2 = shape(
        db,
        f("rejected", m=o),
        submitted_at=utc(2025, 2, 2),
        decided_at=utc(2025, 2, 3),
        due_date=date(2025, 2, 16),
    )
    shape(db, f("approved", m=o), submitted_at=local_noon(2))
    ask(db, f1)
    ask(db, f2)


# --- the figures ------------------------------------------------------------------------


def test_figures_are_computed_as_defined(db, admin, scenario):
    s = compute(db, admin, Q1_2025)
    assert s.filed == 6
    assert s.decided == 5
    assert s.outcomes == {"approved": 3, "rejected": 1, "withdrawn": 1}
    assert s.timed == 4
    assert s.median_days == 15.5
    assert (s.on_time, s.on_time_share) == (2, 0.5)
    assert (s.info_requested, s.info_request_rate) == (3, 0.5)
    assert [(m.iso, m.filed, m.decided) for m in s.months] == [
        ("2025-01", 3, 1),
        ("2025-02", 2, 3),
        ("2025-03", 1, 1),
    ]
    assert s.open_total == 12
    assert {b.key: b.count for b in s.open_by_state} == {
        "submitted": 2,
        "completeness_check": 1,
        "information_requested": 1,
        "answer_received": 1,
        "in_review": 3,
        "awaiting_second_approval": 1,
        "approved": 1,
        "notice_issued": 1,
        "tag_issued": 1,
    }
    # terminal states are never open; the chart lists the workflow's other states in order
    assert [b.key for b in s.open_by_state][:2] == ["submitted", "completeness_check"]
    assert [(b.label, b.count) for b in s.open_by_age] == [
        ("0–7 Tage", 2),
        ("8–14 Tage", 2),
        ("15–30 Tage", 2),
        ("über 30 Tage", 6),
    ]


def test_other_municipality_sees_only_its_own_cases(db, scenario, other_municipality):
    foreign_admin = make_staff(db, other_municipality, "fadmin", "Frank Fremd", ["admin"])
    s = compute(db, foreign_admin, Q1_2025)
    # f1 and f2 filed in February; f2 rejected after 1 day, on time; f1 and f2 were asked
    assert (s.filed, s.decided, s.outcomes["rejected"]) == (2, 1, 1)
    assert (s.median_days, s.on_time, s.timed) == (1, 1, 1)
    assert s.info_requested == 2
    assert s.open_total == 2  # f1 in review, the approved case of two days ago
    assert [b.count for b in s.open_by_age] == [1, 0, 0, 1]


def test_procedure_filter(db, admin, scenario, case_factory):
    # A deregistration, filed on 05.01.2025 and rejected the next day.
    dereg = dict(procedure_id="dog_deregistration", due_date=date(2025, 1, 19))
    shape(
        db,
        case_factory("rejected"),
        submitted_at=utc(2025, 1, 5),
        decided_at=utc(2025, 1, 6),
        **dereg,
    )
    everything = compute(db, admin, Q1_2025)
    registrations = compute(db, admin, Q1_2025, "dog_registration")
    deregistrations = compute(db, admin, Q1_2025, "dog_deregistration")
    assert (everything.filed, everything.decided, everything.timed) == (7, 6, 5)
    assert everything.median_days == 10  # 1, 7, 10, 21, 71
    assert (registrations.filed, registrations.decided, registrations.median_days) == (6, 5, 15.5)
    assert (deregistrations.filed, deregistrations.decided) == (1, 1)
    assert (deregistrations.median_days, deregistrations.on_time) == (1, 1)
    assert deregistrations.open_total == 0
    # the deregistration workflow has no four-eyes step: no such bar
    assert "awaiting_second_approval" not in [b.key for b in deregistrations.open_by_state]


def test_empty_period_has_no_median_or_shares(db, admin, municipality):
    s = compute(db, admin, Period(date(2024, 2, 1), date(2024, 2, 29), "custom"))
    assert (s.filed, s.decided, s.timed, s.open_total) == (0, 0, 0, 0)
    assert (s.median_days, s.on_time_share, s.info_request_rate) == (None, None, None)
    assert [(m.iso, m.filed) for m in s.months] == [("2024-02", 0)]


def test_processing_days_use_berlin_days_and_subtract_pauses():
    # 31.03.2025 22:30 UTC is 01.04. in Berlin (summer time): one day after 31.03. noon
    assert processing_days(utc(2025, 3, 31), utc(2025, 3, 31, 22, 30), 0) == 1
    assert processing_days(utc(2025, 1, 1), utc(2025, 1, 11), 4) == 6
    assert processing_days(utc(2025, 1, 1), utc(2025, 1, 3), 5) == 0  # never negative


@pytest.mark.parametrize(
    "preset, today, start, end",
    [
        ("month", date(2026, 3, 15), date(2026, 3, 1), date(2026, 3, 15)),
        ("3m", date(2026, 1, 15), date(2025, 11, 1), date(2026, 1, 15)),
        ("year", date(2026, 3, 15), date(2026, 1, 1), date(2026, 3, 15)),
        ("last_year", date(2026, 3, 15), date(2025, 1, 1), date(2025, 12, 31)),
        ("nonsense", date(2026, 3, 15), date(2026, 1, 1), date(2026, 3, 15)),  # default: 3m
    ],
)
def test_presets(preset, today, start, end):
    period, errors = resolve_period(preset, None, None, today)
    assert (period.start, period.end, errors) == (start, end, [])


def test_custom_periods_are_checked():
    today = date(2026, 3, 15)
    ok, errors = resolve_period("custom", date(2025, 1, 1), date(2025, 3, 31), today)
    assert (ok.preset, errors) == ("custom", [])
    for start, end in [(None, date(2025, 1, 1)), (date(2025, 2, 1), date(2025, 1, 1)),
                       (date(2015, 1, 1), date(2025, 1, 1))]:  # fmt: skip
        period, errors = resolve_period("custom", start, end, today)
        assert errors and period.preset == "3m"


# --- the page and the CSV ---------------------------------------------------------------


def svgs_of(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def test_page_shows_figures_charts_and_tables(client, db, admin, scenario):
    login(client, "admin")
    r = client.get("/admin/statistics", params=Q1_PARAMS)
    assert r.status_code == 200
    html = r.text
    assert "01.01.2025 bis 31.03.2025" in html
    figures = dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd><span class=\"stats-value\">([^<]+)<", html))
    assert figures == {
        "Eingegangen": "6",
        "Entschieden": "5",
        "Bearbeitungsdauer (Median)": "15,5 Tage",
        "In gesetzlicher Frist entschieden": "50,0 %",
        "Rückfragequote": "50,0 %",
        "Offen": "12",
    }
    assert "Abgelehnt: 1" in html and "Zurückgezogen: 1" in html
    feb = '<th scope="row">Feb 2025</th><td class="num">2</td><td class="num">3</td>'
    assert feb in html
    assert '<tr><th scope="row">über 30 Tage</th><td class="num">6</td></tr>' in html
    assert html.count("<caption") == 3 and 'scope="col"' in html
    assert "aria-current=page>Statistik" in html.replace('"', "")  # admin navigation

    svgs = svgs_of(html)
    assert len(svgs) == 3
    for svg in svgs:
        assert svg.get("role") == "img"
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert title is not None and title.text and desc is not None and desc.text
        assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        assert all("style" not in el.attrib for el in svg.iter())
        assert svg.find(f".//{SVG}style") is None
    months = svgs[0]
    assert "Feb 2025: 2 eingegangen, 3 entschieden" in months.find(f"{SVG}desc").text
    assert "<style" not in html and " style=" not in html


def test_page_without_filters_uses_the_default_period(client, db, admin, scenario):
    login(client, "admin")
    r = client.get("/admin/statistics")
    assert r.status_code == 200
    today = today_local()
    start = date(today.year, today.month, 1)
    for _ in range(2):
        start = (start - timedelta(days=1)).replace(day=1)
    assert f"{start:%d.%m.%Y} bis {today:%d.%m.%Y}" in r.text
    assert 'href="/admin/statistics.csv?period=3m"' in r.text


def test_page_explains_a_refused_period(client, db, admin):
    login(client, "admin")
    r = client.get("/admin/statistics", params={"period": "custom", "from": "2025-03-01",
                                                "to": "2025-01-01"})  # fmt: skip
    assert r.status_code == 200
    assert "Der Zeitraum wurde nicht übernommen" in r.text
    assert "Das Von-Datum liegt nach dem Bis-Datum." in r.text
    assert 'value="2025-03-01"' in r.text  # what was typed stays in the form
    r = client.get("/admin/statistics", params={"period": "custom", "from": "01.01.2025",
                                                "to": "31.03.2025"})  # fmt: skip
    assert "01.01.2025 bis 31.03.2025" in r.text and "nicht übernommen" not in r.text


def test_csv_export(client, db, admin, scenario):
    login(client, "admin")
    r = client.get("/admin/statistics.csv", params={**Q1_PARAMS, "procedure": "dog_registration"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == (
        'attachment; filename="statistik-herzberg-elster-hund-anmelden-2025-01-01-2025-03-31.csv"'
    )
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Bereich", "Merkmal", "Wert"]
    assert all(len(row) == 3 for row in rows)
    values = {(area, name): value for area, name, value in rows[1:]}
    assert values[("Auswahl", "Zeitraum von")] == "01.01.2025"
    assert values[("Kennzahl", "Eingegangen")] == "6"
    assert values[("Kennzahl", "Entschieden")] == "5"
    assert values[("Entschieden nach Ergebnis", "Genehmigt / Bescheid erteilt")] == "3"
    assert values[("Kennzahl", "Bearbeitungsdauer Median (Tage)")] == "15,5"
    assert values[("Kennzahl", "In gesetzlicher Frist entschieden (Prozent)")] == "50,0"
    assert values[("Kennzahl", "Rückfragequote (Prozent)")] == "50,0"
    assert values[("Eingegangen je Monat", "2025-01")] == "3"
    assert values[("Entschieden je Monat", "2025-02")] == "3"
    stand = f"Stand {today_local():%d.%m.%Y}"
    assert values[(f"Offen nach Status ({stand})", "In Prüfung")] == "3"
    assert values[(f"Offen nach Alter ({stand})", "über 30 Tage")] == "6"
    assert "Stadt Falkenberg/Elster" not in r.content.decode("utf-8-sig")


def test_foreign_admin_csv_counts_only_its_cases(client, db, scenario, other_municipality):
    make_staff(db, other_municipality, "fadmin", "Frank Fremd", ["admin"])
    login(client, "fadmin")
    r = client.get("/admin/statistics.csv", params=Q1_PARAMS)
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    values = {(area, name): value for area, name, value in rows[1:]}
    assert values[("Auswahl", "Gemeinde")] == "Stadt Falkenberg/Elster"
    assert (values[("Kennzahl", "Eingegangen")], values[("Kennzahl", "Entschieden")]) == ("2", "1")


def test_clerk_gets_403(client, db, clerk):
    login(client, "clerk")
    assert client.get("/admin/statistics").status_code == 403
    assert client.get("/admin/statistics.csv").status_code == 403


def test_login_required(client, db):
    r = client.get("/admin/statistics.csv", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/office/login")


# --- the charts on their own ------------------------------------------------------------


def test_charts_escape_text_and_parse():
    svg = charts.horizontal_bar_chart(
        chart_id="t1", title='A & B <"x">', desc="</desc><script>", rows=[("<b>", 3), ("0", 0)]
    )
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == 'A & B <"x">'
    assert root.find(f"{SVG}desc").text == "</desc><script>"
    assert [t.text for t in root.iter(f"{SVG}text")] == ["<b>", "3", "0", "0"]
    assert len(root.findall(f".//{SVG}rect")) == 2  # background and the one non-zero bar
    with pytest.raises(ValueError):
        charts.horizontal_bar_chart(chart_id='x" onload="', title="", desc="", rows=[])


def test_grouped_bars_legend_hatching_and_labels():
    svg = charts.grouped_bar_chart(
        chart_id="t2",
        title="Monate",
        desc="d",
        categories=[("Jan", "2026"), ("Feb", "")],
        series=[
            charts.BarSeries("Eingegangen", [4, 0], charts.BLUE),
            charts.BarSeries("Entschieden", [2, 7], charts.GREEN, hatched=True),
        ],
    )
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts[:2] == ["Eingegangen", "Entschieden"]  # the legend names the series
    assert {"4", "2", "7", "Jan", "2026", "Feb"} <= set(texts)  # value labels, months
    assert root.find(f".//{SVG}pattern").get("id") == "t2-pattern-1"
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect") if r.get("stroke")]
    assert fills == [
        charts.BLUE,
        "url(#t2-pattern-1)",
        charts.BLUE,
        "url(#t2-pattern-1)",
        "url(#t2-pattern-1)",
    ]  # fmt: skip  (legend 2, bars 3: the zero is left out)


def test_many_months_thin_out_labels_but_keep_januaries_and_years():
    # May 2021 to November 2025: 55 months, too many for a label under every month
    months = [(2021 + (4 + i) // 12, (4 + i) % 12 + 1) for i in range(55)]
    svg = charts.grouped_bar_chart(
        chart_id="t3",
        title="t",
        desc="d",
        categories=[(f"M{m}", str(y)) for y, m in months],
        series=[charts.BarSeries("A", [1000] * 55, charts.BLUE)],
    )
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    labels = [t for t in texts if t.startswith("M")]
    assert 5 < len(labels) < 55
    assert labels.count("M1") == 4  # every January from 2022 to 2025 is labelled
    assert [t for t in texts if t.startswith("20")] == ["2021", "2022", "2023", "2024", "2025"]
    # bars too narrow for value labels: the data table carries the numbers
    assert "1.000" in texts and texts.count("1.000") == 1  # the y-axis tick only

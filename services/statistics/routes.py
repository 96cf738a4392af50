"""Admin pages: statistics per procedure and period, as key figures, charts with data tables,
and a CSV download (semicolons, decimal commas and a BOM, as German Excel expects)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.admin.deps import CurrentAdmin
from services.municipalities.models import Municipality
from services.procedures import registry
from services.statistics import charts, service
from services.statistics.service import OUTCOMES, PRESETS, Period, Statistics
from services.web.deps import SessionDep, verify_csrf
from services.web.templating import render

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])

# --- formatting (German) ------------------------------------------------------------------


def de_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def de_decimal(x: float, places: int = 1) -> str:
    return f"{x:,.{places}f}".replace(",", "\0").replace(".", ",").replace("\0", ".")


def de_percent(share: float | None) -> str:
    return "–" if share is None else f"{de_decimal(share * 100)} %"


def de_days(days: float | None) -> str:
    if days is None:
        return "–"
    text = de_int(int(days)) if float(days).is_integer() else de_decimal(days)
    return f"{text} {'Tag' if days == 1 else 'Tage'}"


def _parse_date(text: str) -> date | None:
    """ISO (from <input type=date>) or 24.11.2026 (browsers without a date picker)."""
    text = text.strip()
    try:
        if m := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", text):
            d, mo, y = m.groups()
            return date(int(y), int(mo), int(d))
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


# --- filters ------------------------------------------------------------------------------


def _filters(procedure: str, period: str, start: str, end: str):
    """(procedure id or None, period, messages why the requested period was not used)."""
    known = {p.id for p in registry.all_procedures()}
    procedure_id = procedure if procedure in known else None
    chosen, errors = service.resolve_period(period, _parse_date(start), _parse_date(end))
    return procedure_id, chosen, errors


def _query(procedure_id: str | None, p: Period) -> str:
    params = {"procedure": procedure_id or "", "period": p.preset}
    if p.preset == "custom":
        params.update({"from": p.start.isoformat(), "to": p.end.isoformat()})
    return urlencode({k: v for k, v in params.items() if v})


def _procedure_title(procedure_id: str | None) -> str:
    return registry.get(procedure_id).title.de if procedure_id else "Alle Verfahren"


# --- charts -------------------------------------------------------------------------------


def _month_categories(stats: Statistics) -> list[tuple[str, str]]:
    """Month name over the year (the chart writes the year where it changes)."""
    return [(service.MONTH_NAMES[m.month - 1], str(m.year)) for m in stats.months]


def build_charts(stats: Statistics) -> dict[str, str]:
    today = f"{stats.today:%d.%m.%Y}"
    months = "; ".join(
        f"{m.label}: {m.filed} eingegangen, {m.decided} entschieden" for m in stats.months
    )
    states = "; ".join(f"{b.label}: {b.count}" for b in stats.open_by_state)
    ages = "; ".join(f"{b.label}: {b.count}" for b in stats.open_by_age)
    return {
        "months": charts.grouped_bar_chart(
            chart_id="chart-months",
            title="Eingegangene und entschiedene Vorgänge je Monat",
            desc=f"Säulendiagramm, {stats.period.label}. Blaue Säulen: eingegangen; grün "
            f"schraffierte Säulen: entschieden. {months}.",
            categories=_month_categories(stats),
            series=[
                charts.BarSeries("Eingegangen", [m.filed for m in stats.months], charts.BLUE),
                charts.BarSeries(
                    "Entschieden", [m.decided for m in stats.months], charts.GREEN, hatched=True
                ),
            ],
        ),
        "states": charts.horizontal_bar_chart(
            chart_id="chart-open-states",
            title="Offene Vorgänge nach Status",
            desc=f"Balkendiagramm, Stand {today}. {states}.",
            rows=[(b.label, b.count) for b in stats.open_by_state],
        ),
        "ages": charts.horizontal_bar_chart(
            chart_id="chart-open-ages",
            title="Offene Vorgänge nach Alter seit Eingang",
            desc=f"Balkendiagramm, Stand {today}. {ages}.",
            rows=[(b.label, b.count) for b in stats.open_by_age],
        ),
    }


# --- CSV ----------------------------------------------------------------------------------


def _csv_text(value: str) -> str:
    """Text cells cannot start a spreadsheet formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_rows(stats: Statistics, municipality: Municipality) -> list[list[str]]:
    share = stats.on_time_share
    rate = stats.info_request_rate
    today = f"{stats.today:%d.%m.%Y}"
    rows = [
        ["Bereich", "Merkmal", "Wert"],
        ["Auswahl", "Gemeinde", _csv_text(municipality.name)],
        ["Auswahl", "Verfahren", _csv_text(_procedure_title(stats.procedure_id))],
        ["Auswahl", "Zeitraum von", f"{stats.period.start:%d.%m.%Y}"],
        ["Auswahl", "Zeitraum bis", f"{stats.period.end:%d.%m.%Y}"],
        ["Kennzahl", "Eingegangen", str(stats.filed)],
        ["Kennzahl", "Entschieden", str(stats.decided)],
    ]
    rows += [
        ["Entschieden nach Ergebnis", label, str(stats.outcomes[key])]
        for key, label in OUTCOMES.items()
    ]
    rows += [
        ["Kennzahl", "Entscheidungen der Behörde (ohne Rücknahmen)", str(stats.timed)],
        [
            "Kennzahl",
            "Bearbeitungsdauer Median (Tage)",
            "" if stats.median_days is None else de_decimal(stats.median_days),
        ],
        ["Kennzahl", "In gesetzlicher Frist entschieden (Anzahl)", str(stats.on_time)],
        [
            "Kennzahl",
            "In gesetzlicher Frist entschieden (Prozent)",
            "" if share is None else de_decimal(share * 100),
        ],
        ["Kennzahl", "Eingegangen mit Rückfrage (Anzahl)", str(stats.info_requested)],
        ["Kennzahl", "Rückfragequote (Prozent)", "" if rate is None else de_decimal(rate * 100)],
        [f"Offen nach Status (Stand {today})", "Gesamt", str(stats.open_total)],
    ]
    rows += [
        [f"Offen nach Status (Stand {today})", b.label, str(b.count)] for b in stats.open_by_state
    ]
    rows += [
        [f"Offen nach Alter (Stand {today})", b.label, str(b.count)] for b in stats.open_by_age
    ]
    rows += [["Eingegangen je Monat", m.iso, str(m.filed)] for m in stats.months]
    rows += [["Entschieden je Monat", m.iso, str(m.decided)] for m in stats.months]
    return rows


# --- routes -------------------------------------------------------------------------------


@router.get("/statistics")
def statistics_page(
    request: Request,
    admin: CurrentAdmin,
    db: SessionDep,
    procedure: Annotated[str, Query(max_length=60)] = "",
    period: Annotated[str, Query(max_length=20)] = service.DEFAULT_PRESET,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    procedure_id, chosen, errors = _filters(procedure, period, start, end)
    stats = service.compute(db, admin, chosen, procedure_id)
    procedures = registry.all_procedures()
    days = sorted({p.workflow.processing_days for p in procedures if procedure_id in (None, p.id)})
    return render(
        request,
        "admin/statistics.html",
        lang="de",
        staff=admin,
        stats=stats,
        charts=build_charts(stats),
        procedures=procedures,
        presets=PRESETS,
        outcomes=OUTCOMES,
        procedure_id=procedure_id or "",
        procedure_title=_procedure_title(procedure_id),
        processing_days=days,
        errors=errors,
        # the form shows what was typed when it could not be used, else the period shown
        form_period="custom" if errors else chosen.preset,
        form_from=start if errors else chosen.start.isoformat(),
        form_to=end if errors else chosen.end.isoformat(),
        csv_url=f"/admin/statistics.csv?{_query(procedure_id, chosen)}",
        de_int=de_int,
        de_percent=de_percent,
        de_days=de_days,
    )


@router.get("/statistics.csv")
def statistics_csv(
    admin: CurrentAdmin,
    db: SessionDep,
    procedure: Annotated[str, Query(max_length=60)] = "",
    period: Annotated[str, Query(max_length=20)] = service.DEFAULT_PRESET,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    procedure_id, chosen, _ = _filters(procedure, period, start, end)
    stats = service.compute(db, admin, chosen, procedure_id)
    municipality = db.get(Municipality, admin.municipality_id)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(
        csv_rows(stats, municipality)
    )
    parts = ["statistik", municipality.slug]
    if procedure_id:
        parts.append(registry.get(procedure_id).slug)
    parts += [chosen.start.isoformat(), chosen.end.isoformat()]
    return Response(
        content=("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{"-".join(parts)}.csv"',
            "Cache-Control": "no-store",
        },
    )

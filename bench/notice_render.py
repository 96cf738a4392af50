"""Benchmark: median time to render the Hundesteuerbescheid.

Compares ``services.documents.render.render_pdf`` (shared FontConfiguration, PDF/A-3a,
metadata, JSON attachment) with bare WeasyPrint on the same HTML: ``HTML.write_pdf()``
with defaults (a new font configuration per call, untagged PDF), and the same with
``pdf_variant="pdf/a-3a"`` (tagged, like ours). Everything is warmed up first.

    uv run python bench/notice_render.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "services" / "documents"))

from test_notice_pdf import sample_context  # noqa: E402
from weasyprint import HTML  # noqa: E402

from services.documents.render import TEMPLATE_DIR, render_html, render_pdf, warm_up  # noqa: E402

TEMPLATE = "dog_registration_notice.html"


def _median_ms(func, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    context = sample_context()
    title = f"Hundesteuerbescheid {context['case']['reference']}"
    payload = json.dumps(context["assessment"].to_dict()).encode()
    html = render_html(TEMPLATE, context, title=title)
    base_url = str(TEMPLATE_DIR) + "/"

    def amtsweg() -> bytes:
        return render_pdf(
            TEMPLATE,
            context,
            title=title,
            author=context["municipality"]["name"],
            attachments=[("falldaten.json", payload, "Falldaten (JSON)")],
        )

    def bare() -> bytes:
        return HTML(string=html, base_url=base_url).write_pdf()

    def bare_pdfa() -> bytes:
        # Same output variant, but a new FontConfiguration per call (WeasyPrint default).
        return HTML(string=html, base_url=base_url).write_pdf(pdf_variant="pdf/a-3a")

    started = time.perf_counter()
    warm_up()
    first_ms = (time.perf_counter() - started) * 1000
    amtsweg()
    bare()
    bare_pdfa()

    amtsweg_ms = _median_ms(amtsweg, args.runs)
    bare_ms = _median_ms(bare, args.runs)
    bare_pdfa_ms = _median_ms(bare_pdfa, args.runs)
    pages = len(__import__("pypdf").PdfReader(__import__("io").BytesIO(amtsweg())).pages)
    print(f"warm-up (first render in process): {first_ms:7.1f} ms")
    print(f"render_pdf  (PDF/A-3a, {pages} pages), median of {args.runs}: {amtsweg_ms:7.1f} ms")
    print(f"bare WeasyPrint write_pdf(),        median of {args.runs}: {bare_ms:7.1f} ms")
    print(f"bare write_pdf(pdf/a-3a),           median of {args.runs}: {bare_pdfa_ms:7.1f} ms")
    print(f"ratio render_pdf / bare:            {amtsweg_ms / bare_ms:.2f}")
    print(f"ratio render_pdf / bare pdf/a-3a:   {amtsweg_ms / bare_pdfa_ms:.2f}")


if __name__ == "__main__":
    main()

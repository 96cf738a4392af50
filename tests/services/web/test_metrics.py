"""GET /metrics: latency by route template (never the raw path), requests in flight,
filings counted once per case, an optional bearer token, collectors other features add,
and figures summed over several worker processes (PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import os
import subprocess
import sys

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from pydantic import SecretStr

from services.config import ROOT
from services.web.metrics import register_collector, unregister_collector
from tests.conftest import URL, csrf_of, file_registration


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_latency_is_labelled_by_route_template(client, municipality):
    before = sample(
        "amtsweg_http_request_duration_seconds_count",
        method="GET",
        route="/{mun}/{proc_slug}",
        status="2xx",
    )
    assert client.get(URL).status_code == 200
    client.get("/no/such/page/at/all")
    text = client.get("/metrics").text
    assert client.get("/metrics").headers["content-type"].startswith("text/plain")
    assert 'route="/{mun}/{proc_slug}"' in text
    assert 'route="unmatched"' in text
    assert "herzberg-elster" not in text and "/no/such" not in text  # never raw paths
    assert "amtsweg_http_requests_in_progress" in text
    assert (
        sample(
            "amtsweg_http_request_duration_seconds_count",
            method="GET",
            route="/{mun}/{proc_slug}",
            status="2xx",
        )
        == before + 1
    )


def test_a_filing_is_counted_once(client, municipality):
    before = sample("amtsweg_filings_total", procedure="dog_registration")
    file_registration(client)
    assert sample("amtsweg_filings_total", procedure="dog_registration") == before + 1
    # Submitting the same draft again (back button, double click) shows the same case.
    r = client.post(f"{URL}/submit", data={"csrf_token": csrf_of(client.get(URL).text)})
    assert r.url.path == f"{URL}/confirmation"
    assert sample("amtsweg_filings_total", procedure="dog_registration") == before + 1
    line = f'amtsweg_filings_total{{procedure="dog_registration"}} {before + 1}'
    assert line in client.get("/metrics").text


def test_metrics_token_when_configured(make_app):
    client = TestClient(make_app(metrics_token=SecretStr("s3cret-metrics")))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    r = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert r.status_code == 200 and "amtsweg_http_requests_in_progress" in r.text


class JobGauges:
    """What a job queue would add: figures read at scrape time."""

    def collect(self):
        queued = GaugeMetricFamily("amtsweg_test_jobs_queued", "Jobs waiting.", labels=["queue"])
        queued.add_metric(["default"], 3)
        yield queued


def test_other_features_add_collectors(client):
    gauges = JobGauges()
    register_collector(gauges)
    register_collector(gauges)  # twice is harmless
    try:
        assert 'amtsweg_test_jobs_queued{queue="default"} 3.0' in client.get("/metrics").text
    finally:
        unregister_collector(gauges)
    assert "amtsweg_test_jobs_queued" not in client.get("/metrics").text


WORKER = """
from services.web import metrics
metrics.count_filing("dog_registration")
metrics.observe_request("GET", "/{mun}/{proc_slug}", 200, 0.01)
"""
SCRAPE = """
import sys
from services.web import metrics
sys.stdout.write(metrics.exposition().decode())
"""


def test_worker_processes_add_up_with_a_multiprocess_dir(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def python(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    python(WORKER)
    python(WORKER)
    text = python(SCRAPE)
    assert 'amtsweg_filings_total{procedure="dog_registration"} 2.0' in text
    assert (
        'amtsweg_http_request_duration_seconds_count{method="GET",route="/{mun}/{proc_slug}",'
        'status="2xx"} 2.0'
    ) in text
    from services.web.metrics import clear_multiprocess_dir

    assert clear_multiprocess_dir(str(tmp_path))
    assert not any(name.endswith(".db") for name in os.listdir(tmp_path))

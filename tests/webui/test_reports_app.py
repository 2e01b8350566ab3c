"""The reports app the Airflow plugin mounts: listing, latest, and nothing outside the folder."""

from __future__ import annotations

import os
import time

import pytest
from fastapi import Depends, HTTPException
from fastapi.testclient import TestClient

from liftline.webui import create_app, list_reports


@pytest.fixture
def folder(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (tmp_path / "secret.html").write_text("<p>not a report</p>")
    return reports


def _write(folder, name, text, age_s=0.0):
    path = folder / name
    path.write_text(text)
    moment = time.time() - age_s
    os.utime(path, (moment, moment))
    return path


def test_without_reports_the_index_says_how_to_make_one(folder):
    client = TestClient(create_app(folder))
    page = client.get("/")
    assert page.status_code == 200 and "liftline report" in page.text
    missing = client.get("/latest")
    assert missing.status_code == 404 and "liftline report" in missing.json()["detail"]


def test_latest_is_the_newest_report_and_the_index_lists_them_newest_first(folder):
    _write(folder, "report-2026-11-30.html", "<p>old</p>", age_s=3600)
    _write(folder, "report-2026-12-01.html", "<p>new</p>")
    _write(folder, "latest.html", "<p>copy</p>")
    client = TestClient(create_app(folder))
    assert [r.name for r in list_reports(folder)] == ["report-2026-12-01.html",
                                                       "report-2026-11-30.html"]
    latest = client.get("/latest")
    assert latest.text == "<p>new</p>" and latest.headers["cache-control"] == "no-store"
    index = client.get("/").text
    assert index.index("report-2026-12-01.html") < index.index("report-2026-11-30.html")
    assert 'href="reports/report-2026-11-30.html"' in index  # relative: works under a prefix
    assert client.get("/reports/report-2026-11-30.html").text == "<p>old</p>"


@pytest.mark.parametrize("name", ["../secret.html", "..%2Fsecret.html", "%2Fetc%2Fpasswd",
                                  "nope.html"])
def test_only_listed_reports_are_served(folder, name):
    _write(folder, "report-2026-12-01.html", "<p>new</p>")
    response = TestClient(create_app(folder)).get(f"/reports/{name}")
    assert response.status_code == 404
    assert "not a report" not in response.text


def test_the_guard_dependency_protects_every_route(folder):
    _write(folder, "report-2026-12-01.html", "<p>new</p>")

    def refuse() -> None:
        raise HTTPException(401, "log in")

    client = TestClient(create_app(folder, dependencies=[Depends(refuse)]))
    for path in ("/", "/latest", "/reports/report-2026-12-01.html"):
        assert client.get(path).status_code == 401, path


def test_the_plugin_mounts_the_app_behind_airflow_s_user_check(monkeypatch, tmp_path):
    pytest.importorskip("airflow")
    import importlib.util

    from liftline import settings

    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    spec = importlib.util.spec_from_file_location(
        "liftline_reports", settings.project_root() / "plugins" / "liftline_reports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.LiftlineReportsPlugin
    [app] = plugin.fastapi_apps
    assert app["url_prefix"] == "/liftline"
    [view] = plugin.external_views
    assert view["href"] == "liftline/latest" and not view["href"].startswith("/")
    guards = [d.dependency.__name__ for d in app["app"].router.dependencies]
    assert guards == ["get_user"]

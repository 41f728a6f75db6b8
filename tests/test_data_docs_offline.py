"""Great Expectations' Data Docs render offline: styled, tables filled, every asset loaded from the site folder."""

from __future__ import annotations

import re

import pytest
from browser import Chromium, find_chromium, non_file_requests

LOADS_REMOTE = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="https?://', re.IGNORECASE)


@pytest.fixture(scope="module")
def docs(tmp_path_factory, tiny_decoded):
    from conftest import clone_project, tiny_recipe

    project = clone_project(tiny_decoded, tmp_path_factory.mktemp("docs") / "project")  # synthesized, decoded
    recipe = tiny_recipe()
    recipe["validation"]["min_component_pixels"] = 100_000  # a warning-severity rule every mask fails
    project.write_recipe(recipe)
    project.commit("a warning every mask fails")
    result = project.synth("validate", "tiny")
    assert "Data Docs still load" not in result.stderr
    return project.root / "reports/tiny/data_docs"


def test_the_data_docs_state_the_same_verdict_as_the_report_and_card(docs):
    """One verdict: warnings fail no suite in GE's own status either, and every page names the project's verdict."""
    import json

    from validation.outcome import verdict

    validation = json.loads((docs.parent / "validation.json").read_text())
    assert validation["success"] and validation["expectations"]["warning"]["failed"] > 0
    said = verdict(True, validation["expectations"])
    assert said.startswith("passed with ") and said.endswith(" warnings")
    for page in sorted(docs.rglob("*.html")):
        assert f"tiny: validation {said} (warnings never block)" in page.read_text(encoding="utf-8"), page
    index = (docs / "index.html").read_text(encoding="utf-8")
    assert index.count("ge-success-icon") == 2 and "ge-failed-icon" not in index  # both suites, mask_quality too


def test_no_page_loads_anything_from_another_host(docs):
    pages = sorted(docs.rglob("*.html"))
    assert len(pages) >= 5  # index, two suites, two validation results
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not LOADS_REMOTE.search(html), page
        assert "integrity=" not in html  # SRI blocks scripts opened from file:// pages
    assert (docs / "static/vendor/bootstrap/bootstrap.min.css").is_file()


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian: apt-get install chromium)")
def test_every_page_renders_offline_in_chromium(docs):
    rows = "document.querySelectorAll('table tbody tr').length"
    styled = "getComputedStyle(document.querySelector('.navbar')).display"
    browser = Chromium(find_chromium())
    try:
        for page in sorted(docs.rglob("*.html")):
            visit = browser.visit(page.resolve().as_uri(), expression=f"[{rows}, {styled}]")
            assert non_file_requests(visit, allow_inline=True) == [], page
            assert visit.console_errors == [] and visit.failed == [], (page, visit.console_errors, visit.failed)
            table_rows, navbar = visit.value
            assert table_rows > 0, page  # bootstrap-table filled the tables (they stay empty without its script)
            assert navbar == "flex", page  # Bootstrap's CSS applied (unstyled, a nav is display: block)
    finally:
        browser.close()

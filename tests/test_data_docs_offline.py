"""Great Expectations' Data Docs render offline: styled, tables filled, every asset loaded from the site folder."""

from __future__ import annotations

import re

import pytest
from browser import Chromium, find_chromium, non_file_requests

LOADS_REMOTE = re.compile(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="https?://', re.IGNORECASE)


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    from conftest import copy_project, tiny_recipe

    project = copy_project(tmp_path_factory.mktemp("docs") / "project")
    project.write_recipe(tiny_recipe())
    project.use_recipes("tiny")
    project.commit("initial")
    project.synth("synthesize", "tiny", "--quiet")
    project.synth("decode", "tiny", "--quiet")
    result = project.synth("validate", "tiny")
    assert "Data Docs still load" not in result.stderr
    return project.root / "reports/tiny/data_docs"


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

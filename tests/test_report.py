"""The dataset report: a self-contained page, checked in a real headless Chromium that must make no request
outside the report folder and log no error."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from browser import find_chromium, non_file_requests, open_offline
from conftest import tiny_recipe
from PIL import Image

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium)"
)


@pytest.fixture(scope="module")
def reported(tmp_path_factory):
    """A build whose validation fails (presence threshold too high), with Unicode names, and its report."""
    from conftest import copy_project

    project = copy_project(tmp_path_factory.mktemp("report") / "project")
    recipe = tiny_recipe()
    recipe["taxonomy"]["classes"].append({"id": 4, "name": "茶碗", "color": "#911eb4"})
    recipe["taxonomy"]["classes"].append({"id": 5, "name": "Fuß", "color": "#ffe119", "parent": "wheel"})
    recipe["validation"]["min_class_presence"] = 0.6
    project.write_recipe(recipe)
    project.use_recipes("tiny")
    project.commit("initial")
    project.synth("synthesize", "tiny", "--quiet")
    project.synth("decode", "tiny", "--quiet")
    assert project.synth("validate", "tiny", check=False).returncode == 1
    project.synth("build", "tiny", "--allow-invalid")
    project.synth("report", "tiny")
    return project


def page(project) -> str:
    return (project.root / "reports/tiny/report/index.html").read_text(encoding="utf-8")


def test_report_states_version_lineage_classes_and_every_failure(reported):
    html = page(reported)
    lineage = json.loads((reported.root / "build/tiny/lineage.json").read_text())
    for value in (lineage["version"], lineage["recipe_hash"], lineage["git_commit"], lineage["content_hash"]):
        assert value in html
    assert "validation FAILED" in html
    for name in ("car", "wheel", "tree", "茶碗", "Fuß"):
        assert f">{name}<" in html
    assert html.count("<svg") == 3  # frequency vs target, pixel share, presence
    details = json.loads((reported.root / "reports/tiny/validation_details.json").read_text())
    assert details["failures"]
    for failure in details["failures"]:
        assert f"<code>{failure['expectation']}</code><br>column <code>{failure['column']}</code>" in html
    # Every seed named by a failure links to its sample on the page, and every class example to its class row.
    anchors = set(re.findall(r'id="([^"]+)"', html))
    links = re.findall(r'href="#([^"]+)"', html)
    assert any(link.startswith("fail-") for link in links) and any(link.startswith("class-") for link in links)
    assert set(links) <= anchors


def test_report_is_self_contained(reported):
    html = page(reported)
    folder = reported.root / "reports/tiny/report"
    assert "://" not in html and "@import" not in html and "<script" not in html
    references = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)
    assert references and all((folder / ref).is_file() for ref in references), references
    masks = [ref for ref in references if re.search(r"-mask-[0-9a-f]{12}\.png$", ref)]
    with Image.open(folder / masks[0]) as mask:
        assert mask.mode == "P"  # shown in colour, values still class ids


def test_a_rerun_links_the_unchanged_images_and_writes_the_same_page(reported):
    """Images are named by their pixels' hash: a re-run encodes none of them again (each is the previous file,
    linked) and the page's bytes are unchanged."""
    folder = reported.root / "reports/tiny/report"
    before_html = (folder / "index.html").read_bytes()
    before = {p.name: p.stat().st_ino for p in (folder / "img").iterdir()}
    reported.synth("report", "tiny")
    assert (folder / "index.html").read_bytes() == before_html
    assert {p.name: p.stat().st_ino for p in (folder / "img").iterdir()} == before
    assert not list(folder.parent.glob(".report.*"))  # no staging or old folder left behind


def test_report_needs_validation_results(decoded_project):
    project = decoded_project  # synthesized and decoded, never validated
    result = project.synth("report", "tiny", check=False)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "reports/tiny/validation.json: no validation results; run `synth validate tiny` first"
    )
    assert not (project.root / "reports/tiny/report").exists()


@needs_chromium
def test_report_renders_offline_in_chromium(reported, tmp_path):
    visit = open_offline(reported.root / "reports/tiny/report/index.html")
    shot = tmp_path / "report.png"
    shot.write_bytes(visit.screenshot)
    if os.environ.get("SYNTH_TEST_ARTIFACTS"):  # keep the screenshot to look at
        shutil.copy(shot, Path(os.environ["SYNTH_TEST_ARTIFACTS"]) / "report.png")
    assert non_file_requests(visit) == []
    assert visit.console_errors == [] and visit.failed == []
    assert visit.title == "tiny 1.0.0 — dataset report"
    assert any(
        re.search(r"-overlay-[0-9a-f]{12}\.png$", url) for url in visit.requests
    )  # the gallery images were loaded
    with Image.open(io.BytesIO(visit.screenshot)) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > 2000 and pixels.shape[1] == 1280  # the whole page, not a blank viewport
    colours = {tuple(c) for c in pixels[::7, ::7].reshape(-1, 3)}
    assert (0xE6, 0x19, 0x4B) in colours and (0x91, 0x1E, 0xB4) in colours  # class colours in charts and masks


@needs_chromium
def test_the_browser_check_catches_remote_requests_and_console_errors(reported, tmp_path):
    """The check above can fail: a page that fetches from a host or logs an error is caught."""
    folder = tmp_path / "bad"
    shutil.copytree(reported.root / "reports/tiny/report", folder)
    html = (folder / "index.html").read_text(encoding="utf-8")
    html = html.replace(
        "</body>", '<img src="https://cdn.example.invalid/x.png"><script>console.error("boom")</script></body>'
    )
    (folder / "index.html").write_text(html, encoding="utf-8")
    visit = open_offline(folder / "index.html")
    assert non_file_requests(visit) == ["https://cdn.example.invalid/x.png"]
    assert any("boom" in error for error in visit.console_errors)

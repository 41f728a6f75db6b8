"""Make the Great Expectations Data Docs site render offline: its assets served from the site folder.

GE's page templates load Bootstrap, jQuery, bootstrap-table, Font Awesome, Vega and the logo from CDNs and
have no setting for where assets live; offline (or in an air-gapped cluster) the pages show unstyled text and
their tables stay empty. After GE writes the site, this copies the exact versions those templates name
(``validation/data_docs_assets/vendor``, fetched from npm by ``fetch.sh`` and committed) into
``static/vendor/`` of the site and points every page at them by relative path. Subresource-integrity and CORS
attributes go too: they make a browser refuse a script opened from a ``file://`` page. Pure Python, no GE import.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "data_docs_assets" / "vendor"
VENDOR = Path("static") / "vendor"

# File under vendor/ and the CDN URL it stands for (query strings ignored): every URL GE 1.x's templates load.
# bootstrap-table 1.19.0's filter-control CSS (two rules) is served by 1.19.1's identical file.
_TABLE = """
bootstrap/bootstrap.min.css                             https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css
bootstrap/bootstrap.min.js                              https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js
jquery/jquery.min.js                                    https://code.jquery.com/jquery-3.7.1.min.js
popper/popper.min.js                                    https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js
bootstrap-table/bootstrap-table.min.css                 https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css
bootstrap-table/bootstrap-table.min.js                  https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js
bootstrap-table/bootstrap-table-filter-control.min.js   https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js
bootstrap-table/bootstrap-table-filter-control.min.css  https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css
bootstrap-table/bootstrap-table-filter-control.min.css  https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css
bootstrap-datepicker/bootstrap-datepicker.min.css       https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css
bootstrap-datepicker/bootstrap-datepicker.min.js        https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js
bootstrap-dark/bootstrap-prefers-dark.min.css           https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css
fontawesome/css/all.min.css                             https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css
vega/vega.min.js                                        https://cdn.jsdelivr.net/npm/vega@5
vega/vega-lite.min.js                                   https://cdn.jsdelivr.net/npm/vega-lite@5
vega/vega-embed.min.js                                  https://cdn.jsdelivr.net/npm/vega-embed@6
"""
URLS = {url: path for path, url in (line.split() for line in _TABLE.strip().splitlines())}
# The navbar logo comes from GE's S3 bucket with the data context id appended; the site has its own copy.
REMOTE_IMAGES = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
LOADING_ATTRIBUTE = re.compile(r'\b(src|href)="(https?://[^"]+)"')
LOCAL_STATIC = re.compile(r'\b(src|href)="((?:\.\.?/)*static/[^"]+)"')
SRI = re.compile(r'\s+(integrity="[^"]*"|crossorigin="[^"]*")')


def _local(url: str, page: Path, site: Path) -> str | None:
    bare = url.split("?", 1)[0]
    if bare in URLS:
        target = site / VENDOR / URLS[bare]
    elif bare.startswith(REMOTE_IMAGES):
        target = site / "static" / "images" / bare[len(REMOTE_IMAGES) :]
    else:
        return None
    return Path(os.path.relpath(target, page.parent)).as_posix()


def _rewrite(html: str, page: Path, site: Path, unknown: set[str]) -> str:
    def replace(match: re.Match) -> str:
        attribute, url = match.groups()
        local = _local(url, page, site)
        if local is None:
            unknown.add(url)
            return match.group(0)
        return f'{attribute}="{local}"'

    def fix_static(match: re.Match) -> str:
        # GE's favicon template counts one "../" too few on validation result pages (a 404 and a console
        # error); any static/ path that misses is pointed at the site's static/ folder.
        attribute, path = match.groups()
        if (page.parent / path).exists():
            return match.group(0)
        target = site / "static" / path.split("static/", 1)[1]
        return (
            f'{attribute}="{Path(os.path.relpath(target, page.parent)).as_posix()}"'
            if target.exists()
            else match.group(0)
        )

    def tag(match: re.Match) -> str:
        return SRI.sub("", LOCAL_STATIC.sub(fix_static, LOADING_ATTRIBUTE.sub(replace, match.group(0))))

    # Only tags that load something: <a href> stays a link (it fetches nothing until clicked).
    return re.sub(r"<(script|link|img)\b[^>]*>", tag, html)


def _with_banner(html: str, banner: str) -> str:
    """The project's one verdict at the top of a page (the report and the card say the same words)."""
    from html import escape

    div = f'<div id="synth-verdict" class="alert alert-info m-2" role="status">{escape(banner)}</div>'
    return re.sub(r"(<body\b[^>]*>)", lambda m: m.group(1) + div, html, count=1)


def make_offline(site: Path, banner: str | None = None) -> list[str]:
    """Vendor the assets into ``site`` and rewrite its pages (``banner``: a line put at the top of each); returns
    remote URLs still loaded (empty when clean)."""
    site = Path(site)
    shutil.copytree(ASSETS, site / VENDOR, dirs_exist_ok=True)
    unknown: set[str] = set()
    for page in sorted(site.rglob("*.html")):
        html = _rewrite(page.read_text(encoding="utf-8"), page, site, unknown)
        page.write_text(_with_banner(html, banner) if banner else html, encoding="utf-8")
    return sorted(unknown)

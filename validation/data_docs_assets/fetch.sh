#!/usr/bin/env bash
# Re-create vendor/ from the npm registry: the exact files the Great Expectations Data Docs templates load from
# CDNs, so the site renders offline (validation/offline_docs.py rewrites the pages to use them). Run it only to
# change a version; the result is committed. Needs npm.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packages=(bootstrap@4.3.1 jquery@3.7.1 popper.js@1.12.9 bootstrap-table@1.19.1 bootstrap-datepicker@1.9.0
          @forevolve/bootstrap-dark@1.1.0 @fortawesome/fontawesome-free@6.6.0 vega@5.33.1 vega-lite@5.23.0 vega-embed@6.29.0)
(cd "$work" && npm pack --silent "${packages[@]}" >/dev/null)
for tgz in "$work"/*.tgz; do
  name=$(basename "$tgz" .tgz); mkdir -p "$work/$name"; tar xzf "$tgz" -C "$work/$name"
done
p() { echo "$work/$1/package"; }
rm -rf vendor && mkdir -p vendor/{bootstrap,jquery,popper,bootstrap-table,bootstrap-datepicker,bootstrap-dark,fontawesome/css,fontawesome/webfonts,vega,licenses}
cp "$(p bootstrap-4.3.1)"/dist/css/bootstrap.min.css "$(p bootstrap-4.3.1)"/dist/js/bootstrap.min.js vendor/bootstrap/
cp "$(p jquery-3.7.1)"/dist/jquery.min.js vendor/jquery/
cp "$(p popper.js-1.12.9)"/dist/umd/popper.min.js vendor/popper/
cp "$(p bootstrap-table-1.19.1)"/dist/bootstrap-table.min.{css,js} vendor/bootstrap-table/
cp "$(p bootstrap-table-1.19.1)"/dist/extensions/filter-control/bootstrap-table-filter-control.min.{css,js} vendor/bootstrap-table/
cp "$(p bootstrap-datepicker-1.9.0)"/dist/js/bootstrap-datepicker.min.js "$(p bootstrap-datepicker-1.9.0)"/dist/css/bootstrap-datepicker.min.css vendor/bootstrap-datepicker/
cp "$(p forevolve-bootstrap-dark-1.1.0)"/dist/css/bootstrap-prefers-dark.min.css vendor/bootstrap-dark/
cp "$(p fortawesome-fontawesome-free-6.6.0)"/css/all.min.css vendor/fontawesome/css/
cp "$(p fortawesome-fontawesome-free-6.6.0)"/webfonts/*.woff2 vendor/fontawesome/webfonts/
cp "$(p vega-5.33.1)"/build/vega.min.js "$(p vega-lite-5.23.0)"/build/vega-lite.min.js "$(p vega-embed-6.29.0)"/build/vega-embed.min.js vendor/vega/
for name in bootstrap-4.3.1 jquery-3.7.1 popper.js-1.12.9 bootstrap-table-1.19.1 bootstrap-datepicker-1.9.0 \
            forevolve-bootstrap-dark-1.1.0 fortawesome-fontawesome-free-6.6.0 vega-5.33.1 vega-lite-5.23.0 vega-embed-6.29.0; do
  for f in LICENSE LICENSE.txt LICENSE.md; do
    [ -f "$(p $name)/$f" ] && cp "$(p $name)/$f" "vendor/licenses/$name.txt" && break
  done
done

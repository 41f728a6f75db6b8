#!/usr/bin/env bash
# The recipe review of a pull request, as .github/workflows/review.yml runs it (tests/test_review_workflow.py runs
# it too). For every recipe the change touches, build the same preview seeds for the base and for the head (the
# first SAMPLES seeds, `synth synthesize --limit`, each side with its own code), then write the review with
# `synth review --base-root` and collect what the workflow uploads: OUT/review.md and OUT/NAME/review.png.
#
# usage: review.sh BASE_REV OUT_DIR [SAMPLES]
set -euo pipefail

base=${1:?usage: review.sh BASE_REV OUT_DIR [SAMPLES]}
out=${2:?usage: review.sh BASE_REV OUT_DIR [SAMPLES]}
samples=${3:-64}
python=${PYTHON:-python}

root=$(git rev-parse --show-toplevel)
cd "$root"
mkdir -p "$out"
out=$(cd "$out" && pwd)
scratch=$(mktemp -d)
base_dir="$scratch/base"
cleanup() {
  git worktree remove --force "$base_dir" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT

git worktree add --quiet --detach "$base_dir" "$base"

# Build one recipe's preview subset in a checkout; a failure is reported and the review says that side has no data.
build_subset() {
  local dir=$1 name=$2
  (
    cd "$dir"
    "$python" -m synth synthesize "$name" --limit "$samples" --quiet &&
      "$python" -m synth train-decoder "$name" --quiet &&
      "$python" -m synth decode "$name" --quiet
  ) || echo "::warning::review: could not build the preview subset of $name in $dir"
}

git diff --name-only "$base" -- recipes/ | { grep -E '\.ya?ml$' || true; } | while read -r path; do
  name=$(basename "${path%.*}")
  [ -f "$path" ] && build_subset "$root" "$name"
  [ -f "$base_dir/$path" ] && build_subset "$base_dir" "$name"
  true
done

"$python" -m synth review --base "$base" --base-root "$base_dir" --output "$out/review.md"
for image in reports/*/review.png; do
  [ -f "$image" ] || continue
  name=$(basename "$(dirname "$image")")
  mkdir -p "$out/$name"
  cp "$image" "$out/$name/review.png"
done

#!/usr/bin/env bash
# Post the review as one pull-request comment (updated on each push, like CML's `cml comment update`) and as the
# job summary, with links to the workflow artifact that holds the images and the report.
#
# usage: review-comment.sh REVIEW_MD
# env:   PR (number), ARTIFACT_URL, RUN_URL, GH_TOKEN (for gh); GITHUB_STEP_SUMMARY if set
set -euo pipefail

review=${1:?usage: review-comment.sh REVIEW_MD}
: "${PR:?PR: the pull request number}"
body=$(mktemp)
trap 'rm -f "$body"' EXIT

limit=60000  # GitHub refuses comments over 65536 characters
{
  if [ "$(wc -c <"$review")" -gt "$limit" ]; then
    head -c "$limit" "$review"
    printf '\n\n_The review is longer than a comment allows: the rest is in the artifact._\n'
  else
    cat "$review"
  fi
  printf '\n---\n'
  echo "Images (\`NAME/review.png\`: the same seeds, before | after) and the full report:" \
    "[artifact \`recipe-review\`](${ARTIFACT_URL:-${RUN_URL:-}}) of [this run](${RUN_URL:-})."
} >"$body"

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$body" >>"$GITHUB_STEP_SUMMARY"
fi
# A pull request from a fork gets a read-only token: the comment fails there, the summary and artifact remain.
gh pr comment "$PR" --edit-last --body-file "$body" 2>/dev/null || gh pr comment "$PR" --body-file "$body"

#!/usr/bin/env bash
# Builds the zip to upload to Gradescope: setup.sh and run_autograder at the root of the
# archive (Gradescope's requirement), the grader package and pyproject.toml beside them.
# Real datasets, when present in ./datasets/cifar-10-batches-py, go in too.
# Usage: bash ci/build_autograder_zip.sh [OUT.zip]   (default: out/autograder.zip)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-out/autograder.zip}"
mkdir -p "$(dirname "$out")"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp ci/setup.sh ci/run_autograder "$stage/"
cp -r grader pyproject.toml README.md "$stage/"
[ -d datasets/cifar-10-batches-py ] && cp -r datasets "$stage/"
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
rm -f "$out"
python3 - "$stage" "$out" <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], os.path.abspath(sys.argv[2])
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
    for root, _, files in os.walk(stage):
        for name in files:
            path = os.path.join(root, name)
            info = zipfile.ZipInfo.from_file(path, os.path.relpath(path, stage))
            with open(path, "rb") as fh:
                zf.writestr(info, fh.read())
print(out)
PY

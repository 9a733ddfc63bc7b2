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
# Install the real ROS 2 Jazzy launch (launch, launch_xml, launch_yaml, launch_ros) into the
# project's venv, from the sources in ../shared/ros2-launch-jazzy, so the conformance tests can
# compare `aloe launch` with it (test/launch/test_real_launch_conformance.py). CI runs this from
# .ci/run; a machine without that folder skips it and the tests say they are skipped.
# launch_testing/launch_pytest go into .launch-pytest/ (pip --target) with pytest 8.3.5, not into the
# venv: their pytest plugins need pytest < 9 and would load into every pytest run of the venv.
# test/launch/test_launch_pytest.py runs its launch test with PYTHONPATH=.launch-pytest.
# Idempotent (stamp file). Environment: ALOE_JAZZY_LAUNCH_SRC (default ../shared/ros2-launch-jazzy),
# ALOE_VENV (default .venv). Run after scripts/setup.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ALOE_VENV:-$ROOT/.venv}"
SRC="${ALOE_JAZZY_LAUNCH_SRC:-$ROOT/../shared/ros2-launch-jazzy}"
cd "$ROOT"

say() { printf '\033[1m[jazzy launch]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[jazzy launch] error:\033[0m %s\n' "$*" >&2; exit 1; }

if [ ! -d "$SRC/launch_ros" ]; then
    say "no Jazzy launch sources at $SRC: skipped (the real-launch conformance tests will be skipped)"
    exit 0
fi
[ -x "$VENV/bin/python" ] || die "$VENV missing: run scripts/setup.sh first"
[ -f install/setup.bash ] || die "install/ missing: run scripts/setup.sh first"

STAMP="$VENV/.aloe-jazzy-launch.sha256"
HASH="$( (cat requirements/jazzy-launch.txt scripts/install_jazzy_launch.sh; \
          find "$SRC" -type f -name '*.py' -o -type f -name '*.xml' -o -type f -name '*.lark' -o -type f -name '*.srv' \
          | sort | xargs sha256sum | cut -d' ' -f1) | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null)" = "$HASH" ] && [ -d install/composition_interfaces ] \
        && [ -d .launch-pytest/launch_pytest ]; then
    say "up to date"
    exit 0
fi

# setuptools writes build/ and *.egg-info beside setup.py, and CI's shared/ is read-only.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp -r "$SRC"/. "$WORK/"
say "installing launch, launch_xml, launch_yaml, launch_ros into $VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r requirements/jazzy-launch.txt \
    2> >(grep -v "^WARNING: Location" >&2)
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation \
    "$WORK/launch" "$WORK/launch_xml" "$WORK/launch_yaml" "$WORK/launch_ros" \
    2> >(grep -v "^WARNING: Location" >&2)

say "installing pytest 8.3.5, launch_testing, launch_pytest into .launch-pytest/"
rm -rf .launch-pytest
"$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation \
    --target .launch-pytest pytest==8.3.5 "$WORK/launch_testing" "$WORK/launch_pytest" \
    2> >(grep -v "^WARNING: Location" >&2)

say "building composition_interfaces (launch_ros imports it) into install/ (log: log/colcon-jazzy-launch.txt)"
mkdir -p log
# The sources are copied to a new temporary directory on each run: a CMake cache left by an
# earlier run names the old one ("source directory ... does not exist"), so start afresh.
rm -rf build/composition_interfaces
set +e
(
    # shellcheck disable=SC1091
    . "$VENV/bin/activate"
    export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV"
    unset COLCON_PREFIX_PATH
    colcon --log-base log build --base-paths "$WORK/composition_interfaces" \
        --build-base build --install-base install --event-handlers console_cohesion- status- \
        --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VENV/bin/python"
) > log/colcon-jazzy-launch.txt 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
    grep -E "Failed|error|Error|Could not find" log/colcon-jazzy-launch.txt | head -20 >&2
    die "colcon build of composition_interfaces failed (exit $rc); see log/colcon-jazzy-launch.txt"
fi
echo "$HASH" > "$STAMP"
say "ready"

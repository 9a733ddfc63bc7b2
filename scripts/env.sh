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
# Source this after scripts/setup.sh: activates the venv and the colcon install space.
# Usage: . scripts/env.sh
_ALOE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
_ALOE_VENV="${ALOE_VENV:-$_ALOE_ROOT/.venv}"
if [ ! -f "$_ALOE_ROOT/install/setup.bash" ]; then
    echo "[aloe env] install/ missing: run scripts/setup.sh first" >&2
    return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
. "$_ALOE_VENV/bin/activate"
export AMENT_PREFIX_PATH="$_ALOE_VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
case $- in *u*) _aloe_had_u=1; set +u;; *) _aloe_had_u=0;; esac
# shellcheck disable=SC1091
. "$_ALOE_ROOT/install/setup.bash"
[ "$_aloe_had_u" = 1 ] && set -u
export MUJOCO_GL="${MUJOCO_GL:-egl}"
export HF_HUB_OFFLINE=1
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Camera frames between processes need a shared-memory segment that holds them (Fast DDS's default
# is smaller than one 480x640 frame); a profile you already set is kept. 2.x and 3.x names.
# With the shipped profile rmw_fastrtps also takes its DDS memory policies (readers free the buffer
# of an oversized message) from it: RMW_FASTRTPS_USE_QOS_FROM_XML=1, unless you set it.
if [ -z "${FASTRTPS_DEFAULT_PROFILES_FILE:-}" ]; then
    export RMW_FASTRTPS_USE_QOS_FROM_XML="${RMW_FASTRTPS_USE_QOS_FROM_XML:-1}"
fi
export FASTRTPS_DEFAULT_PROFILES_FILE="${FASTRTPS_DEFAULT_PROFILES_FILE:-$_ALOE_ROOT/config/dds/fastdds_large_data.xml}"
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$FASTRTPS_DEFAULT_PROFILES_FILE}"
export PATH="$_ALOE_ROOT/install/aloe_ros/lib/aloe_ros:$PATH"
unset _ALOE_ROOT _ALOE_VENV _aloe_had_u

#!/usr/bin/env bash
# Installs what Vernier needs from Debian 12's repositories (only what is
# missing), then configures and builds it incrementally in ./build.
#
#   scripts/setup.sh            # everything
#   VERNIER_BUILD_DIR=out scripts/setup.sh
#   VERNIER_WERROR=ON scripts/setup.sh   # warnings are errors (scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config python3 clang-format git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev libgtest-dev libgmock-dev libtorch-dev
  nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libeigen3-dev zlib1g-dev docker-compose python3-yaml
  clang libclang-rt-14-dev clang-tidy openssl
  python3-grpcio python3-protobuf python3-pytest python3-pandas python3-optuna python3-venv
  python3-setuptools python3-wheel python3-torch
  dataset-fashion-mnist
  prometheus-cpp-dev prometheus
)
# The dashboard: its HTTP server, the real browser and driver its tests use.
PACKAGES+=(libcpp-httplib-dev chromium chromium-driver python3-selenium)
# Node.js and npm fetch the dashboard's front-end libraries (npm ci below);
# any installed Node.js will do, else Debian's.
if ! command -v npm >/dev/null; then PACKAGES+=(nodejs npm); fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The example corpora that are not Debian data packages (SpamAssassin, two
# scikit-learn tables), outside the repository; a failure (offline) only
# leaves those examples unavailable.
if [[ ${VERNIER_FETCH_DATA:-1} != 0 ]]; then
  scripts/fetch-data.sh || echo "setup: scripts/fetch-data.sh failed; the text and tabular examples need it" >&2
fi

# The dashboard's front-end libraries, as client/dashboard/web/package-lock.json
# pins them (the build compiles them into vernier); again only when the lock
# file changed since.
web=client/dashboard/web
if [[ ! -f $web/node_modules/.package-lock.json || $web/package-lock.json -nt $web/node_modules/.package-lock.json ]]; then
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi

BUILD_DIR=${VERNIER_BUILD_DIR:-build}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DVERNIER_WERROR="${VERNIER_WERROR:-OFF}"
elif [[ -n ${VERNIER_WERROR:-} ]]; then
  cmake "$BUILD_DIR" -DVERNIER_WERROR="$VERNIER_WERROR" >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"

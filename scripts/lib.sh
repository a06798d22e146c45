# Shared by scripts/test, scripts/demo and scripts/bench: Debian 12 packages and the CMake build.
# Sourced, not run.

# Every Debian package the build, the tests and the demo use. Installed only when missing.
PROMOTER_PACKAGES=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  libboost-dev libboost-system-dev libssl-dev libpqxx-dev libfmt-dev libtomlplusplus-dev
  prometheus-cpp-dev doctest-dev nlohmann-json3-dev libsystemd-dev libicu-dev
  libhowardhinnant-date-dev  # the IANA time zone database (freeze windows), read from the system tzdata
  postgresql-15 postgresql-common postgresql-client-15
  openssl
  dpkg-dev  # scripts/package: CPack computes the .deb's Depends with dpkg-shlibdeps
  prometheus
  clang-16 libclang-rt-16-dev  # scripts/fuzz: libFuzzer harnesses
  clang-format  # (14) the format test: .clang-format, checked on every test run
  chromium  # the console_browser test drives the web console in it (puppeteer-core, tests/browser)
)

install_packages() {
  local missing=()
  for p in "${PROMOTER_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Node.js may come from elsewhere with its own npm (Debian's npm package would then conflict): ask
  # for the commands, not the packages.
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  if ((${#missing[@]})); then
    echo "==> installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# pnpm runs the migration step (`pnpm db:migrate`) and tests/fixtures/migrate-app; Debian has no
# package of it, so it comes from the npm registry. 9.x supports the Node.js 18+ the machine has.
PROMOTER_PNPM_VERSION=9.15.9

install_pnpm() {
  command -v pnpm >/dev/null && return 0
  echo "==> installing pnpm@$PROMOTER_PNPM_VERSION (npm install -g)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo npm install -g "pnpm@$PROMOTER_PNPM_VERSION" --no-audit --no-fund --loglevel=error
  command -v pnpm >/dev/null || {
    echo "pnpm was installed but is not on PATH ($(npm prefix -g)/bin): add that directory to PATH" >&2
    return 1
  }
}

# build DIR [cmake options...]: configure once, then build everything.
build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

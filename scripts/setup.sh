#!/usr/bin/env bash
# Installs the system tools the interop and e2e tests need (Kamailio with its WebSocket, presence and XML
# modules, SIPp, Chromium, baresip) when any is missing. Idempotent: when everything is present it only
# checks (no apt-get update, well under a second) and prints one line.
set -euo pipefail

# Packages installed with their recommends, and the one installed without them (the `baresip` metapackage
# drags in GTK/X11/ffmpeg; baresip-core is enough for a headless peer).
PACKAGES=(kamailio kamailio-websocket-modules kamailio-presence-modules kamailio-xml-modules sip-tester chromium)
NO_RECOMMENDS=(baresip-core)

missing=()
missing_no_recommends=()

# A package counts as present when dpkg says it is installed and the file the tests rely on exists.
have_package() {
  local pkg=$1
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'
}
have_module() {
  # Kamailio modules live under /usr/lib/<multiarch>/kamailio/modules/.
  compgen -G "/usr/lib/*/kamailio/modules/$1" >/dev/null || compgen -G "/usr/lib/kamailio/modules/$1" >/dev/null
}

check() {
  local pkg=$1
  case "$pkg" in
    kamailio) command -v kamailio >/dev/null && command -v kamcmd >/dev/null && have_module xhttp.so && have_module msrp.so ;;
    kamailio-websocket-modules) have_module websocket.so ;;
    kamailio-presence-modules) have_module presence.so ;;
    kamailio-xml-modules) have_package kamailio-xml-modules ;;
    sip-tester) command -v sipp >/dev/null ;;
    chromium) command -v chromium >/dev/null ;;
    baresip-core) command -v baresip >/dev/null ;;
    *) have_package "$pkg" ;;
  esac
}

for pkg in "${PACKAGES[@]}"; do check "$pkg" || missing+=("$pkg"); done
for pkg in "${NO_RECOMMENDS[@]}"; do check "$pkg" || missing_no_recommends+=("$pkg"); done

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_no_recommends[@]} -eq 0 ]; then
  echo "setup: all test tools present (${PACKAGES[*]} ${NO_RECOMMENDS[*]}); nothing to do"
  exit 0
fi

commands=()
[ ${#missing[@]} -gt 0 ] && commands+=("apt-get install -y ${missing[*]}")
[ ${#missing_no_recommends[@]} -gt 0 ] && commands+=("apt-get install -y --no-install-recommends ${missing_no_recommends[*]}")

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing test tools: ${missing[*]} ${missing_no_recommends[*]}" >&2
  echo "setup: run as root:" >&2
  echo "  apt-get update" >&2
  for c in "${commands[@]}"; do echo "  DEBIAN_FRONTEND=noninteractive $c" >&2; done
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp -t setup-apt.XXXXXX.log)
run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "setup: '$*' failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}
run apt-get update
[ ${#missing[@]} -gt 0 ] && run apt-get install -y "${missing[@]}"
[ ${#missing_no_recommends[@]} -gt 0 ] && run apt-get install -y --no-install-recommends "${missing_no_recommends[@]}"

# Verify: every check must pass now.
still=()
for pkg in "${PACKAGES[@]}" "${NO_RECOMMENDS[@]}"; do check "$pkg" || still+=("$pkg"); done
if [ ${#still[@]} -gt 0 ]; then
  echo "setup: installed packages but still missing: ${still[*]} (apt log: $log)" >&2
  exit 1
fi
rm -f "$log"
echo "setup: installed ${missing[*]} ${missing_no_recommends[*]}"

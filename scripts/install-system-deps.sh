#!/usr/bin/env bash
# Debian packages the tests need: PostgreSQL (integration tests), Chromium (browser tests),
# ClamAV's clamd (virus scan of uploads, with a test signature only),
# fonts and Pango (PDF notices), poppler-utils (PDF checks). Installs them when run as root;
# otherwise prints the exact command.
set -euo pipefail
PACKAGES=(postgresql chromium chromium-l10n fonts-liberation2 fonts-dejavu-core poppler-utils clamav-daemon
          libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  echo "Installing Debian packages for the tests: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "The tests need these Debian packages: ${missing[*]}"
  echo "Install them with:  sudo sh -c '$cmd'"
  exit 1
fi

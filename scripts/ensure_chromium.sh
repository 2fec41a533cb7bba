#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (tests/test_browser.py) when it is missing.
# Playwright drives this system browser (executable_path); `playwright install` is never used.
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
  echo "Installing Debian's chromium for the browser test..."
  $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || echo "WARNING: could not install chromium; the browser test will be skipped with a reason."
else
  echo "WARNING: no apt-get; install Chromium yourself for the browser test."
fi
exit 0

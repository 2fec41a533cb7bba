#!/usr/bin/env bash
# Installs Debian's Chromium and the Noto CJK and emoji fonts for the browser test (tests/test_browser.py) when missing.
# Playwright drives this system browser (started by the test, attached over CDP);
# `playwright install` is never used (it downloads browsers from a CDN).
# Always exits 0: without Chromium the browser test is skipped with the reason, except under
# CI=true, where it fails (so a CI machine without a browser cannot pass silently).
set -u
have_chromium() {
  local exe
  for exe in "${FLDP_CHROMIUM:-}" /usr/bin/chromium "$(command -v chromium 2>/dev/null)" \
             "$(command -v chromium-browser 2>/dev/null)"; do
    if [ -n "$exe" ] && [ -x "$exe" ] && "$exe" --version >/dev/null 2>&1; then
      echo "browser test will use: $("$exe" --version 2>/dev/null) ($exe)"
      return 0
    fi
  done
  return 1
}
have_fonts() {  # the course quotes Chinese: without a CJK font the browser shows empty boxes
  command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"
}
packages=""
have_chromium || packages="chromium"
have_fonts || packages="$packages fonts-noto-cjk fonts-noto-color-emoji"
[ -z "$packages" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "WARNING: no apt-get; install Chromium yourself (or set FLDP_CHROMIUM) for the browser test."
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "WARNING: not root and no password-less sudo: cannot install chromium; the browser test will be skipped."
    exit 0
  fi
fi
echo "Installing for the browser test: apt-get install$packages ..."
log="$(mktemp)"
if $SUDO apt-get update -q >"$log" 2>&1 \
   && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages >>"$log" 2>&1 \
   && have_chromium; then
  have_fonts || echo "WARNING: no Noto CJK font after the install: Chinese text will show as boxes in screenshots."
  rm -f "$log"
else
  echo "WARNING: could not install$packages; the browser test will be skipped (it fails under CI=true). apt output:"
  tail -n 15 "$log"
  rm -f "$log"
fi
exit 0

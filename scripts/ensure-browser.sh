#!/bin/sh
# The browser tests drive Debian's Chromium (never a browser downloaded by Playwright) and need a
# CJK font to render Chinese. Install both when missing and we are allowed to; otherwise say how.
if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy"; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium and fonts-wqy-microhei for the browser tests..."
  apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null && exit 0
fi
echo "NOTE: /usr/bin/chromium or a CJK font is missing; the browser tests will be skipped." >&2
echo "      Install them with: sudo apt-get install chromium fonts-wqy-microhei" >&2
exit 0

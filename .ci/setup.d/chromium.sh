# Sourced by .ci/run: the browser test of the review page (test/integration/serve-browser.test.ts) drives
# Debian's chromium through playwright-core. Install it when it is missing.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium for the browser test"
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && apt-get install -y -qq chromium
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq chromium
  fi
fi
export FLOWWRIGHT_CHROMIUM=/usr/bin/chromium

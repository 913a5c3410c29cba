# Sourced by .ci/run: the real hubble CLI (v1.19.4), which test/integration/hubble-cli.test.ts uses as a
# client of `flowwright replay`. It is built from the Go module proxy once and cached in
# ~/.cache/flowwright/hubble-1.19.4 (recipe in test/hubble/cli.mjs and the README's development section).
# A cold build takes minutes, so it runs in the background while lint and the other tests go on; the
# hubble tests wait for it. FLOWWRIGHT_REQUIRE_HUBBLE=1 makes them fail instead of skipping when the CLI
# cannot be built.
export FLOWWRIGHT_REQUIRE_HUBBLE=1
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
if ! command -v go >/dev/null 2>&1; then
  # Debian's Go fetches the newer toolchain the module asks for from the Go module proxy (GOTOOLCHAIN=auto).
  echo "installing go for the hubble CLI"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq golang-go; else sudo apt-get update -qq && sudo apt-get install -y -qq golang-go; fi
fi
node test/hubble/cli.mjs build --background

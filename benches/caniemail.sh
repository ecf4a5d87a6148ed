#!/usr/bin/env bash
# Email-client support, side by side: almanac's email against an MJML build
# of the same newsletter, both judged by caniemail.com's data.
#
#   benches/caniemail.sh [ISSUE]            (default 2026-11-25-midweek)
#   CLIENTS='gmail.*,outlook.*' EXTRA_CLIENTS= benches/caniemail.sh
#
# 1. Installs mjml, @jsx-email/doiuse-email, smol-toml and marked (exact
#    versions from benches/caniemail/package.json) into target/caniemail/
#    with the machine's npm; nothing is installed in the work tree.
# 2. Builds the issue with almanac (release build), and writes an MJML
#    document of the same issue from the same files
#    (benches/caniemail/newsletter-mjml.js), compiled with mjml's defaults.
#    A minimal MJML document (one mj-text) is compiled too, to show what
#    MJML's boilerplate alone uses; it is shown, not judged.
# 3. Lints the files with doiuse-email for Gmail (web and apps), Outlook for
#    Windows (outlook.windows, outlook.windows-mail) and Outlook.com, Apple
#    Mail (macOS, iOS), Yahoo and Samsung Email, and prints the number of
#    distinct unsupported (error) and partially supported (warning) features
#    of each, the lists, and the features almanac uses that caniemail marks
#    unsupported in Outlook for Windows.
# 4. Exits 1 unless almanac uses fewer unsupported features than MJML.
#
# Outlook.com (outlook.outlook-com) is in the caniemail data doiuse-email
# bundles but not in its list of client names; EXTRA_CLIENTS adds it to the
# check (same code, same data). Set EXTRA_CLIENTS= to leave it out.
# The files are kept in target/caniemail/<ISSUE>/ for a look afterwards.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ISSUE="${1:-2026-11-25-midweek}"
CLIENTS="${CLIENTS:-gmail.*,outlook.windows,outlook.windows-mail,apple-mail.*,yahoo.*,samsung-email.*}"
EXTRA_CLIENTS="${EXTRA_CLIENTS-outlook.outlook-com}"
HERE="$ROOT/benches/caniemail"
DEPS="$ROOT/target/caniemail"
WORK="$DEPS/$ISSUE"

for tool in node npm cargo; do
  command -v "$tool" > /dev/null || { echo "benches/caniemail.sh needs $tool" >&2; exit 2; }
done

# 1. Tools, reinstalled only when the pinned versions change.
mkdir -p "$DEPS" "$WORK"
if ! cmp -s "$HERE/package.json" "$DEPS/package.json" || [ ! -d "$DEPS/node_modules/mjml" ] \
  || [ ! -d "$DEPS/node_modules/@jsx-email/doiuse-email" ]; then
  echo "installing mjml and doiuse-email into target/caniemail/ ..." >&2
  cp "$HERE/package.json" "$DEPS/package.json"
  (cd "$DEPS" && npm install --no-audit --no-fund --loglevel=error >&2)
fi
export NODE_PATH="$DEPS/node_modules"
MJML_VERSION="$(node -p 'require("mjml/package.json").version')"

# 2. Both builds.
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
(cd "$ROOT" && ./target/release/almanac build "$ISSUE" >&2)
cp "$ROOT/out/$ISSUE/email.html" "$WORK/almanac.html"

node "$HERE/newsletter-mjml.js" "$ROOT" "$ISSUE" > "$WORK/newsletter.mjml"
node "$HERE/compile-mjml.js" "$WORK/newsletter.mjml" "$WORK/mjml.html"
printf '%s\n' '<mjml><mj-body><mj-section><mj-column><mj-text>Hello</mj-text></mj-column></mj-section></mj-body></mjml>' \
  > "$WORK/boilerplate.mjml"
node "$HERE/compile-mjml.js" "$WORK/boilerplate.mjml" "$WORK/mjml-boilerplate.html"

# 3 and 4.
echo "issue $ISSUE: almanac $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?'), mjml $MJML_VERSION"
node "$HERE/compare.js" --clients "$CLIENTS" --extra "$EXTRA_CLIENTS" --info "mjml $MJML_VERSION" \
  "almanac=$WORK/almanac.html" "mjml=$WORK/mjml.html" "mjml-boilerplate=$WORK/mjml-boilerplate.html"

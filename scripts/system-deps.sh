#!/usr/bin/env bash
# Debian packages portal-archive uses outside Python: Tesseract with its Vietnamese model
# (OCR of scanned attachments), antiword and catdoc (.doc files); with --with-browser also
# Chromium, which the web application's tests drive headless (make test); with --with-redis
# the Redis server that distributed crawls share their frontier in (docs/distributed.md;
# the tests start their own, without persistence); with --with-postgres also PostgreSQL,
# whose binaries the tests start a throwaway server with (tests/pg.py; make test-pg).
# Installs only what is missing; needs root or sudo. Without them OCR and .doc text are
# skipped, not broken.
set -euo pipefail
need=()
command -v tesseract >/dev/null || need+=(tesseract-ocr)
[ -e /usr/share/tesseract-ocr/5/tessdata/vie.traineddata ] || [ -e /usr/share/tesseract-ocr/4.00/tessdata/vie.traineddata ] || need+=(tesseract-ocr-vie)
command -v antiword >/dev/null || need+=(antiword)
command -v catdoc >/dev/null || need+=(catdoc)
for option in "$@"; do
  case "$option" in
    --with-browser) command -v chromium >/dev/null || need+=(chromium fonts-noto-core) ;;
    --with-redis) command -v redis-server >/dev/null || need+=(redis-server) ;;
    --with-postgres)
      compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql postgresql-contrib) ;;
    *)
      echo "system-deps: unknown option $option (--with-browser, --with-redis, --with-postgres)" >&2; exit 2 ;;
  esac
done
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "system-deps: missing ${need[*]} and not root: OCR/.doc tests will be skipped" >&2
    exit 0
  fi
fi
echo "system-deps: installing ${need[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

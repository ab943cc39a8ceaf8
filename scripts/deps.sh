#!/bin/sh
# Installs the Debian packages the suite needs (DESIGN.md §2) that are missing. Called by
# `make deps`. Fast and silent-ish when everything is present: one dpkg-query, no apt-get.
set -eu

PACKAGES="libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler libpq-dev postgresql
postgresql-contrib postgresql-client libcurl4-openssl-dev libyaml-dev libmicrohttpd-dev
libjansson-dev libcmocka-dev libsodium-dev libxlsxwriter-dev libsystemd-dev python3-aiosmtpd
libphonenumber-dev libicu-dev libssl-dev openssl libjemalloc-dev pkg-config clang libclang-rt-14-dev python3-zmq python3-protobuf
libgmime-3.0-dev
protobuf-compiler gcc g++ make unzip"

# Print the packages of $PACKAGES that are not fully installed ("ii"). dpkg-query prints
# nothing for a package it has never heard of, so it is asked for the name too.
missing_packages() {
    # shellcheck disable=SC2086
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PACKAGES 2>/dev/null \
        | awk 'substr($1, 2, 1) == "i" && length($1) == 2 { printf " %s", $2 }') || true
    for pkg in $PACKAGES; do
        case "$installed " in
            *" $pkg "*) ;;
            *) printf '%s ' "$pkg" ;;
        esac
    done
}

# shellcheck disable=SC2086,SC2116
PACKAGES=$(echo $PACKAGES)  # one line

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: could not check packages: dpkg-query not found" >&2
    echo "hint: this script expects Debian 12; install by hand: $PACKAGES" >&2
    exit 1
fi

missing=$(missing_packages)
missing=${missing% }
if [ -z "$missing" ]; then
    # shellcheck disable=SC2086
    echo "deps: all $(set -- $PACKAGES; echo $#) packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
else
    echo "deps: missing packages: $missing" >&2
    echo "detail: not root and sudo is not available without a password" >&2
    echo "hint: as root, run: apt-get update &&" \
        "apt-get install -y --no-install-recommends $missing" >&2
    exit 1
fi

echo "deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
    || ! $as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends $missing >/dev/null; then
    echo "deps: could not install packages: $missing" >&2
    echo "hint: run: ${as_root:+$as_root }apt-get update &&" \
        "${as_root:+$as_root }apt-get install -y --no-install-recommends $missing" >&2
    exit 1
fi

still=$(missing_packages)
still=${still% }
if [ -n "$still" ]; then
    echo "deps: packages still missing after install: $still" >&2
    echo "hint: run: apt-get install -y --no-install-recommends $still" >&2
    exit 1
fi
echo "deps: installed $missing"

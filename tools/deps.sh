#!/bin/bash
# SPDX-License-Identifier: MIT
# deps.sh PKG... - make sure these Debian packages are installed.
# Idempotent: installs only what is missing, with apt-get when root;
# otherwise prints the exact command to run and fails.
set -euo pipefail

missing=()
for pkg in "$@"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "libgreen: missing Debian packages: ${missing[*]}" >&2
	echo "run as root:  apt-get update && $cmd" >&2
	exit 1
fi
echo "libgreen: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
$cmd -qq

#!/bin/bash
# SPDX-License-Identifier: MIT
# run.sh BUILD - install into a scratch DESTDIR, then build the README's
# example with nothing but pkg-config, statically and shared, and run it.
# Prints TAP.
set -euo pipefail
build=$1
dest=$PWD/$build/destdir
prefix=/usr/local
rm -rf "$dest"
make -s install DESTDIR="$dest" PREFIX="$prefix" >/dev/null
export PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_PATH=$dest$prefix/lib/pkgconfig
echo "1..4"
n=0
check() {
	n=$((n + 1))
	if "$@" >/dev/null 2>&1; then echo "ok $n $desc"; else echo "not ok $n $desc"; fail=1; fi
}
fail=0
desc="pkg-config finds libgreen"; check pkg-config --exists libgreen
cflags=$(pkg-config --cflags libgreen)
libs=$(pkg-config --libs libgreen)
desc="README example links against the shared library"
check cc tests/install/hello.c $cflags $libs -o "$build/hello-shared"
desc="and prints ten hellos"
check bash -c "[ \$(LD_LIBRARY_PATH=$dest$prefix/lib $build/hello-shared | grep -c '^hello from task') -eq 10 ]"
desc="libgreen.so exports only green_* symbols"
check bash -c "! nm -D --defined-only $dest$prefix/lib/libgreen.so | awk '{print \$3}' | grep -v '^green_' | grep -v '^LIBGREEN_' | grep ."
exit $fail

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmtest.sh - build green.ko against Debian's 6.1 headers, boot Debian's 6.1
# kernel under QEMU with a busybox initramfs, load the module, run the
# selftests (and any extra test programs), check dmesg, unload the module.
#
# usage: tools/vm/vmtest.sh [options]
#   --extra DIR      copy DIR into the VM and run every executable in it
#                    (top level, sorted) after the selftests; TAP output is
#                    checked like the selftests'.  Repeatable.
#   --bench          also run green_bench (prints BENCH lines)
#   --bench-dir DIR  copy DIR into the VM and run every executable in it in
#                    the benchmark phase (output printed, rc must be 0).
#   --env K=V        export K=V inside the VM (repeatable), e.g.
#                    GREEN_STRESS_SCALE=1
#   --only NAME      run only selftest NAME (repeatable)
#   --kvm            use KVM instead of TCG
#   --timeout SEC    whole-VM timeout (default 900); VMTEST_STALL=SEC: no
#                    console output for that long (default 150) = stalled:
#                    the vCPUs' registers are dumped and the run fails
#   --kdir DIR       kernel build dir (default /lib/modules/6.1.*-amd64/build)
#   --kernel FILE    kernel image (default /boot/vmlinuz-<same version>)
#   --out DIR        work dir (default build/vm)
#   --no-build       use already built module and selftests
#   --kcflags FLAGS  extra compiler flags for green.ko (KCFLAGS), e.g.
#                    -DGREEN_FAULT_INJECT (tests/vmdebug/broken.sh)
#   --modparam P     module parameter for insmod, e.g. inject_uaf=1
#                    (repeatable)
#   --append ARGS    added to the kernel command line, e.g. loglevel=5
#                    (later settings win over the defaults)
#
# Exit: 0 all passed; 1 any "not ok", failed program, missing result, kernel
# splat, failed insmod/rmmod or VM timeout; 3 the guest stalled (log kept
# as serial-stalled.log); 77 QEMU cannot run at all.
# Env: KSFT_DIR (kselftest headers, see tests/selftests/Makefile), QEMU.

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$ROOT/build/vm
EXTRA=()
BENCHDIRS=()
ENVS=()
ONLY=()
BENCH=0
ACCEL=tcg
TIMEOUT=900
STALL=${VMTEST_STALL:-150}	# seconds without console output = stalled
KDIR=
KERNEL=
BUILD=1
KCFLAGS=
MODPARAMS=()
APPEND=

die() { echo "vmtest: $*" >&2; exit 1; }
skip() { echo "vmtest: SKIP: $*" >&2; exit 77; }

while [ $# -gt 0 ]; do
	case "$1" in
	--extra) EXTRA+=("$(cd "$2" && pwd)") || die "no dir $2"; shift 2 ;;
	--bench) BENCH=1; shift ;;
	--bench-dir) BENCHDIRS+=("$(cd "$2" && pwd)") || die "no dir $2"; shift 2 ;;
	--env) ENVS+=("$2"); shift 2 ;;
	--only) ONLY+=("$2"); shift 2 ;;
	--kvm) ACCEL=kvm; shift ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--kdir) KDIR=$2; shift 2 ;;
	--kernel) KERNEL=$2; shift 2 ;;
	--out) OUT=$(realpath -m "$2"); shift 2 ;;	# make -C needs M= absolute
	--no-build) BUILD=0; shift ;;
	--kcflags) KCFLAGS=$2; shift 2 ;;
	--modparam) MODPARAMS+=("$2"); shift 2 ;;
	--append) APPEND+=" $2"; shift 2 ;;
	-h|--help) sed -n '3,36p' "$0"; exit 0 ;;
	*) die "unknown option $1" ;;
	esac
done

QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || skip "$QEMU not installed"
BUSYBOX=$(command -v busybox) || skip "busybox not installed"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	skip "busybox is not static (install busybox-static)"
command -v cpio >/dev/null || skip "cpio not installed"

if [ -z "$KDIR" ]; then
	KDIR=$(ls -d /lib/modules/6.1.*-amd64/build 2>/dev/null | sort -V | tail -1)
	[ -n "$KDIR" ] || skip "no /lib/modules/6.1.*-amd64/build (linux-headers-amd64)"
fi
KVER=$(basename "$(dirname "$KDIR")")
[ -n "$KERNEL" ] || KERNEL=/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || skip "no readable kernel image $KERNEL (linux-image-amd64)"
if [ "$ACCEL" = kvm ] && [ ! -w /dev/kvm ]; then
	skip "--kvm asked but /dev/kvm is not usable"
fi

mkdir -p "$OUT"
LOG=$OUT/serial.log
SELFTESTS=$ROOT/build/selftests

if [ $BUILD = 1 ]; then
	echo "vmtest: building green.ko against $KDIR"
	rm -rf "$OUT/kmod"
	cp -r "$ROOT/kmod" "$OUT/kmod"
	make -s -C "$KDIR" M="$OUT/kmod" ${KCFLAGS:+"KCFLAGS=$KCFLAGS"} modules \
		>"$OUT/kmod-build.log" 2>&1 ||
		{ cat "$OUT/kmod-build.log"; die "module build failed"; }
	echo "vmtest: building selftests"
	make -s -C "$ROOT/tests/selftests" OUT="$SELFTESTS" ||
		die "selftest build failed"
fi
[ -f "$OUT/kmod/green.ko" ] || die "no $OUT/kmod/green.ko (drop --no-build)"

# ---- initramfs ----
INITRD=$OUT/initramfs
rm -rf "$INITRD"
mkdir -p "$INITRD"/{bin,sbin,proc,sys,dev,tmp,green/selftests,green/extra,green/bench}
cp "$BUSYBOX" "$INITRD/bin/busybox"
cp "$OUT/kmod/green.ko" "$INITRD/green/"
for t in "$SELFTESTS"/green_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	if [ ${#ONLY[@]} -gt 0 ] && [ "$name" != green_bench ]; then
		keep=0
		for o in "${ONLY[@]}"; do [ "$o" = "$name" ] && keep=1; done
		[ $keep = 1 ] || continue
	fi
	cp "$t" "$INITRD/green/selftests/"
done
i=0
for d in "${EXTRA[@]}"; do
	i=$((i + 1)); cp -r "$d" "$INITRD/green/extra/$i-$(basename "$d")"
done
i=0
for d in "${BENCHDIRS[@]}"; do
	i=$((i + 1)); cp -r "$d" "$INITRD/green/bench/$i-$(basename "$d")"
done
: >"$INITRD/green/env"
for e in "${ENVS[@]}"; do printf 'export %q\n' "$e" >>"$INITRD/green/env"; done
echo "BENCH=$BENCH" >>"$INITRD/green/env"
printf 'MODPARAMS=%q\n' "${MODPARAMS[*]}" >>"$INITRD/green/env"

cat >"$INITRD/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t debugfs debugfs /sys/kernel/debug
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up	# loopback tests
. /green/env
echo 1 > /proc/sys/kernel/printk_ratelimit 2>/dev/null
echo "VMTEST: kernel $(uname -r) cpus $(nproc)"
run() {	# run <label> <prog>: prints output, then a result line
	echo "VMTEST: start $1"
	(cd "$(dirname "$2")" && timeout -s KILL 300 "$2" 2>&1)
	echo "VMTEST: result $1 rc=$?"
}
if insmod /green/green.ko $MODPARAMS; then
	echo "VMTEST: insmod ok"
	grep -E ' [tT] .*\[green\]' /proc/kallsyms | sed 's/^/VMTEST: ksym /'
else
	echo "VMTEST: insmod failed"
fi
for t in /green/selftests/green_*; do
	[ -x "$t" ] || continue
	[ "$(basename "$t")" = green_bench ] && continue
	run "selftests/$(basename "$t")" "$t"
done
for d in /green/extra/*; do
	[ -d "$d" ] || continue
	for t in "$d"/*; do
		[ -f "$t" ] && [ -x "$t" ] && run "extra/$(basename "$d")/$(basename "$t")" "$t"
	done
done
if [ "$BENCH" = 1 ] && [ -x /green/selftests/green_bench ]; then
	run bench/green_bench /green/selftests/green_bench
fi
for d in /green/bench/*; do
	[ -d "$d" ] || continue
	for t in "$d"/*; do
		[ -f "$t" ] && [ -x "$t" ] && run "bench/$(basename "$d")/$(basename "$t")" "$t"
	done
done
sleep 1
# Unloading flips a static key (preempt_notifier_dec): the kernel patches
# its text with int3 and waits for every CPU to sync. Under TCG that has
# livelocked both vCPUs in exc_int3 now and then (a QEMU interrupt
# delivery bug is suspected), so the other CPUs go offline first.
for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
	[ -w "$c" ] && echo 0 > "$c"
done
# rmmod in the background, bounded: a hang must still show dmesg.
(if rmmod green; then echo "VMTEST: rmmod ok"; else echo "VMTEST: rmmod failed"; fi) &
rmpid=$!
i=0
while kill -0 $rmpid 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
if kill -0 $rmpid 2>/dev/null; then
	echo "VMTEST: rmmod hung"
	ps
	echo w > /proc/sysrq-trigger	# blocked tasks' stacks, to dmesg
	echo l > /proc/sysrq-trigger	# and every CPU's
else
	wait $rmpid
fi
echo "VMTEST: dmesg begin"
dmesg
echo "VMTEST: dmesg end"
echo "VMTEST: end"
poweroff -f
EOF
chmod +x "$INITRD/init"
(cd "$INITRD" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.cpio.gz" ||
	die "cannot pack initramfs"

# ---- boot ----
echo "vmtest: booting $KERNEL ($ACCEL, timeout ${TIMEOUT}s), log $LOG"
START=$(date +%s)
ACCEL_OPTS=(-accel tcg)
[ "$ACCEL" = kvm ] && ACCEL_OPTS=(-accel kvm -cpu host)
# A monitor on a local TCP port lets the stall watchdog below read the
# vCPUs' registers when the guest stops making progress.
# Below the ephemeral range (32768 up by default), where an outgoing
# connection could hold it, and skipping ports in use: a taken port would
# stop QEMU, and the run would skip as if QEMU could not start.
port_busy() {
	grep -qi "$(printf ':%04X ' "$1")" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
MONPORT=$((10000 + $$ % 20000))
while port_busy "$MONPORT"; do
	MONPORT=$((10000 + (MONPORT - 10000 + 7919) % 20000))
done
: >"$LOG"
stall_watch() {	# no serial output for STALL seconds: dump vCPUs, kill QEMU
	local last now size=-1 quiet=0
	while sleep 5; do
		now=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
		if [ "$now" = "$size" ]; then quiet=$((quiet + 5)); else quiet=0; size=$now; fi
		[ $quiet -ge "$STALL" ] || continue
		{
			echo "vmtest: no console output for ${STALL}s: guest stalled; vCPU state:"
			exec 3<>"/dev/tcp/127.0.0.1/$MONPORT" || exit 0
			printf 'info cpus\ninfo registers -a\n' >&3
			timeout 3 cat <&3 | tr -d '\r'
			exec 3<&-
		} >"$OUT/stall.txt" 2>&1
		echo "VMTEST: stalled" >>"$OUT/stall.txt"
		pkill -KILL -f "qemu-system-x86_64.*$OUT/initramfs" 2>/dev/null
		exit 0
	done
}
rm -f "$OUT/stall.txt"
stall_watch &
WATCH=$!
timeout -s KILL "$TIMEOUT" "$QEMU" "${ACCEL_OPTS[@]}" -m 1536 -smp 2 \
	-kernel "$KERNEL" -initrd "$OUT/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4 printk.devkmsg=on nokaslr$APPEND" \
	-nographic -no-reboot -nodefaults -serial stdio \
	-monitor "tcp:127.0.0.1:$MONPORT,server,nowait" \
	</dev/null 2>"$OUT/qemu.stderr" | stdbuf -oL tr -d '\r' | tee "$LOG"
QRC=${PIPESTATUS[0]}
kill $WATCH 2>/dev/null
wait $WATCH 2>/dev/null
if [ -s "$OUT/stall.txt" ] && grep -q 'VMTEST: stalled' "$OUT/stall.txt"; then
	cat "$OUT/stall.txt"
	# Name the code each vCPU was in: green.ko's symbols were printed at
	# insmod; a kernel address needs linux-image-*-dbg's System.map.
	for rip in $(grep -o 'RIP=[0-9a-f]*' "$OUT/stall.txt" | cut -d= -f2); do
		sym=$({ sed -n 's/^VMTEST: ksym //p' "$LOG" | cut -d' ' -f1,2,3
			echo "$rip X <rip>"; } | LC_ALL=C sort |
			grep -B1 ' <rip>$' | head -n 1)
		case "$sym" in
		*'<rip>'|'') sym="the kernel (System.map: linux-image-$(basename "$KERNEL" | sed s/^vmlinuz-//)-dbg)" ;;
		*) sym="green.ko: $(echo "$sym" | cut -d' ' -f3) at or after $(echo "$sym" | cut -d' ' -f1)" ;;
		esac
		echo "vmtest: a vCPU was at $rip: $sym"
	done
fi
END=$(date +%s)

# ---- verdict ----
if ! grep -q 'Linux version' "$LOG"; then
	cat "$OUT/qemu.stderr" >&2
	if [ "$QRC" != 137 ] && grep -qiE 'could not|failed|not supported' "$OUT/qemu.stderr"; then
		skip "QEMU could not start"
	fi
fi

fail=0
bad() { echo "vmtest: FAIL: $*"; fail=1; }
[ -f "$OUT/stall.txt" ] && bad "guest stalled (no output for ${STALL}s): see the vCPU state above"
[ ! -f "$OUT/stall.txt" ] && [ "$QRC" = 137 ] && bad "VM timed out after ${TIMEOUT}s"
grep -q '^VMTEST: end' "$LOG" || bad "VM did not finish the run"
grep -q '^VMTEST: insmod ok' "$LOG" || bad "insmod failed"
grep -q '^VMTEST: rmmod ok' "$LOG" || bad "rmmod failed (leaked reference?)"

nstart=$(grep -c '^VMTEST: start ' "$LOG")
nres=$(grep -c '^VMTEST: result ' "$LOG")
[ "$nstart" = "$nres" ] || bad "$((nstart - nres)) program(s) gave no result"
[ "$nstart" -gt 0 ] || bad "no test programs ran"
while read -r _ _ label rc; do
	case "$rc" in
	rc=0) ;;
	rc=4) echo "vmtest: SKIP: $label" ;;
	*) bad "$label exited $rc" ;;
	esac
done < <(grep '^VMTEST: result ' "$LOG")

nok=$(grep -cE '^(# )?ok [0-9]+' "$LOG")
nnot=$(grep -cE '^(# )?not ok [0-9]+' "$LOG")
[ "$nnot" = 0 ] || { grep -E '^(# )?not ok [0-9]+' "$LOG"; bad "$nnot 'not ok'"; }

DMESG=$(sed -n '/^VMTEST: dmesg begin/,/^VMTEST: dmesg end/p' "$LOG")
# The one benign match: a PROVE_RCU kernel's boot banner (make vmtest-debug).
SPLAT=$(echo "$DMESG" | grep -E 'BUG|WARNING|Oops|Call Trace|KASAN|lockdep|sleeping function called from invalid context|general protection|RIP:|refcount_t|list_(add|del) corruption' | grep -vE 'VMTEST|RCU lockdep checking is enabled')
[ -z "$SPLAT" ] || { echo "$SPLAT"; bad "kernel splat in dmesg"; }

grep '^BENCH ' "$LOG" >"$OUT/bench.txt" 2>/dev/null
echo "vmtest: $nok ok, $nnot not ok, $nres programs, $((END - START))s in VM"
if [ $fail = 0 ]; then
	echo "vmtest: PASS"
	exit 0
fi
echo "vmtest: FAILED (log: $LOG)"
if [ -f "$OUT/stall.txt" ]; then
	cp "$LOG" "$OUT/serial-stalled.log"
	exit 3
fi
exit 1

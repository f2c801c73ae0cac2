# SPDX-License-Identifier: MIT
# Included by the top-level Makefile: green.ko and the VM tests.
#
#   make kmod      build kmod/green.ko against KDIR (default: the running
#                  kernel's build directory, else Debian's linux-headers-amd64)
#   make vmtest    boot Debian's 6.1 kernel in QEMU (TCG) with the module;
#                  run the selftests and libgreen's suite (static) inside

KDIR ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
	$(lastword $(sort $(wildcard /lib/modules/6.1.*-amd64/build))))
VM_TESTS := $(BUILD)/vmtests

kmod:
	@test -n "$(KDIR)" || { echo "no kernel build directory: install linux-headers-amd64 or set KDIR" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# libgreen's suite, linked statically for the busybox initramfs.
$(VM_TESTS)/%: tests/lib/%.c tests/lib/test_util.h $(BUILD)/libgreen.a $(KSFT)/.stamp
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -I$(KSFT) -Itests/lib -Wno-missing-prototypes -static \
		-o $@ $< $(BUILD)/libgreen.a $(LDLIBS)

# The same suite again on the futex parker: wrappers in a second directory
# (the runner runs each top-level executable; the binaries sit in bin/).
VM_FUTEX := $(BUILD)/vmtests-futex
$(VM_FUTEX)/%: $(VM_TESTS)/%
	@mkdir -p $(@D)/bin
	cp $< $(@D)/bin/
	printf '#!/bin/sh\ncd "$$(dirname "$$0")" && GREEN_PARKER=futex exec ./bin/%s\n' $* > $@
	chmod +x $@

# On the futex parker, the tests whose workers park and wake (the I/O and
# toolbox suites run once, on green.ko's parker: TCG is slow).
VM_FUTEX_NAMES := $(filter test_run test_spawn test_steal test_syscall \
	test_wg test_yield test_parker test_chan test_mutex test_sleep \
	test_io,$(TEST_NAMES))
vmtest-bins: $(addprefix $(VM_TESTS)/,$(TEST_NAMES)) \
	$(addprefix $(VM_FUTEX)/,$(VM_FUTEX_NAMES))
	@# wrappers left from an older list would run too: drop them
	@find $(VM_FUTEX) -maxdepth 1 -type f \
		$(foreach n,$(VM_FUTEX_NAMES),! -name $(n)) -delete

# The suite runs on green.ko's parker (GREEN_PARKER=kmod: fails if the
# module cannot be used) and on the futex one. Under TCG the VM runs about
# ten times slower: the suite is scaled down.
#
# Known problem, open: about one run in eight the guest livelocked at the
# end (both vCPUs in exc_int3 with interrupts off: the kernel patching its
# text for rmmod's static key flip under TCG). vmtest.sh now takes the other
# CPUs offline before rmmod; should a stall still happen, it dumps the
# vCPUs and exits 3, and the run is repeated once, loudly. Remove the retry
# once the cause is confirmed and fixed.
VMTEST_ARGS = --timeout 1500 --extra $(VM_TESTS) --extra $(VM_FUTEX) \
	--env GREEN_TEST_SCALE=10 --env GREEN_PARKER=kmod
vmtest: vmtest-bins
	@tools/vm/vmtest.sh $(VMTEST_ARGS); rc=$$?; \
	if [ $$rc = 3 ]; then \
		echo "vmtest: GUEST STALLED (known green.ko deadlock; log in $(BUILD)/vm/serial-stalled.log): running once more"; \
		tools/vm/vmtest.sh --no-build $(VMTEST_ARGS); rc=$$?; \
	fi; exit $$rc

# Benchmarks in the VM, both idle-worker backends in one run (ratios only:
# TCG time is not real time): green.ko's switch-to and park/wake against
# futexes (green_bench), and the syscall handoff, libgreen on green.ko
# (the spare woken by the block) against the futex parker (sysmon).
VM_BENCH := $(BUILD)/vmbench
$(VM_BENCH)/bin/bench: $(wildcard tools/bench/*.c) $(BUILD)/libgreen.a
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -static -o $@ $(wildcard tools/bench/*.c) \
		$(BUILD)/libgreen.a $(LDLIBS)

$(VM_BENCH)/handoff-%: $(VM_BENCH)/bin/bench
	printf '#!/bin/sh\ncd "$$(dirname "$$0")"\nv=$$(GREEN_PROCS=1 GREEN_PARKER=%s ./bin/bench handoff 300) || exit 1\necho "BENCH handoff_%s libgreen=$$v unit=ns"\n' $* $* > $@
	chmod +x $@

# The same with a plain, unmarked read(2): only green.ko's held resume
# (hold.c) hands the processor over; without it the other task never runs.
$(VM_BENCH)/handoff-unmarked: $(VM_BENCH)/bin/bench
	printf '#!/bin/sh\ncd "$$(dirname "$$0")"\nv=$$(GREEN_PROCS=1 GREEN_PARKER=kmod GREEN_HOLD=1 ./bin/bench handoff 300 unmarked) || exit 1\necho "BENCH handoff_unmarked libgreen=$$v unit=ns"\n' > $@
	chmod +x $@

vmbench: deps-check $(VM_BENCH)/handoff-kmod $(VM_BENCH)/handoff-futex \
		$(VM_BENCH)/handoff-unmarked
	tools/vm/vmtest.sh --timeout 600 --bench --bench-dir $(VM_BENCH) \
		--only green_ioctl_test
	@awk '/^BENCH handoff_kmod/ { split($$3, a, "="); k = a[2] } \
	     /^BENCH handoff_futex/ { split($$3, a, "="); f = a[2] } \
	     /^BENCH handoff_unmarked/ { split($$3, a, "="); u = a[2] } \
	     /^BENCH/ { print } \
	     END { if (k > 0 && f > 0) printf "BENCH handoff kmod=%s sysmon=%s unit=ns ratio=%.2f target=10x %s\n", \
		k, f, f / k, (f / k >= 10 ? "met" : "MISSED"); \
		if (u > 0 && f > 0) printf "BENCH handoff_unmarked kmod=%s sysmon_marked=%s unit=ns ratio=%.2f target=10x %s\n", \
		u, f, f / u, (f / u >= 10 ? "met" : "MISSED") }' $(BUILD)/vm/bench.txt

.PHONY: kmod vmtest vmtest-bins vmbench

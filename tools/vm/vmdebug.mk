# SPDX-License-Identifier: MIT
# Included by the top-level Makefile after tools/vm/vm.mk (it uses
# VM_TESTS, VM_FUTEX and vmtest-bins): green.ko under a debug kernel.
#
#   make vmtest-debug         build, once, a 6.1 kernel with KASAN, lockdep,
#                             DEBUG_ATOMIC_SLEEP and full PREEMPT
#                             (tests/vmdebug/debug.config, cached in
#                             build/vmdebug); run the selftests and libgreen's
#                             suite on both parkers on it, as make vmtest does;
#                             fail on any report; then check that an injected
#                             use-after-free is caught (tests/vmdebug/broken.sh)
#   make vmtest-debug-kernel  only build (or find) the kernel
#   make vmtest-debug-broken  only the injected use-after-free check
#   make vmtest-debug-check   what make check runs: vmtest-debug when the
#                             kernel is cached (VMDEBUG=auto, the default),
#                             always (VMDEBUG=1: builds it first) or never
#                             (VMDEBUG=0)

DEPS_VMDEBUG := flex bison bc libelf-dev libssl-dev
VMDEBUG ?= auto

# The same programs and environment as make vmtest.  KASAN and lockdep
# slow the kernel side down a few times over: a longer VM timeout.
VMDEBUG_ARGS = --timeout 1800 --extra $(VM_TESTS) --extra $(VM_FUTEX) \
	--env GREEN_TEST_SCALE=10 --env GREEN_PARKER=kmod

vmtest-debug-deps: deps-check
	@tools/deps.sh $(DEPS_VMDEBUG)

vmtest-debug-kernel: vmtest-debug-deps
	@tools/vm/vmdebug.sh kernel >/dev/null

# A stalled guest (exit 3, the known end-of-run stall under TCG: see
# vm.mk) is run once more, loudly, like make vmtest.
vmtest-debug: vmtest-debug-deps vmtest-bins
	@tools/vm/vmdebug.sh run $(VMDEBUG_ARGS); rc=$$?; \
	if [ $$rc = 3 ]; then \
		echo "vmtest-debug: GUEST STALLED (log in $(BUILD)/vmdebug/vm/serial-stalled.log): running once more"; \
		tools/vm/vmdebug.sh run --no-build $(VMDEBUG_ARGS); rc=$$?; \
	fi; \
	tests/vmdebug/broken.sh; brc=$$?; \
	echo "vmtest-debug: suite rc=$$rc, broken-build check rc=$$brc"; \
	[ $$rc = 0 ] && [ $$brc = 0 ]

vmtest-debug-broken: vmtest-debug-deps
	@tests/vmdebug/broken.sh

vmtest-debug-check:
	@case "$(VMDEBUG)" in \
	0|no|never) echo "vmtest-debug: skipped (VMDEBUG=$(VMDEBUG))" ;; \
	auto) if tools/vm/vmdebug.sh cached >/dev/null; then \
		$(MAKE) --no-print-directory vmtest-debug; \
	else \
		echo "vmtest-debug: SKIPPED: no cached debug kernel; make vmtest-debug builds it (about 5-10 min once) or make check VMDEBUG=1"; \
	fi ;; \
	*) $(MAKE) --no-print-directory vmtest-debug ;; \
	esac

.PHONY: vmtest-debug vmtest-debug-deps vmtest-debug-kernel \
	vmtest-debug-broken vmtest-debug-check

# SPDX-License-Identifier: MIT
# Included by the top-level Makefile after tools/vm/vm.mk (it uses
# VM_TESTS, VM_FUTEX and vmtest-bins): green.ko under a debug kernel.
#
#   make vmtest-debug         build, once, a 6.1 kernel with KASAN, lockdep,
#                             DEBUG_ATOMIC_SLEEP and full PREEMPT
#                             (tests/vmdebug/debug.config, cached outside the
#                             clone: ~/.cache/libgreen/vmdebug, see
#                             vmdebug.sh); run the selftests and libgreen's
#                             suite on both parkers on it, as make vmtest does;
#                             fail on any report; then check that an injected
#                             use-after-free is caught (tests/vmdebug/broken.sh)
#   make vmtest-debug-quick   the same checks on the selftests and the
#                             parking-heavy part of the suite (green.ko's
#                             parker only): about 3 min
#   make vmtest-debug-kernel  only build (or find) the kernel
#   make vmtest-debug-broken  only the injected use-after-free check
#   make vmtest-debug-check   what make check runs: vmtest-debug-quick when
#                             the kernel is cached (VMDEBUG=auto, the
#                             default), always (VMDEBUG=1: builds it first)
#                             or never (VMDEBUG=0)

DEPS_VMDEBUG := flex bison bc libelf-dev libssl-dev linux-source-6.1
VMDEBUG ?= auto

# The same programs and environment as make vmtest.  KASAN and lockdep
# slow the kernel down a few times over (mmap, page faults, every lock):
# half make vmtest's iterations, a longer VM timeout.
VMDEBUG_ARGS = --timeout 2700 --extra $(VM_TESTS) --extra $(VM_FUTEX) \
	--env GREEN_TEST_SCALE=20 --env GREEN_PARKER=kmod

# make check's share (about 3 min): every selftest, and the tests whose
# workers park, wake, hand off, block in the kernel and wait on timers
# most, on green.ko's parker only, with vmtest-debug's iterations (at a
# quarter of them test_parker's idle workers, spinning under TCG, may never
# get to park, and it fails).
VMDEBUG_QUICK := $(BUILD)/vmdebug-quick
VMDEBUG_QUICK_NAMES := $(filter test_parker test_syscall test_wg test_run \
	test_steal test_yield test_mutex test_sema test_cond test_chan \
	test_chantimer test_select test_spawn test_io test_io_sched,$(TEST_NAMES))
VMDEBUG_QUICK_ARGS = --timeout 900 --extra $(VMDEBUG_QUICK) \
	--env GREEN_TEST_SCALE=20 --env GREEN_PARKER=kmod

# $(call vmdebug_run,ARGS,OUT): the run in OUT; a stalled guest (exit 3,
# the known end-of-run stall under TCG: see vm.mk) is run once more,
# loudly, like make vmtest; then the injected use-after-free must be caught.
vmdebug_run = tools/vm/vmdebug.sh run --out $(2) $(1); rc=$$?; \
	if [ $$rc = 3 ]; then \
		echo "vmtest-debug: GUEST STALLED (log in $(2)/serial-stalled.log): running once more"; \
		tools/vm/vmdebug.sh run --no-build --out $(2) $(1); rc=$$?; \
	fi; \
	tests/vmdebug/broken.sh; brc=$$?; \
	echo "vmtest-debug: suite rc=$$rc, broken-build check rc=$$brc"; \
	[ $$rc = 0 ] && [ $$brc = 0 ]

vmtest-debug-deps: deps-check
	@tools/deps.sh $(DEPS_VMDEBUG)

vmtest-debug-kernel: vmtest-debug-deps
	@tools/vm/vmdebug.sh kernel >/dev/null

vmtest-debug: vmtest-debug-deps vmtest-bins
	@$(call vmdebug_run,$(VMDEBUG_ARGS),$(abspath $(BUILD)/vmdebug/vm))

# The directory is made afresh: the runner runs every program in it.
vmtest-debug-quick: vmtest-debug-deps \
		$(addprefix $(VM_TESTS)/,$(VMDEBUG_QUICK_NAMES))
	@rm -rf $(VMDEBUG_QUICK) && mkdir -p $(VMDEBUG_QUICK) && \
		cp $(addprefix $(VM_TESTS)/,$(VMDEBUG_QUICK_NAMES)) $(VMDEBUG_QUICK)/
	@$(call vmdebug_run,$(VMDEBUG_QUICK_ARGS),$(abspath $(BUILD)/vmdebug/quick))

vmtest-debug-broken: vmtest-debug-deps
	@tests/vmdebug/broken.sh

vmtest-debug-check:
	@case "$(VMDEBUG)" in \
	0|no|never) echo "vmtest-debug: skipped (VMDEBUG=$(VMDEBUG))" ;; \
	auto) if tools/vm/vmdebug.sh cached >/dev/null; then \
		$(MAKE) --no-print-directory vmtest-debug-quick; \
	else \
		echo "vmtest-debug: SKIPPED: no cached debug kernel; make vmtest-debug-kernel builds it (about 15 min once) or make check VMDEBUG=1"; \
	fi ;; \
	*) $(MAKE) --no-print-directory vmtest-debug-quick ;; \
	esac

.PHONY: vmtest-debug vmtest-debug-deps vmtest-debug-kernel \
	vmtest-debug-quick vmtest-debug-broken vmtest-debug-check

# SPDX-License-Identifier: MIT
#
# libgreen + green.ko
#
#   make            build/libgreen.a, build/libgreen.so, build/libgreen.pc,
#                   build/tools/*
#   make demo       install what is missing (Debian 12) and run the showcase
#   make check      install what is missing and run every test: the suite,
#                   under ASan+UBSan, TSan and Valgrind, and the VM tests
#   make bench      libgreen next to Go 1.19, one run, ratios
#   make install    PREFIX=/usr/local DESTDIR=...
#   make deps       the Debian packages for all of the above (idempotent)

VERSION := 0.1.0
PREFIX ?= /usr/local
LIBDIR ?= lib
BUILD ?= build

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

ARCH := $(shell uname -m)
ifneq ($(ARCH),x86_64)
$(error libgreen supports x86-64 only (context switch in libgreen/src/switch_x86_64.S); this machine is $(ARCH))
endif

WARN := -Wall -Wextra -Wno-unused-parameter -Wmissing-prototypes \
	-Wstrict-prototypes -Wshadow
BASE_CFLAGS := -std=gnu11 -g -fno-omit-frame-pointer -D_GNU_SOURCE \
	-Ilibgreen/include -Ilibgreen/src -Ikmod/include/uapi $(WARN)
CFLAGS ?= -O2
LDLIBS := -luring -lpthread

LIB_SRCS := $(sort $(wildcard libgreen/src/*.c))
LIB_ASM := libgreen/src/switch_x86_64.S
LIB_HDRS := $(wildcard libgreen/src/*.h) libgreen/include/green.h
TEST_SRCS := $(sort $(wildcard tests/lib/test_*.c))
TEST_NAMES := $(notdir $(basename $(TEST_SRCS)))
MAN3 := $(wildcard libgreen/man/*.3)
MAN7 := $(wildcard libgreen/man/*.7)

# kselftest harness headers, from Debian's linux-source-6.1 (never copied
# into the repository).
KSFT := $(BUILD)/ksft

# --- packages --------------------------------------------------------------

DEPS_BUILD := gcc make libc6-dev pkg-config liburing-dev libhttp-parser-dev
DEPS_CHECK := $(DEPS_BUILD) perl linux-source-6.1 xz-utils valgrind \
	qemu-system-x86 busybox-static cpio linux-image-amd64 \
	linux-headers-amd64 kmod curl clang libclang-rt-14-dev gdb
DEPS_BENCH := $(DEPS_BUILD) golang-go wrk
DEPS_FUZZ := $(DEPS_BUILD) clang libclang-rt-14-dev

.PHONY: all deps deps-build deps-check deps-bench deps-fuzz demo check \
	check-unit check-asan check-tsan check-valgrind check-install \
	check-demo check-gdb bench bench-http fuzz check-fuzz install uninstall clean


all: $(BUILD)/libgreen.a $(BUILD)/libgreen.so $(BUILD)/libgreen.pc tools

deps-build:
	@tools/deps.sh $(DEPS_BUILD)
deps-check:
	@tools/deps.sh $(DEPS_CHECK)
deps-bench:
	@tools/deps.sh $(DEPS_BENCH)
deps-fuzz:
	@tools/deps.sh $(DEPS_FUZZ)
deps: deps-check

# --- the library, one object tree per flavour -------------------------------
#
# $(1): flavour directory under $(BUILD), $(2): extra compiler flags.
define flavour
$(BUILD)/$(1)obj/%.o: libgreen/src/%.c $(LIB_HDRS) Makefile
	@mkdir -p $$(@D)
	$$(CC) $$(BASE_CFLAGS) $$(CFLAGS) -fPIC $(2) -c -o $$@ $$<

$(BUILD)/$(1)obj/switch_x86_64.o: $(LIB_ASM)
	@mkdir -p $$(@D)
	$$(CC) -fPIC -c -o $$@ $$<

$(BUILD)/$(1)libgreen.a: $(patsubst libgreen/src/%.c,$(BUILD)/$(1)obj/%.o,$(LIB_SRCS)) $(BUILD)/$(1)obj/switch_x86_64.o
	@rm -f $$@
	ar rcs $$@ $$^

$(BUILD)/$(1)tests/%: tests/lib/%.c tests/lib/test_util.h $(BUILD)/$(1)libgreen.a $(KSFT)/.stamp
	@mkdir -p $$(@D)
	$$(CC) $$(BASE_CFLAGS) $$(CFLAGS) $(2) -I$(KSFT) -Itests/lib -Wno-missing-prototypes -o $$@ $$< $(BUILD)/$(1)libgreen.a $$(LDLIBS)
endef

SAN_ASAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_TSAN := -fsanitize=thread

$(eval $(call flavour,,))
$(eval $(call flavour,asan/,$(SAN_ASAN)))
$(eval $(call flavour,tsan/,$(SAN_TSAN)))

$(BUILD)/libgreen.so: $(patsubst libgreen/src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(BUILD)/obj/switch_x86_64.o libgreen/libgreen.map
	$(CC) -shared -Wl,-soname,libgreen.so.0 \
		-Wl,--version-script=libgreen/libgreen.map -Wl,-z,noexecstack \
		-o $@ $(filter %.o,$^) $(LDLIBS)

$(BUILD)/libgreen.pc: libgreen/libgreen.pc.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' $< > $@

# One rule extracts the harness: tests/selftests/Makefile's.
$(KSFT)/.stamp:
	$(MAKE) -C tests/selftests KSFT_DIR=$(abspath $(KSFT)) $(abspath $(KSFT))/.stamp

# --- tools ------------------------------------------------------------------

TOOLS := $(BUILD)/tools/demo $(BUILD)/tools/bench
.PHONY: tools
tools: $(TOOLS)

# The demo's HTTP parser: Debian's libhttp-parser-dev (nodejs http-parser).
$(BUILD)/tools/demo: LDLIBS := -lhttp_parser $(LDLIBS)

# Every .c and .h of the tool's directory (second expansion: % is known).
.SECONDEXPANSION:
$(BUILD)/tools/%: tools/%/main.c $$(wildcard tools/$$*/*.c) $$(wildcard tools/$$*/*.h) $(BUILD)/libgreen.a
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $(filter %.c,$^) $(BUILD)/libgreen.a $(LDLIBS)

demo: deps-build $(BUILD)/tools/demo
	$(BUILD)/tools/demo tour

# The demo's HTTP service against the same service in Go's net/http (wrk).
bench-http: deps-bench $(BUILD)/tools/demo
	tools/demo/bench-http.sh $(BUILD)

# libFuzzer on the demo's request parsing (clang; not part of `make check`).
FUZZ := $(BUILD)/fuzz/fuzz_reqparse
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(WARN)
$(FUZZ): tools/demo/fuzz/fuzz_reqparse.c tools/demo/reqparse.c tools/demo/reqparse.h
	@mkdir -p $(@D)/corpus
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) -lhttp_parser
fuzz: deps-fuzz $(FUZZ)
	$(FUZZ) -max_total_time=$(or $(FUZZ_SECONDS),300) -max_len=1024 \
		-artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/corpus tools/demo/fuzz/corpus
check-fuzz: $(FUZZ)
	@echo "== fuzz: the regression inputs, then 20 s of fuzzing =="
	$(FUZZ) tools/demo/fuzz/corpus/*
	$(FUZZ) -max_total_time=20 -max_len=1024 -artifact_prefix=$(BUILD)/fuzz/ \
		$(BUILD)/fuzz/corpus tools/demo/fuzz/corpus

# --- tests ------------------------------------------------------------------

UNIT_BINS := $(addprefix $(BUILD)/tests/,$(TEST_NAMES))
ASAN_BINS := $(addprefix $(BUILD)/asan/tests/,$(TEST_NAMES))
TSAN_BINS := $(addprefix $(BUILD)/tsan/tests/,$(TEST_NAMES))

PROVE := prove --exec '' --timer

check: deps-check
	$(MAKE) check-unit check-install check-gdb check-demo check-fuzz \
		check-asan check-tsan check-valgrind vmtest vmtest-debug-check

# gdb helper on a live process and core files; 77 = skipped (no gdb or ptrace)
check-gdb: $(BUILD)/libgreen.a
	@echo "== gdb helper =="
	@tests/gdb/run.sh $(BUILD); rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ]

check-demo: $(BUILD)/tools/demo
	@echo "== tools/demo: the HTTP service, tour, patterns (io_uring, then epoll) =="
	$(PROVE) --exec bash tests/demo/run.sh :: $(BUILD)
	GREEN_POLLER=epoll $(PROVE) --exec bash tests/demo/run.sh :: $(BUILD)

check-install: all
	@echo "== install and pkg-config =="
	prove --exec 'bash' tests/install/run.sh :: $(BUILD)

check-unit: $(UNIT_BINS)
	@echo "== libgreen suite =="
	$(PROVE) $(UNIT_BINS)

# The sanitizer and Valgrind runs scale the heaviest tests down.
check-asan: $(ASAN_BINS)
	@echo "== libgreen suite under ASan+UBSan =="
	GREEN_TEST_SCALE=4 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(PROVE) $(ASAN_BINS)

check-tsan: $(TSAN_BINS)
	@echo "== libgreen suite under TSan =="
	GREEN_TEST_SCALE=100 TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
	$(PROVE) $(TSAN_BINS)

check-valgrind: $(UNIT_BINS)
	@echo "== libgreen suite under Valgrind memcheck =="
	GREEN_TEST_SCALE=50 GREEN_TEST_VALGRIND=1 $(PROVE) \
		--exec 'valgrind -q --fair-sched=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect' \
		$(UNIT_BINS)

# --- kernel module and VM ---------------------------------------------------

-include tools/vm/vm.mk
-include tools/vm/vmdebug.mk

# --- benchmarks -------------------------------------------------------------

bench: deps-bench $(BUILD)/tools/bench
	tools/bench/run.sh $(BUILD)

# --- install ----------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 644 libgreen/include/green.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libgreen.a $(DESTDIR)$(PREFIX)/$(LIBDIR)/
	install -m 755 $(BUILD)/libgreen.so $(DESTDIR)$(PREFIX)/$(LIBDIR)/libgreen.so.$(VERSION)
	ln -sf libgreen.so.$(VERSION) $(DESTDIR)$(PREFIX)/$(LIBDIR)/libgreen.so.0
	ln -sf libgreen.so.0 $(DESTDIR)$(PREFIX)/$(LIBDIR)/libgreen.so
	install -m 644 $(BUILD)/libgreen.pc $(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig/
	install -m 644 $(MAN3) $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 644 $(MAN7) $(DESTDIR)$(PREFIX)/share/man/man7/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/green.h \
		$(DESTDIR)$(PREFIX)/$(LIBDIR)/libgreen.* \
		$(DESTDIR)$(PREFIX)/$(LIBDIR)/pkgconfig/libgreen.pc \
		$(addprefix $(DESTDIR)$(PREFIX)/share/man/man3/,$(notdir $(MAN3))) \
		$(addprefix $(DESTDIR)$(PREFIX)/share/man/man7/,$(notdir $(MAN7)))

clean:
	rm -rf $(BUILD)

# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# wgxdp: `make` builds build/wgxdp; `make test`, `make bench`, `make demo`, `make install`.
# V=1 prints full commands. Every missing build dependency is installed by `make deps`
# (tools/deps.sh) on Debian/Ubuntu, or named in one line.

VERSION    := 0.1.0
BUILD      ?= build
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
KERNELS    ?= 6.1 6.12

CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
ARCH       := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

PKGS       := libbpf libxdp libmnl jansson libcrypto libelf zlib libmicrohttpd libcurl
ifeq ($(filter deps clean vmlinux,$(MAKECMDGOALS)),)
# `wgxdp top`: ncursesw where it has a .pc file, else ncurses (both from libncurses-dev)
PKGS       += $(shell pkg-config --exists ncursesw 2>/dev/null && echo ncursesw || echo ncurses)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
endif

CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	      -Werror -D_GNU_SOURCE -DWGXDP_VERSION=\"$(VERSION)\" \
	      -I. -I$(BUILD) $(PKG_CFLAGS)
LDLIBS     += $(PKG_LIBS)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -I. -I$(BUILD)

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS   := $(wildcard bpf/*.h) $(wildcard maps/*.h)
LIB_SRCS   := $(wildcard loader/*.c)
LIB_OBJS   := $(patsubst loader/%.c,$(BUILD)/loader/%.o,$(LIB_SRCS))
LIB        := $(BUILD)/libwgxdp.a
TOOL_SRCS  := $(wildcard tools/*.c)
TOOL_OBJS  := $(patsubst tools/%.c,$(BUILD)/tools/%.o,$(TOOL_SRCS))
HDRS       := $(wildcard loader/*.h) $(wildcard tools/*.h) $(wildcard maps/*.h)
PT_SRCS    := $(wildcard tests/prog_tests/*.c)
PT_OBJS    := $(patsubst tests/prog_tests/%.c,$(BUILD)/prog_tests/%.o,$(PT_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_TOOLS := $(BUILD)/unit/wgdev_tool $(BUILD)/unit/enforce_tool
BENCH_BPF  := $(BUILD)/bench_pass.skel.h
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard tests/bench/*.c))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps test test-all test-host test-unit test-progs test-integration vmtest bench demo \
	install uninstall clean vmlinux check-deps

all: check-deps $(BUILD)/wgxdp $(BUILD)/test_progs $(UNIT_BINS) $(UNIT_TOOLS) $(BENCH_BINS)

check-deps:
	@tools/deps.sh --check

deps:
	@tools/deps.sh

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	@# libbpf does not know libxdp's .xdp_run_config section: that warning is expected
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@ 2> $@.err || { cat $@.err; false; }
	$(Q)grep -v 'unrecognized data section.*xdp_run_config' $@.err >&2 || true; rm -f $@.err

$(BUILD)/bench_pass.bpf.o: tests/bench/bench_pass.bpf.c vmlinux.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/loader/%.o: loader/%.c $(HDRS) $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tools/%.o: tools/%.c $(HDRS) $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/wgxdp: $(TOOL_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/prog_tests/%.o: tests/prog_tests/%.c $(wildcard tests/prog_tests/*.h) $(HDRS) $(SKELS) \
		$(BENCH_BPF) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -Itests/prog_tests -c $< -o $@

$(BUILD)/test_progs: $(PT_OBJS) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(HDRS) $(LIB) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -Itests/unit $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/%: tests/bench/%.c $(HDRS) $(SKELS) $(BENCH_BPF) $(LIB) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CFLAGS) -Itests/unit $< $(LIB) $(LDLIBS) -o $@

$(BUILD):
	$(Q)mkdir -p $@

# Test tiers. The host tier runs unit tests, BPF_PROG_TEST_RUN cases and the namespace
# integration tests (wireguard-go); the VM tier boots Debian kernels with real WireGuard.
# `make test` and `make demo` first install what is missing (tools/deps.sh), then start a
# make that sees the libraries.
test:
	$(Q)tools/deps.sh
	$(Q)$(MAKE) --no-print-directory test-all

test-all: all
	$(Q)tests/run.sh host
	$(Q)$(MAKE) --no-print-directory vmtest

test-host: all
	$(Q)tests/run.sh host

test-unit: all
	$(Q)tests/run.sh unit

test-progs: all
	$(Q)tests/run.sh progs

test-integration: all
	$(Q)tests/run.sh integration

vmtest: all
	$(Q)tests/vm/vmtest.sh --kernels "$(KERNELS)" -- tests/vm/guest-suite.sh

bench: all
	$(Q)tests/bench/run.sh

demo:
	$(Q)tools/deps.sh
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh

# The binary, the man page, the systemd unit (wgxdp@WG.service, its ExecStart paths from
# PREFIX), the logrotate file, and /etc/default/wgxdp unless it exists (a local setting is
# never overwritten).
install: all
	install -D -m 0755 $(BUILD)/wgxdp $(DESTDIR)$(PREFIX)/sbin/wgxdp
	install -D -m 0644 tools/wgxdp.8 $(DESTDIR)$(PREFIX)/share/man/man8/wgxdp.8
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' tools/wgxdp@.service > $(DESTDIR)$(UNITDIR)/wgxdp@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/wgxdp@.service
	install -D -m 0644 tools/wgxdp.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/wgxdp
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/wgxdp ] || \
		install -D -m 0644 tools/wgxdp.default $(DESTDIR)$(SYSCONFDIR)/default/wgxdp

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/wgxdp $(DESTDIR)$(PREFIX)/share/man/man8/wgxdp.8 \
		$(DESTDIR)$(UNITDIR)/wgxdp@.service $(DESTDIR)$(SYSCONFDIR)/logrotate.d/wgxdp

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h

clean:
	rm -rf $(BUILD)

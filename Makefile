# clicksieve build. Everything generated goes to $(BUILD).
BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)

ARCH_TRIPLE := $(shell $(CC) -dumpmachine)
BPF_ARCH    := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE
CPPFLAGS += -Iinclude -Iuser -I$(BUILD) -DCS_VERSION='"$(VERSION)"' \
            -DCS_DATADIR='"$(PREFIX)/share/clicksieve"'
LDLIBS   += -lbpf -lelf -lz -lpcap -lmicrohttpd -linih -ljansson -lm

BPF_CFLAGS := -target bpf -O2 -g -Wall -D__TARGET_ARCH_$(BPF_ARCH) \
              -Iinclude -I/usr/include/$(ARCH_TRIPLE)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

LIB_SRCS  := $(filter-out user/main.c,$(wildcard user/*.c))
LIB_OBJS  := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libclicksieve.a
BIN       := $(BUILD)/clicksieve

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(wildcard tests/unit/test_*.c))
BPF_TESTS  := $(patsubst tests/bpf/%.c,$(BUILD)/tests/bpf/%,$(wildcard tests/bpf/test_*.c))
BENCHES    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
TEST_HELPERS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(wildcard tests/helpers/*.c))

# libFuzzer harnesses. Each tests/fuzz/fuzz_*.c names the library sources it
# needs on one line:  /* fuzz-sources: user/track.c user/addr.c */
FUZZ_HARNESSES := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS   ?= 30
FUZZ_CFLAGS    := -std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE \
                  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

.PHONY: all deps test demo bench fuzz install clean
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BIN)

deps:
	@scripts/deps.sh build

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/*.h include/*.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(BUILD)/user/%.o: user/%.c $(wildcard user/*.h) $(wildcard include/*.h) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/user/main.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB) $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) $< $(LIB) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/bpf/%: tests/bpf/%.c $(LIB) $(SKELS) $(wildcard tests/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) $< $(LIB) $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/helpers/%: tests/helpers/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(LIB) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/fuzz/%: tests/fuzz/%.c $(wildcard user/*.c user/*.h include/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) $(FUZZ_CFLAGS) $< \
		$$(sed -n 's|^/\* fuzz-sources: \(.*\) \*/$$|\1|p' $<) -lm -o $@

# Runs each harness for FUZZ_SECONDS; tests/fuzz/seeds/<harness>/ seeds the
# corpus kept in $(BUILD)/fuzz/corpus/<harness>/, crashes land in $(BUILD)/fuzz/.
fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ_HARNESSES)
	@set -e; for h in $(FUZZ_HARNESSES); do \
		name=$${h##*/}; corpus=$(BUILD)/fuzz/corpus/$$name; mkdir -p $$corpus; \
		echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
		$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/$$name- $$corpus \
			$$(test -d tests/fuzz/seeds/$$name && echo tests/fuzz/seeds/$$name); \
	done

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory $(BIN) $(UNIT_TESTS) $(BPF_TESTS) $(TEST_HELPERS)
	@BUILD=$(BUILD) tests/run.sh

demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory $(BIN)
	@BUILD=$(BUILD) scripts/demo.sh

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory $(BIN) $(BENCHES) $(TEST_HELPERS)
	@BUILD=$(BUILD) bench/run.sh

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/sbin/clicksieve
	install -D -m 0644 data/default-ranges.txt $(DESTDIR)$(PREFIX)/share/clicksieve/default-ranges.txt
	install -D -m 0644 data/bot-agents.txt $(DESTDIR)$(PREFIX)/share/clicksieve/bot-agents.txt
	install -D -m 0644 data/clicksieve.conf.example $(DESTDIR)$(PREFIX)/share/clicksieve/clicksieve.conf.example
	install -D -m 0755 scripts/update-ranges $(DESTDIR)$(PREFIX)/sbin/clicksieve-update-ranges

clean:
	rm -rf $(BUILD)

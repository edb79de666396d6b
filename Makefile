# ngx_http_mixpanel_module
#
#   make            install missing Debian packages, build the module
#   make test       build, run the suite on Debian's nginx and on nginx 1.26.3
#   make demo       build and show the module at work
#   make bench      benchmark (see docs/performance.md)
#   make mutate     mutation testing of the C against the suite
#                   (docs/testing.md; MUTATE_ARGS="--count 8 --seed 2")
#
# NGINX_VERSIONS=1.22 limits "make test" to Debian's nginx.

SHELL          := /bin/bash
REPO           := $(CURDIR)
BUILD          := $(REPO)/build
NGX_SRC        := $(BUILD)/nginx-src
MODULE         := $(BUILD)/ngx_http_mixpanel_module.so
UPSTREAM_VER   := 1.26.3
UPSTREAM       := $(BUILD)/nginx-$(UPSTREAM_VER)
UPSTREAM_BIN   := $(UPSTREAM)/objs/nginx
UPSTREAM_MOD   := $(UPSTREAM)/objs/ngx_http_mixpanel_module.so
NGINX_VERSIONS ?= 1.22 $(UPSTREAM_VER)
PROVE_ARGS     ?= t
SOURCES        := config $(wildcard ngx_mixpanel_module/*.[ch])

# Debian packages: building, the test suite (our Test::Nginx needs only
# Test::Base; the rest serves the real Test::Nginx when it is present),
# the emulator's conformance test and the benchmark.
BUILD_DEBS := nginx-core nginx-dev build-essential libcurl4-openssl-dev \
              libjansson-dev libssl-dev libisal-dev libdeflate-dev \
              libcjose-dev libpcre2-dev zlib1g-dev
TEST_DEBS  := perl libtest-base-perl libtext-diff-perl liburi-perl \
              libwww-perl libtest-longstring-perl liblist-moreutils-perl \
              libipc-run-perl python3 valgrind curl openssl dpkg-dev
BENCH_DEBS := wrk

.PHONY: all deps test-deps parity-deps module test test-emulator test-1.22 \
        test-$(UPSTREAM_VER) \
        upstream demo bench clean

all: module

deps:
	@tools/ensure-debs $(BUILD_DEBS)

# node and npm may come from elsewhere (the machine image has NodeSource's
# nodejs, which conflicts with Debian's npm): install only when absent.
test-deps: deps
	@tools/ensure-debs $(TEST_DEBS)
	@command -v npm >/dev/null || tools/ensure-debs nodejs npm

# mixpanel-browser, the version and dependencies t/parity/package.json and
# package-lock.json pin, in build/mixpanel-browser: the parity tests
# (t/080, t/082) compare the module with the SDK itself.
parity-deps: test-deps
	@tools/install-mixpanel-browser

module: deps $(MODULE)

$(NGX_SRC)/objs/Makefile: config
	@mkdir -p $(BUILD)
	@if [ ! -x $(NGX_SRC)/configure ]; then \
	    rm -rf $(NGX_SRC) && cp -a /usr/share/nginx/src $(NGX_SRC); fi
	cd $(NGX_SRC) && . ./conf_flags \
	    && ./configure "$${NGX_CONF_FLAGS[@]}" \
	       --with-cc-opt="-Werror -Wall -Wpointer-arith -g -O2" \
	       --add-dynamic-module=$(REPO) > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(NGX_SRC)/objs/Makefile $(SOURCES)
	$(MAKE) -C $(NGX_SRC) -f objs/Makefile modules
	@# a new inode: a running nginx keeps the object it mapped
	cp $(NGX_SRC)/objs/ngx_http_mixpanel_module.so $(MODULE).tmp
	mv -f $(MODULE).tmp $(MODULE)

upstream: deps $(UPSTREAM_MOD)

# built with libdeflate, not ISA-L: the suite runs once on each gzip
$(UPSTREAM_MOD): $(SOURCES) tools/build-upstream-nginx
	NGX_MIXPANEL_GZIP=libdeflate \
	tools/build-upstream-nginx $(UPSTREAM_VER) $(UPSTREAM)

# the emulator's own suite does not involve nginx: it runs once
test: test-deps parity-deps module
	@rc=0; $(MAKE) --no-print-directory test-emulator || rc=1; \
	for v in $(NGINX_VERSIONS); do \
	    $(MAKE) --no-print-directory test-$$v || rc=1; done; exit $$rc

test-emulator:
	@echo "=== the Mixpanel emulator ==="
	tools/prove t/emulator

test-1.22:
	@echo "=== nginx 1.22 (Debian) ==="
	TEST_NGINX_BINARY=/usr/sbin/nginx \
	TEST_NGINX_LOAD_MODULES=$(MODULE) \
	tools/prove $(PROVE_ARGS)

test-$(UPSTREAM_VER): upstream
	@echo "=== nginx $(UPSTREAM_VER) (upstream source) ==="
	TEST_NGINX_BINARY=$(UPSTREAM_BIN) \
	TEST_NGINX_LOAD_MODULES=$(UPSTREAM_MOD) \
	tools/prove $(PROVE_ARGS)

demo: test-deps module
	tools/demo

bench: test-deps module
	@tools/ensure-debs $(BENCH_DEBS)
	tools/bench

# The Debian package libnginx-mod-http-mixpanel (docs/install.md).  The
# version's one source is NGX_HTTP_MIXPANEL_VERSION in the header (it is
# also $lib_version); packaging/debian/changelog and CHANGELOG.md must
# have an entry for it.  packaging/debian/ is copied with the sources into
# build/deb/src and built there with dh_nginx: the tree stays clean.
MODULE_VERSION := $(shell sed -n \
    's/^.define NGX_HTTP_MIXPANEL_VERSION *"\([^"]*\)".*/\1/p' \
    ngx_mixpanel_module/ngx_http_mixpanel_module.h)
DEB_ARCH   := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_DIR    := $(BUILD)/deb
DEB        := $(BUILD)/libnginx-mod-http-mixpanel_$(MODULE_VERSION)_$(DEB_ARCH).deb
DEB_DEBS   := debhelper dpkg-dev fakeroot
DEB_INPUTS := $(SOURCES) $(shell find packaging/debian -type f) \
              README.md CHANGELOG.md $(wildcard docs/*.md)

.PHONY: deb deb-deps

deb: $(DEB)
	@echo "$(DEB)"

deb-deps: deps
	@tools/ensure-debs $(DEB_DEBS)

$(DEB): $(DEB_INPUTS) | deb-deps
	@v=$$(dpkg-parsechangelog -l packaging/debian/changelog -S Version); \
	if [ "$$v" != "$(MODULE_VERSION)" ]; then \
	    echo "packaging/debian/changelog is at $$v," \
	         "ngx_http_mixpanel_module.h at $(MODULE_VERSION)" >&2; exit 1; fi
	@grep -q '^## \[$(MODULE_VERSION)\]' CHANGELOG.md \
	    || { echo "CHANGELOG.md has no [$(MODULE_VERSION)] section" >&2; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/src
	cp -a config ngx_mixpanel_module README.md CHANGELOG.md docs \
	    $(DEB_DIR)/src/
	cp -a packaging/debian $(DEB_DIR)/src/debian
	cd $(DEB_DIR)/src && dpkg-buildpackage -b -us -uc \
	    > $(DEB_DIR)/build.log 2>&1 \
	    || { tail -30 $(DEB_DIR)/build.log; exit 1; }
	cp $(DEB_DIR)/$(notdir $(DEB)) $(DEB).tmp
	mv -f $(DEB).tmp $(DEB)

# Memory safety (docs/testing.md).  test-valgrind: the suite on Debian's
# nginx under memcheck, valgrind.suppress silencing nginx's own reports.
# test-asan: nginx 1.26.3 and the module built with ASan and UBSan (ODR
# checks off: every dynamic module defines ngx_module_names, as nginx
# does); a
# report from any process (in build/asan/reports: log_path files and all
# nginx stderr, kept by tools/nginx-tee-stderr) fails the run.  fuzz: the libFuzzer targets of fuzz/, each run
# for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_DIR     := $(BUILD)/fuzz
ASAN_DIR     := $(BUILD)/asan
ASAN_NGINX   := $(ASAN_DIR)/nginx/objs
TSAN_DIR     := $(BUILD)/tsan
TSAN_NGINX   := $(TSAN_DIR)/nginx/objs
FUZZ_DEBS    := clang libclang-rt-14-dev llvm

# test-tsan: nginx 1.26.3 and the module built with -fsanitize=thread, on
# the tests where the sender thread and the worker meet (delivery,
# shutdown, exit, reopen, faults, spool, reload, replay, lanes, status,
# load); a report from any process (log_path files in
# build/tsan/reports) fails the run.  tsan.suppress holds nginx's own
# reports only, each explained.
TSAN_TESTS   ?= t/030-delivery.t t/040-shutdown.t t/041-exit.t \
                t/042-reopen.t t/090-faults.t t/092-spool.t t/093-reload.t \
                t/097-replay.t t/098-lanes.t t/099-status.t \
                t/101-load-faults.t

.PHONY: test-valgrind test-asan test-tsan fuzz mutate mutate-selftest

test-valgrind: test-deps module
	@echo "=== nginx 1.22 (Debian) under valgrind ==="
	TEST_NGINX_USE_VALGRIND=1 \
	TEST_NGINX_BINARY=/usr/sbin/nginx \
	TEST_NGINX_LOAD_MODULES=$(MODULE) \
	tools/prove $(PROVE_ARGS)

test-asan: test-deps
	tools/build-sanitized-nginx asan $(UPSTREAM_VER) $(ASAN_DIR)/nginx
	@echo "=== nginx $(UPSTREAM_VER) with ASan and UBSan ==="
	@rm -rf $(ASAN_DIR)/reports && mkdir -p $(ASAN_DIR)/reports
	@rc=0; \
	ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0:log_path=$(ASAN_DIR)/reports/asan \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$(ASAN_DIR)/reports/ubsan:suppressions=$(REPO)/ubsan.suppress \
	NGINX_TEE_BINARY=$(ASAN_NGINX)/nginx \
	NGINX_TEE_LOG=$(ASAN_DIR)/reports/stderr.log \
	TEST_NGINX_BINARY=$(REPO)/tools/nginx-tee-stderr \
	TEST_NGINX_LOAD_MODULES=$(ASAN_NGINX)/ngx_http_mixpanel_module.so \
	TEST_NGINX_SRC=$(BUILD)/nginx-$(UPSTREAM_VER) \
	TEST_MIXPANEL_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
	tools/prove $(PROVE_ARGS) || rc=1; \
	if grep -l -E 'AddressSanitizer|runtime error' \
	       $(ASAN_DIR)/reports/* 2>/dev/null; then \
	    cat $(ASAN_DIR)/reports/* | head -100; \
	    echo "sanitizer reports in $(ASAN_DIR)/reports"; rc=1; fi; \
	exit $$rc

test-tsan: test-deps
	tools/build-sanitized-nginx tsan $(UPSTREAM_VER) $(TSAN_DIR)/nginx
	@echo "=== nginx $(UPSTREAM_VER) with TSan ==="
	@rm -rf $(TSAN_DIR)/reports && mkdir -p $(TSAN_DIR)/reports
	@rc=0; \
	TSAN_OPTIONS="log_path=$(TSAN_DIR)/reports/tsan second_deadlock_stack=1 suppressions=$(REPO)/tsan.suppress" \
	NGINX_TEE_BINARY=$(TSAN_NGINX)/nginx \
	NGINX_TEE_LOG=$(TSAN_DIR)/reports/stderr.log \
	TEST_NGINX_BINARY=$(REPO)/tools/nginx-tee-stderr \
	TEST_NGINX_LOAD_MODULES=$(TSAN_NGINX)/ngx_http_mixpanel_module.so \
	tools/prove $(TSAN_TESTS) || rc=1; \
	if grep -l 'ThreadSanitizer' $(TSAN_DIR)/reports/* 2>/dev/null; then \
	    cat $(TSAN_DIR)/reports/* | head -100; \
	    echo "sanitizer reports in $(TSAN_DIR)/reports"; rc=1; fi; \
	exit $$rc

fuzz: deps
	@tools/ensure-debs $(FUZZ_DEBS)
	tools/build-sanitized-nginx fuzz $(UPSTREAM_VER) $(FUZZ_DIR)/nginx
	fuzz/run $(FUZZ_DIR) $(FUZZ_SECONDS)

# Mutation testing (docs/testing.md): tools/mutate builds each mutant in
# build/mutate/ from the configured build/nginx-src and runs the suite on
# Debian's nginx against it; reports in build/mutate/report.{txt,json}.
# Not part of "make test", which runs only its self-test (t/004-mutate.t).
MUTATE_ARGS ?=

mutate: test-deps module
	tools/mutate $(MUTATE_ARGS)

mutate-selftest:
	tools/prove t/004-mutate.t

clean:
	rm -rf $(BUILD) t/servroot*

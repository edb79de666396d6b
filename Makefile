# ngx_http_mixpanel_module
#
#   make            install missing Debian packages, build the module
#   make test       build, run the suite on Debian's nginx and on nginx 1.26.3
#   make demo       build and show the module at work
#   make bench      benchmark (see docs/performance.md)
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
              libjansson-dev libssl-dev libdeflate-dev libcjose-dev \
              libpcre2-dev zlib1g-dev
TEST_DEBS  := perl libtest-base-perl libtext-diff-perl liburi-perl \
              libwww-perl libtest-longstring-perl liblist-moreutils-perl \
              libipc-run-perl python3 valgrind curl openssl dpkg-dev
BENCH_DEBS := wrk

.PHONY: all deps test-deps module test test-emulator test-1.22 \
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

$(UPSTREAM_MOD): $(SOURCES)
	tools/build-upstream-nginx $(UPSTREAM_VER) $(UPSTREAM)

# the emulator's own suite does not involve nginx: it runs once
test: test-deps module
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

clean:
	rm -rf $(BUILD) t/servroot*

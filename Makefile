# Portcullis — `make test` runs every test; `make dev` starts a local cluster
# with a real node, installs Portcullis with Helm and a demo agent. Both
# install what is missing: npm packages (npm ci), the Kubernetes, etcd, helm
# and versitygw binaries (built with Go into ~/.cache/portcullis/tools, or
# $PORTCULLIS_TOOLS_DIR), the Debian packages the e2e tests run (PostgreSQL,
# its clients, psycopg2, iptables, iproute2, curl, containerd, runc, the CNI
# plugins) and the images (make images).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# npm's node@22 package provides the Node the project runs on (see README).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js
CONTROLPLANE := node e2e/dist/controlplane/cli.js
WORKSPACE_MANIFESTS := package.json package-lock.json $(wildcard */package.json */*/package.json)

.PHONY: all deps build generate lint test test-unit test-e2e tools system-deps dev-deps try-deps images controlplane-up controlplane-down dev dev-down try clean

all: build

deps: node_modules/.portcullis-installed

node_modules/.portcullis-installed: $(WORKSPACE_MANIFESTS)
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20+ with npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

build: deps
	tsc -b
	chmod +x cli/dist/main.js

generate: deps
	node crds/models/scripts/generate-models.mjs

lint: deps
	eslint .

tools: build
	@command -v go >/dev/null || { echo "Go is missing: the control-plane binaries are built from Go modules (install Go 1.26+)" >&2; exit 1; }
	$(CONTROLPLANE) tools

# Debian 12 packages the e2e tests start or drive: the PostgreSQL 15 server
# (initdb, postgres and pgbench live in /usr/lib/postgresql/15/bin), psql,
# Python's PostgreSQL driver, the tools for transparent-interception tests,
# g++ (make fuzz builds a small glibc-compatibility shim for jazzer.js's addon),
# curl (in the demo agent image, and an HTTP gateway client), the HTTP
# gateway's other real parts (nginx as a backend and the bench's baseline,
# Python requests as a client, wrk for make bench-http) and the test node's
# container runtime (containerd, runc, the CNI plugins).
SYSTEM_PACKAGES := postgresql-15 postgresql-client-15 python3-psycopg2 iptables iproute2 g++ curl nginx-light python3-requests wrk containerd runc containernetworking-plugins
# What `make dev` uses: the demo database and psql, what the images copy from
# the host (curl, iptables) and the node's runtime. What `make try` uses: the
# database and psql.
DEV_PACKAGES := postgresql-15 postgresql-client-15 iptables iproute2 curl containerd runc containernetworking-plugins
TRY_PACKAGES := postgresql-15 postgresql-client-15
# What `make regress` adds: dpkg-source to unpack PostgreSQL's Debian source
# package, and a C toolchain to build pg_regress and the suite's modules.
REGRESS_PACKAGES := postgresql-15 postgresql-client-15 dpkg-dev gcc make libc6-dev
# What `make bench` adds: pgbouncer, the baseline the PostgreSQL gateway is
# measured against (pgbench comes with postgresql-client-15).
BENCH_PACKAGES := postgresql-15 postgresql-client-15 pgbouncer
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends
CREATECLUSTER_CONF := /etc/postgresql-common/createcluster.conf

# Installs the Debian packages $(1) that are missing. Asks dpkg only, so a
# warm machine pays a few milliseconds; apt-get runs (with one `apt-get
# update`) only when a package is missing. The tests start their own
# PostgreSQL in a temporary directory, so the package's default cluster is
# not wanted: postgresql-common goes in first and create_main_cluster is
# turned off before postgresql-15's install script would create and start it.
define apt-ensure
	@command -v dpkg-query >/dev/null || { echo "this needs Debian or Ubuntu (dpkg and apt-get); install by other means: $(1)" >&2; exit 1; }
	@missing=""; \
	for package in $(1); do \
	  [ "$$(dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null)" = "install ok installed" ] || missing="$$missing $$package"; \
	done; \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "missing system packages:$$missing. As root, run:" >&2; \
	  echo "  apt-get update && $(APT_INSTALL)$$missing" >&2; \
	  echo "(or: sudo make $@)" >&2; \
	  exit 1; \
	fi; \
	echo "installing system packages:$$missing"; \
	apt-get update; \
	if [[ " $$missing " == *" postgresql-15 "* ]]; then \
	  $(APT_INSTALL) postgresql-common; \
	  grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=' $(CREATECLUSTER_CONF) || \
	    echo "create_main_cluster = false  # portcullis: the tests start their own servers" >>$(CREATECLUSTER_CONF); \
	fi; \
	$(APT_INSTALL)$$missing
endef

system-deps:
	$(call apt-ensure,$(SYSTEM_PACKAGES))

dev-deps:
	$(call apt-ensure,$(DEV_PACKAGES))

try-deps:
	$(call apt-ensure,$(TRY_PACKAGES))

regress-deps:
	$(call apt-ensure,$(REGRESS_PACKAGES))

bench-deps:
	$(call apt-ensure,$(BENCH_PACKAGES))

test-unit: build
	$(JEST) --selectProjects unit

test-e2e: build tools system-deps images
	$(JEST) --selectProjects e2e

# The images as OCI archives in out/images (no registry, no container engine):
# operator, sidecar, CLI and init, plus the demo agent and the pause image the
# test node runs (they copy psql, curl and iptables from the host: dev-deps).
# Prints each image's digest and size.
images: build tools dev-deps
	node e2e/dist/images/cli.js

test: lint test-unit test-e2e fuzz

controlplane-up: build tools
	@$(CONTROLPLANE) up

controlplane-down: build
	@$(CONTROLPLANE) down

# A local cluster with a real node, Portcullis installed by Helm, a demo
# database and agent, and the commands to try; Ctrl-C stops it all.
dev: build tools dev-deps images
	@node e2e/dist/node/dev.js up

# Five minutes with Portcullis and no cluster to install: a throwaway
# PostgreSQL with sample data, the gateway in standalone mode with a policy,
# an API server for the approvals, the psql line and what to try; Ctrl-C
# stops it all.
try: build tools try-deps
	@node e2e/dist/try/try.js

# Stops a `make dev` left running (or puts back what a killed one left).
dev-down: build
	@node e2e/dist/node/dev.js down

clean:
	rm -rf node_modules out */dist */*/dist *.tsbuildinfo */*.tsbuildinfo */*/*.tsbuildinfo

# Coverage-guided fuzzing of the gateway's PostgreSQL frontend parser with
# jazzer.js (a devDependency of e2e, installed by `npm ci`), bounded to
# FUZZ_SECONDS; prints the executions, their rate and the edges reached, and
# keeps any crashing input (see e2e/src/fuzz/run.ts).
FUZZ_SECONDS ?= 30
.PHONY: fuzz bench bench-deps bench-micro bench-http bench-kubernetes bench-mcp soak regress regress-deps
fuzz: build system-deps
	node e2e/dist/fuzz/run.js $(FUZZ_SECONDS)

# PostgreSQL's own regression suite (pg_regress, parallel_schedule) directly
# and through the gateway with an allow-everything policy, reporting the tests
# that pass directly but not through it; a difference not explained in
# e2e/src/regress/explained-differences.ts fails the run. The first run fetches
# the installed server's Debian source package (apt-get source) and builds
# pg_regress and regress.so into the tools cache (about a minute); a run takes
# about two minutes. Not part of `make test`.
regress: build regress-deps
	node e2e/dist/regress/regress.js

# The PostgreSQL gateway in one run against PostgreSQL directly, pgbouncer
# (session pooling, SCRAM) and a bare Node.js relay (the floor of a proxy on
# Node.js), with an allow rule and with the full example policy (rules,
# masking, evidence): pgbench -S -c8 simple and prepared, the default write mix
# -c8, -S -c1 latency, CPU µs per statement of the gateways, the relay and
# pgbouncer, the gateways' RSS idle and after load (split into V8's heap and the
# rest), ratios to pgbouncer and the targets met or missed; for a gateway that
# misses a CPU, throughput or latency target, where a profiled twin's time goes
# and each part's next lever. It first checks that each gateway denies a DROP
# and masks what it should (exit 1 if not, or if a component is missing); a
# missed target does not fail it. BENCH_ROUNDS (2) interleaved rounds of
# BENCH_SECONDS (10) per run, about 8 minutes; BENCH_SECONDS=3 BENCH_ROUNDS=1
# for a quick look. BENCH_PROFILE_DIR=DIR keeps the profiles. Not part of
# `make test`.
bench: build system-deps bench-deps
	node e2e/dist/bench/postgres-gateway.bench.js

# Micro-benchmarks of the PostgreSQL gateway's hot path, each in a *.bench.ts
# beside the code it measures (sidecar/src): classifying a statement, the
# policy decision, appending its evidence to a spool in a temporary directory,
# masking a result's rows, the message path. Each case runs for about
# BENCH_MICRO_MS (1000) of the main thread's CPU time after a warm-up, with
# the gateway's V8 flags and malloc setting (e2e/src/images/specs.ts), and
# prints that time per operation, operations per second, the share of a core
# it had and its multiple of a floor measured in the same run; 30 to 40
# seconds in all.
# Reported, not asserted; not part of `make test`.
bench-micro: build
	node e2e/dist/bench/micro-benches.js

# SOAK_SESSIONS (1000) PostgreSQL sessions through one gateway for SOAK_SECONDS
# (60), each sending a statement every SOAK_TRICKLE_MS (5000), with evidence
# recorded: sessions opened and dropped, statements run and failed, the
# gateway's RSS idle, at its peak and after. Fails when a session is dropped.
soak: build system-deps
	node e2e/dist/bench/postgres-soak.bench.js

# The HTTP gateway against nginx in one run (wrk -t2 -c50): direct, nginx as a
# reverse proxy with upstream keep-alive, the gateway with an allow rule and
# credential injection, the gateway masking a JSON body. Reported, not
# asserted; BENCH_SECONDS and BENCH_ROUNDS tune it.
bench-http: build system-deps
	node e2e/dist/bench/http-gateway.bench.js

# The Kubernetes API gateway against the API server in one run: kubectl get
# pods, and client-node listing 1,000 ConfigMaps and 1,000 masked Secrets,
# direct and through the gateway. Reported, not asserted; BENCH_ROUNDS,
# BENCH_KUBECTL_RUNS and BENCH_LIST_RUNS tune it.
bench-kubernetes: build tools
	node e2e/dist/bench/kubernetes-gateway.bench.js

# The MCP gateway against the same MCP server in one run, with the official
# SDK's client: tools/list and tools/call direct, through the gateway with
# allow rules, and through it masking emails. Reported, not asserted;
# BENCH_ROUNDS and BENCH_RUNS tune it.
bench-mcp: build
	node e2e/dist/bench/mcp-gateway.bench.js

# Portcullis — `make test` runs every test; `make dev` starts a local control
# plane, installs Portcullis and runs the operator in the foreground. Both install what is missing: npm
# packages (npm ci) and the control-plane binaries (built with Go into
# ~/.cache/portcullis/tools, or $PORTCULLIS_TOOLS_DIR).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# npm's node@22 package provides the Node the project runs on (see README).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

JEST := node --experimental-vm-modules node_modules/jest/bin/jest.js
CONTROLPLANE := node e2e/dist/controlplane/cli.js
WORKSPACE_MANIFESTS := package.json package-lock.json $(wildcard */package.json */*/package.json)

.PHONY: all deps build generate lint test test-unit test-e2e tools controlplane-up controlplane-down dev clean

all: build

deps: node_modules/.portcullis-installed

node_modules/.portcullis-installed: $(WORKSPACE_MANIFESTS)
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20+ with npm (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $@

build: deps
	tsc -b

generate: deps
	node crds/models/scripts/generate-models.mjs

lint: deps
	eslint .

tools: build
	@command -v go >/dev/null || { echo "Go is missing: the control-plane binaries are built from Go modules (install Go 1.26+)" >&2; exit 1; }
	$(CONTROLPLANE) tools

test-unit: build
	$(JEST) --selectProjects unit

test-e2e: build tools
	$(JEST) --selectProjects e2e

test: lint test-unit test-e2e

controlplane-up: build tools
	@$(CONTROLPLANE) up

controlplane-down: build
	@$(CONTROLPLANE) down

dev: build tools
	@$(CONTROLPLANE) dev

clean:
	rm -rf node_modules */dist */*/dist *.tsbuildinfo */*.tsbuildinfo */*/*.tsbuildinfo

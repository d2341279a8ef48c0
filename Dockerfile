# The shipped images, for those who build with Docker or Buildah where base
# images can be pulled:
#   docker build --target portcullis-operator -t REGISTRY/portcullis-operator:0.1.0 .
#   (likewise portcullis-sidecar, portcullis-cli, portcullis-init)
# `make images` builds the same images without a registry or a container
# engine (e2e/src/images/specs.ts); e2e/src/images/dockerfile.test.ts keeps the
# two in step: each stage's entrypoint and user are the spec's, and the Node
# images hold the same files (/app/<workspace>/dist and the production
# node_modules) on the same Node major.

FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund && npx tsc -b \
 && rm -rf node_modules && npm ci --omit=dev --no-audit --no-fund \
 && find */dist crds/models/dist \( -name '*.test.js' -o -name '*.bench.js' -o -name '*.d.ts' -o -name '*.map' \) -delete

# Node and the libraries it loads (glibc, libstdc++), nothing else; runs as nonroot unless a stage says otherwise.
FROM gcr.io/distroless/cc-debian12:nonroot AS node-runtime
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# Blocks of 32 KiB and more are mapped on their own and go back to the system when freed (e2e/src/images/specs.ts says why).
ENV PATH=/usr/local/bin:/usr/bin:/usr/sbin NODE_ENV=production MALLOC_MMAP_THRESHOLD_=32768
COPY --from=build /src/node_modules /app/node_modules
# npm keeps some packages beside a workspace (crds/node_modules), where only that workspace finds them.
COPY --from=build /src/crds/node_modules /app/crds/node_modules
COPY --from=build /src/crds/models/package.json /app/crds/models/package.json
COPY --from=build /src/crds/models/dist /app/crds/models/dist
COPY --from=build /src/common/package.json /app/common/package.json
COPY --from=build /src/common/dist /app/common/dist

FROM node-runtime AS portcullis-operator
COPY --from=build /src/operator/package.json /app/operator/package.json
COPY --from=build /src/operator/dist /app/operator/dist
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/node", "/app/operator/dist/main.js"]

FROM node-runtime AS portcullis-sidecar
COPY --from=build /src/sidecar/package.json /app/sidecar/package.json
COPY --from=build /src/sidecar/dist /app/sidecar/dist
USER 1337:1337
ENTRYPOINT ["/usr/local/bin/node", "--no-wasm-dynamic-tiering", "--wasm-num-compilation-tasks=1", "/app/sidecar/dist/main.js"]

FROM node-runtime AS portcullis-cli
COPY --from=build /src/cli/package.json /app/cli/package.json
COPY --from=build /src/cli/dist /app/cli/dist
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/node", "/app/cli/dist/main.js"]

# The init container installs iptables rules as root with NET_ADMIN, then exits.
FROM debian:bookworm-slim AS portcullis-init
RUN apt-get update && apt-get install -y --no-install-recommends iptables && rm -rf /var/lib/apt/lists/*
USER 0:0
ENTRYPOINT ["/bin/sh"]

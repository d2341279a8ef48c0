// The images Portcullis ships and the ones its tests and `make dev` run, as
// data: what each holds, how it starts, as whom. The OCI builder (build.ts)
// and the Dockerfile's check (dockerfile.test.ts) both read them.
import { join } from "node:path";
import type { RootFs } from "./rootfs.js";

/** UIDs: the gateway's is the one the transparent-mode iptables rules let out (operator/src/webhooks/inject/settings.ts). */
export const USERS = { nonroot: 65532, gateway: 1337, agent: 1000 } as const;

export const NODE_PATH = "/usr/local/bin/node";
const PATH = "PATH=/usr/local/bin:/usr/bin:/usr/sbin";

/**
 * How the Node images keep their memory bounded. glibc keeps the memory its threads freed for reuse, and
 * V8's optimising compiler frees tens of MiB of zone memory after compiling the parser's WebAssembly, so a
 * gateway that had compiled it stayed 60 to 100 MiB above where it started. Allocations of 32 KiB and more
 * mapped on their own (a fixed threshold: glibc otherwise raises it as large blocks are freed) go back to
 * the system when freed; measured, this does not add a system call per socket read.
 */
export const NODE_MEMORY_ENV = { MALLOC_MMAP_THRESHOLD_: "32768" } as const;

/**
 * V8 flags of the gateway. Without dynamic tiering the parser's WebAssembly functions are optimised once,
 * just after they first run (the first statements, at start), one at a time: a large statement later no
 * longer sets off a compilation that takes the process 100 MiB above its usual size.
 */
export const GATEWAY_NODE_FLAGS = ["--no-wasm-dynamic-tiering", "--wasm-num-compilation-tasks=1"] as const;
const memoryEnv = Object.entries(NODE_MEMORY_ENV).map(([name, value]) => `${name}=${value}`);
/** Where the demo agent's MCP client lives; `mcp-client` on its PATH runs it. */
const MCP_CLIENT_DIR = "/opt/mcp-client";

export interface ImageSpec {
  /** The image's name without registry or tag, e.g. portcullis-sidecar. */
  name: string;
  description: string;
  entrypoint: string[];
  user: string;
  env: string[];
  /** Layers, bottom first: each fills a fresh root filesystem. Shared layers are built once per run. */
  layers: Layer[];
  /** Shipped to users (pushed by the README's steps, covered by the Dockerfile), or only for tests and `make dev`. */
  shipped: boolean;
}

export interface Layer {
  /** Names a layer shared between images; the same name is the same content. */
  name: string;
  fill(root: RootFs, context: BuildContext): void;
}

export interface BuildContext {
  repo: string;
  /** The node binary the project runs on (the node@22 package). */
  nodeBinary: string;
  /** kubectl from the tool cache, for the demo agent. */
  kubectl: string;
}

/** Node and the libraries it loads, the CA certificates, and the accounts every Node image runs as. */
const nodeRuntime: Layer = {
  name: "node-runtime",
  fill(root, context) {
    root.addHostFileAs(context.nodeBinary, NODE_PATH);
    root.addHostFiles(["/etc/ssl/certs/ca-certificates.crt"]);
    root.addAccounts({ nonroot: USERS.nonroot, gateway: USERS.gateway });
  },
};

const nodeApp = (workspace: string): Layer => ({
  name: `app-${workspace}`,
  fill(root, context) {
    root.addNodeApp(context.repo, workspace);
  },
});

const nodeImage = (name: string, workspace: string, user: number, description: string, nodeFlags: readonly string[] = []): ImageSpec => ({
  name,
  description,
  entrypoint: [NODE_PATH, ...nodeFlags, join("/app", workspace, "dist/main.js")],
  user: `${user}:${user}`,
  env: [PATH, "NODE_ENV=production", ...memoryEnv],
  layers: [nodeRuntime, nodeApp(workspace)],
  shipped: true,
});

export const IMAGES: ImageSpec[] = [
  nodeImage("portcullis-operator", "operator", USERS.nonroot, "Portcullis operator: admission webhooks, broker, controllers"),
  nodeImage("portcullis-sidecar", "sidecar", USERS.gateway, "Portcullis gateway sidecar", GATEWAY_NODE_FLAGS),
  nodeImage("portcullis-cli", "cli", USERS.nonroot, "portcullis CLI (approvals, sessions)"),
  {
    name: "portcullis-init",
    description: "Portcullis init container: installs the transparent-mode iptables rules",
    // It needs root and NET_ADMIN for a moment; the injected securityContext says so, and drops everything else.
    entrypoint: ["/bin/sh"],
    user: "0:0",
    env: [PATH],
    layers: [
      {
        name: "iptables",
        fill(root) {
          root.addHostFiles(["/bin/sh", "/usr/sbin/iptables", "/usr/sbin/iptables-save", "/usr/sbin/xtables-nft-multi", "/usr/lib/x86_64-linux-gnu/xtables"]);
          root.addAccounts({});
        },
      },
    ],
    shipped: true,
  },
  {
    name: "portcullis-demo-agent",
    description: "A stand-in agent for tests and make dev: bash, psql, curl, kubectl (and tar, for kubectl cp), and an MCP client (mcp-client URL list|call)",
    entrypoint: ["/usr/bin/sleep", "infinity"],
    user: `${USERS.agent}:${USERS.agent}`,
    env: [PATH, "HOME=/tmp"],
    layers: [
      {
        name: "demo-agent",
        fill(root, context) {
          root.addHostFiles(["/bin/bash", "/bin/sh", "/usr/bin/sleep", "/usr/bin/cat", "/usr/bin/env", "/usr/bin/id", "/usr/bin/ls", "/usr/bin/curl", "/usr/bin/tar", "/etc/ssl/certs/ca-certificates.crt"]);
          root.addHostFileAs("/usr/lib/postgresql/15/bin/psql", "/usr/bin/psql");
          root.addHostFileAs(context.kubectl, "/usr/local/bin/kubectl");
          root.addAccounts({ agent: USERS.agent });
        },
      },
      {
        // The official MCP SDK's client, to call MCP tools through the pod's gateway.
        name: "mcp-client",
        fill(root, context) {
          root.addHostFileAs(context.nodeBinary, NODE_PATH);
          root.addPackageClosure(context.repo, "@modelcontextprotocol/sdk", MCP_CLIENT_DIR);
          root.addHostFileAs(join(context.repo, "e2e/dist/mcp/agent-client.js"), `${MCP_CLIENT_DIR}/agent-client.js`);
          root.addFile(`${MCP_CLIENT_DIR}/package.json`, '{ "type": "module" }\n');
          root.addFile("usr/local/bin/mcp-client", `#!/bin/sh\nexec ${NODE_PATH} ${MCP_CLIENT_DIR}/agent-client.js "$@"\n`, 0o755);
        },
      },
    ],
    shipped: false,
  },
  {
    name: "portcullis-pause",
    description: "The pod sandbox image of the test node (containerd's sandbox_image)",
    entrypoint: ["/usr/bin/sleep", "infinity"],
    user: "65535:65535",
    env: [PATH],
    layers: [
      {
        name: "pause",
        fill(root) {
          root.addHostFiles(["/usr/bin/sleep"]);
        },
      },
    ],
    shipped: false,
  },
];

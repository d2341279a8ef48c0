// nginx from Debian as a second real backend: plain HTTP on loopback, in a
// temporary prefix (its own config, logs and temp paths), answering with what
// it received so tests see the credential the gateway presented.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../controlplane/processes.js";
import { waitUntil } from "../processes/wait.js";

export const NGINX = "/usr/sbin/nginx";

export interface RunningNginx {
  port: number;
  stop(): Promise<void>;
}

/** The test backend: answers /v1/whoami with the Authorization it received and the target. */
export function startNginx(): Promise<RunningNginx> {
  return startNginxWith(
    (port) => `
  server {
    listen 127.0.0.1:${port};
    default_type application/json;
    location = /v1/whoami { return 200 '{"server":"nginx","authorization":"$http_authorization","target":"$request_uri"}'; }
    location / { return 404 '{"error":"not found"}'; }
  }`,
  );
}

/** nginx with the given http-level configuration (server blocks listening on `port`), in its own prefix. */
export async function startNginxWith(servers: (port: number) => string, workers = 1): Promise<RunningNginx> {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: run \`make system-deps\` (Debian package nginx-light)`);
  const dir = await mkdtemp(join(tmpdir(), "portcullis-nginx-"));
  const port = await freePort();
  const config = `
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${servers(port)}
}
`;
  await writeFile(join(dir, "nginx.conf"), config);
  const child = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  await waitUntil(`nginx on 127.0.0.1:${port}`, async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return true;
    } catch {
      return false;
    }
  }, 10_000);
  return {
    port,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGQUIT");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

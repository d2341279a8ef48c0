// The configuration a test PostgreSQL server runs with, as text: settings
// appended to initdb's postgresql.conf, and a pg_hba.conf that names every
// login with exactly one authentication method, so a wrong password or an
// unknown user is really refused. Pure functions, so they are unit-tested.

export type PasswordMethod = "scram-sha-256" | "md5" | "password";

export interface HbaLogin {
  username: string;
  method: PasswordMethod;
}

/** Where pods of a test node reach the server: an address of this machine, and the pod range its logins may come from. */
export interface PodNetwork {
  address: string;
  clients: string;
}

export interface ServerSettings {
  port: number;
  /** Also listen on this address (for pods); loopback only when absent. */
  podNetwork?: PodNetwork | undefined;
  socketDir: string;
  /** Certificate and key files; TLS is off when absent. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** 200 unless set (a soak needs more). */
  maxConnections?: number | undefined;
}

/** A postgresql.conf string literal. */
function quoted(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function renderSettings(settings: ServerSettings): string {
  const lines = [
    "# Added by the Portcullis e2e harness.",
    `listen_addresses = ${quoted(["127.0.0.1", ...(settings.podNetwork ? [settings.podNetwork.address] : [])].join(","))}`,
    `port = ${settings.port}`,
    `unix_socket_directories = ${quoted(settings.socketDir)}`,
    // pgbench -c 8 through the gateway plus suites running side by side.
    `max_connections = ${settings.maxConnections ?? 200}`,
    "password_encryption = 'scram-sha-256'",
    ...(settings.tls === undefined
      ? ["ssl = off"]
      : ["ssl = on", `ssl_cert_file = ${quoted(settings.tls.certFile)}`, `ssl_key_file = ${quoted(settings.tls.keyFile)}`]),
    // Test data is disposable: durability only costs time on a shared disk.
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    // Shows in the log which user connected and whether it used TLS, for diagnosing a failed test.
    "log_connections = on",
    "log_line_prefix = '%m [%p] %q%u@%d '",
  ];
  return `\n${lines.join("\n")}\n`;
}

/**
 * `local all all trust` lets the harness bootstrap over its private socket;
 * each login then gets `hostssl` (when TLS is on) and `host` lines on
 * 127.0.0.1 with its own method, so both TLS and plaintext clients authenticate
 * the way that login is meant to. Nothing else matches.
 */
export function renderHba(logins: HbaLogin[], tls: boolean, podNetwork?: PodNetwork): string {
  const types = tls ? ["hostssl", "host"] : ["host"];
  const sources = ["127.0.0.1/32", ...(podNetwork ? [podNetwork.clients] : [])];
  const lines = [
    "# TYPE    DATABASE  USER  ADDRESS  METHOD  (written by the Portcullis e2e harness)",
    "local all all trust",
    ...logins.flatMap((login) => sources.flatMap((source) => types.map((type) => `${type} all ${login.username} ${source} ${login.method}`))),
  ];
  return `${lines.join("\n")}\n`;
}

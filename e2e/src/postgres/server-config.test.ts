// pg_hba.conf decides whether a wrong password or an unknown user is really
// refused, and postgresql.conf whether TLS is on; both are checked line by line.
import { describe, expect, it } from "@jest/globals";
import { renderHba, renderSettings } from "./server-config.js";

const logins = [
  { username: "postgres", method: "scram-sha-256" as const },
  { username: "app_md5", method: "md5" as const },
  { username: "app_cleartext", method: "password" as const },
];

function rules(hba: string): string[] {
  return hba.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

describe("renderHba", () => {
  it("gives each login hostssl and host lines with its own method, and nothing else beyond local trust", () => {
    expect(rules(renderHba(logins, true))).toEqual([
      "local all all trust",
      "hostssl all postgres 127.0.0.1/32 scram-sha-256",
      "host all postgres 127.0.0.1/32 scram-sha-256",
      "hostssl all app_md5 127.0.0.1/32 md5",
      "host all app_md5 127.0.0.1/32 md5",
      "hostssl all app_cleartext 127.0.0.1/32 password",
      "host all app_cleartext 127.0.0.1/32 password",
    ]);
  });

  it("writes no hostssl lines without TLS, which PostgreSQL would refuse to load", () => {
    expect(rules(renderHba(logins, false)).filter((line) => line.startsWith("hostssl"))).toEqual([]);
    expect(rules(renderHba(logins, false))).toHaveLength(1 + logins.length);
  });
});

describe("renderSettings", () => {
  const tls = { certFile: "/tmp/x/tls/server.crt", keyFile: "/tmp/x/tls/server.key" };

  it.each([
    ["ssl = on", true],
    ["ssl_cert_file = '/tmp/x/tls/server.crt'", true],
    ["ssl_key_file = '/tmp/x/tls/server.key'", true],
    ["ssl = off", false],
  ])("with TLS: %s is %s", (line, expected) => {
    expect(renderSettings({ port: 5999, socketDir: "/tmp/x/socket", tls }).split("\n").includes(line)).toBe(expected);
  });

  it("turns TLS off without certificate files", () => {
    const lines = renderSettings({ port: 5999, socketDir: "/tmp/x/socket", tls: undefined }).split("\n");
    expect(lines).toContain("ssl = off");
    expect(lines.filter((line) => line.startsWith("ssl_"))).toEqual([]);
  });

  it("listens on loopback only, on the given port, with enough connections for pgbench", () => {
    const lines = renderSettings({ port: 5999, socketDir: "/tmp/x/socket", tls }).split("\n");
    expect(lines).toEqual(expect.arrayContaining(["listen_addresses = '127.0.0.1'", "port = 5999", "max_connections = 200"]));
  });

  it("takes more connections when asked (make soak)", () => {
    expect(renderSettings({ port: 5999, socketDir: "/tmp/x/socket", tls, maxConnections: 1100 })).toContain("max_connections = 1100");
  });

  it("doubles quotes in paths, as postgresql.conf string literals require", () => {
    expect(renderSettings({ port: 5999, socketDir: "/tmp/o'neil", tls: undefined })).toContain("unix_socket_directories = '/tmp/o''neil'");
  });
});

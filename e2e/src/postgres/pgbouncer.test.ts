// The pgbouncer baseline is only fair if its configuration says what the
// bench claims: SCRAM, session pooling, a pool for every client, loopback.
import { describe, expect, it } from "@jest/globals";
import { authFileLine, renderPgbouncerIni } from "./pgbouncer.js";

describe("renderPgbouncerIni", () => {
  const ini = renderPgbouncerIni({ port: 6543, upstreamPort: 5433, database: "app", authFile: "/tmp/x/userlist.txt", poolSize: 16 });
  const settings = new Map(
    ini
      .split("\n")
      .filter((line) => line.includes(" = "))
      .map((line) => line.split(" = ", 2) as [string, string]),
  );

  it("points the database at the server over loopback TCP", () => {
    expect(settings.get("app")).toBe("host=127.0.0.1 port=5433 dbname=app");
    expect(settings.get("listen_addr")).toBe("127.0.0.1");
    expect(settings.get("listen_port")).toBe("6543");
  });

  it("authenticates clients with SCRAM from the auth file and pools per session, enough for every client", () => {
    expect(settings.get("auth_type")).toBe("scram-sha-256");
    expect(settings.get("auth_file")).toBe("/tmp/x/userlist.txt");
    expect(settings.get("pool_mode")).toBe("session");
    expect(settings.get("default_pool_size")).toBe("16");
  });

  it("logs nothing per connection", () => {
    expect(settings.get("log_connections")).toBe("0");
    expect(settings.get("log_disconnections")).toBe("0");
  });
});

describe("authFileLine", () => {
  it("quotes name and secret, doubling quotes inside them", () => {
    expect(authFileLine("app_scram", "SCRAM-SHA-256$4096:c2FsdA==$a:b")).toBe('"app_scram" "SCRAM-SHA-256$4096:c2FsdA==$a:b"\n');
    expect(authFileLine('we"ird', "x")).toBe('"we""ird" "x"\n');
  });
});

import type { IResource } from "@portcullis/crds";
import { addEnvToContainer, explicitResourceEnv, listenerUrl, resourceUrlEnvName } from "./app-env.js";

function resource(name: string, protocol: IResource["spec"]["protocol"], listener: number, extra: Partial<IResource["spec"]> = {}): IResource {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace: "agents" },
    spec: { protocol, endpoint: { host: `${name}.svc`, port: 443 }, listener: { port: listener }, ...extra },
  };
}

describe("explicit Resource variables", () => {
  it("names a variable after the Resource", () => {
    expect(resourceUrlEnvName("orders-db")).toBe("PORTCULLIS_ORDERS_DB_URL");
    expect(resourceUrlEnvName("api.v2")).toBe("PORTCULLIS_API_V2_URL");
  });

  it("points at the listener on loopback, in plain text but for kubernetes, whose clients speak only TLS", () => {
    expect(listenerUrl(resource("db", "postgres", 15432, { postgres: { database: "orders" } }))).toBe("postgres://127.0.0.1:15432/orders");
    expect(listenerUrl(resource("db", "postgres", 15432))).toBe("postgres://127.0.0.1:15432");
    expect(listenerUrl(resource("api", "http", 18080))).toBe("http://127.0.0.1:18080");
    expect(listenerUrl(resource("cluster", "kubernetes", 16443))).toBe("https://127.0.0.1:16443");
  });

  it("sets libpq variables for exactly one explicit postgres Resource, and skips transparent ones", () => {
    const env = explicitResourceEnv([
      resource("db", "postgres", 15432, { postgres: { database: "orders" } }),
      resource("other", "postgres", 15433, { transparent: true }),
    ]);
    expect(env).toEqual({
      vars: [
        { name: "PORTCULLIS_DB_URL", value: "postgres://127.0.0.1:15432/orders" },
        { name: "PGHOST", value: "127.0.0.1" },
        { name: "PGPORT", value: "15432" },
        { name: "PGDATABASE", value: "orders" },
      ],
      warnings: [],
    });
  });

  it("sets no libpq variables for several explicit postgres Resources, and says so", () => {
    const env = explicitResourceEnv([resource("a", "postgres", 15432), resource("b", "postgres", 15433)]);
    expect(env.vars.map((v) => v.name)).toEqual(["PORTCULLIS_A_URL", "PORTCULLIS_B_URL"]);
    expect(env.warnings).toEqual([expect.stringMatching(/^PGHOST and PGPORT are not set because several explicit postgres Resources \("a", "b"\)/)]);
  });

  it("sets neither of two Resources that map to the same variable", () => {
    const env = explicitResourceEnv([resource("api-v2", "http", 18080), resource("api.v2", "http", 18081)]);
    expect(env.vars).toEqual([]);
    expect(env.warnings).toEqual(['PORTCULLIS_API_V2_URL is not set because Resources "api-v2" and "api.v2" map to the same variable name']);
  });
});

describe("addEnvToContainer", () => {
  const vars = [
    { name: "PGHOST", value: "127.0.0.1" },
    { name: "PGPORT", value: "15432" },
  ];

  it("appends after the container's own variables and never overwrites one", () => {
    const result = addEnvToContainer({ name: "agent", env: [{ name: "PGHOST", valueFrom: { secretKeyRef: { name: "s", key: "host" } } }] }, vars);
    expect(result.container.env).toEqual([
      { name: "PGHOST", valueFrom: { secretKeyRef: { name: "s", key: "host" } } },
      { name: "PGPORT", value: "15432" },
    ]);
    expect(result.added).toEqual(["PGPORT"]);
    expect(result.warnings).toEqual([expect.stringMatching(/^container "agent" already sets PGHOST; Portcullis left it as it is/)]);
  });

  it("warns that its variables win over envFrom", () => {
    const result = addEnvToContainer({ name: "agent", envFrom: [{ configMapRef: { name: "c" } }] }, vars);
    expect(result.warnings).toEqual(['container "agent" uses envFrom; Portcullis variables (PGHOST, PGPORT) take precedence over the same names from envFrom']);
  });
});

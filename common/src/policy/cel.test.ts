import { compileWhen, MAX_WHEN_LENGTH, WhenEvaluationError, type WhenContext } from "./cel.js";
import { kubernetesFacts } from "../test-fixtures.js";

const identity = {
  username: "system:serviceaccount:agents:report-bot",
  groups: ["system:serviceaccounts", "dba"],
  serviceAccount: "report-bot",
  namespace: "agents",
  pod: "report-bot-5d8f7c-x2k4q",
  claims: { team: "payments" },
};

const sqlContext: WhenContext = {
  identity,
  resource: { name: "orders-db", protocol: "postgres" },
  sql: {
    command: "DELETE",
    commands: ["DELETE"],
    subcommands: [],
    tables: ["public.orders"],
    tablesRead: [],
    tablesWritten: ["public.orders"],
    hasWhere: false,
    functions: [],
    statementCount: 1,
    dangerous: ["unbounded-delete"],
    objectType: "",
  },
};

const httpContext: WhenContext = {
  identity,
  resource: { name: "billing-api", protocol: "http" },
  http: { method: "GET", path: "/v1/invoices/7", host: "billing.example.com", headers: { "x-tenant": "acme" }, query: { limit: ["10"] }, body: { amount: 5 } },
};

const kubernetesContext: WhenContext = {
  identity,
  resource: { name: "cluster-api", protocol: "kubernetes" },
  kubernetes: kubernetesFacts({ verb: "delete", path: "/apis/apps/v1/namespaces/prod/deployments/web", apiGroup: "apps", resource: "deployments" }),
};

const mcpContext: WhenContext = {
  identity,
  resource: { name: "tools", protocol: "mcp" },
  mcp: {
    direction: "client",
    kind: "request",
    method: "tools/call",
    tool: { name: "refund_order", arguments: { amount: 5000, order: { id: "A-1" } } },
    resource: { uri: "" },
    prompt: { name: "", arguments: {} },
  },
};

function compiled(expression: string): (context: WhenContext) => boolean {
  const result = compileWhen(expression);
  if (!result.ok) throw new Error(`expected ${expression} to compile: ${result.message}`);
  return (context) => result.evaluate(context);
}

describe("compileWhen", () => {
  it.each([
    ['sql.command == "DELETE" && !sql.hasWhere', sqlContext, true],
    ["sql.statementCount > 1", sqlContext, false],
    ['sql.tables.exists(t, t.startsWith("public."))', sqlContext, true],
    ['"unbounded-delete" in sql.dangerous && size(sql.tablesRead) == 0', sqlContext, true],
    ['sql.objectType == "" && sql.functions == []', sqlContext, true],
    ['"dba" in identity.groups && identity.serviceAccount == "report-bot"', sqlContext, true],
    ['identity.claims["team"] == "payments"', sqlContext, true],
    ['has(identity.claims.team) && identity.claims.team == "payments"', sqlContext, true],
    ['resource.protocol == "postgres" && resource.name == "orders-db"', sqlContext, true],
    ['http.method == "GET" && http.path.startsWith("/v1/") && http.host.endsWith(".example.com")', httpContext, true],
    ['http.headers["x-tenant"] == "acme"', httpContext, true],
    ['kubernetes.verb == "delete" && kubernetes.namespace == "prod" && kubernetes.subresource == ""', kubernetesContext, true],
    ['kubernetes.apiGroup == "" || kubernetes.name.contains("db")', kubernetesContext, false],
    ['identity.namespace == "agents" && identity.pod.startsWith("report-bot")', kubernetesContext, true],
    ['mcp.method == "tools/call" && mcp.tool.name == "refund_order" && mcp.tool.arguments.amount > 1000', mcpContext, true],
    ['mcp.tool.arguments.order.id.startsWith("B-") || mcp.direction == "server"', mcpContext, false],
    ['has(mcp.tool.arguments.note) || mcp.prompt.name == ""', mcpContext, true],
  ] as const)("%s evaluates to %s", (expression, context, expected) => {
    expect(compiled(expression)(context)).toBe(expected);
  });

  it.each([
    ["sql.command + 1", "no such overload: string + int"],
    ['sql.hasWhere == "yes"', "no such overload: bool == string"],
    ["sql.statementCount > \"1\"", "no such overload"],
    ['user.name == "alice"', "Unknown variable: user"],
    ["sql.command ==", "Unexpected token"],
    ['sql.command == "DELETE" &&', "Unexpected token"],
    ['sql.nope == "x"', "No such key: nope"],
    ["sql.command", "must yield a bool, but this one yields string"],
    ["sql.statementCount", "must yield a bool, but this one yields int"],
    ['http.path.matches("^/v1/(a+)+$")', "matches() is not available"],
    ['sql.tables.exists(t, t.matches("^billing"))', "matches() is not available"],
  ])("refuses %s with cel-js's message", (expression, message) => {
    const result = compileWhen(expression);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(message);
  });

  it.each([
    ["sql.command ==", "Unexpected token: EOF at column 15"],
    ['sql.hasWhere &&\n  sql.nope == "x"', "No such key: nope at line 2, column 7"],
    ['resource.name == "a" && user', "Unknown variable: user at column 25"],
  ])("names where in %j the error is, on one line", (expression, message) => {
    expect(compileWhen(expression)).toEqual({ ok: false, message });
  });

  it("declares only the request variables of the rule's protocols", () => {
    expect(compileWhen('http.method == "GET"', { protocols: ["http"] }).ok).toBe(true);
    const result = compileWhen('http.method == "GET"', { protocols: ["postgres"] });
    expect(result).toEqual({
      ok: false,
      message: expect.stringContaining(
        "Unknown variable: http (http is only set for http Resources, and this rule applies to postgres requests)",
      ) as unknown,
    });
    expect(compileWhen('identity.username != "" && resource.name != ""', { protocols: ["kubernetes"] }).ok).toBe(true);
  });

  it("refuses expressions longer than the CRD allows", () => {
    const result = compileWhen(`${"true && ".repeat(MAX_WHEN_LENGTH / 8)}true`);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain(`at most ${MAX_WHEN_LENGTH}`);
  });

  it("caches compiled expressions", () => {
    expect(compileWhen("sql.hasWhere")).toBe(compileWhen("sql.hasWhere"));
    expect(compileWhen("sql.hasWhere", { protocols: ["postgres"] })).not.toBe(compileWhen("sql.hasWhere"));
  });

  it("fails evaluation, rather than guessing, when the request's variable is absent", () => {
    const when = compiled('sql.command == "DELETE"');
    expect(() => when(httpContext)).toThrow(WhenEvaluationError);
    expect(() => when(httpContext)).toThrow(/Unknown variable: sql/);
  });

  it("fails evaluation when a dyn expression does not yield a bool", () => {
    const when = compiled("identity.claims.team");
    expect(() => when(sqlContext)).toThrow('a when expression must yield a bool, got the string "payments"');
  });

  it("fails evaluation when a claim is missing", () => {
    const when = compiled('identity.claims["region"] == "eu"');
    expect(() => when(sqlContext)).toThrow(WhenEvaluationError);
  });

  it("accepts statementCount as a bigint too", () => {
    const when = compiled("sql.statementCount == 3");
    expect(when({ ...sqlContext, sql: { ...(sqlContext.sql as NonNullable<WhenContext["sql"]>), statementCount: 3n } })).toBe(true);
  });
});

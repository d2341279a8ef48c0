import { describe, expect, it } from "@jest/globals";
import { parseOptions, startupSettings } from "./startup-settings.js";

describe("parseOptions", () => {
  it.each<[string, Array<[string, string]>]>([
    ["-c intervalstyle=postgres_verbose", [["intervalstyle", "postgres_verbose"]]],
    ["-cdatestyle=ISO,\\ MDY  -c timezone=UTC", [["datestyle", "ISO, MDY"], ["timezone", "UTC"]]],
    ["--statement-timeout=5s", [["statement_timeout", "5s"]]],
    ["", []],
  ])("%s", (options, settings) => {
    expect(parseOptions(options)).toEqual(settings);
  });
});

describe("startupSettings", () => {
  it("passes on what only changes presentation, paths and timeouts, with PGOPTIONS unfolded", () => {
    expect(startupSettings({ user: "u", database: "d", application_name: "psql", options: "-c intervalstyle=postgres_verbose -c search_path=app" })).toEqual({
      application_name: "psql",
      intervalstyle: "postgres_verbose",
      search_path: "app",
    });
  });

  it.each<[Record<string, string>, RegExp]>([
    [{ options: "-c standard_conforming_strings=off" }, /"standard_conforming_strings" is not allowed at startup .*: it changes how string literals are read/],
    [{ options: "-c role=admin" }, /"role" .*: it changes the role statements run as/],
    [{ options: "--session-authorization=postgres" }, /"session_authorization"/],
    [{ options: "-c row_security=off" }, /turns row-level security off/],
    [{ options: "-c client_encoding=SJIS" }, /client_encoding SJIS is not supported/],
    [{ backslash_quote: "on" }, /"backslash_quote"/],
    [{ options: "-c shared_preload_libraries=x" }, /"shared_preload_libraries" is not allowed at startup .*set it with SET/],
    [{ options: "-d 5" }, /the startup option "-d" is not allowed/],
    [{ options: "-c noequals" }, /does not set name=value/],
    [{ work_mem: "1GB" }, /"work_mem" is not allowed at startup/],
  ])("refuses %j, naming why", (parameters, message) => {
    expect(() => startupSettings(parameters)).toThrow(message);
  });
});

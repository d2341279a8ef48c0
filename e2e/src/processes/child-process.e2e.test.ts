import { runCommand } from "./child-process.js";

describe("runCommand", () => {
  it("reports the exit of a program that quits before reading its input, instead of failing on EPIPE", async () => {
    const input = "x".repeat(4 * 1024 * 1024);
    for (let attempt = 0; attempt < 20; attempt++) {
      const result = await runCommand("/bin/sh", ["-c", "exit 3"], { env: process.env, stdin: input });
      expect(result.code).toBe(3);
    }
  });

  it("passes the input to a program that reads it", async () => {
    const result = await runCommand("/bin/cat", [], { env: process.env, stdin: "evidence\n" });
    expect(result).toEqual({ code: 0, stdout: "evidence\n", stderr: "" });
  });
});

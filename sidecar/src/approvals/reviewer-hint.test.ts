import { describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { reviewerCommand } from "./reviewer-hint.js";

const ref = { name: "report-bot-5d8f7c-x2k4q-7f9c2", namespace: "agents" };

describe("reviewerCommand", () => {
  it("is the kubectl patch of the status subresource", () => {
    expect(reviewerCommand(ref)).toBe(
      `kubectl patch approvalrequest report-bot-5d8f7c-x2k4q-7f9c2 -n agents --subresource=status --type=merge -p '{"status":{"phase":"Approved","reason":"..."}}'`,
    );
    expect(reviewerCommand(ref, { phase: "Denied" })).toBe(
      `kubectl patch approvalrequest report-bot-5d8f7c-x2k4q-7f9c2 -n agents --subresource=status --type=merge -p '{"status":{"phase":"Denied","reason":"..."}}'`,
    );
  });

  it("fills in decidedAt with date when no webhook stamps it, as JSON the shell produces", () => {
    const command = reviewerCommand(ref, { stampDecidedAt: true });
    // Let sh expand the -p argument exactly as a reviewer's shell would.
    const patch = command.slice(command.indexOf("-p ") + 3);
    const expanded = execFileSync("/bin/sh", ["-c", `printf %s ${patch}`], { encoding: "utf8" });
    const parsed = JSON.parse(expanded) as { status: { phase: string; reason: string; decidedAt: string } };
    expect(parsed.status).toMatchObject({ phase: "Approved", reason: "..." });
    expect(parsed.status.decidedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("quotes names a shell would otherwise interpret", () => {
    expect(reviewerCommand({ name: "x; rm -rf ~", namespace: "it's" })).toContain(`approvalrequest 'x; rm -rf ~' -n 'it'"'"'s'`);
  });
});

import { describe, expect, it } from "@jest/globals";
import { renderTable } from "./table.js";

describe("renderTable", () => {
  it("pads every column but the last to its widest cell, three spaces apart, with upper-case headers", () => {
    const table = renderTable(["name", "phase", "summary"], [
      ["refund-1", "Pending", "DELETE FROM orders WHERE id = $1"],
      ["a", "Approved", "x"],
    ]);
    expect(table).toBe(
      ["NAME       PHASE      SUMMARY", "refund-1   Pending    DELETE FROM orders WHERE id = $1", "a          Approved   x", ""].join("\n"),
    );
  });

  it("counts characters, not UTF-16 units, and leaves no trailing spaces when the last cells are empty", () => {
    const table = renderTable(["who", "note"], [
      ["zoë🙂", ""],
      ["bob", "ok"],
    ]);
    expect(table).toBe(["WHO    NOTE", "zoë🙂", "bob    ok", ""].join("\n"));
  });

  it("prints only the headers when there are no rows", () => {
    expect(renderTable(["a", "b"], [])).toBe("A   B\n");
  });
});

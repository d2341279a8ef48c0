import { afterAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FilesystemStore } from "./filesystem-store.js";
import { StoreError, type EvidenceStore } from "./store.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function newStore(): Promise<{ root: string; store: EvidenceStore }> {
  const root = await mkdtemp(path.join(os.tmpdir(), "portcullis-fs-store-"));
  dirs.push(root);
  return { root, store: new FilesystemStore(root) };
}

describe("FilesystemStore", () => {
  it("writes objects as files in a folder per key prefix and reads them back", async () => {
    const { root, store } = await newStore();
    await store.put("ev/agents/bot-0/S1/000001.jsonl.gz", Buffer.from("chunk"), "application/gzip");
    expect(await readFile(path.join(root, "ev", "agents", "bot-0", "S1", "000001.jsonl.gz"), "utf8")).toBe("chunk");
    expect((await store.get("ev/agents/bot-0/S1/000001.jsonl.gz"))?.toString()).toBe("chunk");
    expect(store.location).toBe(`file://${root}`);
  });

  it("replaces an object whole and leaves no temporary file", async () => {
    const { root, store } = await newStore();
    await store.put("S1/manifest.json", Buffer.from("one"), "application/json");
    await store.put("S1/manifest.json", Buffer.from("two"), "application/json");
    expect((await store.get("S1/manifest.json"))?.toString()).toBe("two");
    expect(await readdir(path.join(root, "S1"))).toEqual(["manifest.json"]);
  });

  it("answers undefined for an object that does not exist", async () => {
    const { store } = await newStore();
    expect(await store.get("S1/manifest.json")).toBeUndefined();
  });

  it("lists the keys under a prefix, sorted, without temporary files", async () => {
    const { root, store } = await newStore();
    for (const key of ["a/p/S2/manifest.json", "a/p/S1/000002.jsonl.gz", "a/p/S1/000001.jsonl.gz", "a/q/S3/manifest.json", "b/S4/manifest.json"]) {
      await store.put(key, Buffer.from(key), "text/plain");
    }
    await writeFile(path.join(root, "a", "p", "S1", ".000003.jsonl.gz.1234.tmp"), "half");
    expect(await store.list("a/p/")).toEqual(["a/p/S1/000001.jsonl.gz", "a/p/S1/000002.jsonl.gz", "a/p/S2/manifest.json"]);
    expect(await store.list("a/p/S1/000002")).toEqual(["a/p/S1/000002.jsonl.gz"]);
    expect(await store.list("")).toHaveLength(5);
    expect(await store.list("missing/")).toEqual([]);
  });

  const badKeys = ["../outside", "a//b", "/absolute", "a/./b", ".hidden/x", "a/"];
  it.each(badKeys)("refuses the key %j", async (key) => {
    const { store } = await newStore();
    await expect(store.put(key, Buffer.from("x"), "text/plain")).rejects.toThrow(StoreError);
    await expect(store.get(key)).rejects.toThrow("not an object key this store accepts");
  });

  it("says which file could not be written, and why", async () => {
    const { root, store } = await newStore();
    await writeFile(path.join(root, "S1"), "a file where a folder belongs");
    await expect(store.put("S1/manifest.json", Buffer.from("x"), "application/json")).rejects.toThrow(`write ${path.join(root, "S1", "manifest.json")} failed: `);
  });
});

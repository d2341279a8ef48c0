// The S3 reader against a fake client: the requests it sends (bucket, prefix,
// pagination) and how it maps answers back to store-relative keys.
import { describe, expect, it } from "@jest/globals";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { s3Reader } from "./s3-reader.js";
import type { S3StoreSettings } from "./store-settings.js";

const SETTINGS: S3StoreSettings = { type: "s3", bucket: "evidence", prefix: "prod", region: "us-east-1", pathStyle: true };

function fakeClient(answer: (command: unknown) => unknown): { client: Pick<S3Client, "send">; sent: unknown[] } {
  const sent: unknown[] = [];
  const send = (command: unknown): Promise<unknown> => {
    sent.push(command);
    try {
      return Promise.resolve(answer(command));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error("not an Error"));
    }
  };
  return { client: { send }, sent };
}

describe("s3Reader", () => {
  it("lists every page under the prefix and returns keys relative to it", async () => {
    const pages = [
      { Contents: [{ Key: "prod/agents/bot-0/S1/000001.jsonl.gz" }, { Key: "prod/agents/bot-0/S1/manifest.json" }], IsTruncated: true, NextContinuationToken: "t1" },
      { Contents: [{ Key: "prod/agents/bot-1/S2/manifest.json" }], IsTruncated: false },
    ];
    const { client, sent } = fakeClient(() => pages.shift());
    const keys = await s3Reader(SETTINGS, client).listKeys("agents");
    expect(keys).toEqual(["agents/bot-0/S1/000001.jsonl.gz", "agents/bot-0/S1/manifest.json", "agents/bot-1/S2/manifest.json"]);
    expect(sent.map((command) => (command as ListObjectsV2Command).input)).toEqual([
      { Bucket: "evidence", Prefix: "prod/agents/", ContinuationToken: undefined },
      { Bucket: "evidence", Prefix: "prod/agents/", ContinuationToken: "t1" },
    ]);
  });

  it("reads an object with progress, and answers undefined for a missing one", async () => {
    const { client, sent } = fakeClient((command) => {
      if ((command as GetObjectCommand).input.Key === "prod/agents/bot-0/S1/manifest.json") return { Body: Readable.from([Buffer.from("ab"), Buffer.from("cde")]) };
      throw Object.assign(new Error("The specified key does not exist."), { name: "NoSuchKey" });
    });
    const reader = s3Reader(SETTINGS, client);
    const progress: number[] = [];
    expect((await reader.read("agents/bot-0/S1/manifest.json", (bytes) => progress.push(bytes)))?.toString()).toBe("abcde");
    expect(progress).toEqual([2, 3]);
    expect(await reader.read("agents/bot-0/S1/000009.jsonl.gz")).toBeUndefined();
    expect(sent[0]).toBeInstanceOf(GetObjectCommand);
  });

  it("names the bucket, key and S3 error when a read fails", async () => {
    const { client } = fakeClient(() => {
      throw Object.assign(new Error("Access Denied"), { name: "AccessDenied" });
    });
    await expect(s3Reader(SETTINGS, client).read("agents/x/S/manifest.json")).rejects.toThrow("cannot read s3://evidence/prod/agents/x/S/manifest.json: AccessDenied: Access Denied");
  });

  it("refuses keys that would leave the prefix", async () => {
    const { client, sent } = fakeClient(() => ({}));
    await expect(s3Reader(SETTINGS, client).read("agents/../../other/manifest.json")).rejects.toThrow('"agents/../../other/manifest.json" is not an object key this store can hold');
    expect(sent).toEqual([]);
  });
});

// The S3 store (AWS or any S3-compatible server): lists and reads objects
// under the bucket's prefix with the credentials the store names, trusting
// the store's CA bundle when it has one. Read-only: the CLI never writes.
import { Agent } from "node:https";
import { GetObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { CliError, errorText } from "../errors.js";
import { checkedKey, collectBytes } from "./object-reading.js";
import type { StoreReader } from "./store-reader.js";
import { describeStore, type S3StoreSettings } from "./store-settings.js";

function clientConfig(settings: S3StoreSettings): S3ClientConfig {
  return {
    region: settings.region,
    forcePathStyle: settings.pathStyle,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
    ...(settings.caBundle === undefined ? {} : { requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: settings.caBundle }) }) }),
  };
}

function isNoSuchKey(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === "NoSuchKey" || name === "NotFound";
}

function storeError(action: string, error: unknown): CliError {
  const name = (error as { name?: unknown } | null)?.name;
  return new CliError(`cannot ${action}: ${typeof name === "string" && name !== "Error" ? `${name}: ` : ""}${errorText(error)}`, { cause: error });
}

export function s3Reader(settings: S3StoreSettings, client: Pick<S3Client, "send"> = new S3Client(clientConfig(settings))): StoreReader {
  const location = describeStore(settings);
  const fullKey = (key: string): string => (settings.prefix === "" ? key : `${settings.prefix}/${key}`);
  const base = settings.prefix === "" ? "" : `${settings.prefix}/`;
  return {
    location,
    async listKeys(dir) {
      const prefix = dir === "" ? base : `${fullKey(checkedKey(dir))}/`;
      const keys: string[] = [];
      let token: string | undefined;
      do {
        let page;
        try {
          page = await client.send(new ListObjectsV2Command({ Bucket: settings.bucket, Prefix: prefix, ContinuationToken: token }));
        } catch (error) {
          throw storeError(`list s3://${settings.bucket}/${prefix}`, error);
        }
        for (const object of page.Contents ?? []) if (object.Key?.startsWith(base)) keys.push(object.Key.slice(base.length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return keys;
    },
    async read(key, onBytes) {
      const objectKey = fullKey(checkedKey(key));
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: settings.bucket, Key: objectKey }));
        if (object.Body === undefined) return Buffer.alloc(0);
        return await collectBytes(object.Body as AsyncIterable<Uint8Array>, onBytes);
      } catch (error) {
        if (isNoSuchKey(error)) return undefined;
        throw storeError(`read s3://${settings.bucket}/${objectKey}`, error);
      }
    },
  };
}

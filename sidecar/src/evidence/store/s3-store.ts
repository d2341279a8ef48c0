// The evidence store on S3 or an S3-compatible server (MinIO, versitygw, Ceph
// RGW…), through @aws-sdk/client-s3. A custom endpoint may use a private CA
// (caBundle), which then replaces the default trust store for this client
// only. With object lock configured, every object is written with a retention
// (mode and retain-until date): the bucket must have been created with object
// lock enabled, which S3 does only together with versioning — so rewriting the
// manifest adds a version instead of replacing a locked object.
import { Agent as HttpsAgent } from "node:https";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";

type S3Sdk = typeof import("@aws-sdk/client-s3");

// The SDK holds about 15 MiB once loaded: a gateway whose evidence goes elsewhere never loads it.
let sdk: Promise<S3Sdk> | undefined;
const loadSdk = (): Promise<S3Sdk> => (sdk ??= import("@aws-sdk/client-s3"));
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { S3StoreSettings } from "@portcullis/common/evidence/store-settings";
import { StoreError, type EvidenceStore } from "./store.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/** A dead endpoint is noticed quickly; the uploader retries with its own backoff, so the SDK tries once. */
const CONNECTION_TIMEOUT_MS = 5_000;
const REQUEST_TIMEOUT_MS = 60_000;

export interface S3StoreOptions {
  /** For the object lock retain-until date. */
  clock?: () => Date;
}

function clientConfig(settings: S3StoreSettings): S3ClientConfig {
  const httpsAgent = new HttpsAgent({ keepAlive: true, ...(settings.caBundle !== undefined ? { ca: settings.caBundle } : {}) });
  return {
    region: settings.region,
    forcePathStyle: settings.pathStyle,
    credentials: settings.credentials,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpsAgent,
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    }),
    ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
  };
}

function isNotFound(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (error as Error).name === "NoSuchKey" || status === 404;
}

export class S3Store implements EvidenceStore {
  readonly location: string;
  private client: Promise<{ sdk: S3Sdk; client: S3Client }> | undefined;
  private closed = false;
  private readonly clock: () => Date;

  constructor(
    private readonly settings: S3StoreSettings,
    options: S3StoreOptions = {},
  ) {
    this.clock = options.clock ?? ((): Date => new Date());
    this.location = `s3://${settings.bucket}${settings.endpoint !== undefined ? ` at ${settings.endpoint}` : ` in ${settings.region}`}`;
  }

  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    const lock = this.settings.objectLock;
    const retention = lock && { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: new Date(this.clock().getTime() + lock.retentionDays * DAY_MS) };
    try {
      const { sdk, client } = await this.connect();
      await client.send(new sdk.PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: body, ContentType: contentType, ...retention }));
    } catch (error) {
      throw new StoreError("PUT", this.where(key), error);
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      const { sdk, client } = await this.connect();
      const response = await client.send(new sdk.GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      if (response.Body === undefined) return Buffer.alloc(0);
      return Buffer.from(await response.Body.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw new StoreError("GET", this.where(key), error);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    try {
      const { sdk, client } = await this.connect();
      do {
        const page = await client.send(new sdk.ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    } catch (error) {
      throw new StoreError("LIST", this.where(prefix), error);
    }
    return keys.sort();
  }

  close(): void {
    this.closed = true;
    void this.client?.then(({ client }) => client.destroy(), () => undefined);
  }

  /** The SDK and a client, made on first use. */
  private connect(): Promise<{ sdk: S3Sdk; client: S3Client }> {
    if (this.closed) return Promise.reject(new Error("the store is closed"));
    this.client ??= loadSdk().then((loaded) => ({ sdk: loaded, client: new loaded.S3Client(clientConfig(this.settings)) }));
    return this.client;
  }

  private where(key: string): string {
    return `s3://${this.settings.bucket}/${key}`;
  }
}

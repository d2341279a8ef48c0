// What the evidence e2e suites share: a spool in a temporary directory that
// sessions are written to through the real EvidenceSpool, recording settings
// for a bucket of the test S3 server (parsed by the sidecar's own
// parseStoreSettings, so the ConfigMap keys are the ones users write), and an
// uploader whose log lines the test can read.
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RecordingSettings } from "@portcullis/common/config/bundle";
import type { RequestData, SessionStartData } from "@portcullis/common/evidence/record";
import { postgresRequest } from "@portcullis/common/evidence/test-fixtures";
import { EvidenceSpool } from "@portcullis/sidecar/evidence/spool";
import { StoreTargets } from "@portcullis/sidecar/evidence/store/targets";
import type { StoreTarget } from "@portcullis/sidecar/evidence/store/store";
import { START_DATA } from "@portcullis/sidecar/evidence/store/test-fixtures";
import { EvidenceUploader, type UploaderLog, type UploaderOptions } from "@portcullis/sidecar/evidence/uploader";
import type { RunningS3 } from "../s3/server.js";

export interface LogLine {
  level: "info" | "warn" | "error";
  message: string;
  meta: Record<string, unknown> | undefined;
}

export interface EvidenceFixture {
  spool: EvidenceSpool;
  target: StoreTarget;
  publicKey: KeyObject;
  logs: LogLine[];
  uploader(options?: Partial<UploaderOptions>): EvidenceUploader;
  /** Closes the spool and the store and removes the spool directory. */
  close(): Promise<void>;
}

/** The ConfigMap data and decoded Secret a policy's recording would name, for a bucket of the test server. */
export function recordingFor(s3: RunningS3, bucket: string, store: Record<string, string> = {}, signingKey?: KeyObject): RecordingSettings {
  const key = signingKey ?? generateKeyPairSync("ed25519").privateKey;
  return {
    store: { type: "s3", bucket, endpoint: s3.endpoint, pathStyle: "true", credentialsSecret: "evidence-store", ...store },
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, signingKey: key.export({ type: "pkcs8", format: "pem" }).toString() },
  };
}

export async function evidenceFixture(recording: RecordingSettings): Promise<EvidenceFixture> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-e2e-spool-"));
  const spool = await EvidenceSpool.open({ dir, maxBytes: 64 << 20 });
  const targets = new StoreTargets();
  const target = targets.targetFor(recording, 'AccessPolicy "e2e"');
  const logs: LogLine[] = [];
  const line =
    (level: LogLine["level"]) =>
    (message: string, meta?: Record<string, unknown>): void => {
      logs.push({ level, message, meta });
    };
  const log: UploaderLog = { info: line("info"), warn: line("warn"), error: line("error") };
  return {
    spool,
    target,
    publicKey: createPublicKey(target.signingKey),
    logs,
    uploader: (options = {}) => new EvidenceUploader({ spool, storeFor: () => target, intervalMs: 200, log, backoff: { initialMs: 100, maxMs: 400 }, ...options }),
    close: async () => {
      await spool.close();
      targets.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function statement(i: number): RequestData {
  return postgresRequest(`SELECT id, total FROM orders WHERE id = ${i} /* ${"padding ".repeat(20)} */`, { action: "allow", policy: "read-only", rule: "selects" });
}

export function startData(namespace: string, pod: string): SessionStartData {
  return { ...START_DATA, identity: { ...START_DATA.identity, namespace, pod } };
}

/** The seqs 1..n, to compare what was uploaded with: every record exactly once, in order. */
export function seqs(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

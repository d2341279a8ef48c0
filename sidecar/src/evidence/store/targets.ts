// From an AccessPolicy's recording settings to the store its sessions upload
// to. Stores are kept per distinct settings, so every session of a policy
// shares one S3 client (and its connection pool) instead of opening its own;
// settings that change (a new bundle revision) get a new store.
import { canonicalJson } from "@portcullis/common/canonical-json";
import type { RecordingSettings } from "@portcullis/common/config/bundle";
import { FilesystemStore } from "./filesystem-store.js";
import { S3Store } from "./s3-store.js";
import { parseStoreSettings, type StoreSettings } from "@portcullis/common/evidence/store-settings";
import type { EvidenceStore, StoreTarget } from "./store.js";

export function openStore(settings: StoreSettings): EvidenceStore {
  return settings.type === "s3" ? new S3Store(settings) : new FilesystemStore(settings.path);
}

export class StoreTargets {
  private readonly targets = new Map<string, StoreTarget>();

  constructor(private readonly open: (settings: StoreSettings) => EvidenceStore = openStore) {}

  /** The target for these settings; throws StoreSettingsError (naming `owner` and the bad keys) when they are not usable. */
  targetFor(recording: RecordingSettings, owner: string): StoreTarget {
    const key = canonicalJson(recording);
    const known = this.targets.get(key);
    if (known !== undefined) return known;
    const settings = parseStoreSettings(recording, owner);
    const target: StoreTarget = { store: this.open(settings), prefix: settings.prefix, signingKey: settings.signingKey };
    this.targets.set(key, target);
    return target;
  }

  /** Closes every store; call once the uploader has stopped. */
  close(): void {
    for (const target of this.targets.values()) target.store.close();
    this.targets.clear();
  }
}

// ApprovalRequests through the API server: list, read, and decide through the
// status subresource with a JSON merge patch, which is what the reviewer role
// grants and what the operator's admission webhook checks.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import type { IApprovalRequest } from "@portcullis/crds";
import { APPROVAL_GROUP, APPROVAL_PLURAL, APPROVAL_VERSION } from "@portcullis/common/approvals";

export type ApprovalStatus = NonNullable<IApprovalRequest["status"]>;

export interface ApprovalsApi {
  /** Every ApprovalRequest in `namespace`, or in all namespaces when it is undefined. */
  list(namespace: string | undefined): Promise<IApprovalRequest[]>;
  get(namespace: string, name: string): Promise<IApprovalRequest>;
  /** Merge-patches the status subresource; resolves to the object as stored (with what the webhook stamped). */
  patchStatus(namespace: string, name: string, status: ApprovalStatus): Promise<IApprovalRequest>;
}

const API = { group: APPROVAL_GROUP, version: APPROVAL_VERSION, plural: APPROVAL_PLURAL };

export function approvalsApi(config: KubeConfig): ApprovalsApi {
  const objects = config.makeApiClient(CustomObjectsApi);
  return {
    async list(namespace) {
      const list = (namespace === undefined ? await objects.listClusterCustomObject(API) : await objects.listNamespacedCustomObject({ ...API, namespace })) as { items?: IApprovalRequest[] };
      return list.items ?? [];
    },
    async get(namespace, name) {
      return (await objects.getNamespacedCustomObject({ ...API, namespace, name })) as IApprovalRequest;
    },
    async patchStatus(namespace, name, status) {
      return (await objects.patchNamespacedCustomObjectStatus({ ...API, namespace, name, body: { status } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch))) as IApprovalRequest;
    },
  };
}

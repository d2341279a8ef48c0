// A control plane of its own with Portcullis installed and operators running,
// for suites that restart or break things without disturbing other suites.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { ControlPlane } from "../controlplane/controlplane.js";
import { freePort } from "../controlplane/processes.js";
import { kubectl, type CommandResult, type KubectlOptions } from "../jest/environment.js";
import { waitForJsonPath } from "./cluster-waits.js";
import { installPortcullis, type WebhookPorts } from "./install.js";
import { startOperator, type OperatorProcess } from "./process.js";

const REVIEWER_ROLE = fileURLToPath(new URL("../../../operator/deploy/reviewer-role.yaml", import.meta.url));

/** Who gets the reviewer role: a user or group (by name), or a namespace's ServiceAccount. */
export type RbacSubject = { kind: "User" | "Group"; name: string } | { kind: "ServiceAccount"; name: string; namespace: string };

export class OperatorFixture {
  readonly operators: OperatorProcess[] = [];

  private constructor(
    readonly controlPlane: ControlPlane,
    readonly operatorKubeconfig: string,
    readonly webhookPorts: WebhookPorts,
  ) {}

  static async start(): Promise<OperatorFixture> {
    const controlPlane = await ControlPlane.start({ ownerPid: process.pid });
    const webhookPorts = { webhook: await freePort(), caProbe: await freePort() };
    const operatorKubeconfig = await installPortcullis(controlPlane, webhookPorts);
    return new OperatorFixture(controlPlane, operatorKubeconfig, webhookPorts);
  }

  /** Starts an operator replica; the first one (or one asked to) gets the port the webhooks call. */
  async startOperator(identity: string, extraArgs: string[] = [], servesWebhooks = this.operators.length === 0): Promise<OperatorProcess> {
    const operator = await startOperator({
      kubeconfig: this.operatorKubeconfig,
      logDir: join(this.controlPlane.state.dir, "logs"),
      identity,
      ...(servesWebhooks ? { webhookPorts: this.webhookPorts } : {}),
      extraArgs,
    });
    this.operators.push(operator);
    return operator;
  }

  /** Installs operator/deploy/reviewer-role.yaml and binds the role to these subjects, as the README tells platform teams to. */
  async grantReviewerRole(subjects: RbacSubject[]): Promise<void> {
    const binding = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "portcullis-reviewers" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "portcullis-reviewer" },
      subjects: subjects.map((subject) => (subject.kind === "ServiceAccount" ? subject : { ...subject, apiGroup: "rbac.authorization.k8s.io" })),
    };
    await this.kubectlOk(["apply", "-f", REVIEWER_ROLE]);
    await this.kubectlOk(["apply", "-f", "-"], { stdin: stringify(binding) });
  }

  kubectl(args: string[], options: KubectlOptions = {}): Promise<CommandResult> {
    return kubectl(args, { kubeconfig: this.controlPlane.state.adminKubeconfig, ...options });
  }

  async kubectlOk(args: string[], options: KubectlOptions = {}): Promise<string> {
    const result = await this.kubectl(args, options);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  }

  /** Polls a jsonpath until it equals `expected` (or the timeout passes; then fails with the last value). */
  waitFor(args: string[], jsonpath: string, expected: string, timeoutMs = 20_000): Promise<void> {
    return waitForJsonPath((kubectlArgs) => this.kubectl(kubectlArgs), args, jsonpath, expected, timeoutMs);
  }

  async stop(): Promise<void> {
    await Promise.all(this.operators.map((operator) => operator.stop("SIGKILL")));
    await this.controlPlane.stop();
  }
}

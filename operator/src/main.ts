#!/usr/bin/env node
// portcullis-operator: caches, certificates, admission webhooks and the broker
// on every replica; controllers on the leader only.
import { brokerSources, createCaches, startCaches, stopCaches } from "./caches.js";
import { CertificateManager } from "./certs/manager.js";
import { CA_PROBE_PATH, caProbeHandler } from "./certs/probe.js";
import { policyFromDays } from "./certs/rotation.js";
import { runControllers } from "./controllers/run.js";
import { createBrokerHandler } from "./broker/server.js";
import { createHealthServer } from "./http/health-server.js";
import { createReloadingHttpsServer, listen } from "./http/https-server.js";
import { loadKubeConfig, makeKubeClients } from "./kube/client.js";
import { LeaderElector } from "./kube/leader.js";
import { createLogger, errorMessage, type Logger } from "./log.js";
import { OperatorMetrics } from "./metrics.js";
import { SettingsError, loadSettings, type OperatorSettings } from "./settings.js";
import { admissionRouter } from "./webhooks/admission-server.js";
import { loadSealKey } from "./webhooks/inject/seal-key.js";
import { accessPolicyHandler, approvalRequestHandler, injectedPodUpdateHandler, podInjectionHandler, resourceHandler } from "./webhooks/handlers.js";
import { CA_BUNDLE_CONFIGMAP } from "./controllers/ca-bundle-controller.js";
import { VersionApi } from "@kubernetes/client-node";
import {
  defaultInjectionSettings,
  injectionSettingsProblems,
  nativeSidecarsSupported,
  type InjectionSettings,
} from "./webhooks/inject/settings.js";

const CACHE_SYNC_TIMEOUT_MS = 120_000;

/** The injection settings; native sidecars only where the API server supports them (Kubernetes 1.29+). */
function injectionSettings(settings: OperatorSettings, nativeSupported: boolean, log: Logger): InjectionSettings {
  if (settings.nativeSidecar && !nativeSupported) log.warn("this cluster has no native sidecars (Kubernetes < 1.29); injecting the gateway as a regular container");
  const injection = {
    ...defaultInjectionSettings,
    sidecarImage: settings.sidecarImage,
    initImage: settings.initImage,
    nativeSidecar: settings.nativeSidecar && nativeSupported,
    sidecarUid: settings.sidecarUid,
    ...(settings.sidecarResources ? { resources: settings.sidecarResources } : {}),
    brokerUrl: settings.brokerUrl,
    caBundleConfigMap: CA_BUNDLE_CONFIGMAP,
  };
  const problems = injectionSettingsProblems(injection);
  if (problems.length > 0) throw new SettingsError(`invalid injection settings: ${problems.join("; ")}`);
  return injection;
}

async function run(settings: OperatorSettings): Promise<void> {
  const log = createLogger();
  const metrics = new OperatorMetrics();
  const clients = makeKubeClients(loadKubeConfig(settings.kubeconfig));
  const injection = injectionSettings(settings, nativeSidecarsSupported(await clients.kubeConfig.makeApiClient(VersionApi).getCode()), log);
  let ready = false;
  const health = createHealthServer(metrics.registry, () => ready);
  await listen(health, settings.healthPort, settings.listenHost);

  const caches = createCaches(clients.kubeConfig, settings.resyncSeconds * 1000, log);
  await startCaches(caches, CACHE_SYNC_TIMEOUT_MS);

  const certificates = new CertificateManager({
    namespace: settings.namespace,
    secretName: settings.certificateSecret,
    mutatingWebhooks: [settings.mutatingWebhookConfiguration],
    validatingWebhooks: [settings.validatingWebhookConfiguration],
    policy: policyFromDays(settings.caValidityDays, settings.servingValidityDays, {
      dnsNames: settings.certificateDnsNames,
      ipAddresses: settings.certificateIpAddresses,
    }),
    core: clients.core,
    admission: clients.admission,
    log,
  });
  await certificates.start(settings.certificateCheckSeconds * 1000);
  const sealKey = await loadSealKey(clients.core, settings.namespace, settings.sealKeySecret);

  const webhooks = createReloadingHttpsServer(
    certificates,
    admissionRouter(
      {
        "/mutate/pods": podInjectionHandler(caches, injection, sealKey),
        "/mutate/pods/opted-in-namespace": podInjectionHandler(caches, injection, sealKey, true),
        "/validate/pods": injectedPodUpdateHandler(sealKey),
        "/mutate/approvalrequests": approvalRequestHandler(settings.serviceAccountUsername),
        "/validate/accesspolicies": accessPolicyHandler(caches),
        "/validate/resources": resourceHandler(caches),
      },
      metrics,
      log,
    ),
  );
  await listen(webhooks, settings.webhookPort, settings.listenHost);
  const probeRouter = admissionRouter({ [CA_PROBE_PATH]: caProbeHandler(() => certificates.probeCa) }, metrics, log);
  const probe = createReloadingHttpsServer(
    certificates,
    // One request per connection: the CA a probe answer names is then the one of the certificate this handshake presented.
    (req, res) => {
      res.setHeader("connection", "close");
      probeRouter(req, res);
    },
    () => certificates.probeServing,
  );
  await listen(probe, settings.caProbePort, settings.listenHost);

  const broker = createBrokerHandler({
    sources: brokerSources(caches, sealKey, injection.sidecarUid),
    authApi: clients.authentication,
    customObjects: clients.customObjects,
    metrics,
    log,
  });
  const brokerServer = createReloadingHttpsServer(certificates, broker);
  await listen(brokerServer, settings.brokerPort, settings.listenHost);

  const elector = new LeaderElector({
    namespace: settings.namespace,
    name: settings.leaseName,
    identity: settings.identity,
    kubeConfig: clients.kubeConfig,
    leaseDurationSeconds: settings.leaseDurationSeconds,
    renewDeadlineMs: (settings.leaseDurationSeconds * 1000 * 2) / 3,
    retryPeriodMs: Math.max(500, (settings.leaseDurationSeconds * 1000) / 7.5),
    logger: log,
    onStartedLeading: (signal) => {
      metrics.isLeader.set(1);
      runControllers(
        { caches, core: clients.core, customObjects: clients.customObjects, certificates, identity: settings.identity, approvalRetentionSeconds: settings.approvalRetentionSeconds, metrics, log },
        signal,
      );
    },
    onStoppedLeading: () => metrics.isLeader.set(0),
  });
  elector.start();
  ready = true;
  log.info("operator ready", { identity: settings.identity, webhookPort: settings.webhookPort, brokerPort: settings.brokerPort });

  const shutdown = async (signalName: string): Promise<void> => {
    log.info("shutting down", { signal: signalName });
    ready = false;
    await elector.stop({ release: true });
    broker.close();
    certificates.stop();
    await Promise.all([webhooks, probe, brokerServer, health].map((server) => new Promise((resolve) => server.close(resolve))));
    await stopCaches(caches);
    process.exit(0);
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}

let settings: OperatorSettings;
try {
  settings = loadSettings(process.argv.slice(2));
} catch (error) {
  console.error(`portcullis-operator: ${errorMessage(error)}`);
  process.exit(error instanceof SettingsError ? 2 : 1);
}
run(settings).catch((error: unknown) => {
  console.error(JSON.stringify({ level: "error", message: "operator failed to start", error: errorMessage(error) }));
  process.exit(error instanceof SettingsError ? 2 : 1);
});

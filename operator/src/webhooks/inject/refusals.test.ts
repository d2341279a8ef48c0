import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { IResource } from "@portcullis/crds";
import { routedResource } from "../../testing/objects.js";
import { podRefusals, podSecurityRefusals, refusalReasons, reservedNameConflicts } from "./refusals.js";
import { defaultInjectionSettings } from "./settings.js";

function resource(name: string, listener: number, transparent = false, host = `${name}.data.svc`, port = 5432): IResource {
  return routedResource(name, host, port, listener, transparent);
}

/** An agent that may be served transparently: its own UID, and no capability to switch UIDs. */
const CONFINED_AGENT: V1Container = { name: "agent", image: "a", securityContext: { runAsUser: 1000, capabilities: { drop: ["ALL"] } } };

function pod(spec: Partial<NonNullable<V1Pod["spec"]>> = {}, containers: V1Container[] = [CONFINED_AGENT]): V1Pod {
  return { metadata: { name: "p", namespace: "agents" }, spec: { containers, ...spec } };
}

const settings = defaultInjectionSettings;
const explicit = [resource("db", 15432)];
const transparent = [resource("db", 15432, true)];

describe("refusalReasons", () => {
  it("accepts an ordinary pod", () => {
    expect(refusalReasons(pod(), transparent, settings)).toEqual([]);
  });

  it.each([
    ["hostNetwork", { hostNetwork: true }, /^spec\.hostNetwork is true: the iptables rules would change the node's network/],
    ["hostPID", { hostPID: true }, /^spec\.hostPID is true: the agent could read the gateway sidecar's memory/],
    ["shareProcessNamespace", { shareProcessNamespace: true }, /^spec\.shareProcessNamespace is true: .*brokered credentials$/],
    ["a Windows pod", { os: { name: "windows" } }, /^spec\.os\.name is "windows"/],
  ])("refuses %s", (_name, spec, message) => {
    expect(refusalReasons(pod(spec), explicit, settings)).toEqual([expect.stringMatching(message)]);
  });

  it("refuses two Resources with one listener port, and a listener on the metrics port", () => {
    expect(refusalReasons(pod(), [resource("a", 15432), resource("b", 15432), resource("m", 15090)], settings)).toEqual([
      'Resources "a" and "b" both use listener port 15432; give each Resource its own spec.listener.port',
      `Resource "m" listens on port 15090, which is the gateway's metrics port`,
    ]);
  });

  it("refuses two transparent Resources for one destination, and an IPv6 destination", () => {
    const reasons = refusalReasons(
      pod(),
      [resource("a", 15432, true, "db.svc"), resource("b", 15433, true, "db.svc"), resource("v6", 15434, true, "fd00::1")],
      settings,
    );
    expect(reasons).toEqual([
      expect.stringMatching(/^Resource "v6" is transparent with an IPv6 endpoint.host/),
      'transparent Resources "a" and "b" both intercept db.svc:5432; traffic can be redirected to only one of them',
    ]);
  });

  it("names the container, field and owner of a colliding port, in init containers too; UDP does not collide", () => {
    const reasons = refusalReasons(
      pod({ initContainers: [{ name: "setup", ports: [{ containerPort: 15432 }] }] }, [
        { name: "agent", ports: [{ containerPort: 15432, protocol: "UDP" }, { containerPort: 15090 }] },
      ]),
      explicit,
      settings,
    );
    expect(reasons).toEqual([
      `spec.initContainers[0].ports[0].containerPort 15432 of container "setup" is the listener port of Resource "db"; change the container's port or the Resource's spec.listener.port`,
      `spec.containers[0].ports[1].containerPort 15090 of container "agent" is the gateway's metrics port; change the container's port`,
    ]);
  });

  it("refuses, in transparent mode only, app containers that could escape the redirect", () => {
    const dropAll = { capabilities: { drop: ["ALL"] } };
    const risky = pod({ securityContext: { runAsUser: 1337 } }, [
      { name: "as-sidecar", securityContext: dropAll },
      { name: "netadmin", securityContext: { runAsUser: 1000, capabilities: { add: ["net_admin"], drop: ["SETUID"] } } },
      { name: "all", securityContext: { runAsUser: 1000, capabilities: { add: ["CAP_ALL"], drop: ["all"] } } },
      { name: "root", securityContext: { runAsUser: 0 } },
    ]);
    expect(refusalReasons(risky, explicit, settings)).toEqual([]);
    expect(refusalReasons(risky, transparent, settings)).toEqual([
      `container "as-sidecar" (spec.containers[0]) runs as UID 1337, the gateway's UID, so its traffic would skip the transparent redirect`,
      `container "netadmin" (spec.containers[1]) adds NET_ADMIN, so it could remove the transparent redirect rules`,
      `container "all" (spec.containers[2]) adds NET_ADMIN, so it could remove the transparent redirect rules`,
      `container "root" (spec.containers[3]) keeps the SETUID capability, so it could switch to UID 1337, the gateway's UID, and skip the transparent redirect; add "ALL" (or "SETUID") to securityContext.capabilities.drop`,
    ]);
  });

  it.each([
    ["a privileged container", pod({}, [{ name: "agent", securityContext: { privileged: true } }]), `container "agent" (spec.containers[0]) is privileged: it could read the gateway sidecar's token and memory through the node's devices`],
    [
      "a container mounting the evidence spool",
      pod({}, [{ name: "agent", volumeMounts: [{ name: "portcullis-spool", mountPath: "/x" }] }]),
      `container "agent" (spec.containers[0]) mounts volume "portcullis-spool", which only the Portcullis containers may mount`,
    ],
    [
      "a hostPath volume",
      pod({ volumes: [{ name: "node", hostPath: { path: "/var/lib/kubelet" } }] }),
      `spec.volumes[0] "node" is a hostPath volume (/var/lib/kubelet): through the node's filesystem the agent could read the gateway sidecar's token and evidence spool`,
    ],
    ["hostIPC", pod({ hostIPC: true }), "spec.hostIPC is true: the agent would share the node's IPC namespace, and with it other pods' shared memory"],
  ])("refuses, in any mode, %s", (_name, risky, reason) => {
    expect(refusalReasons(risky, explicit, settings)).toEqual([reason]);
  });

  it("refuses a pod volume that projects a token for the broker's audience", () => {
    const volumes = [{ name: "mine", projected: { sources: [{ serviceAccountToken: { audience: "portcullis", path: "token" } }] } }];
    expect(refusalReasons(pod({ volumes }), explicit, settings)).toEqual([
      `spec.volumes[0] "mine" projects a ServiceAccount token for audience "portcullis", which only the gateway sidecar may hold`,
    ]);
  });
});

describe("reservedNameConflicts", () => {
  it("names containers and volumes that use the injector's names", () => {
    const conflicting = pod({ volumes: [{ name: "portcullis-spool", emptyDir: {} }] }, [{ name: "portcullis-init" }]);
    expect(reservedNameConflicts(conflicting)).toEqual([
      'container name "portcullis-init" is reserved for Portcullis; rename the container',
      'volume name "portcullis-spool" is reserved for Portcullis; rename the volume',
    ]);
  });
});

describe("podSecurityRefusals", () => {
  const enforce = (level: string): Record<string, string> => ({ "pod-security.kubernetes.io/enforce": level });

  it("refuses transparent Resources where Pod Security forbids the iptables init container", () => {
    expect(podSecurityRefusals(enforce("restricted"), transparent)).toEqual([
      `the namespace enforces Pod Security level "restricted", which forbids the NET_ADMIN capability that portcullis-init needs for the transparent Resources "db"; set their spec.transparent to false or allow the "privileged" level`,
    ]);
    expect(podSecurityRefusals(enforce("baseline"), transparent)).toHaveLength(1);
  });

  it("accepts explicit Resources at any level, and transparent ones at the privileged level", () => {
    expect(podSecurityRefusals(enforce("restricted"), explicit)).toEqual([]);
    expect(podSecurityRefusals(enforce("privileged"), transparent)).toEqual([]);
    expect(podSecurityRefusals(undefined, transparent)).toEqual([]);
  });
});

describe("podRefusals and the trust directory", () => {
  const withMount = (readOnly: boolean): V1Pod => ({
    spec: { containers: [{ name: "agent", image: "agent:1", volumeMounts: [{ name: "portcullis-trust", mountPath: "/var/run/portcullis-trust", readOnly }] }] },
  });

  it("lets an app container read the pod CA's trust directory, and refuses one that could write it", () => {
    expect(podRefusals(withMount(true))).toEqual([]);
    expect(podRefusals(withMount(false))).toEqual(['container "agent" (spec.containers[0]) mounts volume "portcullis-trust", which only the Portcullis containers may mount']);
  });
});

// The configuration files of the test node, as pure functions of its layout,
// so what the node runs with is read (and reviewed) in one place. Facts
// checked on these machines (../shared/NOTES.md): the host is cgroup v1, the
// sandbox lacks CAP_SYS_RESOURCE, there is no registry, and kube-proxy must
// leave the host's conntrack settings alone.

/** Where everything of one node lives; every path is inside `dir`. */
export interface NodeLayout {
  dir: string;
  name: string;
  /** The node's address: on a dummy interface, so the API server reaches the kubelet on a non-loopback address. */
  nodeIp: string;
  podCidr: string;
  /** The CNI bridge; its own route to the pod range is more specific than the harness's unreachable one. */
  bridge: string;
  sandboxImage: string;
  apiServer: string;
}

export const containerdSocket = (layout: NodeLayout): string => `${layout.dir}/run/containerd.sock`;
export const cniConfDir = (layout: NodeLayout): string => `${layout.dir}/cni/conf`;

export function containerdConfig(layout: NodeLayout): string {
  return `version = 2
root = "${layout.dir}/containerd/root"
state = "${layout.dir}/containerd/state"
[grpc]
  address = "${containerdSocket(layout)}"
[ttrpc]
  address = "${containerdSocket(layout)}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${layout.sandboxImage}"
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # Without CAP_SYS_RESOURCE an oom_score_adj below the parent's cannot be set: every sandbox would fail.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConfDir(layout)}"
`;
}

export function cniConfig(layout: NodeLayout): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "portcullis-test",
      plugins: [
        {
          type: "bridge",
          bridge: layout.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: { type: "host-local", ranges: [[{ subnet: layout.podCidr }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: `${layout.dir}/cni/ipam` },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

export function kubeletConfig(layout: NodeLayout, caFile: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The host is cgroup v1; containerd 1.6 has no CRI RuntimeConfig, so the kubelet's driver is used.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${containerdSocket(layout)}
imageServiceEndpoint: unix://${containerdSocket(layout)}
address: ${layout.nodeIp}
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${caFile}}
authorization:
  mode: AlwaysAllow
failSwapOn: false
resolvConf: ""
registerNode: true
serializeImagePulls: false
# Images are imported, never pulled: garbage collection must never remove them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
syncFrequency: 5s
fileCheckFrequency: 5s
nodeStatusReportFrequency: 10s
podLogsDir: ${layout.dir}/pod-logs
`;
}

export function kubeProxyConfig(layout: NodeLayout, kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: ${kubeconfig}}
hostnameOverride: ${layout.name}
clusterCIDR: ${layout.podCidr}
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables: {localhostNodePorts: false, masqueradeAll: false, syncPeriod: 5s, minSyncPeriod: 0s}
# 0: leave the host's conntrack sysctls alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`;
}

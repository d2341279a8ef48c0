// The test node's configuration keeps the facts these machines need (see
// ../shared/NOTES.md): each setting below was a failure before it was there.
import { cniConfig, containerdConfig, kubeletConfig, kubeProxyConfig, type NodeLayout } from "./config.js";

const layout: NodeLayout = { dir: "/tmp/n", name: "n1", nodeIp: "10.89.255.1", podCidr: "10.88.0.0/24", bridge: "pcnode0", sandboxImage: "localhost/portcullis-pause:0.1.0", apiServer: "https://127.0.0.1:6443" };

describe("the test node's configuration", () => {
  it("lets containerd start sandboxes without CAP_SYS_RESOURCE, from the imported pause image, with state inside the node's directory", () => {
    const config = containerdConfig(layout);
    expect(config).toContain("restrict_oom_score_adj = true");
    expect(config).toContain('sandbox_image = "localhost/portcullis-pause:0.1.0"');
    expect(config).toContain("netns_mounts_under_state_dir = true");
    expect(config.match(/"\/[^"]*"/g)?.filter((path) => !path.startsWith('"/tmp/n/') && path !== '"/usr/lib/cni"')).toEqual([]);
  });

  it("runs the kubelet on cgroup v1 with cgroupfs, never collecting the imported images, listening on the node's address", () => {
    const config = kubeletConfig(layout, "/tmp/ca.crt");
    for (const line of ["failCgroupV1: false", "cgroupDriver: cgroupfs", "imageGCHighThresholdPercent: 100", "address: 10.89.255.1", "anonymous: {enabled: false}"]) expect(config).toContain(line);
  });

  it("keeps kube-proxy away from the host's conntrack settings and off localhost node ports", () => {
    const config = kubeProxyConfig(layout, "/tmp/kp.kubeconfig");
    expect(config).toContain("conntrack: {maxPerCore: 0");
    expect(config).toContain("localhostNodePorts: false");
    expect(config).toContain("mode: iptables");
  });

  it("puts pods on their own bridge without masquerading them off the machine", () => {
    const bridge = (JSON.parse(cniConfig(layout)) as { plugins: Array<{ type: string; bridge?: string; ipMasq?: boolean; ipam?: { ranges: unknown } }> }).plugins[0];
    expect(bridge).toMatchObject({ type: "bridge", bridge: "pcnode0", ipMasq: false, ipam: { ranges: [[{ subnet: "10.88.0.0/24" }]] } });
  });
});

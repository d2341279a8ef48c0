import { readFileSync } from "node:fs";
import { requiredVersion } from "./tools.js";

const goMod = (dir: string): string => readFileSync(new URL(`../../tools/${dir}/go.mod`, import.meta.url), "utf8");

describe("requiredVersion", () => {
  it("reads a version from a require block and a single-line require", () => {
    const text = "module x\n\nrequire (\n\tk8s.io/kubernetes v1.36.3\n\tk8s.io/api v0.36.3 // indirect\n)\nrequire go.etcd.io/etcd/server/v3 v3.6.8\n";
    expect(requiredVersion(text, "k8s.io/kubernetes")).toBe("v1.36.3");
    expect(requiredVersion(text, "go.etcd.io/etcd/server/v3")).toBe("v3.6.8");
  });

  it("does not confuse a module with one whose name it prefixes", () => {
    expect(() => requiredVersion("require k8s.io/kubernetes-extra v1.0.0\n", "k8s.io/kubernetes")).toThrow(
      "go.mod does not require k8s.io/kubernetes",
    );
  });
});

describe("the pinned control plane", () => {
  it("runs the etcd server version that kube-apiserver's etcd client was built against", () => {
    const etcdClient = requiredVersion(goMod("kube"), "go.etcd.io/etcd/client/v3");
    expect(requiredVersion(goMod("etcd"), "go.etcd.io/etcd/server/v3")).toBe(etcdClient);
  });

  it("replaces every staging module of k8s.io/kubernetes with the matching published release", () => {
    const kube = goMod("kube");
    const minor = /^v1\.(\d+)\.(\d+)$/.exec(requiredVersion(kube, "k8s.io/kubernetes"));
    const replaced = [...kube.matchAll(/^\t(k8s\.io\/\S+) => \S+ (v\S+)$/gm)];
    expect(replaced.length).toBeGreaterThan(25);
    for (const [, module, version] of replaced) expect(`${module} ${version}`).toBe(`${module} v0.${minor?.[1]}.${minor?.[2]}`);
  });
});

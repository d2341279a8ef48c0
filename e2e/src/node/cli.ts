#!/usr/bin/env node
// `portcullis-node up`: a control plane with a real node and the images of
// `make images`; prints the admin kubeconfig's path and stops both on SIGINT
// or SIGTERM. The e2e suite kills it to check that the next run puts the host
// back.
import { ControlPlane } from "../controlplane/controlplane.js";
import { locateTools } from "../controlplane/tools.js";
import { imageArchives, imageNamed } from "./images.js";
import { TestNode } from "./node.js";

async function up(): Promise<void> {
  const tools = locateTools();
  const controlPlane = await ControlPlane.start({ tools, ownerPid: process.pid });
  const node = await TestNode.start({ controlPlane, tools, images: imageArchives(), sandboxImage: imageNamed("portcullis-pause") });
  console.log(`node ready; KUBECONFIG=${controlPlane.state.adminKubeconfig}`);
  const stop = async (): Promise<void> => {
    await node.stop();
    await controlPlane.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}

if (process.argv[2] !== "up") {
  console.error("usage: portcullis-node up");
  process.exit(2);
}
up().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});

#!/usr/bin/env node
// portcullis (and kubectl-portcullis, so kubectl finds it as a plugin): the
// reviewer's and auditor's command line. Everything happens in run(), which
// is imported only after the Node version is checked: the Kubernetes client
// crashes while loading on an older Node, and a user should see why instead.
const MINIMUM = [22, 19] as const;
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);

if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
  process.stderr.write(`error: portcullis needs Node.js ${MINIMUM.join(".")} or later; this is ${process.version}\n`);
  process.exitCode = 1;
} else {
  const [{ run }, { processIo }] = await Promise.all([import("./run.js"), import("./io.js")]);
  process.exitCode = await run(process.argv.slice(2), processIo());
}

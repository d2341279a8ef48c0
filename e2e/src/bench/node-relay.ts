// The floor of a proxy written for Node.js, for `make bench`: a process that
// accepts TCP connections and relays each one's bytes to PostgreSQL and back
// with the same socket settings as the gateway (TCP_NODELAY both ways, one
// write per read), and does nothing else — no parsing, no policy, no evidence.
// What it spends per statement is what Node.js's event loop and the four
// socket system calls cost before the gateway does any work of its own.
// Run as `node node-relay.js UPSTREAM_PORT`; prints the port it listens on.
import net from "node:net";

const upstreamPort = Number(process.argv[2]);
if (!Number.isInteger(upstreamPort) || upstreamPort <= 0) {
  console.error("usage: node node-relay.js UPSTREAM_PORT");
  process.exit(2);
}

const relay = (from: net.Socket, to: net.Socket): void => {
  from.on("data", (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on("drain", () => from.resume());
  from.on("close", () => to.destroy());
  from.on("error", () => to.destroy());
};

const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: "127.0.0.1", port: upstreamPort, noDelay: true });
  relay(client, upstream);
  relay(upstream, client);
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address() as net.AddressInfo;
  process.stdout.write(`${address.port}\n`);
});

// What the message path costs for one pgbench -S statement, apart from
// classification, evidence and masking: the client's Query as it arrives
// (split from the stream, decoded to its text), and the server's answer (the
// RowDescription, DataRow, CommandComplete and ReadyForQuery of one row, in
// one chunk) split into frames and its command tag read, as server-stream.ts
// does for a result nothing masks.
// Run: node sidecar/dist/protocols/postgres/frames.bench.js (or make bench-micro).
import { serialize } from "pg-protocol";
import { runSuite } from "@portcullis/common/bench/measure";
import { dataRow, message, readyForQuery } from "./backend.js";
import { FrameSplitter } from "./frames.js";
import { parseFrontendMessage } from "./frontend.js";

const query = serialize.query("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;");

const cstring = (text: string): Buffer => Buffer.from(`${text}\0`);
const rowDescription = message("T", Buffer.concat([Buffer.from([0, 1]), cstring("abalance"), Buffer.from([0, 0, 0x40, 0x0a, 0, 3, 0, 0, 0, 23, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0])]));
const answer = Buffer.concat([rowDescription, dataRow([Buffer.from("-4711")]), message("C", cstring("SELECT 1")), readyForQuery("I")]);

const clientSide = new FrameSplitter();
const serverSide = new FrameSplitter();

await runSuite("the message path of a statement (sidecar/src/protocols/postgres/frames.ts, frontend.ts)", [
  {
    name: "Query: split from the stream + decoded",
    run: () => {
      clientSide.push(query);
      const frame = clientSide.next();
      if (!frame) throw new Error("the Query frame did not split");
      return parseFrontendMessage(frame.type, frame.body);
    },
  },
  {
    name: "answer (T, D, C, Z): split + command tag",
    run: () => {
      serverSide.push(answer);
      let tag = "";
      for (let frame = serverSide.next(); frame; frame = serverSide.next()) if (frame.type === "C") tag = frame.body.toString("utf8", 0, frame.body.indexOf(0));
      return tag;
    },
  },
]);

// @peculiar/x509 resolves its services through tsyringe, which needs the
// Reflect metadata API loaded first; every module imports x509 from here.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as Crypto);

export { x509 };

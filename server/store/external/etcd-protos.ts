// etcd3 reads its .proto files from `${__dirname}/../proto` when it loads, and a Bun-compiled
// binary bakes the build machine's node_modules path into __dirname: the files are not there
// on the machine that runs skiff. So the three files are embedded here, and protobufjs (which
// does the reading) is given them when that path does not exist. Import before "etcd3".
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import protobuf from "protobufjs";
import auth from "etcd3/proto/auth.proto" with { type: "text" };
import kv from "etcd3/proto/kv.proto" with { type: "text" };
import rpc from "etcd3/proto/rpc.proto" with { type: "text" };

const embedded: Record<string, string> = { "rpc.proto": rpc, "kv.proto": kv, "auth.proto": auth };
const util = (protobuf as any).util;
const real = util.fs ?? { readFileSync };
util.fs = {
  ...real,
  readFileSync(file: string, ...rest: unknown[]) {
    const name = basename(String(file));
    if (/[\\/]etcd3[\\/]proto[\\/]/.test(String(file)) && embedded[name] !== undefined && !existsSync(file)) return Buffer.from(embedded[name]!);
    return real.readFileSync(file, ...rest);
  },
};

// A third-party grpc-web client for the gateway's tests: Connect's
// grpc-web transport for Node.js (binary format), over HTTP/1.1 and HTTP/2,
// with service descriptors loaded at run time from a FileDescriptorSet.
//
// usage: node grpc_web_client.mjs <gateway base URL> <descriptor set file>
// prints one JSON object with what each call returned.
import { readFileSync } from "node:fs";
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const [baseUrl, descriptorFile, loginUser, loginPassword] = process.argv.slice(2);
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(descriptorFile)),
);
const service = (name) => {
  const s = registry.getService(name);
  if (!s) throw new Error(`no service ${name} in the descriptor set`);
  return s;
};

const results = {};
for (const httpVersion of ["1.1", "2"]) {
  const transport = (suffix = "") =>
    createGrpcWebTransport({ baseUrl: baseUrl + suffix, httpVersion, useBinaryFormat: true });

  // Unary: the gateway's own health.
  const health = createClient(service("grpc.health.v1.Health"), transport());
  const checked = await health.check({ service: "" });
  results[`check_${httpVersion}`] = checked.status;

  // Server streaming through a system prefix: TTS's own health, first message.
  const tts = createClient(service("grpc.health.v1.Health"), transport("/tts"));
  const abort = new AbortController();
  const watched = [];
  try {
    for await (const m of tts.watch({ service: "" }, { signal: abort.signal })) {
      watched.push(m.status);
      abort.abort();
    }
  } catch (e) {
    if (ConnectError.from(e).code !== Code.Canceled) throw e;
  }
  results[`watch_${httpVersion}`] = watched;

  // A platform RPC routed by its service name.
  const tickets = createClient(service("map.tts.v1.TicketService"), transport());
  try {
    await tickets.getTicket({ lookup: { case: "id", value: "x" } });
    results[`get_ticket_${httpVersion}`] = "ok";
  } catch (e) {
    const err = ConnectError.from(e);
    results[`get_ticket_${httpVersion}`] = { code: err.code, message: err.rawMessage };
  }

  // Auth's Login, when the test runs a real Auth behind the gateway.
  if (loginUser) {
    const auth = createClient(service("map.auth.v1.AuthService"), transport());
    try {
      const r = await auth.login({ email: loginUser, password: loginPassword });
      results[`login_${httpVersion}`] = { ok: r.accessToken.length > 0 };
    } catch (e) {
      const err = ConnectError.from(e);
      results[`login_${httpVersion}`] = { code: err.code, message: err.rawMessage };
    }
  }
}
console.log(JSON.stringify(results));

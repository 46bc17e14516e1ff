// A third-party Connect-protocol client for the gateway's tests: Connect's
// Connect transport for Node.js, JSON and binary, over HTTP/1.1 and HTTP/2,
// with service descriptors loaded at run time from a FileDescriptorSet.
//
// usage: node connect_client.mjs <gateway base URL> <descriptor set file> <email> <password>
// prints one JSON object with what each call returned.
import { readFileSync } from "node:fs";
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

const [baseUrl, descriptorFile, email, password] = process.argv.slice(2);
const registry = createFileRegistry(
  fromBinary(FileDescriptorSetSchema, readFileSync(descriptorFile)),
);
const service = (name) => {
  const s = registry.getService(name);
  if (!s) throw new Error(`no service ${name} in the descriptor set`);
  return s;
};
const failure = (e) => {
  const err = ConnectError.from(e);
  return { code: Code[err.code], message: err.rawMessage };
};

const results = {};
for (const httpVersion of ["1.1", "2"]) {
  for (const useBinaryFormat of [false, true]) {
    const key = `${httpVersion}_${useBinaryFormat ? "proto" : "json"}`;
    const transport = (suffix = "", token) =>
      createConnectTransport({
        baseUrl: baseUrl + suffix,
        httpVersion,
        useBinaryFormat,
        interceptors: token
          ? [
              (next) => (req) => {
                req.header.set("authorization", `Bearer ${token}`);
                return next(req);
              },
            ]
          : [],
      });
    const r = {};

    // Sign in, then validate the access token: unary, routed by service name.
    const auth = createClient(service("map.auth.v1.AuthService"), transport());
    try {
      const login = await auth.login({ email, password });
      const valid = await auth.validateToken({ token: login.accessToken });
      r.login = { ok: login.accessToken.length > 0, valid: valid.valid, email: valid.principal?.email };
      // A guarded RPC with the token: the service's answer comes back.
      const signedIn = createClient(
        service("map.auth.v1.DepartmentService"),
        transport("", login.accessToken),
      );
      const departments = await signedIn.listDepartments({});
      r.departments = departments.departments.map((d) => d.code);
    } catch (e) {
      r.login = failure(e);
    }

    // A wrong password: the service's UNAUTHENTICATED.
    try {
      await auth.login({ email, password: "wrong password!" });
      r.wrong_password = "ok";
    } catch (e) {
      r.wrong_password = failure(e);
    }

    // A guarded RPC without credentials.
    const admin = createClient(service("map.auth.v1.AdminService"), transport());
    try {
      await admin.listSystems({});
      r.no_credentials = "ok";
    } catch (e) {
      r.no_credentials = failure(e);
    }

    // Server streaming through a system prefix: TTS's own health, first message.
    const health = createClient(service("grpc.health.v1.Health"), transport("/tts"));
    const abort = new AbortController();
    const watched = [];
    try {
      for await (const m of health.watch({ service: "" }, { signal: abort.signal })) {
        watched.push(m.status);
        abort.abort();
      }
    } catch (e) {
      if (ConnectError.from(e).code !== Code.Canceled) throw e;
    }
    r.watch = watched;

    // A server-streaming platform RPC whose system answers an error at once.
    const tickets = createClient(service("map.tts.v1.TicketService"), transport());
    try {
      for await (const _ of tickets.watchTicket({ ticketId: "x" })) {
        // none expected
      }
      r.watch_ticket = "ok";
    } catch (e) {
      r.watch_ticket = failure(e);
    }
    results[key] = r;
  }
}
console.log(JSON.stringify(results));

// A third-party grpc-web client making client-streaming and bidirectional
// calls through the gateway: Connect's grpc-web transport for Node.js over
// HTTP/2 (`application/grpc-web+proto`), against the test's `map.test.v1.StreamTest` upstream (StringValue in and out):
//   Sum  (client streaming): the messages joined with ",";
//   Echo (bidirectional):    each message back as it arrives.
// The bidirectional call sends each message only after the previous one's
// echo came back, so it finishes only if the gateway forwards request
// frames as they arrive.
//
// usage: node grpc_web_streaming.mjs <base URL, e.g. http://127.0.0.1:1234/tts>
// prints one JSON object with what each call returned.
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";

const [baseUrl] = process.argv.slice(2);
const string = ".google.protobuf.StringValue";
const file = create(FileDescriptorProtoSchema, {
  name: "map/test/v1/stream_test.proto",
  package: "map.test.v1",
  syntax: "proto3",
  dependency: ["google/protobuf/wrappers.proto"],
  service: [
    {
      name: "StreamTest",
      method: [
        { name: "Sum", inputType: string, outputType: string, clientStreaming: true },
        {
          name: "Echo",
          inputType: string,
          outputType: string,
          clientStreaming: true,
          serverStreaming: true,
        },
      ],
    },
  ],
});
const registry = createFileRegistry(file, (name) =>
  name === "google/protobuf/wrappers.proto" ? file_google_protobuf_wrappers : undefined,
);
const service = registry.getService("map.test.v1.StreamTest");
const transport = createGrpcWebTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true });
const client = createClient(service, transport);

// A request stream the caller feeds one message at a time.
function feed() {
  const queue = [];
  let wake = null;
  let ended = false;
  return {
    push(value) {
      queue.push(value);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length > 0) {
          yield { value: queue.shift() };
        } else if (ended) {
          return;
        } else {
          await new Promise((resolve) => (wake = resolve));
          wake = null;
        }
      }
    },
  };
}

const results = {};

// Client streaming: three messages, the last sent after the first two
// have had time to travel.
const sum = feed();
const summed = client.sum(sum);
sum.push("a");
sum.push("b");
await new Promise((resolve) => setTimeout(resolve, 200));
sum.push("c");
sum.end();
results.sum = (await summed).value;

// Bidirectional, in lockstep: the next message goes only after the echo.
const words = ["one", "two", "three"];
const echo = feed();
const echoed = [];
echo.push(words[0]);
for await (const m of client.echo(echo)) {
  echoed.push(m.value);
  if (echoed.length < words.length) {
    echo.push(words[echoed.length]);
  } else {
    echo.end();
  }
}
results.echo = echoed;

console.log(JSON.stringify(results));

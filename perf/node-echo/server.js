// The Node peer of G1 (perf/grpc-load.sh): a plain @grpc/grpc-js server of
// fibermanager.v1.FiberManager whose Submit does the trivial thing (decode the SubmitRequest,
// answer a SubmitResponse with the next sequence number). Versions are pinned in the root
// package.json / package-lock.json.
// Usage: node perf/node-echo/server.js <port>   (prints "listening <port>" when ready)
'use strict';
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const port = Number(process.argv[2] || 50070);
const protos = path.join(__dirname, '..', '..', 'protos');
const definition = protoLoader.loadSync('fibermanager/v1/fibermanager.proto', {
  includeDirs: [protos],
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).fibermanager.v1;

let sequence = 0;
const server = new grpc.Server();
server.addService(v1.FiberManager.service, {
  Submit(call, callback) {
    sequence += 1;
    callback(null, { sequence: String(sequence), queue_depth: 0, duplicate: false });
  },
});

server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
  if (error) {
    console.error(error);
    process.exit(1);
  }
  console.log(`listening ${bound}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.tryShutdown(() => process.exit(0)));
}

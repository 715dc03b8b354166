// FiberManager contract suite, driven by the Node gRPC stack: @grpc/grpc-js + @grpc/proto-loader
// (pinned in the root package-lock.json). Run with `node --test tests/contract/node/`.
//
// Runs against a live server: FM_TARGET (host:port, default 127.0.0.1:50051), started with
// FiberManager:MaxConcurrentFibers = FM_MAX_CONCURRENT_FIBERS (default 16).
//
// Covers every FiberManager RPC, every status code the contract documents with its ErrorInfo
// reason (decoded from grpc-status-details-bin with protobufjs), deadlines, a cancelled and a
// resumed Subscribe, JSON and binary payloads, health Check/Watch, and server reflection v1,
// including a client whose schema comes from reflection alone.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoProtos = path.resolve(here, '..', '..', '..', 'protos');
const grpcProtos = process.env.FM_GRPC_PROTO_DIR ?? '/usr/share/grpc-proto';
const target = process.env.FM_TARGET ?? '127.0.0.1:50051';
const maxConcurrent = Number(process.env.FM_MAX_CONCURRENT_FIBERS ?? '16');
const RPC_TIMEOUT_MS = 10_000; // every call has a deadline: a hang fails the test, not the run
const WAIT_LIMIT_MS = 10_000; // bounded polls

const loaderOptions = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
// The contract from the repository; health and reflection from the grpc-proto package, so the
// server is checked against the standard definitions rather than its own copies.
const contract = grpc.loadPackageDefinition(protoLoader.loadSync(
  ['fibermanager/v1/fibermanager.proto'], { ...loaderOptions, includeDirs: [repoProtos] }));
const standard = grpc.loadPackageDefinition(protoLoader.loadSync(
  ['grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto'], { ...loaderOptions, includeDirs: [grpcProtos] }));
const rpcRoot = protobuf.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'].map((f) => path.join(repoProtos, f)));
const RpcStatus = rpcRoot.lookupType('google.rpc.Status');
const ErrorInfo = rpcRoot.lookupType('google.rpc.ErrorInfo');

const { status: Code } = grpc;
const deadline = (ms = RPC_TIMEOUT_MS) => ({ deadline: Date.now() + ms });
const unique = (prefix) => `node-${prefix}-${randomUUID().slice(0, 10)}`;

let fm;
let health;
let reflection;
const started = []; // fibers the running test started

function unary(client, method, request, options = deadline()) {
  return new Promise((resolve, reject) => {
    client[method](request, options, (error, response) => (error ? reject(error) : resolve(response)));
  });
}

/** Reads a server stream until `enough(messages)` is true (then cancels) or it ends. */
function collect(call, enough = () => false) {
  return new Promise((resolve, reject) => {
    const messages = [];
    let done = false;
    call.on('data', (message) => {
      messages.push(message);
      if (!done && enough(messages)) {
        done = true;
        call.cancel();
        resolve({ messages, code: Code.CANCELLED });
      }
    });
    call.on('error', (error) => {
      if (!done) {
        done = true;
        error.messages = messages;
        reject(error);
      }
    });
    call.on('status', (status) => {
      if (!done && status.code === Code.OK) {
        done = true;
        resolve({ messages, code: Code.OK });
      }
    });
  });
}

function errorInfo(error) {
  const [bin] = error.metadata?.get('grpc-status-details-bin') ?? [];
  if (!bin) {
    return undefined;
  }
  const status = RpcStatus.decode(bin);
  assert.equal(status.code, error.code, 'details code matches grpc-status');
  const any = status.details.find((d) => d.type_url === 'type.googleapis.com/google.rpc.ErrorInfo');
  return any && ErrorInfo.toObject(ErrorInfo.decode(any.value), { defaults: true });
}

async function expectError(promise, code, reason, metadata = {}) {
  const error = await promise.then(
    (response) => assert.fail(`expected ${reason}, got ${JSON.stringify(response)}`),
    (e) => e);
  assert.equal(error.code, code, `${error.code}: ${error.details}`);
  const info = errorInfo(error);
  assert.ok(info, `status ${code} without ErrorInfo: ${error.details}`);
  assert.equal(info.reason, reason);
  assert.equal(info.domain, 'fibermanager.v1');
  for (const [key, value] of Object.entries(metadata)) {
    assert.equal(info.metadata[key], value, `metadata ${key}: ${JSON.stringify(info.metadata)}`);
  }
  return error;
}

async function poll(condition, what) {
  const limit = Date.now() + WAIT_LIMIT_MS;
  for (;;) {
    if (await condition()) {
      return;
    }
    if (Date.now() > limit) {
      assert.fail(`timed out after ${WAIT_LIMIT_MS} ms waiting for ${what}`);
    }
    await new Promise((resolve) => { setTimeout(resolve, 20); });
  }
}

async function start(prefix, fields = {}) {
  const response = await unary(fm, 'Start', { fiber_id: unique(prefix), workflow: 'echo', ...fields });
  started.push(response.fiber.fiber_id);
  return response;
}

const submit = (fiberId, input, fields = {}) => unary(fm, 'Submit', { fiber_id: fiberId, input, ...fields });
const status = (fiberId) => unary(fm, 'GetStatus', { fiber_id: fiberId });

// google.protobuf.Value <-> plain JSON. proto-loader keeps Value as a message, and the
// well-known types come from protobufjs's built-in definitions, whose field names are camelCase
// whatever keepCase says.
function toValue(v) {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: { fields: Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toValue(x)])) } };
}

function fromValue(v) {
  switch (v.kind) {
    case 'nullValue': return null;
    case 'numberValue': return v.numberValue;
    case 'stringValue': return v.stringValue;
    case 'boolValue': return v.boolValue;
    case 'listValue': return v.listValue.values.map(fromValue);
    case 'structValue': return Object.fromEntries(Object.entries(v.structValue.fields).map(([k, x]) => [k, fromValue(x)]));
    default: throw new Error(`a Value with no kind: ${JSON.stringify(v)}`);
  }
}

before(async () => {
  fm = new contract.fibermanager.v1.FiberManager(target, grpc.credentials.createInsecure());
  health = new standard.grpc.health.v1.Health(target, grpc.credentials.createInsecure());
  reflection = new standard.grpc.reflection.v1.ServerReflection(target, grpc.credentials.createInsecure());
  await new Promise((resolve, reject) => {
    fm.waitForReady(Date.now() + WAIT_LIMIT_MS, (error) => (error ? reject(error) : resolve()));
  });
});

// Each test interrupts the fibers it started, so that no test runs into the concurrency limit
// because of another's leftovers.
afterEach(async () => {
  for (const fiberId of started.splice(0)) {
    await unary(fm, 'Interrupt', { fiber_id: fiberId }).catch((error) => {
      if (error.code !== Code.NOT_FOUND) {
        throw error;
      }
    });
  }
});

after(() => {
  fm.close();
  health.close();
  reflection.close();
});

describe('FiberManager RPCs', () => {
  test('ListWorkflows lists the built-in workflows', async () => {
    const { workflows } = await unary(fm, 'ListWorkflows', {});
    const names = workflows.map((w) => w.name);
    assert.ok(names.includes('echo') && names.includes('aggregate'), names.join());
  });

  test('Start, GetStatus, Pause, Resume, Interrupt', async () => {
    const { fiber, created } = await start('life', { labels: { suite: 'node' }, input_capacity: 8 });
    assert.equal(created, true);
    assert.equal(fiber.workflow, 'echo');
    assert.ok(['FIBER_STATUS_IDLE', 'FIBER_STATUS_RUNNING'].includes(fiber.status), fiber.status);
    assert.deepEqual(fiber.labels, { suite: 'node' });
    assert.equal(fiber.input_capacity, 8);

    const info = await status(fiber.fiber_id);
    assert.equal(info.fiber_id, fiber.fiber_id);
    assert.ok(info.create_time);

    assert.equal((await unary(fm, 'Pause', { fiber_id: fiber.fiber_id })).fiber.status, 'FIBER_STATUS_PAUSED');
    assert.equal((await unary(fm, 'Pause', { fiber_id: fiber.fiber_id })).fiber.status, 'FIBER_STATUS_PAUSED');
    assert.notEqual((await unary(fm, 'Resume', { fiber_id: fiber.fiber_id })).fiber.status, 'FIBER_STATUS_PAUSED');

    const interrupted = await unary(fm, 'Interrupt', { fiber_id: fiber.fiber_id, grace: { seconds: 2, nanos: 0 } });
    assert.equal(interrupted.fiber.status, 'FIBER_STATUS_INTERRUPTED');
    assert.equal(interrupted.fiber.exit.kind, 'EXIT_KIND_INTERRUPTED');
    assert.ok(interrupted.fiber.end_time);
  });

  test('ListFibers filters by label and pages', async () => {
    const batch = unique('list');
    const ids = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await start('list', { labels: { batch } })).fiber.fiber_id);
    }
    const first = await unary(fm, 'ListFibers', { labels: { batch }, page_size: 2 });
    assert.equal(first.fibers.length, 2);
    assert.equal(first.total_size, 3);
    assert.ok(first.next_page_token);
    const rest = await unary(fm, 'ListFibers', { labels: { batch }, page_size: 2, page_token: first.next_page_token });
    assert.deepEqual([...first.fibers, ...rest.fibers].map((f) => f.fiber_id).sort(), ids.sort());
    assert.equal(rest.next_page_token, '');
  });

  test('JSON and binary payloads round-trip through echo', async () => {
    const { fiber } = await start('payload');
    const sentJson = { text: 'héllo ✓', n: 1.5, list: [1, 'x', true, null], nested: { k: {} } };
    const sentBinary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const a = await submit(fiber.fiber_id, { json: toValue(sentJson) });
    const b = await submit(fiber.fiber_id, { binary: sentBinary });
    assert.ok(BigInt(a.sequence) < BigInt(b.sequence));

    const { messages } = await collect(
      fm.Subscribe({ fiber_id: fiber.fiber_id }, deadline()),
      (ms) => ms.filter((m) => m.event === 'output').length === 2);
    const outputs = messages.filter((m) => m.event === 'output').map((m) => m.output);
    assert.equal(outputs[0].kind, 'json');
    assert.deepEqual(fromValue(outputs[0].json), sentJson);
    assert.equal(outputs[1].kind, 'binary');
    assert.deepEqual(outputs[1].binary, sentBinary);
  });

  test('Subscribe delivers events in sequence and ends with OK after Terminated', async () => {
    const { fiber } = await start('events');
    for (let i = 0; i < 3; i++) {
      await submit(fiber.fiber_id, { json: toValue(i) });
    }
    const call = fm.Subscribe({ fiber_id: fiber.fiber_id }, deadline());
    let interrupting;
    call.on('data', (m) => {
      if (m.event === 'output' && fromValue(m.output.json) === 2) {
        interrupting = unary(fm, 'Interrupt', { fiber_id: fiber.fiber_id });
      }
    });
    const { messages, code } = await collect(call);
    await interrupting;
    assert.equal(code, Code.OK);
    const sequences = messages.map((m) => Number(m.sequence));
    assert.deepEqual(sequences, sequences.map((_, i) => sequences[0] + i), 'no gaps, in order');
    assert.equal(messages.at(-1).event, 'terminated');
    assert.equal(messages.at(-1).terminated.exit.kind, 'EXIT_KIND_INTERRUPTED');
    assert.deepEqual(messages.filter((m) => m.event === 'output').map((m) => fromValue(m.output.json)), [0, 1, 2]);
  });

  test('a resumed Subscribe starts right after from_sequence', async () => {
    const { fiber } = await start('resume');
    for (let i = 0; i < 3; i++) {
      await submit(fiber.fiber_id, { json: toValue(i) });
    }
    const first = await collect(
      fm.Subscribe({ fiber_id: fiber.fiber_id }, deadline()),
      (ms) => ms.filter((m) => m.event === 'output').length === 3);
    const resumeAfter = first.messages.filter((m) => m.event === 'output')[1].sequence;
    const { messages } = await collect(
      fm.Subscribe({ fiber_id: fiber.fiber_id, from_sequence: resumeAfter }, deadline()),
      (ms) => ms.length === 1);
    assert.equal(BigInt(messages[0].sequence), BigInt(resumeAfter) + 1n);
    assert.equal(messages[0].event, 'output');
    assert.equal(fromValue(messages[0].output.json), 2);
  });

  test('a cancelled Subscribe ends with CANCELLED and the server drops the subscriber', async () => {
    const { fiber } = await start('cancel');
    await submit(fiber.fiber_id, { json: toValue('one') });
    const call = fm.Subscribe({ fiber_id: fiber.fiber_id }, deadline());
    const ended = new Promise((resolve) => { call.on('error', resolve); });
    await new Promise((resolve) => { call.once('data', resolve); });
    await poll(async () => (await status(fiber.fiber_id)).subscribers === 1, 'the server to count the subscriber');
    call.cancel();
    assert.equal((await ended).code, Code.CANCELLED);
    await poll(async () => (await status(fiber.fiber_id)).subscribers === 0, 'the server to drop the subscriber');
    await submit(fiber.fiber_id, { json: toValue('two') });
  });

  test('Start with USE_EXISTING and REPLACE', async () => {
    const { fiber } = await start('exists');
    const existing = await unary(fm, 'Start', { fiber_id: fiber.fiber_id, workflow: 'echo', conflict_policy: 'CONFLICT_POLICY_USE_EXISTING' });
    assert.equal(existing.created, false);
    const replaced = await unary(fm, 'Start', { fiber_id: fiber.fiber_id, workflow: 'echo', conflict_policy: 'CONFLICT_POLICY_REPLACE' });
    assert.equal(replaced.created, true);
  });
});

describe('status codes and ErrorInfo reasons', () => {
  test('INVALID_FIBER_ID', async () => {
    await expectError(unary(fm, 'Start', { fiber_id: 'not valid!', workflow: 'echo' }), Code.INVALID_ARGUMENT, 'INVALID_FIBER_ID');
    await expectError(status(''), Code.INVALID_ARGUMENT, 'INVALID_FIBER_ID');
  });

  test('INVALID_ARGUMENT names the field', async () => {
    const { fiber } = await start('noinput');
    await expectError(unary(fm, 'Submit', { fiber_id: fiber.fiber_id }), Code.INVALID_ARGUMENT, 'INVALID_ARGUMENT', { field: 'input' });
    await expectError(
      unary(fm, 'Interrupt', { fiber_id: fiber.fiber_id, grace: { seconds: -1, nanos: 0 } }),
      Code.INVALID_ARGUMENT, 'INVALID_ARGUMENT', { field: 'grace' });
    await expectError(
      unary(fm, 'Start', { fiber_id: unique('args'), workflow: 'echo', args: { fields: { unexpected: { numberValue: 1 } } } }),
      Code.INVALID_ARGUMENT, 'INVALID_ARGUMENT', { field: 'args' });
    await expectError(unary(fm, 'ListFibers', { page_token: 'no-such-token' }), Code.INVALID_ARGUMENT, 'INVALID_ARGUMENT', { field: 'page_token' });
  });

  test('INVALID_ARGUMENT for a page_token reused with other filters', async () => {
    const batch = unique('token');
    for (let i = 0; i < 3; i++) await start('token', { labels: { batch } });
    const first = await unary(fm, 'ListFibers', { labels: { batch }, page_size: 1 });
    assert.ok(first.next_page_token);
    await expectError(
      unary(fm, 'ListFibers', { labels: { batch }, workflow: 'aggregate', page_size: 1, page_token: first.next_page_token }),
      Code.INVALID_ARGUMENT, 'INVALID_ARGUMENT', { field: 'page_token' });
  });

  test('INPUT_TOO_LARGE', async () => {
    // The default input limit is the 4 MiB message limit less 64 bytes for the event envelope;
    // a binary payload is a tag, a 4-byte length and the bytes.
    const maxInput = 4 * 1024 * 1024 - 64;
    const { fiber } = await start('big');
    await expectError(
      submit(fiber.fiber_id, { binary: Buffer.alloc(maxInput + 1 - 5) }),
      Code.INVALID_ARGUMENT, 'INPUT_TOO_LARGE', { field: 'input', input_size: String(maxInput + 1), max_input_size: String(maxInput) });
    assert.equal((await submit(fiber.fiber_id, { binary: Buffer.from('small') })).sequence, '1');
  });

  test('WORKFLOW_NOT_FOUND', async () => {
    await expectError(
      unary(fm, 'Start', { fiber_id: unique('wf'), workflow: 'no-such-workflow' }),
      Code.NOT_FOUND, 'WORKFLOW_NOT_FOUND', { workflow: 'no-such-workflow' });
  });

  test('FIBER_NOT_FOUND on every fiber RPC', async () => {
    const missing = unique('missing');
    for (const method of ['GetStatus', 'Pause', 'Resume', 'Interrupt']) {
      await expectError(unary(fm, method, { fiber_id: missing }), Code.NOT_FOUND, 'FIBER_NOT_FOUND', { fiber_id: missing });
    }
    await expectError(submit(missing, { binary: Buffer.from('x') }), Code.NOT_FOUND, 'FIBER_NOT_FOUND', { fiber_id: missing });
    await expectError(collect(fm.Subscribe({ fiber_id: missing }, deadline())), Code.NOT_FOUND, 'FIBER_NOT_FOUND', { fiber_id: missing });
  });

  test('FIBER_ALREADY_EXISTS', async () => {
    const { fiber } = await start('dup');
    await expectError(
      unary(fm, 'Start', { fiber_id: fiber.fiber_id, workflow: 'echo' }),
      Code.ALREADY_EXISTS, 'FIBER_ALREADY_EXISTS', { fiber_id: fiber.fiber_id });
  });

  test('FIBER_PAUSED', async () => {
    const { fiber } = await start('paused');
    await unary(fm, 'Pause', { fiber_id: fiber.fiber_id });
    await expectError(submit(fiber.fiber_id, { binary: Buffer.from('x') }), Code.FAILED_PRECONDITION, 'FIBER_PAUSED', { fiber_id: fiber.fiber_id });
  });

  test('FIBER_ENDED', async () => {
    const { fiber } = await start('ended');
    await unary(fm, 'Interrupt', { fiber_id: fiber.fiber_id });
    await expectError(submit(fiber.fiber_id, { binary: Buffer.from('x') }), Code.FAILED_PRECONDITION, 'FIBER_ENDED');
    await expectError(unary(fm, 'Pause', { fiber_id: fiber.fiber_id }), Code.FAILED_PRECONDITION, 'FIBER_ENDED');
    await expectError(unary(fm, 'Resume', { fiber_id: fiber.fiber_id }), Code.FAILED_PRECONDITION, 'FIBER_ENDED');
  });

  test('SEQUENCE_OUT_OF_RANGE', async () => {
    const { fiber } = await start('range');
    await expectError(
      collect(fm.Subscribe({ fiber_id: fiber.fiber_id, from_sequence: '1000' }, deadline())),
      Code.OUT_OF_RANGE, 'SEQUENCE_OUT_OF_RANGE', { fiber_id: fiber.fiber_id });
  });

  test('INPUT_QUEUE_FULL, then DEADLINE_EXCEEDED while waiting for space', async () => {
    const { fiber } = await start('full', { start_paused: true, buffer_while_paused: true, input_capacity: 1 });
    await submit(fiber.fiber_id, { binary: Buffer.from('1') });
    await expectError(
      submit(fiber.fiber_id, { binary: Buffer.from('2') }, { queue_full_policy: 'QUEUE_FULL_POLICY_REJECT' }),
      Code.RESOURCE_EXHAUSTED, 'INPUT_QUEUE_FULL', { fiber_id: fiber.fiber_id, queue_depth: '1', input_capacity: '1' });

    const began = Date.now();
    const error = await unary(fm, 'Submit', { fiber_id: fiber.fiber_id, input: { binary: Buffer.from('3') } }, deadline(500))
      .then(() => assert.fail('Submit to a full queue succeeded'), (e) => e);
    assert.equal(error.code, Code.DEADLINE_EXCEEDED, error.details);
    assert.ok(Date.now() - began < 5000);
    // Whichever side noticed the deadline first: if the server's status arrived, it has the reason.
    const info = errorInfo(error);
    if (info) {
      assert.equal(info.reason, 'DEADLINE_EXCEEDED');
    }
    assert.equal((await status(fiber.fiber_id)).queue_depth, 1, 'the timed-out input was not accepted');
  });

  test('CONCURRENCY_LIMIT_REACHED, QUEUE admission and WAIT until the deadline', async () => {
    const batch = unique('limit');
    let rejected;
    for (let i = 0; i <= maxConcurrent && !rejected; i++) {
      await start('limit', { labels: { batch }, admission: 'ADMISSION_POLICY_REJECT' }).catch((e) => { rejected = e; });
    }
    assert.ok(rejected, `${maxConcurrent + 1} fibers started under a limit of ${maxConcurrent}`);
    assert.equal(rejected.code, Code.RESOURCE_EXHAUSTED, rejected.details);
    assert.equal(errorInfo(rejected).reason, 'CONCURRENCY_LIMIT_REACHED');

    const queued = await start('queued', { admission: 'ADMISSION_POLICY_QUEUE' });
    assert.equal(queued.fiber.status, 'FIBER_STATUS_PENDING');
    await expectError(
      unary(fm, 'Start', { fiber_id: unique('timeout'), workflow: 'echo', permit_timeout: { seconds: 0, nanos: 200_000_000 } }),
      Code.RESOURCE_EXHAUSTED, 'CONCURRENCY_LIMIT_REACHED');
    const error = await unary(fm, 'Start', { fiber_id: unique('deadline'), workflow: 'echo' }, deadline(500))
      .then(() => assert.fail('Start past the limit succeeded'), (e) => e);
    assert.equal(error.code, Code.DEADLINE_EXCEEDED, error.details);

    const running = started.filter((id) => id.startsWith('node-limit-'));
    for (const id of running) {
      await unary(fm, 'Interrupt', { fiber_id: id });
    }
    await poll(async () => (await status(queued.fiber.fiber_id)).status !== 'FIBER_STATUS_PENDING', 'the queued fiber to start');
  });

  test('an unknown method is UNIMPLEMENTED', async () => {
    const client = new grpc.Client(target, grpc.credentials.createInsecure());
    const error = await new Promise((resolve) => {
      client.makeUnaryRequest('/fibermanager.v1.FiberManager/NoSuchMethod', (x) => x, (x) => x, Buffer.alloc(0), deadline(), resolve);
    });
    client.close();
    assert.equal(error.code, Code.UNIMPLEMENTED);
  });
});

describe('health', () => {
  test('Check is SERVING for the server and the service, NOT_FOUND for others', async () => {
    for (const service of ['', 'fibermanager.v1.FiberManager']) {
      assert.equal((await unary(health, 'Check', { service })).status, 'SERVING', service);
    }
    const error = await unary(health, 'Check', { service: 'no.such.Service' }).then(() => assert.fail('no error'), (e) => e);
    assert.equal(error.code, Code.NOT_FOUND);
  });

  test('Watch sends the current status and stays open', async () => {
    for (const [service, expected] of [['', 'SERVING'], ['no.such.Service', 'SERVICE_UNKNOWN']]) {
      const { messages } = await collect(health.Watch({ service }, deadline()), (ms) => ms.length === 1);
      assert.equal(messages[0].status, expected, service);
    }
  });
});

// The server's reflection is grpc-dotnet's (Grpc.Reflection): one response per request, in
// order, with valid_host and original_request left empty; extension queries get UNIMPLEMENTED.
describe('server reflection v1', () => {
  function ask(...requests) {
    return new Promise((resolve, reject) => {
      const call = reflection.ServerReflectionInfo(deadline());
      const responses = [];
      call.on('data', (r) => responses.push(r));
      call.on('error', reject);
      call.on('status', (s) => { if (s.code === Code.OK) resolve(responses); });
      for (const r of requests) {
        call.write({ host: 'contract', ...r });
      }
      call.end();
    });
  }

  const FileDescriptorProto = protobuf.Root.fromJSON(protobuf.common.get('google/protobuf/descriptor.proto')).lookupType('google.protobuf.FileDescriptorProto');
  const fileNames = (response) => {
    assert.equal(response.message_response, 'file_descriptor_response', JSON.stringify(response.error_response));
    return response.file_descriptor_response.file_descriptor_proto.map((b) => FileDescriptorProto.decode(b).name);
  };

  test('lists the services', async () => {
    const [response] = await ask({ list_services: '*' });
    assert.deepEqual(response.list_services_response.service.map((s) => s.name).sort(), [
      'fibermanager.v1.FiberManager', 'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']);
  });

  test('file by name and by symbol, with transitive imports; NOT_FOUND for unknown ones; UNIMPLEMENTED for extensions', async () => {
    const responses = await ask(
      { file_by_filename: 'fibermanager/v1/event.proto' },
      { file_containing_symbol: 'fibermanager.v1.Gap' },
      { file_containing_symbol: 'google.protobuf.Timestamp' },
      { file_containing_symbol: 'grpc.health.v1.Health.Watch' },
      { file_containing_symbol: 'no.such.Symbol' },
      { file_by_filename: 'no/such.proto' },
      { all_extension_numbers_of_type: 'fibermanager.v1.FiberEvent' });
    assert.deepEqual(fileNames(responses[0]).sort(),
      ['fibermanager/v1/event.proto', 'fibermanager/v1/fiber.proto', 'google/protobuf/struct.proto', 'google/protobuf/timestamp.proto']);
    assert.equal(fileNames(responses[0])[0], 'fibermanager/v1/event.proto');
    assert.equal(fileNames(responses[1])[0], 'fibermanager/v1/event.proto');
    assert.deepEqual(fileNames(responses[2]), ['google/protobuf/timestamp.proto']);
    assert.deepEqual(fileNames(responses[3]), ['health.proto']); // as Grpc.HealthCheck names it
    for (const r of responses.slice(4, 6)) {
      assert.equal(r.message_response, 'error_response');
      assert.equal(r.error_response.error_code, 5);
    }
    assert.equal(responses[6].message_response, 'error_response');
    assert.equal(responses[6].error_response.error_code, 12);
  });

  test('a client built from reflection alone calls the service', async () => {
    const [response] = await ask({ file_containing_symbol: 'fibermanager.v1.FiberManager' });
    // A FileDescriptorSet is `repeated FileDescriptorProto file = 1`: frame each file as field 1.
    const set = protobuf.Writer.create();
    for (const file of response.file_descriptor_response.file_descriptor_proto) {
      set.uint32((1 << 3) | 2).bytes(file);
    }
    const reflected = grpc.loadPackageDefinition(protoLoader.loadFileDescriptorSetFromBuffer(Buffer.from(set.finish()), loaderOptions));
    const client = new reflected.fibermanager.v1.FiberManager(target, grpc.credentials.createInsecure());
    try {
      const { workflows } = await unary(client, 'ListWorkflows', {});
      assert.ok(workflows.some((w) => w.name === 'echo'));
      const fiberId = unique('reflected');
      // protobufjs 7 builds map fields from descriptors as repeated key/value entries (a peer
      // limitation; the descriptor has map_entry set, and Python and buf treat it as a map).
      const { fiber } = await unary(client, 'Start', { fiber_id: fiberId, workflow: 'echo', labels: [{ key: 'via', value: 'reflection' }] });
      started.push(fiberId);
      const labels = Array.isArray(fiber.labels) ? Object.fromEntries(fiber.labels.map((e) => [e.key, e.value])) : fiber.labels;
      assert.deepEqual(labels, { via: 'reflection' });
    } finally {
      client.close();
    }
  });
});

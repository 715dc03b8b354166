"""FiberManager contract suite, driven by the Python gRPC stack (grpcio from apt).

Runs against a live server: FM_TARGET (host:port, default 127.0.0.1:50051). The server should
run with FiberManager:MaxConcurrentFibers = FM_MAX_CONCURRENT_FIBERS (default 16), which the
concurrency-limit test fills. Run with /usr/bin/python3 (apt's grpcio); the exit code is the
result.

Covers every FiberManager RPC, every status code the contract documents with its ErrorInfo
reason (decoded from grpc-status-details-bin), deadlines, a cancelled and a resumed Subscribe,
JSON and binary payloads, health Check/Watch, and server reflection v1alpha (what grpcurl
speaks) and v1, including a client that builds its schema from reflection alone.
"""

import os
import sys
import time
import unittest
import uuid

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, json_format, message_factory, struct_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmstubs  # noqa: E402  (after the path tweak)

TARGET = os.environ.get("FM_TARGET", "127.0.0.1:50051")
MAX_CONCURRENT = int(os.environ.get("FM_MAX_CONCURRENT_FIBERS", "16"))
RPC_TIMEOUT = 10.0  # every call has a deadline: a hang fails the test instead of the run
WAIT_LIMIT = 10.0  # bounded polls
SERVICES = {
    "fibermanager.v1.FiberManager",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
}

S = fmstubs.generate()
FM = S.fm
FIBER = S.fiber
Code = grpc.StatusCode


def unique(prefix):
    return f"py-{prefix}-{uuid.uuid4().hex[:10]}"


def json_value(text):
    return json_format.Parse(text, struct_pb2.Value())


def error_info(error):
    """The google.rpc.ErrorInfo inside grpc-status-details-bin, or None."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = S.status.Status.FromString(value)
            assert status.code == error.code().value[0], f"details code {status.code} != status {error.code()}"
            for detail in status.details:
                info = S.error_details.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None


def poll(condition, what):
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT_LIMIT}s waiting for {what}")
        time.sleep(0.02)


class ContractTestCase(unittest.TestCase):
    channel = None

    @classmethod
    def setUpClass(cls):
        cls.channel = grpc.insecure_channel(TARGET)
        grpc.channel_ready_future(cls.channel).result(timeout=WAIT_LIMIT)
        cls.fm = S.fm_grpc.FiberManagerStub(cls.channel)
        cls.health = S.health_grpc.HealthStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()

    def setUp(self):
        self.started = []

    def tearDown(self):
        for fiber_id in self.started:
            try:
                self.fm.Interrupt(FM.InterruptRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
            except grpc.RpcError as e:
                if e.code() != Code.NOT_FOUND:
                    raise

    def start(self, prefix="f", **fields):
        fiber_id = fields.pop("fiber_id", None) or unique(prefix)
        fields.setdefault("workflow", "echo")
        response = self.fm.Start(FM.StartRequest(fiber_id=fiber_id, **fields), timeout=RPC_TIMEOUT)
        self.started.append(fiber_id)
        return response

    def submit(self, fiber_id, payload, **fields):
        return self.fm.Submit(FM.SubmitRequest(fiber_id=fiber_id, input=payload, **fields), timeout=RPC_TIMEOUT)

    def assert_error(self, call, code, reason, **metadata):
        with self.assertRaises(grpc.RpcError) as raised:
            call()
        error = raised.exception
        self.assertEqual(error.code(), code, error.details())
        info = error_info(error)
        self.assertIsNotNone(info, f"{code} without ErrorInfo: {error.details()}")
        self.assertEqual(info.reason, reason)
        self.assertEqual(info.domain, "fibermanager.v1")
        for key, value in metadata.items():
            self.assertEqual(info.metadata.get(key), value, f"metadata {key}: {dict(info.metadata)}")
        return error


class FiberManagerRpcTests(ContractTestCase):
    def test_list_workflows_includes_the_built_in_ones(self):
        response = self.fm.ListWorkflows(FM.ListWorkflowsRequest(), timeout=RPC_TIMEOUT)
        names = {w.name for w in response.workflows}
        self.assertTrue({"echo", "aggregate"} <= names, names)
        self.assertTrue(all(w.description for w in response.workflows))

    def test_start_get_status_pause_resume_interrupt(self):
        labels = {"suite": "python"}
        started = self.start("life", labels=labels, input_capacity=8)
        self.assertTrue(started.created)
        fiber_id = started.fiber.fiber_id
        self.assertEqual(started.fiber.workflow, "echo")
        self.assertIn(started.fiber.status, (FIBER.FIBER_STATUS_IDLE, FIBER.FIBER_STATUS_RUNNING))
        self.assertEqual(dict(started.fiber.labels), labels)
        self.assertEqual(started.fiber.input_capacity, 8)

        status = self.fm.GetStatus(FM.GetStatusRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        self.assertEqual(status.fiber_id, fiber_id)
        self.assertTrue(status.HasField("create_time"))

        paused = self.fm.Pause(FM.PauseRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        self.assertEqual(paused.fiber.status, FIBER.FIBER_STATUS_PAUSED)
        again = self.fm.Pause(FM.PauseRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        self.assertEqual(again.fiber.status, FIBER.FIBER_STATUS_PAUSED, "Pause is idempotent")
        resumed = self.fm.Resume(FM.ResumeRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        self.assertNotEqual(resumed.fiber.status, FIBER.FIBER_STATUS_PAUSED)

        interrupted = self.fm.Interrupt(
            FM.InterruptRequest(fiber_id=fiber_id, grace=duration_pb2.Duration(seconds=2)), timeout=RPC_TIMEOUT)
        self.assertEqual(interrupted.fiber.status, FIBER.FIBER_STATUS_INTERRUPTED)
        self.assertEqual(interrupted.fiber.exit.kind, FIBER.EXIT_KIND_INTERRUPTED)
        self.assertTrue(interrupted.fiber.HasField("end_time"))
        # Interrupting an ended fiber returns its final state.
        twice = self.fm.Interrupt(FM.InterruptRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        self.assertEqual(twice.fiber.status, FIBER.FIBER_STATUS_INTERRUPTED)

    def test_list_fibers_filters_by_label_and_pages(self):
        label = unique("list")
        ids = {self.start("list", labels={"batch": label}).fiber.fiber_id for _ in range(3)}
        first = self.fm.ListFibers(FM.ListFibersRequest(labels={"batch": label}, page_size=2), timeout=RPC_TIMEOUT)
        self.assertEqual(len(first.fibers), 2)
        self.assertEqual(first.total_size, 3)
        self.assertTrue(first.next_page_token)
        rest = self.fm.ListFibers(
            FM.ListFibersRequest(labels={"batch": label}, page_size=2, page_token=first.next_page_token), timeout=RPC_TIMEOUT)
        self.assertEqual({f.fiber_id for f in [*first.fibers, *rest.fibers]}, ids)
        self.assertFalse(rest.next_page_token)
        by_status = self.fm.ListFibers(
            FM.ListFibersRequest(labels={"batch": label}, statuses=[FIBER.FIBER_STATUS_COMPLETED]), timeout=RPC_TIMEOUT)
        self.assertEqual(len(by_status.fibers), 0)

    def test_json_and_binary_payloads_round_trip_through_echo(self):
        fiber_id = self.start("payload").fiber.fiber_id
        sent_json = json_value('{"text": "héllo ✓", "n": 1.5, "list": [1, "x", true, null], "nested": {"k": {}}}')
        sent_binary = bytes(range(256))
        first = self.submit(fiber_id, FIBER.Payload(json=sent_json))
        second = self.submit(fiber_id, FIBER.Payload(binary=sent_binary))
        self.assertLess(first.sequence, second.sequence)

        stream = self.fm.Subscribe(FM.SubscribeRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        outputs = []
        for event in stream:
            if event.WhichOneof("event") == "output":
                outputs.append(event.output)
                if len(outputs) == 2:
                    break
        stream.cancel()
        self.assertEqual(outputs[0].WhichOneof("kind"), "json")
        self.assertEqual(outputs[0].json, sent_json)
        self.assertEqual(outputs[1].WhichOneof("kind"), "binary")
        self.assertEqual(outputs[1].binary, sent_binary)

    def test_subscribe_delivers_events_in_sequence_and_ends_after_terminated(self):
        fiber_id = self.start("events").fiber.fiber_id
        for i in range(3):
            self.submit(fiber_id, FIBER.Payload(json=struct_pb2.Value(number_value=i)))
        stream = self.fm.Subscribe(FM.SubscribeRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        events = []
        for event in stream:
            events.append(event)
            if len([e for e in events if e.WhichOneof("event") == "output"]) == 3:
                self.fm.Interrupt(FM.InterruptRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        self.assertEqual(stream.code(), Code.OK)
        sequences = [e.sequence for e in events]
        self.assertEqual(sequences, list(range(sequences[0], sequences[0] + len(sequences))), "no gaps, in order")
        self.assertEqual(events[-1].WhichOneof("event"), "terminated")
        self.assertEqual(events[-1].terminated.exit.kind, FIBER.EXIT_KIND_INTERRUPTED)
        self.assertTrue(all(e.HasField("time") for e in events))
        outputs = [e.output.json.number_value for e in events if e.WhichOneof("event") == "output"]
        self.assertEqual(outputs, [0, 1, 2])

    def test_resumed_subscribe_starts_after_from_sequence(self):
        fiber_id = self.start("resume").fiber.fiber_id
        for i in range(3):
            self.submit(fiber_id, FIBER.Payload(json=struct_pb2.Value(number_value=i)))
        first = self.fm.Subscribe(FM.SubscribeRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        outputs = []
        for event in first:
            if event.WhichOneof("event") == "output":
                outputs.append(event)
                if len(outputs) == 3:
                    break
        first.cancel()  # the client "disconnects" after the third output

        resume_after = outputs[1].sequence
        resumed = self.fm.Subscribe(FM.SubscribeRequest(fiber_id=fiber_id, from_sequence=resume_after), timeout=RPC_TIMEOUT)
        event = next(resumed)
        resumed.cancel()
        self.assertEqual(event.sequence, resume_after + 1, "the first event after from_sequence")
        self.assertEqual(event.WhichOneof("event"), "output")
        self.assertEqual(event.output.json.number_value, 2)

    def test_cancelled_subscribe_ends_with_cancelled_and_leaves_the_fiber(self):
        fiber_id = self.start("cancel").fiber.fiber_id
        self.submit(fiber_id, FIBER.Payload(json=struct_pb2.Value(string_value="one")))
        stream = self.fm.Subscribe(FM.SubscribeRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        next(stream)
        poll(lambda: self.fm.GetStatus(FM.GetStatusRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT).subscribers == 1,
             "the server to count the subscriber")
        stream.cancel()
        with self.assertRaises(grpc.RpcError) as raised:
            for _ in stream:
                pass
        self.assertEqual(raised.exception.code(), Code.CANCELLED)
        poll(lambda: self.fm.GetStatus(FM.GetStatusRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT).subscribers == 0,
             "the server to drop the cancelled subscriber")
        # The fiber is unaffected: it still takes input.
        self.submit(fiber_id, FIBER.Payload(json=struct_pb2.Value(string_value="two")))

    def test_start_queue_admission_and_use_existing(self):
        fiber_id = self.start("exists").fiber.fiber_id
        existing = self.fm.Start(
            FM.StartRequest(fiber_id=fiber_id, workflow="echo", conflict_policy=FM.CONFLICT_POLICY_USE_EXISTING), timeout=RPC_TIMEOUT)
        self.assertFalse(existing.created)
        replaced = self.fm.Start(
            FM.StartRequest(fiber_id=fiber_id, workflow="echo", conflict_policy=FM.CONFLICT_POLICY_REPLACE), timeout=RPC_TIMEOUT)
        self.assertTrue(replaced.created)


class ErrorReasonTests(ContractTestCase):
    def test_invalid_fiber_id(self):
        self.assert_error(
            lambda: self.fm.Start(FM.StartRequest(fiber_id="not valid!", workflow="echo"), timeout=RPC_TIMEOUT),
            Code.INVALID_ARGUMENT, "INVALID_FIBER_ID")
        self.assert_error(lambda: self.fm.GetStatus(FM.GetStatusRequest(fiber_id=""), timeout=RPC_TIMEOUT),
                          Code.INVALID_ARGUMENT, "INVALID_FIBER_ID")

    def test_invalid_argument_names_the_field(self):
        fiber_id = self.start("noinput").fiber.fiber_id
        self.assert_error(lambda: self.fm.Submit(FM.SubmitRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT),
                          Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", field="input")
        self.assert_error(
            lambda: self.fm.Interrupt(FM.InterruptRequest(fiber_id=fiber_id, grace=duration_pb2.Duration(seconds=-1)), timeout=RPC_TIMEOUT),
            Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", field="grace")
        args = struct_pb2.Struct()
        args.update({"unexpected": 1})
        self.assert_error(
            lambda: self.fm.Start(FM.StartRequest(fiber_id=unique("args"), workflow="echo", args=args), timeout=RPC_TIMEOUT),
            Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", field="args")
        self.assert_error(
            lambda: self.fm.ListFibers(FM.ListFibersRequest(page_token="no-such-token"), timeout=RPC_TIMEOUT),
            Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", field="page_token")

    def test_page_token_reused_with_other_filters(self):
        label = unique("token")
        for _ in range(3):
            self.start("token", labels={"batch": label})
        first = self.fm.ListFibers(FM.ListFibersRequest(labels={"batch": label}, page_size=1), timeout=RPC_TIMEOUT)
        self.assertTrue(first.next_page_token)
        self.assert_error(
            lambda: self.fm.ListFibers(
                FM.ListFibersRequest(labels={"batch": label}, workflow="aggregate", page_size=1, page_token=first.next_page_token),
                timeout=RPC_TIMEOUT),
            Code.INVALID_ARGUMENT, "INVALID_ARGUMENT", field="page_token")

    def test_input_too_large(self):
        # The default input limit is the 4 MiB message limit less 64 bytes for the event envelope.
        max_input = 4 * 1024 * 1024 - 64
        fiber_id = self.start("big").fiber.fiber_id
        too_large = FIBER.Payload(binary=bytes(max_input + 1 - 5))  # tag, 4-byte length, bytes
        self.assertEqual(too_large.ByteSize(), max_input + 1)
        self.assert_error(lambda: self.submit(fiber_id, too_large), Code.INVALID_ARGUMENT, "INPUT_TOO_LARGE",
                          field="input", input_size=str(max_input + 1), max_input_size=str(max_input))
        self.assertEqual(self.submit(fiber_id, FIBER.Payload(binary=b"small")).sequence, 1)

    def test_workflow_not_found(self):
        self.assert_error(
            lambda: self.fm.Start(FM.StartRequest(fiber_id=unique("wf"), workflow="no-such-workflow"), timeout=RPC_TIMEOUT),
            Code.NOT_FOUND, "WORKFLOW_NOT_FOUND", workflow="no-such-workflow")

    def test_fiber_not_found_on_every_fiber_rpc(self):
        missing = unique("missing")
        calls = {
            "GetStatus": lambda: self.fm.GetStatus(FM.GetStatusRequest(fiber_id=missing), timeout=RPC_TIMEOUT),
            "Submit": lambda: self.submit(missing, FIBER.Payload(binary=b"x")),
            "Pause": lambda: self.fm.Pause(FM.PauseRequest(fiber_id=missing), timeout=RPC_TIMEOUT),
            "Resume": lambda: self.fm.Resume(FM.ResumeRequest(fiber_id=missing), timeout=RPC_TIMEOUT),
            "Interrupt": lambda: self.fm.Interrupt(FM.InterruptRequest(fiber_id=missing), timeout=RPC_TIMEOUT),
            "Subscribe": lambda: next(self.fm.Subscribe(FM.SubscribeRequest(fiber_id=missing), timeout=RPC_TIMEOUT)),
        }
        for name, call in calls.items():
            with self.subTest(rpc=name):
                self.assert_error(call, Code.NOT_FOUND, "FIBER_NOT_FOUND", fiber_id=missing)

    def test_fiber_already_exists(self):
        fiber_id = self.start("dup").fiber.fiber_id
        self.assert_error(lambda: self.fm.Start(FM.StartRequest(fiber_id=fiber_id, workflow="echo"), timeout=RPC_TIMEOUT),
                          Code.ALREADY_EXISTS, "FIBER_ALREADY_EXISTS", fiber_id=fiber_id)

    def test_fiber_paused(self):
        fiber_id = self.start("paused").fiber.fiber_id
        self.fm.Pause(FM.PauseRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        self.assert_error(lambda: self.submit(fiber_id, FIBER.Payload(binary=b"x")),
                          Code.FAILED_PRECONDITION, "FIBER_PAUSED", fiber_id=fiber_id)

    def test_fiber_ended(self):
        fiber_id = self.start("ended").fiber.fiber_id
        self.fm.Interrupt(FM.InterruptRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        for name, call in {
            "Submit": lambda: self.submit(fiber_id, FIBER.Payload(binary=b"x")),
            "Pause": lambda: self.fm.Pause(FM.PauseRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT),
            "Resume": lambda: self.fm.Resume(FM.ResumeRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT),
        }.items():
            with self.subTest(rpc=name):
                self.assert_error(call, Code.FAILED_PRECONDITION, "FIBER_ENDED", fiber_id=fiber_id)

    def test_sequence_out_of_range(self):
        fiber_id = self.start("range").fiber.fiber_id
        self.assert_error(
            lambda: next(self.fm.Subscribe(FM.SubscribeRequest(fiber_id=fiber_id, from_sequence=1000), timeout=RPC_TIMEOUT)),
            Code.OUT_OF_RANGE, "SEQUENCE_OUT_OF_RANGE", fiber_id=fiber_id)

    def test_input_queue_full_then_deadline_while_waiting_for_space(self):
        fiber_id = self.start("full", start_paused=True, buffer_while_paused=True, input_capacity=1).fiber.fiber_id
        self.submit(fiber_id, FIBER.Payload(binary=b"1"))
        self.assert_error(
            lambda: self.submit(fiber_id, FIBER.Payload(binary=b"2"), queue_full_policy=FM.QUEUE_FULL_POLICY_REJECT),
            Code.RESOURCE_EXHAUSTED, "INPUT_QUEUE_FULL", fiber_id=fiber_id, queue_depth="1", input_capacity="1")

        # WAIT (the default) blocks for space until the call's deadline.
        began = time.monotonic()
        with self.assertRaises(grpc.RpcError) as raised:
            self.fm.Submit(FM.SubmitRequest(fiber_id=fiber_id, input=FIBER.Payload(binary=b"3")), timeout=0.5)
        self.assertEqual(raised.exception.code(), Code.DEADLINE_EXCEEDED)
        self.assertLess(time.monotonic() - began, 5)
        # Whichever side noticed the deadline first: if the server's status arrived, it has the reason.
        info = error_info(raised.exception)
        if info is not None:
            self.assertEqual(info.reason, "DEADLINE_EXCEEDED")
        status = self.fm.GetStatus(FM.GetStatusRequest(fiber_id=fiber_id), timeout=RPC_TIMEOUT)
        self.assertEqual(status.queue_depth, 1, "the timed-out input was not accepted")

    def test_concurrency_limit_reached_queue_and_wait_deadline(self):
        label = unique("limit")
        rejected = None
        for _ in range(MAX_CONCURRENT + 1):
            try:
                self.start("limit", labels={"batch": label}, admission=FM.ADMISSION_POLICY_REJECT)
            except grpc.RpcError as error:
                rejected = error
                break
        self.assertIsNotNone(rejected, f"{MAX_CONCURRENT + 1} fibers started under a limit of {MAX_CONCURRENT}")
        self.assertEqual(rejected.code(), Code.RESOURCE_EXHAUSTED, rejected.details())
        info = error_info(rejected)
        self.assertEqual(info.reason, "CONCURRENCY_LIMIT_REACHED")
        if "max_concurrent_fibers" in info.metadata:
            self.assertEqual(info.metadata["max_concurrent_fibers"], str(MAX_CONCURRENT))

        # QUEUE registers the fiber as PENDING and returns at once.
        queued = self.start("queued", admission=FM.ADMISSION_POLICY_QUEUE)
        self.assertEqual(queued.fiber.status, FIBER.FIBER_STATUS_PENDING)
        # WAIT with a short permit_timeout gives up with CONCURRENCY_LIMIT_REACHED.
        self.assert_error(
            lambda: self.fm.Start(FM.StartRequest(fiber_id=unique("timeout"), workflow="echo",
                                                  permit_timeout=duration_pb2.Duration(nanos=200_000_000)), timeout=RPC_TIMEOUT),
            Code.RESOURCE_EXHAUSTED, "CONCURRENCY_LIMIT_REACHED")
        # WAIT bounded only by the call's deadline gives DEADLINE_EXCEEDED.
        with self.assertRaises(grpc.RpcError) as raised:
            self.fm.Start(FM.StartRequest(fiber_id=unique("deadline"), workflow="echo"), timeout=0.5)
        self.assertEqual(raised.exception.code(), Code.DEADLINE_EXCEEDED)

        # Freeing one permit lets the queued fiber start (FIFO).
        running = [i for i in self.started if i != queued.fiber.fiber_id]
        self.fm.Interrupt(FM.InterruptRequest(fiber_id=running[0]), timeout=RPC_TIMEOUT)
        poll(lambda: self.fm.GetStatus(FM.GetStatusRequest(fiber_id=queued.fiber.fiber_id), timeout=RPC_TIMEOUT).status
             != FIBER.FIBER_STATUS_PENDING, "the queued fiber to start")

    def test_unknown_method_is_unimplemented(self):
        call = self.channel.unary_unary("/fibermanager.v1.FiberManager/NoSuchMethod")
        with self.assertRaises(grpc.RpcError) as raised:
            call(b"", timeout=RPC_TIMEOUT)
        self.assertEqual(raised.exception.code(), Code.UNIMPLEMENTED)


class HealthTests(ContractTestCase):
    def test_check_serving_for_the_server_and_the_service(self):
        for service in ("", "fibermanager.v1.FiberManager"):
            with self.subTest(service=service):
                response = self.health.Check(S.health.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)
                self.assertEqual(response.status, S.health.HealthCheckResponse.SERVING)

    def test_check_unknown_service_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as raised:
            self.health.Check(S.health.HealthCheckRequest(service="no.such.Service"), timeout=RPC_TIMEOUT)
        self.assertEqual(raised.exception.code(), Code.NOT_FOUND)

    def test_watch_sends_the_current_status_and_stays_open(self):
        for service, expected in (("", S.health.HealthCheckResponse.SERVING),
                                  ("no.such.Service", S.health.HealthCheckResponse.SERVICE_UNKNOWN)):
            with self.subTest(service=service):
                stream = self.health.Watch(S.health.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)
                self.assertEqual(next(stream).status, expected)
                stream.cancel()
                with self.assertRaises(grpc.RpcError) as raised:
                    next(stream)
                self.assertEqual(raised.exception.code(), Code.CANCELLED)

    def test_watch_ends_with_deadline_exceeded(self):
        stream = self.health.Watch(S.health.HealthCheckRequest(service=""), timeout=0.5)
        self.assertEqual(next(stream).status, S.health.HealthCheckResponse.SERVING)
        with self.assertRaises(grpc.RpcError) as raised:
            next(stream)
        self.assertEqual(raised.exception.code(), Code.DEADLINE_EXCEEDED)


class ReflectionTests(ContractTestCase):
    """grpc.reflection.v1alpha (grpcurl's protocol) and v1, one bidi stream answering many requests.

    The server's reflection is grpc-dotnet's (Grpc.Reflection): it answers each request in order,
    one response each, and leaves valid_host and original_request empty (clients, grpcurl and buf
    curl among them, pair responses with requests by order)."""

    def ask(self, version, *requests):
        module = S.reflection_v1alpha if version == "v1alpha" else S.reflection_v1
        stub_module = S.reflection_v1alpha_grpc if version == "v1alpha" else S.reflection_v1_grpc
        stub = stub_module.ServerReflectionStub(self.channel)
        messages = [module.ServerReflectionRequest(host="contract", **r) for r in requests]
        responses = list(stub.ServerReflectionInfo(iter(messages), timeout=RPC_TIMEOUT))
        self.assertEqual(len(responses), len(messages))
        return responses

    def files(self, response):
        self.assertEqual(response.WhichOneof("message_response"), "file_descriptor_response", response)
        return [descriptor_pb2.FileDescriptorProto.FromString(b) for b in response.file_descriptor_response.file_descriptor_proto]

    def test_list_services_v1alpha_and_v1(self):
        for version in ("v1alpha", "v1"):
            with self.subTest(version=version):
                (response,) = self.ask(version, {"list_services": "*"})
                self.assertEqual({s.name for s in response.list_services_response.service}, SERVICES)

    def test_file_by_filename_sends_the_file_and_its_transitive_imports(self):
        (response,) = self.ask("v1alpha", {"file_by_filename": "fibermanager/v1/fibermanager.proto"})
        files = self.files(response)
        self.assertEqual(files[0].name, "fibermanager/v1/fibermanager.proto")
        self.assertEqual(files[0].package, "fibermanager.v1")
        self.assertEqual({f.name for f in files}, {
            "fibermanager/v1/fibermanager.proto", "fibermanager/v1/event.proto", "fibermanager/v1/fiber.proto",
            "google/protobuf/duration.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"})
        self.assertEqual(len(files), len({f.name for f in files}), "each file once")
        service = files[0].service[0]
        self.assertEqual(service.name, "FiberManager")
        self.assertEqual([m.name for m in service.method], [
            "Start", "Submit", "Pause", "Resume", "Interrupt", "GetStatus", "ListFibers", "ListWorkflows", "Subscribe"])
        self.assertTrue(next(m for m in service.method if m.name == "Subscribe").server_streaming)

    def test_file_containing_symbol(self):
        expected = {
            "fibermanager.v1.FiberManager": "fibermanager/v1/fibermanager.proto",
            "fibermanager.v1.FiberManager.Subscribe": "fibermanager/v1/fibermanager.proto",
            "fibermanager.v1.StartRequest": "fibermanager/v1/fibermanager.proto",
            "fibermanager.v1.StartRequest.LabelsEntry": "fibermanager/v1/fibermanager.proto",
            "fibermanager.v1.ConflictPolicy": "fibermanager/v1/fibermanager.proto",
            "fibermanager.v1.Payload": "fibermanager/v1/fiber.proto",
            "fibermanager.v1.FiberStatus": "fibermanager/v1/fiber.proto",
            "fibermanager.v1.FiberEvent": "fibermanager/v1/event.proto",
            # Grpc.HealthCheck was compiled from a file named health.proto, and reflection
            # describes the descriptors the packages carry.
            "grpc.health.v1.Health": "health.proto",
            "grpc.health.v1.HealthCheckResponse.ServingStatus": "health.proto",
            "grpc.reflection.v1.ServerReflection": "grpc/reflection/v1/reflection.proto",
            "grpc.reflection.v1alpha.ServerReflection.ServerReflectionInfo": "grpc/reflection/v1alpha/reflection.proto",
            "google.rpc.ErrorInfo": "google/rpc/error_details.proto",
            "google.rpc.Status": "google/rpc/status.proto",
            "google.protobuf.Struct": "google/protobuf/struct.proto",
            "google.protobuf.Value": "google/protobuf/struct.proto",
            "google.protobuf.Timestamp": "google/protobuf/timestamp.proto",
            "google.protobuf.Duration": "google/protobuf/duration.proto",
            "google.protobuf.Any": "google/protobuf/any.proto",
        }
        responses = self.ask("v1alpha", *({"file_containing_symbol": symbol} for symbol in expected))
        for (symbol, file_name), response in zip(expected.items(), responses):
            with self.subTest(symbol=symbol):
                self.assertEqual(self.files(response)[0].name, file_name)

    def test_file_containing_symbol_below_a_type_is_not_found(self):
        """grpc-dotnet's reflection indexes services, methods, messages and enums, not fields,
        oneofs or enum values: clients look up the enclosing type (grpcurl's describe of a field
        does, by the type's name)."""
        symbols = ["fibermanager.v1.FIBER_STATUS_PAUSED", "fibermanager.v1.FiberInfo.labels", "fibermanager.v1.FiberEvent.event"]
        responses = self.ask("v1alpha", *({"file_containing_symbol": symbol} for symbol in symbols))
        for symbol, response in zip(symbols, responses):
            with self.subTest(symbol=symbol):
                self.assertEqual(response.WhichOneof("message_response"), "error_response", response)
                self.assertEqual(response.error_response.error_code, 5)  # NOT_FOUND

    def test_unknown_symbol_and_file_are_not_found_and_the_stream_goes_on(self):
        responses = self.ask(
            "v1alpha",
            {"file_containing_symbol": "fibermanager.v1.NoSuchThing"},
            {"file_by_filename": "no/such/file.proto"},
            {"list_services": ""},
        )
        for response in responses[:2]:
            self.assertEqual(response.WhichOneof("message_response"), "error_response", response)
            self.assertEqual(response.error_response.error_code, 5)  # NOT_FOUND
            self.assertTrue(response.error_response.error_message)
        self.assertEqual(responses[2].WhichOneof("message_response"), "list_services_response")

    def test_extension_queries_are_unimplemented_and_the_stream_goes_on(self):
        """grpc-dotnet's reflection does not answer extension queries (FiberManager's protos are
        proto3 and define none): an error_response UNIMPLEMENTED, and the stream goes on."""
        for version in ("v1alpha", "v1"):
            with self.subTest(version=version):
                numbers, extension, services = self.ask(
                    version,
                    {"all_extension_numbers_of_type": "fibermanager.v1.StartRequest"},
                    {"file_containing_extension": {"containing_type": "fibermanager.v1.StartRequest", "extension_number": 1000}},
                    {"list_services": ""},
                )
                for response in (numbers, extension):
                    self.assertEqual(response.WhichOneof("message_response"), "error_response", response)
                    self.assertEqual(response.error_response.error_code, 12)  # UNIMPLEMENTED
                self.assertEqual(services.WhichOneof("message_response"), "list_services_response")

    def test_a_client_built_from_reflection_alone_calls_the_service(self):
        """What grpcurl does: fetch the schema over v1alpha, build messages from it, call with JSON."""
        (response,) = self.ask("v1alpha", {"file_containing_symbol": "fibermanager.v1.FiberManager"})
        pool = descriptor_pool.DescriptorPool()
        pending = {f.name: f for f in self.files(response)}
        while pending:  # add in dependency order; pool.Add fails when an import is missing
            ready = [f for f in pending.values() if all(d not in pending for d in f.dependency)]
            self.assertTrue(ready, f"unresolvable imports among {sorted(pending)}")
            for f in ready:
                pool.Add(f)
                del pending[f.name]
        service = pool.FindServiceByName("fibermanager.v1.FiberManager")
        start = service.FindMethodByName("Start")

        def message_class(descriptor):
            if hasattr(message_factory, "GetMessageClass"):
                return message_factory.GetMessageClass(descriptor)
            return message_factory.MessageFactory(pool).GetPrototype(descriptor)

        request_class, response_class = message_class(start.input_type), message_class(start.output_type)
        fiber_id = unique("reflected")
        request = json_format.Parse(
            f'{{"fiberId": "{fiber_id}", "workflow": "echo", "args": {{}}, "labels": {{"via": "reflection"}}}}', request_class())
        call = self.channel.unary_unary(
            "/fibermanager.v1.FiberManager/Start",
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString)
        result = call(request, timeout=RPC_TIMEOUT)
        self.started.append(fiber_id)
        as_json = json_format.MessageToDict(result)
        self.assertEqual(as_json["fiber"]["fiberId"], fiber_id)
        self.assertEqual(as_json["fiber"]["labels"], {"via": "reflection"})
        self.assertTrue(as_json["created"])


if __name__ == "__main__":
    try:
        result = unittest.main(exit=False, verbosity=2).result
    finally:
        fmstubs.cleanup(S)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 and not result.skipped else 1)

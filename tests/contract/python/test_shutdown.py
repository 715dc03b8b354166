"""FiberManager shutdown contract, driven by Python grpcio: what clients see when the server stops.

Needs a server of its own, which this suite stops: FM_TARGET (host:port) and FM_SERVER_PID (the
process to send SIGTERM to). Checks that health Watch streams send NOT_SERVING and end with OK,
that an open Subscribe ends with the fiber's Terminated event and OK (not a reset), and that a
call after that fails with UNAVAILABLE. Run with /usr/bin/python3; the exit code is the result.
"""

import os
import signal
import sys
import unittest
import uuid

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmstubs  # noqa: E402

TARGET = os.environ.get("FM_TARGET", "127.0.0.1:50051")
SERVER_PID = int(os.environ["FM_SERVER_PID"])
RPC_TIMEOUT = 20.0

S = fmstubs.generate()
FM = S.fm
HEALTH = S.health


def error_info(error):
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = S.status.Status.FromString(value)
            for detail in status.details:
                info = S.error_details.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None


class ShutdownTests(unittest.TestCase):
    """One SIGTERM, observed once in setUpClass; each test checks one promise about it."""

    @classmethod
    def setUpClass(cls):
        channel = grpc.insecure_channel(TARGET)
        grpc.channel_ready_future(channel).result(timeout=10)
        fm = S.fm_grpc.FiberManagerStub(channel)
        health = S.health_grpc.HealthStub(channel)

        cls.fiber_id = f"py-shutdown-{uuid.uuid4().hex[:10]}"
        fm.Start(FM.StartRequest(fiber_id=cls.fiber_id, workflow="echo"), timeout=RPC_TIMEOUT)
        watches = {service: health.Watch(HEALTH.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)
                   for service in ("", "fibermanager.v1.FiberManager")}
        cls.first_watch_status = {service: next(watch).status for service, watch in watches.items()}
        events = fm.Subscribe(FM.SubscribeRequest(fiber_id=cls.fiber_id), timeout=RPC_TIMEOUT)
        cls.check_before = health.Check(HEALTH.HealthCheckRequest(), timeout=RPC_TIMEOUT).status

        os.kill(SERVER_PID, signal.SIGTERM)

        cls.watch_after = {}
        for service, watch in watches.items():
            cls.watch_after[service] = cls.drain(watch)
        cls.subscribe_after = cls.drain(events)
        try:
            fm.Start(FM.StartRequest(fiber_id=f"{cls.fiber_id}-late", workflow="echo"), timeout=5)
            cls.late_start = None
        except grpc.RpcError as error:
            cls.late_start = error
        channel.close()

    @staticmethod
    def drain(stream):
        """(messages, final code, details, ErrorInfo reason) of a response stream."""
        messages = []
        try:
            for message in stream:
                messages.append(message)
            return messages, stream.code(), stream.details(), None
        except grpc.RpcError as error:
            info = error_info(error)
            return messages, error.code(), error.details(), info and info.reason

    def test_health_was_serving_before(self):
        self.assertEqual(self.check_before, HEALTH.HealthCheckResponse.SERVING)
        for service, status in self.first_watch_status.items():
            self.assertEqual(status, HEALTH.HealthCheckResponse.SERVING, service)

    def test_watch_sends_not_serving_then_ends_with_ok(self):
        for service, (messages, code, details, reason) in self.watch_after.items():
            with self.subTest(service=service):
                self.assertEqual([m.status for m in messages], [HEALTH.HealthCheckResponse.NOT_SERVING])
                self.assertEqual(code, grpc.StatusCode.OK, f"{details} ({reason})")

    def test_open_subscribe_ends_with_terminated_then_ok(self):
        messages, code, details, reason = self.subscribe_after
        kinds = [m.WhichOneof("event") for m in messages]
        self.assertEqual(code, grpc.StatusCode.OK, f"Subscribe ended with {code} ({details}, {reason}) after {kinds}")
        self.assertEqual(kinds[-1:], ["terminated"])
        self.assertEqual(messages[-1].terminated.exit.kind, S.fiber.EXIT_KIND_INTERRUPTED)

    def test_a_call_after_shutdown_is_unavailable(self):
        error = self.late_start
        self.assertIsNotNone(error, "Start succeeded on a stopping server")
        # Either the manager answered (SHUTTING_DOWN) or the listener had already closed.
        self.assertEqual(error.code(), grpc.StatusCode.UNAVAILABLE, error.details())
        info = error_info(error)
        if info is not None:
            self.assertEqual(info.reason, "SHUTTING_DOWN")


if __name__ == "__main__":
    try:
        result = unittest.main(exit=False, verbosity=2).result
    finally:
        fmstubs.cleanup(S)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 and not result.skipped else 1)

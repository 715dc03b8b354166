"""Generates the Python stubs the contract suites use, at test time, into a temporary directory.

protoc (apt protobuf-compiler) + grpc_python_plugin (apt protobuf-compiler-grpc) compile:
  - the FiberManager contract, from the repository's protos/fibermanager;
  - google.rpc.Status / ErrorInfo, from the repository's protos/google/rpc;
  - grpc.health.v1 and grpc.reflection.v1alpha / v1, from the grpc-proto package
    (/usr/share/grpc-proto), not from the repository's copies, so the suite checks the server
    against the standard definitions.

The standard and google.rpc files are compiled under the import root `fmstd/` instead of `grpc/`
and `google/`: a generated folder named `grpc` would shadow the grpcio package and one named
`google` would fight python3-protobuf's namespace package. Proto packages (and so message and
service names on the wire) are unchanged by the file path.
"""

import importlib
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
GRPC_PROTO = os.environ.get("FM_GRPC_PROTO_DIR", "/usr/share/grpc-proto")


def _copy(source, root, relative):
    target = os.path.join(root, relative)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(source, target)
    return relative


def generate():
    """Compiles the protos and returns a namespace object with the generated modules."""
    work = tempfile.mkdtemp(prefix="fm-contract-py-")
    source = os.path.join(work, "proto")
    out = os.path.join(work, "stubs")
    os.makedirs(out)
    files = []
    contract = os.path.join(REPO, "protos", "fibermanager", "v1")
    for name in sorted(os.listdir(contract)):
        if name.endswith(".proto"):
            files.append(_copy(os.path.join(contract, name), source, f"fibermanager/v1/{name}"))
    for name in ("status.proto", "error_details.proto"):
        files.append(_copy(os.path.join(REPO, "protos", "google", "rpc", name), source, f"fmstd/rpc/{name}"))
    for relative in ("health/v1/health.proto", "reflection/v1alpha/reflection.proto", "reflection/v1/reflection.proto"):
        files.append(_copy(os.path.join(GRPC_PROTO, "grpc", relative), source, f"fmstd/{relative}"))

    plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
    command = [
        "protoc",
        f"--proto_path={source}",
        "--proto_path=/usr/include",
        f"--plugin=protoc-gen-grpc_python={plugin}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed ({result.returncode}): {' '.join(command)}\n{result.stdout}{result.stderr}")
    sys.path.insert(0, out)

    class Stubs:
        workdir = work
        fm = importlib.import_module("fibermanager.v1.fibermanager_pb2")
        fm_grpc = importlib.import_module("fibermanager.v1.fibermanager_pb2_grpc")
        fiber = importlib.import_module("fibermanager.v1.fiber_pb2")
        event = importlib.import_module("fibermanager.v1.event_pb2")
        status = importlib.import_module("fmstd.rpc.status_pb2")
        error_details = importlib.import_module("fmstd.rpc.error_details_pb2")
        health = importlib.import_module("fmstd.health.v1.health_pb2")
        health_grpc = importlib.import_module("fmstd.health.v1.health_pb2_grpc")
        reflection_v1alpha = importlib.import_module("fmstd.reflection.v1alpha.reflection_pb2")
        reflection_v1alpha_grpc = importlib.import_module("fmstd.reflection.v1alpha.reflection_pb2_grpc")
        reflection_v1 = importlib.import_module("fmstd.reflection.v1.reflection_pb2")
        reflection_v1_grpc = importlib.import_module("fmstd.reflection.v1.reflection_pb2_grpc")

    return Stubs


def cleanup(stubs):
    shutil.rmtree(stubs.workdir, ignore_errors=True)

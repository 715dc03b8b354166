using System.Collections.Concurrent;
using System.Net;
using System.Text;
using FiberManager.Core.Management;
using FiberManager.Protocol;
using Google.Protobuf;
using Grpc.Core;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;
using V1 = FiberManager.Protocol.V1;

namespace FiberManager.Hardening.Tests;

/// <summary>
/// A seeded fuzz run against the real service: thousands of random frames and random or mutated
/// requests on random methods over a few HTTP/2 connections. Every call must end in a gRPC status
/// (HTTP 200 with grpc-status); never HTTP 500, a reset stream, or an unobserved exception; and
/// the service must be healthy, with sane statistics, afterwards.
/// </summary>
/// <remarks>
/// The one reset that is an answer: when a call's deadline passes, grpc-dotnet writes
/// DEADLINE_EXCEEDED and then resets the stream with CANCEL, as gRPC over HTTP/2 does; HttpClient
/// may see the reset before it hands over the status. For a call that carried a deadline, that
/// counts as DEADLINE_EXCEEDED.
/// </remarks>
public sealed class FuzzTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Seed = 20_261_121;
    private const int Calls = 2_500;
    private const int Workers = 12;

    private static readonly string[] s_paths =
    [
        "/fibermanager.v1.FiberManager/Start",
        "/fibermanager.v1.FiberManager/Submit",
        "/fibermanager.v1.FiberManager/Pause",
        "/fibermanager.v1.FiberManager/Resume",
        "/fibermanager.v1.FiberManager/Interrupt",
        "/fibermanager.v1.FiberManager/GetStatus",
        "/fibermanager.v1.FiberManager/ListFibers",
        "/fibermanager.v1.FiberManager/ListWorkflows",
        "/fibermanager.v1.FiberManager/Subscribe",
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "/fibermanager.v1.FiberManager/Nope",
        "/nope.Service/Start",
    ];

    // Calls that can wait (admission, backpressure, streams) always carry a short deadline.
    // ("1m", one millisecond, is the shortest: grpc-dotnet ignores "0S", as no deadline.)
    private static readonly string[] s_deadlines = ["300m", "1S", "2S", "1m", "150m"];

    private static readonly string[] s_headerJunk = ["abc", "99999999H", "-1S", "1", "", "0S"];

    /// <summary>The HTTP/2 error code CANCEL.</summary>
    private const long CancelErrorCode = 0x8;

    private static readonly string[] s_idPool = [.. Enumerable.Range(0, 16).Select(i => $"fuzz-{i}")];

    [Fact]
    public async Task RandomCalls_AllEndInAGrpcStatus_ServiceStaysHealthy()
    {
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => unobserved.Enqueue(e.Exception);
        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await using var host = await ServiceHost.StartAsync(new Dictionary<string, string?>
            {
                ["FiberManager:Server:MaxMessageSize"] = "65536",
                ["FiberManager:MaxConcurrentFibers"] = "8",
                ["FiberManager:InterruptGracePeriod"] = "00:00:01",
            });
            using var raw = new RawGrpcClient(host.Address, maxConnections: 4);

            // Generate every call up front from the seed, so a failure is reproducible.
            var random = new Random(Seed);
            var calls = Enumerable.Range(0, Calls).Select(_ => NextCall(random)).ToArray();
            var failures = new ConcurrentQueue<string>();
            var statuses = new ConcurrentDictionary<StatusCode, int>();
            int next = -1;

            async Task WorkerAsync()
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < calls.Length)
                {
                    var call = calls[i];
                    try
                    {
                        var result = await raw.CallAsync(call.Path, call.Body, call.Configure);
                        if (result.HttpStatus != HttpStatusCode.OK || result.Status is null)
                        {
                            failures.Enqueue($"#{i} {call}: {result}");
                        }
                        else
                        {
                            statuses.AddOrUpdate(result.Status.Value, 1, (_, n) => n + 1);
                        }
                    }
                    catch (HttpRequestException e) when (call.HasDeadline && e.InnerException is HttpProtocolException { ErrorCode: CancelErrorCode })
                    {
                        statuses.AddOrUpdate(StatusCode.DeadlineExceeded, 1, (_, n) => n + 1);
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
                    {
                        failures.Enqueue($"#{i} {call}: {e.GetType().Name}: {e.Message}");
                    }
                }
            }

            await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(WorkerAsync))).WaitAsync(TimeSpan.FromSeconds(90));

            Assert.True(failures.IsEmpty, $"{failures.Count} calls did not end in a gRPC status:\n{string.Join('\n', failures.Take(20))}");

            output.WriteLine("statuses: " + string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}")));

            // Plenty of variety reached the service, not just one status.
            Assert.True(statuses.Count >= 6, "statuses seen: " + string.Join(", ", statuses.Select(s => $"{s.Key}={s.Value}")));

            // Healthy afterwards: a fresh fiber starts, takes input, reports its status.
            var manager = host.App.Services.GetRequiredService<FiberSupervisor<V1.Payload, V1.Payload>>();
            foreach (var id in s_idPool)
            {
                await host.Client.StartAsync(new V1.StartRequest { FiberId = id, Workflow = "echo", ConflictPolicy = V1.ConflictPolicy.Replace }).DefaultTimeout();
                await host.Client.InterruptAsync(id).DefaultTimeout();
            }

            var stats = manager.GetStatistics();
            Assert.True(stats.PermitsInUse <= stats.LiveFibers, $"permits in use {stats.PermitsInUse} > live fibers {stats.LiveFibers}");
            Assert.True(stats.PermitsInUse <= stats.PermitLimit, $"permits in use {stats.PermitsInUse} > limit {stats.PermitLimit}");
            Assert.Equal(0, stats.PermitWaiters);
            Assert.False(stats.ShuttingDown);

            var fresh = "fuzz-after-" + Guid.NewGuid().ToString("N");
            await host.Client.StartAsync(fresh, "echo").DefaultTimeout();
            await host.Client.SubmitAsync(fresh, Value.ForString("still alive")).DefaultTimeout();
            Assert.Equal(fresh, (await host.Client.GetStatusAsync(fresh).DefaultTimeout()).FiberId);
            await host.Client.InterruptAsync(fresh).DefaultTimeout();
        }
        finally
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }

        Assert.True(unobserved.IsEmpty, "unobserved task exceptions: " + string.Join('\n', unobserved));
    }

    private sealed record FuzzCall(string Kind, string Path, byte[] Body, string? Timeout, string? Encoding)
    {
        public bool HasDeadline => s_deadlines.Contains(Timeout);

        public void Configure(HttpRequestMessage request)
        {
            if (Timeout is not null)
            {
                request.Headers.TryAddWithoutValidation("grpc-timeout", Timeout);
            }

            if (Encoding is not null)
            {
                request.Headers.TryAddWithoutValidation("grpc-encoding", Encoding);
            }
        }

        public override string ToString() =>
            $"{Kind} {Path} timeout={Timeout ?? "-"} encoding={Encoding ?? "-"} body={Convert.ToHexString(Body.AsSpan(0, Math.Min(Body.Length, 48)))}{(Body.Length > 48 ? "…" : "")} ({Body.Length} bytes)";
    }

    private static FuzzCall NextCall(Random random)
    {
        var path = s_paths[random.Next(s_paths.Length)];
        string kind;
        byte[] body;
        switch (random.Next(10))
        {
            case < 5:
                kind = "valid";
                body = RawGrpcClient.Frame(ValidMessage(random, path));
                break;
            case 5:
                kind = "random-bytes";
                body = RawGrpcClient.Frame(Bytes(random, random.Next(0, 200)));
                break;
            case 6:
                kind = "random-prefix";
                body = RawGrpcClient.Frame(Bytes(random, random.Next(0, 64)), flag: (byte)(random.Next(4) == 0 ? random.Next(256) : 0), declaredLength: (uint)random.NextInt64(0, (long)uint.MaxValue + 1) >> random.Next(32));
                break;
            case 7:
                kind = "mutated";
                body = Mutate(random, RawGrpcClient.Frame(ValidMessage(random, path)));
                break;
            case 8:
                kind = "truncated";
                var frame = RawGrpcClient.Frame(ValidMessage(random, path));
                body = frame[..random.Next(0, frame.Length)];
                break;
            default:
                kind = "multi-frame";
                body = [.. Enumerable.Range(0, random.Next(0, 4)).SelectMany(_ => RawGrpcClient.Frame(ValidMessage(random, path)))];
                break;
        }

        var timeout = random.Next(20) == 0 && !CanWait(path) ? s_headerJunk[random.Next(s_headerJunk.Length)] : s_deadlines[random.Next(s_deadlines.Length)];
        var encoding = random.Next(15) switch { 0 => "gzip", 1 => "identity", 2 => "br", _ => null };
        return new FuzzCall(kind, path, body, timeout, encoding);
    }

    private static bool CanWait(string path) => path.EndsWith("/Start", StringComparison.Ordinal) || path.EndsWith("/Submit", StringComparison.Ordinal)
        || path.EndsWith("/Subscribe", StringComparison.Ordinal) || path.EndsWith("/Watch", StringComparison.Ordinal)
        || path.EndsWith("/Interrupt", StringComparison.Ordinal) || path.Contains("Reflection", StringComparison.Ordinal);

    private static IMessage ValidMessage(Random random, string path) => path[(path.LastIndexOf('/') + 1)..] switch
    {
        "Start" => StartRequest(random),
        "Submit" => new V1.SubmitRequest
        {
            FiberId = Id(random),
            Input = random.Next(10) == 0 ? null : Payload(random),
            QueueFullPolicy = (V1.QueueFullPolicy)Pick(random, 0, 1, 2, random.Next()),
            SubmitId = random.Next(3) == 0 ? Text(random, random.Next(0, 140)) : string.Empty,
        },
        "Pause" => new V1.PauseRequest { FiberId = Id(random) },
        "Resume" => new V1.ResumeRequest { FiberId = Id(random) },
        "Interrupt" => new V1.InterruptRequest { FiberId = Id(random), Grace = random.Next(3) == 0 ? Duration(random) : null },
        "GetStatus" => new V1.GetStatusRequest { FiberId = Id(random) },
        "ListFibers" => ListFibers(random),
        "ListWorkflows" => new V1.ListWorkflowsRequest(),
        "Subscribe" => new V1.SubscribeRequest { FiberId = Id(random), FromSequence = random.Next(3) == 0 ? (ulong)random.NextInt64() : (ulong)random.Next(5) },
        "Check" or "Watch" => new global::Grpc.Health.V1.HealthCheckRequest { Service = Pick(random, "", "fibermanager.v1.FiberManager", Text(random, 20)) },
        _ => new V1.GetStatusRequest { FiberId = Id(random) },
    };

    private static V1.StartRequest StartRequest(Random random)
    {
        var request = new V1.StartRequest
        {
            FiberId = Id(random),
            Workflow = Pick(random, "echo", "echo", "aggregate", Text(random, 10)),
            ConflictPolicy = (V1.ConflictPolicy)Pick(random, 0, 1, 2, 3, random.Next(-10, 100)),
            Admission = (V1.AdmissionPolicy)Pick(random, 0, 1, 2, 3, random.Next(-10, 100)),
            RequestId = random.Next(4) == 0 ? Text(random, random.Next(0, 200)) : string.Empty,
            InputCapacity = Pick(random, 0u, 1u, 4u, 64u, (uint)random.NextInt64(0, (long)uint.MaxValue + 1)),
            StartPaused = random.Next(4) == 0,
            BufferWhilePaused = random.Next(3) == 0,
            PermitTimeout = random.Next(4) == 0 ? Duration(random) : null,
        };
        if (random.Next(3) == 0)
        {
            request.Args = new Struct();
            request.Args.Fields[Pick(random, "batch_size", "field", Text(random, 8))] = JsonValue(random, 2);
        }

        for (int i = random.Next(4) == 0 ? random.Next(0, 40) : 0; i > 0; i--)
        {
            request.Labels[Text(random, random.Next(0, 70))] = Text(random, random.Next(0, 270));
        }

        if (random.Next(4) == 0)
        {
            request.RestartPolicy = new V1.RestartPolicy
            {
                Mode = (V1.RestartMode)Pick(random, 0, 1, 2, random.Next(-5, 50)),
                MaxRestarts = (uint)random.Next(),
                InitialBackoff = random.Next(2) == 0 ? Duration(random) : null,
                MaxBackoff = random.Next(2) == 0 ? Duration(random) : null,
            };
        }

        return request;
    }

    private static V1.ListFibersRequest ListFibers(Random random)
    {
        var request = new V1.ListFibersRequest
        {
            Workflow = random.Next(3) == 0 ? Text(random, 10) : string.Empty,
            PageSize = Pick(random, 0u, 1u, 10u, uint.MaxValue, (uint)random.Next()),
            PageToken = random.Next(3) == 0 ? Text(random, random.Next(0, 40)) : string.Empty,
        };
        for (int i = random.Next(0, 4); i > 0; i--)
        {
            request.Statuses.Add((V1.FiberStatus)random.Next(-3, 12));
        }

        if (random.Next(4) == 0)
        {
            request.Labels[Text(random, 5)] = Text(random, 5);
        }

        return request;
    }

    private static V1.Payload Payload(Random random) => random.Next(2) == 0
        ? new V1.Payload { Json = JsonValue(random, 3) }
        : new V1.Payload { Binary = ByteString.CopyFrom(Bytes(random, random.Next(0, random.Next(10) == 0 ? 70_000 : 100))) };

    private static Value JsonValue(Random random, int depth) => random.Next(depth > 0 ? 7 : 5) switch
    {
        0 => Value.ForNull(),
        1 => Value.ForNumber(Pick(random, 0d, -1d, double.MaxValue, double.NaN, double.PositiveInfinity, random.NextDouble() * 1e6)),
        2 => Value.ForString(Text(random, random.Next(0, 50))),
        3 => Value.ForBool(random.Next(2) == 0),
        4 => new Value(),
        5 => Value.ForList([.. Enumerable.Range(0, random.Next(0, 4)).Select(_ => JsonValue(random, depth - 1))]),
        _ => Value.ForStruct(new Struct { Fields = { [Text(random, 6)] = JsonValue(random, depth - 1), ["amount"] = JsonValue(random, depth - 1) } }),
    };

    private static Duration Duration(Random random) => new()
    {
        Seconds = Pick(random, 0L, 1L, -1L, long.MaxValue, long.MinValue, 315_576_000_001L, random.Next(0, 3)),
        Nanos = Pick(random, 0, 500_000_000, -1, 1_000_000_000, int.MaxValue),
    };

    private static string Id(Random random) => random.Next(10) switch
    {
        < 6 => s_idPool[random.Next(s_idPool.Length)],
        6 => string.Empty,
        7 => new string('a', random.Next(120, 300)),
        _ => Text(random, random.Next(1, 40)),
    };

    private static string Text(Random random, int length)
    {
        var builder = new StringBuilder(length);
        for (int i = 0; i < length; i++)
        {
            builder.Append(random.Next(6) switch
            {
                0 => (char)random.Next(0, 32),
                1 => (char)random.Next(0x80, 0xD7FF),
                _ => (char)random.Next(32, 127),
            });
        }

        return builder.ToString();
    }

    private static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Mutate(Random random, byte[] frame)
    {
        var copy = (byte[])frame.Clone();
        for (int n = random.Next(1, 6); n > 0 && copy.Length > 0; n--)
        {
            copy[random.Next(copy.Length)] = (byte)random.Next(256);
        }

        return copy;
    }

    private static T Pick<T>(Random random, params T[] values) => values[random.Next(values.Length)];
}

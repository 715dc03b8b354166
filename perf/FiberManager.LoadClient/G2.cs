using System.Buffers.Binary;
using System.Diagnostics;
using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;

namespace FiberManager.LoadClient;

/// <summary>
/// G2 Subscribe fan-out: S echo fibers, one Subscribe stream on each, spread over C HTTP/2
/// connections (one client each); P concurrent producers submit E inputs round-robin, each
/// carrying its send time; report events/s delivered end to end and the latency percentiles.
/// </summary>
internal static class G2
{
    public static async Task<int> RunAsync(Uri url, int streams, int connections, int events, int concurrency)
    {
        var clients = Enumerable.Range(0, connections).Select(_ => new FiberManagerClient(url)).ToArray();
        var runId = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "-" + Stopwatch.GetTimestamp().ToString(System.Globalization.CultureInfo.InvariantCulture)[^6..];
        var ids = Enumerable.Range(0, streams).Select(i => $"g2-{runId}-{i}").ToArray();
        try
        {
            await ForEachAsync(streams, 32, i => clients[i % connections].StartAsync(ids[i], "echo")).ConfigureAwait(false);

            var latencies = new long[events];
            var received = 0L;
            var lost = 0L;
            var allReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var stop = new CancellationTokenSource();
            var readers = new Task[streams];
            for (var i = 0; i < streams; i++)
            {
                var client = clients[i % connections];
                var id = ids[i];
                readers[i] = Task.Run(async () =>
                {
                    try
                    {
                        await foreach (var e in client.SubscribeAsync(id, 0, stop.Token).ConfigureAwait(false))
                        {
                            if (e.EventCase == FiberEvent.EventOneofCase.Output)
                            {
                                var bytes = e.Output.Binary.Span;
                                var sent = BinaryPrimitives.ReadInt64LittleEndian(bytes);
                                var index = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
                                latencies[index] = Stopwatch.GetTimestamp() - sent;
                                if (Interlocked.Increment(ref received) + Volatile.Read(ref lost) >= events)
                                {
                                    allReceived.TrySetResult();
                                }
                            }
                            else if (e.EventCase == FiberEvent.EventOneofCase.Gap)
                            {
                                var missed = (long)(e.Gap.ToSequence - e.Gap.FromSequence + 1);
                                if (Interlocked.Add(ref lost, missed) + Volatile.Read(ref received) >= events)
                                {
                                    allReceived.TrySetResult();
                                }
                            }
                        }
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        // stopped at the end of the run
                    }
                });
            }

            // Every stream is open (the server counts it) before the first input.
            await WaitUntilAsync(async () =>
            {
                var open = 0;
                await ForEachAsync(streams, 32, async i =>
                {
                    if ((await clients[i % connections].GetStatusAsync(ids[i]).ConfigureAwait(false)).Subscribers >= 1)
                    {
                        Interlocked.Increment(ref open);
                    }
                }).ConfigureAwait(false);
                return open == streams;
            }).ConfigureAwait(false);

            var watch = Stopwatch.StartNew();
            var next = -1;
            var producers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
            {
                var payload = new byte[12];
                int j;
                while ((j = Interlocked.Increment(ref next)) < events)
                {
                    BinaryPrimitives.WriteInt64LittleEndian(payload, Stopwatch.GetTimestamp());
                    BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(8), j);
                    await clients[j % connections].SubmitAsync(new SubmitRequest
                    {
                        FiberId = ids[j % streams],
                        Input = new Payload { Binary = ByteString.CopyFrom(payload) },
                    }).ConfigureAwait(false);
                }
            })).ToArray();
            await Task.WhenAll(producers).ConfigureAwait(false);
            var submitted = watch.Elapsed.TotalSeconds;
            var complete = await Task.WhenAny(allReceived.Task, Task.Delay(TimeSpan.FromSeconds(60))).ConfigureAwait(false) == allReceived.Task;
            watch.Stop();
            if (!complete)
            {
                Console.Error.WriteLine($"g2: only {Volatile.Read(ref received)} events (+{Volatile.Read(ref lost)} in gaps) of {events} arrived within 60 s after the last submit");
            }

            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or RpcException)
            {
                Console.Error.WriteLine($"g2: the Subscribe streams did not all end within 30 s of cancelling them: {e.Message}");
            }

            var sorted = latencies.Where(l => l > 0).Select(l => l * 1_000_000 / Stopwatch.Frequency).ToList();
            sorted.Sort();
            var seconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine(new Json()
                .Add("name", "g2")
                .Add("n", events)
                .Add("seconds", Math.Round(seconds, 3))
                .Add("ops_per_sec", Math.Round(Volatile.Read(ref received) / seconds, 1))
                .Add("streams", streams)
                .Add("connections", connections)
                .Add("producers", concurrency)
                .Add("submit_seconds", Math.Round(submitted, 3))
                .Add("events_received", Volatile.Read(ref received))
                .Add("events_lost_to_gaps", Volatile.Read(ref lost))
                .Add("p50_us", Commands.Percentile(sorted, 50))
                .Add("p90_us", Commands.Percentile(sorted, 90))
                .Add("p99_us", Commands.Percentile(sorted, 99))
                .Add("max_us", Commands.Percentile(sorted, 100))
                .Add("ok", complete));
            return complete ? 0 : 1;
        }
        finally
        {
            await ForEachAsync(streams, 32, async i =>
            {
                try
                {
                    await clients[i % connections].InterruptAsync(ids[i]).ConfigureAwait(false);
                }
                catch (RpcException e)
                {
                    Console.Error.WriteLine($"g2 cleanup: interrupt {ids[i]}: {e.Message}");
                }
            }).ConfigureAwait(false);
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    internal static async Task ForEachAsync(int count, int parallelism, Func<int, Task> body)
    {
        var next = -1;
        var workers = Enumerable.Range(0, Math.Min(parallelism, Math.Max(1, count))).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await body(i).ConfigureAwait(false);
            }
        }));
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition().ConfigureAwait(false))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new TimeoutException("the Subscribe streams did not all open within 120 s");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }
}

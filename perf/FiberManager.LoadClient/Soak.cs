using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using FiberManager.Client;
using FiberManager.Protocol;
using FiberManager.Protocol.V1;
using Google.Protobuf;
using Grpc.Core;

namespace FiberManager.LoadClient;

/// <summary>What a soak run does and what it accepts as flat (see <see cref="Soak"/>).</summary>
internal sealed record SoakOptions
{
    public required Uri Url { get; init; }

    /// <summary>The service's process (RSS and threads from /proc/PID/status; SIGTERM at the end).</summary>
    public required int Pid { get; init; }

    public int Fibers { get; init; } = 10_000;

    /// <summary>Clients, each with its own connection pool: one HTTP/2 connection each while its streams stay under the server's MaxStreamsPerConnection.</summary>
    public int Connections { get; init; } = 16;

    public int Producers { get; init; } = 64;

    public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Load before <see cref="Duration"/> that the flatness checks ignore (every replay window fills, the GC heap grows to its steady size).</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Fibers whose subscriber reads one event per <see cref="SlowDelay"/> while the load runs: the only ones allowed a gap.</summary>
    public int SlowFibers { get; init; } = 4;

    public TimeSpan SlowDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The host's shutdown timeout: every stream must end, and the process exit, within it after SIGTERM.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Flat RSS: the mean of the last third of the samples at most this much above the mean of the middle third.</summary>
    public double RssTolerance { get; init; } = 0.10;

    /// <summary>Flat threads: the most threads in the last third at most this many above the most in the middle third.</summary>
    public int ThreadSlack { get; init; } = 8;
}

/// <summary>
/// Load and soak over loopback: F echo fibers, one Subscribe stream each over C connections, P
/// producers submitting for D, the service's RSS and thread count sampled throughout; then
/// SIGTERM with the producers still submitting and every stream open.
/// <para>
/// Each fiber has exactly one producer, which awaits every Submit, so the fiber's inputs are
/// numbered 1, 2, 3… in the order it accepts them and its subscriber must see exactly that
/// sequence (a jump is allowed only right after a Gap event, and only on the deliberately slow
/// subscribers). At the end every fiber's inputs are accounted for: accepted == outputs seen +
/// the terminated event's unprocessed count (+ the outputs inside gaps, slow subscribers only).
/// A Submit that failed without a server status after SIGTERM (connection closed) may or may
/// not have been accepted: such a fiber may account for one input more.
/// </para>
/// <para>
/// Flatness: the load runs for <see cref="SoakOptions.Warmup"/> + <see cref="SoakOptions.Duration"/>;
/// the samples of the measured part (after the warm-up) are split in thirds by time; the mean
/// RSS of the last third must be within <see cref="SoakOptions.RssTolerance"/> of the middle
/// third's, and the most threads of the last third within <see cref="SoakOptions.ThreadSlack"/>
/// of the middle third's.
/// </para>
/// </summary>
internal static class Soak
{
    private const int LatencyEvery = 64;
    private const int SlowPayloadBytes = 1024;

    public static async Task<int> RunAsync(SoakOptions o)
    {
        if (o.Fibers < 1 || o.Connections < 1 || o.Producers < 1 || o.SlowFibers < 0 || o.SlowFibers >= o.Fibers || o.Pid <= 0)
        {
            throw new ArgumentException("soak needs --pid, fibers >= 1, connections >= 1, producers >= 1 and 0 <= slow < fibers");
        }

        var clients = Enumerable.Range(0, o.Connections).Select(_ => new FiberManagerClient(new FiberManagerClientOptions { Address = o.Url, DefaultUnaryTimeout = TimeSpan.FromSeconds(20) })).ToArray();
        try
        {
            return await RunAsync(o, clients).ConfigureAwait(false);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    private static async Task<int> RunAsync(SoakOptions o, FiberManagerClient[] clients)
    {
        var runId = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture)[^6..];
        var fibers = Enumerable.Range(0, o.Fibers).Select(i => new FiberTrack($"soak-{runId}-{i}", i < o.SlowFibers)).ToArray();
        FiberManagerClient ClientOf(int i) => clients[i % clients.Length];

        var watch = Stopwatch.StartNew();
        await G2.ForEachAsync(o.Fibers, 32, i => ClientOf(i).StartAsync(fibers[i].Id, "echo")).ConfigureAwait(false);
        var startSeconds = watch.Elapsed.TotalSeconds;
        Log($"started {o.Fibers} echo fibers in {startSeconds:0.0} s");

        using var slowRelease = new CancellationTokenSource();
        var latencies = new List<long>();
        var readers = new Task[o.Fibers];
        for (var i = 0; i < o.Fibers; i++)
        {
            readers[i] = ReadAsync(ClientOf(i), fibers[i], o.SlowDelay, latencies, slowRelease.Token);
        }

        await WaitForSubscribersAsync(clients, fibers).ConfigureAwait(false);
        var subscribeSeconds = watch.Elapsed.TotalSeconds - startSeconds;
        Log($"{o.Fibers} Subscribe streams open over {clients.Length} clients in {subscribeSeconds:0.0} s");

        // Producers: with slow fibers, producer 0 feeds only them (so that they do fall behind);
        // the others share the normal fibers. A fiber belongs to exactly one producer.
        var normal = fibers.Where(f => !f.Slow).ToArray();
        var slow = fibers.Where(f => f.Slow).ToArray();
        var shares = new List<FiberTrack[]>();
        if (slow.Length > 0)
        {
            shares.Add(slow);
        }

        var normalProducers = Math.Max(1, Math.Min(normal.Length, o.Producers - shares.Count));
        shares.AddRange(Enumerable.Range(0, normalProducers).Select(p => normal.Where((_, i) => i % normalProducers == p).ToArray()));
        var shutdown = new ShutdownState();
        var producers = shares.Select((share, p) => ProduceAsync(clients[p % clients.Length], share, shutdown)).ToArray();

        // Sampling while the load runs.
        var sampleEvery = TimeSpan.FromSeconds(Math.Clamp(o.Duration.TotalSeconds / 30, 1, 10));
        var loadFor = o.Warmup + o.Duration;
        var samples = new List<Sample>();
        var loadWatch = Stopwatch.StartNew();
        var connections = 0;
        for (var k = 0; sampleEvery * k < loadFor; k++)
        {
            var wait = sampleEvery * k - loadWatch.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait).ConfigureAwait(false);
            }

            var sample = Sample.Read(o.Pid, loadWatch.Elapsed, fibers);
            samples.Add(sample);
            if (samples.Count == 3)
            {
                connections = CountServerConnections(o.Url.Port);
            }

            Log($"t={sample.Seconds,6:0.0}s rss={sample.RssMb,7:0.0} MB threads={sample.Threads,3} accepted={sample.Accepted,10} outputs={sample.Outputs,10}");
            if (producers.FirstOrDefault(p => p.IsCompleted) is { } ended)
            {
                Log($"a producer stopped during the load: {ended.Exception?.GetBaseException().Message ?? "see submit errors"}");
                break;
            }
        }

        if (loadFor - loadWatch.Elapsed is { } rest && rest > TimeSpan.Zero && producers.All(p => !p.IsCompleted))
        {
            await Task.Delay(rest).ConfigureAwait(false);
        }

        samples.Add(Sample.Read(o.Pid, loadWatch.Elapsed, fibers));
        var loadSeconds = loadWatch.Elapsed.TotalSeconds;
        var acceptedDuringLoad = fibers.Sum(f => Volatile.Read(ref f.Accepted));

        // The slow subscribers catch up (what they missed is a gap by now), with the load still on.
        await slowRelease.CancelAsync().ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);

        // SIGTERM with every stream open and the producers submitting.
        var openBefore = readers.Count(r => !r.IsCompleted);
        Log($"SIGTERM to {o.Pid} with {openBefore} streams open and {producers.Count(p => !p.IsCompleted)} producers submitting");
        var termWatch = Stopwatch.StartNew();
        shutdown.SigtermSent = true;
        SendSigterm(o.Pid);
        var allReaders = Task.WhenAll(readers);
        var bound = o.Grace + TimeSpan.FromSeconds(5);
        var streamsEnded = await Task.WhenAny(allReaders, Task.Delay(bound)).ConfigureAwait(false) == allReaders;
        var streamsEndedSeconds = termWatch.Elapsed.TotalSeconds;
        var exitSeconds = await WaitForExitAsync(o.Pid, bound - termWatch.Elapsed).ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(producers), Task.Delay(TimeSpan.FromSeconds(25))).ConfigureAwait(false);
        var producersEnded = producers.All(p => p.IsCompleted);

        // Accounting, per fiber.
        var unaccounted = new List<string>();
        long accepted = 0, outputs = 0, unprocessed = 0, gapEvents = 0, ambiguous = 0, rejectedAfter = 0, orderViolations = 0;
        int normalGaps = 0, slowGaps = 0, terminated = 0, endedOk = 0, notInterrupted = 0, afterTerminated = 0;
        var submitErrors = fibers.Sum(f => f.SubmitErrorsBeforeSigterm);
        foreach (var f in fibers)
        {
            accepted += f.Accepted;
            outputs += f.Outputs;
            unprocessed += (long)f.Unprocessed;
            gapEvents += f.GapEvents;
            ambiguous += f.Ambiguous;
            rejectedAfter += f.RejectedAfterSigterm;
            orderViolations += f.OrderViolations;
            afterTerminated += f.EventsAfterTerminated;
            if (f.Slow)
            {
                slowGaps += f.Gaps;
            }
            else
            {
                normalGaps += f.Gaps;
            }

            terminated += f.Terminated == 1 ? 1 : 0;
            endedOk += f.Terminated == 1 && f.StreamError is null && f.StreamEnded ? 1 : 0;
            notInterrupted += f.Terminated == 1 && f.ExitKind != ExitKind.Interrupted ? 1 : 0;

            // The fiber accepted between Accepted and Accepted + Ambiguous inputs; of those, the
            // terminated event counts the unprocessed ones, the subscriber saw the others (slow
            // subscribers: or were told of them in a gap).
            var seenOrReported = f.Outputs + (long)f.Unprocessed;
            var ok = f.Slow
                ? seenOrReported <= f.Accepted + f.Ambiguous && seenOrReported + f.GapEvents >= f.Accepted
                : seenOrReported >= f.Accepted && seenOrReported <= f.Accepted + f.Ambiguous;
            if (!ok || f.Terminated != 1)
            {
                unaccounted.Add($"{f.Id}{(f.Slow ? " (slow)" : string.Empty)}: accepted {f.Accepted} (+{f.Ambiguous} unknown), outputs {f.Outputs}, unprocessed {f.Unprocessed}, gap events {f.GapEvents}, terminated events {f.Terminated}, stream {f.StreamError ?? (f.StreamEnded ? "ended OK" : "open")}");
            }
        }

        foreach (var f in slow)
        {
            Log($"slow subscriber {f.Id}: accepted {f.Accepted}, outputs seen {f.Outputs}, {f.Gaps} gaps ({f.GapEvents} events), unprocessed {f.Unprocessed}");
        }

        foreach (var line in unaccounted.Take(10))
        {
            Log("unaccounted: " + line);
        }

        foreach (var f in fibers.Where(f => f.StreamError is not null).Take(5))
        {
            Log($"stream error {f.Id}: {f.StreamError}");
        }

        foreach (var f in fibers.Where(f => f.FirstSubmitError is not null).Take(5))
        {
            Log($"submit error {f.Id}: {f.FirstSubmitError}");
        }

        // Flatness over the samples taken while the load ran.
        var flat = Flatness.Of(samples, o.Warmup.TotalSeconds, o.RssTolerance, o.ThreadSlack);
        List<long> sorted;
        lock (latencies)
        {
            sorted = [.. latencies.Select(l => l * 1_000_000 / Stopwatch.Frequency)];
        }

        sorted.Sort();
        var graceSeconds = o.Grace.TotalSeconds;
        var checks = new (string Name, bool Ok)[]
        {
            ("inputs accepted", acceptedDuringLoad > 0),
            ("no submit error before SIGTERM", submitErrors == 0),
            ("every input accounted for", unaccounted.Count == 0),
            ("outputs in order, none twice", orderViolations == 0),
            ("no gap on a normal subscriber", normalGaps == 0),
            ("every stream got one terminated event (interrupted) and ended OK", terminated == o.Fibers && endedOk == o.Fibers && notInterrupted == 0 && afterTerminated == 0),
            ($"every stream ended within the grace ({graceSeconds:0} s)", streamsEnded && streamsEndedSeconds <= graceSeconds),
            ($"process exited within the grace ({graceSeconds:0} s)", exitSeconds is { } e && e <= graceSeconds),
            ("producers stopped after SIGTERM", producersEnded),
            ($"RSS flat (last third within {o.RssTolerance:P0} of the middle third)", flat.RssOk),
            ($"threads flat (last third within +{o.ThreadSlack} of the middle third)", flat.ThreadsOk),
        };
        foreach (var (name, ok) in checks)
        {
            Log($"{(ok ? "ok  " : "FAIL")} {name}");
        }

        var allOk = checks.All(c => c.Ok);
        var processed = outputs + fibers.Where(f => f.Slow).Sum(f => f.GapEvents);
        Console.WriteLine(new Json()
            .Add("name", "soak")
            .Add("n", accepted)
            .Add("seconds", Math.Round(loadSeconds, 3))
            .Add("warmup_seconds", o.Warmup.TotalSeconds)
            .Add("ops_per_sec", Math.Round(acceptedDuringLoad / loadSeconds, 1))
            .Add("fibers", o.Fibers)
            .Add("slow_fibers", o.SlowFibers)
            .Add("connections", clients.Length)
            .Add("server_connections", connections)
            .Add("producers", producers.Length)
            .Add("start_seconds", Math.Round(startSeconds, 2))
            .Add("subscribe_seconds", Math.Round(subscribeSeconds, 2))
            .Add("accepted", accepted)
            .Add("outputs_seen", outputs)
            .Add("unprocessed", unprocessed)
            .Add("gap_events", gapEvents)
            .Add("gaps_normal", normalGaps)
            .Add("gaps_slow", slowGaps)
            .Add("submits_unknown_after_sigterm", ambiguous)
            .Add("submits_rejected_after_sigterm", rejectedAfter)
            .Add("submit_errors_before_sigterm", submitErrors)
            .Add("order_violations", orderViolations)
            .Add("unaccounted_fibers", unaccounted.Count)
            .Add("streams_open_at_sigterm", openBefore)
            .Add("terminated_events", terminated)
            .Add("streams_ended_ok", endedOk)
            .Add("streams_ended_seconds", Math.Round(streamsEndedSeconds, 2))
            .Add("exit_seconds", exitSeconds is { } x ? Math.Round(x, 2) : -1.0)
            .Add("grace_seconds", graceSeconds)
            .Add("p50_us", Commands.Percentile(sorted, 50))
            .Add("p99_us", Commands.Percentile(sorted, 99))
            .Add("sample_seconds", Math.Round(sampleEvery.TotalSeconds, 1))
            .Add("rss_mb", samples.Select(s => s.RssMb).ToArray())
            .Add("threads", samples.Select(s => (double)s.Threads).ToArray())
            .Add("rss_mid_mean_mb", flat.RssMid)
            .Add("rss_last_mean_mb", flat.RssLast)
            .Add("rss_growth", flat.RssGrowth)
            .Add("rss_tolerance", o.RssTolerance)
            .Add("threads_mid_max", flat.ThreadsMid)
            .Add("threads_last_max", flat.ThreadsLast)
            .Add("thread_slack", o.ThreadSlack)
            .Add("processed_or_gap", processed)
            .Add("ok", allOk));
        return allOk ? 0 : 1;
    }

    private static async Task ReadAsync(FiberManagerClient client, FiberTrack f, TimeSpan slowDelay, List<long> latencies, CancellationToken slowRelease)
    {
        // Only the server ends the stream (after the terminated event); nothing here cancels it.
        await Task.Yield();
        try
        {
            await foreach (var e in client.SubscribeAsync(f.Id, 0, CancellationToken.None).ConfigureAwait(false))
            {
                if (f.Terminated > 0)
                {
                    f.EventsAfterTerminated++;
                }

                switch (e.EventCase)
                {
                    case FiberEvent.EventOneofCase.Output:
                        var bytes = e.Output.Binary.Span;
                        var index = bytes.Length >= 16 ? BinaryPrimitives.ReadInt64LittleEndian(bytes) : -1;
                        if (index != f.LastIndex + 1 && !(f.GapSinceLastOutput && index > f.LastIndex + 1))
                        {
                            f.OrderViolations++;
                        }

                        f.LastIndex = Math.Max(f.LastIndex, index);
                        f.GapSinceLastOutput = false;
                        Interlocked.Increment(ref f.Outputs);
                        if (index % LatencyEvery == 0 && !f.Slow)
                        {
                            var latency = Stopwatch.GetTimestamp() - BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]);
                            lock (latencies)
                            {
                                latencies.Add(latency);
                            }
                        }

                        break;
                    case FiberEvent.EventOneofCase.Gap:
                        f.GapEvents += (long)(e.Gap.ToSequence - e.Gap.FromSequence + 1);
                        f.Gaps++;
                        f.GapSinceLastOutput = true;
                        break;
                    case FiberEvent.EventOneofCase.Terminated:
                        f.Terminated++;
                        f.Unprocessed = e.Terminated.Exit?.InputsUnprocessed ?? 0;
                        f.ExitKind = e.Terminated.Exit?.Kind ?? ExitKind.Unspecified;
                        break;
                }

                if (f.Slow && !slowRelease.IsCancellationRequested)
                {
                    try
                    {
                        await Task.Delay(slowDelay, slowRelease).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // released: read at full speed from now on
                    }
                }
            }

            f.StreamEnded = true;
        }
        catch (RpcException e)
        {
            f.StreamError = $"{e.StatusCode}: {e.Message}";
        }
        catch (Exception e) when (e is IOException or HttpRequestException or InvalidOperationException)
        {
            f.StreamError = $"{e.GetType().Name}: {e.Message}";
        }
    }

    private static async Task ProduceAsync(FiberManagerClient client, FiberTrack[] share, ShutdownState shutdown)
    {
        await Task.Yield();
        var active = share.ToList();

        // A slow subscriber's events are padded to 1 KiB, so that its HTTP/2 stream window
        // (64 KiB) and its server-side buffer fill within seconds and the server must report a gap.
        var payload = new byte[share.Length > 0 && share[0].Slow ? SlowPayloadBytes : 16];
        var k = 0;
        while (active.Count > 0)
        {
            var f = active[k++ % active.Count];
            BinaryPrimitives.WriteInt64LittleEndian(payload, f.Accepted + 1);
            BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), Stopwatch.GetTimestamp());
            var afterSigterm = shutdown.SigtermSent;
            try
            {
                await client.SubmitAsync(new SubmitRequest { FiberId = f.Id, Input = new Payload { Binary = ByteString.CopyFrom(payload) } }).ConfigureAwait(false);
                Volatile.Write(ref f.Accepted, f.Accepted + 1);
                continue;
            }
            catch (RpcException e) when (e.GetReason() is not null && (afterSigterm || shutdown.SigtermSent))
            {
                // The server answered: not accepted (shutting down, fiber ended).
                f.RejectedAfterSigterm++;
            }
            catch (Exception e) when (e is RpcException or IOException or HttpRequestException or OperationCanceledException)
            {
                if (afterSigterm || shutdown.SigtermSent)
                {
                    // No answer (the connection closed): the input may or may not have been accepted.
                    f.Ambiguous = 1;
                    return;
                }

                f.SubmitErrorsBeforeSigterm++;
                f.FirstSubmitError ??= e.Message;
                f.Ambiguous = 1;
            }

            // Never submit to this fiber again: its numbering must stay exact.
            active.Remove(f);
        }
    }

    private static async Task WaitForSubscribersAsync(FiberManagerClient[] clients, FiberTrack[] fibers)
    {
        var pending = Enumerable.Range(0, fibers.Length).ToList();
        var deadline = Stopwatch.StartNew();
        while (pending.Count > 0)
        {
            var open = new bool[pending.Count];
            await G2.ForEachAsync(pending.Count, 32, async j =>
            {
                var i = pending[j];
                open[j] = (await clients[i % clients.Length].GetStatusAsync(fibers[i].Id).ConfigureAwait(false)).Subscribers >= 1;
            }).ConfigureAwait(false);
            pending = [.. pending.Where((_, j) => !open[j])];
            if (pending.Count > 0)
            {
                if (deadline.Elapsed > TimeSpan.FromSeconds(120))
                {
                    throw new TimeoutException($"{pending.Count} Subscribe streams did not open within 120 s");
                }

                await Task.Delay(100).ConfigureAwait(false);
            }
        }
    }

    private static void SendSigterm(int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", pid.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -TERM {pid} failed with {kill.ExitCode}");
        }
    }

    /// <summary>Seconds until the process has exited (gone, or a zombie waiting for its parent), or null if not within <paramref name="bound"/>.</summary>
    private static async Task<double?> WaitForExitAsync(int pid, TimeSpan bound)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (Sample.ProcessState(pid) is null or "Z")
            {
                return watch.Elapsed.TotalSeconds;
            }

            if (watch.Elapsed > bound)
            {
                return null;
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>Established TCP connections whose local port is the service's (its accepted connections).</summary>
    private static int CountServerConnections(int port)
    {
        var hex = port.ToString("X4", CultureInfo.InvariantCulture);
        var count = 0;
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (columns.Length > 3 && columns[1].EndsWith(":" + hex, StringComparison.Ordinal) && columns[3] == "01")
                {
                    count++;
                }
            }
        }

        return count;
    }

    private static void Log(string message) => Console.Error.WriteLine($"soak: {message}");

    private sealed class ShutdownState
    {
        private volatile bool _sigtermSent;

        public bool SigtermSent
        {
            get => _sigtermSent;
            set => _sigtermSent = value;
        }
    }

    /// <summary>
    /// One fiber's books. <see cref="Accepted"/>, <see cref="Ambiguous"/> and the submit counters
    /// are written only by the fiber's one producer; the rest only by its one reader. Both are
    /// read by the run after they have ended (or, for progress lines, with Volatile.Read).
    /// </summary>
    private sealed class FiberTrack(string id, bool slow)
    {
        public readonly string Id = id;
        public readonly bool Slow = slow;
        public long Accepted;
        public int Ambiguous;
        public int RejectedAfterSigterm;
        public int SubmitErrorsBeforeSigterm;
        public string? FirstSubmitError;
        public long Outputs;
        public long LastIndex;
        public bool GapSinceLastOutput;
        public long GapEvents;
        public int Gaps;
        public int OrderViolations;
        public int Terminated;
        public int EventsAfterTerminated;
        public ulong Unprocessed;
        public ExitKind ExitKind;
        public bool StreamEnded;
        public string? StreamError;
    }

    private sealed record Sample(double Seconds, double RssMb, int Threads, long Accepted, long Outputs)
    {
        public static Sample Read(int pid, TimeSpan at, FiberTrack[] fibers)
        {
            long rss = 0;
            var threads = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                }
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = int.Parse(line["Threads:".Length..].Trim(), CultureInfo.InvariantCulture);
                }
            }

            return new Sample(
                Math.Round(at.TotalSeconds, 1),
                Math.Round(rss / (1024.0 * 1024.0), 1),
                threads,
                fibers.Sum(f => Volatile.Read(ref f.Accepted)),
                fibers.Sum(f => Volatile.Read(ref f.Outputs)));
        }

        /// <summary>The State letter of /proc/PID/status (R, S, Z…), or null if there is no such process.</summary>
        public static string? ProcessState(int pid)
        {
            try
            {
                var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("State:", StringComparison.Ordinal));
                return line?["State:".Length..].Trim()[..1];
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
            {
                return null;
            }
        }
    }

    /// <summary>The flatness criteria over the samples after the warm-up (compared: their last third against their middle third).</summary>
    private sealed record Flatness(double RssMid, double RssLast, double RssGrowth, int ThreadsMid, int ThreadsLast, bool RssOk, bool ThreadsOk)
    {
        public static Flatness Of(List<Sample> samples, double warmupSeconds, double rssTolerance, int threadSlack)
        {
            var measured = samples.Where(s => s.Seconds >= warmupSeconds).ToList();
            if (measured.Count < 6)
            {
                return new Flatness(0, 0, 0, 0, 0, false, false); // too few samples to judge
            }

            var start = measured[0].Seconds;
            var third = (measured[^1].Seconds - start) / 3;
            var middle = measured.Where(s => s.Seconds >= start + third && s.Seconds < start + (2 * third)).ToList();
            var last = measured.Where(s => s.Seconds >= start + (2 * third)).ToList();
            if (middle.Count == 0 || last.Count == 0)
            {
                return new Flatness(0, 0, 0, 0, 0, false, false);
            }

            var rssMid = Math.Round(middle.Average(s => s.RssMb), 1);
            var rssLast = Math.Round(last.Average(s => s.RssMb), 1);
            var growth = Math.Round((rssLast - rssMid) / rssMid, 3);
            var threadsMid = middle.Max(s => s.Threads);
            var threadsLast = last.Max(s => s.Threads);
            return new Flatness(rssMid, rssLast, growth, threadsMid, threadsLast, growth <= rssTolerance, threadsLast <= threadsMid + threadSlack);
        }
    }
}

using System.Globalization;
using FiberManager.LoadClient;

// Usage (all output is one JSON line on stdout unless stated):
//   body --fiber ID --out FILE            a framed SubmitRequest (5-byte prefix + message) for h2load -d
//   start --url URL --fiber ID [--capacity N]   starts an echo fiber (input capacity N; 0: the server's default)
//   port                                  a free loopback TCP port (plain text)
//   h2log LOG --summary OUT [--name N]    h2load's summary (OUT: its stdout) + percentiles of its --log-file (µs)
//   report FILE                           the markdown table of a grpc results JSONL (plain text)
//   g2 --url URL [--streams S] [--connections C] [--events E] [--concurrency P]
//   g3 --url URL [--pairs P] [--concurrency C] [--pid PID]
//   soak --url URL --pid PID [--fibers F] [--connections C] [--producers P] [--seconds D] [--warmup W] [--slow S]
//        [--slow-delay-ms MS] [--grace S] [--rss-tolerance X] [--thread-slack N]
//                                         load + soak, then SIGTERM to PID under load (see Soak.cs)
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: FiberManager.LoadClient body|start|h2log|report|g2|g3|soak ...");
    return 2;
}

try
{
    return args[0] switch
    {
        "body" => Commands.Body(Require(args, "--fiber"), Require(args, "--out")),
        "start" => await Commands.StartAsync(new Uri(Require(args, "--url")), Require(args, "--fiber"), Int(args, "--capacity", 0)).ConfigureAwait(false),
        "port" => Commands.FreePort(),
        "h2log" => Commands.H2Log(args[1], Option(args, "--summary"), Option(args, "--name") ?? "h2load"),
        "report" => GrpcReport.Render(args[1], Option(args, "--command")),
        "g2" => await G2.RunAsync(
            new Uri(Require(args, "--url")),
            Int(args, "--streams", 1_000),
            Int(args, "--connections", 4),
            Int(args, "--events", 200_000),
            Int(args, "--concurrency", 64)).ConfigureAwait(false),
        "g3" => await G3.RunAsync(
            new Uri(Require(args, "--url")),
            Int(args, "--pairs", 100_000),
            Int(args, "--concurrency", 16),
            Int(args, "--pid", 0)).ConfigureAwait(false),
        "soak" => await Soak.RunAsync(new SoakOptions
        {
            Url = new Uri(Require(args, "--url")),
            Pid = Int(args, "--pid", 0),
            Fibers = Int(args, "--fibers", 10_000),
            Connections = Int(args, "--connections", 16),
            Producers = Int(args, "--producers", 64),
            Duration = TimeSpan.FromSeconds(Int(args, "--seconds", 300)),
            Warmup = TimeSpan.FromSeconds(Int(args, "--warmup", 120)),
            SlowFibers = Int(args, "--slow", 4),
            SlowDelay = TimeSpan.FromMilliseconds(Int(args, "--slow-delay-ms", 1_000)),
            Grace = TimeSpan.FromSeconds(Int(args, "--grace", 30)),
            RssTolerance = Option(args, "--rss-tolerance") is { } tolerance ? double.Parse(tolerance, CultureInfo.InvariantCulture) : 0.10,
            ThreadSlack = Int(args, "--thread-slack", 8),
        }).ConfigureAwait(false),
        _ => throw new ArgumentException($"unknown command '{args[0]}'"),
    };
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

static string? Option(string[] args, string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

static string Require(string[] args, string name) => Option(args, name) ?? throw new ArgumentException($"{name} is required");

static int Int(string[] args, string name, int fallback) =>
    Option(args, name) is { } text ? int.Parse(text.Replace("_", string.Empty, StringComparison.Ordinal), CultureInfo.InvariantCulture) : fallback;

using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace FiberManager.Client.Tests.TestSupport;

/// <summary>
/// ASP.NET Core middleware in front of the service that sees each attempt of the calls a test
/// marks with <see cref="CallHeader"/> (the headers they arrived with), and answers the first
/// <see cref="FailHeader"/> attempts of such a call with UNAVAILABLE instead of passing them on
/// (what a server that is going away answers; the service never sees those attempts).
/// </summary>
public sealed class CallLog
{
    /// <summary>A request header naming the call (the same on every attempt of one call).</summary>
    public const string CallHeader = "x-test-call";

    /// <summary>A request header: how many first attempts of the call get UNAVAILABLE.</summary>
    public const string FailHeader = "x-test-fail-attempts";

    private readonly ConcurrentDictionary<string, Record> _calls = new();

    /// <summary>Puts the middleware in front of the host's pipeline.</summary>
    public void AddTo(WebApplicationBuilder builder) => builder.Services.AddSingleton<IStartupFilter>(new Filter(this));

    /// <summary>The attempts of the call named <paramref name="call"/> that reached the server, in order.</summary>
    public IReadOnlyList<Attempt> AttemptsOf(string call) => RecordOf(call).Attempts;

    /// <summary>Completes when <paramref name="count"/> attempts of <paramref name="call"/> have reached the server (bounded by the default timeout).</summary>
    public Task WaitForAttemptsAsync(string call, int count) => RecordOf(call).WaitForAsync(count).DefaultTimeout();

    private Record RecordOf(string call) => _calls.GetOrAdd(call, _ => new Record());

    private async Task HandleAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (!request.Headers.TryGetValue(CallHeader, out var name))
        {
            await next(context);
            return;
        }

        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.Select(v => v ?? string.Empty).ToArray(), StringComparer.OrdinalIgnoreCase);
        var record = RecordOf(name.ToString());
        var number = record.Add(new Attempt(request.Path, headers));
        if (int.TryParse(request.Headers[FailHeader], out var failing) && number <= failing)
        {
            // A trailers-only gRPC response: the status in the headers, no body.
            context.Response.ContentType = "application/grpc";
            context.Response.Headers["grpc-status"] = "14";
            context.Response.Headers["grpc-message"] = $"attempt {number} refused by the test";
            return;
        }

        record.Started(context);
        try
        {
            await next(context);
        }
        finally
        {
            record.Ended(context);
        }
    }

    /// <summary>Resets (RST_STREAM) the attempts of <paramref name="call"/> the service is still serving; returns how many.</summary>
    public int ResetInFlight(string call) => RecordOf(call).ResetInFlight();

    /// <summary>The attempts of one call and the tests waiting for a number of them.</summary>
    private sealed class Record
    {
        private readonly Lock _gate = new();
        private readonly List<Attempt> _attempts = [];
        private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
        private readonly List<HttpContext> _inFlight = [];

        public IReadOnlyList<Attempt> Attempts
        {
            get
            {
                lock (_gate)
                {
                    return [.. _attempts];
                }
            }
        }

        /// <summary>Adds an attempt and returns its number (1: the first).</summary>
        public int Add(Attempt attempt)
        {
            List<TaskCompletionSource> reached = [];
            int number;
            lock (_gate)
            {
                _attempts.Add(attempt);
                number = _attempts.Count;
                reached.AddRange(_waiters.Where(w => w.Count <= number).Select(w => w.Reached));
                _waiters.RemoveAll(w => w.Count <= number);
            }

            foreach (var waiter in reached)
            {
                waiter.TrySetResult();
            }

            return number;
        }

        public void Started(HttpContext context)
        {
            lock (_gate)
            {
                _inFlight.Add(context);
            }
        }

        public void Ended(HttpContext context)
        {
            lock (_gate)
            {
                _inFlight.Remove(context);
            }
        }

        public int ResetInFlight()
        {
            HttpContext[] open;
            lock (_gate)
            {
                open = [.. _inFlight];
            }

            foreach (var context in open)
            {
                context.Abort();
            }

            return open.Length;
        }

        public Task WaitForAsync(int count)
        {
            lock (_gate)
            {
                if (_attempts.Count >= count)
                {
                    return Task.CompletedTask;
                }

                var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, waiter));
                return waiter.Task;
            }
        }
    }

    /// <summary>One attempt of a call as the server received it.</summary>
    public sealed record Attempt(string Path, IReadOnlyDictionary<string, string[]> Headers)
    {
        /// <summary>Every value of the request header <paramref name="name"/> (empty when absent).</summary>
        public string[] Values(string name) => Headers.TryGetValue(name, out var values) ? values : [];
    }

    private sealed class Filter(CallLog log) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(log.HandleAsync);
            next(app);
        };
    }
}

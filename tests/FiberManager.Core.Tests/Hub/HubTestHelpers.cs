using FiberManager.Core.Hub;

namespace FiberManager.Core.Tests.Hub;

internal static class HubTestHelpers
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    public static Task<T> WithTimeout<T>(this ValueTask<T> task, TimeSpan? timeout = null) =>
        task.AsTask().WaitAsync(timeout ?? DefaultTimeout);

    public static Task WithTimeout(this Task task, TimeSpan? timeout = null) =>
        task.WaitAsync(timeout ?? DefaultTimeout);

    public static Task<T> WithTimeout<T>(this Task<T> task, TimeSpan? timeout = null) =>
        task.WaitAsync(timeout ?? DefaultTimeout);

    /// <summary>Reads everything readable now, without waiting.</summary>
    public static List<HubEntry<T>> Drain<T>(this HubSubscription<T> subscription)
    {
        var entries = new List<HubEntry<T>>();
        while (subscription.TryRead(out HubEntry<T> entry))
        {
            entries.Add(entry);
        }

        return entries;
    }

    /// <summary>Reads to the end (terminal item or disposal), bounded by a timeout.</summary>
    public static async Task<List<HubEntry<T>>> ReadToEndAsync<T>(this HubSubscription<T> subscription, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var entries = new List<HubEntry<T>>();
        await foreach (HubEntry<T> entry in subscription.ReadAllAsync(cts.Token))
        {
            entries.Add(entry);
        }

        return entries;
    }

    /// <summary>A compact rendering of what a subscriber read: "1 2 [3-5] 6 7T".</summary>
    public static string Describe<T>(this IEnumerable<HubEntry<T>> entries) =>
        string.Join(' ', entries.Select(e =>
            e.IsGap ? $"[{e.GapFrom}-{e.GapTo}]" : e.IsTerminal ? $"{e.Sequence}T" : e.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>
    /// The "nothing skipped silently" property: items and gaps cover every sequence from
    /// <paramref name="firstExpected"/> (or from the first entry when null) exactly once, in order, and
    /// the last entry is the terminal item <paramref name="terminalSequence"/> (when given).
    /// Returns the last sequence covered.
    /// </summary>
    public static ulong AssertContiguous<T>(
        IReadOnlyList<HubEntry<T>> entries, ulong? firstExpected, ulong? terminalSequence, Func<ulong, T>? expectedValue = null, string who = "")
    {
        if (entries.Count == 0)
        {
            Assert.Fail($"{who}: read nothing.");
        }

        ulong expected = firstExpected ?? (entries[0].IsGap ? entries[0].GapFrom : entries[0].Sequence);
        if (firstExpected is null && entries[0].IsGap)
        {
            Assert.Fail($"{who}: a subscriber that started at 0 must not begin with a gap ({entries[0]}).");
        }

        for (int i = 0; i < entries.Count; i++)
        {
            HubEntry<T> e = entries[i];
            if (e.IsGap)
            {
                if (e.GapFrom != expected || e.GapTo < e.GapFrom || e.Sequence != e.GapTo || e.IsTerminal)
                {
                    Assert.Fail($"{who}: entry {i} is {e}, expected a gap starting at {expected}.");
                }

                expected = e.GapTo + 1;
            }
            else
            {
                if (e.Sequence != expected)
                {
                    Assert.Fail($"{who}: entry {i} is #{e.Sequence}, expected #{expected}.");
                }

                if (expectedValue is not null && !EqualityComparer<T>.Default.Equals(e.Value, expectedValue(e.Sequence)))
                {
                    Assert.Fail($"{who}: entry {i} (#{e.Sequence}) has value {e.Value}, expected {expectedValue(e.Sequence)}.");
                }

                if (e.IsTerminal != (terminalSequence == e.Sequence))
                {
                    Assert.Fail($"{who}: entry {i} (#{e.Sequence}) has IsTerminal = {e.IsTerminal}.");
                }

                expected++;
            }
        }

        if (terminalSequence is not null && !entries[^1].IsTerminal)
        {
            Assert.Fail($"{who}: the last entry is {entries[^1]}, not the terminal item #{terminalSequence}.");
        }

        return expected - 1;
    }
}

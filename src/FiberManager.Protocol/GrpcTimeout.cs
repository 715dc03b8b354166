using System.Globalization;

namespace FiberManager.Protocol;

/// <summary>
/// The <c>grpc-timeout</c> request header: a positive integer of at most 8 ASCII digits followed
/// by one unit letter, <c>H</c> hours, <c>M</c> minutes, <c>S</c> seconds, <c>m</c> milliseconds,
/// <c>u</c> microseconds or <c>n</c> nanoseconds (for example <c>5S</c>, <c>450m</c>, <c>18100S</c>).
/// </summary>
/// <remarks>
/// <para>
/// Parsing is strict about the shape (no sign, no spaces, 1–8 digits, a known unit letter) and
/// returns <see langword="false"/> otherwise: the spec gives such a header no meaning, so the
/// caller treats the call as having no timeout. A value of 0 is accepted and means the deadline
/// has already passed. Nanoseconds round up to the next 100 ns tick, so a timeout is never read
/// shorter than sent. Every 8-digit value of every unit fits a <see cref="TimeSpan"/>.
/// </para>
/// <para>
/// Formatting picks the finest unit whose value fits in 8 digits, rounding up (a peer never sees
/// a shorter timeout than the one meant), then the coarsest unit that still says exactly the same
/// thing, so 5 seconds is <c>5S</c> rather than <c>5000000u</c>. Timeouts beyond 99,999,999 hours
/// (about 11,400 years, <see cref="TimeSpan.MaxValue"/> included) are sent as <c>99999999H</c>.
/// </para>
/// </remarks>
public static class GrpcTimeout
{
    /// <summary>The largest value the header can carry in any unit.</summary>
    public const long MaxValue = 99_999_999;

    private const int MaxDigits = 8;

    // Units from finest to coarsest, with their length in ticks (nanoseconds are handled apart:
    // a tick is 100 ns).
    private static readonly (char Unit, long Ticks)[] s_units =
    [
        ('u', 10),
        ('m', TimeSpan.TicksPerMillisecond),
        ('S', TimeSpan.TicksPerSecond),
        ('M', TimeSpan.TicksPerMinute),
        ('H', TimeSpan.TicksPerHour),
    ];

    /// <summary>Parses a <c>grpc-timeout</c> header value.</summary>
    /// <param name="value">The header value; <see langword="null"/> when absent.</param>
    /// <param name="timeout">The timeout; <see cref="TimeSpan.Zero"/> when this returns false.</param>
    /// <returns><see langword="false"/> when the value is absent or malformed.</returns>
    /// <example><code>GrpcTimeout.TryParse("450m", out var t) // true, t = 450 ms</code></example>
    public static bool TryParse(string? value, out TimeSpan timeout) => TryParse(value.AsSpan(), out timeout);

    /// <inheritdoc cref="TryParse(string?, out TimeSpan)"/>
    public static bool TryParse(ReadOnlySpan<char> value, out TimeSpan timeout)
    {
        timeout = TimeSpan.Zero;
        if (value.Length < 2 || value.Length > MaxDigits + 1)
        {
            return false;
        }

        long number = 0;
        foreach (char c in value[..^1])
        {
            if (c is < '0' or > '9')
            {
                return false;
            }

            number = (number * 10) + (c - '0');
        }

        long ticks;
        switch (value[^1])
        {
            case 'n':
                ticks = (number + 99) / 100;
                break;
            case 'u':
                ticks = number * 10;
                break;
            case 'm':
                ticks = number * TimeSpan.TicksPerMillisecond;
                break;
            case 'S':
                ticks = number * TimeSpan.TicksPerSecond;
                break;
            case 'M':
                ticks = number * TimeSpan.TicksPerMinute;
                break;
            case 'H':
                ticks = number * TimeSpan.TicksPerHour;
                break;
            default:
                return false;
        }

        timeout = TimeSpan.FromTicks(ticks);
        return true;
    }

    /// <summary>Formats a timeout as a <c>grpc-timeout</c> header value.</summary>
    /// <param name="timeout">
    /// The time left until the deadline; must be positive. A deadline that has already passed is
    /// not sent: the caller fails the call locally with <see cref="GrpcStatusCode.DeadlineExceeded"/>,
    /// and an infinite deadline is expressed by sending no header.
    /// </param>
    /// <returns>For example <c>"5S"</c>, <c>"1500m"</c>, <c>"100n"</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative.</exception>
    /// <example><code>GrpcTimeout.Format(TimeSpan.FromSeconds(90)) // "90S"</code></example>
    public static string Format(TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);

        long ticks = timeout.Ticks;

        // The finest unit whose rounded-up value fits in 8 digits; -1 stands for nanoseconds,
        // which are always exact when they fit (a tick is 100 ns).
        int finest = -1;
        if (ticks > MaxValue / 100)
        {
            finest = 0;
            while (finest < s_units.Length && CeilingDivide(ticks, s_units[finest].Ticks) > MaxValue)
            {
                finest++;
            }

            if (finest == s_units.Length)
            {
                return Format(MaxValue, 'H');
            }

            if (ticks % s_units[finest].Ticks != 0)
            {
                return Format(CeilingDivide(ticks, s_units[finest].Ticks), s_units[finest].Unit);
            }
        }

        // Exact in the finest unit that fits: the coarsest unit that is still exact reads best
        // (its value is smaller, so it fits too).
        for (int i = s_units.Length - 1; i > finest; i--)
        {
            if (ticks % s_units[i].Ticks == 0)
            {
                return Format(ticks / s_units[i].Ticks, s_units[i].Unit);
            }
        }

        return finest < 0
            ? Format(ticks * 100, 'n')
            : Format(ticks / s_units[finest].Ticks, s_units[finest].Unit);
    }

    private static long CeilingDivide(long dividend, long divisor) => (dividend / divisor) + (dividend % divisor == 0 ? 0 : 1);

    private static string Format(long value, char unit) =>
        string.Create(CultureInfo.InvariantCulture, $"{value}{unit}");
}

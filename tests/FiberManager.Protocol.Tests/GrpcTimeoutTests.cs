namespace FiberManager.Protocol.Tests;

public class GrpcTimeoutTests
{
    [Theory]
    [InlineData("1H", 36_000_000_000L)]
    [InlineData("2M", 1_200_000_000L)]
    [InlineData("5S", 50_000_000L)]
    [InlineData("18100S", 181_000_000_000L)]
    [InlineData("450m", 4_500_000L)]
    [InlineData("4947m", 49_470_000L)]
    [InlineData("7u", 70L)]
    [InlineData("300n", 3L)]
    [InlineData("0S", 0L)]
    [InlineData("00000001S", 10_000_000L)]
    public void TryParse_EveryUnit_Parsed(string value, long expectedTicks)
    {
        Assert.True(GrpcTimeout.TryParse(value, out TimeSpan timeout));
        Assert.Equal(TimeSpan.FromTicks(expectedTicks), timeout);
    }

    [Theory]
    [InlineData("1n", 1L)]
    [InlineData("99n", 1L)]
    [InlineData("100n", 1L)]
    [InlineData("101n", 2L)]
    [InlineData("99999999n", 1_000_000L)]
    public void TryParse_Nanoseconds_RoundUpToTicks(string value, long expectedTicks)
    {
        Assert.True(GrpcTimeout.TryParse(value, out TimeSpan timeout));
        Assert.Equal(expectedTicks, timeout.Ticks);
    }

    [Fact]
    public void TryParse_LargestValueOfLargestUnit_Fits()
    {
        Assert.True(GrpcTimeout.TryParse("99999999H", out TimeSpan timeout));
        Assert.Equal(TimeSpan.FromHours(99_999_999), timeout);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("5")]
    [InlineData("123456789S")]
    [InlineData("5s")]
    [InlineData("5h")]
    [InlineData("5x")]
    [InlineData("-5S")]
    [InlineData("+5S")]
    [InlineData(" 5S")]
    [InlineData("5S ")]
    [InlineData("5 S")]
    [InlineData("5.0S")]
    [InlineData("1e3m")]
    [InlineData("５S")]
    [InlineData("5SS")]
    public void TryParse_Malformed_False(string? value)
    {
        Assert.False(GrpcTimeout.TryParse(value, out TimeSpan timeout));
        Assert.Equal(TimeSpan.Zero, timeout);
    }

    [Theory]
    [InlineData(1L, "100n")]
    [InlineData(15L, "1500n")]
    [InlineData(999_999L, "99999900n")]
    [InlineData(10L, "1u")]
    [InlineData(10_000L, "1m")]
    [InlineData(15_000_000L, "1500m")]
    [InlineData(50_000_000L, "5S")]
    [InlineData(900_000_000L, "90S")]
    [InlineData(600_000_000L, "1M")]
    [InlineData(36_000_000_000L, "1H")]
    [InlineData(25 * 36_000_000_000L, "25H")]
    [InlineData(3 * 24 * 36_000_000_000L, "72H")]
    public void Format_ExactValues_UseTheCoarsestExactUnit(long ticks, string expected)
    {
        Assert.Equal(expected, GrpcTimeout.Format(TimeSpan.FromTicks(ticks)));
    }

    [Theory]
    [InlineData(10_000_001L, "1000001u")] // 1 s + 100 ns: n needs 10 digits; u fits, rounded up
    [InlineData(1_000_000_000_001L, "100001S")] // 100,000 s + 100 ns: u and m need 12 and 9 digits
    [InlineData(36_000_000_001L, "3600001m")] // 1 h + 100 ns
    public void Format_InexactValues_RoundUpInTheFinestUnitThatFits(long ticks, string expected)
    {
        Assert.Equal(expected, GrpcTimeout.Format(TimeSpan.FromTicks(ticks)));
    }

    [Fact]
    public void Format_HundredMillionSeconds_RoundsUpToMinutes()
    {
        // 100,000,000 s does not fit S (9 digits); 1,666,666.67 minutes rounds up.
        Assert.Equal("1666667M", GrpcTimeout.Format(TimeSpan.FromSeconds(100_000_000)));
    }

    [Fact]
    public void Format_BeyondLargestValue_ClampsTo99999999H()
    {
        Assert.Equal("99999999H", GrpcTimeout.Format(TimeSpan.FromHours(99_999_999)));
        Assert.Equal("99999999H", GrpcTimeout.Format(TimeSpan.FromHours(99_999_999) + TimeSpan.FromTicks(1)));
        Assert.Equal("99999999H", GrpcTimeout.Format(TimeSpan.MaxValue));
    }

    [Fact]
    public void Format_ZeroOrNegative_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GrpcTimeout.Format(TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => GrpcTimeout.Format(TimeSpan.FromTicks(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => GrpcTimeout.Format(Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void FormatThenParse_NeverShorterAndWithinOneUnit()
    {
        long[] samples =
        [
            1, 7, 10, 99, 12_345, 999_999, 1_000_000, 1_000_001, 10_000_001, 123_456_789,
            987_654_321_012, 36_000_000_001, 5_999_999_999_999, 1_000_000_000_000_000, TimeSpan.MaxValue.Ticks / 100,
        ];
        foreach (long ticks in samples)
        {
            var timeout = TimeSpan.FromTicks(ticks);
            string text = GrpcTimeout.Format(timeout);

            Assert.InRange(text.Length, 2, 9);
            Assert.True(GrpcTimeout.TryParse(text, out TimeSpan parsed), text);
            Assert.True(parsed >= timeout, $"{text} reads shorter than {timeout}");
            TimeSpan unit = text[^1] switch
            {
                'n' => TimeSpan.FromTicks(1),
                'u' => TimeSpan.FromTicks(10),
                'm' => TimeSpan.FromMilliseconds(1),
                'S' => TimeSpan.FromSeconds(1),
                'M' => TimeSpan.FromMinutes(1),
                _ => TimeSpan.FromHours(1),
            };
            Assert.True(parsed - timeout < unit, $"{text} overshoots {timeout} by a unit or more");
        }
    }
}

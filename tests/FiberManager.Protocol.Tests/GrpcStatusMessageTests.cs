using System.Text;

namespace FiberManager.Protocol.Tests;

public class GrpcStatusMessageTests
{
    [Fact]
    public void Encode_PrintableAscii_ReturnsSameInstance()
    {
        string message = "No fiber 'chat-42' (see ListFibers) ~!@#$^&*()_+{}|:\"<>?";
        Assert.Same(message, GrpcStatusMessage.Encode(message));
    }

    [Theory]
    [InlineData("%", "%25")]
    [InlineData("50% done", "50%25 done")]
    [InlineData("%25", "%2525")]
    [InlineData("café", "caf%C3%A9")]
    [InlineData("日本", "%E6%97%A5%E6%9C%AC")]
    [InlineData("😀", "%F0%9F%98%80")]
    [InlineData("line1\nline2\ttab", "line1%0Aline2%09tab")]
    [InlineData("\u007F\u0000", "%7F%00")]
    [InlineData("", "")]
    public void Encode_OutsidePrintableAsciiOrPercent_PercentEncodesUtf8(string message, string expected)
    {
        Assert.Equal(expected, GrpcStatusMessage.Encode(message));
    }

    [Fact]
    public void Encode_Output_IsAlwaysPrintableAsciiAndRoundTrips()
    {
        var text = new StringBuilder();
        for (int c = 0; c < 0x800; c++)
        {
            if (!char.IsSurrogate((char)c))
            {
                text.Append((char)c);
            }
        }

        text.Append("😀𝄞 end %");
        string message = text.ToString();

        string encoded = GrpcStatusMessage.Encode(message);

        Assert.All(encoded, c => Assert.InRange(c, (char)0x20, (char)0x7E));
        Assert.Equal(message, GrpcStatusMessage.Decode(encoded));
    }

    [Fact]
    public void Decode_NoPercent_ReturnsSameInstance()
    {
        string value = "plain message";
        Assert.Same(value, GrpcStatusMessage.Decode(value));
    }

    [Theory]
    [InlineData("caf%C3%A9", "café")]
    [InlineData("caf%c3%a9", "café")]
    [InlineData("100%25", "100%")]
    [InlineData("%F0%9F%98%80", "😀")]
    [InlineData("a%20b", "a b")]
    public void Decode_ValidEscapes_Decoded(string value, string expected)
    {
        Assert.Equal(expected, GrpcStatusMessage.Decode(value));
    }

    [Theory]
    [InlineData("%", "%")]
    [InlineData("100%", "100%")]
    [InlineData("%4", "%4")]
    [InlineData("abc%4", "abc%4")]
    [InlineData("%Z1 ok", "%Z1 ok")]
    [InlineData("%%41", "%A")]
    [InlineData("%C3", "\uFFFD")]
    [InlineData("x%FFy", "x\uFFFDy")]
    [InlineData("é%20ü", "é ü")]
    public void Decode_InvalidOrUnexpected_IsLenient(string value, string expected)
    {
        Assert.Equal(expected, GrpcStatusMessage.Decode(value));
    }

    [Fact]
    public void EncodeDecode_NullArgument_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => GrpcStatusMessage.Encode(null!));
        Assert.Throws<ArgumentNullException>(() => GrpcStatusMessage.Decode(null!));
    }
}

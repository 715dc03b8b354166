using System.Text;

namespace FiberManager.Protocol;

/// <summary>
/// Percent-encoding of the <c>grpc-message</c> trailer, as the gRPC over HTTP/2 spec defines it.
/// </summary>
/// <remarks>
/// <para>
/// Encoding: the message is taken as UTF-8; every byte from 0x20 to 0x7E except <c>'%'</c> is sent
/// as is, every other byte (control characters, <c>'%'</c>, each byte of a non-ASCII character) as
/// <c>%XX</c> with upper-case hex digits. The result is printable ASCII, which Kestrel and every
/// HTTP/2 stack accept as a header value.
/// </para>
/// <para>
/// Decoding is lenient, as the spec requires (a receiver must not fail or drop the message):
/// a <c>'%'</c> not followed by two hex digits is kept literally, and byte sequences that are not
/// valid UTF-8 become U+FFFD.
/// </para>
/// </remarks>
public static class GrpcStatusMessage
{
    private static readonly UTF8Encoding s_lenientUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>Percent-encodes a status message for the <c>grpc-message</c> trailer.</summary>
    /// <param name="message">The message, any Unicode text.</param>
    /// <returns>The header value; the same instance when nothing needs encoding.</returns>
    /// <example><code>GrpcStatusMessage.Encode("50% done: café") // "50%25 done: caf%C3%A9"</code></example>
    public static string Encode(string message)
    {
        ArgumentNullException.ThrowIfNull(message);

        int firstToEncode = IndexOfCharToEncode(message);
        if (firstToEncode < 0)
        {
            return message;
        }

        byte[] utf8 = s_lenientUtf8.GetBytes(message);
        var builder = new StringBuilder(utf8.Length + 16);
        foreach (byte b in utf8)
        {
            if (IsUnreserved(b))
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(ToHexDigit(b >> 4)).Append(ToHexDigit(b & 0xF));
            }
        }

        return builder.ToString();
    }

    /// <summary>Decodes a percent-encoded <c>grpc-message</c> value, leniently.</summary>
    /// <param name="value">The header value.</param>
    /// <returns>The message; the same instance when it contains no <c>'%'</c>.</returns>
    /// <example><code>GrpcStatusMessage.Decode("caf%C3%A9 100%") // "café 100%"</code></example>
    public static string Decode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);

        if (!value.Contains('%', StringComparison.Ordinal))
        {
            return value;
        }

        var bytes = new List<byte>(value.Length);
        Span<byte> charBytes = stackalloc byte[4];
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (c == '%'
                && i + 2 < value.Length
                && TryFromHexDigit(value[i + 1], out int high)
                && TryFromHexDigit(value[i + 2], out int low))
            {
                bytes.Add((byte)((high << 4) | low));
                i += 2;
            }
            else if (c < 0x80)
            {
                bytes.Add((byte)c);
            }
            else
            {
                // Not expected in a header value, but keep it rather than lose it.
                Rune rune = Rune.TryGetRuneAt(value, i, out Rune decoded) ? decoded : Rune.ReplacementChar;
                int length = rune.EncodeToUtf8(charBytes);
                for (int k = 0; k < length; k++)
                {
                    bytes.Add(charBytes[k]);
                }

                i += rune.Utf16SequenceLength - 1;
            }
        }

        return s_lenientUtf8.GetString(bytes.ToArray());
    }

    private static int IndexOfCharToEncode(string message)
    {
        for (int i = 0; i < message.Length; i++)
        {
            char c = message[i];
            if (c > 0x7E || !IsUnreserved((byte)c))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsUnreserved(byte b) => b is >= 0x20 and <= 0x7E and not (byte)'%';

    private static char ToHexDigit(int value) => (char)(value < 10 ? '0' + value : 'A' + value - 10);

    private static bool TryFromHexDigit(char c, out int value)
    {
        value = c switch
        {
            >= '0' and <= '9' => c - '0',
            >= 'A' and <= 'F' => c - 'A' + 10,
            >= 'a' and <= 'f' => c - 'a' + 10,
            _ => -1,
        };
        return value >= 0;
    }
}

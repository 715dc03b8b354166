using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;

namespace FiberManager.Protocol;

/// <summary>
/// The <c>grpc-status-details-bin</c> trailer: a <c>google.rpc.Status</c> (code, message and
/// details such as an <see cref="ErrorInfo"/> packed in <see cref="Any"/>), protobuf-encoded, then
/// base64-encoded as every <c>-bin</c> header is.
/// </summary>
/// <remarks>
/// Written as unpadded base64, as the gRPC spec asks senders to; read padded or unpadded. The
/// <c>code</c> and <c>message</c> inside repeat <c>grpc-status</c> and <c>grpc-message</c>; a
/// receiver trusts the <c>grpc-status</c> header for the code.
/// </remarks>
public static class GrpcStatusDetails
{
    /// <summary>Builds the header value for a status and its optional error reason.</summary>
    /// <param name="statusCode">The status code.</param>
    /// <param name="message">The status message (not percent-encoded: it travels as protobuf here).</param>
    /// <param name="errorInfo">The reason to pack as a detail, or <see langword="null"/>.</param>
    /// <returns>The unpadded base64 header value.</returns>
    /// <example><code>headers[GrpcHeaders.StatusDetailsBin] = GrpcStatusDetails.Encode(e.StatusCode, e.Detail, e.ErrorInfo);</code></example>
    public static string Encode(GrpcStatusCode statusCode, string message, ErrorInfo? errorInfo)
    {
        ArgumentNullException.ThrowIfNull(message);
        var status = new Google.Rpc.Status { Code = (int)statusCode, Message = message };
        if (errorInfo is not null)
        {
            status.Details.Add(Any.Pack(errorInfo));
        }

        return Encode(status);
    }

    /// <summary>Builds the header value for a <c>google.rpc.Status</c>.</summary>
    /// <param name="status">The status.</param>
    /// <returns>The unpadded base64 header value.</returns>
    public static string Encode(Google.Rpc.Status status)
    {
        ArgumentNullException.ThrowIfNull(status);
        byte[] bytes = status.ToByteArray();
        return Convert.ToBase64String(bytes).TrimEnd('=');
    }

    /// <summary>Reads a <c>grpc-status-details-bin</c> header value, padded or unpadded base64.</summary>
    /// <param name="value">The header value; <see langword="null"/> when absent.</param>
    /// <param name="status">The decoded status, or <see langword="null"/> when this returns false.</param>
    /// <returns><see langword="false"/> when the value is absent, empty, not base64, or not a <c>google.rpc.Status</c>.</returns>
    public static bool TryDecode(string? value, [NotNullWhen(true)] out Google.Rpc.Status? status)
    {
        status = null;
        string? trimmed = value?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            return false;
        }

        int padding = (4 - (trimmed.Length % 4)) % 4;
        if (padding == 3)
        {
            return false; // no base64 string has a length of 4k + 1
        }

        string padded = padding == 0 ? trimmed : trimmed + new string('=', padding);
        byte[] bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(padded.Length)];
        if (!Convert.TryFromBase64String(padded, bytes, out int length))
        {
            return false;
        }

        try
        {
            status = Google.Rpc.Status.Parser.ParseFrom(bytes, 0, length);
            return true;
        }
        catch (InvalidProtocolBufferException)
        {
            return false;
        }
    }

    /// <summary>Finds the first <see cref="ErrorInfo"/> among a status's details.</summary>
    /// <param name="status">The status.</param>
    /// <returns>The error reason, or <see langword="null"/> when there is none (or it is malformed).</returns>
    public static ErrorInfo? FindErrorInfo(Google.Rpc.Status status)
    {
        ArgumentNullException.ThrowIfNull(status);
        foreach (Any detail in status.Details)
        {
            if (detail.Is(ErrorInfo.Descriptor))
            {
                try
                {
                    return detail.Unpack<ErrorInfo>();
                }
                catch (InvalidProtocolBufferException)
                {
                    return null;
                }
            }
        }

        return null;
    }
}

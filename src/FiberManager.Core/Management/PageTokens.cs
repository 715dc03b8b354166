using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace FiberManager.Core.Management;

/// <summary>
/// List's page tokens: the last fiber id of a page, bound to the query's filters and signed by
/// the manager that issued it.
/// </summary>
/// <remarks>
/// A token is base64url of <c>version (1) | filter fingerprint (8) | last id (UTF-8) | MAC (16)</c>:
/// the fingerprint is SHA-256 of the canonical filters (statuses, workflow, labels; not the page
/// size, which may change from page to page), and the MAC is HMAC-SHA-256 under a key drawn when
/// the manager is created. So a token that is garbled, altered, made up, or issued by another
/// manager (another replica, or before a restart) is refused, and so is a token reused with
/// other filters, each with its own message.
/// </remarks>
internal sealed class PageTokens
{
    private const byte Version = 1;
    private const int FingerprintSize = 8;
    private const int MacSize = 16;

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    /// <summary>The token for the page after <paramref name="lastId"/> of <paramref name="query"/>.</summary>
    public string Encode(string lastId, FiberQuery query)
    {
        var idLength = Encoding.UTF8.GetByteCount(lastId);
        var bytes = new byte[1 + FingerprintSize + idLength + MacSize];
        bytes[0] = Version;
        Fingerprint(query, bytes.AsSpan(1, FingerprintSize));
        Encoding.UTF8.GetBytes(lastId, bytes.AsSpan(1 + FingerprintSize, idLength));
        Sign(bytes.AsSpan(0, bytes.Length - MacSize), bytes.AsSpan(bytes.Length - MacSize));
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>The last fiber id of the previous page, or null for the first page.</summary>
    /// <exception cref="FiberSupervisorException">InvalidArgument (field <c>page_token</c>): garbled, not issued by this manager, or issued for other filters.</exception>
    public string? Decode(string? token, FiberQuery query)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(token);
        }
        catch (FormatException)
        {
            throw Invalid("The page token is not one this server issued (it is not a page token).");
        }

        if (bytes.Length <= 1 + FingerprintSize + MacSize || bytes[0] != Version)
        {
            throw Invalid("The page token is not one this server issued (it is not a page token).");
        }

        Span<byte> mac = stackalloc byte[MacSize];
        Sign(bytes.AsSpan(0, bytes.Length - MacSize), mac);
        if (!CryptographicOperations.FixedTimeEquals(mac, bytes.AsSpan(bytes.Length - MacSize)))
        {
            throw Invalid("The page token was not issued by this server, or was altered (tokens do not outlive the server that issued them); list again without a page token.");
        }

        Span<byte> fingerprint = stackalloc byte[FingerprintSize];
        Fingerprint(query, fingerprint);
        if (!fingerprint.SequenceEqual(bytes.AsSpan(1, FingerprintSize)))
        {
            throw Invalid("The page token was issued for other filters: repeat the statuses, workflow and labels of the first page, or list again without a page token.");
        }

        var lastId = Encoding.UTF8.GetString(bytes.AsSpan(1 + FingerprintSize, bytes.Length - 1 - FingerprintSize - MacSize));
        if (!FiberId.IsValid(lastId))
        {
            throw Invalid("The page token is not one this server issued (it is not a page token).");
        }

        return lastId;
    }

    private static FiberSupervisorException Invalid(string message) => FiberSupervisorException.InvalidArgument(message, "page_token");

    private void Sign(ReadOnlySpan<byte> data, Span<byte> mac)
    {
        Span<byte> full = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, data, full);
        full[..MacSize].CopyTo(mac);
    }

    /// <summary>SHA-256 (first 8 bytes) of the filters in a canonical form: sets sorted, absent and empty alike, every string length-prefixed.</summary>
    private static void Fingerprint(FiberQuery query, Span<byte> destination)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> number = stackalloc byte[4];
        var statuses = query.Statuses is { Count: > 0 } s ? s.Distinct().Order().ToArray() : [];
        BinaryPrimitives.WriteInt32LittleEndian(number, statuses.Length);
        hash.AppendData(number);
        foreach (var status in statuses)
        {
            BinaryPrimitives.WriteInt32LittleEndian(number, (int)status);
            hash.AppendData(number);
        }

        AppendString(hash, query.Workflow ?? string.Empty, number);
        var labels = query.Labels is { Count: > 0 } l ? l.OrderBy(p => p.Key, StringComparer.Ordinal).ToArray() : [];
        BinaryPrimitives.WriteInt32LittleEndian(number, labels.Length);
        hash.AppendData(number);
        foreach (var (key, value) in labels)
        {
            AppendString(hash, key, number);
            AppendString(hash, value, number);
        }

        Span<byte> digest = stackalloc byte[32];
        hash.GetHashAndReset(digest);
        digest[..destination.Length].CopyTo(destination);
    }

    private static void AppendString(IncrementalHash hash, string value, Span<byte> number)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        BinaryPrimitives.WriteInt32LittleEndian(number, bytes.Length);
        hash.AppendData(number);
        hash.AppendData(bytes);
    }
}

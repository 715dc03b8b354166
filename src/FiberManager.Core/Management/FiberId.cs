namespace FiberManager.Core.Management;

/// <summary>Validates fiber ids: 1–128 characters of <c>A–Z a–z 0–9 . _ : -</c>.</summary>
public static class FiberId
{
    /// <summary>The longest id.</summary>
    public const int MaxLength = 128;

    /// <summary>True when <paramref name="id"/> is a valid fiber id.</summary>
    /// <example><code>FiberId.IsValid("chat:42") // true; FiberId.IsValid("a b") // false</code></example>
    public static bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws <see cref="FiberSupervisorException"/> with <see cref="FiberErrorCode.InvalidFiberId"/> for an invalid id.</summary>
    public static void Validate(string? id)
    {
        if (!IsValid(id))
        {
            throw new FiberSupervisorException(
                FiberErrorCode.InvalidFiberId,
                $"Invalid fiber id: it must be 1-{MaxLength} characters of A-Z a-z 0-9 . _ : - (got {Describe(id)}).",
                null);
        }
    }

    private static string Describe(string? id) => id switch
    {
        null => "null",
        "" => "an empty string",
        _ when id.Length > MaxLength => $"{id.Length} characters",
        _ => "a disallowed character",
    };
}

namespace FiberManager.Protocol;

/// <summary>
/// The 17 gRPC status codes, with the numbers the <c>grpc-status</c> trailer carries.
/// </summary>
/// <remarks>
/// Named <c>GrpcStatusCode</c> (not <c>StatusCode</c>) so that it never collides with
/// <c>Microsoft.AspNetCore.Http.StatusCodes</c> or <c>System.Net.HttpStatusCode</c> in the
/// service and client.
/// </remarks>
public enum GrpcStatusCode
{
    /// <summary>Not an error; returned on success.</summary>
    Ok = 0,

    /// <summary>The operation was cancelled, typically by the caller.</summary>
    Cancelled = 1,

    /// <summary>Unknown error, for example an exception the server did not map.</summary>
    Unknown = 2,

    /// <summary>The client specified an invalid argument, whatever the state of the system.</summary>
    InvalidArgument = 3,

    /// <summary>The deadline expired before the operation could complete.</summary>
    DeadlineExceeded = 4,

    /// <summary>Some requested entity was not found.</summary>
    NotFound = 5,

    /// <summary>The entity a client attempted to create already exists.</summary>
    AlreadyExists = 6,

    /// <summary>The caller does not have permission to execute the operation.</summary>
    PermissionDenied = 7,

    /// <summary>Some resource has been exhausted: a limit, a quota, a queue, a message size.</summary>
    ResourceExhausted = 8,

    /// <summary>The system is not in a state required for the operation.</summary>
    FailedPrecondition = 9,

    /// <summary>The operation was aborted, typically by a concurrency conflict.</summary>
    Aborted = 10,

    /// <summary>The operation was attempted past the valid range.</summary>
    OutOfRange = 11,

    /// <summary>The operation is not implemented or supported (also: message cardinality violations).</summary>
    Unimplemented = 12,

    /// <summary>An invariant expected by the underlying system was broken (also: malformed frames).</summary>
    Internal = 13,

    /// <summary>The service is currently unavailable; retrying with backoff may help.</summary>
    Unavailable = 14,

    /// <summary>Unrecoverable data loss or corruption.</summary>
    DataLoss = 15,

    /// <summary>The request does not have valid authentication credentials.</summary>
    Unauthenticated = 16,
}

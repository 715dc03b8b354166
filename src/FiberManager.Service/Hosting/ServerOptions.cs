namespace FiberManager.Service.Hosting;

/// <summary>Whether the server asks TLS clients for a certificate (mutual TLS).</summary>
public enum ClientCertificateMode
{
    /// <summary>No client certificate is requested (default).</summary>
    None = 0,

    /// <summary>
    /// A client certificate is requested but optional: a call without one is served, a call with
    /// one that does not chain to <see cref="ServerOptions.ClientCertificateAuthorityPath"/> gets
    /// UNAUTHENTICATED.
    /// </summary>
    Allow,

    /// <summary>
    /// Every FiberManager call needs a client certificate that chains to
    /// <see cref="ServerOptions.ClientCertificateAuthorityPath"/>; otherwise UNAUTHENTICATED.
    /// </summary>
    Require,
}

/// <summary>
/// The network side of the service, bound from <c>FiberManager:Server</c>
/// (environment: <c>FiberManager__Server__MaxMessageSize</c> and so on). Where the service
/// listens is ASP.NET Core's own setting (<c>--urls</c>, <c>ASPNETCORE_URLS</c>,
/// <c>ASPNETCORE_HTTP_PORTS</c>, <c>Kestrel:Endpoints</c>); with none of them,
/// <see cref="DefaultAddress"/>.
/// </summary>
public sealed class ServerOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "FiberManager:Server";

    /// <summary>The port the service listens on when no listen address is configured, and the container's.</summary>
    public const int DefaultPort = 50051;

    /// <summary>Where the service listens when no listen address is configured: cleartext HTTP/2 on the loopback interface.</summary>
    public const string DefaultAddress = "http://127.0.0.1:50051";

    /// <summary>The largest request or response message in bytes (default 4 MiB); larger ones get RESOURCE_EXHAUSTED.</summary>
    public int MaxMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// The room a <c>FiberEvent</c> needs around an output payload, in bytes: the sequence (11),
    /// the time (19) and the output field's tag and length (6) take 36 at most; rounded up.
    /// </summary>
    public const int EventEnvelopeSize = 64;

    /// <summary>
    /// The largest Submit input in bytes (its serialized <c>Payload</c>); a larger one gets
    /// INVALID_ARGUMENT with reason INPUT_TOO_LARGE. Unset (the default): <see cref="MaxMessageSize"/>
    /// minus <see cref="EventEnvelopeSize"/>, so that an input published unchanged (the echo
    /// workflow) still fits in a FiberEvent; it may not be larger than that.
    /// </summary>
    public int? MaxInputSize { get; set; }

    /// <summary>The input limit in force: <see cref="MaxInputSize"/>, or its default.</summary>
    public int EffectiveMaxInputSize => MaxInputSize ?? MaxMessageSize - EventEnvelopeSize;

    /// <summary>Concurrent HTTP/2 streams per connection (default 10,000; Kestrel's own default of 100 would queue the 101st Subscribe silently).</summary>
    public int MaxStreamsPerConnection { get; set; } = 10_000;

    /// <summary>How long the host waits on shutdown (default 30 s). It should exceed the fiber grace period.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A PEM or PFX certificate for the TLS endpoints (<c>https://</c> listen addresses): Kestrel's
    /// default certificate. Empty: no default certificate (an https address then needs one of its own in <c>Kestrel:Endpoints</c>).
    /// </summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key file, or the PFX password.</summary>
    public string? CertificateKeyPathOrPassword { get; set; }

    /// <summary>Mutual TLS: <c>None</c> (default), <c>Allow</c> or <c>Require</c> a client certificate. Needs TLS (<see cref="CertificatePath"/>) and <see cref="ClientCertificateAuthorityPath"/>.</summary>
    public ClientCertificateMode ClientCertificateMode { get; set; }

    /// <summary>
    /// A PEM file with the certificate authorities client certificates must chain to: the root(s),
    /// optionally followed by intermediates. Only these are trusted, never the machine's store.
    /// </summary>
    public string? ClientCertificateAuthorityPath { get; set; }

    /// <summary>Put exception messages of unexpected errors in <c>grpc-message</c> (default off: "Internal error").</summary>
    public bool DetailedErrors { get; set; }

    /// <summary>Loads <see cref="CertificatePath"/> with its key.</summary>
    /// <exception cref="InvalidOperationException">The file is not a usable certificate (the message names the option).</exception>
    internal System.Security.Cryptography.X509Certificates.X509Certificate2 LoadCertificate()
    {
        try
        {
            return CertificateLoader.Load(CertificatePath!, CertificateKeyPathOrPassword);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException($"{Section}:CertificatePath '{CertificatePath}' is not a usable certificate with its key ({Section}:CertificateKeyPathOrPassword): {e.Message.ReplaceLineEndings(" ").Trim()}", e);
        }
    }

    /// <summary>Every problem with the options (empty when valid).</summary>
    public IReadOnlyList<string> GetErrors()
    {
        var errors = new List<string>();
        if (MaxMessageSize < 1024 || MaxMessageSize > 64 * 1024 * 1024)
        {
            errors.Add($"{Section}:MaxMessageSize must be between 1 KiB and 64 MiB (got {MaxMessageSize}).");
        }

        if (MaxInputSize is { } maxInput && (maxInput < 1 || maxInput > MaxMessageSize - EventEnvelopeSize))
        {
            errors.Add($"{Section}:MaxInputSize must be between 1 and MaxMessageSize - {EventEnvelopeSize} = {MaxMessageSize - EventEnvelopeSize}, so that an input published unchanged fits in a FiberEvent (got {maxInput}).");
        }

        if (MaxStreamsPerConnection < 1)
        {
            errors.Add($"{Section}:MaxStreamsPerConnection must be at least 1 (got {MaxStreamsPerConnection}).");
        }

        if (ShutdownTimeout < TimeSpan.Zero)
        {
            errors.Add($"{Section}:ShutdownTimeout must not be negative (got {ShutdownTimeout}).");
        }

        if (!string.IsNullOrEmpty(CertificatePath))
        {
            if (!File.Exists(CertificatePath))
            {
                errors.Add($"{Section}:CertificatePath '{CertificatePath}' does not exist.");
            }
            else
            {
                try
                {
                    LoadCertificate().Dispose();
                }
                catch (InvalidOperationException e)
                {
                    errors.Add(e.Message);
                }
            }
        }

        errors.AddRange(GetClientCertificateErrors());

        return errors;
    }

    private List<string> GetClientCertificateErrors()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(ClientCertificateMode))
        {
            errors.Add($"{Section}:ClientCertificateMode must be None, Allow or Require (got {ClientCertificateMode}).");
            return errors;
        }

        var hasAuthority = !string.IsNullOrEmpty(ClientCertificateAuthorityPath);
        if (ClientCertificateMode == ClientCertificateMode.None)
        {
            if (hasAuthority)
            {
                errors.Add($"{Section}:ClientCertificateAuthorityPath is set but {Section}:ClientCertificateMode is None: set the mode to Allow or Require, or remove the path.");
            }

            return errors;
        }

        if (string.IsNullOrEmpty(CertificatePath))
        {
            errors.Add($"{Section}:ClientCertificateMode {ClientCertificateMode} needs TLS: a server certificate in {Section}:CertificatePath and an https listen address.");
        }

        if (!hasAuthority)
        {
            errors.Add($"{Section}:ClientCertificateMode {ClientCertificateMode} needs {Section}:ClientCertificateAuthorityPath (a PEM file with the CA that signs client certificates).");
        }
        else if (!File.Exists(ClientCertificateAuthorityPath))
        {
            errors.Add($"{Section}:ClientCertificateAuthorityPath '{ClientCertificateAuthorityPath}' does not exist.");
        }
        else
        {
            try
            {
                if (ClientCertificateAuthorities.Load(ClientCertificateAuthorityPath!).Roots.Count == 0)
                {
                    errors.Add($"{Section}:ClientCertificateAuthorityPath '{ClientCertificateAuthorityPath}' holds no self-signed root CA certificate.");
                }
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"{Section}:ClientCertificateAuthorityPath '{ClientCertificateAuthorityPath}' is not a readable PEM certificate file: {e.Message}");
            }
        }

        return errors;
    }
}

using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// Usage: dotnet RawKestrelEcho.dll --port N
// Every request: read the whole (framed) body, write it back as the response body with
// content-type application/grpc and the trailer grpc-status: 0. Same Kestrel settings as the
// FiberManager service (h2c only, no server header, 10,000 streams per connection).
var port = 50060;
var index = Array.IndexOf(args, "--port");
if (index >= 0 && index + 1 < args.Length)
{
    port = int.Parse(args[index + 1], System.Globalization.CultureInfo.InvariantCulture);
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.Http2.MaxStreamsPerConnection = 10_000;
    kestrel.Limits.MinRequestBodyDataRate = null;
    kestrel.Limits.MinResponseDataRate = null;
    kestrel.Listen(System.Net.IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2);
});

var app = builder.Build();
app.Run(EchoAsync);
await app.RunAsync().ConfigureAwait(false);

static async Task EchoAsync(HttpContext http)
{
    http.Response.ContentType = "application/grpc";
    var reader = http.Request.BodyReader;
    var writer = http.Response.BodyWriter;
    while (true)
    {
        var result = await reader.ReadAsync().ConfigureAwait(false);
        foreach (var segment in result.Buffer)
        {
            writer.Write(segment.Span);
        }

        reader.AdvanceTo(result.Buffer.End);
        if (result.IsCompleted)
        {
            break;
        }
    }

    http.Response.AppendTrailer("grpc-status", "0");
    await writer.FlushAsync().ConfigureAwait(false);
}

using Grpc.Core;
using Grpc.Core.Interceptors;

namespace FiberManager.Client;

/// <summary>
/// Gives every call the client's defaults: its default headers and API key (<c>authorization</c>)
/// unless the call sets a header of the same name itself, and, for unary calls without a deadline,
/// the default deadline.
/// </summary>
/// <remarks>
/// An interceptor rather than <see cref="CallCredentials"/>: call credentials are only sent over
/// TLS (grpc-dotnet drops them on an h2c channel unless an experimental switch is set) and are
/// added next to a call's own <c>authorization</c> header instead of giving way to it. It sits
/// above the channel, so a retried call gets the same headers and the same deadline on every attempt.
/// </remarks>
internal sealed class CallDefaultsInterceptor(ClientSettings settings) : Interceptor
{
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithDefaults(context, unary: true));

    public override TResponse BlockingUnaryCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        BlockingUnaryCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithDefaults(context, unary: true));

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(request, WithDefaults(context, unary: false));

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(WithDefaults(context, unary: false));

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncDuplexStreamingCallContinuation<TRequest, TResponse> continuation) =>
        continuation(WithDefaults(context, unary: false));

    private ClientInterceptorContext<TRequest, TResponse> WithDefaults<TRequest, TResponse>(ClientInterceptorContext<TRequest, TResponse> context, bool unary)
        where TRequest : class
        where TResponse : class
    {
        var options = context.Options;
        if (settings.DefaultHeaders.Count > 0)
        {
            var own = options.Headers;
            var headers = new Metadata();
            if (own is not null)
            {
                foreach (var entry in own)
                {
                    headers.Add(entry);
                }
            }

            foreach (var entry in settings.DefaultHeaders)
            {
                if (own?.Get(entry.Key) is null)
                {
                    headers.Add(entry);
                }
            }

            options = options.WithHeaders(headers);
        }

        if (unary && options.Deadline is null && settings.DefaultUnaryTimeout is { } timeout)
        {
            options = options.WithDeadline(DateTime.UtcNow + timeout);
        }

        return new ClientInterceptorContext<TRequest, TResponse>(context.Method, context.Host, options);
    }
}

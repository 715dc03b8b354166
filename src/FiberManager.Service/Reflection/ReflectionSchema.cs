using System.Reflection;
using Google.Protobuf.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Grpc.Reflection;

namespace FiberManager.Service.Reflection;

/// <summary>
/// What server reflection describes: every gRPC service the host maps (found the way
/// Grpc.AspNetCore.Server.Reflection finds them, from the endpoints), plus the files of the error
/// details clients decode, <c>google.rpc.Status</c> and <c>google.rpc.ErrorInfo</c> (and, through
/// their imports, <c>google.protobuf.Any</c>), which no service mentions. With them an operator's
/// grpcurl or buf curl can print an error's ErrorInfo.
/// </summary>
/// <remarks>
/// The package's <c>AddGrpcReflection()</c> registers its two services (v1alpha
/// <see cref="ReflectionServiceImpl"/> and v1 <see cref="ReflectionV1ServiceImpl"/>) only if none
/// is registered yet; <see cref="Register"/> registers them first, built from this schema. The
/// package answers every request; only the descriptors it knows are extended.
/// </remarks>
internal sealed class ReflectionSchema(EndpointDataSource endpoints)
{
    /// <summary>Files described although no service uses them.</summary>
    public static IReadOnlyList<FileDescriptor> ExtraFiles { get; } =
    [
        Google.Rpc.StatusReflection.Descriptor,
        Google.Rpc.ErrorDetailsReflection.Descriptor,
    ];

    private readonly Lazy<(IReadOnlyList<string> Services, SymbolRegistry Registry)> _schema = new(() => Build(endpoints));

    /// <summary>The full names of the mapped services (what ListServices answers).</summary>
    public IReadOnlyList<string> Services => _schema.Value.Services;

    /// <summary>Their files, the extra files, and all their imports.</summary>
    public SymbolRegistry Registry => _schema.Value.Registry;

    /// <summary>Registers both reflection services, built from this schema, ahead of <c>AddGrpcReflection()</c>.</summary>
    public static void Register(IServiceCollection services)
    {
        services.AddSingleton<ReflectionSchema>();
        services.AddSingleton(provider =>
        {
            var schema = provider.GetRequiredService<ReflectionSchema>();
            return new ReflectionServiceImpl(schema.Services, schema.Registry);
        });
        services.AddSingleton(provider =>
        {
            var schema = provider.GetRequiredService<ReflectionSchema>();
            return new ReflectionV1ServiceImpl(schema.Services, schema.Registry);
        });
        services.AddGrpcReflection();
    }

    private static (IReadOnlyList<string>, SymbolRegistry) Build(EndpointDataSource endpoints)
    {
        var descriptors = endpoints.Endpoints
            .Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.ServiceType)
            .OfType<Type>()
            .Distinct()
            .Select(DescriptorOf)
            .OfType<ServiceDescriptor>()
            .DistinctBy(d => d.FullName)
            .ToList();
        return (
            [.. descriptors.Select(d => d.FullName)],
            SymbolRegistry.FromFiles(descriptors.Select(d => d.File).Concat(ExtraFiles)));
    }

    /// <summary>
    /// The descriptor of a service implementation: its generated base class names, in
    /// <see cref="BindServiceMethodAttribute"/>, the generated static class whose
    /// <c>Descriptor</c> property describes the service.
    /// </summary>
    private static ServiceDescriptor? DescriptorOf(Type implementation)
    {
        for (var type = implementation; type is not null; type = type.BaseType)
        {
            if (type.GetCustomAttribute<BindServiceMethodAttribute>() is { } binding)
            {
                return binding.BindType.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as ServiceDescriptor;
            }
        }

        return null;
    }
}

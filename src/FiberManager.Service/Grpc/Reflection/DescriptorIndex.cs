using System.Collections.Frozen;
using Google.Protobuf.Reflection;
using HealthV1 = global::Grpc.Health.V1;
using ReflectionV1 = global::Grpc.Reflection.V1;
using ReflectionV1Alpha = global::Grpc.Reflection.V1Alpha;

namespace FiberManager.Service.Grpc.Reflection;

/// <summary>
/// The proto files server reflection describes, indexed by file name, by fully-qualified symbol
/// and by extension: the files of every served service, the error details clients decode
/// (<c>google.rpc.Status</c>, <c>google.rpc.ErrorInfo</c>), and all their transitive imports,
/// including the well-known types (<c>google/protobuf/struct.proto</c>, <c>timestamp</c>,
/// <c>duration</c>, <c>any</c>) as Google.Protobuf compiled them.
/// </summary>
internal sealed class DescriptorIndex
{
    private readonly FrozenDictionary<string, FileDescriptor> _files;
    private readonly FrozenDictionary<string, FileDescriptor> _symbols;
    private readonly FrozenSet<string> _messageTypes;
    private readonly FrozenDictionary<(string Extendee, int Number), FileDescriptor> _extensions;

    public DescriptorIndex(IEnumerable<FileDescriptor> roots)
    {
        var files = new Dictionary<string, FileDescriptor>(StringComparer.Ordinal);
        var symbols = new Dictionary<string, FileDescriptor>(StringComparer.Ordinal);
        var messageTypes = new HashSet<string>(StringComparer.Ordinal);
        var extensions = new Dictionary<(string, int), FileDescriptor>();
        var pending = new Queue<FileDescriptor>(roots);
        while (pending.TryDequeue(out var file))
        {
            if (!files.TryAdd(file.Name, file))
            {
                continue;
            }

            IndexFile(file, symbols, messageTypes, extensions);
            foreach (var dependency in file.Dependencies)
            {
                pending.Enqueue(dependency);
            }
        }

        _files = files.ToFrozenDictionary(StringComparer.Ordinal);
        _symbols = symbols.ToFrozenDictionary(StringComparer.Ordinal);
        _messageTypes = messageTypes.ToFrozenSet(StringComparer.Ordinal);
        _extensions = extensions.ToFrozenDictionary();
    }

    /// <summary>
    /// The files FiberManager serves: its contract, health, both reflection versions and the
    /// google.rpc error details (with their imports, reached through <see cref="FileDescriptor.Dependencies"/>).
    /// </summary>
    public static IReadOnlyList<FileDescriptor> ServedFiles { get; } =
    [
        FiberManager.Protocol.V1.FibermanagerReflection.Descriptor,
        HealthV1.HealthReflection.Descriptor,
        ReflectionV1.ReflectionReflection.Descriptor,
        ReflectionV1Alpha.ReflectionReflection.Descriptor,
        Google.Rpc.StatusReflection.Descriptor,
        Google.Rpc.ErrorDetailsReflection.Descriptor,
    ];

    /// <summary>Every indexed file name (for diagnostics and tests).</summary>
    public IEnumerable<string> FileNames => _files.Keys;

    /// <summary>The file with this name (as imported, e.g. <c>google/protobuf/struct.proto</c>).</summary>
    public FileDescriptor? FindFile(string fileName) => _files.GetValueOrDefault(fileName);

    /// <summary>
    /// The file that defines a fully-qualified symbol: a service, method, message (nested too),
    /// field, oneof, enum or enum value (in protobuf's scoping, a sibling of its enum). A leading
    /// dot is accepted.
    /// </summary>
    public FileDescriptor? FindFileContainingSymbol(string symbol) => _symbols.GetValueOrDefault(TrimDot(symbol));

    /// <summary>Whether a fully-qualified name is a known message type (the only types extensions extend).</summary>
    public bool IsMessageType(string typeName) => _messageTypes.Contains(TrimDot(typeName));

    /// <summary>The file that defines the extension of <paramref name="extendee"/> with this number.</summary>
    public FileDescriptor? FindFileContainingExtension(string extendee, int number) =>
        _extensions.GetValueOrDefault((TrimDot(extendee), number));

    /// <summary>Every known extension number of a message type, ascending.</summary>
    public IEnumerable<int> ExtensionNumbersOf(string extendee)
    {
        var name = TrimDot(extendee);
        return _extensions.Keys.Where(k => k.Extendee == name).Select(k => k.Number).Order();
    }

    /// <summary>
    /// A file followed by its transitive imports, each once, breadth first — what grpc's own
    /// reflection services send, so a client can build the file without further requests.
    /// </summary>
    public static IReadOnlyList<FileDescriptor> WithDependencies(FileDescriptor file)
    {
        var result = new List<FileDescriptor>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Queue<FileDescriptor>();
        pending.Enqueue(file);
        while (pending.TryDequeue(out var next))
        {
            if (!seen.Add(next.Name))
            {
                continue;
            }

            result.Add(next);
            foreach (var dependency in next.Dependencies)
            {
                pending.Enqueue(dependency);
            }
        }

        return result;
    }

    private static string TrimDot(string name) => name.StartsWith('.') ? name[1..] : name;

    private static void IndexFile(
        FileDescriptor file,
        Dictionary<string, FileDescriptor> symbols,
        HashSet<string> messageTypes,
        Dictionary<(string, int), FileDescriptor> extensions)
    {
        var scope = file.Package;
        foreach (var message in file.MessageTypes)
        {
            IndexMessage(file, message, symbols, messageTypes, extensions);
        }

        foreach (var enumType in file.EnumTypes)
        {
            IndexEnum(file, scope, enumType, symbols);
        }

        foreach (var service in file.Services)
        {
            symbols.TryAdd(service.FullName, file);
            foreach (var method in service.Methods)
            {
                symbols.TryAdd(method.FullName, file);
            }
        }

        IndexExtensions(file, file.Extensions.UnorderedExtensions, symbols, extensions);
    }

    private static void IndexMessage(
        FileDescriptor file,
        MessageDescriptor message,
        Dictionary<string, FileDescriptor> symbols,
        HashSet<string> messageTypes,
        Dictionary<(string, int), FileDescriptor> extensions)
    {
        symbols.TryAdd(message.FullName, file);
        messageTypes.Add(message.FullName);
        foreach (var field in message.Fields.InDeclarationOrder())
        {
            symbols.TryAdd(field.FullName, file);
        }

        foreach (var oneof in message.Oneofs)
        {
            symbols.TryAdd(oneof.FullName, file);
        }

        foreach (var nested in message.NestedTypes)
        {
            IndexMessage(file, nested, symbols, messageTypes, extensions);
        }

        foreach (var enumType in message.EnumTypes)
        {
            IndexEnum(file, message.FullName, enumType, symbols);
        }

        IndexExtensions(file, message.Extensions.UnorderedExtensions, symbols, extensions);
    }

    private static void IndexEnum(FileDescriptor file, string scope, EnumDescriptor enumType, Dictionary<string, FileDescriptor> symbols)
    {
        symbols.TryAdd(enumType.FullName, file);
        foreach (var value in enumType.Values)
        {
            // Protobuf scopes enum values as siblings of their enum (C++ semantics, which
            // grpc's reflection services follow): fibermanager.v1.FIBER_STATUS_IDLE.
            symbols.TryAdd(scope.Length == 0 ? value.Name : $"{scope}.{value.Name}", file);
        }
    }

    private static void IndexExtensions(
        FileDescriptor file,
        IEnumerable<FieldDescriptor> declared,
        Dictionary<string, FileDescriptor> symbols,
        Dictionary<(string, int), FileDescriptor> extensions)
    {
        foreach (var extension in declared)
        {
            symbols.TryAdd(extension.FullName, file);
            extensions.TryAdd((extension.ExtendeeType.FullName, extension.FieldNumber), file);
        }
    }
}

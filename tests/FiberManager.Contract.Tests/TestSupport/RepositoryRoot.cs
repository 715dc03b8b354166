namespace FiberManager.Contract.Tests.TestSupport;

/// <summary>Finds the repository root: the nearest directory above the test binaries holding FiberManager.sln.</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "FiberManager.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No FiberManager.sln above {AppContext.BaseDirectory}.");
    }
}

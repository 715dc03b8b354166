namespace FiberManager.Core;
internal static class Placeholder { }

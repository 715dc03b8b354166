namespace FiberManager.Protocol;
internal static class Placeholder { }

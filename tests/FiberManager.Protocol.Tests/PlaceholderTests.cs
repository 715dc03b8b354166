namespace FiberManager.Protocol.Tests;
public class PlaceholderTests { [Fact] public void Works() => Assert.True(true); }

namespace FiberManager.Core.Fibers;

/// <summary>
/// A fiber body supplied as an object rather than a delegate, for runtime-internal owners that
/// start one fiber each (a managed fiber): no delegate per fiber.
/// </summary>
internal interface IFiberBody
{
    Task RunAsync(FiberContext context);
}

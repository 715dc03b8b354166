namespace FiberManager.Core.Fibers;

/// <summary>Told once when a fiber has ended.</summary>
internal interface IFiberObserver
{
    void OnFiberDone(Fiber fiber);
}

using System.Runtime.CompilerServices;
using FiberManager.Core.Primitives;

namespace FiberManager.Core.Tests.Primitives;

public sealed class RingBufferTests
{
    [Fact]
    public void NewRing_HasNoArray_AndTheFirstAddAllocatesTheInitialCapacity()
    {
        var ring = new RingBuffer<int>();
        Assert.Equal(0, ring.Count);
        Assert.Equal(0, ring.Capacity);

        ring.AddLast(1, limit: 100);

        Assert.Equal(1, ring.Count);
        Assert.Equal(RingBuffer<int>.InitialCapacity, ring.Capacity);
    }

    [Fact]
    public void FirstAdd_WithALimitBelowTheInitialCapacity_AllocatesOnlyTheLimit()
    {
        var ring = new RingBuffer<int>();
        ring.AddLast(1, limit: 2);
        Assert.Equal(2, ring.Capacity);
    }

    [Fact]
    public void AddLast_GrowsByDoublingUpToTheLimit_KeepingFifoOrder()
    {
        var ring = new RingBuffer<int>();
        var capacities = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            ring.AddLast(i, limit: 20);
            capacities.Add(ring.Capacity);
        }

        Assert.Equal([4, 8, 16, 20], capacities.Distinct());
        Assert.Equal(Enumerable.Range(0, 20), Drain(ref ring));
    }

    [Fact]
    public void Growth_WhileWrappedAround_CopiesBothPartsInOrder()
    {
        var ring = new RingBuffer<int>();
        for (var i = 0; i < 4; i++)
        {
            ring.AddLast(i, limit: 16);
        }

        Assert.Equal(0, ring.RemoveFirst());
        Assert.Equal(1, ring.RemoveFirst());
        ring.AddLast(4, limit: 16); // slots 0 and 1 reused: the ring is wrapped around
        ring.AddLast(5, limit: 16);
        Assert.Equal(4, ring.Capacity);

        ring.AddLast(6, limit: 16); // full and wrapped: grows

        Assert.Equal(8, ring.Capacity);
        Assert.Equal([2, 3, 4, 5, 6], Drain(ref ring));
    }

    [Fact]
    public void WrapAround_IndexerFirstAndLast_FollowTheLogicalOrder()
    {
        var ring = new RingBuffer<int>();
        for (var round = 0; round < 10; round++)
        {
            // Each round leaves one more element behind, so the head walks around the 4-slot array.
            ring.AddLast(round * 10, limit: 4);
            if (ring.Count == 4)
            {
                ring.RemoveFirst();
            }

            var expected = Enumerable.Range(0, ring.Count).Select(i => ring[i]).ToArray();
            Assert.Equal(expected[0], ring.First);
            Assert.Equal(expected[^1], ring.Last);
            Assert.Equal(round * 10, ring.Last);
            Assert.True(expected.SequenceEqual(expected.Order()), $"round {round}: {string.Join(",", expected)}");
        }

        Assert.Equal(4, ring.Capacity); // never grew past the limit
    }

    [Fact]
    public void AddLastEvicting_AtTheLimit_OverwritesTheOldestWithoutGrowing()
    {
        var ring = new RingBuffer<int>();
        for (var i = 0; i < 11; i++)
        {
            ring.AddLastEvicting(i, limit: 3);
        }

        Assert.Equal(3, ring.Count);
        Assert.Equal(3, ring.Capacity);
        Assert.Equal([8, 9, 10], Drain(ref ring));
    }

    [Fact]
    public void RemoveLast_TakesTheNewest_AndAddsContinueAfterTheRemainingOnes()
    {
        var ring = new RingBuffer<int>();
        ring.AddLast(1, limit: 8);
        ring.AddLast(2, limit: 8);
        ring.AddLast(3, limit: 8);

        ring.RemoveLast();
        ring.RemoveLast();
        ring.AddLast(4, limit: 8);

        Assert.Equal([1, 4], Drain(ref ring));
    }

    [Fact]
    public void Release_DropsTheArray_AndTheRingIsUsableAgain()
    {
        var ring = new RingBuffer<string>();
        for (var i = 0; i < 10; i++)
        {
            ring.AddLast(i.ToString(), limit: 64);
        }

        ring.Release();

        Assert.Equal(0, ring.Count);
        Assert.Equal(0, ring.Capacity);
        ring.AddLast("again", limit: 64);
        Assert.Equal("again", ring.RemoveFirst());
    }

    [Fact]
    public void RemoveFirst_ClearsTheSlot_SoTheRingDoesNotKeepTheValueAlive()
    {
        var ring = new RingBuffer<object>();
        ring.AddLast(new object(), limit: 8); // a neighbour that stays
        var removed = AddAndRemoveFirst(ref ring, atFront: true);

        AssertCollected(removed);
        Assert.Equal(1, ring.Count);
        GC.KeepAlive(ring.First);
    }

    [Fact]
    public void RemoveLast_ClearsTheSlot_SoTheRingDoesNotKeepTheValueAlive()
    {
        var ring = new RingBuffer<object>();
        ring.AddLast(new object(), limit: 8);
        var removed = AddAndRemoveFirst(ref ring, atFront: false);

        AssertCollected(removed);
        Assert.Equal(1, ring.Count);
        GC.KeepAlive(ring.First);
    }

    [Fact]
    public void AddLastEvicting_TheEvictedValue_IsNotKeptAlive()
    {
        var ring = new RingBuffer<object>();
        var evicted = AddEvictable(ref ring);
        ring.AddLastEvicting(new object(), limit: 1);

        AssertCollected(evicted);
        Assert.Equal(1, ring.Count);
    }

    [Fact]
    public void RingOfStructsWithReferences_ClearsRemovedSlots()
    {
        var ring = new RingBuffer<(int Number, object Payload)>();
        var removed = AddPairAndRemove(ref ring);

        AssertCollected(removed);
        Assert.Equal(0, ring.Count);
        Assert.Equal(RingBuffer<(int, object)>.InitialCapacity, ring.Capacity); // the array is kept for reuse
    }

    private static List<T> Drain<T>(ref RingBuffer<T> ring)
    {
        var items = new List<T>();
        while (ring.Count > 0)
        {
            items.Add(ring.RemoveFirst());
        }

        return items;
    }

    // Each of these methods creates the value in its own frame, so no local of the test keeps it alive.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference AddAndRemoveFirst(ref RingBuffer<object> ring, bool atFront)
    {
        var value = new object();
        if (atFront)
        {
            var kept = ring.RemoveFirst();
            ring.AddLast(value, limit: 8);
            ring.AddLast(kept, limit: 8);
            Assert.Same(value, ring.RemoveFirst());
        }
        else
        {
            ring.AddLast(value, limit: 8);
            ring.RemoveLast();
        }

        return new WeakReference(value);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference AddEvictable(ref RingBuffer<object> ring)
    {
        var value = new object();
        ring.AddLastEvicting(value, limit: 1);
        return new WeakReference(value);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference AddPairAndRemove(ref RingBuffer<(int Number, object Payload)> ring)
    {
        var value = new object();
        ring.AddLast((1, value), limit: 8);
        Assert.Same(value, ring.RemoveFirst().Payload);
        return new WeakReference(value);
    }

    private static void AssertCollected(WeakReference reference)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(reference.IsAlive, "The ring still references a removed value.");
    }
}

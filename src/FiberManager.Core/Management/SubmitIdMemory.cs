namespace FiberManager.Core.Management;

/// <summary>
/// The last N submit ids of one fiber with the sequence each was accepted under, for answering a
/// retried Submit with its first result instead of enqueueing it again. Not thread-safe: the
/// input's lock guards it.
/// </summary>
internal sealed class SubmitIdMemory(int capacity)
{
    private readonly Dictionary<string, ulong> _sequences = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public bool TryGet(string submitId, out ulong sequence) => _sequences.TryGetValue(submitId, out sequence);

    /// <summary>Remembers <paramref name="submitId"/>; the oldest id is forgotten beyond the capacity.</summary>
    public void Add(string submitId, ulong sequence)
    {
        if (!_sequences.TryAdd(submitId, sequence))
        {
            return;
        }

        _order.Enqueue(submitId);
        if (_order.Count > capacity)
        {
            _sequences.Remove(_order.Dequeue());
        }
    }
}

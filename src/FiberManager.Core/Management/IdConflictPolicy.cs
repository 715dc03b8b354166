namespace FiberManager.Core.Management;

/// <summary>What Start does when the id is already in use by a live (or pending) fiber.</summary>
public enum IdConflictPolicy
{
    /// <summary>Fail with <see cref="FiberErrorCode.AlreadyExists"/> (the default).</summary>
    Fail = 0,

    /// <summary>Return the existing fiber; nothing new is started.</summary>
    UseExisting,

    /// <summary>
    /// Store the new fiber under the id (Pending: it buffers inputs, status and subscribers see it),
    /// then interrupt the existing one (with grace); once that one has ended, admit the new one.
    /// </summary>
    Replace,
}

namespace FiberManager.Core.Management;

/// <summary>A Start whose options passed <see cref="StartOptionsValidation.Validate"/>, with every default applied.</summary>
/// <param name="WorkflowName">The workflow name.</param>
/// <param name="Options">The options as given.</param>
/// <param name="InputCapacity">The input queue's capacity.</param>
/// <param name="Restart">The restart policy.</param>
/// <param name="PermitTimeout">How long admission <see cref="AdmissionMode.Wait"/> waits for a permit.</param>
internal sealed record ValidatedStart(string WorkflowName, StartOptions Options, int InputCapacity, RestartPolicy Restart, TimeSpan PermitTimeout);

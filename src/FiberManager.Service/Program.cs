using FiberManager.Service.Hosting;

return await FiberManagerApp.RunAsync(args);

using FiberManager.Service.Hosting;

FiberManagerApp.Create(args).Run();

# syntax=docker/dockerfile:1
# The FiberManager gRPC service.
#
#   docker build -t fibermanager:0.1.0 .
#   docker run --rm -p 50051:50051 fibermanager:0.1.0
#
# gRPC on cleartext HTTP/2 (h2c) on port 50051. Health: grpc.health.v1.Health/Check on the same
# port (service "" = the server, "fibermanager.v1.FiberManager" = ready for calls); it answers
# NOT_SERVING as soon as shutdown begins. The Helm chart probes it with Kubernetes' native gRPC
# probes. There is no HEALTHCHECK instruction: the image carries no gRPC client to run one.
# Configuration: FiberManager__* environment variables (docs/deploy.md, charts/fibermanager).

# ---- build ------------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore first, so that the package layer is reused while only sources change.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/FiberManager.Core/FiberManager.Core.csproj src/FiberManager.Core/
COPY src/FiberManager.Protocol/FiberManager.Protocol.csproj src/FiberManager.Protocol/
COPY src/FiberManager.Service/FiberManager.Service.csproj src/FiberManager.Service/
RUN dotnet restore src/FiberManager.Service/FiberManager.Service.csproj

COPY protos/ protos/
COPY src/FiberManager.Core/ src/FiberManager.Core/
COPY src/FiberManager.Protocol/ src/FiberManager.Protocol/
COPY src/FiberManager.Service/ src/FiberManager.Service/
RUN dotnet publish src/FiberManager.Service/FiberManager.Service.csproj \
        --configuration Release --no-restore --output /app -p:UseAppHost=false

# ---- runtime ----------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build --chown=0:0 /app ./

# Listen on every interface in the container (the service's own default is 127.0.0.1), the
# ASP.NET Core way; the base image's ASPNETCORE_HTTP_PORTS=8080 is cleared (URLS would override
# it anyway, with a warning at every start).
ENV ASPNETCORE_URLS=http://0.0.0.0:50051 \
    ASPNETCORE_HTTP_PORTS=""
EXPOSE 50051

# The base image's non-root "app" user, by number so that Kubernetes' runAsNonRoot can check it;
# the chart's podSecurityContext.runAsUser is the same uid. The application files stay root-owned
# and read-only; the root filesystem can be mounted read-only with a writable /tmp.
USER 1654:1654

ENTRYPOINT ["dotnet", "FiberManager.Service.dll"]
